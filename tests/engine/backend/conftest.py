"""Vulkan test fixtures: one session-wide backend; a test that needs Vulkan skips without
it, unless DPTRAIN_REQUIRE_VULKAN=1 (CI), where unavailability is a failure."""
import pytest
from vulkan_helpers import DEVICE_INDEX, vulkan_missing

from engine import backend


@pytest.fixture(scope="session")
def vk():
    """The VulkanBackend every test in the session shares (pipelines compile once)."""
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason:
        vulkan_missing(reason)
    from engine.backend.vulkan import VulkanUnavailable, open_backend
    try:
        return open_backend(DEVICE_INDEX)
    except VulkanUnavailable as e:
        vulkan_missing(str(e))


@pytest.fixture
def on_vulkan(vk):
    """Make the Vulkan backend current for one test."""
    prev = backend.current
    backend.set_current(vk)
    try:
        yield vk
    finally:
        vk.f16_storage = False
        backend.set_current(prev)
