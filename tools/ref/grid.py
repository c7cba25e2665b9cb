"""The project's quantization grid (science.md §1, src/quant/scaleZero.ts) in float32 PyTorch.

Shared by tools/ref/quant_ref.py (the forward pass) and tools/ref/published.py (the algorithms, which
use this grid instead of their own quantizer classes so that results compare with the TS engine):

  * round half to even (torch.round); asymmetric ranges widened to hold 0, unsigned [0, 2^n−1],
    s = (hi−lo)/(2^n−1), z = clamp(round(−lo/s)); symmetric restricted ±(2^(n−1)−1), s = absmax/qmax
    — at 2 bits that symmetric grid is TERNARY {−s, 0, s} (science.md §1), the asymmetric one has 4
    levels (INT2); s = 0 → 1; q = clamp(round(r/s) + z); r̂ = s·(q − z).
"""
import torch


def int_range(bits, symmetric):
    """[qmin, qmax]; symmetric 2-bit = [−1, 1] (ternary), asymmetric 2-bit = [0, 3] (4 levels)."""
    if symmetric:
        m = (1 << (bits - 1)) - 1
        return -m, m
    return 0, (1 << bits) - 1


def grid_label(bits, symmetric):
    return "ternary" if bits == 2 and symmetric else f"INT{bits}"


def scale_zero(lo, hi, bits, symmetric):
    """lo, hi: float32 tensors (any broadcastable shape) → (s, z) float32 tensors."""
    qmin, qmax = int_range(bits, symmetric)
    lo = lo.float()
    hi = hi.float()
    if not (torch.isfinite(lo).all() and torch.isfinite(hi).all()):
        raise ValueError("scale_zero: non-finite range (NaN/Inf in an operand)")
    if symmetric:
        absmax = torch.maximum(lo.abs(), hi.abs())
        s = absmax / qmax
        s = torch.where(s == 0, torch.ones_like(s), s)
        return s, torch.zeros_like(s)
    lo = torch.clamp(lo, max=0.0)
    hi = torch.clamp(hi, min=0.0)
    s = (hi - lo) / (qmax - qmin)
    if not torch.isfinite(s).all():
        raise ValueError("scale_zero: range overflows float32")
    s = torch.where(s == 0, torch.ones_like(s), s)
    z = torch.clamp(torch.round(qmin - lo / s), qmin, qmax)
    return s, z


def fake_quant(x, s, z, bits, symmetric):
    qmin, qmax = int_range(bits, symmetric)
    q = torch.clamp(torch.round(x / s) + z, qmin, qmax)
    return s * (q - z)


def fq_matrix(x, op, clip=None, scope="image"):
    """Fake-quantize a stacked operand x [B, R, C] (B images) or a weight [R, C] per `op`.

    clip = (lo, hi): a static range. Otherwise dynamic: 'tensor' → one range per image (per batch
    with scope='batch'; the whole matrix for a weight), 'token'/'channel' → per row, 'group' → per
    row and run of groupSize columns.
    """
    bits, sym, g = op["bits"], op["symmetric"], op["granularity"]
    if clip is not None:
        lo = torch.tensor(clip[0], dtype=torch.float64).float()
        hi = torch.tensor(clip[1], dtype=torch.float64).float()
        s, z = scale_zero(lo, hi, bits, sym)
        return fake_quant(x, s, z, bits, sym)
    if g == "tensor":
        if x.dim() == 3 and scope == "image":
            lo = x.amin(dim=(1, 2), keepdim=True)
            hi = x.amax(dim=(1, 2), keepdim=True)
        else:
            lo, hi = x.min(), x.max()
    elif g in ("token", "channel"):
        lo = x.amin(dim=-1, keepdim=True)
        hi = x.amax(dim=-1, keepdim=True)
    elif g == "group":
        gs = op["groupSize"]
        c = x.shape[-1]
        ng = (c + gs - 1) // gs
        pad = ng * gs - c
        xp = x
        if pad:
            # pad by repeating the group's first value: it changes neither its min nor its max
            last0 = x[..., (ng - 1) * gs:(ng - 1) * gs + 1]
            xp = torch.cat([x, last0.expand(*x.shape[:-1], pad)], dim=-1)
        xg = xp.reshape(*x.shape[:-1], ng, gs)
        s, z = scale_zero(xg.amin(dim=-1, keepdim=True), xg.amax(dim=-1, keepdim=True), bits, sym)
        return fake_quant(xg, s, z, bits, sym).reshape(*x.shape[:-1], ng * gs)[..., :c]
    else:
        raise ValueError(f"unknown granularity {g}")
    s, z = scale_zero(lo, hi, bits, sym)
    return fake_quant(x, s, z, bits, sym)
