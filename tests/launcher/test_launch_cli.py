import pytest

from launcher.cli import main, parse_spec


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("print('never run')\n")
    return str(path)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("args, message", [
    ([], "the following arguments are required: script"),
    (["--nproc-per-node", "2"], "the following arguments are required: script"),
    (["missing_script.py"], "script not found: missing_script.py"),
    (["--nproc-per-node", "0", "{script}"], "--nproc-per-node must be a positive integer or 'auto'"),
    (["--nproc-per-node", "two", "{script}"], "--nproc-per-node must be a positive integer or 'auto'"),
    (["--nnodes", "2", "{script}"], "--master-port is required when --nnodes > 1"),
    (["--nnodes", "2", "--master-port", "29511", "{script}"], "--job-token"),
    (["--nnodes", "2", "--node-rank", "2", "--master-port", "29511", "{script}"], "--node-rank must be in 0..1"),
    (["--devices", "gpu0", "{script}"], "invalid --devices 'gpu0'"),
    (["--devices", "0,0", "{script}"], "device 0 is listed twice"),
    (["--max-restarts", "-1", "{script}"], "--max-restarts must not be negative"),
    (["--timeout", "0", "{script}"], "--timeout must be positive"),
    (["--master-port", "70000", "{script}"], "--master-port must be in 0..65535"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args, message, script, capsys, monkeypatch):
    monkeypatch.delenv("DPTRAIN_JOB_TOKEN", raising=False)
    code = main([a.format(script=script) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert "usage: dptrain-launch" in err and message in err


@pytest.mark.timeout(10)
def test_bad_arguments_from_the_command_line_exit_2(launch):
    r = launch.run("--nproc-per-node", "0", launch.script("env_worker.py"))
    assert r.returncode == 2
    assert "--nproc-per-node must be a positive integer" in r.stderr
    assert r.stdout == ""


@pytest.mark.timeout(10)
def test_multi_node_spec_takes_token_from_the_environment(script):
    spec = parse_spec(["--nnodes", "3", "--node-rank", "2", "--nproc-per-node", "4", "--master-addr", "10.0.0.1",
                       "--master-port", "29511", "--devices", "cpu", script, "--epochs", "3"],
                      {"DPTRAIN_JOB_TOKEN": "s3cret"})
    assert spec.job_token == "s3cret"
    assert spec.world_size == 12
    assert [spec.rank_of(i) for i in range(4)] == [8, 9, 10, 11]
    assert spec.master_addr == "10.0.0.1" and spec.master_port == 29511
    assert spec.command[1:] == (script, "--epochs", "3")


@pytest.mark.timeout(10)
def test_job_token_option_wins_and_one_node_makes_its_own(script):
    assert parse_spec(["--job-token", "abc", "--devices", "cpu", script], {}).job_token == "abc"
    fresh = parse_spec(["--devices", "cpu", script], {"DPTRAIN_JOB_TOKEN": "inherited"}).job_token
    assert fresh != "inherited" and len(fresh) == 32
