"""Edges of the primitive ops' argument handling that a mutation run found untested: sizes at the
exact fit, asymmetric strides, label and target layouts, running statistics, ranks other than 2,
scalar division, numpy integer shapes. References are numpy float64."""
import numpy as np
import pytest

import engine as ag
from engine import ops


def t(a, dtype=np.float64):
    return ag.tensor(np.asarray(a, dtype))


def conv2d_ref(x, w, stride, pads):
    """Channels-last cross-correlation in float64 with explicit (top, bottom, left, right) pads."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), pads[:2], pads[2:], (0, 0)))
    kh, kw, _, co = w.shape
    ho, wo = (x.shape[1] - kh) // stride[0] + 1, (x.shape[2] - kw) // stride[1] + 1
    y = np.zeros((x.shape[0], ho, wo, co))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw, :]
            y[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y


# --- convolution and pooling sizes ----------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv2d_kernel_as_large_as_the_input_gives_one_pixel(stride, rng):
    x, w = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((4, 4, 3, 5))
    y = ops.conv2d(t(x), t(w), stride=stride).numpy()
    assert y.shape == (2, 1, 1, 5)
    np.testing.assert_allclose(y, conv2d_ref(x, w, (stride, stride), (0, 0, 0, 0)), rtol=1e-10)


def test_conv2d_with_more_filters_than_input_rows_fits(rng):
    x, w = rng.standard_normal((1, 3, 3, 2)), rng.standard_normal((3, 3, 2, 8))
    np.testing.assert_allclose(ops.conv2d(t(x), t(w)).numpy(), conv2d_ref(x, w, (1, 1), (0, 0, 0, 0)), rtol=1e-10)


def test_conv1d_kernel_as_long_as_the_input_with_many_filters(rng):
    x, w = rng.standard_normal((2, 3, 2)), rng.standard_normal((3, 2, 7))
    y = ops.conv1d(t(x), t(w)).numpy()
    np.testing.assert_allclose(y[:, 0], np.einsum("nkc,kco->no", x, w), rtol=1e-10)


@pytest.mark.parametrize("stride", [(2, 1), (1, 3)])
def test_conv2d_same_padding_with_different_strides_per_axis(stride, rng):
    x, w = rng.standard_normal((1, 6, 7, 2)), rng.standard_normal((3, 2, 2, 3))
    y = ops.conv2d(t(x), t(w), stride=stride, padding="same").numpy()
    pads = []
    for n, k, s in zip((6, 7), (3, 2), stride):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    assert y.shape == (1, -(-6 // stride[0]), -(-7 // stride[1]), 3)
    np.testing.assert_allclose(y, conv2d_ref(x, w, stride, tuple(pads)), rtol=1e-10)


@pytest.mark.parametrize("bias_len", [2, 4])
def test_conv2d_bias_of_the_wrong_length_is_refused(bias_len):
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(3,\)"):
        ops.conv2d(t(np.ones((1, 3, 3, 1))), t(np.ones((2, 2, 1, 3))), t(np.ones(bias_len)))


def test_max_pool2d_window_wider_than_the_input_width_is_refused():
    with pytest.raises(ValueError, match="max_pool2d.*does not fit"):
        ops.max_pool2d(t(np.ones((1, 4, 2, 1))), (1, 3))


def test_max_pool2d_pools_two_by_two_by_default(rng):
    x = rng.standard_normal((1, 4, 6, 2))
    want = x.reshape(1, 2, 2, 3, 2, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(ops.max_pool2d(t(x)).numpy(), want)


def test_lstm_weight_shape_error_gives_the_expected_shape():
    with pytest.raises(ValueError, match=r"w_ih must have shape \(3, 20\)"):
        ops.lstm(t(np.ones((2, 4, 3))), t(np.ones((3, 21))), t(np.ones((5, 20))))


# --- losses: label layouts -------------------------------------------------------------------
def _probs(rng, *shape):
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(-1, keepdims=True)


def _ce_ref(p, labels):
    return -np.mean(np.log(np.take_along_axis(p, labels[..., None], -1)))


def test_cross_entropy_takes_integer_labels_with_a_trailing_axis_of_one(rng):
    p, y = _probs(rng, 5, 3), np.array([0, 2, 1, 1, 0])
    np.testing.assert_allclose(ops.cross_entropy_loss(t(p), y[:, None]).item(), _ce_ref(p, y), rtol=1e-7)


def test_cross_entropy_float_labels_that_are_whole_numbers_equal_integer_labels(rng):
    p, y = _probs(rng, 5, 3), np.array([0, 2, 1, 1, 0])
    got = ops.cross_entropy_loss(t(p), y.astype(np.float64)).item()
    np.testing.assert_allclose(got, _ce_ref(p, y), rtol=1e-7)


@pytest.mark.parametrize("bad", [1.3, 0.7, 1.5])
def test_cross_entropy_refuses_fractional_labels(rng, bad):
    with pytest.raises(ValueError, match="integer labels expected"):
        ops.cross_entropy_loss(t(_probs(rng, 3, 3)), np.array([0.0, bad, 2.0]))


def test_cross_entropy_integer_labels_of_the_wrong_width_are_refused(rng):
    with pytest.raises(ValueError, match=r"target shape \(4, 2\) matches neither"):
        ops.cross_entropy_loss(t(_probs(rng, 4, 3)), np.zeros((4, 2), np.int64))


def test_cross_entropy_out_of_range_label_names_the_valid_range(rng):
    with pytest.raises(ValueError, match=r"label 3 is out of range for 3 classes \(valid: 0\.\.2\)"):
        ops.cross_entropy_loss(t(_probs(rng, 2, 3)), np.array([0, 3]))


def test_cross_entropy_over_time_steps_with_more_steps_than_classes(rng):
    p, y = _probs(rng, 2, 5, 3), rng.integers(0, 3, (2, 5))
    np.testing.assert_allclose(ops.cross_entropy_loss(t(p), y).item(), _ce_ref(p, y), rtol=1e-7)


def test_binary_cross_entropy_reshapes_a_flat_target_and_refuses_a_wrong_size(rng):
    p, y = 1 / (1 + np.exp(-rng.standard_normal((4, 1)))), np.array([0.0, 1.0, 1.0, 0.0])
    ref = -np.mean(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    np.testing.assert_allclose(ops.binary_cross_entropy(t(p), y).item(), ref, rtol=1e-6)
    for wrong in (np.zeros(3), np.zeros(5)):
        with pytest.raises(ValueError, match="does not match predictions"):
            ops.binary_cross_entropy(t(p), wrong)


# --- normalisation -----------------------------------------------------------------------------
def test_batch_norm_updates_running_statistics_as_pytorch(rng):
    x = rng.standard_normal((4, 3, 2)) * 2 + 1          # statistics over 12 values per channel
    rm, rv = t(np.full(2, 0.5)), t(np.full(2, 2.0))
    ops.batch_norm(t(x), running_mean=rm, running_var=rv, training=True, momentum=0.3)
    flat = x.reshape(-1, 2)
    np.testing.assert_allclose(rm.numpy(), 0.7 * 0.5 + 0.3 * flat.mean(0), rtol=1e-10)
    np.testing.assert_allclose(rv.numpy(), 0.7 * 2.0 + 0.3 * flat.var(0, ddof=1), rtol=1e-10)


def test_batch_norm_of_a_rank_three_input_normalises_per_last_axis(rng):
    x = rng.standard_normal((3, 5, 2))
    flat = x.reshape(-1, 2)
    want = (x - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5)
    np.testing.assert_allclose(ops.batch_norm(t(x)).numpy(), want, rtol=1e-8)


def test_batch_norm_refuses_a_one_dimensional_input():
    with pytest.raises(ValueError, match="batch_norm: input must have a batch and a channel axis"):
        ops.batch_norm(t(np.ones(4)))


def test_layer_norm_of_a_rank_three_input_with_more_steps_than_channels(rng):
    x, g, b = rng.standard_normal((2, 5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b
    np.testing.assert_allclose(ops.layer_norm(t(x), t(g), t(b)).numpy(), want, rtol=1e-8)


@pytest.mark.parametrize("n", [2, 4])
def test_layer_norm_gamma_of_the_wrong_length_is_refused(n):
    with pytest.raises(ValueError, match=r"layer_norm: gamma has shape"):
        ops.layer_norm(t(np.ones((2, 3))), t(np.ones(n)))


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_dropout_probability_outside_zero_one_is_refused(p):
    with pytest.raises(ValueError, match="dropout"):
        ops.dropout(t(np.ones(3)), p=p)


# --- elementwise and layout ----------------------------------------------------------------------
def test_division_by_a_python_scalar_and_its_gradient(rng):
    x = rng.standard_normal(5)
    assert ag.gradcheck(lambda a: ops.div(a, 4.0), [x])
    np.testing.assert_allclose(ops.div(t(x), 4.0).numpy(), x / 4.0, rtol=1e-12)


def test_scalar_operands_keep_float64(rng):
    x = t(rng.standard_normal(3))
    for y in (ops.mul(x, 3), ops.add(x, 2.5), ops.div(x, 2), ops.sub(x, 1)):
        assert y.dtype == np.float64


def test_reshape_takes_numpy_integers_in_the_shape():
    y = ops.reshape(t(np.arange(12.0)), (np.int64(3), np.int64(-1)))
    assert y.shape == (3, 4)


def test_reshape_to_a_size_that_does_not_divide_names_reshape():
    with pytest.raises(ValueError, match="reshape"):
        ops.reshape(t(np.ones((3, 4))), (5, -1))


def test_concat_of_different_ranks_names_concat():
    with pytest.raises(ValueError, match="concat"):
        ops.concat([t(np.ones((2, 3))), t(np.ones((2, 3, 1)))], axis=0)


def test_every_public_op_has_a_docstring():
    missing = [n for n in ops.__all__ if not (getattr(ops, n).__doc__ or "").strip()]
    assert not missing, f"engine.ops without a docstring: {missing}"


def test_lstm_refuses_an_input_that_is_not_batch_time_features():
    with pytest.raises(ValueError):
        ops.lstm(t(np.ones((4, 3))), t(np.ones((3, 20))), t(np.ones((5, 20))))


def test_concat_along_one_axis_with_large_equal_other_axes():
    a, b = np.ones((300, 2)), np.zeros((300, 3))
    np.testing.assert_array_equal(ops.concat([t(a), t(b)], axis=1).numpy(), np.concatenate([a, b], axis=1))


def test_matmul_gradients_of_a_batch_of_sequences_times_a_matrix_and_of_two_vectors(rng):
    assert ag.gradcheck(lambda a, b: ops.matmul(a, b), [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))])
    assert ag.gradcheck(lambda a, b: ops.matmul(a, b), [rng.standard_normal(4), rng.standard_normal(4)])
    assert ag.gradcheck(lambda a, b: ops.matmul(a, b), [rng.standard_normal(4), rng.standard_normal((4, 3))])


def test_probabilities_slightly_above_one_are_refused():
    with pytest.raises(ValueError, match="expects probabilities"):
        ops.cross_entropy_loss(t(np.array([[1.001, 0.0], [0.5, 0.5]])), np.array([0, 1]))


def test_reductions_take_the_most_negative_axis(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(ops.sum(t(x), axis=-2).numpy(), x.sum(axis=0), rtol=1e-12)
    with pytest.raises(ValueError):
        ops.sum(t(x), axis=-3)


def test_scalar_powers_zero_and_one_and_their_gradients(rng):
    x = rng.standard_normal(4) + 3.0
    np.testing.assert_array_equal(ops.pow(t(x), 0).numpy(), np.ones(4))
    np.testing.assert_array_equal(ops.pow(t(x), 1).numpy(), x)
    assert ag.gradcheck(lambda a: ops.pow(a, 1), [x])
    assert ag.gradcheck(lambda a: ops.pow(a, 0.5), [x])


def test_gradients_reach_the_input_when_the_weights_are_constants(rng):
    w_ih, w_hh = t(rng.standard_normal((3, 8)) * 0.5), t(rng.standard_normal((2, 8)) * 0.5)
    assert ag.gradcheck(lambda x: ops.lstm(x, w_ih, w_hh), [rng.standard_normal((2, 3, 3))])
    w, b = t(rng.standard_normal((2, 2, 1, 3))), t(rng.standard_normal(3))
    assert ag.gradcheck(lambda x: ops.conv2d(x, w, b), [rng.standard_normal((1, 4, 4, 1))])


def test_softmax_cross_entropy_over_time_steps_with_more_steps_than_classes(rng):
    logits, y = rng.standard_normal((2, 5, 3)), rng.integers(0, 3, (2, 5))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -np.mean(np.take_along_axis(logp, y[..., None], -1))
    np.testing.assert_allclose(ops.softmax_cross_entropy_loss(t(logits), y).item(), want, rtol=1e-7)


def test_mse_takes_a_flat_target_for_a_column_of_predictions(rng):
    p, y = rng.standard_normal((4, 1)), rng.standard_normal(4)
    np.testing.assert_allclose(ops.mse_loss(t(p), y).item(), np.mean((p[:, 0] - y) ** 2), rtol=1e-12)


@pytest.mark.parametrize("k, s, padding", [(5, 2, "same"), (2, 2, "same"), (5, 3, "valid"), (1, 2, "same")])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(rng, k, s, padding):
    """<conv_transpose(y), x> == <y, conv(x)> for the conv whose output has y's shape."""
    w = rng.standard_normal((k, k, 2, 3))            # [kh, kw, F, C_in] for the transpose
    y = rng.standard_normal((1, 4, 3, 3))
    xt = ops.conv2d_transpose(t(y), t(w), stride=s, padding=padding).numpy()
    x = rng.standard_normal(xt.shape)
    conv = ops.conv2d(t(x), t(w), stride=s, padding=padding).numpy()
    assert conv.shape == y.shape
    np.testing.assert_allclose(np.sum(xt * x), np.sum(y * conv), rtol=1e-10)


