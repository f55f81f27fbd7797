"""The engine examples run end to end and reach their accuracy / error targets."""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(name, *args):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def value(out, label):
    m = re.search(rf"^{re.escape(label)}:\s*([0-9.]+)", out, re.M)
    assert m, f"no '{label}' line in:\n{out}"
    return float(m.group(1))


def test_iris_autograd_reaches_93_percent():
    pytest.importorskip("sklearn")
    assert value(run_example("iris_autograd.py"), "validation accuracy") >= 0.93


def test_xor_mlp_learns_what_a_linear_model_cannot():
    out = run_example("xor.py")
    assert value(out, "mlp accuracy") == 1.0
    assert value(out, "linear accuracy") <= 0.75


def test_sine_regression_fits_and_plots(tmp_path):
    plot = tmp_path / "fit.png"
    out = run_example("sine_regression.py", "--plot", str(plot))
    assert value(out, "final mse vs 4 sin(x)") < 0.05
    if importlib.util.find_spec("matplotlib"):
        assert plot.stat().st_size > 1000
