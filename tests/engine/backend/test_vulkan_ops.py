"""Every primitive op forward and backward on Vulkan against the numpy backend (float32)."""
import numpy as np
import pytest
from vulkan_helpers import assert_same

import engine as ag
from engine.ops import primitive_names

R = np.random.default_rng(11)


def rn(*shape):
    return R.standard_normal(shape)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def away(*shape):
    return R.uniform(0.2, 1.5, shape) * R.choice([-1.0, 1.0], shape)


# (id, fn over tensors, inputs, primitives covered)
CASES = [
    # elementwise binary with broadcasting, sizes off the workgroup multiples
    ("add_1", ag.add, [rn(1), rn(1)], ["Add"]),
    ("add_bcast_row", ag.add, [rn(7, 33), rn(33)], ["Add"]),
    ("add_bcast_both", ag.add, [rn(65, 1), rn(1, 7)], ["Add"]),
    ("add_bcast_4d", ag.add, [rn(2, 1, 3, 5), rn(4, 1, 5)], ["Add"]),
    ("sub_bcast", ag.sub, [rn(3, 1, 4), rn(2, 1)], ["Sub"]),
    ("mul_scalar_tensor", ag.mul, [rn(1), rn(4, 7)], ["Mul"]),
    ("mul_reused", lambda a: a * a, [rn(65)], ["Mul"]),
    ("mul_const", lambda a: a * 3.0, [rn(33, 7)], ["Mul"]),
    ("div_bcast", ag.div, [rn(5, 33), pos(33)], ["Div"]),
    ("rdiv_const", lambda a: 2.0 / a, [pos(7)], ["Div"]),
    ("pow_tensor", ag.pow, [pos(4, 3), rn(3)], ["Pow"]),
    ("rpow", lambda a: 2.0 ** a, [rn(7)], ["Pow"]),
    ("pow_scalar_3", lambda a: a ** 3, [rn(33)], ["PowScalar"]),
    ("pow_square", lambda a: a ** 2, [rn(65)], ["PowScalar"]),
    ("pow_half", lambda a: a ** 0.5, [pos(7)], ["PowScalar"]),
    ("scale", lambda a: ag.scale(a, -2.5), [rn(1)], ["Scale"]),
    # unary
    ("neg", ag.neg, [rn(7)], ["Neg"]),
    ("exp", ag.exp, [rn(7, 3)], ["Exp"]),
    ("log", ag.log, [pos(33)], ["Log"]),
    ("sqrt", ag.sqrt, [pos(65)], ["Sqrt"]),
    ("abs", ag.abs, [away(7)], ["Abs"]),
    ("clamp", lambda a: ag.clamp(a, -0.5, 0.7), [away(33) * 1.3], ["Clamp"]),
    ("clamp_min", lambda a: ag.clamp(a, min=0.1), [away(7)], ["Clamp"]),
    ("clamp_max", lambda a: ag.clamp(a, max=0.1), [away(7)], ["Clamp"]),
    ("relu", ag.relu, [away(7, 5)], ["Relu"]),
    ("sigmoid", ag.sigmoid, [rn(33) * 4], ["Sigmoid"]),
    ("tanh", ag.tanh, [rn(65) * 3], ["Tanh"]),
    ("gelu_tanh", ag.gelu, [rn(33) * 2], ["Gelu"]),
    ("gelu_exact", lambda a: ag.gelu(a, approximate=False), [rn(33) * 2], ["Gelu"]),
    ("silu", ag.silu, [rn(65) * 2], ["Silu"]),
    ("cast_f16_roundtrip", lambda a: ag.cast(ag.cast(a, np.float16) * 2.0, np.float32), [rn(7)], ["Cast"]),
    # reductions
    ("sum_all_1", ag.sum, [rn(1)], ["Sum"]),
    ("sum_all", ag.sum, [rn(7, 33)], ["Sum"]),
    ("sum_all_long", ag.sum, [rn(20000)], ["Sum"]),
    ("sum_axis", lambda a: ag.sum(a, axis=1), [rn(3, 65, 2)], ["Sum"]),
    ("sum_axes_keepdims", lambda a: ag.sum(a, axis=(0, 2), keepdims=True), [rn(3, 4, 5)], ["Sum"]),
    ("sum_rows_long", lambda a: ag.sum(a, axis=0), [rn(3000, 3)], ["Sum"]),
    ("mean_all", ag.mean, [rn(33)], ["Mean"]),
    ("mean_axis", lambda a: ag.mean(a, axis=-1), [rn(7, 65)], ["Mean"]),
    ("max_all", ag.max, [rn(7, 3)], ["Max"]),
    ("max_axis0", lambda a: ag.max(a, axis=0), [rn(65, 7)], ["Max"]),
    ("max_keepdims", lambda a: ag.max(a, axis=1, keepdims=True), [rn(2, 33, 3)], ["Max"]),
    ("max_ties", lambda a: ag.max(a * 0.0 + 1.0 + a * a * 0.0, axis=1), [rn(3, 4)], ["Max"]),
    # layout
    ("reshape", lambda a: ag.reshape(a, (3, -1)) * 1.0, [rn(6, 2)], ["Reshape"]),
    ("transpose_2d", ag.transpose, [rn(7, 33)], ["Transpose"]),
    ("transpose_perm", lambda a: ag.transpose(a, (1, 2, 0)), [rn(2, 3, 4)], ["Transpose"]),
    ("getitem_slice_step", lambda a: a[1:, ::2], [rn(5, 7)], ["GetItem"]),
    ("getitem_int", lambda a: a[2], [rn(5, 3)], ["GetItem"]),
    ("getitem_reverse", lambda a: a[::-1, 1:3], [rn(4, 5)], ["GetItem"]),
    ("getitem_newaxis_ellipsis", lambda a: a[None, ..., 1], [rn(3, 4)], ["GetItem"]),
    ("getitem_rows_repeat", lambda a: a[np.array([0, 2, 0])], [rn(4, 3)], ["GetItem"]),
    ("getitem_cols_repeat", lambda a: a[:, np.array([1, 1, 0])], [rn(4, 3)], ["GetItem"]),
    ("getitem_bool", lambda a: a[np.array([True, False, True, True])], [rn(4, 2)], ["GetItem"]),
    ("getitem_every_step", lambda a: ag.concat([a[:, t] * (t + 1.0) for t in range(a.shape[1])], 1)
     + ag.sum(a * a) + ag.sum(a[:, 1:3, ::2]), [rn(2, 5, 3)], ["GetItem"]),
    ("getitem_basic_and_fancy_mixed", lambda a: a[np.array([0, 0, 2])] * a[::-1] + a[0], [rn(3, 4)], ["GetItem"]),
    ("concat_axis1", lambda a, b: ag.concat([a, b], axis=1), [rn(2, 3), rn(2, 5)], ["Concat"]),
    ("concat_reused", lambda a: ag.concat([a, a * 2.0], axis=0), [rn(3)], ["Concat", "Mul"]),
    # matmul
    ("matmul_7x33x5", ag.matmul, [rn(7, 33), rn(33, 5)], ["MatMul"]),
    ("matmul_1", ag.matmul, [rn(1, 1), rn(1, 1)], ["MatMul"]),
    ("matmul_65", ag.matmul, [rn(65, 65), rn(65, 65)], ["MatMul"]),
    ("matmul_outer", lambda a, b: a @ b, [rn(33, 1), rn(1, 65)], ["MatMul"]),
    ("matmul_batched_broadcast", ag.matmul, [rn(2, 3, 4), rn(4, 5)], ["MatMul"]),
    ("matmul_batched_both", ag.matmul, [rn(2, 7, 4), rn(2, 4, 33)], ["MatMul"]),
    ("matmul_batched_partial", ag.matmul, [rn(2, 1, 3, 4), rn(1, 2, 4, 5)], ["MatMul"]),
    ("matmul_vec", ag.matmul, [rn(4), rn(4, 3)], ["MatMul"]),
    ("matmul_matvec", ag.matmul, [rn(3, 4), rn(4)], ["MatMul"]),
    ("matmul_dot", ag.matmul, [rn(7), rn(7)], ["MatMul"]),
    # softmax family
    ("softmax_last", lambda a: ag.softmax(a, -1), [rn(7, 65)], ["Softmax"]),
    ("softmax_axis0", lambda a: ag.softmax(a, 0), [rn(3, 4)], ["Softmax"]),
    ("softmax_middle", lambda a: ag.softmax(a, 1), [rn(2, 5, 3)], ["Softmax"]),
    ("log_softmax", ag.log_softmax, [rn(7, 33)], ["LogSoftmax"]),
    ("log_softmax_axis0", lambda a: ag.log_softmax(a, 0), [rn(5, 3)], ["LogSoftmax"]),
    # convolution and pooling
    ("conv2d_valid", lambda x, w: ag.conv2d(x, w), [rn(2, 5, 6, 3), rn(3, 2, 3, 4)], ["Conv2D"]),
    ("conv2d_same_stride", lambda x, w, b: ag.conv2d(x, w, b, stride=2, padding="same"),
     [rn(2, 5, 5, 2), rn(3, 3, 2, 3), rn(3)], ["Conv2D", "Add"]),
    ("conv2d_1x1", lambda x, w: ag.conv2d(x, w), [rn(2, 3, 3, 5), rn(1, 1, 5, 7)], ["Conv2D"]),
    ("conv2d_transpose_same_s2", lambda x, w: ag.conv2d_transpose(x, w, stride=2, padding="same"),
     [rn(2, 3, 4, 3), rn(3, 3, 2, 3)], ["Conv2DTranspose"]),
    ("conv1d_same", lambda x, w: ag.conv1d(x, w, padding="same"), [rn(2, 7, 3), rn(3, 3, 2)], ["Conv2D", "Reshape"]),
    ("conv1d_stride", lambda x, w, b: ag.conv1d(x, w, b, stride=2), [rn(1, 9, 2), rn(2, 2, 3), rn(3)], ["Conv2D"]),
    ("max_pool2d", lambda x: ag.max_pool2d(x, 2), [rn(2, 4, 6, 3)], ["MaxPool2D"]),
    ("max_pool2d_overlap", lambda x: ag.max_pool2d(x, 3, stride=1), [rn(1, 5, 4, 2)], ["MaxPool2D"]),
    ("max_pool2d_same", lambda x: ag.max_pool2d(x, 2, padding="same"), [rn(1, 5, 5, 2)], ["MaxPool2D"]),
    ("avg_pool2d", lambda x: ag.avg_pool2d(x, 2), [rn(2, 4, 5, 3)], ["AvgPool2D"]),
    ("avg_pool2d_same", lambda x: ag.avg_pool2d(x, 3, stride=2, padding="same"), [rn(2, 5, 5, 3)], ["AvgPool2D"]),
    # recurrent layers
    ("lstm", lambda x, wi, wh, b, h, c: ag.lstm(x, wi, wh, b, h, c),
     [rn(3, 6, 2), rn(2, 16) * 0.5, rn(4, 16) * 0.5, rn(16), rn(3, 4), rn(3, 4)], ["LSTMSeq"]),
    ("lstm_last", lambda x, wi, wh: ag.lstm(x, wi, wh, return_sequences=False),
     [rn(3, 5, 2), rn(2, 16) * 0.5, rn(4, 16) * 0.5], ["LSTMSeq"]),
    ("gru_keras_order", lambda x, wi, wh, bi, bh, h: ag.gru(x, wi, wh, bi, bh, h, gate_order="zrn"),
     [rn(3, 6, 2), rn(2, 12) * 0.5, rn(4, 12) * 0.5, rn(12), rn(12), rn(3, 4)], ["GRUSeq"]),
    ("gru_last_no_bias", lambda x, wi, wh: ag.gru(x, wi, wh, return_sequences=False),
     [rn(3, 5, 2), rn(2, 12) * 0.5, rn(4, 12) * 0.5], ["GRUSeq"]),
    # embedding, normalisation, dropout
    ("embedding", lambda w: ag.embedding(np.array([[0, 3], [3, 1]]), w), [rn(5, 4)], ["Embedding"]),
    ("embedding_wide", lambda w: ag.embedding(np.array([6, 0, 6, 6, 2]), w), [rn(7, 65)], ["Embedding"]),
    ("layer_norm", lambda x, g, b: ag.layer_norm(x, g, b), [rn(3, 7), rn(7), rn(7)], ["LayerNorm"]),
    ("layer_norm_plain", ag.layer_norm, [rn(2, 3, 33)], ["LayerNorm"]),
    ("batch_norm", lambda x, g, b: ag.batch_norm(x, g, b), [rn(7, 3), rn(3), rn(3)], ["BatchNorm"]),
    ("batch_norm_nhwc", ag.batch_norm, [rn(2, 3, 2, 4)], ["BatchNorm"]),
    ("dropout", lambda x: ag.dropout(x, 0.3), [rn(33, 7)], ["Dropout"]),
    # losses (composed)
    ("mse_loss", lambda p: ag.mse_loss(p, np.arange(6.0).reshape(2, 3)), [rn(2, 3)], []),
    ("softmax_ce_labels", lambda z: ag.softmax_cross_entropy_loss(z, np.array([2, 0, 1])), [rn(3, 4)], []),
    ("softmax_ce_onehot", lambda z: ag.softmax_cross_entropy_loss(z, np.eye(4)[[1, 3]]), [rn(2, 4)], []),
    ("cross_entropy_probs", lambda p: ag.cross_entropy_loss(ag.softmax(p), np.array([1, 0])), [rn(2, 3)], []),
    ("bce", lambda p: ag.binary_cross_entropy(ag.sigmoid(p), np.array([1.0, 0.0, 1.0])), [rn(3)], []),
    ("bce_logits", lambda p: ag.binary_cross_entropy(p, np.array([[1.0], [0.0]]), from_logits=True),
     [rn(2, 1)], []),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_match_numpy(vk, case):
    _, fn, inputs, _ = case
    assert_same(vk, fn, inputs)


def test_every_primitive_runs_on_vulkan_in_some_case():
    covered = {name for case in CASES for name in case[3]}
    missing = primitive_names() - covered
    assert not missing, f"primitives without a Vulkan forward/backward case: {sorted(missing)}"


def test_every_kernel_is_in_the_vulkan_table():
    from engine.backend import KERNELS
    from engine.backend.vulkan.backend import VulkanBackend
    missing = [k for k in KERNELS if not callable(getattr(VulkanBackend, k, None))]
    assert not missing


def test_outputs_stay_on_the_device_and_float32(on_vulkan):
    from engine.backend.vulkan.array import VkArray
    x = ag.tensor(np.ones((3, 4), np.float32))
    y = ag.relu(x @ ag.tensor(np.ones((4, 2), np.float32)))
    assert type(y.data) is VkArray and y.dtype == np.float32 and y.shape == (3, 2)
    np.testing.assert_array_equal(y.numpy(), np.full((3, 2), 4.0, np.float32))


def test_float64_runs_on_the_host_path_with_gradcheck(on_vulkan):
    """float64 (gradcheck's precision) has no device path: the numpy kernels run, exactly."""
    a = rn(4, 3)
    assert ag.gradcheck(lambda w: ag.sum(ag.tanh(w @ np.ones((3, 2)))), [a])
    t = ag.tensor(a)
    assert type(t.data) is np.ndarray and t.dtype == np.float64


def test_integer_tensors_stay_on_the_host(on_vulkan):
    t = ag.tensor(np.array([[1, 2], [3, 4]]))
    assert type(t.data) is np.ndarray
    np.testing.assert_array_equal(ag.reshape(t, (4,)).numpy(), [1, 2, 3, 4])
