"""`dptrain-launch`: command line -> JobSpec -> Supervisor."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Mapping, Optional, Sequence

from . import env as E
from .devices import assign_devices, gpu_indices
from .job import JobSpec, new_job_token
from .output import OutputRouter
from .supervisor import Supervisor

EXIT_USAGE = 2


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("dptrain")
    except Exception:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dptrain-launch",
        description="Start one worker process per replica of a data-parallel training script.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    p.add_argument("--nproc-per-node", "--nproc_per_node", default="1", metavar="N",
                   help="workers on this node, or 'auto': one per Vulkan GPU, at least 1 (default 1)")
    p.add_argument("--nnodes", type=int, default=1, metavar="M", help="number of nodes (default 1)")
    p.add_argument("--node-rank", "--node_rank", type=int, default=0, metavar="R",
                   help="this node's index, 0..M-1 (default 0)")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1", metavar="A",
                   help="address of the node that runs rank 0 (default 127.0.0.1)")
    p.add_argument("--master-port", "--master_port", type=int, default=0, metavar="P",
                   help="rendezvous port; 0 picks a free one (one node only; default 0)")
    p.add_argument("--job-token", metavar="T",
                   help=f"shared secret of a multi-node job (or set {E.JOB_TOKEN}, which stays out of `ps`)")
    p.add_argument("--devices", metavar="LIST",
                   help="'cpu', or Vulkan device indices such as '0,1' (default: every Vulkan GPU); "
                        "with fewer GPUs than workers, workers share GPUs round-robin")
    p.add_argument("--allow-mixed-devices", action="store_true",
                   help="with fewer GPUs than workers, run the extra workers on the CPU instead of sharing "
                        "GPUs (their numerics differ: weights can drift apart)")
    p.add_argument("--max-restarts", type=int, default=0, metavar="K",
                   help="restart the whole group up to K times after a failure (default 0)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="stop the job after this long (exit 124)")
    p.add_argument("--grace-period", type=float, default=5.0, metavar="SECONDS",
                   help="between SIGTERM and SIGKILL when stopping workers (default 5)")
    p.add_argument("--log-dir", metavar="D", help="also write each rank's output to D/rank_N.log")
    p.add_argument("script", help="the Python training script")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def parse_spec(argv: Optional[Sequence[str]], environ: Mapping[str, str]) -> JobSpec:
    """The JobSpec for `argv`; bad arguments exit with status 2 and a usage message."""
    parser = build_parser()
    a = parser.parse_args(argv)

    if a.nnodes < 1:
        parser.error("--nnodes must be at least 1")
    if not 0 <= a.node_rank < a.nnodes:
        parser.error(f"--node-rank must be in 0..{a.nnodes - 1}")
    if not 0 <= a.master_port <= 65535:
        parser.error("--master-port must be in 0..65535")
    if a.nnodes > 1 and a.master_port == 0:
        parser.error("--master-port is required when --nnodes > 1 (every node must use the same port)")
    if a.max_restarts < 0:
        parser.error("--max-restarts must not be negative")
    if a.timeout is not None and a.timeout <= 0:
        parser.error("--timeout must be positive")
    if a.grace_period < 0:
        parser.error("--grace-period must not be negative")
    if not os.path.isfile(a.script):
        parser.error(f"script not found: {a.script}")

    auto = a.nproc_per_node == "auto"
    if not auto:
        try:
            nproc = int(a.nproc_per_node)
        except ValueError:
            nproc = 0
        if nproc < 1:
            parser.error(f"--nproc-per-node must be a positive integer or 'auto', not {a.nproc_per_node!r}")
    try:
        gpus = gpu_indices(a.devices)
    except ValueError as e:
        parser.error(str(e))
    if auto:
        nproc = max(1, len(gpus))

    if a.job_token:
        token = a.job_token
    elif a.nnodes > 1:
        token = environ.get(E.JOB_TOKEN, "")
        if not token:
            parser.error(f"a multi-node job needs the same secret on every node: pass --job-token "
                         f"or set {E.JOB_TOKEN}")
    else:
        token = new_job_token()

    return JobSpec(
        command=(sys.executable, a.script, *a.script_args),
        nproc_per_node=nproc,
        devices=tuple(assign_devices(nproc, gpus, mixed=a.allow_mixed_devices)),
        allow_mixed_devices=a.allow_mixed_devices,
        job_token=token,
        nnodes=a.nnodes,
        node_rank=a.node_rank,
        master_addr=a.master_addr,
        master_port=a.master_port,
        max_restarts=a.max_restarts,
        timeout=a.timeout,
        grace_period=a.grace_period,
        log_dir=a.log_dir,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        spec = parse_spec(argv, os.environ)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C before any worker exists
        return 130
    ranks = [spec.rank_of(i) for i in range(spec.nproc_per_node)]
    try:
        router = OutputRouter(spec.log_dir, ranks)
    except OSError as e:
        print(f"dptrain-launch: cannot write logs to {spec.log_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return Supervisor(spec, router).run()
    finally:
        router.close()
