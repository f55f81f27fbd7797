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
