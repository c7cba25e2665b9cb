"""Quantization algorithms written from their PUBLISHED sources, not from this project's TypeScript.

Each function names the source it follows and every place where it departs from it. The departures
are the project's definitions (issue 10, shared with the TS engine) so that the two can be compared:
mainly, every algorithm quantizes on the project's grid (tools/ref/grid.py, science.md §1) instead of
its source's own quantizer class.

  entropy_amax        NVIDIA pytorch-quantization, pytorch_quantization/calib/histogram.py
                      (_compute_amax_entropy; HistogramCalibrator.collect for the histogram)
  smooth_scales,      mit-han-lab/smoothquant, smoothquant/smooth.py (smooth_ln_fcs) and
  fold_smoothing      smoothquant/calibration.py (get_act_scales)
  search_alpha        the project's α search (issue 10 definition 2); the paper picks α per model
  gptq_fasterquant    IST-DASLab/gptq, gptq.py (GPTQ.add_batch, GPTQ.fasterquant); the sequential
                      driver (opt.py opt_sequential) is in quant_ref.py
  llm_int8_linear     Dettmers et al. 2022, "LLM.int8(): 8-bit Matrix Multiplication for Transformers
                      at Scale" §3 (vector-wise quantization + mixed-precision decomposition), as
                      bitsandbytes implements it (int8_vectorwise_quant, int8_mm_dequant)
"""
import math

import numpy as np
import torch

from grid import int_range, scale_zero

# ---------------------------------------------------------------------------------------------
# KL / entropy calibration


def abs_histogram(xs, absmax, num_bins=2048):
    """Histogram of |x| with num_bins bins over [0, absmax] → (counts float64 [num_bins], edges float32 [num_bins+1]).

    Follows pytorch-quantization HistogramCalibrator.collect (torch branch): torch.histc of |x| in
    float32 with min=0, max=amax and edges torch.linspace(0, amax, num_bins+1). Difference: the
    source grows its range batch by batch; here absmax is found over the whole calibration set
    first (two passes), which equals a calibrator whose first batch already spans the data.
    xs: an iterable of tensors.
    """
    absmax = float(np.float32(absmax))
    counts = torch.zeros(num_bins, dtype=torch.float64)
    for x in xs:
        a = x.detach().abs().float().reshape(-1)
        if absmax > 0:
            counts += torch.histc(a, bins=num_bins, min=0.0, max=absmax).double()
        else:
            counts[0] += a.numel()
    edges = torch.linspace(0.0, absmax, num_bins + 1, dtype=torch.float32)
    return counts.numpy(), edges.numpy()


