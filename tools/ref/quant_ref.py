#!/usr/bin/env python3
"""Independent PyTorch fake-quantization reference for quantization plans (src/engine/plan.ts JSON).

Runs the ViT of tools/train/vit.py with a site hook that fake-quantizes both operands of every
matrix product as the plan says, following science.md and src/engine/siteQuant.ts:

  * scale/zero (science.md §1, src/quant/scaleZero.ts), all in float32: round half to even
    (torch.round); asymmetric ranges widened to hold 0, unsigned [0, 2^n−1],
    s = (hi−lo)/(2^n−1), z = clamp(round(−lo/s)); symmetric restricted ±(2^(n−1)−1), s = absmax/qmax;
    s = 0 → 1; q = clamp(round(r/s) + z); r̂ = s·(q − z).
  * every site is Y = A·Bᵀ (+ bias) per image. Weight sites: A = input [T×K], B = W [N×K].
    q·kᵀ: A = q stacked over heads [H·T × hd], B = k stacked [H·T × hd] (rows = key tokens).
    attn·v: A = attn stacked [H·T × T], B = vᵀ stacked [H·hd × T] (rows = head dims, so
    per-channel = per column of v).
  * granularity on those stacked matrices: 'tensor' = one range per IMAGE (science.md §7; for
    attention sites the whole [heads, T, T] tensor of one image), 'token'/'channel' = per row,
    'group' = per row and run of groupSize columns along K. Weights: per-tensor / per row of W /
    per group along K.
  * static ranges: one per tensor, calibrated with the FP32 model on the first 256 training
    images (public/data/cifar10 calib set), calibrators minmax / percentile / mse / kl ported
    from src/quant/calibrate.ts.
  * SmoothQuant (A / s, W · s per input channel, s from calibration maxima), LLM.int8 (outlier
    columns of each image's A in FP32, the rest per-token × per-channel symmetric integers) and GPTQ
    (port of src/quant/gptq.ts) follow siteQuant.ts.

The integer paths of the TS engines compute the same numbers up to float summation order; this
tool multiplies dequantized float32 operands. --jitter multiplies each site's output by
(1 + jitter·N(0,1)) from a seeded generator, to measure the band of chaotic plans (science.md §7).

Usage (one thread: training may use the other core):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 \\
    tools/ref/quant_ref.py --plan plan.json [--plan …] --set test|val --limit N [--jitter 1e-6 --seeds 3]
    [--out results.json] [--scope image|batch] [--batch 100]
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "train"))

from cifar import data_dir, load_test, load_val, read_records  # noqa: E402
from vit import ViT, Identity  # noqa: E402

SITE_COUNT = 38
CALIB_IMAGES = 256


# ---------------------------------------------------------------------------------------------
# model loading (safetensors parsed by hand: struct + json + numpy)

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=base + a).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, hashlib.sha256(raw).hexdigest()[:16]


def load_model(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    model = ViT(dim=cfg["dim"], depth=cfg["depth"], heads=cfg["heads"], mlp=cfg["mlp"], patch=cfg["patch"],
                classes=cfg["classes"], image=cfg["image"])
    tensors, digest = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if m not in ("mean", "std")]
    if missing or unexpected:
        raise ValueError(f"model.safetensors does not match vit.py: missing {missing}, unexpected {unexpected}")
    model.eval()
    return model, cfg, digest


def site_kind(site):
    """'linear' | 'qk' | 'av' (science.md §6 numbering)."""
    if site == 0 or site == SITE_COUNT - 1:
        return "linear"
    r = (site - 1) % 6
    return "qk" if r == 1 else "av" if r == 2 else "linear"


# ---------------------------------------------------------------------------------------------
# quantization arithmetic (float32, src/quant/scaleZero.ts)

def int_range(bits, symmetric):
    if symmetric:
        m = (1 << (bits - 1)) - 1
        return -m, m
    return 0, (1 << bits) - 1


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


def quant_ints(x, s, z, bits, symmetric):
    qmin, qmax = int_range(bits, symmetric)
    return torch.clamp(torch.round(x / s) + z, qmin, qmax)


def fq_matrix(x, op, clip=None, scope="image"):
    """Fake-quantize a stacked operand x [B, R, C] (B images) or a weight [R, C] per `op`.

    'tensor' → one range per image (per batch with scope='batch'; the whole matrix for a weight),
    'token'/'channel' → per row, 'group' → per row and run of groupSize columns.
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


