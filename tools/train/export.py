"""Export a trained ViT to public/models/<name>/: model.safetensors, config.json, metrics.json,
reference.json (PyTorch logits of 64 fixed test images) and predictions.json (PyTorch's
prediction for every image of each eval set, for the WebGPU/CPU parity checks)."""
import hashlib
import json
import os
import struct
import subprocess

import numpy as np
import torch

from cifar import VAL_COUNT, load_test, load_val
from vit import CIFAR_MEAN, CIFAR_STD, tensor_dict

REFERENCE_IMAGES = 64


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        arr = tensors[name].numpy().astype("<f4")
        b = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align the data section to 8 bytes
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], stderr=subprocess.DEVNULL).decode().strip()
    except Exception:
        return None


@torch.no_grad()
def predict(model, x, batch=500):
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        out.append(model(torch.from_numpy(x[i:i + batch]).float().div_(255.0)))
    return torch.cat(out)


def export(model, out, data, history=None, wall_s=0.0, train_args=None):
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), tensor_dict(model))
    cfg = dict(model.cfg)
    # the loaders (src/model/vitWeights.ts) refuse a model.safetensors whose hash differs
    with open(os.path.join(out, "model.safetensors"), "rb") as f:
        cfg["model_safetensors_sha256"] = hashlib.sha256(f.read()).hexdigest()
    cfg.update(layer_norm_eps=1e-5, gelu="tanh", mean=list(CIFAR_MEAN), std=list(CIFAR_STD),
               input="uint8 CHW / 255, then (x - mean) / std per channel",
               patch_order="(c, py, px) within a patch; patches row-major; class token first",
               classes_names=["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                              "truck"])
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    xte, yte = load_test(data)
    xva, yva = load_val(data)
    lte = predict(model, xte)
    lva = predict(model, xva)
    pte = lte.argmax(-1).numpy()
    pva = lva.argmax(-1).numpy()
    metrics = {
        "test": {"accuracy": float((pte == yte).mean()), "count": int(len(yte)),
                 "set": "official test images present (first %d)" % len(yte)},
        "val": {"accuracy": float((pva == yva).mean()), "count": int(len(yva)),
                "set": "last %d records of data_batch_5 (held out from training)" % VAL_COUNT},
        "epochs": (history[-1]["epoch"] if history else None),
        "history": history or [],
        "train_wall_s": round(wall_s, 1),
        "train_args": train_args or {},
        "git_commit": git_commit(),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    ref = {"set": "test", "indices": list(range(REFERENCE_IMAGES)),
           "labels": [int(v) for v in yte[:REFERENCE_IMAGES]],
           "logits": [[float(v) for v in row] for row in lte[:REFERENCE_IMAGES].numpy()]}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)
    with open(os.path.join(out, "predictions.json"), "w") as f:
        json.dump({"test": [int(v) for v in pte], "val": [int(v) for v in pva]}, f, separators=(",", ":"))
    print(f"exported {out}: test {metrics['test']['accuracy'] * 100:.2f}% val {metrics['val']['accuracy'] * 100:.2f}%",
          flush=True)
