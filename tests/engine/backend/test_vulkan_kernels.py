"""Kernels called directly: transfers, in-place updates, flat-buffer views, fused optimisers,
reductions to host values — each against the numpy backend."""
import numpy as np
import pytest

from engine import backend
from engine.backend.vulkan.array import VkArray

NP = backend.numpy_backend
R = np.random.default_rng(3)


def f32(*shape):
    return R.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (33, 2), (65, 3, 1)])
def test_upload_download_roundtrip(vk, shape):
    a = f32(*shape)
    d = vk.asarray(a)
    assert type(d) is VkArray and d.shape == shape and d.dtype == np.float32
    np.testing.assert_array_equal(vk.to_numpy(d), a)
    np.testing.assert_array_equal(np.asarray(d), a)


def test_host_dtypes_stay_on_host(vk):
    for a in (np.arange(5), np.array([True, False]), np.ones(3)):
        out = vk.asarray(a)
        assert type(out) is np.ndarray and out.dtype == a.dtype


def test_zeros_full_copy_astype(vk):
    z = vk.zeros((3, 5), np.float32)
    np.testing.assert_array_equal(vk.to_numpy(z), np.zeros((3, 5), np.float32))
    f = vk.full(7, 2.5, np.float32)
    np.testing.assert_array_equal(vk.to_numpy(f), np.full(7, 2.5, np.float32))
    a = vk.asarray(f32(4, 3))
    c = vk.copy(a)
    assert c.storage is not a.storage
    np.testing.assert_array_equal(vk.to_numpy(c), vk.to_numpy(a))
    h = vk.astype(a, np.float16)
    assert h.dtype == np.float16
    np.testing.assert_array_equal(vk.to_numpy(h), vk.to_numpy(a).astype(np.float16))
    d = vk.astype(a, np.float64)
    assert type(d) is np.ndarray and d.dtype == np.float64


def test_copy_into_and_add_into_broadcast_in_place(vk):
    dst = vk.asarray(f32(4, 3))
    src = f32(3)
    ref = vk.to_numpy(dst).copy()
    vk.add_into(dst, vk.asarray(src))
    np.testing.assert_allclose(vk.to_numpy(dst), ref + src, rtol=1e-6)
    vk.copy_into(dst, vk.asarray(src))
    np.testing.assert_array_equal(vk.to_numpy(dst), np.broadcast_to(src, (4, 3)))


def test_split_views_alias_the_flat_buffer(vk):
    flat = vk.zeros(2 * 3 + 4 + 1, np.float32)
    w, b, s = vk.split_views(flat, [(2, 3), (4,), ()])
    assert w.storage is flat.storage and w.shape == (2, 3) and s.shape == ()
    vk.copy_into(b, vk.asarray(np.arange(4, dtype=np.float32)))
    vk.copy_into(s, vk.asarray(np.float32(9)))
    np.testing.assert_array_equal(vk.to_numpy(flat), [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 9])
    vk.add_into(flat, vk.asarray(np.ones(11, np.float32)))
    np.testing.assert_array_equal(vk.to_numpy(b), [1, 2, 3, 4])


def test_sum_squares_and_all_finite(vk):
    a = f32(1000)
    assert vk.sum_squares(vk.asarray(a)) == pytest.approx(NP.sum_squares(a), rel=1e-5)
    big = f32(70000)           # several workgroups and a second reduction pass
    assert vk.sum_squares(vk.asarray(big)) == pytest.approx(float(np.sum(big.astype(np.float64) ** 2)), rel=1e-5)
    assert vk.all_finite(vk.asarray(a))
    for bad in (np.inf, -np.inf, np.nan):
        b = a.copy()
        b[517] = bad
        assert not vk.all_finite(vk.asarray(b))
    one = np.array([np.nan], np.float32)
    assert not vk.all_finite(vk.asarray(one))


def test_max_propagates_nan_and_sum_of_empty_is_zero(vk):
    a = f32(5, 4)
    a[2, 1] = np.nan
    got = vk.to_numpy(vk.max(vk.asarray(a), axis=0))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(a.max(axis=0)))
    np.testing.assert_array_equal(vk.to_numpy(vk.sum(vk.asarray(np.zeros((0, 3), np.float32)), 0)), np.zeros(3))


