#!/usr/bin/env python3
"""Hand-checkable self checks of tools/ref/published.py (not part of npm test; no pytest needed).

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 tools/ref/test_published.py

Each check prints what it expects and what it got; the script exits 1 if any fails.
"""
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "train"))

import published as pub  # noqa: E402
from grid import fq_matrix  # noqa: E402

failures = []


def check(name, ok, detail):
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    if not ok:
        failures.append(name)


# ---------------------------------------------------------------------------------------------
# entropy (scipy.stats.entropy semantics)

check("entropy([1,0] ‖ [.5,.5]) = log 2", abs(pub.entropy([1, 0], [0.5, 0.5]) - math.log(2)) < 1e-15,
      f"{pub.entropy([1, 0], [0.5, 0.5])!r}")
check("entropy: P > 0 = Q is inf", pub.entropy([1, 1], [1, 0]) == math.inf, f"{pub.entropy([1, 1], [1, 0])!r}")
check("entropy normalises both sides", abs(pub.entropy([2, 6], [1, 1]) - pub.entropy([.25, .75], [.5, .5])) < 1e-15, "")

# ---------------------------------------------------------------------------------------------
# KL threshold worked by hand.
# 2048 bins over [0, 2048] (bin width 1): 100 counts in each of bins 0..199, nothing in 200..2046
# except 1 count in bin 2040 and 3 in bin 2047 (total 20004). Candidate cuts i = 128..2048:
#   * 200 < i ≤ 2040 and 2041 < i < 2048: P's last bin holds clipped mass but bins[i−1] = 0, so Q = 0
#     there → KL = inf;
#   * i < 200: the clipped tail (≥ 100 + 4 counts) piles onto P's last bin → KL ≥ 0.007;
#   * i = 200: Q is uniform 100 on every bulk bin (each group's mass spread evenly over its
#     non-empty bins), P = Q except P[199] = 104:
#     KL = (19900/20004)·ln(20000/20004) + (104/20004)·ln(104·20000/(100·20004)) ≈ 3.93e−6;
#   * i = 2041: P[2040] = 4 vs Q[2040] = 1 → KL ≈ 1.27e−4; i = 2048: the last group holds bins 2040
#     and 2047, Q = 2, 2 vs P = 1, 3 → KL = (ln(1/2) + 3 ln(3/2))/20004 ≈ 2.62e−5.
# So the cut is i = 200 and amax = edge 200 = 200.0, the same at 8, 4 and 2 bits (the bulk groups are
# uniform at nbins 128, 8 and 2 alike).
hist = np.zeros(2048)
hist[:200] = 100
hist[2040] = 1
hist[2047] = 3
edges = np.linspace(0, 2048.0, 2049)
kl200 = (19900 / 20004) * math.log(20000 / 20004) + (104 / 20004) * math.log(104 * 20000 / (100 * 20004))
for bits in (8, 4, 2):
    amax, cut, all_inf = pub.entropy_amax(hist, edges, bits)
    check(f"KL hand histogram, {bits} bits: amax = 200.0 (cut 200)", amax == 200.0 and cut == 200 and not all_inf,
          f"amax {amax}, cut {cut}, all_inf {all_inf}; KL(200) by hand {kl200:.4g}")
# the source overwrites bins[0] with bins[1]: the caller's histogram must not change
check("entropy_amax leaves the histogram unchanged", hist[0] == 100 and hist.sum() == 20004, "")

# Discrete data (every 16th bin, like image pixels): the cut at i = 2048 always has P = bins and Q = 0
# only where P = 0, so its KL is finite — the published method never needs a fallback.
disc = np.zeros(2048)
disc[::16] = 50
disc[2047] = 50
amax, cut, all_inf = pub.entropy_amax(disc, np.linspace(0, 1.0, 2049), 8)
check("KL on discrete data: finite divergence exists (no fallback)", not all_inf, f"amax {amax:.4f}, cut {cut}")

# Cases from the lead's literal transcription of _compute_amax_entropy (src/quant/fixtures/kl-entropy.json,
# made by running the source's own loop): the same cut must come out here.
fx = os.path.join(REPO, "src", "quant", "fixtures", "kl-entropy.json")
if os.path.exists(fx):
    for case in json.load(open(fx))["cases"]:
        n = len(case["counts"])
        e = np.linspace(0, case["absmax"], n + 1)
        amax, cut, _ = pub.entropy_amax(np.array(case["counts"], dtype=float), e, case["bits"], start_bin=case["start"])
        check(f"KL fixture {case['name']} ({case['bits']} bits)", cut == case["bin"] and abs(amax - case["amax"]) < 1e-9,
              f"cut {cut} (fixture {case['bin']}), amax {amax:.6g} (fixture {case['amax']:.6g})")
else:
    print(f"SKIP  KL fixture cases: {fx} not present")

