"""Every Python block of the README runs as written, each in a fresh process in a scratch folder."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.timeout(200)
@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_readme_block_runs(k, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", BLOCKS[k]], cwd=tmp_path, capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, f"README block {k} failed:\n{BLOCKS[k]}\n--- stderr:\n{r.stderr[-3000:]}"
