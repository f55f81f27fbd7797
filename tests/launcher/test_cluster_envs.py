"""The environments clusters start training in, played on this host: a 2-pod Kubeflow
PyTorchJob (per-pod MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK, and the PET_* form that starts
torchrun or dptrain-launch in each pod) and `srun` with 2 tasks. Each trains the same job as
dptrain-launch does, to the same weights."""
import random
import socket
import subprocess
import sys

import pytest

from launcher.job import free_port

from launch_helpers import REPO, WORKER, clean_env, dptrain_launch, needs_torch, non_loopback_address, results

SECRET = "a-secret-from-a-kubernetes-secret"


@pytest.fixture(scope="module")
def reference_digest():
    r = dptrain_launch("--nproc-per-node", "2", "--devices", "cpu", WORKER)
    assert r.returncode == 0, r.stderr
    return results(r.stdout)[0]["digest"]


@pytest.fixture(scope="module")
def service_addr():
    """What a pod's MASTER_ADDR resolves to: the master pod's address, not loopback where possible."""
    return non_loopback_address() or "127.0.0.1"


def run_pods(commands, envs, timeout=100):
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, env in zip(commands, envs)]
    out = []
    try:
        for p in procs:
            so, se = p.communicate(timeout=timeout)
            out.append((p.returncode, so, se))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return out


def pytorchjob_env(pod: int, addr: str, port: int, **extra) -> dict:
    """What Kubeflow's training operator sets in pod `pod` of a 2-pod PyTorchJob (1 process per pod)."""
    return clean_env(MASTER_ADDR=addr, MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(pod),
                     PYTHONUNBUFFERED="1", PET_NNODES="2", PET_NPROC_PER_NODE="1", PET_NODE_RANK=str(pod),
                     PET_MASTER_ADDR=addr, PET_MASTER_PORT=str(port), OMP_NUM_THREADS="1", **extra)


def _trained(done, reference_digest, source):
    assert all(rc == 0 for rc, _, _ in done), done
    res = results("".join(so for _, so, _ in done))
    assert [(x["rank"], x["world"], x["source"]) for x in res] == [(0, 2, source), (1, 2, source)], done
    assert res[0]["digest"] == res[1]["digest"] == reference_digest
    return res


@pytest.mark.timeout(120)
def test_pytorchjob_pods_run_the_script_directly(reference_digest, service_addr, tmp_path):
    port = free_port(service_addr)
    done = run_pods([[sys.executable, WORKER]] * 2,
                    [pytorchjob_env(pod, service_addr, port, DPTRAIN_JOB_TOKEN=SECRET) for pod in (0, 1)])
    res = _trained(done, reference_digest, "env")
    assert res[0]["port"] == port  # nothing else holds MASTER_PORT here: dptrain's rendezvous takes it
    # the secret as a mounted Kubernetes Secret file (defaultMode 0400)
    secret = tmp_path / "job-secret"
    secret.write_text(SECRET)
    secret.chmod(0o400)
    port = free_port(service_addr)
    done = run_pods([[sys.executable, WORKER]] * 2,
                    [pytorchjob_env(pod, service_addr, port, DPTRAIN_SECRET_FILE=str(secret)) for pod in (0, 1)])
    _trained(done, reference_digest, "env")


@pytest.mark.timeout(60)
def test_pytorchjob_pods_without_a_secret_refuse_to_start(service_addr):
    if service_addr.startswith("127."):
        pytest.skip("this host has no address but loopback: cannot play two pods")
    done = run_pods([[sys.executable, WORKER]] * 2,
                    [pytorchjob_env(pod, service_addr, free_port(service_addr)) for pod in (0, 1)], timeout=50)
    for rc, so, se in done:
        assert rc == 1 and "spans hosts and was given no secret" in se and "DPTRAIN_JOB_TOKEN" in se, se


@needs_torch
@pytest.mark.timeout(180)
def test_pytorchjob_pods_that_start_torchrun_from_pet_variables(reference_digest, service_addr):
    port = free_port(service_addr)
    done = run_pods([[sys.executable, "-m", "torch.distributed.run", WORKER]] * 2,
                    [pytorchjob_env(pod, service_addr, port, DPTRAIN_JOB_TOKEN=SECRET) for pod in (0, 1)])
    res = _trained(done, reference_digest, "torchrun")
    assert res[0]["port"] == port + 1  # the agent of pod 0 holds MASTER_PORT


