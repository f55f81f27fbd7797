"""One rank of a test_scale_n_workers.py job: every collective at this world size, in one process.

Run with the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...) set by the test;
DPTRAIN_SHM / DPTRAIN_TRANSPORT choose the path. argv[1] is a scratch directory (the barrier
check). Every result is checked here against an exact numpy reference computed in the order
the path in use combines contributions (shared memory and the direct exchange: rank order
0..N-1; the ring: chunk c from rank c onwards), so the checks are bit-for-bit. Digests of every
result go into the `RESULT <json>` line so the test can also compare them across ranks.
A failed check raises (non-zero exit, traceback on stderr).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np

import dptrain as dt
from dptrain import ag

SCRATCH = sys.argv[1]
ctx = dt.distributed.init(timeout=60)
comm = ctx.communicator
rank, N = ctx.rank, ctx.world_size
SHM = bool(getattr(comm, "uses_shm", False))
DTYPES = (np.float32, np.float64, np.int32, np.int64)
digests = hashlib.sha256()
counts = {"all_reduce": 0, "all_reduce_inplace": 0, "extras": 0, "broadcast": 0, "all_gather": 0,
          "barrier": 0, "ring": 0, "direct": 0, "shm": 0}


def note(a: np.ndarray) -> None:
    digests.update(a.dtype.str.encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes())


def make(case, r, shape, dtype):
    """Rank r's input: mixed magnitudes (1e-3, 1, 1e3) so that the order of summation shows."""
    rng = np.random.default_rng([case, r])
    n = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal(n) * np.array([1e-3, 1.0, 1e3])[np.arange(n) % 3]
    else:
        x = rng.integers(-1000, 1000, size=n)
    return x.astype(dtype).reshape(shape)


def combine(parts, op, order):
    f = np.maximum if op == "max" else np.add
    acc = parts[order[0]].copy()
    for p in order[1:]:
        f(acc, parts[p], out=acc)
    if op == "mean":
        if acc.dtype.kind == "f":
            np.divide(acc, acc.dtype.type(N), out=acc)
        else:
            np.floor_divide(acc, acc.dtype.type(N), out=acc)
    return acc


def path(x) -> str:
    if SHM:
        return "shm"
    if x.nbytes <= comm.direct_max_bytes or x.size < N:
        return "direct"
    return "ring"


