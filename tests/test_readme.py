"""Every Python block of the README and of the documentation (docs/src) runs as written, each in a
fresh process in a scratch folder."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs" / "src").rglob("*.md"))
BLOCKS = [(f"{page.relative_to(ROOT)}#{k}", code) for page in PAGES
          for k, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))]


def test_the_readme_and_docs_have_python_blocks():
    assert sum(1 for name, _ in BLOCKS if name.startswith("README")) >= 4
    assert len(BLOCKS) >= 9


@pytest.mark.timeout(200)
@pytest.mark.parametrize("name, code", BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_runs_as_written(name, code, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, f"{name} failed:\n{code}\n--- stderr:\n{r.stderr[-3000:]}"
