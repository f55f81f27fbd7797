"""`keras.utils` names: seeding and label helpers."""
from __future__ import annotations

import random

import numpy as np

from engine import manual_seed


def set_random_seed(seed):
    """Seed Python's `random`, numpy's global generator and dptrain's own (weights, dropout, shuffling)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: seed must be an integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2 ** 32)
    manual_seed(int(seed))


def to_categorical(x, num_classes=None):
    """Integer class labels -> one-hot float32 rows: `[2, 0] -> [[0, 0, 1], [1, 0, 0]]`."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ValueError("to_categorical: x must hold integer class labels")
        x = x.astype(np.int64)
    if x.dtype.kind not in "iu":
        raise TypeError(f"to_categorical: x must hold integer class labels, got dtype {x.dtype}")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical: label {int(x.min())} is negative")
    n = int(x.max()) + 1 if num_classes is None and x.size else int(num_classes or 0)
    if x.size and int(x.max()) >= n:
        raise ValueError(f"to_categorical: label {int(x.max())} is out of range for num_classes={n}")
    out = np.zeros(x.shape + (n,), np.float32)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out
