"""CIFAR-10 binary layout reader shared by training, export and the PyTorch quantization reference.

Eval sets (same definition as src/data/evalSets.ts):
  test: the official test images present (test_batch.bin, else test_batch_first1000.bin)
  val:  the last 5000 records of data_batch_5.bin — never used for training
"""
import os

import numpy as np

REC = 3073
VAL_COUNT = 5000


def data_dir(explicit=None):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", ".."))
    cands = [explicit, os.environ.get("CIFAR10_DIR"), os.path.join(repo, "public", "data", "cifar10"),
             os.path.join(repo, "..", "shared", "data", "cifar10")]
    for c in cands:
        if c and os.path.exists(os.path.join(c, "data_batch_1.bin")):
            return c
    raise SystemExit("CIFAR-10 not found: run `npm run data`, or set CIFAR10_DIR to a folder with data_batch_1.bin")


def read_records(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % REC != 0:
        raise ValueError(f"{path}: {raw.size} bytes is not a multiple of {REC} (corrupt CIFAR-10 batch)")
    raw = raw.reshape(-1, REC)
    labels = raw[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: label {labels.max()} out of range 0..9")
    images = raw[:, 1:].reshape(-1, 3, 32, 32)
    return images, labels


def load_train(d):
    xs, ys = [], []
    for i in range(1, 6):
        x, y = read_records(os.path.join(d, f"data_batch_{i}.bin"))
        xs.append(x)
        ys.append(y)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    return x[:-VAL_COUNT], y[:-VAL_COUNT]


def load_val(d):
    x, y = read_records(os.path.join(d, "data_batch_5.bin"))
    return x[-VAL_COUNT:], y[-VAL_COUNT:]


def load_test(d):
    full = os.path.join(d, "test_batch.bin")
    if os.path.exists(full):
        return read_records(full)
    return read_records(os.path.join(d, "test_batch_first1000.bin"))
