#!/usr/bin/env python3
"""Number formats and the Hadamard rotation, written from their specifications (not from src/quant).

Sources:
  * FP8 E4M3 / E5M2: OCP 8-bit Floating Point Specification (OFP8) rev 1.0 — E4M3: bias 7, max 448,
    S.1111.111 the only NaN, no infinities; E5M2: bias 15, max 57344, IEEE infinities/NaNs.
    Conversion here: round to nearest, ties to even, in saturating mode (|x| > max → ±max).
  * MXFP8 / MXFP4: OCP Microscaling Formats (MX) v1.0, §6.3 "quantize to MX": per block of 32
    consecutive elements along the reduction dimension, shared_exp = floor(log2(max_i |V_i|)) − emax_elem
    (emax_elem: E4M3 8, E2M1 2), X = 2^shared_exp (E8M0, clamped to [−127, 127]), P_i = quantize(V_i / X)
    saturating. FP4 E2M1: bias 1, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  * NVFP4 (NVIDIA, Blackwell; TensorRT Model Optimizer's recipe): blocks of 16, block scale stored
    in E4M3 = amax_block / 6 / s_tensor, FP32 tensor scale s_tensor = amax_tensor / (448·6).
  * NF4: QLoRA (Dettmers et al. 2023) — the 4-bit NormalFloat levels are the quantiles of N(0, 1),
    built as in the paper's `create_normal_map(offset=0.9677083)`: 8 positive quantiles
    Φ⁻¹(linspace(offset, 0.5, 9)[:-1]), 7 negative −Φ⁻¹(linspace(offset, 0.5, 8)[:-1]), and 0,
    normalized to [−1, 1]; Φ⁻¹ from torch.erfinv here (no table copied). Blockwise absmax over 64
    weights; each value to the nearest level (bitsandbytes' decision tree: a tie takes the lower).
  * Rotation: QuaRot (Ashkboos et al. 2024): R = diag(signs)·H/√n with H the Sylvester Hadamard
    matrix, built here as a dense matrix (the TS side uses a fast Walsh–Hadamard transform);
    LayerNorm γ folded into W's columns and β into the bias first (to_qkv, fc1), W ← W·R, and the
    operand rotated online x ← x·R. The random signs use the same documented generator as the TS
    (mulberry32 with seed·1000003 + site, bit 0 of each output: −1 when set), so both sides
    rotate with the same R.

Every operand layout is the one tools/ref/quant_ref.py uses: x [B, R, C] stacked per image, or a
weight [R, C]; blocks run along C (the reduction dimension); a short last block is zero-padded.
"""
import math

import torch

MINIFLOAT = {
    # name: (exponent bits, mantissa bits, bias, largest finite, emax_elem)
    "e4m3": (4, 3, 7, 448.0, 8),
    "e5m2": (5, 2, 15, 57344.0, 15),
    "e2m1": (2, 1, 1, 6.0, 2),
}
FORMATS = {
    # plan format: (element, block, bits)
    "fp8_e4m3": ("e4m3", 0, 8),
    "fp8_e5m2": ("e5m2", 0, 8),
    "mxfp8": ("e4m3", 32, 8),
    "mxfp4": ("e2m1", 32, 4),
    "nvfp4": ("e2m1", 16, 4),
    "nf4": (None, 64, 4),
}


def check_finite(x, what):
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).flatten().nonzero()[0])
        raise ValueError(f"{what}: element {bad} is {x.flatten()[bad].item()} (NaN/Inf input)")


def round_minifloat(v, elem):
    """Round to the element format by its definition: the quantum at |v| is 2^(max(e, 1−bias) − mbits)
    with e = floor(log2|v|) (subnormals below 2^(1−bias)), round half to even, saturate at ±max."""
    ebits, mbits, bias, vmax, _ = MINIFLOAT[elem]
    v = v.double()
    a = v.abs()
    _, e2 = torch.frexp(torch.where(a > 0, a, torch.ones_like(a)))  # a = m·2^e2, m in [0.5, 1)
    e = torch.clamp(e2.double() - 1, min=1 - bias)
    quantum = torch.pow(2.0, e - mbits)
    q = torch.round(a / quantum) * quantum  # torch.round: half to even
    q = torch.clamp(q, max=vmax)
    return (torch.sign(v) * q).float()


