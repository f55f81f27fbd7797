"""Data-parallel fit reports what one process reports on the same global batches: every History
value (training and validation) and evaluate, with an evaluation set that does not divide evenly."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "keras_history_worker.py")


def _results(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    return [json.loads(ln.split("RESULT ", 1)[1]) for ln in r.stdout.splitlines() if "RESULT " in ln]


@pytest.mark.timeout(200)
@pytest.mark.parametrize("world", [2, 3])
def test_history_and_evaluate_equal_one_process_on_the_global_batches(world):
    args = [str(8 * world), str(16 * world * 2), "61"]    # 61 evaluation samples: shards of unequal size
    (single,) = _results([sys.executable, SCRIPT, *args])
    multi = _results([sys.executable, "-m", "launcher", "--nproc-per-node", str(world), "--timeout", "120",
                      SCRIPT, *args])
    assert len(multi) == world
    for got in multi:
        assert list(got["history"]) == list(single["history"])
        for key, values in single["history"].items():
            np.testing.assert_allclose(got["history"][key], values, rtol=2e-5, atol=1e-6, err_msg=key)
        for key, value in single["evaluate"].items():
            assert got["evaluate"][key] == pytest.approx(value, rel=2e-5, abs=1e-6), key
        for a, b in zip(got["weights"], single["weights"]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
