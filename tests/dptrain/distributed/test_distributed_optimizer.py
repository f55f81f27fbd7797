"""DistributedOptimizer across real processes started by the launcher."""
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "dopt_worker.py")


def launch(mode, n=2):
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", str(n), "--timeout", "100",
                        SCRIPT, mode], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.timeout(150)
def test_every_rank_ends_with_bit_identical_weights_with_dropout_and_batchnorm():
    rc, out = launch("identical")
    assert rc == 0, out
    lines = [ln for ln in out.splitlines() if "OK identical" in ln]
    assert len(lines) == 2, out
    assert lines[0].split("OK identical")[1] == lines[1].split("OK identical")[1]


@pytest.mark.timeout(150)
def test_weight_desync_is_detected_and_names_the_rank():
    rc, out = launch("desync", n=3)
    assert rc == 0, out
    reports = [ln for ln in out.splitlines() if "DESYNC" in ln]
    assert len(reports) == 3, out
    assert all("rank(s) [1]" in ln for ln in reports), out


@pytest.mark.timeout(150)
def test_nonfinite_gradient_raises_on_every_rank_naming_the_source():
    rc, out = launch("raise")
    assert rc == 0, out
    reports = [ln for ln in out.splitlines() if "NONFINITE" in ln]
    assert len(reports) == 2 and all("rank(s) [1]" in ln for ln in reports), out
