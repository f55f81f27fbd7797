"""A dptrain script runs unchanged under the real torchrun: standalone, with restarts, and as
two c10d nodes; dptrain never imports torch, and a torch DDP script still runs under
dptrain-launch."""
import subprocess
import sys

import pytest

from launcher.job import free_port

from launch_helpers import (REPO, WORKER, clean_env, dptrain_launch, needs_torch, non_loopback_address, results,
                            torchrun)

@pytest.fixture(scope="module")
def reference_digest():
    r = dptrain_launch("--nproc-per-node", "2", "--devices", "cpu", WORKER)
    assert r.returncode == 0, r.stderr
    res = results(r.stdout)
    assert [x["source"] for x in res] == ["dptrain-launch"] * 2
    return res[0]["digest"]


@pytest.mark.timeout(60)
def test_dptrain_never_imports_torch():
    code = ("import sys, dptrain, dptrain.distributed, launcher.cli, launcher.secret; "
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean_env(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


@needs_torch
@pytest.mark.timeout(120)
def test_torchrun_standalone_runs_a_dptrain_script(reference_digest):
    r = torchrun("--standalone", "--nproc-per-node", "2", WORKER, env=clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    res = results(r.stdout)
    assert [(x["rank"], x["world"], x["source"]) for x in res] == [(0, 2, "torchrun"), (1, 2, "torchrun")]
    for x in res:
        # torchrun's agent holds MASTER_PORT for its store: dptrain's rendezvous is next to it
        assert x["port"] == int(x["MASTER_PORT"]) + 1
        assert x["torch"] is False and x["restart"] == 0
        assert x["digest"] == reference_digest  # the same training as under dptrain-launch


@needs_torch
@pytest.mark.timeout(120)
def test_torchrun_restart_count_and_port_override(reference_digest):
    port = free_port("127.0.0.1")
    r = torchrun("--standalone", "--nproc-per-node", "2", "--max-restarts", "1", WORKER, "fail", "1",
                 env=clean_env(DPTRAIN_MASTER_PORT=str(port)))
    assert r.returncode == 0, r.stdout + r.stderr
    res = results(r.stdout)
    assert [x["restart"] for x in res] == [1, 1]  # TORCHELASTIC_RESTART_COUNT
    assert [x["port"] for x in res] == [port, port]
    assert res[0]["digest"] == reference_digest


def _two_c10d_nodes(env: dict, local_addr: str | None) -> list[subprocess.Popen]:
    endpoint = f"127.0.0.1:{free_port('127.0.0.1')}"
    extra = ["--local-addr", local_addr] if local_addr else []
    return [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2",
                              "--nproc-per-node", "1", "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
                              "--rdzv-id", "dptrain-test", *extra, WORKER],
                             cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]


def _finish(procs, timeout=100) -> list[tuple[int, str]]:
    out = []
    try:
        for p in procs:
            so, se = p.communicate(timeout=timeout)
            out.append((p.returncode, so + se))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return out


@needs_torch
@pytest.mark.timeout(200)
def test_torchrun_two_c10d_nodes_train_with_a_given_secret_and_refuse_without(reference_digest):
    host = non_loopback_address()  # MASTER_ADDR as another host would see this one
    done = _finish(_two_c10d_nodes(clean_env(DPTRAIN_JOB_TOKEN="a-secret-from-the-job-spec"), host))
    assert all(rc == 0 for rc, _ in done), done
    res = sorted((x for _, text in done for x in results(text)), key=lambda x: x["rank"])
    assert [(x["rank"], x["world"], x["local_rank"], x["source"]) for x in res] == \
        [(0, 2, 0, "torchrun"), (1, 2, 0, "torchrun")]
    assert res[0]["digest"] == res[1]["digest"] == reference_digest
    if host is None:
        pytest.skip("this host has no address but loopback: cannot play two hosts without a secret")
    done = _finish(_two_c10d_nodes(clean_env(), host))
    assert all(rc != 0 for rc, _ in done), done
    for _, text in done:
        assert "spans hosts and was given no secret" in text, text
        assert "DPTRAIN_JOB_TOKEN" in text and "DPTRAIN_SECRET_FILE" in text and "--secret-file" in text


@needs_torch
@pytest.mark.timeout(120)
def test_a_torch_ddp_script_still_runs_under_dptrain_launch(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(
        "import os, torch, torch.distributed as td\n"
        "td.init_process_group('gloo')\n"
        "x = torch.tensor([float(td.get_rank() + 1)])\n"
        "td.all_reduce(x)\n"
        "print('sum', x.item(), os.environ['TORCHELASTIC_RUN_ID'] != '', flush=True)\n"
        "td.destroy_process_group()\n")
    r = dptrain_launch("--nproc-per-node", "2", "--devices", "cpu", str(script))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("sum 3.0 True") == 2, r.stdout
