#!/usr/bin/env python3
"""Compare per-image predictions of two result files (tools/ref/ts_preds.ts, quant_ref.py --predictions), matched by plan path."""
import json
import sys

a, b = (json.load(open(p)) for p in sys.argv[1:3])
rb = {r["plan"]: r for r in b["results"]}
for r in a["results"]:
    o = rb.get(r["plan"])
    if not o or "predictions" not in o:
        print(f"{r['plan']}: missing in {sys.argv[2]}")
        continue
    n = min(len(r["predictions"]), len(o["predictions"]))
    agree = sum(x == y for x, y in zip(r["predictions"][:n], o["predictions"][:n])) / n
    print(f"{r.get('name') or r['plan']}: {100 * r['accuracy']:.2f}% vs {100 * o['accuracy']:.2f}% "
          f"(Δ {100 * (r['accuracy'] - o['accuracy']):+.2f} pp), predictions agree on {100 * agree:.2f}% of {n}")
