"""Clean shutdowns: SIGHUP and SIGQUIT stop a job as SIGTERM does (the workers get the grace
period), and the root cause is the first failure, a rank that exited 0 early included."""
import signal
import time
from types import SimpleNamespace

import pytest

from launcher.job import JobSpec
from launcher.supervisor import Supervisor

SAVER = """
import os, signal, sys, time
rank, out = os.environ["RANK"], sys.argv[1]
def save_and_leave(sig, frame):
    time.sleep(0.3)  # a checkpoint takes a moment
    with open(os.path.join(out, f"saved{rank}"), "w") as f:
        f.write(signal.Signals(sig).name)
    sys.exit(0)
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
    signal.signal(s, save_and_leave)
open(os.path.join(out, f"ready{rank}"), "w").close()
time.sleep(60)
"""


def _wait_for(path, names, timeout=20):
    deadline = time.monotonic() + timeout
    while not all((path / n).exists() for n in names):
        assert time.monotonic() < deadline, f"{names} never appeared in {path}"
        time.sleep(0.05)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("sig, extra", [(signal.SIGHUP, []), (signal.SIGQUIT, []), (signal.SIGTERM, []),
                                        (signal.SIGUSR1, ["--signals-to-handle", "SIGTERM,SIGUSR1"])])
def test_a_stop_signal_gives_the_workers_the_grace_period(launch, tmp_path, sig, extra):
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    proc = launch.start("--nproc-per-node", "2", "--devices", "cpu", "--grace-period", "5", *extra,
                        str(script), str(tmp_path))
    _wait_for(tmp_path, ["ready0", "ready1"])
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig, err
    assert f"received {signal.Signals(sig).name}; all workers stopped" in err
    for rank in (0, 1):  # each worker had the time to save, and was told why
        assert (tmp_path / f"saved{rank}").read_text() == signal.Signals(sig).name


@pytest.mark.timeout(30)
def test_a_rank_that_exits_0_early_is_the_root_cause(launch, tmp_path):
    script = tmp_path / "early.py"
    script.write_text(
        "import os, sys, time\n"
        "if os.environ['RANK'] == '1':\n"
        "    time.sleep(0.3); print('rank 1 thinks it is done', file=sys.stderr); sys.exit(0)\n"
        "time.sleep(1.5)\n"
        "sys.exit('rank 0: peer 1 is gone')\n")
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", str(script))
    assert r.returncode == 1  # the failure's exit code, not the early rank's 0
    cause = r.stderr[r.stderr.index("dptrain-launch: root cause"):]
    assert "rank:       1 " in cause
    assert "exit code:  0, while the other ranks were still running" in cause
    assert "then:       rank 0 exited with code 1" in cause
    assert "rank 1 thinks it is done" in cause
    assert "last lines of rank 0's stderr:" in cause and "rank 0: peer 1 is gone" in cause


def _worker(rank, exited_at, rc):
    return SimpleNamespace(rank=rank, local_rank=rank, pid=1000 + rank, exited_at=exited_at,
                           done=exited_at is not None, proc=SimpleNamespace(returncode=rc))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("workers, failed, root", [
    ([_worker(0, 5.2, 1), _worker(1, 5.1, 7), _worker(2, None, None)], 1, 1),  # both seen at once
    ([_worker(0, 5.2, 1), _worker(1, 5.0, 0), _worker(2, None, None)], 0, 1),  # rank 1 left early
    ([_worker(0, 5.2, 1), _worker(1, 5.3, 0), _worker(2, None, None)], 0, 0),  # rank 1 left after
])
def test_the_first_failure_by_exit_time_is_the_root_cause(workers, failed, root):
    spec = JobSpec(command=("python",), nproc_per_node=3, devices=("cpu",) * 3, job_token="t")
    outcome = Supervisor(spec, router=None, base_env={})._watch(workers, deadline=None)
    assert (outcome.kind, outcome.worker.rank, outcome.root.rank) == ("failure", failed, root)
