"""Bad input gets a clear error naming the op and the shapes."""
import numpy as np
import pytest

import engine as ag


def t(*shape):
    return ag.tensor(np.ones(shape, np.float32))


@pytest.mark.parametrize("fn, pattern", [
    (lambda: ag.add(t(2, 3), t(4)), r"\(2, 3\).*\(4,\)|shapes"),
    (lambda: ag.matmul(t(2, 3), t(4, 5)), r"matmul.*\(2, 3\).*\(4, 5\)"),
    (lambda: ag.reshape(t(2, 3), (4, 2)), r"reshape.*6 elements.*\(4, 2\)"),
    (lambda: ag.concat([t(2, 3), t(3, 3)], axis=1), r"concat.*\(3, 3\).*\(2, 3\)"),
    (lambda: ag.conv2d(t(1, 5, 5, 3), t(3, 3, 2, 4)), r"conv2d.*3 channels.*expects 2"),
    (lambda: ag.conv2d(t(5, 5, 3), t(3, 3, 3, 4)), r"conv2d.*4-D"),
    (lambda: ag.conv2d(t(1, 2, 2, 1), t(3, 3, 1, 1)), r"conv2d.*does not fit"),
    (lambda: ag.max_pool2d(t(1, 1, 4, 1), 2), r"max_pool2d.*does not fit"),
    (lambda: ag.sum(t(2, 3), axis=2), r"sum.*axis 2"),
    (lambda: ag.softmax(t(2, 3), axis=3), r"softmax.*axis 3"),
    (lambda: ag.layer_norm(t(2, 3), np.ones(4)), r"layer_norm.*gamma.*\(4,\)"),
    (lambda: ag.transpose(t(2, 3), (0, 0)), r"transpose.*permutation"),
])
def test_shape_errors_name_the_op_and_shapes(fn, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn()


def test_binary_shape_mismatch_names_op_and_both_shapes():
    with pytest.raises(ValueError) as e:
        ag.mul(t(2, 3), t(4))
    msg = str(e.value)
    assert "mul" in msg and "(2, 3)" in msg and "(4,)" in msg


def test_integer_tensor_to_a_differentiable_input():
    ids = ag.tensor(np.arange(3))
    with pytest.raises(TypeError, match="exp.*integer"):
        ag.exp(ids)
    with pytest.raises(TypeError, match="integer"):
        ag.matmul(ids, t(3, 2))


def test_cross_entropy_of_logits_raises_and_points_to_the_logits_loss():
    logits = ag.tensor(np.array([[2.0, -1.0, 0.5], [0.1, 3.0, -2.0]], np.float32))
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="expects probabilities.*softmax_cross_entropy_loss"):
        ag.cross_entropy_loss(logits, y)
    with pytest.raises(ValueError, match="expects probabilities"):   # in [0, 1] but rows do not sum to 1
        ag.cross_entropy_loss(np.full((2, 3), 0.9, np.float32), y)
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    want = -np.mean(np.log(p[np.arange(2), y]))
    assert abs(float(ag.cross_entropy_loss(p, y)) - want) < 1e-6
    assert abs(float(ag.softmax_cross_entropy_loss(logits, y)) - want) < 1e-6


def test_loss_targets_out_of_range_and_nan():
    z = t(2, 3)
    with pytest.raises(ValueError, match="label 3 is out of range for 3 classes"):
        ag.softmax_cross_entropy_loss(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="label -1"):
        ag.cross_entropy_loss(ag.softmax(z), np.array([-1, 0]))
    with pytest.raises(ValueError, match="NaN"):
        ag.softmax_cross_entropy_loss(z, np.array([[np.nan, 0, 1], [1, 0, 0]]))
    with pytest.raises(ValueError, match="NaN"):
        ag.mse_loss(z, np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="target shape"):
        ag.mse_loss(z, np.ones((3, 2, 1)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ag.binary_cross_entropy(t(3), np.array([0.0, 2.0, 1.0]))


def test_embedding_out_of_range_names_the_index():
    w = t(5, 2)
    with pytest.raises(ValueError, match="index 7 is out of range for 5"):
        ag.embedding(np.array([1, 7]), w)
    with pytest.raises(ValueError, match="index -1"):
        ag.embedding(np.array([-1]), w)
    with pytest.raises(TypeError, match="integers"):
        ag.embedding(np.array([0.5]), w)


def test_dropout_rate_checked():
    with pytest.raises(ValueError, match="dropout.*p"):
        ag.dropout(t(3), 1.0)
