"""Device enumeration and selection: ag.device, ag.dtype, DPTRAIN_BACKEND / DPTRAIN_DEVICE,
and the fallback to numpy (one warning, same results) when Vulkan cannot be used."""
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import engine as ag
from engine import backend
from engine.backend.vulkan.instance import PhysicalDeviceInfo, device_order_key

REPO = Path(__file__).resolve().parents[3]


def _info(kind, uuid):
    return PhysicalDeviceInfo(None, f"{kind}-{uuid}", kind, bytes([uuid]) * 16, 0, 0, False, 0)


def test_device_order_is_type_then_uuid():
    infos = [_info("cpu", 1), _info("integrated", 9), _info("discrete", 5), _info("other", 0),
             _info("virtual", 2), _info("discrete", 3)]
    order = [d.name for d in sorted(infos, key=device_order_key)]
    assert order == ["discrete-3", "discrete-5", "integrated-9", "virtual-2", "cpu-1", "other-0"]


def test_vulkan_status_lists_devices(vk):
    status = ag.vulkan_status()
    assert ag.vulkan_available() and status
    for i, d in enumerate(status):
        assert d["index"] == i
        assert isinstance(d["name"], str) and d["name"]
        assert d["type"] in ("discrete", "integrated", "virtual", "cpu", "other")
        assert isinstance(d["memory"], int) and d["memory"] > 0
        assert isinstance(d["f16"], bool)


@pytest.fixture
def restore_backend():
    prev = backend.current
    yield
    backend.set_current(prev)
    ag.dtype("f32")


def test_device_switches_backend(vk, restore_backend):
    dev = ag.device(f"vulkan:{vk.index}")
    assert dev.kind == "vulkan" and dev.index == vk.index and str(dev) == f"vulkan:{vk.index}"
    assert backend.current is vk
    assert type(ag.tensor([1.0, 2.0]).data).__name__ == "VkArray"
    assert ag.device("cpu").kind == "cpu" and backend.current is backend.numpy_backend
    with pytest.raises(ValueError, match="vulkan:N"):
        ag.device("tpu")


def test_missing_device_warns_and_uses_numpy(vk, restore_backend):
    with pytest.warns(RuntimeWarning, match="vulkan:99 does not exist") as caught:
        dev = ag.device("vulkan:99")
    assert caught[0].filename == __file__, "the warning must point at the user's line, not at engine/"
    assert dev.kind == "cpu" and backend.current is backend.numpy_backend


def test_gpu_means_a_real_gpu(vk, restore_backend):
    has_gpu = any(d["type"] in ("discrete", "integrated", "virtual") for d in ag.vulkan_status())
    if has_gpu:
        assert ag.device("gpu").kind == "vulkan"
    else:
        with pytest.warns(RuntimeWarning, match="no GPU"):
            assert ag.device("gpu").kind == "cpu"


def test_dtype_f16_on_vulkan_and_f32_elsewhere(vk, restore_backend):
    with pytest.raises(ValueError):
        ag.dtype("f64")
    ag.device(f"vulkan:{vk.index}")
    assert ag.dtype("f16") == ("f16" if vk.device.f16 else "f32")
    assert ag.dtype("f32") == "f32" and not vk.f16_storage
    ag.device("cpu")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert ag.dtype("f16") == "f32"


def test_setup_error_falls_back_with_one_warning(vk, monkeypatch, restore_backend):
    devmod = sys.modules["engine.device"]      # (engine.device is also the function)
    from engine.backend import vulkan as vkb
    from engine.backend.vulkan import context

    def broken(self, instance, index):
        raise vkb.VkError("vkCreateDevice", -3)
    monkeypatch.setattr(context.Device, "__init__", broken)
    monkeypatch.setattr(vkb, "_backends", {})
    monkeypatch.setattr(devmod, "_warned", set())
    with pytest.warns(RuntimeWarning, match="VK_ERROR_INITIALIZATION_FAILED"):
        assert ag.device("vulkan:0").kind == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ag.device("vulkan:0")          # warned once already


# -- environment selection, each in a fresh process ------------------------------------------
PROBE = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as w:
        import engine as ag
        imported_at_start = "vulkan" in sys.modules
        x = ag.tensor([[1.0, 2.0], [3.0, 4.0]])
        y = ag.softmax(x @ x, -1).numpy().tolist()
    from engine import backend
    print(json.dumps(dict(backend=backend.current.name, device=str(ag.device()), y=y,
                          imported_at_start=imported_at_start, vulkan_imported="vulkan" in sys.modules,
                          warnings=[str(m.message) for m in w if issubclass(m.category, RuntimeWarning)])))
""")


def probe(env_extra, pythonpath_first=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPTRAIN_")}
    env.update(env_extra)
    paths = ([str(pythonpath_first)] if pythonpath_first else []) + [str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    res = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


EXPECTED_Y = np.exp([[7, 10], [15, 22]] - np.max([[7, 10], [15, 22]], axis=1, keepdims=True))
EXPECTED_Y = (EXPECTED_Y / EXPECTED_Y.sum(axis=1, keepdims=True)).tolist()


def test_env_numpy_never_imports_the_binding():
    out = probe({"DPTRAIN_BACKEND": "numpy", "DPTRAIN_DEVICE": "vulkan:0"})
    assert out["backend"] == "numpy" and not out["vulkan_imported"] and not out["warnings"]


def test_env_vulkan_and_device_index(vk):
    out = probe({"DPTRAIN_BACKEND": "vulkan"})
    assert out["backend"] == "vulkan" and out["device"] == "vulkan:0" and not out["imported_at_start"]
    np.testing.assert_allclose(out["y"], EXPECTED_Y, rtol=1e-5)
    out = probe({"DPTRAIN_DEVICE": f"vulkan:{vk.index}"})
    assert out["backend"] == "vulkan" and out["device"] == f"vulkan:{vk.index}"
    out = probe({"DPTRAIN_BACKEND": "vulkan", "DPTRAIN_DEVICE": "cpu"})
    assert out["backend"] == "numpy" and not out["warnings"]


def test_env_auto_never_picks_a_cpu_device(vk):
    out = probe({})
    has_gpu = any(d["type"] in ("discrete", "integrated", "virtual") for d in ag.vulkan_status())
    assert out["backend"] == ("vulkan" if has_gpu else "numpy")
    assert not out["warnings"], "auto without a GPU is silent"


def test_no_loader_falls_back_with_one_warning(tmp_path):
    fake = tmp_path / "vulkan"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise OSError('Cannot find Vulkan SDK version (simulated)')\n")
    out = probe({"DPTRAIN_BACKEND": "vulkan"}, pythonpath_first=tmp_path)
    assert out["backend"] == "numpy"
    assert len(out["warnings"]) == 1 and "no Vulkan loader" in out["warnings"][0]
    np.testing.assert_allclose(out["y"], EXPECTED_Y, rtol=1e-6)
    out = probe({}, pythonpath_first=tmp_path)          # auto: quietly numpy
    assert out["backend"] == "numpy" and not out["warnings"]
