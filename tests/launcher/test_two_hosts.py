"""A real two-host job: each host is a Linux network namespace made by the test, with addresses
only on the two ends of its own veth pair, and one `dptrain-launch --nnodes 2` in each, given the
job's secret in a 0600 file. The data crosses between the hosts over TCP (the veth counters grow
by what the all-reduces carry; no ipc, no shared memory), under CURVE (on by default for a
non-loopback MASTER_ADDR), and the final weights equal those of the same job on one host. Killing
one host's launcher ends the other within seconds, naming the lost rank, and leaves no process in
either namespace. Skipped, with the reason, where namespaces cannot be made (not root, no `ip`)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch_helpers import REPO, SCRIPTS, clean_env

WORKER = str(SCRIPTS / "two_host_worker.py")
PORT = 29500
TRAFFIC_BYTES = 20 * 2 * (4 << 20)  # 20 steps of a 4 MiB all-reduce, at least half each way


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Hosts:
    """Two network namespaces joined by a veth pair: host A (10.x.y.1) and host B (10.x.y.2)."""

    def __init__(self):
        tag = f"{os.getpid() % 100000}"
        self.ns = (f"dpt{tag}a", f"dpt{tag}b")
        self.dev = (f"dv{tag}a", f"dv{tag}b")
        net = f"10.{(os.getpid() >> 8) % 250 + 1}.{os.getpid() % 250 + 1}"
        self.addr = (f"{net}.1", f"{net}.2")
        self.procs: list[subprocess.Popen] = []

    def create(self) -> None:
        for ns in self.ns:
            _ip("netns", "add", ns)
        _ip("link", "add", self.dev[0], "netns", self.ns[0], "type", "veth", "peer", "name", self.dev[1],
            "netns", self.ns[1])
        for ns, dev, addr in zip(self.ns, self.dev, self.addr):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def pids(self, host: int) -> list[int]:
        r = _ip("netns", "pids", self.ns[host], check=False)
        return [int(p) for p in r.stdout.split()]

    def traffic(self, host: int) -> tuple[int, int]:
        """(tx, rx) bytes of the host's veth end."""
        stats = json.loads(_ip("-n", self.ns[host], "-j", "-s", "link", "show", "dev", self.dev[host]).stdout)
        s = stats[0]["stats64"]
        return s["tx"]["bytes"], s["rx"]["bytes"]

    def launch(self, host: int, *args: str, env: dict) -> subprocess.Popen:
        cmd = ["ip", "netns", "exec", self.ns[host], sys.executable, "-m", "launcher", "--nnodes", "2",
               "--node-rank", str(host), "--master-addr", self.addr[0], "--master-port", str(PORT), *args]
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def destroy(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for host in (0, 1):  # whatever still runs inside our namespaces is ours
            for pid in self.pids(host):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for ns in self.ns:
            _ip("netns", "del", ns, check=False)  # takes the veth pair with it


def _namespaces_allowed() -> str:
    """'' when this machine lets the test make network namespaces, else why not."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"dptprobe{os.getpid()}"
    r = _ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"cannot create a network namespace here: {r.stderr.strip() or 'ip netns add failed'}"
    _ip("netns", "del", probe, check=False)
    return ""


_WHY_NOT = _namespaces_allowed()
pytestmark = pytest.mark.skipif(bool(_WHY_NOT), reason=_WHY_NOT)


@pytest.fixture
def hosts():
    h = Hosts()
    try:
        h.create()
    except subprocess.CalledProcessError as e:
        h.destroy()
        pytest.skip(f"cannot set up two namespaces with a veth pair: {e.stderr.strip()}")
    yield h
    h.destroy()
    assert all(_ip("netns", "pids", ns, check=False).returncode != 0 for ns in h.ns), "namespace left behind"
    assert not any(ns in _ip("netns", "list").stdout for ns in h.ns)


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "job.secret"
    path.write_text("two-hosts-" + os.urandom(12).hex() + "\n")
    path.chmod(0o600)
    return str(path)


def _env() -> dict:
    return clean_env(OMP_NUM_THREADS="1")


def _finish(p: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


@pytest.mark.timeout(180)
def test_two_hosts_train_over_tcp_under_curve_like_one_host(hosts, secret, tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir()
    one.mkdir()
    before = [hosts.traffic(h) for h in (0, 1)]
    procs = [hosts.launch(h, "--nproc-per-node", "1", "--devices", "cpu", "--secret-file", secret,
                          WORKER, str(two), "train", env=_env()) for h in (0, 1)]
    runs = [_finish(p, 120) for p in procs]
    for h, (rc, out, err) in enumerate(runs):
        assert rc == 0, f"host {h}: exit {rc}\n{out[-2000:]}\n{err[-4000:]}"
    res = [json.loads((two / f"rank{r}.json").read_text()) for r in (0, 1)]
    after = [hosts.traffic(h) for h in (0, 1)]
    # the data went over the veth, as TCP between the two hosts' addresses, under CURVE
    for r, other in ((0, 1), (1, 0)):
        assert res[r]["peer_urls"] == [res[other]["endpoint"]], res
        assert res[r]["endpoint"].startswith(f"tcp://{hosts.addr[r]}:"), res[r]
        assert res[r]["curve"] is True and res[r]["shm"] is False, res[r]
        assert res[r]["dropped"] == 0, res[r]
    for h in (0, 1):
        tx, rx = after[h][0] - before[h][0], after[h][1] - before[h][1]
        assert tx > TRAFFIC_BYTES // 2 and rx > TRAFFIC_BYTES // 2, (h, tx, rx)
    # the secret never shows: not in any output, not in the launchers' argv
    token = Path(secret).read_text().strip()
    assert all(token not in out + err for _, out, err in runs)
    # the same job on one host (ipc, shared memory) gives the same weights, bit for bit
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--devices", "cpu",
                        WORKER, str(one), "train"], cwd=REPO, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    single = [json.loads((one / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert single[0]["peer_urls"][0].startswith("ipc://")
    assert res[0]["digest"] == res[1]["digest"] == single[0]["digest"] == single[1]["digest"]
    print(f"\nTWO-HOSTS veth bytes host A tx/rx {after[0][0] - before[0][0]}/{after[0][1] - before[0][1]}, "
          f"CURVE on, weights equal to one host")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("victim, sig", [(1, signal.SIGKILL), (0, signal.SIGKILL), (1, signal.SIGTERM)],
                         ids=["host B SIGKILL", "host A (rank 0) SIGKILL", "host B SIGTERM"])
def test_killing_one_hosts_launcher_ends_the_other(hosts, secret, tmp_path, victim, sig):
    procs = [hosts.launch(h, "--nproc-per-node", "1", "--devices", "cpu", "--secret-file", secret,
                          "--grace-period", "2", WORKER, str(tmp_path), "forever", env=_env()) for h in (0, 1)]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{r}").exists() for r in (0, 1)):
        for h, p in enumerate(procs):
            if p.poll() is not None:
                pytest.fail(f"host {h} ended before training: {p.communicate()}")
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.05)
    token = Path(secret).read_text().strip()
    for h in (0, 1):  # the secret is in no process's argv (launcher or worker)
        for pid in hosts.pids(h):
            try:
                assert token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes(), pid
            except FileNotFoundError:
                pass
    survivor = 1 - victim
    # `ip netns exec` execs the launcher itself: the Popen's pid is the launcher's
    killed_at = time.monotonic()
    procs[victim].send_signal(sig)
    assert procs[victim].wait(timeout=10) == (-sig if sig == signal.SIGKILL else 128 + sig)
    rc, out, err = _finish(procs[survivor], 30)
    took = time.monotonic() - killed_at
    assert took < 10, f"the surviving host took {took:.1f} s to end"
    assert rc != 0, err
    cause = err[err.index("dptrain-launch: root cause"):]
    assert f"rank:       {survivor} " in cause, cause  # the survivor's own rank failed ...
    assert f"connection to rank {victim} was lost" in cause, cause  # ... because the lost rank went
    left = {h: hosts.pids(h) for h in (0, 1)}
    end = time.monotonic() + 5
    while any(left.values()) and time.monotonic() < end:
        time.sleep(0.05)
        left = {h: hosts.pids(h) for h in (0, 1)}
    assert left == {0: [], 1: []}, f"processes left in the namespaces: {left}"
    if os.environ.get("DPTRAIN_FAULT_REPORT"):  # a row of benchmarks/fault_table.py
        row = {"fault": f"two hosts (network namespaces): {signal.Signals(sig).name} to host {'AB'[victim]}'s launcher",
               "teardown_s": round(took, 2), "exit_code": rc, "root_cause_rank": survivor,
               "ranks_named_lost": [victim], "orphans": 0}
        with open(os.environ["DPTRAIN_FAULT_REPORT"], "a") as f:
            f.write(json.dumps(row) + "\n")
    print(f"\nTWO-HOSTS {signal.Signals(sig).name} to host {'AB'[victim]}'s launcher: the other ended in {took:.2f} s, exit {rc}, "
          f"named rank {victim} as lost, 0 processes left")
