"""Command recording: barriers only on hazards, submits only when needed, deferred frees,
the staging path for devices whose memory is not host-visible."""
import gc

import numpy as np
import pytest

from engine.backend.vulkan.backend import VulkanBackend
from engine.backend.vulkan.context import Device


def f32(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


def test_barriers_only_on_read_after_write_and_write_after_read(vk):
    rec = vk.device.recorder
    x, y = vk.asarray(f32(33)), vk.asarray(f32(33))
    vk.sync()
    b0 = rec.barriers
    z1 = vk.add(x, y)
    z2 = vk.mul(x, y)               # independent of z1: no barrier
    assert rec.barriers == b0
    z3 = vk.add(z1, z2)             # reads what the last two wrote: one barrier
    assert rec.barriers == b0 + 1
    vk.sub(x, y)                    # reads only host-written inputs: no barrier
    assert rec.barriers == b0 + 1
    vk.add_into(z1, y)              # writes z1, read by the z3 dispatch: barrier (write after read)
    assert rec.barriers == b0 + 2
    np.testing.assert_allclose(vk.to_numpy(z3), (x_h := vk.to_numpy(x)) + vk.to_numpy(y) + x_h * vk.to_numpy(y),
                               rtol=1e-6)


def test_submit_only_when_the_host_needs_a_value(vk):
    x = vk.asarray(f32(7, 5))
    vk.sync()
    s0 = vk.submits
    y = vk.exp(vk.tanh(x))
    assert vk.submits == s0, "recording must not submit"
    vk.to_numpy(x)                  # not written by pending work: read without a submit
    assert vk.submits == s0
    vk.to_numpy(y)
    assert vk.submits == s0 + 1
    vk.to_numpy(y)                  # already complete
    vk.sync()                       # nothing recorded: nothing to submit
    assert vk.submits == s0 + 1


def test_op_budget_submits_long_recordings(vk):
    rec = vk.device.recorder
    vk.sync()
    old, rec.op_budget = rec.op_budget, 4
    try:
        s0 = vk.submits
        x = vk.asarray(f32(9))
        for _ in range(10):
            x = vk.scale(x, 1.0)
        assert vk.submits == s0 + 2
        vk.to_numpy(x)
        assert vk.submits == s0 + 3
    finally:
        rec.op_budget = old


def test_freed_memory_is_reused_only_after_the_device_is_done(vk):
    vk.sync()
    a = vk.asarray(f32(1000))
    region = a.storage.region
    y = vk.exp(a)                   # recorded, not yet run: reads a
    del a
    gc.collect()
    b = vk.asarray(f32(1000))
    assert b.storage.region != region, "memory of a pending read was handed out again"
    vk.to_numpy(y)                  # the batch completes
    vk.device.reclaim()
    c = vk.asarray(f32(1000))
    assert c.storage.region == region, "freed memory is recycled once the device is done"
    del b, c


def test_descriptor_sets_are_reused_across_training_steps(vk):
    pipes = vk.device.pipelines
    w = vk.asarray(f32(16, 8))

    def step():
        x = vk.asarray(f32(4, 16))
        vk.to_numpy(vk.sum(vk.relu(vk.matmul(x, w))))
        vk.device.reclaim()

    step()
    step()
    before = pipes.descriptor_sets
    for _ in range(3):
        step()
    assert pipes.descriptor_sets == before


def test_staging_path_without_host_visible_device_memory(vk, monkeypatch):
    monkeypatch.setenv("DPTRAIN_VK_FORCE_STAGING", "1")
    dev = Device(vk.device.instance, vk.device.index)
    try:
        assert dev.staging is not None and not dev.pool.mapped
        sb = VulkanBackend(dev)
        a, b = f32(33, 7), f32(7)
        da, db = sb.asarray(a), sb.asarray(b)
        np.testing.assert_array_equal(sb.to_numpy(da), a)
        np.testing.assert_allclose(sb.to_numpy(sb.add(da, db)), a + b, rtol=1e-6)
        flat = sb.zeros(7, np.float32)
        sb.copy_into(flat, db)
        np.testing.assert_array_equal(sb.to_numpy(flat), b)
        assert sb.sum_squares(db) == pytest.approx(float(b @ b), rel=1e-5)
        # an array of the other device is copied through the host, not misused
        np.testing.assert_allclose(sb.to_numpy(sb.add(da, vk.asarray(b))), a + b, rtol=1e-6)
        vk.copy_into(vk_dst := vk.zeros(7, np.float32), db)
        np.testing.assert_array_equal(vk.to_numpy(vk_dst), b)
    finally:
        dev.close()
    with pytest.raises(RuntimeError, match="closed"):
        sb.to_numpy(da)
    with pytest.raises(RuntimeError, match="closed"):
        sb.exp(da)


def test_large_launches_spread_workgroups_over_a_second_grid_axis(vk, monkeypatch):
    """More workgroups than a grid row holds (65535 on most devices) go on y; shrink the row to test it."""
    monkeypatch.setattr(vk, "max_groups_x", 3)
    a, b = f32(5000), f32(5000)
    np.testing.assert_allclose(vk.to_numpy(vk.add(vk.asarray(a), vk.asarray(b))), a + b, rtol=1e-6)
    m = f32(9, 700)
    np.testing.assert_allclose(vk.to_numpy(vk.sum(vk.asarray(m), 1)), m.sum(1), rtol=1e-4, atol=1e-4)
    long = f32(40000)
    assert vk.to_numpy(vk.sum(vk.asarray(long))) == pytest.approx(float(long.sum()), rel=1e-4, abs=1e-2)
