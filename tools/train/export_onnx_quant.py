"""Export the trained ViT to ONNX with quantized linear layers, as an engineer would hand it to ONNX
Runtime (the yardsticks of `npm run bench:cpu`, issue 15):

  --quant int8  every Linear as DynamicQuantizeLinear (activations uint8, one range per tensor: the
                closest standard ONNX has to our per-token ranges) → MatMulInteger with int8 weights
                (symmetric, per output channel, scales applied after) → Cast → Mul → Add bias
                (what onnxruntime.quantization.quantize_dynamic produces with per_channel=True);
  --quant int4  every Linear as com.microsoft MatMulNBits: 4-bit weights in blocks of 32 along K,
                one float scale per block, zero point 8 (symmetric), accuracy_level 4 (int8
                activations inside the kernel where ONNX Runtime implements it).

The attention products stay FP32 (ONNX Runtime has no quantized batched MatMul for them).
Writes public/models/<name>/model-<quant>.onnx and a .json sidecar with the safetensors hash.
Runs with Debian's torch 1.13 (no `onnx` package needed):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/train/export_onnx_quant.py --quant int8
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import load_model  # noqa: E402


class Int8Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, wq_t, w_scale, bias):
        # eager value (only shapes matter for the export): dequantized weights
        return x @ (wq_t.float() * w_scale) + bias

    @staticmethod
    def symbolic(g, x, wq_t, w_scale, bias):
        xq, xs, xz = g.op("DynamicQuantizeLinear", x, outputs=3)
        acc = g.op("MatMulInteger", xq, wq_t, xz)
        accf = g.op("Cast", acc, to_i=1)  # FLOAT
        return g.op("Add", g.op("Mul", accf, g.op("Mul", xs, w_scale)), bias)


class NBitsLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, packed, scales, bias, deq_t):
        return x @ deq_t + bias

    @staticmethod
    def symbolic(g, x, packed, scales, bias, deq_t):
        k, n = deq_t.type().sizes()
        y = g.op("com.microsoft::MatMulNBits", x, packed, scales, K_i=k, N_i=n, bits_i=4, block_size_i=32, accuracy_level_i=4)
        # the exporter cannot infer a contrib op's shape: say it (else the batch axis is frozen downstream)
        sizes = x.type().varyingSizes()
        y.setType(x.type().with_sizes(sizes[:-1] + [n]))
        return g.op("Add", y, bias)


class QuantHook:
    def __init__(self, quant):
        self.quant = quant
        self.cache = {}

    def matmul(self, site, a, b):
        return a @ b

    def linear(self, site, x, lin):
        if site not in self.cache:
            w = lin.weight.detach()  # [N, K]
            n, k = w.shape
            if self.quant == "int8":
                s = w.abs().amax(dim=1).clamp_min(1e-12) / 127
                q = torch.round(w / s[:, None]).clamp(-127, 127).to(torch.int8)
                self.cache[site] = (q.t().contiguous(), s.float().contiguous(), lin.bias.detach())
            else:
                blocks = (k + 31) // 32
                wp = torch.zeros(n, blocks * 32)
                wp[:, :k] = w
                wb = wp.view(n, blocks, 32)
                s = wb.abs().amax(dim=2).clamp_min(1e-12) / 7
                q = torch.round(wb / s[:, :, None]).clamp(-8, 7).to(torch.int32) + 8  # [n, blocks, 32] in [0, 15]
                packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).to(torch.uint8).contiguous()  # element 2j low nibble, 2j+1 high
                deq = ((q - 8).float() * s[:, :, None]).view(n, blocks * 32)[:, :k]
                self.cache[site] = (packed, s.reshape(-1).float().contiguous(), lin.bias.detach(), deq.t().contiguous())
        c = self.cache[site]
        return Int8Linear.apply(x, *c) if self.quant == "int8" else NBitsLinear.apply(x, *c)


class Wrapped(nn.Module):
    def __init__(self, model, quant):
        super().__init__()
        self.model = model
        self.hook = QuantHook(quant)

    def forward(self, x):
        return self.model(x, hook=self.hook)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="public/models/vit-cifar10")
    ap.add_argument("--quant", choices=["int8", "int4"], required=True)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, st_sha = load_model(args.model)
    wrapped = Wrapped(model, args.quant)
    x = torch.rand(2, 3, cfg["image"], cfg["image"])
    out = os.path.join(args.model, f"model-{args.quant}.onnx")
    with torch.no_grad():
        wrapped(x)  # fills the hook's cache
        torch.onnx.export(wrapped, (x,), out + ".tmp", input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=args.opset, do_constant_folding=False,
                          custom_opsets={"com.microsoft": 1})
    os.replace(out + ".tmp", out)
    with open(out + ".json", "w") as f:
        json.dump({"safetensors_sha256": st_sha, "opset": args.opset, "torch": torch.__version__, "quant": args.quant,
                   "scheme": "int8: DynamicQuantizeLinear (per tensor, uint8) + MatMulInteger (int8 per-channel weights)"
                   if args.quant == "int8" else "int4: MatMulNBits bits 4, block 32, zero point 8, accuracy_level 4"}, f, indent=2)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
