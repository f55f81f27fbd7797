"""Every primitive op: forward against a float64 numpy reference, backward against gradcheck."""
import math

import numpy as np
import pytest

import engine as ag
from engine.ops import primitive_names
from test_conv_variants_ops import np_conv_transpose

R = np.random.default_rng(7)


def rn(*shape):
    return R.standard_normal(shape)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    x = R.uniform(0.2, 1.5, shape)
    return x * R.choice([-1.0, 1.0], shape)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_conv2d(x, w, stride, pads):
    pt, pb, pl, pr = pads
    x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw, _, co = w.shape
    ho = (x.shape[1] - kh) // stride[0] + 1
    wo = (x.shape[2] - kw) // stride[1] + 1
    y = np.zeros((x.shape[0], ho, wo, co))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            y[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y


def np_pool(x, k, s, fn):
    ho = (x.shape[1] - k) // s + 1
    wo = (x.shape[2] - k) // s + 1
    y = np.zeros((x.shape[0], ho, wo, x.shape[3]))
    for i in range(ho):
        for j in range(wo):
            y[:, i, j, :] = fn(x[:, i * s:i * s + k, j * s:j * s + k, :], axis=(1, 2))
    return y


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


verf = np.vectorize(math.erf)


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_lstm(x, wi, wh, b=None, h=None, c=None, seq=True):
    """LSTM with gate blocks [i, f, g, o], a plain loop over time."""
    H = wh.shape[0]
    h = np.zeros((x.shape[0], H)) if h is None else h
    c = np.zeros((x.shape[0], H)) if c is None else c
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ wi + h @ wh + (0 if b is None else b)
        i, f, o = np_sigmoid(z[:, :H]), np_sigmoid(z[:, H:2 * H]), np_sigmoid(z[:, 3 * H:])
        c = f * c + i * np.tanh(z[:, 2 * H:3 * H])
        h = o * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1) if seq else h


def np_gru(x, wi, wh, bi=None, bh=None, h=None, order="rzn", seq=True):
    """GRU (reset after the matmul), blocks [r, z, n] or [z, r, n], a plain loop over time."""
    H = wh.shape[0]
    r_, z_ = (slice(0, H), slice(H, 2 * H)) if order == "rzn" else (slice(H, 2 * H), slice(0, H))
    h = np.zeros((x.shape[0], H)) if h is None else h
    hs = []
    for t in range(x.shape[1]):
        gi = x[:, t] @ wi + (0 if bi is None else bi)
        gh = h @ wh + (0 if bh is None else bh)
        r, z = np_sigmoid(gi[:, r_] + gh[:, r_]), np_sigmoid(gi[:, z_] + gh[:, z_])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, 1) if seq else h


def every_step(a):
    """Uses every time step of a [B, T, F] tensor as its own slice (the recurrent pattern), plus
    the whole tensor and an overlapping window, so that slice gradients and dense ones mix."""
    return ag.concat([a[:, t] * (t + 1.0) for t in range(a.shape[1])], 1) + ag.sum(a * a) + ag.sum(a[:, 1:3, ::2])


def np_every_step(a):
    return (np.concatenate([a[:, t] * (t + 1.0) for t in range(a.shape[1])], 1) + np.sum(a * a)
            + np.sum(a[:, 1:3, ::2]))

