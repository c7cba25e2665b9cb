#!/usr/bin/env python3
"""PyTorch reference for `npm run qat`: the same recipe, in PyTorch autograd, with the LSQ quantizer of
tools/ref/lsq.py (written from Esser et al. 2020 and LSQ+; not a port of src/train/).

Recipe (issue 13): the committed model (public/models/vit-cifar10); learnable (s, z) at every quantized
operand (per-tensor for activations, the plan's granularity for weights), initialised from min/max
of the 256 calibration images (first 256 records of data_batch_1) on the FP32 model; straight-through
rounding; LSQ gradient scale 1/sqrt(n·qmax); AdamW lr 1e-4 (weights, weight decay 0.01) and 1e-3
(s, z, no decay); batch 128 drawn uniformly with replacement from the 45,000 training images; random
crop (pad 4) + horizontal flip (tools/train/train.py's augment); label smoothing 0.1. Progressive
(--progressive 4,2 --switch k): operands at 2 bits start at 4 and switch at step k, each (s, z)
re-derived from the real range it covered; with --per-site e, note 004's schedule (4 bits degraded to
2 "site by site", 逐环节): one site switches at k, the next e steps later, least sensitive first
(KL divergence of the outputs on 128 calibration images with that site alone at 2 bits, measured at
k; --order index: site order), and a switched operand's range is the carried one shrunk by the factor
in {0.05, ..., 1} with the least quantization MSE on its values for 64 calibration images
(--switch-init mse, the default with --per-site; carry: unshrunk). Adam keeps per-parameter moments
(and step counts) across switches; a re-created quantizer starts afresh. A non-finite loss or parameter stops the run and keeps
the last good state (reported as diverged). Evaluated with the learned ranges on val5000 / test1000.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 /usr/bin/python3 \\
    tools/ref/qat_ref.py --plan all-int4 --steps 100 --row "all-int4" [--progressive 4,2 --switch 50]
Writes the row into results/qat_torch.json; checkpoints in checkpoints/qat/torch-<row>.pt (--resume).
"""
import argparse
import copy
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "train"))
sys.path.insert(0, HERE)
from cifar import data_dir, load_test, load_train, load_val, read_records  # noqa: E402
from lsq import LsqQuantizer, QatHook, build_quantizers, calibrate  # noqa: E402
from quant_ref import load_model  # noqa: E402
from train import augment  # noqa: E402


def builtin_plan(name):
    if name in ("all-int4", "all-int2"):
        bits = 4 if name == "all-int4" else 2
        o = dict(bits=bits, granularity="tensor", symmetric=False, range="static")
        return dict(version=1, name=name, sites=[dict(a=dict(o), b=dict(o)) for _ in range(38)])
    with open(name) as f:
        return json.load(f)


@torch.no_grad()
def predict(model, hook, x, batch=500):
    out = []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch]).float().div_(255.0)
        out.append(model(xb, hook).argmax(-1))
    return torch.cat(out).numpy()


