"""The training of the launcher tests' data-parallel job, shared by tests/launcher/scripts/dist_worker.py
and benchmarks/_matrix_worker.py so both reach the same weights: SGD on a linear model, its
gradients averaged with dptrain.distributed. Returns the digest of the final weights."""
import hashlib

import numpy as np


def train_digest(dist, rank: int, steps: int = 20) -> str:
    rng = np.random.default_rng(100 + rank)
    X = rng.standard_normal((32, 4))
    y = X @ np.arange(1.0, 5.0)
    w = np.zeros(4)
    for _ in range(steps):
        g = dist.all_reduce(2.0 * X.T @ (X @ w - y) / len(y), op="mean")
        w -= 0.05 * g
    return hashlib.sha256(w.tobytes()).hexdigest()