def entropy(p, q):
    """KL(p‖q) with the semantics of scipy.stats.entropy(p, q): both normalised to sum 1, then
    Σ rel_entr(p, q) where rel_entr = p·log(p/q) for p > 0, q > 0; 0 for p = 0; +inf for p > 0 = q."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum()
    q = q / q.sum()
    if np.any((p > 0) & (q == 0)):
        return math.inf
    m = p > 0
    vec = np.zeros_like(p)
    vec[m] = p[m] * np.log(p[m] / q[m])
    return float(np.sum(vec))


def entropy_amax(hist, edges, bits, start_bin=128, stride=1):
    """amax minimising KL(P‖Q) over candidate cuts → (amax, cut bin i, all_inf).

    Follows pytorch-quantization calib/histogram.py _compute_amax_entropy with unsigned=False:
      * bins[0] = bins[1] (the source overwrites the zero bin, which holds exact zeros / padding);
      * nbins = 2^(bits−1) quantization bins (128 at 8 bits, 8 at 4 bits, 2 at 2 bits);
      * for i = start_bin … len(bins) (stride): P = bins[:i] with the clipped tail Σ bins[i:] added
        to its last bin; Q: the i bins merged into nbins groups by np.digitize(range(i),
        np.linspace(0, i, nbins+1)) − 1, each group's mass spread evenly over its non-empty bins,
        0 where bins[:i] is empty; KL = scipy-style entropy (inf where Q = 0 < P);
      * the LAST argmin (as the source); amax = edges[i].
    Differences: the source's _normalize_distr is a no-op (it rebinds a local) and its count check
    is omitted — scipy's entropy normalises anyway, so the divergences are the same. Where every
    divergence is inf the source's reversed argmin lands on the last candidate (i = len(bins), amax =
    absmax) silently; here the same amax is returned with all_inf = True so the caller can say so.
    Applies unchanged at 4 and 2 bits (nbins 8 and 2, cuts still from bin 128), as the source would.
    """
    bins = np.array(hist, dtype=np.float64)  # copy: the source mutates the calibrator's histogram
    n = len(bins)
    if n < 2:
        raise ValueError("entropy_amax: need at least 2 histogram bins")
    if start_bin > n:
        raise ValueError(f"entropy_amax: start_bin {start_bin} > {n} bins")
    bins[0] = bins[1]
    nbins = 1 << (bits - 1)
    tail = np.concatenate([np.cumsum(bins[::-1])[::-1], [0.0]])  # tail[i] = Σ bins[i:]
    cuts, divs = [], []
    for i in range(start_bin, n + 1, stride):
        space = np.linspace(0, i, num=nbins + 1)
        dig = np.digitize(np.arange(i), space) - 1
        dig[bins[:i] == 0] = -1
        used = dig >= 0
        mass = np.bincount(dig[used], weights=bins[:i][used], minlength=nbins)
        members = np.bincount(dig[used], minlength=nbins)
        per_bin = np.divide(mass, members, out=np.zeros(nbins), where=members > 0)
        q = np.zeros(i)
        q[used] = per_bin[dig[used]]
        p = bins[:i].copy()
        p[-1] += tail[i]
        cuts.append(i)
        divs.append(entropy(p, q))
    divs = np.array(divs)
    last_argmin = len(divs) - 1 - int(np.argmin(divs[::-1]))
    i = cuts[last_argmin]
    return float(edges[i]), i, bool(np.all(np.isinf(divs)))


# ---------------------------------------------------------------------------------------------
# SmoothQuant


def act_absmax_update(running, x):
    """Per-input-channel max |x| of a site's input x [..., K], max-accumulated into running (or None).

    Follows smoothquant/calibration.py get_act_scales (stat_tensor: view(-1, K).abs().max(dim=0)).
    """
    m = x.detach().reshape(-1, x.shape[-1]).abs().amax(dim=0).float()
    return m if running is None else torch.maximum(running, m)


def smooth_scales(act_absmax, weight, alpha):
    """Per-input-channel smoothing factors s [K] for X·Wᵀ → (X/s)·(W·s)ᵀ.

    Follows smoothquant/smooth.py smooth_ln_fcs: w_scales = max over output rows of |W| clamped at
    1e-5; s = (act_absmax^α / w_scales^(1−α)).clamp(min=1e-5), in float32. (The source takes the
    max over the q, k and v projections that share the LayerNorm; the playground's to_qkv is one
    fused [3d × d] matrix, whose row max is the same.)
    """
    w_scales = weight.detach().abs().amax(dim=0).float().clamp(min=1e-5)
    a = act_absmax.float()
    return (a.pow(alpha) / w_scales.pow(1 - alpha)).clamp(min=1e-5)


@torch.no_grad()
def fold_smoothing(ln, fc, s):
    """Fold s into the preceding LayerNorm (γ/s, β/s) and into fc's input columns (W·s), in place.

    Follows smoothquant/smooth.py smooth_ln_fcs (ln.weight.div_, ln.bias.div_, fc.weight.mul_).
    Valid only where the LayerNorm output feeds nothing but fc (to_qkv after ln1, fc1 after ln2).
    """
    ln.weight.div_(s)
    ln.bias.div_(s)
    fc.weight.mul_(s.view(1, -1))


ALPHA_GRID = [round(0.05 * k, 2) for k in range(21)]


def search_alpha(xs, weight, act_absmax, quant_a, quant_w, alphas=ALPHA_GRID):
    """α ∈ alphas minimising Σ_images ‖Q(X/s)·Q(W·s)ᵀ − X·Wᵀ‖² → (α, [mse per α]).

    The project's definition (issue 10, definition 2), not from the SmoothQuant code, which takes α
    as an argument (the paper picks it per model, 0.5 by default). xs: list of FP32 site inputs
    [T, K], one per image (the first 32 calibration images); quant_a(X/s as [1, T, K]) applies the
    plan's A scheme with dynamic ranges, quant_w(W·s) the plan's B scheme by RTN. Ties → the
    smaller α (strict < while scanning upwards). Bias cancels in the difference and is left out.
    """
    w = weight.detach().float()
    refs = [x.float() @ w.T for x in xs]
    best, best_err, errs = None, math.inf, []
    for alpha in alphas:
        s = smooth_scales(act_absmax, w, alpha)
        wq = quant_w(w * s.view(1, -1))
        err = 0.0
        for x, ref in zip(xs, refs):
            xq = quant_a((x / s).unsqueeze(0))[0]
            err += float(((xq @ wq.T - ref).double() ** 2).sum())
        errs.append(err)
        if err < best_err:
            best, best_err = alpha, err
    return best, errs


# ---------------------------------------------------------------------------------------------
# GPTQ


class HessianAccumulator:
    """H = 2/N Σ x xᵀ over N calibration rows (tokens) of a site's input, in float64.

    Follows gptq.py GPTQ.add_batch (running mean H·n/(n+m) + 2/(n+m)·x xᵀ). Differences: N counts
    token rows where the source counts sequences, and float64 instead of float32. H's scale does not
    change GPTQ's result (damping is relative to mean diag H, and the error update uses
    err/U[j,j]·U[j,:], which is invariant to scaling H), so only rounding differs.
    """

    def __init__(self, k):
        self.H = torch.zeros(k, k, dtype=torch.float64)
        self.n = 0

    def add(self, x):
        x = x.detach().reshape(-1, x.shape[-1]).double()
        m = x.shape[0]
        if m == 0:
            return
        self.H *= self.n / (self.n + m)
        self.n += m
        x = math.sqrt(2 / self.n) * x
        self.H += x.T @ x


def gptq_fasterquant(W, H, bits, symmetric, granularity, groupsize=None, actorder=False, percdamp=0.01,
                     blocksize=128):
    """GPTQ of W [rows, cols] given H [cols, cols] → dequantized weight, float32 [rows, cols].

    Follows gptq.py GPTQ.fasterquant: dead columns (diag H = 0 → H_jj = 1, W[:, j] = 0); act-order
    perm = argsort(diag H, descending); damp = percdamp·mean(diag H) on the diagonal; Hinv = upper
    Cholesky factor of (H + damp·I)⁻¹; columns in blocks of `blocksize` with the in-block error
    propagated column by column (W1[:, i:] −= err·Hinv1[i, i:]) and the lazy batch update of the
    later columns after each block (W[:, i2:] −= Err1·Hinv[i1:i2, i2:]); group parameters found at
    each group's first column from the full matrix W — which, as in the source, does not yet hold
    the in-block updates of the current block — or, with act-order, static groups (static_groups=True)
    fixed on W's original column order before the permutation; the result permuted back.
    Differences:
      * the grid is the project's (grid.scale_zero: min/max per tensor, per output row or per group,
        symmetric restricted / asymmetric widened to hold 0, round half to even) instead of GPTQ's
        Quantizer (whose symmetric grid has 2^bits levels and whose zero point is not restricted);
        at 2 bits symmetric this grid is ternary;
      * per-tensor / per-row parameters come from W before the dead columns are zeroed, as the
        source's find_params call; static groups after the zeroing, as the source;
      * float64 arithmetic (the source runs float32 on a GPU); the quantized value is s·(q−z) with
        s, z float32, as the project's fake-quant;
      * a Hessian that is not positive definite after damping raises ValueError (the source fails
        in torch.linalg.cholesky too); no retry with more damping.
    """
    if granularity not in ("tensor", "channel", "group"):
        raise ValueError(f"GPTQ: weight granularity {granularity!r}")
    if granularity == "group" and not groupsize:
        raise ValueError("GPTQ: group granularity without groupSize")
    qmin, qmax = int_range(bits, symmetric)
    W = W.detach().double().clone()
    H = H.detach().double().clone()
    rows, cols = W.shape

    def find_params(block):
        if granularity == "tensor":
            lo, hi = block.min().expand(rows), block.max().expand(rows)
        else:
            lo, hi = block.amin(dim=1), block.amax(dim=1)
        s, z = scale_zero(lo.float(), hi.float(), bits, symmetric)
        return s, z

    def quantize(w, params):
        s, z = params
        q = torch.clamp(torch.round(w / s.double()) + z.double(), qmin, qmax)
        return (s * (q.float() - z)).double()

    params = find_params(W) if granularity != "group" else None
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    static_groups = granularity == "group" and actorder
    groups = [find_params(W[:, g:g + groupsize]) for g in range(0, cols, groupsize)] if static_groups else None
    perm = None
    if actorder:
        perm = torch.argsort(torch.diag(H), descending=True)
        W = W[:, perm]
        H = H[perm][:, perm]
    damp = percdamp * torch.mean(torch.diag(H))
    idx = torch.arange(cols)
    H[idx, idx] += damp
    try:
        L = torch.linalg.cholesky(H)
        Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)
    except RuntimeError as e:
        raise ValueError(f"GPTQ: H + {percdamp}·mean(diag H)·I is not positive definite ({e})") from None
    Q = torch.zeros_like(W)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            w = W1[:, i]
            d = Hinv1[i, i]
            if granularity == "group":
                if not static_groups:
                    if (i1 + i) % groupsize == 0:
                        params = find_params(W[:, i1 + i:i1 + i + groupsize])
                else:
                    col = int(perm[i1 + i]) if actorder else i1 + i
                    params = groups[col // groupsize]
            q = quantize(w, params)
            Q1[:, i] = q
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1) @ Hinv1[i, i:].unsqueeze(0)
            Err1[:, i] = err
        Q[:, i1:i2] = Q1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    if actorder:
        Q = Q[:, torch.argsort(perm)]
    return Q.float()


# ---------------------------------------------------------------------------------------------
# LLM.int8()


def llm_int8_linear(x, w, threshold, a_bits=8, b_bits=8):
    """LLM.int8() product of one image's input x [T, K] with w [N, K] (no bias) → [T, N] float32.

    Follows Dettmers et al. 2022 §3 and bitsandbytes: input columns (feature dimensions) of x with
    any |x| > threshold are outlier dimensions, computed in float (x[:, O] · w[:, O]ᵀ, float32 here,
    fp16 in the paper); the rest by vector-wise symmetric quantization — per row of x and per output
    row of w: q = round(v·127/absmax) (int8_vectorwise_quant), the integer product accumulated
    exactly and dequantized as acc·absmax_x·absmax_w/127² (int8_mm_dequant); the two parts summed.
    Differences: outliers are decided per image (the playground runs one image per inference; the
    source decides per call, i.e. per batch); absmax of both factors is taken over the non-outlier
    columns only (the paper's decomposition; bitsandbytes quantizes the weight once over all
    columns); 127 generalises to 2^(bits−1)−1 when a plan asks for other widths; a zero row gives
    zeros (absmax 0 treated as 1).
    """
    qa = (1 << (a_bits - 1)) - 1
    qb = (1 << (b_bits - 1)) - 1
    x = x.float()
    w = w.float()
    outlier = (x.abs() > threshold).any(dim=0)
    reg = ~outlier
    y = torch.zeros(x.shape[0], w.shape[0])
    if reg.any():
        xr, wr = x[:, reg], w[:, reg]
        ax = xr.abs().amax(dim=1, keepdim=True)
        aw = wr.abs().amax(dim=1, keepdim=True)
        ax = torch.where(ax == 0, torch.ones_like(ax), ax)
        aw = torch.where(aw == 0, torch.ones_like(aw), aw)
        qx = torch.round(xr * qa / ax)
        qw = torch.round(wr * qb / aw)
        acc = (qx.double() @ qw.double().T).float()  # exact: |acc| ≤ K·127² < 2^24
        y = acc * (ax * aw.T) * (1.0 / (qa * qb))
    if outlier.any():
        y = y + x[:, outlier] @ w[:, outlier].T
    return y
