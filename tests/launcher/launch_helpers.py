"""Helpers of the launcher tests that start real launchers (dptrain-launch, torchrun) and read
what their workers print."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
WORKER = str(SCRIPTS / "dist_worker.py")

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


def clean_env(**extra: str) -> dict:
    """This environment without any launcher's variables, with the repository importable."""
    drop = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
            "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME",
            "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith(("DPTRAIN_", "PET_", "TORCHELASTIC_", "SLURM_", "OMPI_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def results(text: str) -> list[dict]:
    """The workers' JSON lines (with or without a launcher's prefix), by rank."""
    found = [json.loads(line[line.index("{"):]) for line in text.splitlines()
             if "{" in line and '"digest"' in line]
    return sorted(found, key=lambda r: r["rank"])


def torchrun(*args: str, env: dict, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def dptrain_launch(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launcher", *args], cwd=REPO, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def non_loopback_address() -> str | None:
    """An address of this host other than loopback (a stand-in for another host's view of it)."""
    for target in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target, 9))
                ip = s.getsockname()[0]
            with socket.socket() as s:
                s.bind((ip, 0))
        except OSError:
            continue
        if not ip.startswith("127."):
            return ip
    return None
