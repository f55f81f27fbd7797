"""An unmodified Keras program under dptrain-launch trains data-parallel (no distributed.init())."""
import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "keras_unmodified.py")
LAUNCH = [sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--timeout", "100"]


def results(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    found = [json.loads(ln.split("RESULT ", 1)[1]) for ln in r.stdout.splitlines() if "RESULT " in ln]
    return found, r.stdout


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed"])
def test_plain_keras_program_joins_the_job(kind):
    (single,), _ = results([sys.executable, SCRIPT, kind])
    multi, out = results(LAUNCH + [SCRIPT, kind])
    assert len(multi) == 2, out
    # each rank ran half of the batches, on its shard, and the replicas stayed identical
    assert single["batches"] == 16 and [m["batches"] for m in multi] == [8, 8], out
    assert multi[0]["digest"] == multi[1]["digest"] and multi[0]["history"] == multi[1]["history"], out
    joined = [ln for ln in out.splitlines() if "fit joins the 2-process data-parallel job" in ln]
    assert len(joined) == 1 and joined[0].startswith("[rank 0]"), out


@pytest.mark.timeout(120)
def test_auto_join_can_be_turned_off():
    env = dict(os.environ, DPTRAIN_AUTO_DISTRIBUTED="0")
    multi, out = results(LAUNCH + [SCRIPT, "sequential"], env=env)
    assert [m["batches"] for m in multi] == [16, 16], out
    assert "fit joins" not in out
