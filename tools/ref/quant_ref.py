#!/usr/bin/env python3
"""Independent PyTorch fake-quantization reference for quantization plans (src/plan/plan.ts JSON).

Runs the ViT of tools/train/vit.py with a site hook that fake-quantizes both operands of every
matrix product as the plan says (science.md). Two kinds of code, kept apart:

  * The project's ARITHMETIC (written from science.md, independent of the TS): the grid in
    tools/ref/grid.py (round half to even, asymmetric widened to hold 0, symmetric restricted — at 2
    bits that is ternary), and here the forward pass and operand layouts. Every site is Y = A·Bᵀ
    (+ bias) per image. Weight sites: A = input [T×K], B = W [N×K]. q·kᵀ: A = q stacked over heads
    [H·T × hd], B = k stacked [H·T × hd]. attn·v: A = attn stacked [H·T × T], B = vᵀ stacked
    [H·hd × T]. Granularity on those stacked matrices: 'tensor' = one range per IMAGE (science.md §7;
    --scope batch for note 004's per-batch ranges), 'token'/'channel' = per row, 'group' = per row
    and run of groupSize columns. Weights: per tensor / per row of W / per group along K.
  * The ALGORITHMS, written from their published sources in tools/ref/published.py, not from the
    TypeScript: KL calibration (pytorch-quantization _compute_amax_entropy), SmoothQuant
    (smooth_ln_fcs / get_act_scales, folded into the LayerNorm), GPTQ (fasterquant, with the
    opt_sequential driver below), LLM.int8() (Dettmers et al. 2022, bitsandbytes). The minmax,
    percentile and mse calibrators are still ports of src/quant/calibrate.ts (not independent).

How a plan is prepared (prepare_plan), all on the calibration images = the first 256 training
records (data_batch_1):
  1. SmoothQuant sites: act_absmax per input channel from the FP32 model (get_act_scales); α fixed
     or searched (published.search_alpha, first 32 calibration images); s = smooth_ln_fcs's
     formula; placement "fold" (default; to_qkv and fc1 only) divides the preceding LayerNorm's γ, β
     by s and multiplies W's input columns by s in a copy of the model; "runtime" divides A by s at
     run time and multiplies W by s (any weight site).
  2. Static ranges: histograms of the smoothed FP32 model's operands (so A ranges are of X/s), then
     the plan's calibrator.
  3. Weights in forward order: RTN, or GPTQ with H = 2/N Σ x xᵀ from the FP32 (smoothed) model
     (gptq.sequential = false) or, by default (sequential = true, opt_sequential's order), from the
     inputs of the model in which every earlier site is already quantized as the plan says.

The integer paths of the TS engines compute the same numbers up to float summation order; this
tool multiplies dequantized float32 operands. --jitter multiplies each site's output by
(1 + jitter·N(0,1)) from a seeded generator, to measure the band of chaotic plans (science.md §7).

Usage (one thread: training may use the other core):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 \\
    tools/ref/quant_ref.py --plan plan.json [--plan …] --set test|val [--offset N] --limit N
    [--jitter 1e-6 --seeds 3] [--out results.json] [--predictions] [--scope image|batch] [--batch 100]
"""
import argparse
import copy
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
sys.path.insert(0, HERE)

from cifar import data_dir, load_test, load_val, read_records  # noqa: E402
from vit import ViT, Identity  # noqa: E402
from grid import int_range, scale_zero, fq_matrix, grid_label  # noqa: E402
import formats_ref as fr  # noqa: E402


def fq_any(x, op, clip=None, scope="image"):
    """INT grid (grid.py) or a number format (formats_ref.py, from the OCP / QLoRA specifications)."""
    if op.get("format", "int") != "int":
        return fr.fq_format(x, op, scope)
    return fq_matrix(x, op, clip, scope)
import published as pub  # noqa: E402

SITE_COUNT = 38
CALIB_IMAGES = 256
ALPHA_SEARCH_IMAGES = 32


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


