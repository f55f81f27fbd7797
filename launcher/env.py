"""The environment contract between the launcher and its workers.

The launcher sets these variables for every worker (torchrun's names, and torchrun's
TORCHELASTIC_* / GROUP_* / ROLE_* too); the worker side (`dptrain.distributed`) reads them
only through `read_worker_env`, which also understands torchrun, SLURM (`srun`), OpenMPI
(`mpirun`) and a plain RANK/WORLD_SIZE environment (Kubeflow's PyTorchJob), so the same
script runs under each. The job secret never travels in argv: see `launcher.secret`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional

RANK = "RANK"
LOCAL_RANK = "LOCAL_RANK"
WORLD_SIZE = "WORLD_SIZE"
LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE"
MASTER_ADDR = "MASTER_ADDR"
MASTER_PORT = "MASTER_PORT"
DEVICE = "DPTRAIN_DEVICE"
JOB_TOKEN = "DPTRAIN_JOB_TOKEN"
SECRET_FILE = "DPTRAIN_SECRET_FILE"    # a file (mode 0600) holding the job secret
RESTART_COUNT = "DPTRAIN_RESTART_COUNT"
BACKEND = "DPTRAIN_BACKEND"
ALLOW_MIXED_DEVICES = "DPTRAIN_ALLOW_MIXED_DEVICES"  # "1": ranks may run on different backends
AUTO_DISTRIBUTED = "DPTRAIN_AUTO_DISTRIBUTED"        # "0": Keras fit under a launcher trains alone
# The port dptrain's rendezvous binds on rank 0's host. Default: MASTER_PORT, except under
# torchrun, whose agent holds MASTER_PORT for its own store: there MASTER_PORT + 1.
RDZV_PORT = "DPTRAIN_MASTER_PORT"
LAUNCH_ID = "DPTRAIN_LAUNCH_ID"  # dptrain-launch's run id: tells its workers from torchrun's

# torchrun's (torch.distributed.elastic) worker variables; dptrain-launch sets them too.
TORCHELASTIC_RUN_ID = "TORCHELASTIC_RUN_ID"
TORCHELASTIC_RESTART_COUNT = "TORCHELASTIC_RESTART_COUNT"
TORCHELASTIC_MAX_RESTARTS = "TORCHELASTIC_MAX_RESTARTS"
GROUP_RANK = "GROUP_RANK"
GROUP_WORLD_SIZE = "GROUP_WORLD_SIZE"
ROLE_RANK = "ROLE_RANK"
ROLE_WORLD_SIZE = "ROLE_WORLD_SIZE"
ROLE_NAME = "ROLE_NAME"

DEFAULT_MASTER_PORT = 29500


@dataclass(frozen=True)
class WorkerEnv:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: int      # where dptrain's rendezvous runs (see RDZV_PORT), not always MASTER_PORT
    device: str
    job_token: str = field(repr=False)  # DPTRAIN_JOB_TOKEN, "" when not given; never printed
    restart_count: int = 0
    source: str = "single"  # "dptrain-launch", "torchrun", "env", "slurm", "openmpi" or "single"
    run_id: str = ""        # names this run of the job (the key of a same-host secret)
    same_host: bool = True  # the environment says every rank runs on this host
    secret_file: str = ""   # DPTRAIN_SECRET_FILE


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


def derived_port(master_port: int) -> int:
    """dptrain's rendezvous port next to a MASTER_PORT that someone else holds (torchrun's store)."""
    return master_port + 1 if master_port < 65535 else master_port - 1


def _run_id_slurm(env: Mapping[str, str]) -> str:
    job = env.get("SLURM_JOB_ID", "")
    return f"slurm-{job}.{env.get('SLURM_STEP_ID', '')}" if job else ""


def read_worker_env(env: Optional[Mapping[str, str]] = None) -> WorkerEnv:
    """This process's place in the job, from dptrain-launch's, torchrun's, SLURM's or OpenMPI's
    variables (or a plain RANK/WORLD_SIZE environment, as Kubeflow's PyTorchJob sets).

    Reads only the environment: the job secret is resolved by `launcher.secret.job_secret`.
    """
    env = os.environ if env is None else env
    token = env.get(JOB_TOKEN, "")
    device = env.get(DEVICE, "")
    restarts = _int(env, RESTART_COUNT, 0)
    run_id = ""
    if WORLD_SIZE in env and RANK in env:
        rank, world = _int(env, RANK), _int(env, WORLD_SIZE)
        local_rank = _int(env, LOCAL_RANK, rank)
        known_local = env.get(LOCAL_WORLD_SIZE, "") != ""
        local_world = _int(env, LOCAL_WORLD_SIZE, world)
        same_host = known_local and local_world == world
        addr = env.get(MASTER_ADDR, "127.0.0.1")
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT)
        run_id = env.get(TORCHELASTIC_RUN_ID, "")
        if env.get(LAUNCH_ID):
            source = "dptrain-launch"
        elif run_id:
            # torchrun: its agent serves its store on MASTER_PORT (rank 0's host)
            source = "torchrun"
            port = derived_port(port)
            restarts = _int(env, TORCHELASTIC_RESTART_COUNT, 0)
        else:
            source = "env"
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        rank, world = _int(env, "SLURM_PROCID"), _int(env, "SLURM_NTASKS")
        local_rank = _int(env, "SLURM_LOCALID", 0)
        local_world = _int(env, "SLURM_NTASKS_PER_NODE", 0)
        if not local_world and env.get("SLURM_TASKS_PER_NODE"):
            local_world = slurm_tasks_on_node(env["SLURM_TASKS_PER_NODE"], _int(env, "SLURM_NODEID", 0))
        nodes = env.get("SLURM_STEP_NUM_NODES") or env.get("SLURM_NNODES") or env.get("SLURM_JOB_NUM_NODES")
        same_host = nodes == "1" or local_world == world
        local_world = local_world or world
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_NODELIST") or env.get("SLURM_JOB_NODELIST")
        addr = env.get(MASTER_ADDR) or (first_slurm_host(nodelist) if nodelist else "127.0.0.1")
        job_id = _int(env, "SLURM_JOB_ID", 0)
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT + job_id % 10000)
        run_id = _run_id_slurm(env)
        source = "slurm"
    elif "OMPI_COMM_WORLD_RANK" in env and "OMPI_COMM_WORLD_SIZE" in env:
        rank, world = _int(env, "OMPI_COMM_WORLD_RANK"), _int(env, "OMPI_COMM_WORLD_SIZE")
        local_rank = _int(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0)
        same_host = env.get("OMPI_COMM_WORLD_LOCAL_SIZE", "") == str(world)
        local_world = _int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", world)
        if MASTER_ADDR not in env and world > 1:
            raise RuntimeError("under mpirun, set MASTER_ADDR (and MASTER_PORT) to the host of rank 0")
        addr = env.get(MASTER_ADDR, "127.0.0.1")
        port = _int(env, MASTER_PORT, DEFAULT_MASTER_PORT)
        run_id = env.get("PMIX_NAMESPACE") or env.get("OMPI_MCA_ess_base_jobid", "")
        source = "openmpi"
    else:
        rank, world, local_rank, local_world = 0, 1, 0, 1
        addr, port, source, same_host = "127.0.0.1", 0, "single", True
    if env.get(RDZV_PORT):
        port = _int(env, RDZV_PORT)
    if not (0 <= rank < world):
        raise RuntimeError(f"rank {rank} is outside world size {world}")
    if world > 1 and not 0 < port < 65536:
        raise RuntimeError(f"the rendezvous port {port} is outside 1..65535 (set {RDZV_PORT})")
    return WorkerEnv(rank, world, local_rank, local_world, addr, port, device, token, restarts,
                     source, run_id, same_host or world == 1, env.get(SECRET_FILE, ""))
