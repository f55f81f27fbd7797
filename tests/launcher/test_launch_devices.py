import sys
import time
import types

import pytest

from launcher.devices import assign_devices, count_vulkan_gpus, parse_devices


def _fake_vulkan(device_types=(), fail_at=None):
    """A stand-in for the `vulkan` binding with the given VkPhysicalDeviceType values."""
    def step(name, result):
        def call(*args, **kwargs):
            if fail_at == name:
                raise RuntimeError(f"{name} failed")
            return result
        return call
    return types.SimpleNamespace(
        VK_STRUCTURE_TYPE_APPLICATION_INFO=0, VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO=1,
        VK_MAKE_VERSION=lambda *v: 0,
        VkApplicationInfo=lambda **kw: kw, VkInstanceCreateInfo=lambda **kw: kw,
        vkCreateInstance=step("vkCreateInstance", object()),
        vkEnumeratePhysicalDevices=step("vkEnumeratePhysicalDevices", list(device_types)),
        vkGetPhysicalDeviceProperties=lambda t: types.SimpleNamespace(deviceType=t),
        vkDestroyInstance=lambda *a: None,
    )


@pytest.fixture
def fresh_count():
    count_vulkan_gpus.cache_clear()
    yield count_vulkan_gpus
    count_vulkan_gpus.cache_clear()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("device_types, gpus", [
    ((), 0),
    ((4,), 0),           # lavapipe / llvmpipe: a CPU device
    ((2, 4, 1), 2),      # discrete + CPU + integrated
    ((3, 0), 1),         # virtual GPU + "other"
])
def test_only_gpu_type_devices_count(monkeypatch, fresh_count, device_types, gpus):
    monkeypatch.setitem(sys.modules, "vulkan", _fake_vulkan(device_types))
    assert fresh_count() == gpus


@pytest.mark.timeout(10)
def test_broken_vulkan_means_no_gpu(monkeypatch, fresh_count):
    monkeypatch.setitem(sys.modules, "vulkan", None)  # `import vulkan` raises ImportError
    assert fresh_count() == 0
    fresh_count.cache_clear()
    monkeypatch.setitem(sys.modules, "vulkan", _fake_vulkan((2,), fail_at="vkCreateInstance"))
    assert fresh_count() == 0
    fresh_count.cache_clear()
    monkeypatch.setitem(sys.modules, "vulkan", _fake_vulkan((2,), fail_at="vkEnumeratePhysicalDevices"))
    assert fresh_count() == 0


@pytest.mark.timeout(20)
def test_real_detection_is_quick_and_sane(fresh_count):
    started = time.monotonic()
    n = fresh_count()
    assert isinstance(n, int) and n >= 0
    assert time.monotonic() - started < 5


@pytest.mark.timeout(10)
def test_parse_and_assign():
    assert parse_devices("cpu") == parse_devices(" CPU ") == []
    assert parse_devices("0,1") == parse_devices("vulkan:0, vulkan:1") == [0, 1]
    for bad in ("", "gpu", "0,,1", "-1", "0,0"):
        with pytest.raises(ValueError):
            parse_devices(bad)
    # fewer GPUs than workers: ranks share GPUs round-robin, never a GPU/CPU mix
    assert assign_devices(3, [2, 0]) == ["vulkan:2", "vulkan:0", "vulkan:2"]
    assert assign_devices(2, [0]) == ["vulkan:0", "vulkan:0"]
    assert assign_devices(1, [0, 1]) == ["vulkan:0"]
    assert assign_devices(2, []) == ["cpu", "cpu"]
    # only when asked for: one GPU per worker while they last, the CPU for the rest
    assert assign_devices(3, [2, 0], mixed=True) == ["vulkan:2", "vulkan:0", "cpu"]


@pytest.mark.timeout(10)
def test_one_gpu_machine_gives_every_worker_the_gpu(monkeypatch, fresh_count, tmp_path):
    from launcher.cli import parse_spec
    from launcher.job import worker_env
    monkeypatch.setitem(sys.modules, "vulkan", _fake_vulkan((2,)))
    script = tmp_path / "train.py"
    script.write_text("")
    spec = parse_spec(["--nproc-per-node", "2", str(script)], {})
    assert spec.devices == ("vulkan:0", "vulkan:0")
    assert "DPTRAIN_ALLOW_MIXED_DEVICES" not in worker_env(spec, 1, 1234, 0, {})
    mixed = parse_spec(["--nproc-per-node", "2", "--allow-mixed-devices", str(script)], {})
    assert mixed.devices == ("vulkan:0", "cpu")
    assert worker_env(mixed, 1, 1234, 0, {})["DPTRAIN_ALLOW_MIXED_DEVICES"] == "1"