# ---------------------------------------------------------------------------------------------
# calibration statistics. minmax / percentile / mse are ports of src/quant/calibrate.ts (NOT
# independent); kl follows pytorch-quantization (published.entropy_amax).

class Hist:
    """RangeHistogram: pass 1 extremes, pass 2 histograms over [min, max] and of |x| over [0, absmax]."""

    def __init__(self):
        self.min, self.max, self.absmax, self.count = math.inf, -math.inf, 0.0, 0
        self.bins, self.total = 0, 0
        self.counts = self.abs_counts = None
        self.kl_counts = self.kl_edges = None

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
        self.kl_counts = np.zeros(bins)

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
        # KL: HistogramCalibrator's torch.histc of |x| over [0, absmax] (published.abs_histogram)
        c, self.kl_edges = pub.abs_histogram([x], self.absmax, bins)
        self.kl_counts += c


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


def calibrate_range(h, calibrator, bits, sym, percentile=None):
    """Static range (lo, hi, note) of an operand from its histograms; note is None or a warning."""
    if h.count == 0 or not (math.isfinite(h.min) and math.isfinite(h.max)):
        return 0.0, 0.0, None
    if calibrator == "minmax":
        return h.min, h.max, None
    if calibrator == "percentile":
        p = 99.99 if percentile is None else percentile
        if sym:
            t = min(h.absmax, _quantile(h.abs_counts, 0.0, h.absmax / h.bins, p / 100))
            return -t, t, None
        w = (h.max - h.min) / h.bins
        lo = max(h.min, _quantile(h.counts, h.min, w, (100 - p) / 200))
        hi = min(h.max, _quantile(h.counts, h.min, w, (100 + p) / 200))
        return lo, max(lo, hi), None
    if calibrator == "mse":
        lo0 = -h.absmax if sym else min(h.min, 0.0)
        hi0 = h.absmax if sym else max(h.max, 0.0)
        f = np.arange(200, 0, -1) / 200
        errs = _hist_mse_all(h, lo0 * f, hi0 * f, bits, sym)
        i = int(np.argmin(errs))  # first minimum = widest range among ties, as the TS loop
        return lo0 * f[i], hi0 * f[i], None
    if calibrator == "kl":
        # pytorch-quantization's entropy calibration (symmetric in the source); the asymmetric plan
        # uses [max(min, −amax), min(max, amax)] — the project's extension, not in the source.
        if h.absmax <= 0:
            return 0.0, 0.0, None
        amax, cut, all_inf = pub.entropy_amax(h.kl_counts, h.kl_edges, bits)
        note = (f"KL: every divergence infinite (discrete data), fell back to absmax {amax:.6g}" if all_inf
                else None)
        return (-amax, amax, note) if sym else (max(h.min, -amax), min(h.max, amax), note)
    raise ValueError(f"unknown calibrator {calibrator}")


def is_fp32(op):
    return op["bits"] == 32


def is_weight_site(site):
    return site_kind(site) == "linear"


