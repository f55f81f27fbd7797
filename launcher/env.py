"""The environment contract between the launcher and its workers.

The launcher sets these variables for every worker; the worker side
(`dptrain.distributed`) reads them only through `read_worker_env`, which also
understands SLURM (`srun`) and OpenMPI (`mpirun`) so the same script runs there.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional

RANK = "RANK"
LOCAL_RANK = "LOCAL_RANK"
WORLD_SIZE = "WORLD_SIZE"
LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE"
MASTER_ADDR = "MASTER_ADDR"
MASTER_PORT = "MASTER_PORT"
DEVICE = "DPTRAIN_DEVICE"
JOB_TOKEN = "DPTRAIN_JOB_TOKEN"
RESTART_COUNT = "DPTRAIN_RESTART_COUNT"
BACKEND = "DPTRAIN_BACKEND"
ALLOW_MIXED_DEVICES = "DPTRAIN_ALLOW_MIXED_DEVICES"  # "1": ranks may run on different backends
AUTO_DISTRIBUTED = "DPTRAIN_AUTO_DISTRIBUTED"        # "0": Keras fit under a launcher trains alone

DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class WorkerEnv:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: int
    device: str
    job_token: str
    restart_count: int
    source: str  # "launcher", "slurm", "openmpi" or "single"


def _int(env: Mapping[str, str], name: str, default: Optional[int] = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        if default is None:
            raise RuntimeError(f"environment variable {name} is not set")
        return default
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"environment variable {name}={raw!r} is not an integer") from None


def first_slurm_host(nodelist: str) -> str:
    """First host of a SLURM node list: 'node[03-05,07],gpu1' -> 'node03', 'r[1-2]-n[4-5]' -> 'r1-n4'."""
    text = nodelist.strip()
    depth, end = 0, len(text)
    for i, c in enumerate(text):  # the first host expression ends at a comma outside brackets
        depth += (c == "[") - (c == "]")
        if c == "," and depth == 0:
            end = i
            break
    host = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1).split(",")[0].split("-")[0], text[:end])
    if not host or "[" in host or "]" in host:
        raise RuntimeError(f"cannot parse SLURM node list {nodelist!r}")
    return host


def slurm_tasks_on_node(tasks_per_node: str, node_id: int) -> int:
    """Tasks on node `node_id` from SLURM_TASKS_PER_NODE, e.g. '2(x3),1' -> 2, 2, 2, 1."""
    counts: list[int] = []
    for part in tasks_per_node.split(","):
        m = re.fullmatch(r"\s*(\d+)(?:\(x(\d+)\))?\s*", part)
        if not m:
            raise RuntimeError(f"cannot parse SLURM_TASKS_PER_NODE={tasks_per_node!r}")
        counts.extend([int(m.group(1))] * int(m.group(2) or 1))
    return counts[min(node_id, len(counts) - 1)]


def read_worker_env(env: Optional[Mapping[str, str]] = None) -> WorkerEnv:
    """This process's place in the job, from the launcher's, SLURM's or OpenMPI's variables."""
    env = os.environ if env is None else env
    token = env.get(JOB_TOKEN, "")
    device = env.get(DEVICE, "")
    restarts = _int(env, RESTART_COUNT, 0)
    if WORLD_SIZE in env and RANK in env:
        rank, world = _int(env, RANK), _int(env, WORLD_SIZE)
        local_rank = _int(env, LOCAL_RANK, rank)
        local_world = _int(env, LOCAL_WORLD_SIZE, world)
        addr = env.get(MASTER_ADDR, "127.0.0.1")
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT)
        source = "launcher"
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        rank, world = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS")
        local_rank = _int(env, "SLURM_LOCALID", 0)
        local_world = _int(env, "SLURM_NTASKS_PER_NODE", 0)
        if not local_world and env.get("SLURM_TASKS_PER_NODE"):
            local_world = slurm_tasks_on_node(env["SLURM_TASKS_PER_NODE"], _int(env, "SLURM_NODEID", 0))
        local_world = local_world or world
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_NODELIST") or env.get("SLURM_JOB_NODELIST")
        addr = env.get(MASTER_ADDR) or (first_slurm_host(nodelist) if nodelist else "127.0.0.1")
        job_id = _int(env, "SLURM_JOB_ID", 0)
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT + job_id % 10000)
        token = token or env.get("SLURM_JOB_ID", "")
        source = "slurm"
    elif "OMPI_COMM_WORLD_RANK" in env and "OMPI_COMM_WORLD_SIZE" in env:
        rank, world = _int(env, "OMPI_COMM_WORLD_RANK"), _int(env, "OMPI_COMM_WORLD_SIZE")
        local_rank = _int(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0)
        local_world = _int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", world)
        if MASTER_ADDR not in env and world > 1:
            raise RuntimeError("under mpirun, set MASTER_ADDR (and MASTER_PORT) to the host of rank 0")
        addr = env.get(MASTER_ADDR, "127.0.0.1")
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT)
        source = "openmpi"
    else:
        rank, world, local_rank, local_world = 0, 1, 0, 1
        addr, port, source = "127.0.0.1", 0, "single"
    if not (0 <= rank < world):
        raise RuntimeError(f"rank {rank} is outside world size {world}")
    return WorkerEnv(rank, world, local_rank, local_world, addr, port, device, token, restarts, source)
