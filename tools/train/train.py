"""Train the playground's ViT on CIFAR-10 (CPU, Debian python3-torch), resumable.

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 \
    /usr/bin/python3 tools/train/train.py --epochs 28 --out public/models/vit-cifar10

Every epoch: a checkpoint (model + optimizer + schedule + RNG) in --ckpt and a fresh export
(safetensors, config, metrics, reference logits) in --out, so a stopped run still leaves a model.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cifar import data_dir, load_test, load_train, load_val  # noqa: E402
from export import export  # noqa: E402
from vit import ViT  # noqa: E402


def augment(x, gen):
    """Random crop (pad 4, zero) + horizontal flip on a uint8 batch [B,3,32,32] → float [0,1]."""
    b = x.shape[0]
    x = torch.from_numpy(x).float().div_(255.0)
    padded = F.pad(x, (4, 4, 4, 4))
    ox = torch.randint(0, 9, (b,), generator=gen)
    oy = torch.randint(0, 9, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(b):
        img = padded[i, :, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32]
        out[i] = img.flip(-1) if flip[i] else img
    return out


@torch.no_grad()
def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(x[i:i + batch]).float().div_(255.0)
        correct += (model(xb).argmax(-1).numpy() == y[i:i + batch]).sum()
    return float(correct) / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=int, default=28)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--smoothing", type=float, default=0.1)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt", default="checkpoints/vit-cifar10.pt")
    ap.add_argument("--out", default="public/models/vit-cifar10")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    d = data_dir(args.data)
    xtr, ytr = load_train(d)
    xva, yva = load_val(d)
    xte, yte = load_test(d)
    print(f"data {d}: train {len(xtr)} val {len(xva)} test {len(xte)}", flush=True)

    model = ViT(dim=args.dim, depth=args.depth, heads=args.heads, mlp=args.mlp)
    print(f"parameters {sum(p.numel() for p in model.parameters()):,}", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos_embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos_embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = len(xtr) // args.batch
    total = steps_per_epoch * args.epochs

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, total - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    gen = torch.Generator().manual_seed(args.seed)
    start_epoch, step, wall, history = 0, 0, 0.0, []
    if os.path.exists(args.ckpt):
        ck = torch.load(args.ckpt)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        start_epoch, step, wall, history = ck["epoch"], ck["step"], ck["wall"], ck["history"]
        print(f"resumed at epoch {start_epoch} step {step}", flush=True)

    for epoch in range(start_epoch, args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=gen).numpy()
        run_loss = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            xb = augment(xtr[idx], gen)
            yb = torch.from_numpy(ytr[idx])
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=args.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            run_loss += loss.item()
            if (i + 1) % 50 == 0:
                el = time.time() - t0
                print(f"epoch {epoch + 1}/{args.epochs} step {i + 1}/{steps_per_epoch} loss {run_loss / 50:.4f} "
                      f"{el / (i + 1):.3f}s/step lr {lr_at(step):.2e}", flush=True)
                run_loss = 0.0
        wall += time.time() - t0
        val_acc = evaluate(model, xva, yva)
        test_acc = evaluate(model, xte, yte)
        history.append({"epoch": epoch + 1, "val": val_acc, "test": test_acc, "wall_s": round(wall, 1)})
        print(f"== epoch {epoch + 1}: val {val_acc * 100:.2f}% test {test_acc * 100:.2f}% wall {wall / 60:.1f} min",
              flush=True)
        os.makedirs(os.path.dirname(args.ckpt) or ".", exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                    "epoch": epoch + 1, "step": step, "wall": wall, "history": history, "args": vars(args)},
                   args.ckpt + ".tmp")
        os.replace(args.ckpt + ".tmp", args.ckpt)
        export(model, args.out, d, history=history, wall_s=wall, train_args=vars(args))
    print("done", flush=True)


if __name__ == "__main__":
    main()