@pytest.mark.timeout(120)
def test_pytorchjob_pods_that_start_dptrain_launch_from_pet_variables(reference_digest, service_addr):
    port = free_port(service_addr)
    done = run_pods([[sys.executable, "-m", "launcher", "--devices", "cpu", WORKER]] * 2,
                    [pytorchjob_env(pod, service_addr, port, DPTRAIN_JOB_TOKEN=SECRET) for pod in (0, 1)])
    assert all(rc == 0 for rc, _, _ in done), done
    res = results("".join(so for _, so, _ in done))
    assert [(x["rank"], x["world"], x["source"]) for x in res] == [(0, 2, "dptrain-launch"), (1, 2, "dptrain-launch")]
    assert res[0]["digest"] == res[1]["digest"] == reference_digest


def _slurm_port_and_job() -> tuple[int, int]:
    """A SLURM job id whose derived port (29500 + id % 10000) is free here."""
    for _ in range(200):
        job = random.randrange(1, 10000)
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 29500 + job))
            return 29500 + job, job
        except OSError:
            continue
    pytest.skip("no free port in 29500..39499")


def srun_env(task: int, job: int, nodes: int, nodelist: str, **extra) -> dict:
    """What `srun -n 2` sets for task `task` (one node: 2 tasks; two nodes: one task each)."""
    return clean_env(SLURM_PROCID=str(task), SLURM_NTASKS="2", SLURM_JOB_ID=str(job), SLURM_STEP_ID="0",
                     SLURM_LOCALID=str(task if nodes == 1 else 0), SLURM_NODEID=str(0 if nodes == 1 else task),
                     SLURM_NNODES=str(nodes), SLURM_STEP_NUM_NODES=str(nodes),
                     SLURM_TASKS_PER_NODE="2" if nodes == 1 else "1(x2)", SLURM_JOB_NODELIST=nodelist,
                     SLURM_STEP_NODELIST=nodelist, OMP_NUM_THREADS="1", **extra)


@pytest.mark.timeout(120)
def test_srun_two_tasks_on_one_node_need_no_secret(reference_digest):
    port, job = _slurm_port_and_job()
    done = run_pods([[sys.executable, WORKER]] * 2, [srun_env(t, job, 1, "localhost") for t in (0, 1)])
    res = _trained(done, reference_digest, "slurm")
    assert res[0]["port"] == port


@pytest.mark.timeout(120)
def test_srun_two_nodes_take_the_exported_secret_and_refuse_without(reference_digest, service_addr):
    port, job = _slurm_port_and_job()
    nodelist = f"{service_addr},{service_addr}"
    done = run_pods([[sys.executable, WORKER]] * 2,
                    [srun_env(t, job, 2, nodelist, DPTRAIN_JOB_TOKEN=SECRET) for t in (0, 1)])
    _trained(done, reference_digest, "slurm")
    if service_addr.startswith("127."):
        pytest.skip("this host has no address but loopback: cannot play two nodes")
    done = run_pods([[sys.executable, WORKER]] * 2, [srun_env(t, job, 2, nodelist) for t in (0, 1)], timeout=50)
    for rc, so, se in done:
        assert rc == 1 and "spans hosts and was given no secret" in se, se


@pytest.mark.timeout(30)
def test_the_cluster_examples_are_well_formed():
    sbatch = REPO / "examples" / "cluster" / "train.sbatch"
    r = subprocess.run(["bash", "-n", str(sbatch)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = sbatch.read_text()
    assert "srun" in text and "export DPTRAIN_JOB_TOKEN=" in text
    yaml = pytest.importorskip("yaml")
    job = yaml.safe_load((REPO / "examples" / "cluster" / "pytorchjob.yaml").read_text())
    assert job["kind"] == "PyTorchJob"
    for role in ("Master", "Worker"):
        (container,) = job["spec"]["pytorchReplicaSpecs"][role]["template"]["spec"]["containers"]
        assert container["name"] == "pytorch"
        assert (REPO / container["command"][1]).is_file()
        assert any(e["name"] == "DPTRAIN_JOB_TOKEN" and "secretKeyRef" in e["valueFrom"] for e in container["env"])
