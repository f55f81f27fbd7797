"""What one launcher runs (`JobSpec`) and the environment each of its workers gets."""
from __future__ import annotations

import os
import secrets
import signal
import socket
from dataclasses import dataclass, field
from typing import Mapping, Optional

from . import env as E

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)  # torchrun's
# Inherited variables that would mislead the workers of this launcher.
_DROPPED = (E.RDZV_PORT, E.SECRET_FILE, "TORCHELASTIC_USE_AGENT_STORE", "TORCHELASTIC_ERROR_FILE")


@dataclass(frozen=True)
class Routes:
    """Where one worker's streams go: the console and/or its log file."""
    out_console: bool = True
    out_log: bool = False
    err_console: bool = True
    err_log: bool = False


@dataclass(frozen=True)
class JobSpec:
    command: tuple[str, ...]      # argv of every worker: (python, script, *args)
    nproc_per_node: int
    devices: tuple[str, ...]      # DPTRAIN_DEVICE per local rank
    job_token: str = field(repr=False)
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 0          # 0: a fresh free port for every attempt (one node only)
    max_restarts: int = 0
    timeout: Optional[float] = None
    grace_period: float = 5.0
    log_dir: Optional[str] = None
    allow_mixed_devices: bool = False
    run_id: str = "none"          # TORCHELASTIC_RUN_ID (torchrun's --rdzv-id)
    role: str = "default"         # ROLE_NAME
    virtual_local_rank: bool = False  # every worker sees LOCAL_RANK=0
    monitor_interval: float = 0.05
    signals: tuple[int, ...] = DEFAULT_SIGNALS  # stop the job (forwarded to the workers)
    routes: Optional[tuple[Routes, ...]] = None  # per local rank; None: console, and the log if any

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node

    def rank_of(self, local_rank: int) -> int:
        return self.node_rank * self.nproc_per_node + local_rank

    def routes_of(self, local_rank: int) -> Routes:
        if self.routes is not None:
            return self.routes[local_rank]
        log = self.log_dir is not None
        return Routes(out_log=log, err_log=log)


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
    """`base` (the launcher's environment) plus this worker's place in the job: dptrain's
    variables and torchrun's (a torch script runs under dptrain-launch as under torchrun)."""
    env = {k: v for k, v in base.items() if k not in _DROPPED}
    rank = spec.rank_of(local_rank)
    env.update({
        E.RANK: str(rank),
        E.LOCAL_RANK: "0" if spec.virtual_local_rank else str(local_rank),
        E.WORLD_SIZE: str(spec.world_size),
        E.LOCAL_WORLD_SIZE: str(spec.nproc_per_node),
        E.MASTER_ADDR: spec.master_addr,
        E.MASTER_PORT: str(master_port),
        E.DEVICE: spec.devices[local_rank],
        E.JOB_TOKEN: spec.job_token,
        E.RESTART_COUNT: str(restart_count),
        E.LAUNCH_ID: spec.run_id,
        E.TORCHELASTIC_RUN_ID: spec.run_id,
        E.TORCHELASTIC_RESTART_COUNT: str(restart_count),
        E.TORCHELASTIC_MAX_RESTARTS: str(spec.max_restarts),
        E.GROUP_RANK: str(spec.node_rank),
        E.GROUP_WORLD_SIZE: str(spec.nnodes),
        E.ROLE_RANK: str(rank),
        E.ROLE_WORLD_SIZE: str(spec.world_size),
        E.ROLE_NAME: spec.role,
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