def site_linear(model, site):
    """The nn.Linear of a weight site (science.md §6 numbering)."""
    if site == 0:
        return model.patch_embed
    if site == SITE_COUNT - 1:
        return model.head
    blk = model.blocks[(site - 1) // 6]
    return {0: blk.to_qkv, 3: blk.to_out, 4: blk.fc1, 5: blk.fc2}[(site - 1) % 6]


def foldable_ln(model, site):
    """The LayerNorm whose output feeds only this site (to_qkv ← ln1, fc1 ← ln2), else None."""
    if site in (0, SITE_COUNT - 1):
        return None
    blk = model.blocks[(site - 1) // 6]
    return {0: blk.ln1, 4: blk.ln2}.get((site - 1) % 6)


class StopForward(Exception):
    """Raised by the hook after observing the site whose inputs were wanted (sequential GPTQ)."""


class Prepared:
    """A plan made runnable: the (possibly LayerNorm-folded) model copy, run-time smoothing factors,
    static ranges, quantized weights, and notes for the report."""

    def __init__(self, model):
        self.model = model
        self.runtime_s, self.runtime_w = {}, {}
        self.clip = {}
        self.weights = {}
        self.notes = []
        self.alpha = {}
        self.kl_ratio = {}  # "site.role" → KL amax / absmax, for comparing with the TS calibrator
        self.rot = {}  # site → R (float64): the operand is rotated x·R, the weight already holds W·R


class RefHook(Identity):
    """One site hook for calibration, sequential-GPTQ captures and evaluation.

    quantized: the sites quantized as the plan says (None = all; others run in FP32, smoothed as
    prepared); observe(site, A [B,R,K], Bt [B,R',K] | None): called with the operands a site sees
    (A already divided by a run-time s) before quantization; stop_at: raise StopForward after
    observing that site.
    """

    def __init__(self, plan, prep, quantized=None, observe=None, stop_at=None, scope="image", jitter=0.0, seed=0):
        self.plan, self.prep = plan, prep
        self.quantized, self.observe, self.stop_at = quantized, observe, stop_at
        self.scope, self.jitter = scope, jitter
        self.gen = torch.Generator().manual_seed(seed) if jitter else None

    def _jit(self, y):
        if not self.jitter:
            return y
        return y * (1 + self.jitter * torch.randn(y.shape, generator=self.gen))

    def _active(self, site, sch):
        if is_fp32(sch["a"]) and is_fp32(sch["b"]):
            return False
        return self.quantized is None or site in self.quantized

    def linear(self, site, x, lin):
        sch = self.plan["sites"][site]
        a, b = sch["a"], sch["b"]
        xs = stacked_a(site, x)
        w = lin.weight
        R = self.prep.rot.get(site)
        if R is not None:
            xs = (xs.double() @ R).float()
        s = self.prep.runtime_s.get(site)
        if s is not None:
            xs = xs / s
            w = self.prep.runtime_w[site]
        if self.observe:
            self.observe(site, xs, None)
        if self.stop_at == site:
            raise StopForward
        if not self._active(site, sch):
            y = F.linear(xs, w, lin.bias)
        elif sch.get("llmInt8"):
            thr = sch["llmInt8"]["threshold"]
            ab, bb = 8 if is_fp32(a) else a["bits"], 8 if is_fp32(b) else b["bits"]
            y = torch.stack([pub.llm_int8_linear(img, w, thr, ab, bb) for img in xs])
            if lin.bias is not None:
                y = y + lin.bias
        else:
            xa = xs if is_fp32(a) else fq_any(xs, a, self.prep.clip.get(site, {}).get("a"), self.scope)
            wq = w if is_fp32(b) else self.prep.weights[site]
            y = F.linear(xa, wq, lin.bias)
        return self._jit(y.reshape(*x.shape[:-1], -1))

    def matmul(self, site, a_in, b_in):
        sch = self.plan["sites"][site]
        a, b = sch["a"], sch["b"]
        A = stacked_a(site, a_in)
        Bt = stacked_b(b_in)  # [n, H·N, K]
        if self.observe:
            self.observe(site, A, Bt)
        if self.stop_at == site:
            raise StopForward
        if not self._active(site, sch):
            return self._jit(torch.matmul(a_in, b_in))
        clip = self.prep.clip.get(site, {})
        n, h = a_in.shape[0], a_in.shape[1]
        if not is_fp32(a):
            A = fq_any(A, a, clip.get("a"), self.scope)
        if not is_fp32(b):
            Bt = fq_any(Bt, b, clip.get("b"), self.scope)
        A = A.reshape(a_in.shape)
        B = Bt.reshape(n, h, b_in.shape[-1], b_in.shape[-2]).transpose(-1, -2)
        return self._jit(torch.matmul(A, B))


def run_model(model, hook, x, batch):
    with torch.no_grad():
        for i in range(0, len(x), batch):
            try:
                model(x[i:i + batch], hook)
            except StopForward:
                pass


def _smoothquant_cfg(sch):
    sq = sch.get("smoothquant")
    if not sq:
        return None
    return {"alpha": sq.get("alpha"), "placement": sq.get("placement", "fold")}


def _gptq_cfg(sch):
    g = sch.get("gptq")
    if not g:
        return None
    return {"actOrder": bool(g.get("actOrder", False)), "damp": float(g.get("damp", 0.01)),
            "sequential": g.get("sequential", True) is not False}


def prepare_plan(model, plan, calib_x, batch=100, scope="image", log=None):
    """SmoothQuant → static ranges → weights (RTN / GPTQ), as the module docstring describes."""
    sites = plan["sites"]
    prep = Prepared(copy.deepcopy(model))
    active = [i for i, s in enumerate(sites) if not (is_fp32(s["a"]) and is_fp32(s["b"]))]
    say = log or (lambda m: None)

    # 0. Hadamard rotation (QuaRot): LayerNorm γ into W's columns and β into the bias (to_qkv, fc1),
    #    then W ← W·R in the model copy; the hook rotates the operand x ← x·R
    for i, sch in enumerate(sites):
        rot = sch.get("rotation")
        if not rot:
            continue
        lin = site_linear(prep.model, i)
        with torch.no_grad():
            ln = foldable_ln(prep.model, i)
            w = lin.weight.double()
            if ln is not None:
                lin.bias.copy_((lin.bias.double() + w @ ln.bias.double()).float())
                w = w * ln.weight.double().view(1, -1)
                ln.weight.fill_(1.0)
                ln.bias.zero_()
            R = fr.rotation_matrix(lin.in_features, int(rot["seed"]), i)
            lin.weight.copy_((w @ R).float())
        prep.rot[i] = R
    # active: sites that quantize something (a rotated FP32 site still rotates: see RefHook.linear)

    # 1. SmoothQuant (smooth_ln_fcs), statistics from the FP32 model before any smoothing
    sq = {i: _smoothquant_cfg(sites[i]) for i in active if sites[i].get("smoothquant")}
    if sq:
        absmax = {}

        def obs_absmax(site, xs, bt):
            if site in sq:
                absmax[site] = pub.act_absmax_update(absmax.get(site), xs)
        run_model(prep.model, RefHook(plan, prep, quantized=set(), observe=obs_absmax), calib_x, batch)
        search = [i for i, c in sq.items() if c["alpha"] == "search"]
        first = {i: [] for i in search}
        if search:
            def obs_first(site, xs, bt):
                if site in first:
                    first[site].extend(img.clone() for img in xs)
            run_model(prep.model, RefHook(plan, prep, quantized=set(), observe=obs_first),
                      calib_x[:ALPHA_SEARCH_IMAGES], batch)
        for i, c in sq.items():
            lin = site_linear(prep.model, i)
            w = lin.weight.detach().clone()
            a_op, b_op = sites[i]["a"], sites[i]["b"]
            if c["alpha"] == "search":
                dyn_a = dict(a_op, range="dynamic")
                alpha, errs = pub.search_alpha(
                    first[i], w, absmax[i],
                    (lambda xs: xs) if is_fp32(a_op) else (lambda xs: fq_matrix(xs, dyn_a, None, "image")),
                    (lambda m: m) if is_fp32(b_op) else (lambda m: fq_matrix(m, b_op)))
            else:
                alpha = float(c["alpha"])
            prep.alpha[i] = alpha
            s = pub.smooth_scales(absmax[i], w, alpha)
            if c["placement"] == "fold":
                ln = foldable_ln(prep.model, i)
                if ln is None:
                    raise ValueError(f"site {i}: smoothquant placement 'fold' needs a LayerNorm that feeds only "
                                     f"this site (to_qkv, fc1); use placement 'runtime' for site {i}")
                pub.fold_smoothing(ln, lin, s)
            else:
                prep.runtime_s[i] = s
                prep.runtime_w[i] = w * s.view(1, -1)
        say(f"  smoothquant α: {prep.alpha}")

    # 2. static ranges (on X/s) and FP32 Hessians, from the smoothed FP32 model
    static = {}
    for i in active:
        for role in ("a", "b"):
            op = sites[i][role]
            # a weight's range is its own min/max whatever the plan says: weights are constants
            if op.get("range") == "static" and not is_fp32(op) and not (role == "b" and is_weight_site(i)):
                static.setdefault(i, {})[role] = Hist()
    gptq = {i: _gptq_cfg(sites[i]) for i in active if sites[i].get("gptq") and not is_fp32(sites[i]["b"])}
    hess = {i: pub.HessianAccumulator(site_linear(prep.model, i).in_features)
            for i, g in gptq.items() if not g["sequential"]}
    if static or hess:
        phase = [1]

        def obs_stats(site, xs, bt):
            st = static.get(site)
            if st:
                for role, m in (("a", xs), ("b", bt)):
                    if role in st:
                        if phase[0] == 1:
                            st[role].observe_range(m)
                        else:
                            st[role].observe(m)
            if phase[0] == 1 and site in hess:
                hess[site].add(xs)
        hook = RefHook(plan, prep, quantized=set(), observe=obs_stats)
        run_model(prep.model, hook, calib_x, batch)
        for st in static.values():
            for h in st.values():
                h.freeze()
        if static:
            phase[0] = 2
            run_model(prep.model, hook, calib_x, batch)
        for i, st in static.items():
            prep.clip[i] = {}
            for role, h in st.items():
                op = sites[i][role]
                lo, hi, note = calibrate_range(h, op.get("calibrator", "minmax"), op["bits"], op["symmetric"],
                                               op.get("percentile"))
                prep.clip[i][role] = (lo, hi)
                if op.get("calibrator") == "kl" and h.absmax > 0:
                    prep.kl_ratio[f"{i}.{role}"] = round(max(abs(lo), abs(hi)) / h.absmax, 4)
                if note:
                    prep.notes.append(f"site {i} {role}: {note}")

    # 3. weights in forward order (an earlier site's weights exist when a later one is captured)
    for i in active:
        b_op = sites[i]["b"]
        if not is_weight_site(i) or is_fp32(b_op) or sites[i].get("llmInt8"):
            continue
        lin = site_linear(prep.model, i)
        w = prep.runtime_w.get(i, lin.weight.detach())
        g = gptq.get(i)
        if g is None:
            prep.weights[i] = fq_any(w, b_op)
            continue
        if g["sequential"]:
            acc = pub.HessianAccumulator(lin.in_features)

            def obs_h(site, xs, bt, i=i, acc=acc):
                if site == i:
                    acc.add(xs)
            run_model(prep.model, RefHook(plan, prep, quantized=set(range(i)), observe=obs_h, stop_at=i,
                                          scope=scope), calib_x, batch)
        else:
            acc = hess[i]
        prep.weights[i] = pub.gptq_fasterquant(w, acc.H, b_op["bits"], b_op["symmetric"], b_op["granularity"],
                                               b_op.get("groupSize"), g["actOrder"], g["damp"])
    return prep


def evaluate(prep, plan, x, y, batch, scope, jitter=0.0, seed=0):
    hook = RefHook(plan, prep, scope=scope, jitter=jitter, seed=seed)
    preds = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = prep.model(x[i:i + batch], hook)
            if not torch.isfinite(logits).all():
                raise ValueError("non-finite logits")
            preds.append(logits.argmax(-1))
    p = torch.cat(preds).numpy()
    return float((p == y).mean()), p


# ---------------------------------------------------------------------------------------------

FP32_OP = {"bits": 32, "granularity": "tensor", "symmetric": True, "range": "dynamic"}


def fp32_plan():
    return {"version": 1, "name": "FP32", "sites": [{"a": dict(FP32_OP), "b": dict(FP32_OP)} for _ in range(SITE_COUNT)]}


def validate_plan(plan, where):
    """Clear errors for what this reference cannot run (src/plan/plan.ts is the full validator)."""
    if plan.get("version") not in (1, 2) or len(plan.get("sites", [])) != SITE_COUNT:
        raise SystemExit(f"{where}: not a version-1/2 plan with {SITE_COUNT} sites")
    for i, s in enumerate(plan["sites"]):
        for role in ("a", "b"):
            o = s.get(role)
            if not isinstance(o, dict):
                raise SystemExit(f"{where}: sites[{i}].{role} missing")
            if o.get("bits") != 32 and o.get("bits") not in range(2, 9):
                raise SystemExit(f"{where}: sites[{i}].{role}.bits = {o.get('bits')} (expected 2..8 or 32)")
            if o["bits"] != 32 and o.get("granularity") not in ("tensor", "token", "channel", "group"):
                raise SystemExit(f"{where}: sites[{i}].{role}.granularity = {o.get('granularity')}")
            if o.get("format", "int") not in ("int",) + tuple(fr.FORMATS):
                raise SystemExit(f"{where}: sites[{i}].{role}.format = {o.get('format')!r} (known: int, {', '.join(fr.FORMATS)})")
            if o.get("granularity") == "group" and not o.get("groupSize"):
                raise SystemExit(f"{where}: sites[{i}].{role}: group without groupSize")
            if "clip" in o:
                # an explicit (learned, QAT) static range: not implemented here — refused rather than
                # silently calibrated
                raise SystemExit(f"{where}: sites[{i}].{role}.clip: explicit static ranges are not implemented in this "
                                 f"reference; score such a plan with the engine (npm run eval)")
        sq = s.get("smoothquant")
        if sq:
            a = sq.get("alpha")
            if not (a == "search" or (isinstance(a, (int, float)) and 0 <= a <= 1)):
                raise SystemExit(f"{where}: sites[{i}].smoothquant.alpha = {a!r} (a number in [0, 1] or \"search\")")
            if sq.get("placement", "fold") not in ("fold", "runtime"):
                raise SystemExit(f"{where}: sites[{i}].smoothquant.placement = {sq.get('placement')!r}")
            if not is_weight_site(i):
                raise SystemExit(f"{where}: sites[{i}].smoothquant on an attention site")
            if sq.get("placement", "fold") == "fold" and i not in (1 + 6 * b for b in range(6)) \
                    and i not in (5 + 6 * b for b in range(6)):
                raise SystemExit(f"{where}: sites[{i}].smoothquant placement 'fold' is possible at to_qkv and fc1 only "
                                 f"(sites 1+6b, 5+6b); ask for placement 'runtime'")


def describe_plan(plan):
    """Short labels for the report: 'ternary' where a symmetric 2-bit grid appears (science.md §1)."""
    labels = set()
    for s in plan["sites"]:
        for role in ("a", "b"):
            o = s[role]
            if not is_fp32(o):
                labels.add(f"{role.upper()}:{o['format'] if o.get('format', 'int') != 'int' else grid_label(o['bits'], o['symmetric'])}")
        if s.get("rotation"):
            labels.add("rotation")
    return sorted(labels)


def load_images(d, which, offset=0, limit=None):
    """Images [offset, offset+limit) of the test or val set → (float tensor [N,3,32,32] in [0,1], labels)."""
    xs, ys = load_test(d) if which == "test" else load_val(d)
    if offset < 0 or offset > len(ys):
        raise SystemExit(f"--offset {offset} outside the {len(ys)} {which} images")
    end = len(ys) if limit is None else min(len(ys), offset + limit)
    xs, ys = xs[offset:end], ys[offset:end]
    return torch.from_numpy(xs).float().div_(255.0), ys


def load_calib(d, n=CALIB_IMAGES):
    calib_x, _ = read_records(os.path.join(d, "data_batch_1.bin"))
    return torch.from_numpy(calib_x[:n]).float().div_(255.0)


def plan_needs_calibration(plan):
    return any(s["a"].get("range") == "static" or s["b"].get("range") == "static" or s.get("smoothquant")
               or s.get("gptq") for s in plan["sites"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", action="append", default=[], help="plan JSON (repeatable); none = FP32")
    ap.add_argument("--set", choices=["test", "val"], default="test")
    ap.add_argument("--offset", type=int, default=0, help="first image: evaluates images [offset, offset+limit)")
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
    x, ys = load_images(d, args.set, args.offset, args.limit)
    calib_x = load_calib(d, args.calib_images)

    plans = []
    for path in args.plan:
        with open(path) as f:
            p = json.load(f)
        validate_plan(p, path)
        plans.append((path, p))
    if not plans:
        plans.append(("(FP32)", fp32_plan()))

    fp_acc, fp_preds = evaluate(Prepared(model), fp32_plan(), x, ys, args.batch, args.scope)
    # sanity: the FP32 forward through the hook must reproduce the exporter's own predictions
    export_agree = None
    pred_path = os.path.join(args.model, "predictions.json")
    if os.path.exists(pred_path):
        with open(pred_path) as f:
            exported = json.load(f).get(args.set)
        if exported:
            exported = exported[args.offset:]
            n = min(len(exported), len(fp_preds))
            if n:
                export_agree = float((np.array(exported[:n]) == fp_preds[:n]).mean())
    print(f"model {digest}: FP32 {args.set} accuracy {100 * fp_acc:.2f}% on {len(ys)} images"
          + (f" from #{args.offset}" if args.offset else "")
          + (f", agrees with the exported predictions.json on {100 * export_agree:.2f}%" if export_agree is not None else ""), flush=True)
    results = []
    for path, plan in plans:
        t0 = time.time()
        need = plan_needs_calibration(plan)
        prep = prepare_plan(model, plan, calib_x, args.batch, args.scope)
        acc, preds = evaluate(prep, plan, x, ys, args.batch, args.scope)
        r = {"plan": path, "name": plan.get("name"), "set": args.set, "offset": args.offset, "count": int(len(ys)),
             "accuracy": acc, "agree_fp32": float((preds == fp_preds).mean()), "scope": args.scope,
             "model_sha256_16": digest, "grids": describe_plan(plan),
             "calibration": f"first {len(calib_x)} training images (data_batch_1), FP32 model" if need else None}
        if prep.alpha:
            r["smoothquant_alpha"] = {str(k): v for k, v in prep.alpha.items()}
        if prep.kl_ratio:
            r["kl_amax_over_absmax"] = prep.kl_ratio
        if prep.notes:
            r["notes"] = prep.notes
            for n_ in prep.notes:
                print(f"  note: {n_}", flush=True)
        if args.predictions:
            r["predictions"] = preds.tolist()
        if args.jitter:
            accs, agrees = [], []
            for seed in range(args.seeds):
                a_j, p_j = evaluate(prep, plan, x, ys, args.batch, args.scope, args.jitter, seed + 1)
                accs.append(a_j)
                agrees.append(float((p_j == preds).mean()))
            r["jitter"] = {"relative": args.jitter, "seeds": args.seeds, "accuracies": accs,
                           "band": [min(accs + [acc]), max(accs + [acc])], "agree_unjittered": agrees}
        r["wall_s"] = round(time.time() - t0, 1)
        results.append(r)
        band = ""
        if "jitter" in r:
            band = f"  band [{100 * r['jitter']['band'][0]:.2f}, {100 * r['jitter']['band'][1]:.2f}]% (jitter {args.jitter:g}, {args.seeds} seeds)"
        print(f"{plan.get('name') or path} ({', '.join(r['grids']) or 'FP32'}): {args.set} accuracy {100 * acc:.2f}% on {len(ys)} images, "
              f"agrees with FP32 on {100 * r['agree_fp32']:.2f}%{band}  [{r['wall_s']}s]", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "model_sha256_16": digest, "fp32_accuracy": fp_acc,
                       "fp32_agree_exported_predictions": export_agree, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
