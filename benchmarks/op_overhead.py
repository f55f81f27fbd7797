"""Per-op overhead of eager autograd: dptrain vs PyTorch CPU, same process.

1. A chain of 200 small elementwise ops on 64x64 float32, forward + backward.
2. A chain of 784x128 matmuls (batch 64) where BLAS dominates.
Prints each time and the ratio torch_time / dptrain_time (>= 1.0: dptrain is no slower).
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dptrain as dt  # noqa: E402
from benchmarks._common import best_time, ratio_line, try_import_torch  # noqa: E402

ag = dt.ag
N_OPS = 200


def small_chain_dptrain(x0, w):
    def run():
        with ag.grad_tape():
            h = x0
            for i in range(N_OPS // 4):
                h = ag.tanh(h * w + 0.1) - h * 0.5
            loss = ag.sum(h)
        ag.backward(loss)
    return run


def small_chain_torch(torch, x0, w):
    def run():
        h = x0
        for i in range(N_OPS // 4):
            h = torch.tanh(h * w + 0.1) - h * 0.5
        loss = h.sum()
        loss.backward()
        w.grad = None
    return run


def matmul_chain_dptrain(x, ws):
    def run():
        with ag.grad_tape():
            h = x
            for w in ws:
                h = ag.relu(h @ w)
            loss = ag.sum(h)
        ag.backward(loss)
    return run


def matmul_chain_torch(torch, x, ws):
    def run():
        h = x
        for w in ws:
            h = torch.relu(h @ w)
        h.sum().backward()
        for w in ws:
            w.grad = None
    return run


def main():
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch = try_import_torch(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 64)).astype(np.float32)
    wv = rng.standard_normal((64, 64)).astype(np.float32) * 0.1
    ours = best_time(small_chain_dptrain(ag.tensor(x), ag.param(wv)), repeat=7, number=5)
    peer = None
    if torch is not None:
        peer = best_time(small_chain_torch(torch, torch.from_numpy(x), torch.from_numpy(wv).requires_grad_()),
                         repeat=7, number=5)
    print(f"threads={threads}  (torch {'%s' % torch.__version__ if torch else 'absent'})")
    print(ratio_line(f"{N_OPS} ops 64x64 fwd+bwd", ours * 1e3, peer and peer * 1e3))
    print(f"{'  per op (fwd+bwd)':<38} dptrain {ours / N_OPS * 1e6:8.2f} us"
          + (f"     torch {peer / N_OPS * 1e6:8.2f} us" if peer else ""))

    xb = rng.standard_normal((64, 784)).astype(np.float32)
    shapes = [(784, 128)] + [(128, 128)] * 6 + [(128, 784)]
    wl = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in shapes]
    ours = best_time(matmul_chain_dptrain(ag.tensor(xb), [ag.param(w) for w in wl]), repeat=7, number=5)
    peer = None
    if torch is not None:
        peer = best_time(matmul_chain_torch(torch, torch.from_numpy(xb),
                                            [torch.from_numpy(w).requires_grad_() for w in wl]), repeat=7, number=5)
    print(ratio_line("784x128 matmul chain (8 layers) fwd+bwd", ours * 1e3, peer and peer * 1e3))


if __name__ == "__main__":
    main()
