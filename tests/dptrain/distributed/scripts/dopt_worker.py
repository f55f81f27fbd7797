"""Worker for DistributedOptimizer tests, run under dptrain-launch. argv[1] is the mode."""
import sys

import numpy as np

import dptrain as dt
from dptrain import ag

mode = sys.argv[1]
ctx = dt.distributed.init(timeout=30)
ag.manual_seed(100 + ctx.rank)         # a different seed per rank: the broadcast must fix it
model = ag.Sequential(ag.Linear(6, 16, activation="relu"), ag.BatchNorm(16), ag.Dropout(0.3), ag.Linear(16, 3))
dt.distributed.broadcast_module(model, root=0)
opt = dt.distributed.DistributedOptimizer(ag.optim.Adam(model.parameters(), lr=1e-2), max_norm=1.0,
                                          on_nonfinite="raise" if mode == "raise" else "skip", check_every=50)
opt.broadcast_state()
rng = np.random.default_rng(ctx.rank)  # different data per rank


def step(x, y):
    with ag.grad_tape():
        loss = ag.softmax_cross_entropy_loss(model(x), y)
    ag.backward(loss)
    return opt.step(loss=loss.item())


if mode == "identical":
    for _ in range(200):
        x = rng.standard_normal((16, 6)).astype(np.float32)
        step(x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0))
    opt.check_weights()
    flat = opt.optimizer.flat_params()
    digests = dt.distributed.all_gather(flat.view(np.int32).copy())  # the raw bits
    assert all(np.array_equal(d, digests[0]) for d in digests), "weights differ"
    print(f"OK identical {flat[:3]}")
elif mode == "desync":
    x = rng.standard_normal((16, 6)).astype(np.float32)
    step(x, np.zeros(16, np.int64))
    if ctx.rank == 1:
        opt.optimizer.flat_params()[0] += 1.0
    try:
        opt.check_weights()
    except dt.distributed.WeightDesyncError as e:
        print(f"DESYNC {e}")
elif mode == "raise":
    x = rng.standard_normal((16, 6)).astype(np.float32)
    if ctx.rank == 1:
        x[0, 0] = np.inf
    try:
        step(x, np.zeros(16, np.int64))
    except dt.distributed.NonFiniteGradientError as e:
        print(f"NONFINITE {e}")
dt.distributed.barrier()
