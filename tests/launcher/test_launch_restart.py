import numpy as np
import pytest


@pytest.mark.timeout(40)
def test_restarted_job_resumes_from_its_checkpoint_and_matches_an_unbroken_run(launch, tmp_path):
    broken, unbroken = tmp_path / "broken", tmp_path / "unbroken"
    broken.mkdir()
    unbroken.mkdir()
    script = launch.script("sgd_worker.py")

    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--max-restarts", "1", "--grace-period", "2",
                   script, str(broken), "1", "5")
    assert r.returncode == 0, r.stderr
    assert "[rank 1] rank 1 crashing after step 5" in r.stderr
    assert "restarting all workers (restart 1 of 1)" in r.stderr
    assert "[rank 1] restart 1: resuming at step 5" in r.stdout
    assert "[rank 0] restart 1: resuming at step 0" not in r.stdout  # rank 0 had checkpointed too

    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", script, str(unbroken), "-1", "0")
    assert r.returncode == 0, r.stderr
    assert "restart" not in r.stderr
    for rank in (0, 1):
        w_broken = np.load(broken / f"weights_rank{rank}.npy")
        w_unbroken = np.load(unbroken / f"weights_rank{rank}.npy")
        np.testing.assert_array_equal(w_broken, w_unbroken)


@pytest.mark.timeout(30)
def test_failure_after_the_last_restart_ends_the_job(launch, tmp_path):
    script = tmp_path / "always_fails.py"
    script.write_text(
        "import os, sys\n"
        "print('restart', os.environ['DPTRAIN_RESTART_COUNT'], 'port', os.environ['MASTER_PORT'])\n"
        "sys.exit(5)\n")
    r = launch.run("--devices", "cpu", "--max-restarts", "2", "--log-dir", str(tmp_path / "logs"), str(script))
    assert r.returncode == 5
    runs = launch.rank_lines(r.stdout, 0)
    assert [line.split()[1] for line in runs] == ["0", "1", "2"]
    assert r.stderr.count("dptrain-launch: root cause") == 3
    log = (tmp_path / "logs" / "rank_0.log").read_text()
    assert "--- dptrain-launch: restart 2 ---" in log and log.count("port") == 3
