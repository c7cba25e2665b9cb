"""Regenerates src/quant/fixtures/kl-entropy.json (the KL calibrator test cases).
Run: /usr/bin/python3 tools/ref/make_kl_fixture.py (numpy only)."""
# Literal transcription of pytorch-quantization's _compute_amax_entropy (calib/histogram.py) logic
import json, os
import numpy as np
from collections import Counter
def entropy(p, q):
    p = p/ p.sum(); q = q / q.sum()
    out = 0.0
    for a, b in zip(p, q):
        if a > 0:
            if b == 0: return np.inf
            out += a*np.log(a/b)
    return out
def amax_entropy(calib_hist, edges, num_bits, unsigned=False, stride=1, start_bin=128):
    bins = calib_hist[:].astype(np.float64).copy()
    bins[0] = bins[1]
    total_data = np.sum(bins)
    divergences = []; arguments = []
    nbins = 1 << (num_bits - 1 + int(unsigned))
    starting = start_bin; stop = len(bins)
    new_density_counts = np.zeros(nbins, dtype=np.float64)
    for i in range(starting, stop + 1, stride):
        new_density_counts.fill(0)
        space = np.linspace(0, i, num=nbins + 1)
        digitized_space = np.digitize(range(i), space) - 1
        digitized_space[bins[:i] == 0] = -1
        for idx, d in enumerate(digitized_space):
            if d != -1: new_density_counts[d] += bins[idx]
        counter = Counter(digitized_space)
        for key, val in counter.items():
            if key != -1: new_density_counts[key] = new_density_counts[key] / val
        new_density = np.zeros(i, dtype=np.float64)
        for idx, d in enumerate(digitized_space):
            if d != -1: new_density[idx] = new_density_counts[d]
        reference_density = np.array(bins[:len(digitized_space)])
        reference_density[-1] += np.sum(bins[i:])
        ent = entropy(reference_density, new_density) if new_density.sum() > 0 else np.inf
        divergences.append(ent); arguments.append(i)
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return edges[last_argmin * stride + starting], int(last_argmin*stride+starting)
cases = []
# 1. tiny hand case: 8 bins over [0, 8], 2 quantization bins (2 bits), cuts from 2
h = np.array([4, 4, 2, 2, 0, 1, 0, 1.0]); e = np.linspace(0, 8, 9)
a, i = amax_entropy(h, e, 2, start_bin=2); cases.append(dict(name='tiny', counts=h.tolist(), absmax=8, bits=2, start=2, amax=float(a), bin=i))
# 2. half-normal-ish 2048-bin histogram with sparse tail, 8/4/2 bits
rng = np.random.default_rng(7)
x = np.abs(np.concatenate([rng.standard_normal(200000), rng.standard_normal(30)*12]))
amax = x.max(); hh, ee = np.histogram(x, bins=2048, range=(0, amax))
for b in (8, 4, 2):
    a, i = amax_entropy(hh, ee, b); cases.append(dict(name=f'normal{b}', counts=hh.tolist(), absmax=float(amax), bits=b, start=128, amax=float(a), bin=i))
out = {'source': 'tools/ref/make_kl_fixture.py: a literal transcription of NVIDIA pytorch-quantization calib/histogram.py _compute_amax_entropy (np.digitize over linspace, Counter, scipy-style entropy)', 'cases': [{k: ([int(v) for v in x[k]] if k == 'counts' else x[k]) for k in x} for x in cases]}
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'quant', 'fixtures', 'kl-entropy.json'), 'w'), separators=(',', ':'))
for c in cases: print(c['name'], c['bits'], c['bin'], c['amax'], c['absmax'])