def test_sum_to_broadcast_to_max_grad(vk):
    g = f32(4, 3, 5)
    np.testing.assert_allclose(vk.to_numpy(vk.sum_to(vk.asarray(g), (3, 1))), NP.sum_to(g, (3, 1)), rtol=1e-5)
    a = f32(3, 1)
    np.testing.assert_array_equal(vk.to_numpy(vk.broadcast_to(vk.asarray(a), (2, 3, 4))), np.broadcast_to(a, (2, 3, 4)))
    x = np.array([[1, 3, 3], [2, 2, 0]], np.float32)
    y = x.max(axis=1, keepdims=True)
    gk = np.array([[1.0], [4.0]], np.float32)
    got = vk.max_grad(vk.asarray(x), vk.asarray(y), vk.asarray(gk), (1,))
    np.testing.assert_allclose(vk.to_numpy(got), NP.max_grad(x, y, gk, (1,)))


def test_getitem_grad_accumulates_repeated_indices(vk):
    g = f32(5, 3)
    idx = (np.array([0, 2, 0, 0, 3]),)
    got = vk.getitem_grad(vk.asarray(g), (4, 3), idx, True)
    np.testing.assert_allclose(vk.to_numpy(got), NP.getitem_grad(g, (4, 3), idx, True), rtol=1e-6)
    basic = (slice(1, None), slice(None, None, 2))
    g2 = f32(3, 2)
    got = vk.getitem_grad(vk.asarray(g2), (4, 3), basic, False)
    np.testing.assert_array_equal(vk.to_numpy(got), NP.getitem_grad(g2, (4, 3), basic, False))


def test_one_hot_and_embedding_grad(vk):
    labels = np.array([[2, 0], [1, 2]])
    np.testing.assert_array_equal(vk.to_numpy(vk.one_hot(labels, 3, np.float32)), NP.one_hot(labels, 3, np.float32))
    idx = np.array([[1, 4, 1], [1, 0, 4]])
    g = f32(2, 3, 33)
    got = vk.embedding_grad(idx, vk.asarray(g), 6, np.float32)
    np.testing.assert_allclose(vk.to_numpy(got), NP.embedding_grad(idx, g, 6, np.float32), rtol=1e-5, atol=1e-6)


def _flat_state(K, n_views, arrays):
    """A flat buffer and its views (like the training kit's parameter space), filled from `arrays`."""
    total = sum(a.size for a in arrays)
    flat = K.zeros(total, np.float32)
    views = K.split_views(flat, [a.shape for a in arrays])
    for v, a in zip(views, arrays):
        K.copy_into(v, K.asarray(a))
    return flat, views


OPTIMISERS = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("adam", dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("adam", dict(lr=1e-2, beta1=0.9, beta2=0.99, eps=1e-7, weight_decay=0.1)),
    ("adam", dict(lr=1e-2, beta1=0.8, beta2=0.999, eps=1e-8, weight_decay=0.1, decoupled=True)),
    ("rmsprop", dict(lr=1e-2, rho=0.9, eps=1e-7)),
    ("rmsprop", dict(lr=1e-2, rho=0.8, eps=1e-7, weight_decay=0.05)),
    ("rmsprop", dict(lr=1e-2, rho=0.9, eps=1e-7, momentum=0.9)),
    ("rmsprop", dict(lr=1e-2, rho=0.9, eps=1e-7, centered=True)),
    ("rmsprop", dict(lr=1e-2, rho=0.9, eps=1e-7, momentum=0.5, centered=True, eps_inside=True)),
    ("rmsprop", dict(lr=1e-2, rho=0.9, eps=1e-7, eps_inside=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("kind,hyper", OPTIMISERS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(OPTIMISERS)])
def test_fused_optimiser_updates_views_in_place(vk, kind, hyper):
    shapes = [(7, 33), (33,), (1,)]
    params = [f32(*s) for s in shapes]
    grads = [[f32(*s) for s in shapes] for _ in range(3)]
    results = []
    for K in (NP, vk):
        p, p_views = _flat_state(K, 3, params)
        g, g_views = _flat_state(K, 3, grads[0])
        s1, s2, s3 = (K.zeros(p.size, np.float32) for _ in range(3))
        for step in range(3):
            for v, a in zip(g_views, grads[step]):
                K.copy_into(v, K.asarray(a))
            if kind == "sgd":
                K.sgd_update(p, g, s1, **hyper)
            elif kind == "adam":
                K.adam_update(p, g, s1, s2, step=step + 1, **hyper)
            else:
                h = dict(hyper)
                centered = h.pop("centered", False)
                K.rmsprop_update(p, g, s1, buf=s2 if h.get("momentum") else None,
                                 grad_avg=s3 if centered else None, **h)
        results.append([np.array(K.to_numpy(v)) for v in p_views])
    for ref, got in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_fused_update_on_host_arrays_uses_numpy_in_place(vk):
    p, g = f32(5), f32(5)
    ref = p.copy()
    NP.sgd_update(ref, g, None, 0.1)
    vk.sgd_update(p, g, None, 0.1)
    np.testing.assert_array_equal(p, ref)
