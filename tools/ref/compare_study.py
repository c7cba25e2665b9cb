#!/usr/bin/env python3
"""TS study vs the independent PyTorch reference, row by row and cell by cell.

Reads results/study.json (version 2, /work/notes/study-format.md: every row carries its `plan`, every
cell its `predictions` as one digit per image), runs tools/ref/quant_ref.py's reference on each row's
plan for the val-report and test cells (val-sel is skipped: nothing is reported on it), and writes
results/torch_reference.{json,md}: per row and cell the TS accuracy and the PyTorch accuracy, each
with its 95% Wilson interval, the per-image agreement, and for rows marked "chaotic" the PyTorch
jitter band (unjittered run + 3 seeds of relative jitter 1e-6 on every site's output, science.md §7)
with the TS accuracy inside or outside it.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 \\
    tools/ref/compare_study.py [--study results/study.json] [--rows key1,key2] [--cells val-report,test]
    [--limit N] [--out results/torch_reference]

--limit N scores only the first N images of each cell (smoke runs); the TS side is cut to the same
images. The JSON is rewritten after every row, so an interrupted run keeps what it finished.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import quant_ref as qr  # noqa: E402

DEFAULT_SPLIT = {"val-sel": {"set": "val", "offset": 0, "limit": 2500},
                 "val-report": {"set": "val", "offset": 2500, "limit": 2500},
                 "test": {"set": "test", "offset": 0, "limit": 1000}}
Z95 = 1.959963984540054


def wilson(k, n, z=Z95):
    """95% Wilson score interval of k successes in n (science.md §8) → (lo, hi) as fractions."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def acc_entry(correct, n):
    lo, hi = wilson(correct, n)
    return {"correct": int(correct), "n": int(n), "accuracy_pct": round(100 * correct / n, 2) if n else None,
            "lo_pct": round(100 * lo, 2), "hi_pct": round(100 * hi, 2)}


def fmt_acc(e):
    return f"{e['accuracy_pct']:.2f}% [{e['lo_pct']:.1f}, {e['hi_pct']:.1f}]"


def parse_predictions(s, where):
    if not isinstance(s, str) or not s.isdigit():
        raise ValueError(f"{where}: predictions must be a string of digits (one class per image)")
    return np.frombuffer(s.encode(), dtype=np.uint8).astype(np.int64) - ord("0")


def compare_cell(prep, plan, ts_cell, x, y, args, chaotic, where):
    ts = parse_predictions(ts_cell.get("predictions"), where)
    n = len(y)
    if len(ts) < n:
        raise ValueError(f"{where}: {len(ts)} TS predictions for {n} images")
    ts = ts[:n]
    acc, py = qr.evaluate(prep, plan, x, y, args.batch, args.scope)
    out = {"n": n, "ts": acc_entry(int((ts == y).sum()), n), "torch": acc_entry(int((py == y).sum()), n),
           "agree_pct": round(100 * float((ts == py).mean()), 2)}
    if n == int(ts_cell.get("n", -1)) and "correct" in ts_cell and int(ts_cell["correct"]) != out["ts"]["correct"]:
        out["warning"] = (f"study.json says {ts_cell['correct']} correct, its predictions give "
                          f"{out['ts']['correct']}")
    if chaotic:
        accs = [acc]
        for seed in range(args.seeds):
            a_j, _ = qr.evaluate(prep, plan, x, y, args.batch, args.scope, args.jitter, seed + 1)
            accs.append(a_j)
        band = {"min_pct": round(100 * min(accs), 2), "max_pct": round(100 * max(accs), 2), "seeds": args.seeds,
                "jitter": args.jitter, "accuracies_pct": [round(100 * a, 2) for a in accs],
                "runs": "unjittered + seeds 1..N"}
        out["torch_band"] = band
        t = out["ts"]["accuracy_pct"]
        out["ts_inside_torch_band"] = band["min_pct"] <= t <= band["max_pct"]
        if isinstance(ts_cell.get("band"), dict) and "min_pct" in ts_cell["band"]:
            tb = ts_cell["band"]
            out["ts_band"] = tb
            out["bands_overlap"] = not (tb["max_pct"] < band["min_pct"] or band["max_pct"] < tb["min_pct"])
    return out