def count(pred, y):
    return dict(correct=int((pred == y).sum()), n=int(len(y)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--progressive", default=None)
    ap.add_argument("--switch", type=int, default=None)
    ap.add_argument("--per-site", type=int, default=None)
    ap.add_argument("--lr-weights", type=float, default=1e-4)
    ap.add_argument("--lr-quant", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    ap.add_argument("--order", choices=["sensitivity", "index"], default="sensitivity")
    ap.add_argument("--switch-init", choices=["mse", "carry"], default=None)
    ap.add_argument("--row", default=None)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--eval-limit", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--distill", action="store_true",
                    help="knowledge distillation from the FP32 model as LSQ trained (Esser et al. 2020, §3: temperature 1, "
                         "equal weight to the standard loss and the distillation loss): L = ½·CE_smoothed(y) + ½·CE(softmax(teacher))")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--skip-test", action="store_true")
    ap.add_argument("--bench", action="store_true",
                    help="time the steps only (no evaluation, checkpoint or results file); prints one JSON line")
    args = ap.parse_args()
    prog = None
    if args.progressive:
        m = re.fullmatch(r"(8|4|3|2),(8|4|3|2)", args.progressive)
        if not m or int(m.group(1)) <= int(m.group(2)) or args.switch is None:
            raise SystemExit("--progressive from,to (from > to) needs --switch k")
        prog = (int(m.group(1)), int(m.group(2)), args.switch)
    per_site = args.per_site
    init_kind = args.switch_init or ("mse" if per_site else "carry")
    plan = builtin_plan(args.plan)
    row_name = args.row or args.plan
    slug = re.sub(r"[^A-Za-z0-9]+", "-", row_name)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    d = data_dir()
    model, cfg, _ = load_model(os.path.join(REPO, "public", "models", "vit-cifar10"))
    xtr, ytr = load_train(d)
    xv, yv = load_val(d)
    xt, yt = load_test(d)
    xt, yt = xt[:1000], yt[:1000]
    calib_x, _ = read_records(os.path.join(d, "data_batch_1.bin"))
    calib = torch.from_numpy(calib_x[:256]).float().div_(255.0)
    t = (cfg["image"] // cfg["patch"]) ** 2 + 1
    hd = cfg["dim"] // cfg["heads"]

    switched = set()
    order = None

    def plan_bits(extra=()):
        """the plan with the progressive operands of sites not (yet) switched at the starting bits"""
        p = copy.deepcopy(plan)
        if prog:
            for i, site in enumerate(p["sites"]):
                for op in ("a", "b"):
                    if site[op]["bits"] == prog[1] and i not in switched and i not in extra:
                        site[op]["bits"] = prog[0]
        return p

    prog_sites = sorted(i for i, site in enumerate(plan["sites"]) if prog and prog[1] in (site["a"]["bits"], site["b"]["bits"]))

    def prog_keys(site):
        return [(site, op) for op in ("a", "b") if plan["sites"][site][op]["bits"] == prog[1]]

    def carried(o):
        zr = torch.round(o.z)
        return o.s * (o.qmin - zr), o.s * (o.qmax - zr)

    qs = build_quantizers(model, plan_bits(), t, cfg["heads"], hd)
    hook = QatHook(qs, cfg["depth"])
    calibrate(model, hook, qs, calib)

    @torch.no_grad()
    def capture(keys, x):
        """the inputs of the quantizers `keys` on images x (eval forward with the current quantizers)"""
        cap = {}

        class Cap(torch.nn.Module):
            def __init__(self, key, inner):
                super().__init__()
                self.key, self.inner = key, inner

            def forward(self, v):
                cap[self.key] = v.detach().clone()
                return self.inner(v)

        saved = {k: qs[k] for k in keys}
        for k in keys:
            qs[k] = Cap(k, saved[k])
        model.eval()
        model(x, hook)
        qs.update(saved)
        return cap

    @torch.no_grad()
    def sensitivity_order():
        model.eval()
        x = calib[:128]
        base = model(x, hook).log_softmax(-1)
        scores = []
        for site in prog_sites:
            if site in switched:
                continue
            keys = prog_keys(site)
            saved = {k: qs[k] for k in keys}
            new = build_quantizers(model, plan_bits(extra=(site,)), t, cfg["heads"], hd)
            for k in keys:
                new[k].init_minmax(*carried(saved[k]))
                qs[k] = new[k]
            out = model(x, hook).log_softmax(-1)
            qs.update(saved)
            scores.append((float((base.exp() * (base - out)).sum(-1).mean()), site))
        return [site for _, site in sorted(scores)]

    @torch.no_grad()
    def switch(sites):
        for site in sites:
            keys = prog_keys(site)
            xs = capture(keys, calib[:64]) if init_kind == "mse" else None
            switched.add(site)
            new = build_quantizers(model, plan_bits(), t, cfg["heads"], hd)
            for k in keys:
                q = new[k]
                lo, hi = carried(qs[k])
                f = 1.0
                if xs is not None:
                    best = None
                    for i in range(1, 21):
                        q.init_minmax(lo * (i / 20), hi * (i / 20))
                        e = float(((q(xs[k]) - xs[k]) ** 2).mean())
                        if best is None or e < best[0]:
                            best = (e, i / 20)
                    f = best[1]
                q.init_minmax(lo * f, hi * f)
                qs[k] = q

    def optimizer():
        qparams = [p for q in qs.values() for p in (q.s, q.z) if p.requires_grad]
        return torch.optim.AdamW([dict(params=list(model.parameters()), lr=args.lr_weights, weight_decay=0.01),
                                  dict(params=qparams, lr=args.lr_quant, weight_decay=0.0)])

    opt = optimizer()
    # the teacher: the committed FP32 model, frozen (a copy taken before any step changes the student)
    teacher = copy.deepcopy(model).eval() if args.distill else None
    if teacher is not None:
        for p in teacher.parameters():
            p.requires_grad_(False)
    row = dict(steps=args.steps, batch=args.batch, distill=bool(args.distill), evals=[], curve=[], step_seconds=[], lr=dict(weights=args.lr_weights, quant=args.lr_quant, schedule=args.schedule),
               progressive=prog and dict(from_bits=prog[0], to_bits=prog[1], at=prog[2], per_site=per_site,
                                         order=args.order if per_site else None, init=init_kind))
    step = 0
    ck = os.path.join(REPO, "checkpoints", "qat", f"torch-{slug}.pt")
    os.makedirs(os.path.dirname(ck), exist_ok=True)
    if args.resume and os.path.exists(ck):
        st = torch.load(ck)
        step, row = st["step"], st["row"]
        switched, order = set(st["switched"]), st["order"]
        qs.clear()
        qs.update(build_quantizers(model, plan_bits(), t, cfg["heads"], hd))
        model.load_state_dict(st["model"])
        for k, q in qs.items():
            q.load_state_dict(st["quant"]["%d%s" % k])
        opt = optimizer()
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        rng = st["rng"]
        print(f"resumed at step {step}")
    elif not args.bench:
        model.eval()
        row["start_val"] = count(predict(model, hook, xv), yv)
        row["evals"].append(dict(step=0, **count(predict(model, hook, xv[:args.eval_limit]), yv[:args.eval_limit])))
        print(f"step 0: val {100 * row['start_val']['correct'] / row['start_val']['n']:.2f}%", flush=True)

    def save():
        torch.save(dict(step=step, row=row, switched=sorted(switched), order=order, model=model.state_dict(),
                        quant={"%d%s" % k: q.state_dict() for k, q in qs.items()}, opt=opt.state_dict(),
                        gen=gen.get_state(), rng=rng), ck + ".tmp")
        os.replace(ck + ".tmp", ck)

    good = copy.deepcopy((model.state_dict(), {k: q.state_dict() for k, q in qs.items()}))

    def diverged(step, what):
        row["diverged"] = f"training diverged at step {step}: {what} is not finite; the last good state (before step {step}) is kept"
        model.load_state_dict(good[0])
        for k, q in qs.items():
            q.load_state_dict(good[1][k])
        print("\n" + row["diverged"], flush=True)
        return step - 1

    while step < args.steps:
        if prog and step >= prog[2]:
            if per_site is None:
                due = prog_sites
            else:
                if order is None:
                    order = sensitivity_order() if args.order == "sensitivity" else list(prog_sites)
                    row["order"] = order
                due = order[: (step - prog[2]) // per_site + 1]
            due = [site for site in due if site not in switched]
            if due:
                switch(due)
                old_opt, opt = opt, optimizer()
                # Adam's moments (and step counts) stay with every parameter still trained
                for group in opt.param_groups:
                    for p in group["params"]:
                        if p in old_opt.state:
                            opt.state[p] = old_opt.state[p]
        t0 = time.time()
        model.train()
        idx = rng.integers(0, len(ytr), size=args.batch)
        xb = augment(xtr[idx], gen)
        yb = torch.from_numpy(ytr[idx])
        logits = model(xb, hook)
        loss = F.cross_entropy(logits, yb, label_smoothing=0.1)
        if teacher is not None:
            with torch.no_grad():
                soft = teacher(xb).softmax(-1)
            loss = 0.5 * loss + 0.5 * F.cross_entropy(logits, soft)
        step += 1
        if not torch.isfinite(loss):
            step = diverged(step, "the loss")
            break
        opt.zero_grad()
        loss.backward()
        # cosine: step i (0-based) at lr·½(1 + cos(π·i/T)) — set per step (the optimizer is re-created at progressive switches)
        f = 0.5 * (1 + math.cos(math.pi * min(step - 1, args.steps) / args.steps)) if args.schedule == "cosine" else 1.0
        for group, base in zip(opt.param_groups, (args.lr_weights, args.lr_quant)):
            group["lr"] = base * f
        opt.step()
        with torch.no_grad():
            for q in qs.values():
                q.s.clamp_(min=1e-8)
        finite = all(torch.isfinite(p).all() for p in model.parameters()) and all(torch.isfinite(q.s).all() and torch.isfinite(q.z).all() for q in qs.values())
        if not finite:
            step = diverged(step, "a parameter")
            break
        good = copy.deepcopy((model.state_dict(), {k: q.state_dict() for k, q in qs.items()}))
        row["step_seconds"].append(time.time() - t0)
        row["curve"].append(dict(step=step, loss=float(loss)))
        print(f"\r  step {step}/{args.steps} loss {float(loss):.4f} {row['step_seconds'][-1]:.2f} s/step", end="", flush=True)
        if args.bench:
            continue
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            e = count(predict(model, hook, xv[:args.eval_limit]), yv[:args.eval_limit])
            row["evals"].append(dict(step=step, **e))
            print(f"\n  val[0, {args.eval_limit}) at step {step}: {100 * e['correct'] / e['n']:.2f}%", flush=True)
        if step % 10 == 0:
            save()
    if args.bench:
        timed = row["step_seconds"][1:]  # the first step warms up, as in src/train/stepBench.ts
        print(json.dumps(dict(bench=dict(batch=args.batch, step_seconds=timed, median_seconds=float(np.median(timed)),
                                         torch=torch.__version__, threads=torch.get_num_threads()))))
        return
    model.eval()
    pv = predict(model, hook, xv)
    row["final_val"] = count(pv, yv)
    row["val_predictions"] = [int(v) for v in pv]
    if not args.skip_test:
        row["final_test"] = count(predict(model, hook, xt), yt)
    row["completed_steps"] = step
    row["seconds_per_step"] = float(np.median(row["step_seconds"])) if row["step_seconds"] else float("nan")
    save()
    out = os.path.join(REPO, "results", "qat_torch.json")
    res = json.load(open(out)) if os.path.exists(out) else dict(rows={})
    res["note"] = "tools/ref/qat_ref.py, PyTorch %s, 1 thread" % torch.__version__
    res["rows"][row_name] = {k: v for k, v in row.items() if k != "step_seconds"}
    with open(out, "w") as f:
        json.dump(res, f)
    fv = row["final_val"]
    print(f"\n{row_name}: val5000 {100 * fv['correct'] / fv['n']:.2f}% after {step} steps ({row['seconds_per_step']:.2f} s/step) → results/qat_torch.json")


if __name__ == "__main__":
    main()
