import os

import pytest

from launcher.devices import count_vulkan_gpus
from launcher.job import available_cores


@pytest.mark.timeout(30)
def test_two_workers_get_their_env_prefixed_output_and_logs(launch, tmp_path):
    log_dir = tmp_path / "logs"
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--log-dir", str(log_dir),
                   launch.script("env_worker.py"), "--lr", "0.1", "data dir")
    assert r.returncode == 0, r.stderr

    infos = [launch.rank_json(r.stdout, rank) for rank in (0, 1)]
    threads = str(max(1, available_cores() // 2))
    for rank, info in enumerate(infos):
        assert info["RANK"] == info["LOCAL_RANK"] == str(rank)
        assert info["WORLD_SIZE"] == info["LOCAL_WORLD_SIZE"] == "2"
        assert info["MASTER_ADDR"] == "127.0.0.1"
        assert 0 < int(info["MASTER_PORT"]) < 65536
        assert info["DPTRAIN_DEVICE"] == "cpu"
        assert info["DPTRAIN_RESTART_COUNT"] == "0"
        assert info["PYTHONUNBUFFERED"] == "1"
        assert info["OMP_NUM_THREADS"] == info["OPENBLAS_NUM_THREADS"] == info["MKL_NUM_THREADS"] == threads
        assert info["argv"] == ["--lr", "0.1", "data dir"]  # options after the script are the script's
    assert infos[0]["MASTER_PORT"] == infos[1]["MASTER_PORT"]
    token = infos[0]["DPTRAIN_JOB_TOKEN"]
    assert len(token) >= 32 and infos[1]["DPTRAIN_JOB_TOKEN"] == token

    # every output line carries its rank, stdout and stderr alike
    assert all(line.startswith(("[rank 0] ", "[rank 1] ")) for line in r.stdout.splitlines())
    for rank in (0, 1):
        assert f"[rank {rank}] note from rank {rank} on stderr" in r.stderr.splitlines()

    for rank in (0, 1):
        log = (log_dir / f"rank_{rank}.log").read_text().splitlines()
        assert f"note from rank {rank} on stderr" in log
        assert any(f'"RANK": "{rank}"' in line for line in log)
    assert sorted(os.listdir(log_dir)) == ["rank_0.log", "rank_1.log"]


@pytest.mark.timeout(30)
def test_each_job_gets_a_fresh_token_and_user_thread_settings_stay(launch):
    env = launch.env(MKL_NUM_THREADS="3")
    tokens = []
    for _ in range(2):
        r = launch.run("--devices", "cpu", launch.script("env_worker.py"), env=env)
        assert r.returncode == 0, r.stderr
        info = launch.rank_json(r.stdout, 0)
        assert info["WORLD_SIZE"] == "1"  # --nproc-per-node defaults to 1
        assert info["MKL_NUM_THREADS"] == "3"
        assert info["OMP_NUM_THREADS"] == str(available_cores())
        tokens.append(info["DPTRAIN_JOB_TOKEN"])
    assert tokens[0] != tokens[1]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("devices, nproc, expected", [
    ("cpu", "2", ["cpu", "cpu"]),
    ("0,1", "2", ["vulkan:0", "vulkan:1"]),
    ("1", "2", ["vulkan:1", "vulkan:1"]),       # fewer GPUs than workers: they share it
    ("0,1", "auto", ["vulkan:0", "vulkan:1"]),
])
def test_devices_option_assigns_devices_in_rank_order(launch, devices, nproc, expected):
    r = launch.run("--nproc-per-node", nproc, "--devices", devices, launch.script("env_worker.py"))
    assert r.returncode == 0, r.stderr
    got = [launch.rank_json(r.stdout, rank)["DPTRAIN_DEVICE"] for rank in range(len(expected))]
    assert got == expected
    assert launch.rank_lines(r.stdout, len(expected)) == []  # no extra worker


@pytest.mark.timeout(30)
def test_auto_without_gpus_starts_one_cpu_worker_per_core_as_torchrun(launch):
    if count_vulkan_gpus():
        pytest.skip("this host has a Vulkan GPU")
    r = launch.run("--nproc-per-node", "auto", launch.script("env_worker.py"))
    assert r.returncode == 0, r.stderr
    cores = available_cores()
    infos = [launch.rank_json(r.stdout, rank) for rank in range(cores)]
    assert all(i["WORLD_SIZE"] == str(cores) and i["DPTRAIN_DEVICE"] == "cpu" for i in infos)
    assert launch.rank_lines(r.stdout, cores) == []
