import signal
import time

import pytest


def _root_cause(stderr: str) -> str:
    start = stderr.index("dptrain-launch: root cause")
    return stderr[start:]


@pytest.mark.timeout(30)
def test_worker_killed_by_sigkill_ends_the_job_and_leaves_nothing(launch, tmp_path):
    started = time.monotonic()
    proc = launch.start("--nproc-per-node", "3", "--devices", "cpu", "--grace-period", "2",
                        launch.script("pid_worker.py"), str(tmp_path), "kill:1", "--child")
    pids = launch.read_pids(tmp_path, 3) + launch.read_pids(tmp_path, 3, prefix="child")
    out, err = proc.communicate(timeout=15)
    assert time.monotonic() - started < 10
    assert proc.returncode == 128 + signal.SIGKILL
    cause = _root_cause(err)
    assert "rank:       1 " in cause and "SIGKILL" in cause
    assert launch.wait_gone(pids, timeout=3) == []  # workers and the children they started


@pytest.mark.timeout(30)
def test_exception_gives_its_exit_code_and_traceback(launch, tmp_path):
    proc = launch.start("--nproc-per-node", "2", "--devices", "cpu", launch.script("pid_worker.py"),
                        str(tmp_path), "raise:0")
    pids = launch.read_pids(tmp_path, 2)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1  # what Python exits with on an uncaught exception
    cause = _root_cause(err)
    assert "rank:       0 " in cause and "exit code:  1" in cause
    assert "Traceback (most recent call last):" in cause
    assert "compute_loss" in cause and "KeyError: 'n'" in cause
    assert "[rank 0] KeyError: 'n'" in err  # also passed through as it happened
    assert launch.wait_gone(pids, timeout=3) == []


@pytest.mark.timeout(30)
def test_exit_code_of_the_failed_worker_is_the_launchers(launch, tmp_path):
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", launch.script("pid_worker.py"),
                   str(tmp_path), "exit:1:7")
    assert r.returncode == 7
    assert "rank 1 exited with code 7" in r.stderr
    assert "(it wrote nothing to stderr)" in _root_cause(r.stderr)


@pytest.mark.timeout(30)
def test_sigkill_to_the_launcher_takes_the_workers_down(launch, tmp_path):
    proc = launch.start("--nproc-per-node", "2", "--devices", "cpu", launch.script("pid_worker.py"),
                        str(tmp_path), "sleep")
    pids = launch.read_pids(tmp_path, 2)
    proc.kill()
    proc.wait(timeout=5)
    assert launch.wait_gone(pids, timeout=5) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_to_the_launcher_stops_everything(launch, tmp_path, sig, code):
    proc = launch.start("--nproc-per-node", "2", "--devices", "cpu", launch.script("pid_worker.py"),
                        str(tmp_path), "sleep", "--child")
    pids = launch.read_pids(tmp_path, 2) + launch.read_pids(tmp_path, 2, prefix="child")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == code
    assert f"received {signal.Signals(sig).name}" in err
    assert "root cause" not in err
    assert launch.wait_gone(pids, timeout=1) == []  # gone before the launcher exited


@pytest.mark.timeout(30)
def test_worker_ignoring_sigterm_is_killed_after_the_grace_period(launch, tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "if os.environ['RANK'] == '1':\n"
        "    time.sleep(0.5); sys.exit(2)\n"
        "print('ignoring SIGTERM', flush=True)\n"
        "time.sleep(60)\n")
    started = time.monotonic()
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--grace-period", "1", str(script))
    elapsed = time.monotonic() - started
    assert r.returncode == 2
    assert "[rank 0] ignoring SIGTERM" in r.stdout
    assert 1.4 < elapsed < 10  # waited the grace period, then SIGKILL


@pytest.mark.timeout(30)
def test_timeout_stops_the_job_with_124(launch, tmp_path):
    started = time.monotonic()
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--timeout", "1.5",
                   launch.script("pid_worker.py"), str(tmp_path), "sleep")
    assert r.returncode == 124
    assert "exceeded --timeout 1.5 s" in r.stderr
    assert time.monotonic() - started < 10
    pids = launch.read_pids(tmp_path, 2, timeout=0)
    assert launch.wait_gone(pids, timeout=1) == []
