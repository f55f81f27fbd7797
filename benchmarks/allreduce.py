"""All-reduce bandwidth: dptrain's ZeroMQ collectives next to torch.distributed gloo.

    python benchmarks/allreduce.py [--nprocs 2 4] [--sizes 4K 64K 1M 16M 64M] [--repeat 3] [--curve]

Bus bandwidth follows the nccl-tests convention:
busbw = bytes * 2(N-1)/N / time, with time the slowest rank's mean time per
all-reduce (float32 sum), the best of `--repeat` rounds (each round times every
size once, so a burst of load elsewhere on the machine spoils one round, not a
size). gloo runs in the same invocation when torch is installed (it is never a
dependency of dptrain). torch's all_reduce works in place; dptrain's
`all_reduce` returns a new array and `all_reduce_inplace` (what
DistributedOptimizer uses) writes back into its input: both are timed. A
single-process memcpy of the same size (numpy.copyto, bytes / time) is
measured in the same run as the memory-bandwidth yardstick. Workers are
separate processes on this host, started the way the launcher starts them.
`--curve` adds the socket path over tcp, plain and under ZeroMQ CURVE (what a job across hosts
uses), and the slowdown of CURVE (its time over plain tcp's, both in place).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SIZES = ["4K", "16K", "64K", "256K", "1M", "4M", "16M", "64M"]


def parse_size(s: str) -> int:
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("B").rstrip("I")
    return int(float(s[:-1]) * mult[s[-1]]) if s[-1] in mult else int(s)


def fmt_size(n: int) -> str:
    for unit, m in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= m and n % m == 0:
            return f"{n // m} {unit}iB"
    return f"{n} B"


def iterations(nbytes: int, budget: float) -> int:
    return int(min(300, max(5, budget * (256 << 20) / max(nbytes, 1))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ workers
def _time_loop(fn, barrier, nbytes, budget):
    for _ in range(3):
        fn()
    it = iterations(nbytes, budget)
    barrier()
    t0 = time.perf_counter()
    for _ in range(it):
        fn()
    return (time.perf_counter() - t0) / it


def _rounds(modes, sizes, budget, repeat, barrier, slowest):
    """{mode: {nbytes: best over rounds of the slowest rank's time}}; modes: name -> nbytes -> fn."""
    out = {m: {} for m in modes}
    for _ in range(repeat):
        for nbytes in sizes:
            for m, make in modes.items():
                t = slowest(_time_loop(make(nbytes), barrier, nbytes, budget / repeat))
                out[m][nbytes] = min(t, out[m].get(nbytes, float("inf")))
    return out


def worker_dptrain(sizes, budget, repeat):
    sys.path.insert(0, ROOT)
    import numpy as np
    import dptrain.distributed as dist

    ctx = dist.init(timeout=120)
    comm = ctx.communicator
    np.seterr(over="ignore")  # in place, the sums double every round (as torch's do) and overflow
    xs = {nb: np.random.default_rng(ctx.rank).standard_normal(nb // 4).astype(np.float32) for nb in sizes}
    modes = {"new": lambda nb: (lambda: dist.all_reduce(xs[nb])),
             "inplace": lambda nb: (lambda: comm.all_reduce_inplace(xs[nb]))}
    if not hasattr(comm, "all_reduce_inplace"):
        del modes["inplace"]
    out = _rounds(modes, sizes, budget, repeat, dist.barrier,
                  lambda t: max(float(v[0]) for v in dist.all_gather(np.array([t]))))
    if ctx.rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.shutdown()


def worker_gloo(sizes, budget, repeat):
    import torch
    import torch.distributed as tdist

    rank, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=rank, world_size=n)
    xs = {nb: torch.randn(nb // 4, generator=torch.Generator().manual_seed(rank)) for nb in sizes}

    def slowest(t):
        tt = torch.tensor([t], dtype=torch.float64)
        tdist.all_reduce(tt, op=tdist.ReduceOp.MAX)
        return float(tt[0])
    out = _rounds({"inplace": lambda nb: (lambda: tdist.all_reduce(xs[nb]))}, sizes, budget, repeat,
                  tdist.barrier, slowest)
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    tdist.destroy_process_group()


def memcpy_bandwidth(nbytes: int, budget: float) -> float:
    """bytes / time of one numpy.copyto between two buffers of `nbytes` (best of 3)."""
    import numpy as np
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    it = iterations(nbytes, budget) * 4
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(it):
            np.copyto(b, a)
        best = min(best, (time.perf_counter() - t0) / it)
    return nbytes / best / 1e9


def run_job(kind: str, n: int, sizes, budget: float, repeat: int, extra_env=None):
    port = free_port()
    procs = []
    try:
        for r in range(n):
            env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(n), LOCAL_RANK=str(r),
                       LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                       DPTRAIN_JOB_TOKEN=f"bench-{port}", OMP_NUM_THREADS="1")
            env.update(extra_env or {})
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind,
                   "--budget", str(budget), "--repeat", str(repeat), "--sizes", *map(str, sizes)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=900)[0] for p in procs]
        if any(p.returncode for p in procs):
            raise RuntimeError(f"{kind} workers failed: exit codes {[p.returncode for p in procs]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for line in outs[0].splitlines():
        if line.startswith("RESULT "):
            return {m: {int(k): v for k, v in d.items()} for m, d in json.loads(line[7:]).items()}
    raise RuntimeError(f"{kind}: rank 0 printed no result")


def have_torch() -> bool:
    try:
        import torch.distributed as tdist  # noqa: F401
        return tdist.is_available() and tdist.is_gloo_available()
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nprocs", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES)
    ap.add_argument("--budget", type=float, default=1.0, help="rough work per size (x 256 MiB)")
    ap.add_argument("--no-gloo", action="store_true")
    ap.add_argument("--shm", choices=["on", "off", "both"], default="on",
                    help="dptrain's shared-memory path for ranks on one host (DPTRAIN_SHM)")
    ap.add_argument("--curve", action="store_true",
                    help="also time the socket path over tcp, plain and under ZeroMQ CURVE")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best is reported")
    ap.add_argument("--worker", choices=["dptrain", "gloo"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [parse_size(str(s)) for s in args.sizes]
    if args.worker == "dptrain":
        return worker_dptrain(sizes, args.budget, args.repeat)
    if args.worker == "gloo":
        return worker_gloo(sizes, args.budget, args.repeat)

    gloo = not args.no_gloo and have_torch()
    variants = {"on": [({"DPTRAIN_SHM": "1"}, "shm")], "off": [({"DPTRAIN_SHM": "0"}, "zmq")],
                "both": [({"DPTRAIN_SHM": "1"}, "shm"), ({"DPTRAIN_SHM": "0"}, "zmq")]}[args.shm]
    if args.curve:   # the socket path over tcp, plain and under CURVE (what crosses hosts)
        tcp = {"DPTRAIN_SHM": "0", "DPTRAIN_TRANSPORT": "tcp"}
        variants += [(dict(tcp, DPTRAIN_CURVE="0"), "tcp"), (dict(tcp, DPTRAIN_CURVE="1"), "curve")]
    print(f"all-reduce float32 sum, busbw = bytes*2(N-1)/N / time (slowest rank, best of {args.repeat} "
          f"rounds); {os.cpu_count()} CPUs; gloo: {'yes' if gloo else 'torch not installed'}")
    mem = {nb: memcpy_bandwidth(nb, args.budget) for nb in sizes}
    print("memcpy (numpy.copyto, one process): " + ", ".join(f"{fmt_size(nb)} {mem[nb]:.1f} GB/s" for nb in sizes))
    for n in args.nprocs:
        res = {}
        for env, label in variants:
            got = run_job("dptrain", n, sizes, args.budget, args.repeat, env)
            res[label] = got["new"]
            if "inplace" in got:
                res[label + " in-place"] = got["inplace"]
        if gloo:
            res["gloo"] = run_job("gloo", n, sizes, args.budget, args.repeat)["inplace"]
        labels = list(res)
        print(f"\nN = {n}")
        head = f"{'size':>9}" + "".join(f" | {l + ' ms':>16} {'GB/s':>6}" for l in labels)
        if gloo:
            head += "".join(f" | {l + ' /gloo':>14}" for l in labels[:-1])
        head += "".join(f" | {l + ' /memcpy':>16}" for l in labels if l.startswith("shm"))
        if args.curve:
            head += f" | {'curve slowdown':>14}"
        print(head)
        print("-" * len(head))
        for nb in sizes:
            row = f"{fmt_size(nb):>9}"
            bw = {}
            for l in labels:
                t = res[l][nb]
                bw[l] = nb * 2 * (n - 1) / n / t / 1e9
                row += f" | {t * 1e3:16.3f} {bw[l]:6.2f}"
            if gloo:
                row += "".join(f" | {bw[l] / bw['gloo']:13.2f}x" for l in labels[:-1])
            row += "".join(f" | {bw[l] / mem[nb]:15.0%} " for l in labels if l.startswith("shm"))
            if args.curve:      # time under CURVE / plain tcp time, both in-place
                row += f" | {res['curve in-place'][nb] / res['tcp in-place'][nb]:13.2f}x"
            print(row, flush=True)


if __name__ == "__main__":
    main()
