"""dptrain-launch speaks torchrun's command line: every flag of `torchrun --help` works as
torchrun's or fails with `not supported: <flag>` and why; `-` and `_` spellings; PET_*
variables as defaults; the workers get torchrun's variables."""
import importlib.util
import json
import re
import signal
import subprocess
import sys

import pytest

from launcher.cli import main, parse_spec
from launcher.job import available_cores

from launch_helpers import REPO, clean_env, needs_torch

# One typical use of every flag of torchrun's --help. None: a flag without a value.
FLAGS = {
    "--nnodes": "1", "--nproc-per-node": "2", "--rdzv-backend": "static",
    "--rdzv-endpoint": "127.0.0.1:29400", "--rdzv-id": "job7", "--rdzv-conf": "join_timeout=10",
    "--standalone": None, "--max-restarts": "1", "--monitor-interval": "0.2", "--start-method": "fork",
    "--event-log-handler": "console", "--role": "trainer", "--module": None, "-m": None,
    "--no-python": None, "--run-path": None, "--log-dir": "{tmp}/logs", "--redirects": "3", "-r": "1",
    "--tee": "2", "-t": "3", "--local-ranks-filter": "0", "--duplicate-stdout-filters": "loss",
    "--duplicate-stderr-filters": "warn", "--node-rank": "0", "--master-addr": "127.0.0.1",
    "--master-port": "29511", "--local-addr": "127.0.0.1", "--logs-specs": "custom",
    "--numa-binding": "node", "--signals-to-handle": "SIGTERM,SIGUSR1", "--shutdown-timeout": "3",
    "--virtual-local-rank": None,
}
# ... of which these cannot be honoured (the error says why)
UNSUPPORTED = {"--rdzv-conf", "--event-log-handler", "--duplicate-stdout-filters",
               "--duplicate-stderr-filters", "--logs-specs", "--numa-binding"}


def torchrun_help_flags() -> set[str]:
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--help"], capture_output=True,
                       text=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    options = r.stdout.split("options:", 1)[1]
    flags = set()
    for line in options.splitlines():  # "  -r REDIRECTS, --redirects REDIRECTS   help..."
        m = re.match(r"  (-\S.*?)(\s{2,}|$)", line)
        if m:
            flags.update(item.split()[0] for item in m.group(1).split(", "))
    return flags - {"-h", "--help"}


@needs_torch
@pytest.mark.timeout(60)
def test_every_flag_of_torchruns_help_is_known():
    flags = torchrun_help_flags()
    dashed = {f.replace("_", "-") if f.startswith("--") else f for f in flags}
    assert dashed - set(FLAGS) == set(), "torchrun has flags dptrain-launch does not know of"


def _spellings(flag):
    return [flag, "--" + flag[2:].replace("-", "_")] if flag.startswith("--") and "-" in flag[2:] else [flag]