# ---------------------------------------------------------------------------------------------
# calibration statistics (src/engine/calibration.ts + src/quant/calibrate.ts)

class Hist:
    """RangeHistogram: pass 1 extremes, pass 2 histograms over [min, max] and of |x| over [0, absmax]."""

    def __init__(self):
        self.min, self.max, self.absmax, self.count = math.inf, -math.inf, 0.0, 0
        self.bins, self.total = 0, 0
        self.counts = self.abs_counts = None

    def observe_range(self, x):
        if x.numel() == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("calibration: NaN/Inf operand")
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)
        self.absmax = max(self.absmax, abs(self.min), abs(self.max))
        self.count += x.numel()

    def freeze(self, bins=2048):
        if self.count == 0:
            self.min = self.max = self.absmax = 0.0
        self.bins = bins
        self.counts = np.zeros(bins)
        self.abs_counts = np.zeros(bins)

    def observe(self, x):
        v = x.detach().double().reshape(-1).numpy()
        bins = self.bins
        inv = bins / (self.max - self.min) if self.max > self.min else 0.0
        inv_abs = bins / self.absmax if self.absmax > 0 else 0.0
        b = np.clip(np.floor((v - self.min) * inv), 0, bins - 1).astype(np.int64)
        self.counts += np.bincount(b, minlength=bins)
        a = np.minimum(np.floor(np.abs(v) * inv_abs), bins - 1).astype(np.int64)
        self.abs_counts += np.bincount(a, minlength=bins)
        self.total += v.size


def _quantile(counts, lo, width, frac):
    total = counts.sum()
    if total == 0:
        return lo
    target = frac * total
    cum = np.cumsum(counts)
    prev = cum - counts
    hit = np.nonzero((counts > 0) & (cum >= target))[0]
    if hit.size == 0:
        return lo + counts.size * width
    i = hit[0]
    return lo + (i + max(0.0, min(1.0, (target - prev[i]) / counts[i]))) * width


def _hist_mse_all(h, los, his, bits, sym):
    """Expected squared error for each candidate range (vectorised histogramMse)."""
    qmin, qmax = int_range(bits, sym)
    width = (h.max - h.min) / h.bins if h.bins else 0.0
    centres = torch.tensor(h.min + (np.arange(h.bins) + 0.5) * width, dtype=torch.float64).float()
    counts = torch.tensor(h.counts)
    s, z = scale_zero(torch.tensor(los, dtype=torch.float64).float()[:, None],
                      torch.tensor(his, dtype=torch.float64).float()[:, None], bits, sym)
    d = (s * (torch.clamp(torch.round(centres[None] / s) + z, qmin, qmax) - z) - centres[None]).double()
    return ((d * d) * counts[None]).sum(dim=1).numpy() / max(h.total, 1)


def _smooth(p, eps=1e-4):
    zeros = (p == 0)
    nz = p.size - zeros.sum()
    if nz == 0:
        return None
    eps1 = eps * zeros.sum() / nz
    out = np.where(zeros, eps, p - eps1)
    return out if (out > 0).all() else None