def write_md(path, report):
    lines = [f"# TS study vs the independent PyTorch reference ({report['study']})", "",
             f"Model sha256/16 `{report['model_sha256_16']}`; study date {report.get('study_date')}; "
             f"calibration on the first {report['calib_images']} training images; dynamic ranges per "
             f"{report['scope']}. Accuracies with 95% Wilson intervals; agreement = share of images with the "
             f"same predicted class. Chaotic rows: PyTorch band = min–max over the unjittered run and "
             f"{report['seeds']} seeds of relative jitter {report['jitter']:g} on every site's output (science.md §7).",
             "", f"Command: `{report['command']}` ({report['wall_s']:.0f} s)", "",
             "| row | cell | n | TS | PyTorch | agree | PyTorch band | TS in band |",
             "|---|---|---:|---|---|---:|---|---|"]
    for r in report["rows"]:
        if "error" in r:
            lines.append(f"| {r['key']} | — | — | — | error: {r['error']} | — | — | — |")
            continue
        for cell, c in r["cells"].items():
            band = c.get("torch_band")
            bs = f"{band['min_pct']:.2f}–{band['max_pct']:.2f}%" if band else ""
            inside = ("yes" if c["ts_inside_torch_band"] else "**no**") if band else ""
            lines.append(f"| {r['key']} | {cell} | {c['n']} | {fmt_acc(c['ts'])} | {fmt_acc(c['torch'])} | "
                         f"{c['agree_pct']:.1f}% | {bs} | {inside} |")
    notes = [(r["key"], r) for r in report["rows"] if r.get("notes") or r.get("smoothquant_alpha")
             or any("warning" in c for c in r.get("cells", {}).values())]
    if notes:
        lines += ["", "## Reference notes", ""]
        for key, r in notes:
            for cell, c in r.get("cells", {}).items():
                if "warning" in c:
                    lines.append(f"- {key} {cell}: {c['warning']}")
            if r.get("smoothquant_alpha"):
                lines.append(f"- {key}: SmoothQuant α per site {r['smoothquant_alpha']}")
            for n_ in r.get("notes", []):
                lines.append(f"- {key}: {n_}")
    lines += ["", "Algorithms in the reference follow their published sources (tools/ref/published.py); "
              "self checks: `tools/ref/test_published.py`."]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", default=os.path.join(qr.REPO, "results", "study.json"))
    ap.add_argument("--rows", default=None, help="comma-separated row keys (default: every row)")
    ap.add_argument("--cells", default="val-report,test")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each cell (smoke runs)")
    ap.add_argument("--out", default=os.path.join(qr.REPO, "results", "torch_reference"),
                    help="output prefix: writes PREFIX.json and PREFIX.md")
    ap.add_argument("--jitter", type=float, default=1e-6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--scope", choices=["image", "batch"], default="image")
    ap.add_argument("--model", default=os.path.join(qr.REPO, "public", "models", "vit-cifar10"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calib-images", type=int, default=qr.CALIB_IMAGES)
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of an existing <out>.json that this run does not recompute (runs in parts)")
    ap.add_argument("--skip-done", action="store_true", help="with --merge: skip rows <out>.json already holds")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()

    with open(args.study) as f:
        study = json.load(f)
    if study.get("version") != 2 or not isinstance(study.get("rows"), list):
        raise SystemExit(f"{args.study}: expected a version-2 study with a list of rows (/work/notes/study-format.md)")
    cells = [c for c in args.cells.split(",") if c]
    split = dict(DEFAULT_SPLIT, **(study.get("split") or {}))
    for c in cells:
        if c not in split:
            raise SystemExit(f"--cells: unknown cell {c!r} (known: {', '.join(split)})")
    if "val-sel" in cells:
        print("note: val-sel is the selection half; it is compared because --cells asked for it", flush=True)
    rows = study["rows"]
    if args.rows:
        want = [k for k in args.rows.split(",") if k]
        known = {r.get("key") for r in rows}
        missing = [k for k in want if k not in known]
        if missing:
            raise SystemExit(f"--rows: not in {args.study}: {', '.join(missing)}")
        rows = [r for r in rows if r.get("key") in want]

    model, _cfg, digest = qr.load_model(args.model)
    d = qr.data_dir(args.data)
    calib_x = qr.load_calib(d, args.calib_images)
    images = {}
    for c in cells:
        sp = split[c]
        lim = sp["limit"] if args.limit is None else min(sp["limit"], args.limit)
        images[c] = qr.load_images(d, sp["set"], sp["offset"], lim)

    report = {"study": os.path.relpath(args.study, qr.REPO) if args.study.startswith(qr.REPO) else args.study,
              "study_date": study.get("date"), "model_sha256_16": digest, "calib_images": len(calib_x),
              "scope": "image" if args.scope == "image" else "batch", "jitter": args.jitter, "seeds": args.seeds,
              "limit": args.limit, "cells": {c: dict(split[c], images=len(images[c][1])) for c in cells},
              "command": "tools/ref/compare_study.py " + " ".join(sys.argv[1:]), "rows": [], "wall_s": 0.0}

    if args.merge and os.path.exists(args.out + ".json"):
        with open(args.out + ".json") as f:
            old = json.load(f)
        done = {r["key"] for r in old.get("rows", []) if "error" not in r}
        if args.skip_done:
            rows = [r for r in rows if r.get("key") not in done]
        redo = {r.get("key") for r in rows}
        report["rows"] = [r for r in old.get("rows", []) if r["key"] not in redo]
        report["command"] += " (merged with an earlier part)"

    def flush():
        report["wall_s"] = round(time.time() - t_start, 1)
        with open(args.out + ".json", "w") as f:
            json.dump(report, f, indent=1)
        write_md(args.out + ".md", report)

    for row in rows:
        key = row.get("key")
        t0 = time.time()
        entry = {"key": key, "label": row.get("label"), "group": row.get("group"), "chaotic": bool(row.get("chaotic"))}
        try:
            plan = row.get("plan")
            if not isinstance(plan, dict):
                raise ValueError("row has no plan")
            qr.validate_plan(plan, f"row {key}")
            prep = qr.prepare_plan(model, plan, calib_x, args.batch, args.scope)
            entry["cells"] = {}
            for c in cells:
                ts_cell = (row.get("cells") or {}).get(c)
                if ts_cell is None:
                    entry.setdefault("notes", []).append(f"no {c} cell in the study")
                    continue
                x, y = images[c]
                entry["cells"][c] = compare_cell(prep, plan, ts_cell, x, y, args, entry["chaotic"], f"row {key} {c}")
            if prep.alpha:
                entry["smoothquant_alpha"] = {str(k): v for k, v in prep.alpha.items()}
            if prep.kl_ratio:
                entry["kl_amax_over_absmax"] = prep.kl_ratio
            if prep.notes:
                entry.setdefault("notes", []).extend(prep.notes)
        except (ValueError, SystemExit, KeyError, RuntimeError) as e:
            entry["error"] = str(e)
        entry["wall_s"] = round(time.time() - t0, 1)
        report["rows"].append(entry)
        flush()
        if "error" in entry:
            print(f"{key}: ERROR {entry['error']}", flush=True)
        else:
            parts = []
            for c, r in entry["cells"].items():
                band = r.get("torch_band")
                bs = (f", band {band['min_pct']:.2f}–{band['max_pct']:.2f}% TS {'inside' if r['ts_inside_torch_band'] else 'OUTSIDE'}"
                      if band else "")
                parts.append(f"{c} n={r['n']}: TS {fmt_acc(r['ts'])} vs PyTorch {fmt_acc(r['torch'])}, "
                             f"agree {r['agree_pct']:.1f}%{bs}")
            print(f"{key} [{entry['wall_s']}s]: " + "; ".join(parts), flush=True)
    flush()
    print(f"wrote {args.out}.json and {args.out}.md ({report['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
