"""What one launcher runs (`JobSpec`) and the environment each of its workers gets."""
from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import Mapping, Optional

from . import env as E

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class JobSpec:
    command: tuple[str, ...]      # argv of every worker: (python, script, *args)
    nproc_per_node: int
    devices: tuple[str, ...]      # DPTRAIN_DEVICE per local rank
    job_token: str
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 0          # 0: a fresh free port for every attempt (one node only)
    max_restarts: int = 0
    timeout: Optional[float] = None
    grace_period: float = 5.0
    log_dir: Optional[str] = None
    allow_mixed_devices: bool = False

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node

    def rank_of(self, local_rank: int) -> int:
        return self.node_rank * self.nproc_per_node + local_rank


def new_job_token() -> str:
    return secrets.token_hex(16)


def free_port(addr: str) -> int:
    """A port nothing listens on right now, found by letting the kernel pick one for `addr`."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((addr, 0))
            return s.getsockname()[1]
    except OSError:  # addr is not a local address (a name the kernel cannot bind): any interface
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("", 0))
            return s.getsockname()[1]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_env(spec: JobSpec, local_rank: int, master_port: int, restart_count: int,
               base: Mapping[str, str]) -> dict[str, str]:
    """`base` (the launcher's environment) plus this worker's place in the job."""
    env = dict(base)
    env.update({
        E.RANK: str(spec.rank_of(local_rank)),
        E.LOCAL_RANK: str(local_rank),
        E.WORLD_SIZE: str(spec.world_size),
        E.LOCAL_WORLD_SIZE: str(spec.nproc_per_node),
        E.MASTER_ADDR: spec.master_addr,
        E.MASTER_PORT: str(master_port),
        E.DEVICE: spec.devices[local_rank],
        E.JOB_TOKEN: spec.job_token,
        E.RESTART_COUNT: str(restart_count),
        "PYTHONUNBUFFERED": "1",
    })
    if spec.allow_mixed_devices:
        env[E.ALLOW_MIXED_DEVICES] = "1"
    # Workers share the cores: N BLAS pools of `cores` threads each would oversubscribe them.
    threads = str(max(1, available_cores() // spec.nproc_per_node))
    for name in THREAD_VARS:
        if not base.get(name):
            env[name] = threads
    return env