def kl_threshold(abs_counts, absmax, levels):
    bins = abs_counts.size
    if absmax <= 0:
        return 0.0
    if levels >= bins:
        return absmax
    width = absmax / bins
    tail = np.concatenate([np.cumsum(abs_counts[::-1])[::-1], [0.0]])
    nonzero = (abs_counts != 0).astype(np.float64)
    best, best_kl = bins, math.inf
    for i in range(levels, bins + 1):
        p = abs_counts[:i].copy()
        p[i - 1] += tail[i]
        merged = i // levels
        # group index of every source bin: j for j*merged ≤ t < (j+1)*merged, the last group takes the rest
        gidx = np.minimum(np.arange(i) // merged, levels - 1)
        gsum = np.bincount(gidx, weights=abs_counts[:i], minlength=levels)
        gnz = np.bincount(gidx, weights=nonzero[:i], minlength=levels)
        per = np.divide(gsum, gnz, out=np.zeros(levels), where=gnz > 0)
        q = np.where(nonzero[:i] > 0, per[gidx], 0.0)
        ps, qs = p.sum(), q.sum()
        if ps == 0 or qs == 0:
            continue
        p = _smooth(p / ps)
        q = _smooth(q / qs)
        if p is None or q is None:
            continue
        kl = float((p * np.log(p / q)).sum())
        if kl < best_kl:
            best_kl, best = kl, i
    return best * width


def calibrate_range(h, calibrator, bits, sym, percentile=None):
    if h.count == 0 or not (math.isfinite(h.min) and math.isfinite(h.max)):
        return 0.0, 0.0
    if calibrator == "minmax":
        return h.min, h.max
    if calibrator == "percentile":
        p = 99.99 if percentile is None else percentile
        if sym:
            t = min(h.absmax, _quantile(h.abs_counts, 0.0, h.absmax / h.bins, p / 100))
            return -t, t
        w = (h.max - h.min) / h.bins
        lo = max(h.min, _quantile(h.counts, h.min, w, (100 - p) / 200))
        hi = min(h.max, _quantile(h.counts, h.min, w, (100 + p) / 200))
        return lo, max(lo, hi)
    if calibrator == "mse":
        lo0 = -h.absmax if sym else min(h.min, 0.0)
        hi0 = h.absmax if sym else max(h.max, 0.0)
        f = np.arange(200, 0, -1) / 200
        errs = _hist_mse_all(h, lo0 * f, hi0 * f, bits, sym)
        i = int(np.argmin(errs))  # first minimum = widest range among ties, as the TS loop
        return lo0 * f[i], hi0 * f[i]
    if calibrator == "kl":
        levels = (1 << (bits - 1)) - 1 if sym else (1 << bits) - 1
        t = kl_threshold(h.abs_counts, h.absmax, levels)
        return (-t, t) if sym else (max(h.min, -t), min(h.max, t))
    raise ValueError(f"unknown calibrator {calibrator}")


class OperandStats:
    def __init__(self, k):
        self.hist = Hist()
        self.col_absmax = torch.zeros(k)
        self.col_min = torch.full((k,), math.inf)
        self.col_max = torch.full((k,), -math.inf)

    def pass1(self, m):  # m: [rows, k]
        self.hist.observe_range(m)
        self.col_absmax = torch.maximum(self.col_absmax, m.abs().amax(dim=0))
        self.col_min = torch.minimum(self.col_min, m.amin(dim=0))
        self.col_max = torch.maximum(self.col_max, m.amax(dim=0))


def stacked_a(site, a):
    """A operand as [B, rows, K] (stacked over heads for attention sites)."""
    if site_kind(site) == "linear":
        return a.reshape(a.shape[0], -1, a.shape[-1])
    b, h, t, k = a.shape
    return a.reshape(b, h * t, k)


def stacked_b(b):
    """B operand of an attention site given the matmul's right factor b [B,H,K,N] → Bᵀ stacked [B, H·N, K]."""
    bt = b.transpose(-1, -2)
    n, h = bt.shape[0], bt.shape[1]
    return bt.reshape(n, h * bt.shape[2], bt.shape[3])


class CalibHook(Identity):
    def __init__(self, sites_needed, with_hessian):
        self.needed = sites_needed
        self.with_hessian = with_hessian
        self.phase = 1
        self.stats = {}

    def _get(self, site, k, has_b):
        if site not in self.stats:
            self.stats[site] = {"a": OperandStats(k), "b": OperandStats(k) if has_b else None,
                                "hessian": torch.zeros(k, k, dtype=torch.float64) if (self.with_hessian and not has_b) else None,
                                "rows": 0}
        return self.stats[site]

    def _observe(self, site, a, b):
        if site not in self.needed:
            return
        am = a.reshape(-1, a.shape[-1])
        st = self._get(site, am.shape[-1], b is not None)
        if self.phase == 1:
            st["a"].pass1(am)
            if b is not None:
                st["b"].pass1(b.reshape(-1, b.shape[-1]))
            if st["hessian"] is not None:
                ad = am.double()
                st["hessian"] += ad.T @ ad
                st["rows"] += am.shape[0]
        else:
            st["a"].hist.observe(am)
            if b is not None:
                st["b"].hist.observe(b)

    def linear(self, site, x, lin):
        self._observe(site, stacked_a(site, x), None)
        return F.linear(x, lin.weight, lin.bias)

    def matmul(self, site, a, b):
        self._observe(site, stacked_a(site, a), stacked_b(b))
        return torch.matmul(a, b)


def calibrate(model, images, sites_needed, with_hessian, batch):
    hook = CalibHook(sites_needed, with_hessian)
    x = torch.from_numpy(images).float().div_(255.0)
    with torch.no_grad():
        for phase in (1, 2):
            hook.phase = phase
            for i in range(0, len(x), batch):
                model(x[i:i + batch], hook)
            if phase == 1:
                for st in hook.stats.values():
                    st["a"].hist.freeze()
                    if st["b"] is not None:
                        st["b"].hist.freeze()
    return hook.stats


# ---------------------------------------------------------------------------------------------
# weights: SmoothQuant, RTN, GPTQ (src/quant/smoothquant.ts, quantizeMatrix.ts, gptq.ts)

def smooth_scales(act_absmax, w, alpha):
    xa = act_absmax.double().abs()
    wa = w.abs().amax(dim=0).double()
    ok = (xa > 0) & (wa > 0) & torch.isfinite(xa) & torch.isfinite(wa)
    v = xa.pow(alpha) / wa.pow(1 - alpha)
    v = torch.where(ok & torch.isfinite(v), v.clamp(1e-5, 1e5), torch.ones_like(v))
    return v.float()


def rtn_weight(w, op):
    return fq_matrix(w, op)


def gptq_weight(w, hessian, op, act_order, damp):
    """Port of src/quant/gptq.ts (float64; quantization grid in float32) → dequantized weight."""
    bits, sym, gran = op["bits"], op["symmetric"], op["granularity"]
    qmin, qmax = int_range(bits, sym)
    n, k = w.shape
    gs = op.get("groupSize") if gran == "group" else k
    gpr = 1 if gran == "tensor" else (k + gs - 1) // gs
    scales = torch.zeros(1 if gran == "tensor" else n * gpr)
    zeros = torch.zeros_like(scales)

    def set_groups(idx, lo, hi):
        s, z = scale_zero(lo, hi, bits, sym)
        scales[idx] = s
        zeros[idx] = z

    if gran == "tensor":
        set_groups(torch.tensor([0]), w.min().reshape(1), w.max().reshape(1))
    elif gran == "channel":
        set_groups(torch.arange(n), w.amin(dim=1), w.amax(dim=1))
    H = hessian.clone()
    W = w.double().clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    if act_order:
        # stable: ties keep the original order (as the TS sort)
        perm = torch.tensor(sorted(range(k), key=lambda c: (-float(H[c, c]), c)))
    else:
        perm = torch.arange(k)
    static_groups = gran == "group" and act_order
    if static_groups:
        for g in range(gpr):
            cols = W[:, g * gs:min(k, (g + 1) * gs)]
            set_groups(torch.arange(n) * gpr + g, cols.amin(dim=1).float(), cols.amax(dim=1).float())
    Wp = W[:, perm].clone()
    Hp = H[perm][:, perm]
    mean = float(torch.diag(Hp).mean())
    d = damp * mean
    U = None
    for _ in range(12):
        Hd = Hp.clone()
        Hd.diagonal().add_(d)
        try:
            L = torch.linalg.cholesky(Hd)
            Hinv = torch.cholesky_inverse(L)
            U = torch.linalg.cholesky(Hinv, upper=True)
            break
        except RuntimeError:
            d = d * 10 if d > 0 else max(1e-8 * mean, 1e-12)
    if U is None:
        raise ValueError("GPTQ: Hessian not positive definite")
    dynamic = gran == "group" and not static_groups
    snapshot = Wp.clone()
    deq = torch.zeros(n, k, dtype=torch.float32)
    rows = torch.arange(n)
    for j in range(k):
        col = int(perm[j])
        gi = col // gs if gran == "group" else 0
        if dynamic and j % 128 == 0:
            snapshot = Wp.clone()
        if dynamic and col % gs == 0:
            cols = snapshot[:, j:min(k, j + gs)]
            # float64 extremes → float32 range, as scaleZero's Math.fround of its inputs
            set_groups(rows * gpr + gi, cols.amin(dim=1).float(), cols.amax(dim=1).float())
        gidx = torch.zeros(n, dtype=torch.long) if gran == "tensor" else rows if gran == "channel" else rows * gpr + gi
        s, z = scales[gidx], zeros[gidx]
        wv = Wp[:, j]
        # TS: f(r/s) with r float64 → round to float32, then round half even
        q = torch.clamp(torch.round((wv / s.double()).float()) + z, qmin, qmax)
        dq = s * (q - z)
        deq[:, col] = dq
        err = (wv - dq.double()) / U[j, j]
        Wp[:, j + 1:] -= err[:, None] * U[j, j + 1:][None, :]
    return deq


# ---------------------------------------------------------------------------------------------
# the quantizing hook

def is_fp32(op):
    return op["bits"] == 32


class QuantHook(Identity):
    def __init__(self, model, plan, stats, scope="image", jitter=0.0, seed=0):
        self.plan = plan
        self.scope = scope
        self.jitter = jitter
        self.gen = torch.Generator().manual_seed(seed) if jitter else None
        self.prepared = {}
        self.model = model
        self.stats = stats or {}

    def _jit(self, y):
        if not self.jitter:
            return y
        return y * (1 + self.jitter * torch.randn(y.shape, generator=self.gen))

    def _clip(self, site, role, op, divide=None):
        if op["range"] != "static" or is_fp32(op):
            return None
        st = self.stats.get(site)
        if st is None or st[role] is None:
            raise ValueError(f"site {site}: static range needs calibration")
        o = st[role]
        if divide is not None:
            # as siteQuant.ts: per-column extremes divided by s (min/max only), widened to hold 0
            lo = float(torch.clamp((o.col_min.double() / divide.double()).min(), max=0.0))
            hi = float(torch.clamp((o.col_max.double() / divide.double()).max(), min=0.0))
            return lo, hi
        return calibrate_range(o.hist, op.get("calibrator", "minmax"), op["bits"], op["symmetric"], op.get("percentile"))

    def _prepare(self, site, lin):
        if site in self.prepared:
            return self.prepared[site]
        sch = self.plan["sites"][site]
        a, b = sch["a"], sch["b"]
        w = lin.weight.detach()
        smooth = None
        if sch.get("smoothquant") and not (is_fp32(a) and is_fp32(b)):
            smooth = smooth_scales(self.stats[site]["a"].col_absmax, w, sch["smoothquant"]["alpha"])
            w = w * smooth[None, :]
        deq = None
        if not is_fp32(b):
            if sch.get("gptq"):
                st = self.stats[site]
                h = 2 * st["hessian"] / max(1, st["rows"])
                if smooth is not None:
                    sd = smooth.double()
                    h = h / (sd[:, None] * sd[None, :])
                deq = gptq_weight(w, h, b, sch["gptq"].get("actOrder", False), sch["gptq"].get("damp", 0.01))
            else:
                deq = rtn_weight(w, b)
        clip_a = self._clip(site, "a", a, smooth)
        p = {"w": w, "deq": deq, "smooth": smooth, "clip_a": clip_a}
        self.prepared[site] = p
        return p

    def linear(self, site, x, lin):
        sch = self.plan["sites"][site]
        a, b = sch["a"], sch["b"]
        if is_fp32(a) and is_fp32(b):
            return self._jit(F.linear(x, lin.weight, lin.bias))
        p = self._prepare(site, lin)
        shape = x.shape
        xa = stacked_a(site, x)  # [B, T, K]
        if p["smooth"] is not None:
            xa = xa / p["smooth"]
        if sch.get("llmInt8"):
            y = llm_int8(xa, p["w"], lin.bias, sch["llmInt8"]["threshold"],
                         8 if is_fp32(a) else a["bits"], 8 if is_fp32(b) else b["bits"])
        else:
            if not is_fp32(a):
                xa = fq_matrix(xa, a, p["clip_a"], self.scope)
            y = F.linear(xa, p["deq"] if p["deq"] is not None else p["w"], lin.bias)
        return self._jit(y.reshape(*shape[:-1], -1))

    def matmul(self, site, a_in, b_in):
        sch = self.plan["sites"][site]
        a, b = sch["a"], sch["b"]
        if is_fp32(a) and is_fp32(b):
            return self._jit(torch.matmul(a_in, b_in))
        if site not in self.prepared:
            self.prepared[site] = {"clip_a": self._clip(site, "a", a), "clip_b": self._clip(site, "b", b)}
        p = self.prepared[site]
        n, h = a_in.shape[0], a_in.shape[1]
        A = stacked_a(site, a_in)
        Bt = stacked_b(b_in)  # [n, H·N, K]
        if not is_fp32(a):
            A = fq_matrix(A, a, p["clip_a"], self.scope)
        if not is_fp32(b):
            Bt = fq_matrix(Bt, b, p["clip_b"], self.scope)
        A = A.reshape(a_in.shape)
        B = Bt.reshape(n, h, b_in.shape[-1], b_in.shape[-2]).transpose(-1, -2)
        return self._jit(torch.matmul(A, B))


def llm_int8(x, w, bias, threshold, a_bits, b_bits):
    """Port of src/quant/llmInt8.ts, per image: x [B, T, K] (already smoothed), w [N, K] float."""
    outs = []
    for img in x:
        mask = (img.abs() > threshold).any(dim=0)
        reg = ~mask
        y = torch.zeros(img.shape[0], w.shape[0])
        if reg.any():
            xr, wr = img[:, reg], w[:, reg]
            sx, _ = scale_zero(xr.amin(dim=1, keepdim=True), xr.amax(dim=1, keepdim=True), a_bits, True)
            sw, _ = scale_zero(wr.amin(dim=1, keepdim=True), wr.amax(dim=1, keepdim=True), b_bits, True)
            qx = quant_ints(xr, sx, 0, a_bits, True).double()
            qw = quant_ints(wr, sw, 0, b_bits, True).double()
            acc = (qx @ qw.T).float()  # exact integers
            y = (acc * sx) * sw.T
        if mask.any():
            y = y + (img[:, mask].double() @ w[:, mask].double().T).float()
        if bias is not None:
            y = y + bias
        outs.append(y)
    return torch.stack(outs)


# ---------------------------------------------------------------------------------------------

def plan_needs_calibration(plan):
    need, hess = set(), False
    for i, s in enumerate(plan["sites"]):
        if s["a"]["range"] == "static" or s["b"]["range"] == "static" or s.get("smoothquant") or s.get("gptq"):
            need.add(i)
        if s.get("gptq"):
            hess = True
    return need, hess


def validate_plan(plan, where):
    if plan.get("version") != 1 or len(plan.get("sites", [])) != SITE_COUNT:
        raise SystemExit(f"{where}: not a version-1 plan with {SITE_COUNT} sites")
    for i, s in enumerate(plan["sites"]):
        for role in ("a", "b"):
            o = s[role]
            if o["bits"] not in (32, 8, 4, 2):
                raise SystemExit(f"{where}: sites[{i}].{role}.bits = {o['bits']}")
            if o["granularity"] == "group" and not o.get("groupSize"):
                raise SystemExit(f"{where}: sites[{i}].{role}: group without groupSize")


def evaluate(model, plan, stats, x, y, batch, scope, jitter=0.0, seed=0):
    hook = QuantHook(model, plan, stats, scope, jitter, seed)
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch], hook)
            if not torch.isfinite(logits).all():
                raise ValueError("non-finite logits")
            preds.append(logits.argmax(-1))
    p = torch.cat(preds).numpy()
    return float((p == y).mean()), p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", action="append", default=[], help="plan JSON (repeatable); none = FP32")
    ap.add_argument("--set", choices=["test", "val"], default="test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--scope", choices=["image", "batch"], default="image",
                    help="dynamic per-tensor range per image (convention) or per batch (note 004's code)")
    ap.add_argument("--model", default=os.path.join(REPO, "public", "models", "vit-cifar10"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default=None, help="results JSON (default: print only)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calib-images", type=int, default=CALIB_IMAGES,
                    help="calibration images: the first N training records (default 256)")
    ap.add_argument("--predictions", action="store_true", help="store per-image predictions in the JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model, cfg, digest = load_model(args.model)
    d = data_dir(args.data)
    xs, ys = load_test(d) if args.set == "test" else load_val(d)
    if args.limit:
        xs, ys = xs[:args.limit], ys[:args.limit]
    x = torch.from_numpy(xs).float().div_(255.0)
    calib_x, _ = read_records(os.path.join(d, "data_batch_1.bin"))
    calib_x = calib_x[:args.calib_images]

    plans = []
    for path in args.plan:
        with open(path) as f:
            p = json.load(f)
        validate_plan(p, path)
        plans.append((path, p))
    if not plans:
        fp = {"a": {"bits": 32, "granularity": "tensor", "symmetric": True, "range": "dynamic"}}
        fp["b"] = dict(fp["a"])
        plans.append(("(FP32)", {"version": 1, "name": "FP32", "sites": [fp] * SITE_COUNT}))

    fp_acc, fp_preds = evaluate(model, {"sites": [{"a": {"bits": 32}, "b": {"bits": 32}}] * SITE_COUNT}, None, x, ys, args.batch, args.scope)
    # sanity: the FP32 forward through the hook must reproduce the exporter's own predictions
    export_agree = None
    pred_path = os.path.join(args.model, "predictions.json")
    if os.path.exists(pred_path):
        with open(pred_path) as f:
            exported = json.load(f).get(args.set)
        if exported:
            n = min(len(exported), len(fp_preds))
            export_agree = float((np.array(exported[:n]) == fp_preds[:n]).mean())
    print(f"model {digest}: FP32 {args.set} accuracy {100 * fp_acc:.2f}% on {len(ys)} images"
          + (f", agrees with the exported predictions.json on {100 * export_agree:.2f}%" if export_agree is not None else ""), flush=True)
    results = []
    for path, plan in plans:
        t0 = time.time()
        need, hess = plan_needs_calibration(plan)
        stats = calibrate(model, calib_x, need, hess, args.batch) if need else None
        acc, preds = evaluate(model, plan, stats, x, ys, args.batch, args.scope)
        r = {"plan": path, "name": plan.get("name"), "set": args.set, "count": int(len(ys)), "accuracy": acc,
             "agree_fp32": float((preds == fp_preds).mean()), "scope": args.scope, "model_sha256_16": digest,
             "calibration": f"first {len(calib_x)} training images (data_batch_1), FP32 model" if need else None}
        if args.predictions:
            r["predictions"] = preds.tolist()
        if args.jitter:
            accs, agrees = [], []
            for seed in range(args.seeds):
                a_j, p_j = evaluate(model, plan, stats, x, ys, args.batch, args.scope, args.jitter, seed + 1)
                accs.append(a_j)
                agrees.append(float((p_j == preds).mean()))
            r["jitter"] = {"relative": args.jitter, "seeds": args.seeds, "accuracies": accs,
                           "band": [min(accs + [acc]), max(accs + [acc])], "agree_unjittered": agrees}
        r["wall_s"] = round(time.time() - t0, 1)
        results.append(r)
        band = ""
        if "jitter" in r:
            band = f"  band [{100 * r['jitter']['band'][0]:.2f}, {100 * r['jitter']['band'][1]:.2f}]% (jitter {args.jitter:g}, {args.seeds} seeds)"
        print(f"{plan.get('name') or path}: {args.set} accuracy {100 * acc:.2f}% on {len(ys)} images, "
              f"agrees with FP32 on {100 * r['agree_fp32']:.2f}%{band}  [{r['wall_s']}s]", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "model_sha256_16": digest, "fp32_accuracy": fp_acc,
                   "fp32_agree_exported_predictions": export_agree, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