CASES = [(flag, spelled) for flag in FLAGS for spelled in _spellings(flag)]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("flag, spelled", CASES, ids=[s for _, s in CASES])
def test_each_torchrun_flag_works_or_says_not_supported(flag, spelled, tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text("print('never run')\n")
    script.chmod(0o755)
    value = FLAGS[flag]
    argv = [spelled] + ([] if value is None else [value.format(tmp=tmp_path)])
    target = "json.tool" if flag in ("--module", "-m") else str(script)
    try:
        spec = parse_spec(["--devices", "cpu", *argv, target], {})
    except SystemExit as e:
        assert e.code == 2
        err = capsys.readouterr().err
        assert flag in UNSUPPORTED, err
        assert f"not supported: {flag}" in err and "(" in err.split("not supported:")[1], err
        return
    assert flag not in UNSUPPORTED
    assert spec.nproc_per_node >= 1


def spec(*args, environ=None, script="train.py"):
    return parse_spec(["--devices", "cpu", *args, script], environ or {})


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text("print('never run')\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("args, message", [
    (["--nnodes", "1:2"], "not supported: --nnodes MIN:MAX (elastic membership"),
    (["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", "h:1"],
     "not supported: --rdzv-backend c10d with --nnodes > 1 (dynamic node ranks"),
    (["--rdzv-backend", "etcd"], "not supported: --rdzv-backend etcd ("),
    (["--nproc-per-node", "xpu"], "not supported: --nproc-per-node xpu ("),
    (["--standalone", "--nnodes", "2"], "--standalone runs one node"),
    (["--nnodes", "3:1"], "--nnodes must be N or MIN:MAX"),
    (["--no-python", "-m"], "--no-python and --module cannot be used together"),
    (["--signals-to-handle", "SIGKILL"], "'SIGKILL' is not a signal that can be handled"),
    (["-r", "0:9"], "--redirects must be 0..3 or LOCAL_RANK:0..3 pairs"),
    (["--monitor-interval", "0"], "--monitor-interval must be positive"),
])
def test_what_torchrun_would_refuse_or_dptrain_cannot_do(args, message, capsys):
    assert main(["--devices", "cpu", *args, "train.py"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.timeout(10)
def test_nodes_and_rendezvous_as_torchrun_reads_them():
    s = spec("--nnodes", "2:2", "--node_rank", "1", "--master_addr", "10.0.0.1", environ={"DPTRAIN_JOB_TOKEN": "t"})
    assert (s.nnodes, s.node_rank, s.master_addr, s.master_port) == (2, 1, "10.0.0.1", 29500)  # torchrun's port
    s = spec("--nnodes", "2", "--rdzv-endpoint", "10.0.0.2:29444", environ={"DPTRAIN_JOB_TOKEN": "t"})
    assert (s.master_addr, s.master_port) == ("10.0.0.2", 29444)  # static: the endpoint is rank 0's
    s = spec("--standalone", "--rdzv-id", "ignored", "--master-port", "29511")
    assert s.master_port == 0 and s.master_addr == "127.0.0.1" and s.run_id not in ("ignored", "none")
    s = spec("--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:0", "--rdzv-id", "r1")
    assert (s.master_addr, s.master_port, s.run_id) == ("127.0.0.1", 0, "r1")
    assert spec("--rdzv_id", "abc", "--master-port", "29511").run_id == "abc"
    assert len(spec().run_id) == 36  # one node on a free port: a fresh id, as torchrun's c10d


@pytest.mark.timeout(10)
def test_nproc_per_node_values():
    s = parse_spec(["--nproc-per-node", "cpu", "train.py"], {})
    assert s.nproc_per_node == available_cores() and set(s.devices) == {"cpu"}
    s = parse_spec(["--nproc_per_node", "auto", "--devices", "0,1", "train.py"], {})
    assert s.devices == ("vulkan:0", "vulkan:1")
    assert parse_spec(["--nproc-per-node", "gpu", "--devices", "3", "train.py"], {}).devices == ("vulkan:3",)


@pytest.mark.timeout(10)
def test_gpu_without_a_gpu_is_an_error(capsys):
    assert main(["--nproc-per-node", "gpu", "--devices", "cpu", "train.py"]) == 2
    assert "no Vulkan GPU found" in capsys.readouterr().err


@pytest.mark.timeout(10)
def test_pet_variables_are_defaults_and_the_command_line_wins():
    pet = {"PET_NNODES": "2", "PET_NODE_RANK": "1", "PET_MASTER_ADDR": "10.0.0.9", "PET_MASTER_PORT": "29600",
           "PET_NPROC_PER_NODE": "3", "PET_MAX_RESTARTS": "2", "PET_ROLE": "worker", "PET_RDZV_ID": "kf",
           "PET_VIRTUAL_LOCAL_RANK": "1", "PET_SHUTDOWN_TIMEOUT": "9", "PET_MONITOR_INTERVAL": "0.5",
           "PET_SIGNALS_TO_HANDLE": "SIGTERM", "DPTRAIN_JOB_TOKEN": "t"}
    s = spec(environ=pet)
    assert (s.nnodes, s.node_rank, s.master_addr, s.master_port, s.nproc_per_node) == (2, 1, "10.0.0.9", 29600, 3)
    assert (s.max_restarts, s.role, s.run_id, s.virtual_local_rank) == (2, "worker", "kf", True)
    assert (s.grace_period, s.monitor_interval, s.signals) == (9.0, 0.5, (signal.SIGTERM,))
    s = spec("--nproc-per-node", "1", "--node-rank", "0", "--max-restarts", "0", environ=pet)
    assert (s.nproc_per_node, s.node_rank, s.max_restarts) == (1, 0, 0)
    s = spec(environ={"PET_STANDALONE": "1", "PET_NNODES": "1"})
    assert s.master_port == 0 and len(s.run_id) == 36


@pytest.mark.timeout(10)
def test_commands_python_module_program(tmp_path):
    assert spec("-m", script="pkg.train").command == (sys.executable, "-m", "pkg.train")
    assert spec("--no_python", script="/bin/sh").command == ("/bin/sh",)
    assert spec(environ={"PYTHON_EXEC": "/opt/py"}).command == ("/opt/py", "train.py")
    assert spec("--run-path").command == (sys.executable, "train.py")
    assert spec("--shutdown_timeout", "7").grace_period == spec("--grace-period", "7").grace_period == 7.0
    assert spec(environ={"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "11"}).grace_period == 11.0
    assert spec("--signals-to-handle", "SIGUSR1,HUP").signals == (signal.SIGUSR1, signal.SIGHUP)


TORCHRUN_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                 "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "TORCHELASTIC_RESTART_COUNT",
                 "TORCHELASTIC_MAX_RESTARTS")


def _infos(stdout: str) -> list[dict]:
    found = [json.loads(line[line.index("{"):]) for line in stdout.splitlines() if '"RANK"' in line]
    return sorted(found, key=lambda i: int(i["RANK"]))


@pytest.mark.timeout(60)
def test_workers_get_torchruns_variables(launch):
    r = launch.run("--nproc_per_node", "2", "--devices", "cpu", "--rdzv_id", "myjob", "--role", "trainer",
                   "--max_restarts", "0", launch.script("env_worker.py"))
    assert r.returncode == 0, r.stderr
    for rank, info in enumerate(_infos(r.stdout)):
        assert info["TORCHELASTIC_RUN_ID"] == "myjob" and info["ROLE_NAME"] == "trainer"
        assert (info["GROUP_RANK"], info["GROUP_WORLD_SIZE"]) == ("0", "1")
        assert (info["ROLE_RANK"], info["ROLE_WORLD_SIZE"]) == (str(rank), "2")
        assert (info["TORCHELASTIC_RESTART_COUNT"], info["TORCHELASTIC_MAX_RESTARTS"]) == ("0", "0")
        assert info["TORCHELASTIC_USE_AGENT_STORE"] is None  # a torch script makes its own store


@needs_torch
@pytest.mark.timeout(120)
def test_the_workers_variables_match_torchruns(launch):
    args = ["--standalone", "--nproc-per-node", "2", "--role", "trainer", "--max-restarts", "1",
            "--virtual-local-rank", launch.script("env_worker.py")]
    ours = launch.run("--devices", "cpu", *args, timeout=60)
    theirs = subprocess.run([sys.executable, "-m", "torch.distributed.run", *args], cwd=REPO, env=clean_env(),
                            capture_output=True, text=True, timeout=90)
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    mine, torch_ = _infos(ours.stdout), _infos(theirs.stdout)
    assert len(mine) == len(torch_) == 2
    for a, b in zip(mine, torch_):
        assert {k: a[k] for k in TORCHRUN_VARS} == {k: b[k] for k in TORCHRUN_VARS}
        assert a["LOCAL_RANK"] == "0" and a["TORCHELASTIC_RUN_ID"] and b["TORCHELASTIC_RUN_ID"]


@pytest.mark.timeout(60)
def test_redirects_tee_and_local_ranks_filter(launch, tmp_path):
    logs = tmp_path / "logs"
    # stdout of every rank only to its log; stderr on the console, of local rank 0 only
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--log_dir", str(logs), "-r", "1",
                   "--local-ranks-filter", "0", launch.script("env_worker.py"))
    assert r.returncode == 0, r.stderr
    assert '"RANK"' not in r.stdout
    assert "[rank 0] note from rank 0 on stderr" in r.stderr and "[rank 1]" not in r.stderr
    for rank in (0, 1):
        log = (logs / f"rank_{rank}.log").read_text()
        assert f'"RANK": "{rank}"' in log and "note from rank" not in log
    # tee stderr: on the console and in the log; stdout on the console only
    logs2 = tmp_path / "logs2"
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--log-dir", str(logs2), "--tee", "2",
                   launch.script("env_worker.py"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('"RANK"') == 2 and r.stderr.count("on stderr") == 2
    for rank in (0, 1):
        log = (logs2 / f"rank_{rank}.log").read_text()
        assert f"note from rank {rank} on stderr" in log and '"RANK"' not in log


@pytest.mark.timeout(60)
def test_module_and_no_python(launch, tmp_path):
    (tmp_path / "mytrain.py").write_text("import os\nprint('module rank', os.environ['RANK'])\n")
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "-m", "mytrain",
                   env=launch.env(PYTHONPATH=f"{tmp_path}:{REPO}"))
    assert r.returncode == 0, r.stderr
    assert "[rank 1] module rank 1" in r.stdout
    r = launch.run("--nproc-per-node", "2", "--devices", "cpu", "--no-python", "/bin/sh", "-c", 'echo "sh $RANK"')
    assert r.returncode == 0, r.stderr
    assert "[rank 0] sh 0" in r.stdout and "[rank 1] sh 1" in r.stdout
