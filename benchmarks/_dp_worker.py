"""One data-parallel worker for benchmarks/dp_scaling.py (dptrain or torch DDP on gloo).

Started by dptrain-launch, which sets RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT: the
same variables torch's env:// rendezvous reads. Rank 0 prints `SAMPLES_PER_S <x>`.
"""
import argparse
import time

import numpy as np


def data(batch, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch * 8, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch * 8)
    return x, y


def run_dptrain(args):
    import dptrain as dt
    from dptrain import ag
    ctx = dt.distributed.init()
    ag.manual_seed(0)
    model = ag.Sequential(ag.Linear(784, 128, activation="relu"), ag.Dropout(0.3), ag.Linear(128, 10))
    opt = dt.distributed.DistributedOptimizer(ag.optim.Adam(model.parameters(), lr=1e-3), check_every=0)
    x, y = data(args.batch, ctx.rank)

    def step(i):
        j = (i % 8) * args.batch
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(x[j:j + args.batch]), y[j:j + args.batch])
        ag.backward(loss)
        opt.step()
    return ctx.rank, ctx.world_size, step, dt.distributed.barrier


def run_torch(args):
    import os
    import torch
    import torch.distributed as tdist
    torch.set_num_threads(1)
    world = int(os.environ["WORLD_SIZE"])
    rank = int(os.environ["RANK"])
    if world > 1:
        tdist.init_process_group("gloo")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(128, 10))
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = data(args.batch, rank)
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    lossf = torch.nn.CrossEntropyLoss()

    def step(i):
        j = (i % 8) * args.batch
        opt.zero_grad()
        lossf(model(x[j:j + args.batch]), y[j:j + args.batch]).backward()
        opt.step()
    return rank, world, step, (tdist.barrier if world > 1 else (lambda: None))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["dptrain", "torch"], required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    rank, world, step, barrier = (run_dptrain if args.impl == "dptrain" else run_torch)(args)
    for i in range(20):
        step(i)
    barrier()
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(i)
    barrier()
    dt_s = time.perf_counter() - t0
    if rank == 0:
        print(f"SAMPLES_PER_S {world * args.batch * args.steps / dt_s:.1f}", flush=True)


if __name__ == "__main__":
    main()
