#!/usr/bin/env python3
"""Writes src/train/fixtures/qat_torch.json: PyTorch autograd gradients that src/train/qat.torch.test.ts
compares the TypeScript trainer against.

  * "lsq": the LSQ quantizer alone (tools/ref/lsq.py, written from Esser et al. 2020 and LSQ+) on
    fixed inputs — ∂L/∂x, ∂L/∂s, ∂L/∂z for L = Σ dy·q̂(x), per tensor / channel / group, 2/3/4/8
    bits, symmetric and asymmetric.
  * "vit": a small ViT of tools/train/vit.py (dim 16, depth 1, heads 2, mlp 32, patch 8) with
    seeded weights, on 6 seeded images: (1) the FP32 plan — loss, logits and the gradient of every
    parameter; (2) a mixed plan (every granularity and width) with (s, z) calibrated by min/max on
    the same images — the calibrated (s, z), loss, logits, and the gradients of every parameter and
    of every s and z. Label smoothing 0.1, as in the recipe.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/ref/make_qat_fixture.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, HERE)
from lsq import LsqQuantizer, QatHook, build_quantizers, calibrate  # noqa: E402
from vit import CIFAR_MEAN, CIFAR_STD, ViT, tensor_dict  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "src", "train", "fixtures", "qat_torch.json")


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def lsq_cases(gen):
    cases = []
    specs = [
        dict(bits=4, symmetric=False, granularity="tensor", rows=6, cols=10),
        dict(bits=2, symmetric=False, granularity="tensor", rows=6, cols=10),
        dict(bits=4, symmetric=True, granularity="channel", rows=5, cols=12),
        dict(bits=3, symmetric=True, granularity="channel", rows=4, cols=9),
        dict(bits=2, symmetric=False, granularity="group", rows=4, cols=16, group_size=8),
        dict(bits=8, symmetric=False, granularity="group", rows=3, cols=12, group_size=4),
    ]
    for sp in specs:
        rows, cols = sp["rows"], sp["cols"]
        x = torch.randn(rows, cols, generator=gen) * 2
        gs = sp.get("group_size")
        per = rows * cols if sp["granularity"] == "tensor" else cols if sp["granularity"] == "channel" else gs
        q = LsqQuantizer(sp["bits"], sp["symmetric"], sp["granularity"], per, rows, cols, gs)
        lo, hi = q.group_minmax(x)
        q.init_minmax(lo * 0.7, hi * 0.6)  # a narrower range: some elements clamp
        with torch.no_grad():
            q.s.mul_(1 + 0.1 * torch.rand(q.s.shape, generator=gen))
            if not sp["symmetric"]:
                q.z.add_(torch.rand(q.z.shape, generator=gen) - 0.5)  # a real-valued zero: exercises ⌊z⌉
        x.requires_grad_(True)
        dy = torch.randn(rows, cols, generator=gen)
        y = q(x)
        (y * dy).sum().backward()
        cases.append(dict(spec=sp, x=flat(x), s=flat(q.s), z=flat(q.z), dy=flat(dy), y=flat(y), dx=flat(x.grad), ds=flat(q.s.grad),
                          dz=flat(q.z.grad) if q.z.grad is not None else [0.0] * q.z.numel(), grad_scale=q.g))
    return cases


def operand(bits, symmetric=False, granularity="tensor", group_size=None):
    o = dict(bits=bits, granularity=granularity, symmetric=symmetric, range="static" if bits != 32 else "dynamic")
    if group_size:
        o["groupSize"] = group_size
    return o


def mixed_plan():
    f = operand(32)
    sites = [
        dict(a=operand(8), b=operand(4, True, "channel")),  # patch embedding
        dict(a=operand(4), b=operand(4, False, "group", 8)),  # to_qkv
        dict(a=operand(4), b=operand(4, True)),  # q·kᵀ
        dict(a=operand(4), b=operand(2)),  # attn·v
        dict(a=operand(2), b=operand(2)),  # to_out
        dict(a=operand(4), b=operand(4, True, "group", 8)),  # fc1
        dict(a=f, b=operand(3, True, "channel")),  # fc2 (weight-only)
        dict(a=operand(8), b=operand(8)),  # head
    ]
    for s in sites:
        for op in ("a", "b"):
            if s[op]["bits"] != 32 and s[op]["granularity"] != "tensor":
                s[op]["range"] = "dynamic"
    return dict(version=1, sites=sites)


def vit_case(plan, pixels, labels, seed):
    torch.manual_seed(seed)
    cfg = dict(dim=16, depth=1, heads=2, mlp=32, patch=8, classes=10, image=32)
    model = ViT(**cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape) * 0.05)
    x = torch.from_numpy(pixels).float().div(255.0)
    y = torch.from_numpy(labels).long()
    t = (32 // 8) ** 2 + 1
    qs = build_quantizers(model, plan, t, cfg["heads"], cfg["dim"] // cfg["heads"])
    hook = QatHook(qs, cfg["depth"])
    calibrate(model, hook, qs, x)
    weights = {k: flat(v) for k, v in tensor_dict(model).items()}
    logits = model(x, hook)
    loss = F.cross_entropy(logits, y, label_smoothing=0.1)
    loss.backward()
    grads = {n: flat(p.grad) for n, p in model.named_parameters()}
    quant = {f"{k[0]}{k[1]}": dict(s=flat(q.s), z=flat(q.z), ds=flat(q.s.grad),
                                    dz=flat(q.z.grad) if q.z.grad is not None else [0.0] * q.z.numel()) for k, q in qs.items()}
    config = dict(cfg, layer_norm_eps=1e-5, mean=list(CIFAR_MEAN), std=list(CIFAR_STD))
    return dict(config=config, plan=plan, weights=weights, loss=float(loss), logits=flat(logits), grads=grads, quant=quant)


def main():
    gen = torch.Generator().manual_seed(13)
    rng = np.random.default_rng(13)
    pixels = rng.integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=6)
    fp32 = dict(version=1, sites=[dict(a=operand(32), b=operand(32)) for _ in range(8)])
    out = dict(
        source="tools/ref/make_qat_fixture.py (PyTorch %s autograd; LSQ from Esser et al. 2020 / LSQ+)" % torch.__version__,
        lsq=lsq_cases(gen),
        pixels=[int(v) for v in pixels.reshape(-1)],
        labels=[int(v) for v in labels],
        fp32=vit_case(fp32, pixels, labels, 7),
        mixed=vit_case(mixed_plan(), pixels, labels, 7),
    )
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print("wrote", os.path.relpath(OUT), "loss fp32 %.6f mixed %.6f" % (out["fp32"]["loss"], out["mixed"]["loss"]))


if __name__ == "__main__":
    main()
