"""Data-parallel training on scikit-learn's digits: one worker per replica.

    dptrain-launch --nproc-per-node 2 examples/digits_data_parallel.py

Every rank builds the same model (rank 0's weights are broadcast), takes a
disjoint shard of each epoch's shared permutation, and steps a
DistributedOptimizer: gradients are all-reduced over ZeroMQ, clipped, applied.
Also runs alone (`python examples/digits_data_parallel.py`) as a job of one.
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import dptrain as dt
from dptrain import ag


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32, help="per worker")
    ap.add_argument("--lr", type=float, default=5e-3)
    args = ap.parse_args()

    ctx = dt.distributed.init()
    chief = ctx.rank == 0
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0,
                                                        stratify=digits.target)

    ag.manual_seed(ctx.rank)  # deliberately different: the broadcast makes replicas start equal
    model = ag.Sequential(ag.Linear(64, 128, activation="relu"), ag.Dropout(0.2), ag.Linear(128, 10))
    dt.distributed.broadcast_module(model, root=0)
    opt = dt.distributed.DistributedOptimizer(ag.optim.Adam(model.parameters(), lr=args.lr), max_norm=1.0)
    sched = ag.optim.CosineLR(opt.optimizer, T_max=args.epochs)
    if chief:
        print(f"{ctx.world_size} worker(s), device {ctx.device}, {len(x_train)} training samples")

    order_rng = np.random.default_rng(1234)  # the same permutation on every rank
    steps = len(x_train) // (args.batch_size * ctx.world_size)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        perm = order_rng.permutation(len(x_train))
        model.train()
        total = 0.0
        for s in range(steps):
            start = (s * ctx.world_size + ctx.rank) * args.batch_size
            idx = perm[start:start + args.batch_size]
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(x_train[idx]), y_train[idx])
            ag.backward(loss)
            opt.step(loss=loss.item())
            total += opt.last_loss
        sched.step()
        if chief and (epoch % 5 == 4 or epoch == args.epochs - 1):
            model.eval()
            acc = np.mean(np.argmax(model(x_test).numpy(), axis=1) == y_test)
            print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {total / steps:.4f}  test accuracy {acc:.4f}")
    opt.check_weights()
    model.eval()
    acc = float(np.mean(np.argmax(model(x_test).numpy(), axis=1) == y_test))
    if chief:
        print(f"final test accuracy {acc:.4f}  ({time.perf_counter() - t0:.1f} s, weights identical on "
              f"all {ctx.world_size} ranks)")
    dt.distributed.shutdown()


if __name__ == "__main__":
    main()