# abs_histogram = torch.histc over [0, absmax]: a value equal to absmax lands in the last bin
c, e = pub.abs_histogram([torch.tensor([0.0, -0.5, 1.0, -1.0])], 1.0, 4)
check("abs_histogram bins |x| over [0, absmax]", c.tolist() == [1, 0, 1, 2] and e.tolist() == [0, .25, .5, .75, 1.0],
      f"counts {c.tolist()}, edges {e.tolist()}")

# ---------------------------------------------------------------------------------------------
# GPTQ

torch.manual_seed(0)
W = torch.randn(4, 4)
for gran, gs in (("tensor", None), ("channel", None), ("group", 2)):
    op = {"bits": 4, "symmetric": True, "granularity": gran, "groupSize": gs}
    rtn = fq_matrix(W, op)
    g = pub.gptq_fasterquant(W, torch.eye(4), 4, True, gran, gs)
    check(f"GPTQ with H = I equals RTN ({gran})", torch.equal(g, rtn), f"max |GPTQ − RTN| = {float((g - rtn).abs().max()):.3g}")
# act-order with a diagonal H: still no coupling → RTN
g = pub.gptq_fasterquant(W, torch.diag(torch.tensor([1.0, 4.0, 2.0, 3.0])), 4, True, "group", 2, actorder=True)
check("GPTQ act-order, diagonal H, static groups = RTN", torch.equal(g, fq_matrix(W, {"bits": 4, "symmetric": True,
      "granularity": "group", "groupSize": 2})), "")

# Two columns worked by hand. Per-tensor symmetric 4 bits; row 1 = [7, −7] fixes s = 7/7 = 1.
# H = [[1, ρ], [ρ, 1]], ρ = 0.5, no damping. H⁻¹ = [[1, −ρ], [−ρ, 1]]/(1−ρ²); its upper Cholesky factor
# U has U00 = 1/√(1−ρ²), U01 = −ρ/√(1−ρ²). Row 0 = [0.4, 2.4]: q0 = round(0.4) = 0, err = 0.4/U00, and
# w1 ← w1 − err·U01 = 2.4 + ρ·0.4 = 2.6 → q1 = 3 (RTN would give 2). Loss (q−w) H (q−w)ᵀ:
# RTN d = [−0.4, −0.4] → 0.16 + 0.16 + 2·0.5·0.16 = 0.48; GPTQ d = [−0.4, 0.6] → 0.16 + 0.36 − 0.24 = 0.28.
W2 = torch.tensor([[0.4, 2.4], [7.0, -7.0]])
H2 = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
g2 = pub.gptq_fasterquant(W2, H2, 4, True, "tensor", percdamp=0.0)
check("GPTQ 2-column hand case: [[0, 3], [7, −7]]", g2.tolist() == [[0.0, 3.0], [7.0, -7.0]], f"{g2.tolist()}")
d_rtn = torch.tensor([-0.4, -0.4], dtype=torch.float64)
d_gptq = (g2[0] - W2[0]).double()
loss = lambda d: float(d @ H2.double() @ d)  # noqa: E731
check("GPTQ lowers the proxy loss 0.48 → 0.28", abs(loss(d_rtn) - 0.48) < 1e-9 and abs(loss(d_gptq) - 0.28) < 1e-6,
      f"RTN {loss(d_rtn):.4f}, GPTQ {loss(d_gptq):.4f}")