def reference(xs, op):
    """What this communicator must return, bit for bit."""
    how = path(xs[0])
    counts[how] += 1
    flat = [x.reshape(-1) for x in xs]
    if how != "ring":
        return combine(flat, op, list(range(N))).reshape(xs[0].shape)
    n = flat[0].size
    b = [c * n // N for c in range(N + 1)]
    out = np.empty(n, flat[0].dtype)
    for c in range(N):   # reduce-scatter: chunk c starts at rank c and travels right
        out[b[c]:b[c + 1]] = combine([f[b[c]:b[c + 1]] for f in flat], op, [(c + i) % N for i in range(N)])
    return out.reshape(xs[0].shape)


def same(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.dtype, got.shape, want.shape)
    assert got.tobytes() == want.tobytes(), f"{what}: result differs from the exact reference " \
        f"(max abs diff {np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0)})"


case = 0


def check_all_reduce(shape, dtype, ops=("sum", "mean", "max")):
    global case
    case += 1
    xs = [make(case, p, shape, dtype) for p in range(N)]
    mine = xs[rank].copy()
    for op in ops:
        want = reference(xs, op)
        got = comm.all_reduce(mine, op=op)
        same(got, want, f"all_reduce({op}) {shape} {np.dtype(dtype).name}")
        assert np.array_equal(mine, xs[rank]), "all_reduce modified its input"
        note(got)
        counts["all_reduce"] += 1
        y = xs[rank].copy()
        back = comm.all_reduce_inplace(y, op=op)
        assert back is y
        same(y, want, f"all_reduce_inplace({op}) {shape} {np.dtype(dtype).name}")
        counts["all_reduce_inplace"] += 1
        y = xs[rank].copy()
        extra = np.array([rank + 0.25, -float(rank), case, op == "max"][:case % 5], np.float64)
        back, got_extra = comm.all_reduce_inplace(y, op=op, extra=extra)
        assert back is y
        same(y, want, f"all_reduce_inplace({op}, extra) {shape} {np.dtype(dtype).name}")
        want_extra = np.array([[p + 0.25, -float(p), case, op == "max"][:case % 5] for p in range(N)],
                              np.float64).reshape(N, case % 5)
        assert got_extra.shape == want_extra.shape and np.array_equal(got_extra, want_extra), \
            (got_extra, want_extra)
        counts["extras"] += 1


def check_broadcast(shape, dtype):
    global case
    case += 1
    for root in range(N):
        x = make(case, root, shape, dtype)
        mine = x if rank == root else np.full(shape, 7, dtype)
        got = comm.broadcast(mine, root=root)
        same(got, x, f"broadcast(root={root}) {shape} {np.dtype(dtype).name}")
        assert got is not mine
        note(got)
        counts["broadcast"] += 1


def check_all_gather(shape, dtype):
    global case
    case += 1
    got = comm.all_gather(make(case, rank, shape, dtype))
    assert isinstance(got, list) and len(got) == N
    for p in range(N):
        same(got[p], make(case, p, shape, dtype), f"all_gather[{p}] {shape} {np.dtype(dtype).name}")
        note(got[p])
    counts["all_gather"] += 1


def check_barrier(i):
    """Everyone leaves a mark, one rank late; after the barrier every mark of this round is there."""
    if rank == i % N:
        time.sleep(0.02)
    open(os.path.join(SCRATCH, f"b{i}-r{rank}"), "w").close()
    comm.barrier()
    missing = [p for p in range(N) if not os.path.exists(os.path.join(SCRATCH, f"b{i}-r{p}"))]
    assert not missing, f"barrier {i}: ranks {missing} had not arrived"
    counts["barrier"] += 1


# Sizes: empty, 0-d, fewer elements than ranks, N - 1, N, N + 1, odd, a few pages, above the
# socket path's direct limit (256 KiB) so the ring runs, with a ragged last chunk.
tiny = [(0,), (), (1,), (N - 1,), (N,), (N + 1,), (2 * N + 1,), (3, 5), (2, 0, 3)]
odd = [(1001,), (4099,), (16385,)]
big = [(65537,), (100_003,)]


def sweep(shapes, dtypes=DTYPES):
    for shape in shapes:
        for d in dtypes:
            check_all_reduce(shape, d)
            check_broadcast(shape, d)
            check_all_gather(shape, d)


barriers = 0
sweep(tiny + odd)
sweep(big, (np.float32, np.int64))
for _ in range(3):
    check_barrier(barriers)
    barriers += 1

# Algorithm knobs, the same on every rank, changed only at a barrier (no collective in flight).
if SHM:
    # small chunks: many per array, the DEPTH slots wrap many times, whole-chunk reduction;
    # 64 KiB chunks: reduce-scatter + all-gather inside shared memory, ragged tails
    for block in (4096, 64 << 10):
        check_barrier(barriers)
        barriers += 1
        comm._shm.S = block
        sweep([(0,), (N - 1,), (4099,), (40_001,)], (np.float32, np.int32))
        sweep([(100_003,)], (np.float64,))
else:
    # every message through the ring (except fewer elements than ranks), cut into pieces of
    # 5 floats / odd byte counts, zero-copy sends for everything
    check_barrier(barriers)
    barriers += 1
    comm.direct_max_bytes, comm.piece_bytes, comm.zero_copy_min = 0, 20, 0
    sweep([(0,), (1,), (N - 1,), (N,), (N + 1,), (2 * N - 1,), (37,), (3, 7)])
    comm.piece_bytes = 4099
    sweep([(1001,), (16385,)], (np.float32, np.int64))

# An interleaving of every kind, many times in a row (slots reused across collective kinds).
rng = np.random.default_rng(12345)          # the same choices on every rank
for i in range(40):
    kind = int(rng.integers(4))
    shape = (int(rng.integers(0, 3 * N + 2)),)
    d = DTYPES[int(rng.integers(len(DTYPES)))]
    if kind == 0:
        check_all_reduce(shape, d, ("sum",))
    elif kind == 1:
        check_broadcast(shape, d)
    elif kind == 2:
        check_all_gather(shape, d)
    else:
        check_barrier(barriers)
        barriers += 1


# ------------------------------------------------------------ 50 steps of a small model
B, DIN, CLASSES, STEPS = 5, 7, 3, 50


def batch(step, r):
    g = np.random.default_rng([step, r, 99])
    x = g.standard_normal((B, DIN)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)


def make_model(seed):
    ag.manual_seed(seed)
    return ag.Sequential(ag.Linear(DIN, 11, activation="tanh"), ag.Linear(11, 9, activation="relu"),
                         ag.Linear(9, CLASSES))


model = make_model(200 + rank)              # a different start per rank: the broadcast fixes it
dopt = dt.distributed.DistributedOptimizer(ag.optim.Adam(model.parameters(), lr=0.02), max_norm=0.5,
                                           check_every=10)
dopt.broadcast_state()
for s in range(STEPS):
    x, y = batch(s, rank)
    with ag.grad_tape():
        loss = ag.softmax_cross_entropy_loss(model(x), y)
    ag.backward(loss)
    assert dopt.step(loss=loss.item()) is True
flat = dopt.optimizer.flat_params().copy()
bits = comm.all_gather(flat.view(np.int32).copy())
identical = all(np.array_equal(b, bits[0]) for b in bits)

ref_model = make_model(200)                 # rank 0's start, as broadcast
params = ref_model.parameters()
ref_opt = ag.optim.Adam(params, lr=0.02)
for s in range(STEPS):
    xs, ys = zip(*[batch(s, r) for r in range(N)])
    with ag.grad_tape():
        loss = ag.softmax_cross_entropy_loss(ref_model(np.concatenate(xs)), np.concatenate(ys))
    grads = ag.backward(loss)
    ag.clip_grad_norm(params, grads, 0.5)
    ref_opt.step(grads)
ref = ref_opt.flat_params()

print("RESULT " + json.dumps(dict(
    rank=rank, world=N, shm=SHM, endpoint=comm.endpoint.split(":")[0], counts=counts, cases=case,
    digest=digests.hexdigest(), identical=identical, steps=dopt.steps,
    weights=hashlib.sha256(flat.tobytes()).hexdigest(), max_diff=float(np.abs(flat - ref).max()),
    scale=float(np.abs(ref).max()), loss=dopt.last_loss)), flush=True)
comm.barrier()
dt.distributed.shutdown()
