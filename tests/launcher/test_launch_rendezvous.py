import pytest

from launcher.job import free_port, new_job_token


@pytest.mark.timeout(30)
def test_two_jobs_side_by_side_get_different_free_ports(launch):
    args = ("--nproc-per-node", "2", "--devices", "cpu", launch.script("rendezvous_worker.py"))
    jobs = [launch.start(*args), launch.start(*args)]
    ports = []
    for job in jobs:
        out, err = job.communicate(timeout=25)
        assert job.returncode == 0, err
        result = launch.rank_json(out, 0)
        assert result["ok"] and result["ranks"] == [0, 1]
        ports.append(result["port"])
    assert ports[0] != ports[1]


@pytest.mark.timeout(30)
def test_two_launchers_as_two_nodes_form_one_job(launch):
    port = str(free_port("127.0.0.1"))
    env = launch.env(DPTRAIN_JOB_TOKEN=new_job_token())
    nodes = [launch.start("--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "2",
                          "--master-addr", "127.0.0.1", "--master-port", port, "--devices", "cpu",
                          launch.script("rendezvous_worker.py"), env=env)
             for node in (0, 1)]
    outputs = []
    for node in nodes:
        out, err = node.communicate(timeout=25)
        assert node.returncode == 0, err
        outputs.append(out)
    assert launch.rank_json(outputs[0], 0)["ranks"] == [0, 1, 2, 3]
    # node 1 runs the global ranks 2 and 3 and their rank 0 is on node 0
    assert launch.rank_lines(outputs[1], 0) == [] and launch.rank_lines(outputs[1], 1) == []
    for rank, out in ((1, outputs[0]), (2, outputs[1]), (3, outputs[1])):
        assert launch.rank_json(out, rank) == {"rank": rank, "reply": "ok", "port": int(port), "ok": True}


@pytest.mark.timeout(30)
def test_nodes_with_different_tokens_do_not_form_a_job(launch):
    port = str(free_port("127.0.0.1"))
    nodes = [launch.start("--nnodes", "2", "--node-rank", str(node), "--master-port", port,
                          "--devices", "cpu", "--timeout", "20", launch.script("rendezvous_worker.py"),
                          env=launch.env(DPTRAIN_JOB_TOKEN=f"token-{node}"))
             for node in (0, 1)]
    out, err = nodes[0].communicate(timeout=25)
    assert nodes[0].returncode == 1
    assert "peer disagrees" in err
    nodes[1].communicate(timeout=25)
