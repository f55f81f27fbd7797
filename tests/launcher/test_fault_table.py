"""The fault table, as tests: a 2-worker dptrain job under dptrain-launch meets one fault each
(a worker killed, a worker stopped, the launcher signalled, a worker raising at step 5, one
exiting 0 early, the master port taken, one node of a 2-node loopback job killed, a crash with
--max-restarts). For each: time from the fault to the launcher's exit, its exit code, the rank
the report names, and the processes left behind (must be none).

Set DPTRAIN_FAULT_REPORT=path to append each row (JSON) to a file; benchmarks/fault_table.py
prints the table.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch_helpers import REPO, SCRIPTS, clean_env

WORKER = str(SCRIPTS / "fault_worker.py")
GRACE = "2"


def _env(**extra) -> dict:
    return clean_env(OMP_NUM_THREADS="1", FAULT_TIMEOUT="5", **extra)


def _start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "launcher", *args], cwd=REPO, env=env or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _launch(out: Path, fault: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return _start("--nproc-per-node", "2", "--devices", "cpu", "--grace-period", GRACE, *extra,
                  WORKER, str(out), fault, env=env)


def _wait_files(out: Path, names, proc, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while not all((out / n).exists() for n in names):
        if proc.poll() is not None:
            pytest.fail(f"the job ended early ({proc.returncode}): {proc.communicate()}")
        assert time.monotonic() < deadline, f"{names} never appeared"
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True


def _orphans(out: Path, extra=()) -> list[int]:
    """Worker pids (every attempt) and `extra` pids still alive 5 s after the launcher ended."""
    pids = [int(p) for p in (out / "pids.log").read_text().split()] if (out / "pids.log").exists() else []
    pids += list(extra)
    deadline = time.monotonic() + 5
    while True:
        alive = [p for p in pids if pid_alive(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _named(err: str) -> tuple[int | None, list[int]]:
    """(the root-cause rank, the ranks its report says were lost or waited for)."""
    m = re.search(r"root cause =+\n  rank:\s+(\d+)", err)
    lost = sorted({int(x) for x in re.findall(r"(?:connection to|waiting for|from) rank (\d+)", err)})
    return (int(m.group(1)) if m else None), lost


def _row(fault: str, seconds: float, code: int, err: str, orphans: list, **more) -> dict:
    root, lost = _named(err)
    row = {"fault": fault, "teardown_s": round(seconds, 2), "exit_code": code, "root_cause_rank": root,
           "ranks_named_lost": lost, "orphans": len(orphans), **more}
    print("\nFAULT " + json.dumps(row))
    if os.environ.get("DPTRAIN_FAULT_REPORT"):
        with open(os.environ["DPTRAIN_FAULT_REPORT"], "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


def _fault_time(out: Path) -> float:
    return float((out / "fault.time").read_text())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("fault, code, root, lost, bound", [
    ("kill:1:5", 128 + signal.SIGKILL, 1, None, 5.0),      # the killed rank is the first to fail
    ("stop:1:5", 1, 0, 1, 10.0),                           # rank 0 notices (heartbeats, 5 s) and names 1
    ("raise:1:5", 1, 1, None, 5.0),
    ("exit0:1:5", 1, 1, 1, 5.0),                           # rank 0 fails because 1 left: 1 is the root cause
], ids=["worker SIGKILL", "worker SIGSTOP", "worker raises at step 5", "worker exits 0 at step 5"])
def test_a_worker_fault_ends_the_job(tmp_path, fault, code, root, lost, bound):
    p = _launch(tmp_path, fault)
    try:
        _, err = p.communicate(timeout=60)
        ended = time.time()
    finally:
        if p.poll() is None:
            p.kill()
    took = ended - _fault_time(tmp_path)
    label = {"kill": "worker SIGKILLed at step 5", "stop": "worker SIGSTOPped at step 5",
             "raise": "worker raises at step 5", "exit0": "worker exits 0 at step 5"}[fault.split(":")[0]]
    row = _row(label, took, p.returncode, err, _orphans(tmp_path))
    assert p.returncode == code, err
    assert row["root_cause_rank"] == root, err
    if lost is not None:
        assert lost in row["ranks_named_lost"], err
    assert row["orphans"] == 0
    assert took < bound, f"{took:.1f} s from the fault to the launcher's exit"
    if fault.startswith("raise"):
        assert "RuntimeError: rank 1 fails at step 5" in err
    if fault.startswith("exit0"):
        assert "exit code:  0, while the other ranks were still running" in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["launcher SIGTERM", "launcher SIGINT"])
def test_a_signal_to_the_launcher_stops_the_job(tmp_path, sig):
    p = _launch(tmp_path, "forever")
    try:
        _wait_files(tmp_path, ["ready0", "ready1"], p)
        t0 = time.time()
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        took = time.time() - t0
    finally:
        if p.poll() is None:
            p.kill()
    row = _row(f"launcher {signal.Signals(sig).name}", took, p.returncode, err, _orphans(tmp_path, [p.pid]))
    assert p.returncode == 128 + sig, err
    assert f"received {signal.Signals(sig).name}; all workers stopped" in err
    assert row["orphans"] == 0 and took < 5


@pytest.mark.timeout(60)
def test_the_master_port_taken_fails_at_once_naming_it(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(8)
        port = squatter.getsockname()[1]
        t0 = time.time()
        p = _launch(tmp_path, "none", "--master-port", str(port))
        try:
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        took = time.time() - t0
    row = _row("master port busy", took, p.returncode, err, _orphans(tmp_path))
    assert p.returncode == 1, err
    assert row["root_cause_rank"] == 0 and f"cannot serve rendezvous on tcp://127.0.0.1:{port}" in err, err
    assert "Address already in use" in err
    assert row["orphans"] == 0 and took < 15


@pytest.mark.timeout(90)
@pytest.mark.parametrize("victim", [1, 0], ids=["node 1 killed", "node 0 killed"])
def test_one_node_of_a_two_node_loopback_job_killed(tmp_path, victim):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(DPTRAIN_JOB_TOKEN="fault-table-" + os.urandom(8).hex())
    nodes = [_start("--nnodes", "2", "--node-rank", str(n), "--nproc-per-node", "1", "--master-port", str(port),
                    "--devices", "cpu", "--grace-period", GRACE, WORKER, str(tmp_path), "forever", env=env)
             for n in (0, 1)]
    try:
        for n in nodes:
            _wait_files(tmp_path, ["ready0", "ready1"], n)
        t0 = time.time()
        nodes[victim].kill()
        nodes[victim].wait(timeout=10)
        _, err = nodes[1 - victim].communicate(timeout=30)
        took = time.time() - t0
    finally:
        for n in nodes:
            if n.poll() is None:
                n.kill()
    survivor = nodes[1 - victim]
    row = _row(f"one node of 2 (loopback) SIGKILLed: node {victim}", took, survivor.returncode, err,
               _orphans(tmp_path, [n.pid for n in nodes]))
    assert survivor.returncode == 1, err
    assert row["root_cause_rank"] == 1 - victim and victim in row["ranks_named_lost"], err
    assert row["orphans"] == 0 and took < 10


@pytest.mark.timeout(120)
def test_a_crash_with_max_restarts_resumes_from_the_checkpoint(tmp_path):
    broken, unbroken = tmp_path / "broken", tmp_path / "unbroken"
    broken.mkdir()
    unbroken.mkdir()
    p = _launch(broken, "crash:1:5", "--max-restarts", "1")
    try:
        out, err = p.communicate(timeout=90)
        ended = time.time()
    finally:
        if p.poll() is None:
            p.kill()
    m = re.search(r"dptrain-launch: restarting all workers", err)
    assert p.returncode == 0 and m, err
    assert "[rank 1] rank 1 restart 1: starting at step 5" in out, out  # rank 0's checkpoint
    final = json.loads((broken / "final.json").read_text())
    assert final["restart"] == 1
    r = _launch(unbroken, "crash:-1:-1")
    r.communicate(timeout=90)
    clean = json.loads((unbroken / "final.json").read_text())
    assert final["digest"] == clean["digest"] and final["loss"] == clean["loss"]
    # (the time is from the crash to the end of the restarted run, which trains 25 more steps)
    row = _row("crash at step 5, --max-restarts 1 (time: crash to finished run)", ended - _fault_time(broken),
               p.returncode, err, _orphans(broken), final_loss=final["loss"], uninterrupted_loss=clean["loss"])
    assert row["root_cause_rank"] == 1 and row["orphans"] == 0
