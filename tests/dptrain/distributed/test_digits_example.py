"""The README's main job: the data-parallel digits example under the launcher."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.timeout(120)
def test_readme_main_job_trains_digits_with_two_workers():
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--timeout", "100",
                        os.path.join(ROOT, "examples", "digits_data_parallel.py")],
                       capture_output=True, text=True, timeout=110, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"\[rank 0\] final test accuracy ([0-9.]+)", r.stdout)
    assert m, r.stdout
    assert float(m.group(1)) >= 0.95
    assert "2 worker(s)" in r.stdout


@pytest.mark.timeout(200)
def test_main_job_on_a_one_gpu_machine_shares_the_gpu():
    """Two workers, one Vulkan device (lavapipe stands in for the GPU): both ranks share it,
    so the job never mixes Vulkan and numpy ranks and their weights stay identical."""
    from engine.device import vulkan_available
    if not vulkan_available():
        pytest.skip("needs a Vulkan device (lavapipe will do)")
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--devices", "0",
                        "--timeout", "180", os.path.join(ROOT, "examples", "digits_data_parallel.py"),
                        "--epochs", "4"], capture_output=True, text=True, timeout=190, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 worker(s), device vulkan:0" in r.stdout, r.stdout
    assert "weights identical on all 2 ranks" in r.stdout, r.stdout
