"""Worker for test_dp_efficiency.py, run under dptrain-launch. argv[1] is the mode.

Every rank prints one line `RESULT <json>`. Data is a pure function of (update, micro-batch,
rank), so each rank can also compute the single-process reference on the joint batch itself.
"""
import json
import os
import sys
import time
import warnings

import numpy as np

import dptrain as dt
from dptrain import ag
from dptrain.distributed.optimizer import StragglerWarning

mode = sys.argv[1]
ctx = dt.distributed.init(timeout=60)
rank, world = ctx.rank, ctx.world_size
comm = ctx.communicator
B, DIN, CLASSES = 8, 12, 3


def emit(**kw):
    print("RESULT " + json.dumps(kw), flush=True)


def batch(update, micro, r):
    rng = np.random.default_rng([update, micro, r])
    x = rng.standard_normal((B, DIN)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)


def make_model():
    ag.manual_seed(7)
    return ag.Sequential(ag.Linear(DIN, 16, activation="tanh"), ag.Linear(16, CLASSES))


def digest_bits(flat):
    return [int(v) for v in np.frombuffer(flat.tobytes(), np.uint32)[:8]]


def reference(updates, micro_steps, lr, max_norm):
    """One process: each update's gradient on the joint batch of every rank's micro-batches."""
    model = make_model()
    params = model.parameters()
    opt = ag.optim.Adam(params, lr=lr)
    for u in range(updates):
        xs, ys = zip(*[batch(u, m, r) for m in range(micro_steps) for r in range(world)])
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(np.concatenate(xs)), np.concatenate(ys))
        grads = ag.backward(loss)
        if max_norm is not None:
            ag.clip_grad_norm(params, grads, max_norm)
        opt.step(grads)
    return opt.flat_params().copy()


def accumulate(style):
    updates, micro, lr, max_norm = 5, 3, 0.05, 0.3
    model = make_model()
    kw = {"accumulate_steps": micro} if style == "accumulate_steps" else {}
    dopt = dt.distributed.DistributedOptimizer(ag.optim.Adam(model.parameters(), lr=lr), max_norm=max_norm,
                                               check_every=0, **kw)
    returned, comm_calls = [], 0
    for u in range(updates):
        for m in range(micro):
            x, y = batch(u, m, rank)
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(x), y)
            ag.backward(loss)
            if style == "no_sync" and m < micro - 1:
                with dopt.no_sync():
                    returned.append(dopt.step(loss=loss.item()))
            else:
                returned.append(dopt.step(loss=loss.item()))
    dopt.check_weights()
    flat = dopt.optimizer.flat_params()
    ref = reference(updates, micro, lr, max_norm)
    bits = dt.distributed.all_gather(flat.view(np.int32).copy())
    emit(rank=rank, returned=returned, steps=dopt.steps, identical=all(np.array_equal(b, bits[0]) for b in bits),
         max_diff=float(np.abs(flat - ref).max()), scale=float(np.abs(ref).max()), loss=dopt.last_loss,
         shm=bool(getattr(comm, "uses_shm", False)), digest=digest_bits(flat))


def straggler():
    model = make_model()
    dopt = dt.distributed.DistributedOptimizer(ag.optim.SGD(model.parameters(), lr=0.01), check_every=0,
                                               straggler_threshold=0.05)
    caught = []
    for u in range(6):
        if rank == world - 1 and u >= 1:
            time.sleep(0.15)             # the artificially slowed rank
        x, y = batch(u, 0, rank)
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(x), y)
        ag.backward(loss)
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            dopt.step()
        caught += [str(w.message) for w in got if issubclass(w.category, StragglerWarning)]
    emit(rank=rank, warnings=caught, last_wait=dopt.last_wait.tolist(), wait_total=dopt.wait_total.tolist(),
         slowest=dopt.slowest, log=len(dopt.wait_log), report=dopt.straggler_report())


def inplace():
    """all_reduce_inplace gives all_reduce's bits, with the extras gathered in rank order."""
    ok = []
    for i, n in enumerate([0, 1, 7, 1000, 65537, 300_001, 1_048_577]):
        for dtype in (np.float32, np.float64):
            x = np.random.default_rng([i, rank]).standard_normal(n).astype(dtype)
            for op in ("sum", "mean", "max"):
                want = dt.distributed.all_reduce(x, op=op)
                y = x.copy()
                extra = np.array([rank + 0.5, -rank, i])
                got, extras = comm.all_reduce_inplace(y, op=op, extra=extra)
                assert got is y
                ok.append(y.tobytes() == want.tobytes())
                ok.append(extras.tolist() == [[r + 0.5, -r, i] for r in range(world)])
                comm.all_reduce_inplace(y, op=op)
    emit(rank=rank, ok=all(ok), n=len(ok), shm=bool(getattr(comm, "uses_shm", False)))


if __name__ == "__main__":
    if mode in ("accumulate_steps", "no_sync"):
        accumulate(mode)
    elif mode == "straggler":
        straggler()
    elif mode == "inplace":
        inplace()
    else:
        raise SystemExit(f"unknown mode {mode}")
    dt.distributed.barrier()
    dt.distributed.shutdown()
