import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _is_test_worker(pid: int) -> bool:
    """Guards the cleanup against a pid that was reused by an unrelated process."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"pid_worker.py" in cmdline or b"time.sleep(60)" in cmdline


class Launch:
    """Runs `python -m launcher` from the repository and cleans up after the test."""

    def __init__(self):
        self._procs: list[subprocess.Popen] = []
        self._pids: set[int] = set()

    @staticmethod
    def script(name: str) -> str:
        return str(SCRIPTS / name)

    @staticmethod
    def env(**extra: str) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "DPTRAIN_JOB_TOKEN")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 30, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "launcher", *args], cwd=REPO, env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "launcher", *args], cwd=REPO, env=env or self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._procs.append(proc)
        return proc

    def read_pids(self, pid_dir: Path, count: int, prefix: str = "rank", timeout: float = 15) -> list[int]:
        """Waits until `count` workers have recorded their pids in `pid_dir`."""
        deadline = time.monotonic() + timeout
        while True:
            names = sorted(p for p in os.listdir(pid_dir) if p.startswith(prefix) and p.endswith(".pid"))
            if len(names) >= count:
                pids = [int((pid_dir / n).read_text()) for n in names]
                self._pids.update(pids)
                return pids
            assert time.monotonic() < deadline, f"only {names} in {pid_dir} after {timeout} s"
            time.sleep(0.05)

    @staticmethod
    def wait_gone(pids, timeout: float) -> list[int]:
        """The pids still alive after waiting up to `timeout` seconds for all to end."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [p for p in pids if pid_alive(p)]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.05)

    @staticmethod
    def rank_lines(text: str, rank: int) -> list[str]:
        prefix = f"[rank {rank}] "
        return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]

    @classmethod
    def rank_json(cls, text: str, rank: int) -> dict:
        (line,) = [l for l in cls.rank_lines(text, rank) if l.startswith("{")]
        return json.loads(line)

    def cleanup(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for pid in self._pids:  # a failed test must not leave workers behind either
            if pid_alive(pid) and _is_test_worker(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def launch():
    helper = Launch()
    yield helper
    helper.cleanup()
