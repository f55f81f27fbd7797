"""One rank of a test job (see dptrain_dist_harness.py). Checks its own results
against numpy and prints `RESULT <json>` for the cross-rank checks."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time

import msgpack
import numpy as np
import zmq

import dptrain.distributed as dist


def emit(obj) -> None:
    print("RESULT " + json.dumps(obj), flush=True)


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()).hexdigest()


def make(case: int, rank: int, shape, dtype) -> np.ndarray:
    rng = np.random.default_rng([case, rank])
    n = int(np.prod(shape))
    if n > 2_000_000 and np.dtype(dtype) == np.float32:
        return (rng.random(n, dtype=np.float32) - np.float32(0.5)).reshape(shape)
    if np.dtype(dtype).kind == "f":  # mixed magnitudes: the order of summation shows
        x = rng.standard_normal(n) * np.array([1e-3, 1.0, 1e3])[np.arange(n) % 3]
    else:
        x = rng.integers(-1000, 1000, size=n)
    return x.astype(dtype).reshape(shape)


def expected(xs, op, n_ranks):
    acc = xs[0].copy()
    for x in xs[1:]:
        if op == "max":
            np.maximum(acc, x, out=acc)
        else:
            np.add(acc, x, out=acc)
    if op == "mean":
        if acc.dtype.kind == "f":
            np.divide(acc, acc.dtype.type(n_ranks), out=acc)
        else:
            np.floor_divide(acc, acc.dtype.type(n_ranks), out=acc)
    return acc


def check_close(got, want, what):
    assert got.dtype == want.dtype and got.shape == want.shape, (what, got.dtype, got.shape, want.shape)
    if want.dtype.kind == "f":
        tol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(initial=1), err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ---------------------------------------------------------------- scenarios
def collectives(big: bool) -> None:
    ctx = dist.init(timeout=30)
    r, N = ctx.rank, ctx.world_size
    comm = ctx.communicator
    direct_max = getattr(comm, "direct_max_bytes", 0)
    shapes = [(), (1,), (7,), (3, 5), (1000,), (4099,), (16385,), (0,), (2, 3, 4)]
    shapes += [(65537,), (300_001,), (1_048_577,)]
    if big:
        shapes += [(8 * 1024 * 1024 + 3,)]
    hashes = {}
    case = 0
    for shape in shapes:
        dtypes = [np.float32, np.float64, np.int32, np.int64]
        if int(np.prod(shape)) > 100_000:  # large: the two dtypes, to keep the test quick
            dtypes = [np.float32, np.int64]
        if int(np.prod(shape)) > 2_000_000:
            dtypes = [np.float32]
        for dtype in dtypes:
            case += 1
            xs = [make(case, p, shape, dtype) for p in range(N)]
            mine = xs[r]
            keep = mine.copy()
            for op in ("sum", "mean", "max") if mine.size <= 2_000_000 else ("sum",):
                y = dist.all_reduce(mine, op=op)
                want = expected(xs, op, N)
                what = f"all_reduce {op} {shape} {np.dtype(dtype).name}"
                assert y.dtype == want.dtype and y.shape == want.shape, (what, y.dtype, y.shape)
                if getattr(comm, "uses_shm", True) or mine.nbytes <= direct_max or mine.size < N:
                    # shared memory and direct exchange sum in rank order: numpy's bits exactly
                    assert y.tobytes() == want.tobytes(), what + ": not bit-exact"
                else:  # the ring sums each chunk in its own order
                    check_close(y, want, what)
                assert np.array_equal(mine, keep), what + ": input modified"
                again = dist.all_reduce(mine, op=op)
                assert again.tobytes() == y.tobytes(), what + ": not repeatable"
                hashes[f"{case}/{op}"] = digest(y)
            root = case % N
            b = dist.broadcast(mine, root=root)
            check_close(b, xs[root], f"broadcast {shape}")
            assert b.tobytes() == xs[root].tobytes()
            g = dist.all_gather(mine)
            assert len(g) == N and all(gi.tobytes() == x.tobytes() and gi.shape == x.shape
                                       for gi, x in zip(g, xs)), f"all_gather {shape}"
            assert np.array_equal(mine, keep), "input modified"
            hashes[f"{case}/bcast"] = digest(b)
            dist.barrier()
    # non-contiguous inputs (a transposed view, a strided slice)
    base = [make(999, p, (40, 33), np.float64) for p in range(N)]
    for view in (lambda x: x.T, lambda x: x[::3, 1::2]):
        xs = [view(b) for b in base]
        y = dist.all_reduce(xs[r])
        want = expected([np.ascontiguousarray(x) for x in xs], "sum", N)
        assert y.shape == xs[r].shape and y.tobytes() == want.tobytes(), "non-contiguous all_reduce"
        g = dist.all_gather(xs[r])
        assert all(np.array_equal(gi, x) for gi, x in zip(g, xs)), "non-contiguous all_gather"
        hashes[f"view/{y.shape}"] = digest(y)
    # 50 back-to-back all-reduces reusing (and scribbling over) caller buffers, large
    # (ring / shared memory), exactly 64 KiB (sent zero-copy from the caller's buffer on
    # the socket path) and small; the caller also scribbles over each result at once.
    bufs = [np.empty(1 << 20, dtype=np.float32), np.empty(16384, dtype=np.float32),
            np.empty(1000, dtype=np.float64)]
    for i in range(50):
        for j, buf in enumerate(bufs):
            buf[:] = (i + 1) * (r + 1) + j
            y = dist.all_reduce(buf, op="max" if j == 2 else "sum")
            buf[:] = -12345.0  # the caller reuses its buffer at once ...
            got = y.copy()
            y[:] = -54321.0  # ... and the array it got back
            if j == 2:
                want = np.float64((i + 1) * N + j)
            else:
                want = np.float32(sum((i + 1) * (p + 1) + j for p in range(N)))
            assert np.all(got == want), (i, j, got[:4], want)
            hashes[f"reuse/{i}/{j}"] = digest(got)
    dist.barrier()
    emit({"rank": r, "world": N, "shm": bool(getattr(comm, "uses_shm", False)),
          "endpoint": getattr(comm, "endpoint", ""), "hashes": hashes, "dropped": comm.dropped})
    dist.shutdown()


def _report(exc, t0):
    emit({"exc": type(exc).__name__, "classes": [c.__name__ for c in type(exc).__mro__],
          "msg": str(exc), "elapsed": time.monotonic() - t0, "peer": getattr(exc, "peer", None)})


def fault(kind: str, timeout: float, victim: int) -> None:
    ctx = dist.init(timeout=timeout)
    x = np.arange(300_000, dtype=np.float32) + ctx.rank
    for _ in range(3):
        dist.all_reduce(x)
    dist.barrier()
    if ctx.rank == victim:
        time.sleep(0.3)  # let the others enter the collective first
        os.kill(os.getpid(), signal.SIGSTOP if kind == "stop" else signal.SIGKILL)
        time.sleep(60)
        return
    t0 = time.monotonic()
    try:
        dist.all_reduce(x)
        dist.all_reduce(x)
    except Exception as e:  # noqa: BLE001 - reported to the test
        _report(e, t0)
        dist.shutdown()
        return
    emit({"exc": None, "elapsed": time.monotonic() - t0})


def desync(kind: str) -> None:
    ctx = dist.init(timeout=30)
    r = ctx.rank
    dist.all_reduce(np.ones(10))
    t0 = time.monotonic()
    try:
        if kind == "op":
            if r == 1:
                dist.broadcast(np.ones(10), root=0)
            else:
                dist.all_reduce(np.ones(10))
        elif kind == "shape":
            dist.all_reduce(np.ones(10 if r == 0 else 200_000, dtype=np.float32))
        elif kind == "dtype":
            dist.all_reduce(np.ones(1000, dtype=np.float64 if r == ctx.world_size - 1 else np.float32))
        elif kind == "reduce_op":
            dist.all_reduce(np.ones(1000), op="max" if r == 0 else "sum")
        dist.barrier()
        dist.all_reduce(np.ones(10))
    except Exception as e:  # noqa: BLE001
        _report(e, t0)
        return
    emit({"exc": None})


FORGE_PER_PEER = 5000


def _forged_messages(rng, count):
    """Random frames and header-shaped frames with a wrong token or none."""
    good_shape = {"v": 1, "op": "all_reduce(sum)", "seq": 5, "step": 0, "src": 0,
                  "dtype": "float32", "shape": [1000], "chunk": [0, 1000]}
    for i in range(count):
        k = i % 6
        if k == 0:
            yield [rng.bytes(int(rng.integers(0, 200))) for _ in range(int(rng.integers(1, 4)))]
        elif k == 1:
            h = dict(good_shape, tok=rng.bytes(16), seq=int(rng.integers(0, 100)))
            yield [msgpack.packb(h), np.ones(1000, np.float32).tobytes()]
        elif k == 2:
            h = dict(good_shape, seq=int(rng.integers(0, 100)))  # no token at all
            yield [msgpack.packb(h), np.ones(1000, np.float32).tobytes()]
        elif k == 3:
            h = dict(good_shape, tok="not-bytes", src=int(rng.integers(-5, 5)))
            yield [msgpack.packb(h), rng.bytes(64)]
        elif k == 4:
            yield [msgpack.packb(rng.integers(0, 1000, 5).tolist()), b""]
        else:
            yield [msgpack.packb({"tok": rng.bytes(8)}), rng.bytes(8), rng.bytes(8)]


def _forger(urls, seed, done):
    rng = np.random.default_rng(seed)
    zctx = zmq.Context()
    socks = []
    for url in urls:
        s = zctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 10_000)
        s.connect(url)
        socks.append(s)
    for s in socks:
        for frames in _forged_messages(rng, FORGE_PER_PEER):
            s.send_multipart(frames)
    for s in socks:
        s.close()
    zctx.term()  # returns once everything was handed over
    done.set()


def forge() -> None:
    ctx = dist.init(timeout=30)
    r, N = ctx.rank, ctx.world_size
    comm = ctx.communicator
    urls = [comm.mesh.peer_urls[p] for p in comm.mesh.peers]
    # Plain-socket garbage at the peers' ipc sockets, not ZeroMQ at all. libzmq may
    # read some of it as old-protocol (ZMTP 1.0) messages, which must be dropped
    # and counted too; how many is up to libzmq, so it is counted apart.
    import socket as pysocket
    for url in urls:
        if url.startswith("ipc://"):
            with pysocket.socket(pysocket.AF_UNIX) as raw:
                raw.connect(url[len("ipc://"):])
                raw.sendall(np.random.default_rng(r).bytes(2048))
    time.sleep(0.3)
    for _ in range(5):
        dist.barrier()
    baseline = comm.dropped
    done = threading.Event()
    th = threading.Thread(target=_forger, args=(urls, r, done), daemon=True)
    th.start()
    i = 0
    rng = np.random.default_rng(100)  # the same sizes on every rank
    deadline = time.monotonic() + 40
    while True:
        n = int(rng.choice([1, 999, 70_000]))
        xs = [make(1000 + i, p, (n,), np.float32) for p in range(N)]
        y = dist.all_reduce(xs[r])
        check_close(y, expected(xs, "sum", N), f"all_reduce under forged traffic #{i}")
        i += 1
        want = baseline + FORGE_PER_PEER * (N - 1)
        flags = dist.all_gather(np.array([done.is_set() and comm.dropped >= want,
                                          time.monotonic() > deadline], dtype=np.int32))
        if all(int(f[0]) for f in flags) or any(int(f[1]) for f in flags):
            break
    th.join(5)
    emit({"rank": r, "dropped": comm.dropped - baseline, "expected": FORGE_PER_PEER * (N - 1),
          "raw_dropped": baseline,
          "rounds": i, "forger_done": done.is_set()})
    dist.shutdown()


def rendezvous_only(timeout: float) -> None:
    t0 = time.monotonic()
    try:
        dist.init(timeout=timeout)
    except Exception as e:  # noqa: BLE001
        _report(e, t0)
        return
    y = dist.all_reduce(np.array([1.0]))
    emit({"exc": None, "sum": float(y[0]), "elapsed": time.monotonic() - t0})
    dist.shutdown()


def intruders() -> None:
    """Peers without the job's CURVE keys (a plain ZeroMQ socket, one with another job's keys, raw
    tcp bytes) send to every tcp endpoint of this rank's peers while the job runs."""
    from dptrain.distributed.curve import CurveKeys
    import socket as pysocket
    ctx = dist.init(timeout=30)
    comm = ctx.communicator
    r, N = ctx.rank, ctx.world_size
    urls = [comm.mesh.peer_urls[p] for p in comm.mesh.peers]
    assert all(u.startswith("tcp://") for u in urls), urls
    dist.barrier()
    baseline = comm.dropped
    zctx = zmq.Context()
    header = msgpack.packb({"v": 1, "tok": b"not-the-token", "op": "barrier", "seq": 3, "step": 0,
                            "src": 0, "dtype": "", "shape": [], "chunk": [0, 0]})
    sent, keep = 0, []  # (a socket that is garbage-collected drops what it has not sent)
    for url in urls:
        host, port = url[len("tcp://"):].rsplit(":", 1)
        with pysocket.create_connection((host.strip("[]"), int(port))) as raw:
            raw.sendall(np.random.default_rng(r).bytes(4096))
        for keys in (None, CurveKeys.from_token(b"another job's secret")):
            s = zctx.socket(zmq.PUSH)
            keep.append(s)
            s.setsockopt(zmq.LINGER, 0)
            if keys is not None:
                keys.client(s)
            s.connect(url)
            for _ in range(200):
                try:
                    s.send_multipart([header, b"payload"], zmq.NOBLOCK)
                    sent += 1
                except zmq.Again:
                    break
    for _ in range(100):  # ~2 s (the same count on every rank) for whatever gets through to be read
        dist.barrier()
        time.sleep(0.02)
    xs = [make(7, p, (5000,), np.float32) for p in range(N)]
    for _ in range(5):
        check_close(dist.all_reduce(xs[r]), expected(xs, "sum", N), "all_reduce among intruders")
        dist.barrier()
    emit({"rank": r, "curve": comm.uses_curve, "dropped": comm.dropped - baseline, "sent": sent})
    zctx.destroy(linger=0)
    dist.shutdown()


if __name__ == "__main__":
    scenario, args = sys.argv[1], sys.argv[2:]
    if scenario == "collectives":
        collectives(big="big" in args)
    elif scenario in ("stop", "kill"):
        fault(scenario, float(args[0]), int(args[1]))
    elif scenario == "desync":
        desync(args[0])
    elif scenario == "forge":
        forge()
    elif scenario == "rendezvous":
        rendezvous_only(float(args[0]))
    elif scenario == "intruders":
        intruders()
    else:
        raise SystemExit(f"unknown scenario {scenario}")
