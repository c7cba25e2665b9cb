#!/usr/bin/env python3
"""Fixture for src/quant/formats.torch.test.ts: random and edge-value matrices fake-quantized by
tools/ref/formats_ref.py (written from the OCP FP8 / MX specs, NVFP4's recipe and QLoRA), so the
TypeScript codecs are checked element by element against an implementation that shares no code.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 \\
    tools/ref/make_formats_fixture.py > src/quant/fixtures/formats_torch.json
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formats_ref as fr  # noqa: E402

g = torch.Generator().manual_seed(14)
cases = []
R, C = 6, 80
# heavy-tailed data with an outlier column, values spanning many binades, exact ties and zero blocks
x = torch.randn(R, C, generator=g) * torch.exp(torch.randn(R, C, generator=g) * 1.5)
x[:, 7] *= 40
x[2, :32] = 0  # a zero block (MX) / zero run
x[3, 40:56] = torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 5.0, 6.0, 7.0, -0.25, -0.75, -1.25, -5.0, 1e-30, -1e-30])
x[4] = x[4] * 1e-6  # small magnitudes: subnormal elements after scaling
x = x.float()
for fmt in fr.FORMATS:
    op = {"format": fmt}
    y = fr.fq_format(x, op)
    cases.append({"format": fmt, "rows": R, "cols": C, "x": x.flatten().tolist(), "y": y.flatten().tolist()})
print(json.dumps({"source": "tools/ref/formats_ref.py via tools/ref/make_formats_fixture.py", "cases": cases}))