# (id, fn over tensors, reference over float64 arrays, inputs, Function classes covered)
CASES = [
    ("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [rn(7, 33), rn(33)], ["Add"]),
    ("add_broadcast_both", ag.add, np.add, [rn(7, 1), rn(1, 5)], ["Add"]),
    ("sub", lambda a, b: a - b, np.subtract, [rn(3, 1, 4), rn(2, 1)], ["Sub"]),
    ("mul_reused", lambda a: a * a, lambda a: a * a, [rn(7)], ["Mul"]),
    ("mul_broadcast", ag.mul, np.multiply, [rn(1), rn(4, 7)], ["Mul"]),
    ("div", lambda a, b: a / b, np.divide, [rn(5, 3), pos(3)], ["Div"]),
    ("pow_tensor", ag.pow, np.power, [pos(4, 3), rn(3)], ["Pow"]),
    ("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, [rn(7)], ["PowScalar"]),
    ("pow_square", lambda a: a ** 2, lambda a: a ** 2, [rn(33)], ["PowScalar"]),
    ("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [rn(5)], ["Pow"]),
    ("scale", lambda a: ag.scale(a, -2.5), lambda a: -2.5 * a, [rn(1)], ["Scale"]),
    ("neg", lambda a: -a, np.negative, [rn(7)], ["Neg"]),
    ("exp", ag.exp, np.exp, [rn(7, 3)], ["Exp"]),
    ("log", ag.log, np.log, [pos(33)], ["Log"]),
    ("sqrt", ag.sqrt, np.sqrt, [pos(7)], ["Sqrt"]),
    ("abs", ag.abs, np.abs, [away_from_zero(7)], ["Abs"]),
    ("clamp", lambda a: ag.clamp(a, -0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), [away_from_zero(33) * 1.3],
     ["Clamp"]),
    ("clamp_min_only", lambda a: ag.clamp(a, min=0.1), lambda a: np.maximum(a, 0.1), [away_from_zero(7)], ["Clamp"]),
    ("relu", ag.relu, lambda a: np.maximum(a, 0), [away_from_zero(7, 5)], ["Relu"]),
    ("sigmoid", ag.sigmoid, lambda a: 1 / (1 + np.exp(-a)), [rn(33)], ["Sigmoid"]),
    ("tanh", ag.tanh, np.tanh, [rn(7)], ["Tanh"]),
    ("gelu_tanh", ag.gelu, np_gelu_tanh, [rn(33)], ["Gelu"]),
    ("gelu_exact", lambda a: ag.gelu(a, approximate=False), lambda a: 0.5 * a * (1 + verf(a / math.sqrt(2))),
     [rn(7)], ["Gelu"]),
    ("silu", ag.silu, lambda a: a / (1 + np.exp(-a)), [rn(7)], ["Silu"]),
    ("cast", lambda a: ag.cast(a, np.float64) * 2.0, lambda a: a * 2.0, [rn(4)], ["Cast"]),
    ("sum_all", ag.sum, np.sum, [rn(7, 3)], ["Sum"]),
    ("sum_axis", lambda a: ag.sum(a, axis=1), lambda a: a.sum(axis=1), [rn(3, 7, 2)], ["Sum"]),
    ("sum_keepdims", lambda a: ag.sum(a, axis=(0, 2), keepdims=True), lambda a: a.sum(axis=(0, 2), keepdims=True),
     [rn(3, 4, 5)], ["Sum"]),
    ("mean_all", ag.mean, np.mean, [rn(33)], ["Mean"]),
    ("mean_axis", lambda a: ag.mean(a, axis=-1), lambda a: a.mean(axis=-1), [rn(7, 5)], ["Mean"]),
    ("max_all", ag.max, np.max, [rn(7, 3)], ["Max"]),
    ("max_axis", lambda a: ag.max(a, axis=0), lambda a: a.max(axis=0), [rn(7, 3)], ["Max"]),
    ("max_keepdims", lambda a: ag.max(a, axis=1, keepdims=True), lambda a: a.max(axis=1, keepdims=True),
     [rn(2, 5, 3)], ["Max"]),
    ("reshape", lambda a: ag.reshape(a, (3, -1)) * 1.0, lambda a: a.reshape(3, -1), [rn(6, 2)], ["Reshape"]),
    ("transpose_default", lambda a: ag.transpose(a), lambda a: a.T, [rn(7, 3)], ["Transpose"]),
    ("transpose_perm", lambda a: ag.transpose(a, (1, 2, 0)), lambda a: a.transpose(1, 2, 0), [rn(2, 3, 4)],
     ["Transpose"]),
    ("getitem_slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [rn(5, 7)], ["GetItem"]),
    ("getitem_int", lambda a: a[2], lambda a: a[2], [rn(5, 3)], ["GetItem"]),
    ("getitem_fancy_repeat", lambda a: a[np.array([0, 2, 0])], lambda a: a[[0, 2, 0]], [rn(4, 3)], ["GetItem"]),
    ("concat", lambda a, b: ag.concat([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1),
     [rn(2, 3), rn(2, 5)], ["Concat"]),
    ("concat_reused", lambda a: ag.concat([a, a * 2.0], axis=0), lambda a: np.concatenate([a, 2 * a]),
     [rn(3)], ["Concat", "Mul"]),
    ("matmul", ag.matmul, np.matmul, [rn(7, 33), rn(33, 5)], ["MatMul"]),
    ("matmul_op", lambda a, b: a @ b, np.matmul, [rn(1, 7), rn(7, 1)], ["MatMul"]),
    ("matmul_batched_broadcast", ag.matmul, np.matmul, [rn(2, 3, 4), rn(4, 5)], ["MatMul"]),
    ("matmul_vec", ag.matmul, np.matmul, [rn(4), rn(4, 3)], ["MatMul"]),
    ("matmul_matvec", ag.matmul, np.matmul, [rn(3, 4), rn(4)], ["MatMul"]),
    ("softmax", lambda a: ag.softmax(a, -1), lambda a: np_softmax(a, -1), [rn(7, 5)], ["Softmax"]),
    ("softmax_axis0", lambda a: ag.softmax(a, 0), lambda a: np_softmax(a, 0), [rn(3, 4)], ["Softmax"]),
    ("log_softmax", ag.log_softmax, lambda a: np.log(np_softmax(a, -1)), [rn(7, 33)], ["LogSoftmax"]),
    ("conv2d_valid", lambda x, w: ag.conv2d(x, w), lambda x, w: np_conv2d(x, w, (1, 1), (0, 0, 0, 0)),
     [rn(2, 5, 6, 3), rn(3, 2, 3, 4)], ["Conv2D"]),
    ("conv2d_same_stride", lambda x, w, b: ag.conv2d(x, w, b, stride=2, padding="same"),
     lambda x, w, b: np_conv2d(x, w, (2, 2), (1, 1, 1, 1)) + b, [rn(2, 5, 5, 2), rn(3, 3, 2, 3), rn(3)],
     ["Conv2D", "Add"]),
    ("conv1d_same", lambda x, w: ag.conv1d(x, w, padding="same"),
     lambda x, w: np_conv2d(x[:, None], w[None], (1, 1), (0, 0, 1, 1))[:, 0], [rn(2, 7, 3), rn(3, 3, 2)],
     ["Conv2D", "Reshape"]),
    ("conv1d_stride", lambda x, w, b: ag.conv1d(x, w, b, stride=2),
     lambda x, w, b: np_conv2d(x[:, None], w[None], (1, 2), (0, 0, 0, 0))[:, 0] + b,
     [rn(1, 9, 2), rn(2, 2, 3), rn(3)], ["Conv2D"]),
    ("max_pool2d", lambda x: ag.max_pool2d(x, 2), lambda x: np_pool(x, 2, 2, np.max), [rn(2, 4, 6, 3)],
     ["MaxPool2D"]),
    ("max_pool2d_overlap", lambda x: ag.max_pool2d(x, 3, stride=1), lambda x: np_pool(x, 3, 1, np.max),
     [rn(1, 5, 4, 2)], ["MaxPool2D"]),
    ("avg_pool2d", lambda x: ag.avg_pool2d(x, 2), lambda x: np_pool(x, 2, 2, np.mean), [rn(2, 4, 5, 3)],
     ["AvgPool2D"]),
    ("embedding", lambda w: ag.embedding(np.array([[0, 3], [3, 1]]), w), lambda w: w[[[0, 3], [3, 1]]],
     [rn(5, 4)], ["Embedding"]),
    ("layer_norm", lambda x, g, b: ag.layer_norm(x, g, b),
     lambda x, g, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b,
     [rn(3, 7), rn(7), rn(7)], ["LayerNorm"]),
    ("layer_norm_plain", lambda x: ag.layer_norm(x),
     lambda x: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5), [rn(2, 3, 5)],
     ["LayerNorm"]),
    ("batch_norm", lambda x, g, b: ag.batch_norm(x, g, b),
     lambda x, g, b: (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * g + b, [rn(7, 3), rn(3), rn(3)],
     ["BatchNorm"]),
    ("batch_norm_nhwc", lambda x: ag.batch_norm(x),
     lambda x: (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5), [rn(2, 3, 2, 4)], ["BatchNorm"]),
    ("dropout_eval", lambda x: ag.dropout(x, 0.5, training=False) * 1.0, lambda x: x, [rn(5)], []),
    ("mse_loss", lambda p: ag.mse_loss(p, np.arange(6.0).reshape(2, 3)),
     lambda p: ((p - np.arange(6.0).reshape(2, 3)) ** 2).mean(), [rn(2, 3)], []),
    ("softmax_ce_labels", lambda z: ag.softmax_cross_entropy_loss(z, np.array([2, 0, 1])),
     lambda z: -np.mean(np.log(np_softmax(z, -1))[np.arange(3), [2, 0, 1]]), [rn(3, 4)], []),
    ("softmax_ce_onehot", lambda z: ag.softmax_cross_entropy_loss(z, np.eye(4)[[1, 3]]),
     lambda z: -np.mean(np.log(np_softmax(z, -1))[np.arange(2), [1, 3]]), [rn(2, 4)], []),
    ("cross_entropy_probs", lambda p: ag.cross_entropy_loss(ag.softmax(p), np.array([1, 0])),
     lambda p: -np.mean(np.log(np_softmax(p, -1))[np.arange(2), [1, 0]]), [rn(2, 3)], []),
    ("bce", lambda p: ag.binary_cross_entropy(ag.sigmoid(p), np.array([1.0, 0.0, 1.0])),
     lambda p: -np.mean(np.array([1, 0, 1]) * np.log(1 / (1 + np.exp(-p)))
                        + (1 - np.array([1, 0, 1])) * np.log(1 - 1 / (1 + np.exp(-p)))), [rn(3)], []),
    ("bce_logits", lambda p: ag.binary_cross_entropy(p, np.array([[1.0], [0.0]]), from_logits=True),
     lambda p: np.mean(np.maximum(p, 0) - p * np.array([[1.0], [0.0]]) + np.log1p(np.exp(-np.abs(p)))),
     [rn(2, 1)], []),
    # slices of one tensor (their gradients share one buffer) and the recurrent layers
    ("getitem_every_step", every_step, np_every_step, [rn(2, 5, 3)], ["GetItem", "Concat"]),
    ("getitem_basic_and_fancy_mixed", lambda a: a[np.array([0, 0, 2])] * a[::-1] + a[0],
     lambda a: a[[0, 0, 2]] * a[::-1] + a[0], [rn(3, 4)], ["GetItem"]),
    ("lstm", lambda x, wi, wh, b, h, c: ag.lstm(x, wi, wh, b, h, c), np_lstm,
     [rn(2, 5, 3), rn(3, 8) * 0.5, rn(2, 8) * 0.5, rn(8), rn(2, 2), rn(2, 2)], ["LSTMSeq"]),
    ("lstm_last_no_bias_no_state", lambda x, wi, wh: ag.lstm(x, wi, wh, return_sequences=False),
     lambda x, wi, wh: np_lstm(x, wi, wh, seq=False), [rn(3, 4, 2), rn(2, 12), rn(3, 12) * 0.5], ["LSTMSeq"]),
    ("gru_keras_order", lambda x, wi, wh, bi, bh, h: ag.gru(x, wi, wh, bi, bh, h, gate_order="zrn"),
     lambda x, wi, wh, bi, bh, h: np_gru(x, wi, wh, bi, bh, h, order="zrn"),
     [rn(2, 5, 3), rn(3, 6) * 0.5, rn(2, 6) * 0.5, rn(6), rn(6), rn(2, 2)], ["GRUSeq"]),
    ("gru_last_torch_order_recurrent_bias", lambda x, wi, wh, bh: ag.gru(x, wi, wh, None, bh, return_sequences=False),
     lambda x, wi, wh, bh: np_gru(x, wi, wh, None, bh, seq=False), [rn(3, 4, 2), rn(2, 9), rn(3, 9) * 0.5, rn(9)],
     ["GRUSeq"]),
    # transposed convolution (more variants: test_conv_variants_ops.py)
    ("conv2d_transpose_same_s2", lambda x, w: ag.conv2d_transpose(x, w, stride=2, padding="same"),
     lambda x, w: np_conv_transpose(x, w, (2, 2), "same"), [rn(2, 3, 4, 3), rn(3, 3, 2, 3)], ["Conv2DTranspose"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_numpy_float64(case):
    _, fn, ref, inputs, _ = case
    out = fn(*[ag.tensor(x) for x in inputs])
    expected = ref(*inputs)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_backward_matches_finite_differences(case):
    _, fn, _, inputs, _ = case
    assert ag.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("case", CASES[:12] + CASES[40:47], ids=[c[0] for c in CASES[:12] + CASES[40:47]])
def test_float32_forward_and_noncontiguous_inputs(case):
    """float32 stays float32; transposed (non-contiguous) views give the same result."""
    _, fn, ref, inputs, _ = case
    views = [np.ascontiguousarray(x.astype(np.float32).T).T if x.ndim > 1 else x.astype(np.float32)
             for x in inputs]
    for x, v in zip(inputs, views):
        if x.ndim > 1 and sorted(x.shape)[-2] > 1:
            assert not v.flags.c_contiguous
    out = fn(*[ag.tensor(v) for v in views])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), ref(*[v.astype(np.float64) for v in views]), rtol=2e-5, atol=2e-5)


def test_noncontiguous_param_gradients():
    a = rn(6, 4).T  # a transposed view
    assert not a.flags.c_contiguous
    m = rn(6, 2)
    assert ag.gradcheck(lambda w: ag.sum(ag.tanh(w @ m)), [a])


def test_parity_every_primitive_has_numpy_kernels_and_a_test():
    from engine import backend
    missing_kernels = [k for k in backend.KERNELS if not callable(getattr(backend.numpy_backend, k, None))]
    assert not missing_kernels, f"numpy backend lacks kernels: {missing_kernels}"
    covered = {name for case in CASES for name in case[4]} | {"Dropout"}  # Dropout: test_dropout_*
    untested = primitive_names() - covered
    assert not untested, f"primitives without a forward/backward test: {sorted(untested)}"


def test_dropout_scale_mask_and_gradient():
    x = ag.param(np.ones((200, 50)))
    with ag.grad_tape():
        y = ag.dropout(x, 0.3)
        loss = ag.sum(y * 1.0)
    g = ag.backward(loss)[x.name]
    yv = y.numpy()
    kept = yv != 0
    np.testing.assert_allclose(yv[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_array_equal(g, yv)  # d(sum(mask * x))/dx = mask
    y2 = ag.dropout(x, 0.3)
    assert (y2.numpy() != yv).any(), "a fresh mask per call"


def test_losses_are_stable_for_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4]], np.float32)
    loss = ag.softmax_cross_entropy_loss(ag.tensor(z), np.array([0, 1]))
    assert np.isfinite(loss.item())
    assert abs(loss.item() - math.log(2) / 2) < 1e-4
    bce = ag.binary_cross_entropy(ag.tensor(np.array([1e4, -1e4], np.float32)), np.array([1.0, 0.0]),
                                  from_logits=True)
    assert np.isfinite(bce.item()) and bce.item() < 1e-6
    w = ag.param(z)
    with ag.grad_tape():
        loss = ag.softmax_cross_entropy_loss(w, np.array([1, 0]))
    g = ag.backward(loss)[w.name]
    assert np.all(np.isfinite(g))


def test_max_pool_ties_send_the_gradient_to_one_element():
    x = ag.param(np.zeros((1, 4, 4, 1)))   # every window is a tie (e.g. after relu)
    with ag.grad_tape():
        loss = ag.sum(ag.max_pool2d(x, 2))
    g = ag.backward(loss)[x.name][0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0                # the first element of each window, as argmax picks
    np.testing.assert_array_equal(g, expected)
    with ag.grad_tape():
        loss = ag.sum(ag.max_pool2d(x, 2, stride=1))   # overlapping windows accumulate
    g = ag.backward(loss)[x.name][0, :, :, 0]
    assert g.sum() == 9 and g[0, 0] == 1 and g[3, 3] == 0
