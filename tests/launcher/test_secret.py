"""No job runs with an empty or public secret, and the secret never shows: not in argv, log
lines, error messages or output prefixes."""
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from launcher.env import WorkerEnv, read_worker_env
from launcher.job import JobSpec, free_port
from launcher.secret import (JobSecret, SecretError, job_secret, publish, same_host_path, secret_dir,
                             wait_published)

from launch_helpers import REPO, WORKER, clean_env, results


def worker_env(rank=0, world=2, **kw) -> WorkerEnv:
    fields = dict(rank=rank, world_size=world, local_rank=rank, local_world_size=world,
                  master_addr="127.0.0.1", master_port=40000 + os.getpid() % 20000, device="cpu",
                  job_token="", restart_count=0, source="env", run_id=f"test-{time.monotonic_ns()}",
                  same_host=True, secret_file="")
    fields.update(kw)
    return WorkerEnv(**fields)


def secret_file(tmp_path, text="s3cret-in-a-file\n", mode=0o600):
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


@pytest.mark.timeout(10)
def test_the_secret_comes_from_the_environment_or_a_private_file(tmp_path):
    assert job_secret(worker_env(job_token="from-env")).token == "from-env"
    s = job_secret(worker_env(secret_file=secret_file(tmp_path)))
    assert s.token == "s3cret-in-a-file" and "DPTRAIN_SECRET_FILE" in s.origin
    assert job_secret(worker_env(world=1)).token == ""  # no sockets, nothing to protect


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text, mode, message", [
    ("s3cret-in-a-file", 0o644, "chmod 600"),
    ("s3cret-in-a-file", 0o620, "chmod 600"),
    ("  \n", 0o600, "is empty"),
])
def test_a_bad_secret_file_is_refused_without_showing_it(tmp_path, text, mode, message):
    with pytest.raises(SecretError, match=message) as e:
        job_secret(worker_env(secret_file=secret_file(tmp_path, text, mode)))
    assert "s3cret" not in str(e.value)
    with pytest.raises(SecretError, match="cannot read the secret file"):
        job_secret(worker_env(secret_file=str(tmp_path / "missing")))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("env", [
    {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "10.1.2.3", "MASTER_PORT": "29500"},  # PyTorchJob pod
    {"RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "10.1.2.3",
     "TORCHELASTIC_RUN_ID": "j", "MASTER_PORT": "29500"},                               # torchrun, 2 nodes
    {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_NNODES": "2", "SLURM_TASKS_PER_NODE": "1(x2)",
     "SLURM_NODEID": "1", "SLURM_NODELIST": "10.1.2.[3-4]", "SLURM_JOB_ID": "77"},        # srun, 2 nodes
    {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "1",
     "MASTER_ADDR": "10.1.2.3"},                                                           # mpirun, 2 hosts
])
def test_across_hosts_without_a_secret_the_job_refuses_to_start(env):
    w = read_worker_env(env)
    assert not w.same_host and w.job_token == ""
    with pytest.raises(SecretError) as e:
        job_secret(w, timeout=1)
    msg = str(e.value)
    assert "spans hosts and was given no secret" in msg
    assert "DPTRAIN_JOB_TOKEN" in msg and "DPTRAIN_SECRET_FILE" in msg and "--secret-file" in msg


@pytest.mark.timeout(20)
def test_on_one_host_rank_0_makes_the_secret_and_the_others_read_it():
    run = f"run-{time.monotonic_ns()}"
    w0, w1 = worker_env(0, run_id=run), worker_env(1, run_id=run)
    got = {}
    reader = threading.Thread(target=lambda: got.update(token=job_secret(w1, timeout=10).token))
    reader.start()  # rank 1 first: it waits for rank 0's file
    time.sleep(0.3)
    s0 = job_secret(w0)
    reader.join(10)
    assert got["token"] == s0.token and len(s0.token) == 32
    path = same_host_path(w0)
    assert s0.path == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(secret_dir()).st_mode) == 0o700
    # another run (run id) or another port is another key
    assert same_host_path(worker_env(0, run_id="other")) != path
    assert same_host_path(worker_env(0, run_id=w0.run_id, master_port=w0.master_port + 1)) != path
    s0.release()
    assert not os.path.exists(path)
    assert "token" not in repr(s0) and s0.token not in repr(s0)


