import pytest

from launcher.env import first_slurm_host, read_worker_env, slurm_tasks_on_node


@pytest.mark.timeout(10)
def test_launcher_variables():
    we = read_worker_env({
        "RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "10.1.2.3", "MASTER_PORT": "29555", "DPTRAIN_DEVICE": "vulkan:1",
        "DPTRAIN_JOB_TOKEN": "tok", "DPTRAIN_RESTART_COUNT": "2",
        "SLURM_PROCID": "0", "SLURM_NTASKS": "8",  # the launcher's variables win
    })
    assert (we.rank, we.world_size, we.local_rank, we.local_world_size) == (3, 4, 1, 2)
    assert (we.master_addr, we.master_port, we.device, we.job_token, we.restart_count) == \
        ("10.1.2.3", 29555, "vulkan:1", "tok", 2)
    assert we.source == "env" and not we.same_host  # 2 of the 4 ranks are on this host


@pytest.mark.timeout(10)
def test_slurm_variables():
    we = read_worker_env({
        "SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "1", "SLURM_NODEID": "2",
        "SLURM_TASKS_PER_NODE": "2(x3)", "SLURM_NODELIST": "node[03-05]", "SLURM_JOB_ID": "4242",
    })
    assert (we.rank, we.world_size, we.local_rank, we.local_world_size) == (5, 6, 1, 2)
    assert we.master_addr == "node03"
    assert we.master_port == 29500 + 4242  # the same on every node, derived from the job
    assert we.source == "slurm" and we.run_id == "slurm-4242."
    assert we.job_token == ""  # never the job id, which every user of the cluster can read


@pytest.mark.timeout(10)
def test_slurm_master_addr_can_be_given():
    we = read_worker_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2",
                          "SLURM_JOB_NODELIST": "gpu[7,9]", "MASTER_ADDR": "head", "MASTER_PORT": "1234",
                          "DPTRAIN_JOB_TOKEN": "secret"})
    assert (we.master_addr, we.master_port, we.local_world_size, we.job_token) == ("head", 1234, 2, "secret")


@pytest.mark.timeout(10)
def test_openmpi_variables():
    we = read_worker_env({
        "OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_RANK": "0",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "2", "MASTER_ADDR": "host-a", "MASTER_PORT": "29600",
    })
    assert (we.rank, we.world_size, we.local_rank, we.local_world_size) == (2, 4, 0, 2)
    assert (we.master_addr, we.master_port, we.source) == ("host-a", 29600, "openmpi")


@pytest.mark.timeout(10)
def test_openmpi_without_master_addr_is_an_error():
    with pytest.raises(RuntimeError, match="MASTER_ADDR"):
        read_worker_env({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2"})


@pytest.mark.timeout(10)
def test_no_variables_is_a_single_process():
    we = read_worker_env({})
    assert (we.rank, we.world_size, we.local_rank, we.local_world_size, we.source) == (0, 1, 0, 1, "single")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("env, message", [
    ({"RANK": "4", "WORLD_SIZE": "4"}, "outside world size"),
    ({"RANK": "x", "WORLD_SIZE": "4"}, "not an integer"),
])
def test_inconsistent_variables_raise(env, message):
    with pytest.raises(RuntimeError, match=message):
        read_worker_env(env)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("nodelist, host", [
    ("node[03-05]", "node03"),
    ("node[03-05,07],gpu1", "node03"),
    ("gpu1,gpu2", "gpu1"),
    ("single", "single"),
    ("rack[2-3]-n[10-12]", "rack2-n10"),
])
def test_first_slurm_host(nodelist, host):
    assert first_slurm_host(nodelist) == host


@pytest.mark.timeout(10)
def test_slurm_tasks_per_node():
    assert [slurm_tasks_on_node("2(x3),1", i) for i in range(4)] == [2, 2, 2, 1]
    with pytest.raises(RuntimeError):
        slurm_tasks_on_node("two", 0)