# act-order: H = [[1, ρ], [ρ, 2]] puts column 1 first (diag 2 > 1). Permuted H = [[2, ρ], [ρ, 1]]; the OBS
# update of the other column is −err_q·H⁻¹[q, b]/H⁻¹[q, q] = +ρ·(w−q): row 0 = [2.4, 0.4] → column 1:
# q = 0, err 0.4 → column 0: 2.4 + 0.5·0.4 = 2.6 → 3.
W3 = torch.tensor([[2.4, 0.4], [7.0, -7.0]])
g3 = pub.gptq_fasterquant(W3, torch.tensor([[1.0, 0.5], [0.5, 2.0]]), 4, True, "tensor", actorder=True, percdamp=0.0)
check("GPTQ act-order hand case: [[3, 0], [7, −7]]", g3.tolist() == [[3.0, 0.0], [7.0, -7.0]], f"{g3.tolist()}")
# dead column: diag H = 0 → that weight column is zeroed and quantizes to 0
g4 = pub.gptq_fasterquant(W2, torch.tensor([[1.0, 0.0], [0.0, 0.0]]), 4, True, "channel")
check("GPTQ dead column → 0", g4[:, 1].abs().max() == 0, f"{g4.tolist()}")
# Hessian accumulator: 2/N Σ x xᵀ
acc = pub.HessianAccumulator(2)
acc.add(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
acc.add(torch.tensor([[1.0, 1.0]]))
expect = 2 / 3 * torch.tensor([[2.0, 1.0], [1.0, 5.0]], dtype=torch.float64)
check("HessianAccumulator = 2/N Σ x xᵀ", torch.allclose(acc.H, expect, atol=1e-12), f"{acc.H.tolist()}")

# ---------------------------------------------------------------------------------------------
# SmoothQuant: folding into the LayerNorm leaves the FP32 output unchanged

from vit import ViT  # noqa: E402

torch.manual_seed(1)
model = ViT(dim=32, depth=2, heads=2, mlp=64, patch=4).eval()
with torch.no_grad():  # give the LayerNorms non-trivial γ, β
    for blk in model.blocks:
        for ln in (blk.ln1, blk.ln2):
            ln.weight.uniform_(0.5, 2.0)
            ln.bias.uniform_(-0.5, 0.5)
x = torch.rand(8, 3, 32, 32)
with torch.no_grad():
    before = model(x)
    for blk in model.blocks:
        for ln, fc in ((blk.ln1, blk.to_qkv), (blk.ln2, blk.fc1)):
            act = torch.rand(fc.in_features) * 10 + 0.1
            pub.fold_smoothing(ln, fc, pub.smooth_scales(act, fc.weight, 0.5))
    after = model(x)
diff = float((after - before).abs().max())
check("SmoothQuant fold: FP32 logits unchanged", diff < 1e-4 * float(before.abs().max()),
      f"max |Δlogit| = {diff:.3g} (logits up to {float(before.abs().max()):.3g})")
s = pub.smooth_scales(torch.tensor([4.0, 0.0, 1.0]), torch.tensor([[1.0, 2.0, 0.0]]), 0.5)
check("smooth_scales: √(a/w), w clamped at 1e-5, s clamped at 1e-5",
      torch.allclose(s, torch.tensor([2.0, 1e-5, math.sqrt(1 / 1e-5)])), f"{s.tolist()}")
# α search: when Q(X/s) is all zeros every α has the same error → the tie goes to the smallest α
xs = [torch.randn(5, 3) for _ in range(2)]
alpha, errs = pub.search_alpha(xs, torch.randn(4, 3), torch.ones(3), lambda v: torch.zeros_like(v), lambda m: m)
check("α search: ties → smallest α", alpha == 0.0 and len(set(errs)) == 1, f"α {alpha}, {len(errs)} candidates")
# with INT4 A per tensor and one input channel 100× larger than the others, smoothing (α > 0) must beat α = 0
X = torch.randn(64, 8)
X[:, 3] *= 100
Wt = torch.randn(16, 8)
op_a = {"bits": 4, "symmetric": False, "granularity": "tensor"}
op_w = {"bits": 8, "symmetric": True, "granularity": "channel"}
alpha, errs = pub.search_alpha([X], Wt, X.abs().amax(0), lambda v: fq_matrix(v, op_a), lambda m: fq_matrix(m, op_w))
check("α search: an outlier channel makes α > 0 win", alpha > 0 and min(errs) < errs[0],
      f"α {alpha}, error {min(errs):.4g} vs {errs[0]:.4g} at α = 0")

# ---------------------------------------------------------------------------------------------
# LLM.int8()

x = torch.randn(6, 10)
w = torch.randn(5, 10)
y = pub.llm_int8_linear(x, w, threshold=1e9)
xq = fq_matrix(x.unsqueeze(0), {"bits": 8, "symmetric": True, "granularity": "token"})[0]
wq = fq_matrix(w, {"bits": 8, "symmetric": True, "granularity": "channel"})
ref = xq @ wq.T
check("LLM.int8 with threshold above every |x| = plain vector-wise INT8", torch.allclose(y, ref, rtol=1e-5, atol=1e-5),
      f"max diff {float((y - ref).abs().max()):.3g}")
# hand case: column 1 holds 10 > 6 → float; column 0 quantizes exactly (each row's absmax is its value)
y = pub.llm_int8_linear(torch.tensor([[1.0, 10.0], [2.0, -0.5]]), torch.tensor([[1.0, 1.0]]), threshold=6.0)
check("LLM.int8 hand case: [[11], [1.5]]", torch.allclose(y, torch.tensor([[11.0], [1.5]])), f"{y.tolist()}")
# outlier column is exact even when the rest is coarse
x = torch.tensor([[0.3, 7.25, 0.1]])
w = torch.tensor([[0.2, 0.5, 0.7]])
y = pub.llm_int8_linear(x, w, threshold=6.0)
xr = torch.round(torch.tensor([0.3, 0.1]) * 127 / 0.3)
wr = torch.round(torch.tensor([0.2, 0.7]) * 127 / 0.7)
hand = float((xr * wr).sum()) * 0.3 * 0.7 / 127 ** 2 + 7.25 * 0.5
check("LLM.int8: int8 part + float outlier part", abs(float(y) - hand) < 1e-5, f"{float(y):.6f} vs hand {hand:.6f}")

print(f"\n{len(failures)} failed" if failures else "\nall checks passed")
sys.exit(1 if failures else 0)