@pytest.mark.timeout(20)
def test_a_stale_secret_of_a_dead_rank_0_is_never_read(tmp_path):
    w1 = worker_env(1)
    path = same_host_path(w1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, f"{dead.pid} 1 stale-token\n".encode())
    os.close(fd)
    try:
        with pytest.raises(SecretError, match="rank 0 did not leave this job's secret"):
            wait_published(path, timeout=0.5)
        fresh = publish(path)  # the new rank 0 replaces it
        assert wait_published(path, timeout=1) == fresh.token != "stale-token"
        fresh.release()
    finally:
        if os.path.exists(path):
            os.unlink(path)


@pytest.mark.timeout(10)
def test_the_secret_is_kept_out_of_reprs():
    w = read_worker_env({"RANK": "0", "WORLD_SIZE": "2", "DPTRAIN_JOB_TOKEN": "hush-hush"})
    spec = JobSpec(command=("python", "x.py"), nproc_per_node=1, devices=("cpu",), job_token="hush-hush")
    for obj in (w, spec, JobSecret("hush-hush", "test")):
        assert "hush-hush" not in repr(obj)


@pytest.mark.timeout(10)
def test_the_communicator_refuses_an_empty_token():
    from dptrain.distributed.zmq_comm import ZmqCommunicator
    with pytest.raises(ValueError, match="secret token"):
        ZmqCommunicator(0, 2, token="", master_addr="127.0.0.1", master_port=free_port("127.0.0.1"))


@pytest.mark.timeout(90)
def test_workers_given_no_secret_on_one_host_agree_on_one():
    """A plain RANK/WORLD_SIZE environment (no launcher token): the job still has a secret."""
    port = str(free_port("127.0.0.1"))
    procs = [subprocess.Popen([sys.executable, WORKER], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=clean_env(RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r),
                                                       LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                                       MASTER_PORT=port, OMP_NUM_THREADS="1"))
             for r in (1, 0)]
    outs = [p.communicate(timeout=80) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    res = results("".join(o for o, _ in outs))
    assert [x["rank"] for x in res] == [0, 1] and res[0]["digest"] == res[1]["digest"]
    assert res[0]["source"] == "env"
    # rank 0 removed the file once everyone had joined
    leftovers = [n for n in os.listdir(secret_dir()) if n.startswith("secret-")]
    assert not any(open(os.path.join(secret_dir(), n)).read().split()[0] == str(procs[1].pid)
                   for n in leftovers if os.path.isfile(os.path.join(secret_dir(), n)))


LEAKY = """
import os, sys
import numpy as np
import dptrain.distributed as dist
print("argv", open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode(), flush=True)
print("launcher argv", open(f"/proc/{os.getppid()}/cmdline", "rb").read().replace(b"\\0", b" ").decode(), flush=True)
ctx = dist.init(timeout=20)
dist.all_reduce(np.ones(3))
print("joined", ctx, flush=True)
dist.all_reduce(np.ones(3 if ctx.rank == 0 else 5))  # a desync: errors on both ranks
"""


@pytest.mark.timeout(60)
def test_the_secret_never_shows_in_argv_output_or_errors(launch, tmp_path):
    token = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    script = tmp_path / "leaky.py"
    script.write_text(LEAKY)
    path = secret_file(tmp_path, token + "\n")
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--secret-file", path, "--log-dir",
                   str(tmp_path / "logs"), str(script), timeout=50)
    assert r.returncode != 0
    text = r.stdout + r.stderr
    assert "DesyncError" in text and "root cause" in text and "launcher argv" in text  # it did run
    assert token not in text
    for log in (tmp_path / "logs").iterdir():
        assert token not in log.read_text()
    for line in r.stdout.splitlines():
        assert line.startswith(("[rank 0] ", "[rank 1] "))
    # the launcher refuses a secret on its command line, and says so without repeating it
    r = launch.run("--job-token", token, str(script))
    assert r.returncode == 2 and "--job-token would show the secret" in r.stderr
    assert token not in r.stderr.replace(f"--job-token {token}", "")
    # a secret file others can read is refused without showing its contents
    r = launch.run("--secret-file", secret_file(tmp_path, token, 0o644), str(script))
    assert r.returncode == 2 and "chmod 600" in r.stderr and token not in r.stderr
