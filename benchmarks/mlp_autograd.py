"""Train the README MLP (784-128 relu, dropout 0.3, 10; Adam; softmax cross-entropy)
with an `ag` loop and with the same loop in PyTorch CPU, and print samples/s.

Both frameworks see the same data in the same order, use the same number of
threads (numpy's BLAS via threadpoolctl, torch.set_num_threads), and are timed
in the same run, alternately, best of --repeats epochs each.

    python benchmarks/mlp_autograd.py [--threads N] [--samples 8192] [--repeats 3] [--profile 32]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dptrain import ag  # noqa: E402


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 784), dtype=np.float32)
    w = rng.standard_normal((784, 10)).astype(np.float32)
    y = (x @ w).argmax(axis=1).astype(np.int64)
    return x, y


def batch_orders(n, batch_size, epochs, seed=1):
    rng = np.random.default_rng(seed)
    return [[p[i:i + batch_size] for i in range(0, n, batch_size)]
            for p in (rng.permutation(n) for _ in range(epochs))]


class AgRunner:
    def __init__(self, seed=0):
        ag.manual_seed(seed)
        self.model = ag.Sequential(ag.Linear(784, 128, activation="relu"), ag.Dropout(0.3), ag.Linear(128, 10))
        self.opt = ag.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self, x, y, order):
        model, opt = self.model, self.opt
        loss = None
        for idx in order:
            xb, yb = ag.tensor(x[idx]), y[idx]
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(xb), yb)
            opt.step(ag.backward(loss))
        return loss.item()


class TorchRunner:
    def __init__(self, torch, seed=0):
        self.torch = torch
        torch.manual_seed(seed)
        nn = torch.nn
        self.model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()

    def epoch(self, x, y, order):
        torch, model, opt = self.torch, self.model, self.opt
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss = None
        for idx in order:
            it = torch.from_numpy(idx)
            xb, yb = xt[it], yt[it]
            opt.zero_grad()
            loss = self.loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        return loss.item()


def timed(runner, x, y, order):
    t0 = time.perf_counter()
    loss = runner.epoch(x, y, order)
    return time.perf_counter() - t0, loss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", default="32,128,512")
    ap.add_argument("--profile", type=int, default=0, metavar="BATCH",
                    help="instead of timing, cProfile one ag epoch at this batch size")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits
    threadpool_limits(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None

    x, y = make_data(args.samples)
    if args.profile:
        runner = AgRunner()
        orders = batch_orders(len(x), args.profile, 2)
        runner.epoch(x, y, orders[0])
        prof = cProfile.Profile()
        prof.enable()
        runner.epoch(x, y, orders[1])
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return

    print(f"MLP 784-128-10, Adam, {args.samples} samples/epoch, {args.threads} threads, "
          f"best of {args.repeats} epochs" + ("" if torch else "  (torch not installed: ag only)"))
    print(f"{'batch':>6} {'ag samples/s':>14} {'torch samples/s':>16} {'ratio ag/torch':>15}")
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        orders = batch_orders(len(x), bs, args.repeats + 1)
        runners = {"ag": AgRunner()}
        if torch:
            runners["torch"] = TorchRunner(torch)
        best = {k: float("inf") for k in runners}
        for k, r in runners.items():   # warm-up epoch
            r.epoch(x, y, orders[0])
        for rep in range(args.repeats):
            for k, r in runners.items():
                dt, _ = timed(r, x, y, orders[rep + 1])
                best[k] = min(best[k], dt)
        ag_sps = len(x) / best["ag"]
        if torch:
            t_sps = len(x) / best["torch"]
            print(f"{bs:>6} {ag_sps:>14,.0f} {t_sps:>16,.0f} {ag_sps / t_sps:>15.2f}")
        else:
            print(f"{bs:>6} {ag_sps:>14,.0f} {'-':>16} {'-':>15}")


if __name__ == "__main__":
    main()
