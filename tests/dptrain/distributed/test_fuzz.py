"""Fuzzing a running 2-worker job (loopback only, bounded in count and time).

While the job trains, a fuzzer sends to every socket it listens on (rank 0's rendezvous while
the job forms; then every data endpoint in the rendezvous table): random bytes, truncated
frames, wrong and missing tokens, the job's token with malformed headers, huge declared lengths
(in msgpack, in the header's shape, in ZMTP frame headers), wrong dtypes and shapes, 1 MiB
frames, partial frames held open. The job must finish with the same weights as a run without
the fuzzer, its memory must stay bounded, and every message that reached Python must have been
dropped and counted. Under CURVE, nothing from a peer without the job's keys reaches Python.

Set DPTRAIN_FUZZ_REPORT=path to append each run's figures (JSON lines) to a file.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq

import fuzz_frames as F
from dptrain.distributed.curve import CurveKeys
from dptrain_dist_harness import ROOT, free_port

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_worker.py")
MESSAGES_PER_ENDPOINT = 2400
BIG_PER_ENDPOINT = 12          # messages of two 1 MiB frames
HELD_PER_ENDPOINT = 16         # connections left in the middle of a frame declaring 1 MiB
RDV_MESSAGES = 600
RSS_GROWTH_LIMIT_KB = 96 * 1024  # the fuzzer sends ~30 MiB per endpoint and declares far more

MODES = {
    "ipc+shm": {},  # one host's defaults: ipc sockets, collectives through shared memory
    "tcp": {"DPTRAIN_TRANSPORT": "tcp", "DPTRAIN_SHM": "0", "DPTRAIN_CURVE": "0"},
    "tcp+curve": {"DPTRAIN_TRANSPORT": "tcp", "DPTRAIN_SHM": "0", "DPTRAIN_CURVE": "1"},
}


class Job:
    """Two fuzz_worker.py ranks on loopback, started one at a time, killed in `close`."""

    def __init__(self, tmp: Path, env: dict):
        self.dir, self.port = tmp, free_port()
        self.token = f"fuzz-{os.getpid()}-{self.port}"
        self.extra = env
        self.procs: dict = {}

    def start(self, rank: int) -> None:
        env = dict(os.environ)
        env.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(self.port), DPTRAIN_JOB_TOKEN=self.token,
                   OMP_NUM_THREADS="1", FUZZ_DIR=str(self.dir),
                   PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
        env.update(self.extra)
        self.procs[rank] = subprocess.Popen([sys.executable, WORKER], env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)

    def status(self, rank: int) -> dict:
        try:
            return json.loads((self.dir / f"status{rank}.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait(self, what, timeout: float, why: str):
        deadline = time.monotonic() + timeout
        while True:
            got = what()
            if got:
                return got
            for r, p in self.procs.items():
                if p.poll() is not None:
                    out, err = p.communicate()
                    raise AssertionError(f"rank {r} exited ({p.returncode}) while waiting for {why}:\n{out}\n{err[-3000:]}")
            assert time.monotonic() < deadline, f"timed out waiting for {why}"
            time.sleep(0.02)

    def results(self, timeout: float) -> dict:
        out = {}
        for r, p in self.procs.items():
            so, se = p.communicate(timeout=timeout)
            lines = [ln for ln in so.splitlines() if ln.startswith("RESULT ")]
            assert p.returncode == 0 and lines, f"rank {r} exited {p.returncode}:\n{so[-2000:]}\n{se[-4000:]}"
            out[r] = json.loads(lines[-1][len("RESULT "):])
        return out

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            try:
                p.communicate(timeout=10)
            except Exception:
                pass


class RssSampler(threading.Thread):
    """The largest VmRSS of each worker, sampled every 20 ms."""

    def __init__(self, pids: dict):
        super().__init__(daemon=True)
        self.pids, self.peak, self.halt = pids, Counter(), threading.Event()

    def run(self):
        while not self.halt.is_set():
            for r, pid in self.pids.items():
                try:
                    with open(f"/proc/{pid}/status") as f:
                        kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
                    self.peak[r] = max(self.peak[r], kb)
                except (OSError, StopIteration):
                    pass
            self.halt.wait(0.02)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def rendezvous_messages(rng, token: bytes, count: int):
    """What a ROUTER serving the rendezvous must drop: no hello of this job's is well-formed
    (a well-formed one is a rank joining, and a wrong one rightly fails the rendezvous)."""
    pk = lambda h: msgpack.packb(h, use_bin_type=True)  # noqa: E731
    hello = {"v": 1, "op": "hello", "src": 1, "world": 2, "pid": 1,
             "info": {"host": "h", "ipc": "", "tcp": "tcp://127.0.0.1:1"}}
    bad = [dict(v=2), dict(op=1), dict(src="1"), dict(src=1.0), dict(src=True), dict(tok="x"), dict(tok=None)]
    for k in range(count):
        kind = k % 7
        if kind == 0:
            yield "random bytes", [rng.bytes(int(rng.integers(0, 300)))]
        elif kind == 1:
            yield "random frames", [rng.bytes(8) for _ in range(int(rng.integers(2, 5)))]
        elif kind == 2:
            yield "wrong token hello", [pk(dict(hello, tok=rng.bytes(16)))]
        elif kind == 3:
            yield "no token hello", [pk(hello)]
        elif kind == 4:
            yield "job token, malformed hello", [pk({**hello, "tok": token, **bad[(k // 7) % len(bad)]})]
        elif kind == 5:
            op = ["welcome", "table", "rendezvous_failed", "abort", ""][(k // 7) % 5]
            yield "job token, not a hello", [pk(dict(hello, tok=token, op=op))]
        else:
            yield "msgpack declaring huge lengths", [[b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                                                      b"\xc6\xff\xff\xff\xff\x00", b"\x91" * 30_000][(k // 7) % 4]]


def _send(zctx, url, msgs, keys=None, sock_type=zmq.PUSH, wait=True):
    """Like fuzz_frames.send_messages, for any socket type; `wait=False` for senders that will
    never connect (no linger)."""
    sent = Counter()
    s = zctx.socket(sock_type)
    s.setsockopt(zmq.LINGER, 10_000 if wait else 0)
    s.setsockopt(zmq.SNDTIMEO, 2000 if wait else 0)
    s.setsockopt(zmq.SNDHWM, 100_000 if wait else 50)
    if keys is not None:
        keys.client(s)
    s.connect(url)
    for cat, frames in msgs:
        try:
            s.send_multipart(frames)
        except zmq.Again:
            break
        sent[cat] += 1
    s.close()
    return sent


def run_job(tmp: Path, env: dict, fuzz: bool) -> dict:
    job = Job(tmp, env)
    curve = env.get("DPTRAIN_CURVE") == "1"
    rdv_curve = env.get("DPTRAIN_CURVE") != "0"  # the rendezvous uses CURVE on one host too
    keys = CurveKeys.from_token(job.token.encode())
    strangers = CurveKeys.from_token(b"another job's secret")
    rng = np.random.default_rng(15)
    report = {"tried": Counter(), "python_dropped": Counter(), "libzmq_refused": Counter(), "problems": []}
    zctx = zmq.Context()
    sampler = None
    try:
        if not fuzz:
            (tmp / "done").touch()
        job.start(0)
        if fuzz:
            # --- the rendezvous: rank 0 alone serves it until rank 1 arrives
            job.wait(lambda: _listening(job.port), 30, "rank 0's rendezvous")
            url = f"tcp://127.0.0.1:{job.port}"
            msgs = list(rendezvous_messages(rng, job.token.encode(), RDV_MESSAGES))
            arrive = _send(zctx, url, msgs, keys if rdv_curve else None, zmq.DEALER)
            if rdv_curve:  # the same without the keys: never connects
                report["tried"].update(_send(zctx, url, msgs, None, zmq.DEALER, wait=False))
                report["tried"].update(_send(zctx, url, msgs, strangers, zmq.DEALER, wait=False))
            report["tried"].update(arrive)
            rdv_expected = sum(arrive.values())
            big = [("over the rendezvous' 64 KiB limit", [rng.bytes(70_000)])] * 5
            report["tried"].update(_send(zctx, url, big, keys if rdv_curve else None, zmq.DEALER))
            t, ref, probs, rdv_raw_bytes = F.run_wire_attacks(url, job.token.encode(), rng, limit=64 * 1024,
                                                              curve=rdv_curve, as_type=b"DEALER")
            report["tried"].update(t)
            report["libzmq_refused"].update(ref)
            report["problems"] += probs
            time.sleep(1.0)  # for rank 0 to read all of it before rank 1's hello completes the table
        job.start(1)
        job.wait(lambda: (tmp / "table.json").exists() and all(job.status(r).get("step", 0) >= 2 for r in (0, 1)),
                 60, "the job to start training")
        if not fuzz:
            return {"results": job.results(60)}
        pids = {r: p.pid for r, p in job.procs.items()}
        sampler = RssSampler(pids)
        sampler.start()
        base = {r: job.status(r) for r in (0, 1)}
        table = json.loads((tmp / "table.json").read_text())["endpoints"]
        endpoints = {r: [u for u in (rec["ipc"], rec["tcp"]) if u] for r, rec in enumerate(table)}
        # --- data plane, ZeroMQ messages: every one must reach Python and be dropped there
        expected = Counter()
        for r, urls in endpoints.items():
            for url in urls:
                msgs = list(F.messages(rng, job.token.encode(), 2, r, MESSAGES_PER_ENDPOINT))
                msgs += list(F.big_messages(rng, BIG_PER_ENDPOINT))
                tcp_curve = curve and url.startswith("tcp://")
                arrive = _send(zctx, url, msgs, keys if tcp_curve else None)
                expected[r] += sum(arrive.values())
                report["tried"].update(arrive)
                if tcp_curve:  # without the keys, or with another job's: nothing arrives
                    report["tried"].update(_send(zctx, url, msgs[:500], None, wait=False))
                    report["tried"].update(_send(zctx, url, msgs[:500], strangers, wait=False))
        want = {r: base[r]["dropped"] + expected[r] for r in (0, 1)}
        job.wait(lambda: all(job.status(r).get("dropped", 0) >= want[r] for r in (0, 1)), 60,
                 f"the ranks to drop {dict(expected)} messages")
        time.sleep(0.3)
        got = {r: job.status(r)["dropped"] - base[r]["dropped"] for r in (0, 1)}
        assert got == dict(expected), f"dropped {got}, sent {dict(expected)}"
        report["python_dropped"]["zeromq messages"] = sum(got.values())
        report["data_plane"] = f"{sum(expected.values())} delivered / {sum(got.values())} dropped"
        # --- below ZeroMQ: hostile ZMTP, and partial frames held open
        before = {r: job.status(r)["dropped"] for r in (0, 1)}
        held = []
        for r, urls in endpoints.items():
            for url in urls:
                url_curve = curve and url.startswith("tcp://")
                t, ref, probs, _ = F.run_wire_attacks(url, job.token.encode(), rng, curve=url_curve)
                report["tried"].update(t)
                report["libzmq_refused"].update(ref)
                report["problems"] += probs
                held += F.hold_partial_frames(url, HELD_PER_ENDPOINT)
                report["tried"]["partial frame held open (1 MiB declared)"] += HELD_PER_ENDPOINT
        time.sleep(1.0)
        for s in held:
            s.close()
        time.sleep(0.3)
        report["python_dropped"]["below zeromq (zmtp 1.0 reads of random bytes, a hand-made frame)"] = \
            sum(job.status(r)["dropped"] - before[r] for r in (0, 1))
        (tmp / "done").touch()
        res = job.results(60)
        sampler.halt.set()
        sampler.join()
        report["results"] = res
        report["rdv_expected"], report["rdv_raw_bytes"] = rdv_expected, rdv_raw_bytes
        report["rss_base_kb"] = {r: base[r]["VmRSS"] for r in (0, 1)}
        report["rss_peak_kb"] = {r: max(sampler.peak[r], res[r]["VmRSS"]) for r in (0, 1)}
        return report
    finally:
        if sampler is not None:
            sampler.halt.set()
        zctx.destroy(linger=0)
        job.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The weights of the same job without a fuzzer."""
    res = run_job(tmp_path_factory.mktemp("ref"), {}, fuzz=False)["results"]
    assert res[0]["digest"] == res[1]["digest"]
    return res[0]["digest"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", list(MODES))
def test_a_fuzzed_job_finishes_with_the_same_weights(tmp_path, reference, mode):
    env = MODES[mode]
    if env.get("DPTRAIN_CURVE") == "1" and not zmq.has("curve"):
        pytest.skip("pyzmq built without CURVE")
    t0 = time.monotonic()
    rep = run_job(tmp_path, env, fuzz=True)
    elapsed = time.monotonic() - t0
    res = rep["results"]
    assert rep["problems"] == [], rep["problems"]
    assert res[0]["digest"] == res[1]["digest"] == reference  # the fuzzer changed nothing
    assert all(r["curve"] == (mode == "tcp+curve") for r in res.values())
    assert all(r["shm"] == (mode == "ipc+shm") for r in res.values())
    if mode != "ipc+shm":
        assert all(u.startswith("tcp://") for r in res.values() for u in r["peer_urls"])
    # the rendezvous dropped (and counted) what reached it: every ZeroMQ message, and whatever
    # libzmq made of the raw bytes (ZMTP 1.0 reads them as messages)
    rdv = res[0]["rdv_dropped"]
    assert rep["rdv_expected"] <= rdv <= rep["rdv_expected"] + rep["rdv_raw_bytes"] + 1, (rdv, rep["rdv_expected"])
    if mode == "tcp+curve":  # below ZeroMQ, nothing without the keys got through
        assert rep["python_dropped"]["below zeromq (zmtp 1.0 reads of random bytes, a hand-made frame)"] == 0
    growth = {r: rep["rss_peak_kb"][r] - rep["rss_base_kb"][r] for r in (0, 1)}
    assert max(growth.values()) < RSS_GROWTH_LIMIT_KB, growth
    figures = {
        "mode": mode, "seconds": round(elapsed, 1),
        "tried": sum(rep["tried"].values()),
        "reached python, dropped and counted": sum(rep["python_dropped"].values()) + rdv,
        "refused inside libzmq (connection closed)": sum(rep["libzmq_refused"].values()),
        "data plane ZeroMQ messages": rep["data_plane"],
        "rendezvous dropped": rdv,
        "rss growth MiB": {r: round(g / 1024, 1) for r, g in growth.items()},
        "outcome": "finished, same weights as unfuzzed",
        "tried by category": dict(rep["tried"]),
    }
    print("\nFUZZ " + json.dumps(figures))
    if os.environ.get("DPTRAIN_FUZZ_REPORT"):
        with open(os.environ["DPTRAIN_FUZZ_REPORT"], "a") as f:
            f.write(json.dumps(figures) + "\n")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["ipc+shm", "tcp+curve"])
