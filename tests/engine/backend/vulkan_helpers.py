"""Shared by the Vulkan tests: availability policy, and running the same autograd
computation on two backends to compare values and gradients."""
import os

import numpy as np
import pytest

import engine as ag
from engine import backend

REQUIRE = os.environ.get("DPTRAIN_REQUIRE_VULKAN", "") == "1"
DEVICE_INDEX = int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0"))


def vulkan_missing(reason):
    """Skip, or fail under DPTRAIN_REQUIRE_VULKAN=1 (CI), when Vulkan cannot be used."""
    msg = f"Vulkan unavailable: {reason}"
    if REQUIRE:
        pytest.fail(msg + " (DPTRAIN_REQUIRE_VULKAN=1)", pytrace=False)
    pytest.skip(msg)


def run_on(K, fn, inputs, seed=0, dtype=np.float32):
    """Forward `fn` over params made from `inputs` with K current; return (output, grads)."""
    prev = backend.current
    backend.set_current(K)
    try:
        ag.manual_seed(seed)
        params = [ag.param(np.asarray(x, dtype), name=f"input{i}") for i, x in enumerate(inputs)]
        with ag.grad_tape():
            out = fn(*params)
            proj = np.random.default_rng(99).standard_normal(out.shape).astype(out.dtype)
            loss = ag.sum(out * proj)
        grads = ag.backward(loss)
        got = [None if p.name not in grads else np.asarray(K.to_numpy(grads[p.name]), np.float64) for p in params]
        return np.asarray(out.numpy(), np.float64), got
    finally:
        backend.set_current(prev)


def assert_same(vk, fn, inputs, rtol=1e-4, atol=1e-5, seed=0):
    y_ref, g_ref = run_on(backend.numpy_backend, fn, inputs, seed)
    y, g = run_on(vk, fn, inputs, seed)
    np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=atol, err_msg="forward differs from numpy")
    assert len(g) == len(g_ref)
    for i, (a, b) in enumerate(zip(g, g_ref)):
        if b is None:
            assert a is None, f"input {i}: numpy gives no gradient, Vulkan does"
            continue
        assert a is not None, f"input {i}: Vulkan gives no gradient"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"gradient of input {i} differs from numpy")


SHAPES = [(20, 16), (16,), (16, 3), (3,)]


def training_data():
    rng = np.random.default_rng(0)
    init = [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in SHAPES]
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = (x[:, :3].argmax(axis=1)).astype(np.int64)
    return init, x, y


def train_flat_adam(K, steps=12, batch=16):
    """Plain ag ops; params are views of one flat buffer updated by the fused Adam kernel."""
    prev = backend.current
    backend.set_current(K)
    try:
        init, x, y = training_data()
        n = sum(a.size for a in init)
        flat, gflat = K.zeros(n, np.float32), K.zeros(n, np.float32)
        m, v = K.zeros(n, np.float32), K.zeros(n, np.float32)
        pviews, gviews = K.split_views(flat, SHAPES), K.split_views(gflat, SHAPES)
        params = []
        for i, (view, a) in enumerate(zip(pviews, init)):
            K.copy_into(view, K.asarray(a))
            params.append(ag.Tensor(view, requires_grad=True, name=f"p{i}"))
        w1, b1, w2, b2 = params
        losses, submits = [], []
        for step in range(steps):
            lo = (step * batch) % len(x)
            xb, yb = x[lo:lo + batch], y[lo:lo + batch]
            before = getattr(K, "submits", 0)
            with ag.grad_tape():
                h = ag.relu(ag.tensor(xb) @ w1 + b1)
                loss = ag.softmax_cross_entropy_loss(h @ w2 + b2, yb)
            grads = ag.backward(loss)
            for view, p in zip(gviews, params):
                K.copy_into(view, grads[p.name])
            K.adam_update(flat, gflat, m, v, 1e-2, 0.9, 0.999, 1e-8, step + 1)
            losses.append(loss.item())
            submits.append(getattr(K, "submits", 0) - before)
        return np.array(losses), [np.array(K.to_numpy(p.data)) for p in params], submits
    finally:
        backend.set_current(prev)
