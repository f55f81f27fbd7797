"""A smoke subset under the Khronos validation layer with synchronisation validation:
any warning or error fails. Runs in a subprocess (DPTRAIN_VK_VALIDATION=1 enables the layer
and a debug-utils messenger that collects messages)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from vulkan_helpers import vulkan_missing

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def run_smoke(*args):
    env = dict(os.environ, DPTRAIN_VK_VALIDATION="1", PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)]))
    env.pop("DPTRAIN_VK_FORCE_STAGING", None)
    res = subprocess.run([sys.executable, str(HERE / "vulkan_validation_smoke.py"), *args], env=env,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if "unavailable" in out:
        vulkan_missing(out["unavailable"])
    return out["messages"]


def test_smoke_subset_is_clean_under_validation_layer(vk):
    messages = run_smoke()
    assert not messages, f"{len(messages)} validation message(s), first: {messages[0][:2000]}"


def test_validation_layer_catches_a_missing_barrier(vk):
    messages = run_smoke("--negative")
    assert any("SYNC-HAZARD" in m for m in messages), messages[:3]
