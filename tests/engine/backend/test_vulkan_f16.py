"""ag.dtype("f16"): tensors stored as 16-bit floats, every kernel accumulating in f32."""
import numpy as np
import pytest
from vulkan_helpers import assert_same, train_flat_adam

import engine as ag
from engine import backend

R = np.random.default_rng(5)
RTOL = ATOL = 2e-2          # f16 has an 11-bit significand


def rn(*shape):
    return R.standard_normal(shape)


@pytest.fixture
def f16(vk):
    if not vk.device.f16:
        pytest.skip(f"{vk.device_name} has no 16-bit storage / float16 arithmetic")
    vk.f16_storage = True
    try:
        yield vk
    finally:
        vk.f16_storage = False


CASES = [
    ("add_bcast", ag.add, [rn(7, 33), rn(33)]),
    ("mul_div", lambda a, b: a * b / (b * b + 1.0), [rn(65), rn(65)]),
    ("exp_tanh_sigmoid", lambda a: ag.exp(ag.tanh(a)) + ag.sigmoid(a), [rn(33)]),
    ("gelu_silu", lambda a: ag.gelu(a) * ag.silu(a), [rn(33)]),
    ("sum_mean_max", lambda a: ag.sum(a, axis=0) + ag.mean(a, axis=0) + ag.max(a, axis=0), [rn(65, 7)]),
    ("long_sum", ag.sum, [rn(20000) * 0.01]),
    ("matmul", ag.matmul, [rn(33, 65) * 0.2, rn(65, 7) * 0.2]),
    ("matmul_batched_t", lambda a, b: ag.matmul(a, ag.transpose(b, (0, 2, 1))), [rn(2, 7, 5), rn(2, 3, 5)]),
    ("softmax", lambda a: ag.log_softmax(a, -1) + ag.softmax(a, 0), [rn(7, 33)]),
    ("layer_norm", lambda x, g, b: ag.layer_norm(x, g, b), [rn(7, 33), rn(33), rn(33)]),
    ("batch_norm", lambda x, g, b: ag.batch_norm(x, g, b), [rn(33, 3), rn(3), rn(3)]),
    ("conv_pool", lambda x, w: ag.max_pool2d(ag.conv2d(x, w, padding="same"), 2), [rn(2, 6, 6, 3), rn(3, 3, 3, 4)]),
    ("avg_pool", lambda x: ag.avg_pool2d(x, 2), [rn(2, 4, 4, 3)]),
    ("embedding", lambda w: ag.embedding(np.array([[1, 1], [0, 4]]), w), [rn(5, 33)]),
    ("getitem_concat", lambda a: ag.concat([a[::2], a[np.array([1, 1])]], 0), [rn(5, 3)]),
    ("softmax_ce", lambda z: ag.softmax_cross_entropy_loss(z, np.array([2, 0, 1, 1])), [rn(4, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_f16_storage_matches_f32_numpy(f16, case):
    _, fn, inputs = case
    assert_same(f16, fn, inputs, rtol=RTOL, atol=ATOL)


def test_f16_storage_is_really_half_precision(f16):
    prev = backend.current
    backend.set_current(f16)
    try:
        x = ag.tensor(np.full(3, 1.0 + 2 ** -12, np.float32))   # not representable in f16
        assert x.dtype == np.float32 and x.data.f16 and x.data.itemsize == 2
        y = x * 1.0
        assert y.data.f16
        np.testing.assert_array_equal(y.numpy(), np.ones(3, np.float32))
        flat = f16.zeros(8, np.float32)            # flat buffers / optimiser state stay f32
        assert not flat.f16
    finally:
        backend.set_current(prev)


def test_float16_tensors_keep_their_dtype(vk, on_vulkan):
    a = np.array([0.5, -1.25, 3.0], np.float16)
    t = ag.tensor(a)
    assert t.dtype == np.float16
    y = t * t + t
    assert y.dtype == np.float16 and y.numpy().dtype == np.float16
    np.testing.assert_allclose(y.numpy(), a * a + a, rtol=1e-3)


def test_f16_training_tracks_the_f32_run(f16):
    ref, _, _ = train_flat_adam(backend.numpy_backend, steps=8)
    got, _, _ = train_flat_adam(f16, steps=8)
    np.testing.assert_allclose(got, ref, rtol=3e-2, atol=3e-2)
