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
    (["--nproc-per-node", "0", "{script}"], "--nproc-per-node must be a positive integer, 'auto', 'gpu' or 'cpu'"),
    (["--nproc-per-node", "two", "{script}"], "--nproc-per-node must be a positive integer, 'auto', 'gpu' or 'cpu'"),
    (["--nnodes", "2", "--master-port", "0", "{script}"], "--master-port must not be 0 when --nnodes > 1"),
    (["--nnodes", "2", "--master-port", "29511", "{script}"], "needs the same secret on every node"),
    (["--nnodes", "2", "{script}"], "DPTRAIN_JOB_TOKEN"),  # torchrun's default port 29500, still no secret
    (["--job-token", "abc", "{script}"], "--job-token would show the secret to every user in `ps`"),
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
def test_one_node_makes_a_fresh_token_and_a_secret_file_wins(script, tmp_path):
    fresh = parse_spec(["--devices", "cpu", script], {"DPTRAIN_JOB_TOKEN": "inherited"}).job_token
    assert fresh != "inherited" and len(fresh) == 32
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    secret.chmod(0o600)
    assert parse_spec(["--secret-file", str(secret), "--devices", "cpu", script], {}).job_token == "from-the-file"
    assert parse_spec(["--secret_file", str(secret), "--nnodes", "2", "--devices", "cpu", script],
                      {}).job_token == "from-the-file"
    assert parse_spec(["--nnodes", "2", "--devices", "cpu", script],
                      {"DPTRAIN_SECRET_FILE": str(secret)}).job_token == "from-the-file"