def test_conv2d_transpose_refuses_output_padding_not_smaller_than_the_stride_on_either_axis():
    x, w = t(np.ones((1, 3, 3, 1))), t(np.ones((3, 3, 1, 1)))
    for op in ((2, 0), (0, 2)):
        with pytest.raises(ValueError, match="output_padding"):
            ops.conv2d_transpose(x, w, stride=2, output_padding=op)


def test_reshape_of_large_sizes():
    assert ops.reshape(t(np.ones(600)), (2, 300)).shape == (2, 300)


def test_softmax_over_the_most_negative_axis(rng):
    x = rng.standard_normal((3, 4))
    e = np.exp(x - x.max(0))
    np.testing.assert_allclose(ops.softmax(t(x), axis=-2).numpy(), e / e.sum(0), rtol=1e-12)


def test_layer_norm_with_only_a_shift(rng):
    x, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + b
    np.testing.assert_allclose(ops.layer_norm(t(x), None, t(b)).numpy(), want, rtol=1e-8)


def test_embedding_names_a_negative_index():
    with pytest.raises(ValueError, match="index -1 is out of range for 5 embeddings"):
        ops.embedding(np.array([-1, 2]), t(np.ones((5, 2))))


def test_batch_norm_momentum_defaults_to_a_tenth_and_two_values_per_channel_suffice(rng):
    x = rng.standard_normal((2, 3))
    rm, rv = t(np.zeros(3)), t(np.ones(3))
    ops.batch_norm(t(x), running_mean=rm, running_var=rv, training=True)
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.mean(0), rtol=1e-10)
    np.testing.assert_allclose(rv.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-10)


def test_arithmetic_with_a_scalar_on_a_numpy_array_gives_a_tensor():
    for y in (ops.mul(np.ones(3), 2.0), ops.div(np.ones(3), 2.0), ops.mul(2.0, np.ones(3))):
        assert isinstance(y, ag.Tensor)


def test_dropout_with_rate_zero_is_the_identity_and_draws_nothing():
    x = t(np.ones(4))
    ag.manual_seed(5)
    assert ops.dropout(x, p=0.0, training=True) is x
    after = ag.random.generator().random()
    ag.manual_seed(5)
    assert ag.random.generator().random() == after
