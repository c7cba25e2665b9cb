"""Export the trained ViT (public/models/<name>/model.safetensors + config.json) to ONNX,
public/models/<name>/model.onnx, for the CPU benchmark against ONNX Runtime Web
(tools/cli/benchCpu.ts). Same weights, same graph as tools/train/vit.py.

Input  "pixels": float32 [B, 3, 32, 32] in [0, 1] (uint8 / 255; normalization is inside the graph).
Output "logits": float32 [B, 10]. Dynamic batch axis.

Runs with Debian's torch 1.13 without the `onnx` python package (torch serializes the graph itself):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/train/export_onnx.py
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vit import ViT  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {t['dtype']} (expected F32)")
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[base + a:base + b], dtype="<f4").copy().reshape(t["shape"]))
    return out


def load_model(model_dir):
    """The ViT of model_dir in eval mode, its config and the sha256 of the model.safetensors it read."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    st_path = os.path.join(model_dir, "model.safetensors")
    with open(st_path, "rb") as f:
        st_sha = hashlib.sha256(f.read()).hexdigest()  # training re-exports every epoch: record which weights
    model = ViT(**{k: cfg[k] for k in ("dim", "depth", "heads", "mlp", "patch", "classes", "image")})
    missing, unexpected = model.load_state_dict(read_safetensors(st_path), strict=False)
    if unexpected or set(missing) - {"mean", "std"}:
        raise SystemExit(f"weights do not match the model: missing {missing}, unexpected {unexpected}")
    model.eval()
    return model, cfg, st_sha


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="public/models/vit-cifar10")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, st_sha = load_model(args.model)
    x = torch.rand(2, 3, cfg["image"], cfg["image"])
    out = os.path.join(args.model, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (x,), out + ".tmp", input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=args.opset, do_constant_folding=True)
    os.replace(out + ".tmp", out)
    with open(out + ".json", "w") as f:
        json.dump({"safetensors_sha256": st_sha, "opset": args.opset, "torch": torch.__version__,
                   "input": "pixels float32 [B,3,32,32] in [0,1]", "output": "logits float32 [B,classes]"}, f, indent=2)
    # the reference logits, to check the exported graph in the benchmark (ONNX Runtime ≈ these)
    ref = json.load(open(os.path.join(args.model, "reference.json")))
    print(f"wrote {out} ({os.path.getsize(out)} bytes, opset {args.opset}); reference.json has {len(ref['indices'])} images")


if __name__ == "__main__":
    main()