def _blocks(x, block):
    """[..., C] → [..., nb, block] zero-padded, and C."""
    c = x.shape[-1]
    nb = (c + block - 1) // block
    pad = nb * block - c
    if pad:
        x = torch.cat([x, torch.zeros(*x.shape[:-1], pad, dtype=x.dtype)], dim=-1)
    return x.reshape(*x.shape[:-1], nb, block), c


def _tensor_amax(x, scope):
    if x.dim() == 3 and scope == "image":
        return x.abs().amax(dim=(1, 2), keepdim=True)
    return x.abs().max()


def nf4_levels():
    offset = 0.9677083
    ppf = lambda p: math.sqrt(2.0) * torch.erfinv(2 * p - 1)  # noqa: E731
    v1 = ppf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    v3 = -ppf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    v = torch.cat([v1, torch.zeros(1, dtype=torch.float64), v3])
    v = torch.sort(v).values
    return (v / v.abs().max()).float()


NF4 = nf4_levels()


def fq_format(x, op, scope="image"):
    """Fake-quantize x ([B, R, C] per image, or a weight [R, C]) in op['format']."""
    fmt = op["format"]
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    check_finite(x, f"quantize {fmt}")
    elem, block, _ = FORMATS[fmt]
    x = x.float()
    if block == 0:
        vmax = MINIFLOAT[elem][3]
        amax = _tensor_amax(x, scope)
        s = torch.where(amax > 0, amax / vmax, torch.ones_like(amax))
        return round_minifloat(x / s, elem) * s
    xb, c = _blocks(x, block)
    amax = xb.abs().amax(dim=-1, keepdim=True)
    if fmt == "nf4":
        a = torch.where(amax > 0, amax, torch.ones_like(amax))
        xn = xb / a
        mids = (NF4[1:] + NF4[:-1]) / 2
        idx = (xn.unsqueeze(-1) > mids).sum(-1)  # x > midpoint → the upper level; a tie stays lower
        y = NF4[idx] * a
    elif fmt == "nvfp4":
        t = _tensor_amax(x, scope)
        st = torch.where(t > 0, t / (448.0 * 6.0), torch.ones_like(t))
        if st.dim() == 3:
            st = st.unsqueeze(-1)
        sb = round_minifloat(amax / 6.0 / st, "e4m3")
        scale = sb * st
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        y = torch.where(scale > 0, round_minifloat(xb / safe, "e2m1") * scale, torch.zeros_like(xb))
    else:
        emax = MINIFLOAT[elem][4]
        _, e2 = torch.frexp(torch.where(amax > 0, amax, torch.ones_like(amax)))
        shared = torch.where(amax > 0, e2.double() - 1 - emax, torch.full_like(amax, -127, dtype=torch.float64))
        shared = torch.clamp(shared, -127, 127)
        X = torch.pow(2.0, shared).float()
        y = round_minifloat(xb / X, elem) * X
    y = y.reshape(*y.shape[:-2], -1)[..., :c]
    return y


# ---------------------------------------------------------------------------------------------
# rotation


def mulberry32(seed):
    a = seed & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & 0xFFFFFFFF
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return (t ^ (t >> 14)) & 0xFFFFFFFF
    return nxt


def hadamard_signs(n, seed, site):
    rnd = mulberry32((seed * 1000003 + site) & 0xFFFFFFFF)
    return torch.tensor([-1.0 if rnd() & 1 else 1.0 for _ in range(n)], dtype=torch.float64)


def sylvester(n):
    if n < 1 or n & (n - 1):
        raise ValueError(f"Hadamard rotation: dimension {n} is not a power of two")
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h


def rotation_matrix(n, seed, site):
    """R = diag(signs)·H/√n (orthogonal), float64."""
    return hadamard_signs(n, seed, site).view(-1, 1) * sylvester(n) / math.sqrt(n)


def kurtosis(x):
    x = x.double().flatten()
    d = x - x.mean()
    m2 = (d * d).mean()
    return float((d ** 4).mean() / (m2 * m2)) if m2 > 0 else 0.0
