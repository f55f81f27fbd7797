"""All-reduce bandwidth: dptrain's ZeroMQ collectives next to torch.distributed gloo.

    python benchmarks/allreduce.py [--nprocs 2 4] [--sizes 4K 64K 1M 16M 64M]

Bus bandwidth follows the nccl-tests convention:
busbw = bytes * 2(N-1)/N / time, with time the slowest rank's mean time per
all-reduce (float32 sum). gloo runs in the same invocation when torch is
installed (it is never a dependency of dptrain). Workers are separate
processes on this host, started the way the launcher starts them.
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


def worker_dptrain(sizes, budget):
    sys.path.insert(0, ROOT)
    import numpy as np
    import dptrain.distributed as dist

    ctx = dist.init(timeout=120)
    out = {}
    for nbytes in sizes:
        x = np.random.default_rng(ctx.rank).standard_normal(nbytes // 4).astype(np.float32)
        t = _time_loop(lambda: dist.all_reduce(x), dist.barrier, nbytes, budget)
        out[nbytes] = max(float(v[0]) for v in dist.all_gather(np.array([t])))
    if ctx.rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.shutdown()


def worker_gloo(sizes, budget):
    import torch
    import torch.distributed as tdist

    rank, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", rank=rank, world_size=n)
    out = {}
    for nbytes in sizes:
        x = torch.randn(nbytes // 4, generator=torch.Generator().manual_seed(rank))
        t = _time_loop(lambda: tdist.all_reduce(x), tdist.barrier, nbytes, budget)
        tt = torch.tensor([t], dtype=torch.float64)
        tdist.all_reduce(tt, op=tdist.ReduceOp.MAX)
        out[nbytes] = float(tt[0])
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    tdist.destroy_process_group()


def run_job(kind: str, n: int, sizes, budget: float, extra_env=None):
    port = free_port()
    procs = []
    try:
        for r in range(n):
            env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(n), LOCAL_RANK=str(r),
                       LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                       DPTRAIN_JOB_TOKEN=f"bench-{port}", OMP_NUM_THREADS="1")
            env.update(extra_env or {})
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind,
                   "--budget", str(budget), "--sizes", *map(str, sizes)]
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
            return {int(k): v for k, v in json.loads(line[7:]).items()}
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
    ap.add_argument("--worker", choices=["dptrain", "gloo"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    sizes = [parse_size(str(s)) for s in args.sizes]
    if args.worker == "dptrain":
        return worker_dptrain(sizes, args.budget)
    if args.worker == "gloo":
        return worker_gloo(sizes, args.budget)

    gloo = not args.no_gloo and have_torch()
    variants = {"on": [("1", "dptrain")], "off": [("0", "dptrain")],
                "both": [("1", "dptrain shm"), ("0", "dptrain zmq")]}[args.shm]
    print(f"all-reduce float32 sum, busbw = bytes*2(N-1)/N / time (slowest rank); "
          f"{os.cpu_count()} CPUs; gloo: {'yes' if gloo else 'torch not installed'}")
    for n in args.nprocs:
        res = {label: run_job("dptrain", n, sizes, args.budget, {"DPTRAIN_SHM": v})
               for v, label in variants}
        if gloo:
            res["gloo"] = run_job("gloo", n, sizes, args.budget)
        labels = list(res)
        print(f"\nN = {n}")
        head = f"{'size':>9}" + "".join(f" | {l + ' ms':>14} {'GB/s':>6}" for l in labels)
        if gloo:
            head += "".join(f" | {l.split()[-1] + '/gloo':>9}" for l in labels[:-1])
        print(head)
        print("-" * len(head))
        for nb in sizes:
            row = f"{fmt_size(nb):>9}"
            bw = {}
            for l in labels:
                t = res[l][nb]
                bw[l] = nb * 2 * (n - 1) / n / t / 1e9
                row += f" | {t * 1e3:14.3f} {bw[l]:6.2f}"
            if gloo:
                row += "".join(f" | {bw[l] / bw['gloo']:8.2f}x" for l in labels[:-1])
            print(row, flush=True)


if __name__ == "__main__":
    main()