def test_an_endless_multipart_message_is_refused_at_the_handshake(tmp_path, mode):
    """ZMQ_MAXMSGSIZE bounds frames, not messages: a peer that speaks ZMTP by hand can stream one
    message that never ends, and a socket that let it in would buffer all of it. The rendezvous
    (on one host too: any local user reaches 127.0.0.1) and CURVE data sockets refuse it before."""
    if not zmq.has("curve"):
        pytest.skip("pyzmq built without CURVE")
    job = Job(tmp_path, MODES[mode])
    try:
        job.start(0)
        job.wait(lambda: _listening(job.port), 30, "rank 0's rendezvous")
        pid = job.procs[0].pid
        rss = lambda: int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")).split()[1])  # noqa: E731
        before = rss()
        accepted, took = F.endless_message(f"tcp://127.0.0.1:{job.port}", 64, as_type=b"DEALER",
                                           frame_bytes=60 << 10)  # under the rendezvous' 64 KiB
        grew = rss() - before
        assert (accepted, took) == (False, 0) and grew < 16 * 1024, (accepted, took, grew)
        if mode == "tcp+curve":  # and the data sockets, once the job runs
            job.start(1)
            job.wait(lambda: (tmp_path / "table.json").exists(), 60, "the table")
            for rec in json.loads((tmp_path / "table.json").read_text())["endpoints"]:
                assert F.endless_message(rec["tcp"], 64) == (False, 0)
        (tmp_path / "done").touch()
        if mode == "tcp+curve":
            res = job.results(60)
            assert all(r["dropped"] == 0 for r in res.values())
    finally:
        job.close()
