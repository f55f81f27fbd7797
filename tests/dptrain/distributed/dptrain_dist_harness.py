"""Starts multi-process collective jobs on loopback for the tests.

Each worker runs `dptrain_dist_worker.py <scenario>` with the launcher's
environment variables set by hand, and prints one line `RESULT <json>`.
Children are always killed in a finally.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
WORKER = os.path.join(HERE, "dptrain_dist_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Job:
    def __init__(self, scenario: str, world_size: int, *, ranks: Optional[Sequence[int]] = None,
                 env: Optional[Dict[str, str]] = None, args: Sequence[str] = (),
                 token: Optional[str] = None, delays: Optional[Dict[int, float]] = None,
                 rank_env: Optional[Dict[int, Dict[str, str]]] = None):
        self.scenario, self.n = scenario, world_size
        self.ranks = list(range(world_size)) if ranks is None else list(ranks)
        self.port = free_port()
        self.token = token or f"test-{os.getpid()}-{self.port}"
        self.env, self.args = dict(env or {}), list(args)
        self.delays = delays or {}
        self.rank_env = rank_env or {}
        self.procs: Dict[int, subprocess.Popen] = {}

    def _env(self, rank: int) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(RANK=str(rank), WORLD_SIZE=str(self.n), LOCAL_RANK=str(rank),
                   LOCAL_WORLD_SIZE=str(self.n), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(self.port), DPTRAIN_JOB_TOKEN=self.token,
                   OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
        env.update(self.env)
        env.update(self.rank_env.get(rank, {}))
        return env

    def start(self) -> "Job":
        order = sorted(self.ranks, key=lambda r: self.delays.get(r, 0.0))
        t0 = time.monotonic()
        for r in order:
            wait = self.delays.get(r, 0.0) - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            self.procs[r] = subprocess.Popen(
                [sys.executable, WORKER, self.scenario, *self.args], env=self._env(r),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def results(self, timeout: float, ranks: Optional[Sequence[int]] = None) -> Dict[int, dict]:
        """Wait for `ranks` (default: all started) and parse their RESULT lines."""
        deadline = time.monotonic() + timeout
        texts: Dict[int, tuple] = {}
        late = []
        for r in (self.ranks if ranks is None else ranks):
            try:
                texts[r] = self.procs[r].communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                late.append(r)
        out: Dict[int, dict] = {}
        failed = []
        for r, (so, se) in texts.items():
            res = [ln for ln in so.splitlines() if ln.startswith("RESULT ")]
            if self.procs[r].returncode != 0 or not res:
                failed.append(f"--- rank {r} (exit {self.procs[r].returncode}):\n"
                              f"{so[-2000:]}\n{se[-4000:]}")
            else:
                out[r] = json.loads(res[-1][len("RESULT "):])
        if late or failed:
            raise AssertionError(f"{self.scenario}: ranks {late} did not finish in {timeout} s; "
                                 + "\n".join(failed))
        return out

    def kill(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                except OSError:
                    pass
        for p in self.procs.values():
            try:
                p.communicate(timeout=10)
            except Exception:
                pass

    def __enter__(self) -> "Job":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


def run(scenario: str, world_size: int, timeout: float, **kw) -> List[dict]:
    with Job(scenario, world_size, **kw) as job:
        res = job.results(timeout)
    return [res[r] for r in sorted(res)]
