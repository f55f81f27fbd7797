"""ZeroMQ CURVE on the sockets that cross hosts: keys derived from the job secret; a peer
without them never gets a frame into Python."""
import pytest
import zmq

from dptrain.distributed import curve
from dptrain_dist_harness import run

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="pyzmq built without CURVE")


def test_keys_come_from_the_secret():
    a, b = curve.CurveKeys.from_token(b"job-1"), curve.CurveKeys.from_token(b"job-2")
    assert a == curve.CurveKeys.from_token(b"job-1") and a != b
    assert len(a.public) == len(a.secret) == 40 and zmq.curve_public(a.secret) == a.public
    assert "job-1" not in repr(a) and a.secret.decode() not in repr(a)


@pytest.mark.parametrize("env, on", [({}, False), ({"DPTRAIN_CURVE": "1"}, True), ({"DPTRAIN_CURVE": "0"}, False)])
def test_curve_is_on_across_hosts_by_default(env, on):
    assert curve.wanted("127.0.0.1", env) is on
    assert curve.wanted("192.0.2.7", env) is (env.get("DPTRAIN_CURVE") != "0")
    with pytest.raises(ValueError, match="DPTRAIN_CURVE must be"):
        curve.wanted("127.0.0.1", {"DPTRAIN_CURVE": "maybe"})


TCP = {"DPTRAIN_TRANSPORT": "tcp", "DPTRAIN_SHM": "0"}


@pytest.mark.timeout(90)
def test_frames_from_peers_without_the_keys_never_reach_python():
    res = run("intruders", 2, timeout=80, env=dict(TCP, DPTRAIN_CURVE="1"))
    assert all(r["curve"] for r in res), res
    assert all(r["sent"] == 400 and r["dropped"] == 0 for r in res), res  # refused inside libzmq, at the handshake
    # the same intruders without CURVE: their frames arrive, and are dropped (and counted) by the token check
    res = run("intruders", 2, timeout=80, env=dict(TCP, DPTRAIN_CURVE="0"))
    assert all(not r["curve"] for r in res) and all(r["dropped"] >= 200 for r in res), res


@pytest.mark.timeout(120)
def test_collectives_over_curve_give_the_same_bits_as_in_clear():
    """Every collective and size (ring pieces of a full MiB included: CURVE makes frames longer)."""
    clear = run("collectives", 2, timeout=100, env=dict(TCP, DPTRAIN_CURVE="0"))
    secure = run("collectives", 2, timeout=100, env=dict(TCP, DPTRAIN_CURVE="1"))
    assert secure[0]["hashes"] == secure[1]["hashes"] == clear[0]["hashes"]
    assert all(r["dropped"] == 0 for r in secure)
