"""Layer outputs against numpy references (Keras formulas and layouts), initialisers, dropout."""
import math

import numpy as np
import pytest

from dptrain import layers as L


def _same_pads(n, k, s):
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d_ref(x, w, b, strides, padding):
    kh, kw, _, cout = w.shape
    sh, sw = strides
    if padding == "same":
        (pt, pb), (pl, pr) = _same_pads(x.shape[1], kh, sh), _same_pads(x.shape[2], kw, sw)
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    n, h, wd, _ = x.shape
    ho, wo = (h - kh) // sh + 1, (wd - kw) // sw + 1
    y = np.zeros((n, ho, wo, cout))
    for i in range(ho):
        for j in range(wo):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            y[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y + b


def test_dense_forward_matches_numpy(rng):
    layer = L.Dense(4, activation="relu")
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = layer(x).numpy()
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, np.maximum(x @ k + b, 0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("strides,padding,shape", [((1, 1), "valid", (7, 6, 2)), ((1, 1), "same", (7, 6, 2)),
                                                    ((2, 2), "same", (7, 6, 2)), ((2, 1), "valid", (8, 5, 3))])
def test_conv2d_forward_matches_numpy(rng, strides, padding, shape):
    layer = L.Conv2D(3, (3, 2), strides=strides, padding=padding)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    layer(x)
    k, _ = layer.get_weights()
    b = rng.standard_normal(3).astype(np.float32)
    layer.set_weights([k, b])
    y = layer(x).numpy()
    np.testing.assert_allclose(y, conv2d_ref(x, k, b, strides, padding), rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape((None,) + shape) == (None,) + y.shape[1:]


@pytest.mark.parametrize("strides,padding", [(1, "valid"), (1, "same"), (2, "same")])
def test_conv1d_forward_matches_numpy(rng, strides, padding):
    layer = L.Conv1D(4, 3, strides=strides, padding=padding)
    x = rng.standard_normal((2, 9, 3)).astype(np.float32)
    y = layer(x).numpy()
    k, b = layer.get_weights()
    pl, pr = _same_pads(9, 3, strides) if padding == "same" else (0, 0)
    xp = np.pad(x, ((0, 0), (pl, pr), (0, 0)))
    ref = conv2d_ref(xp[:, None], k[None], b, (1, strides), "valid")[:, 0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_max_pooling_and_global_average_pooling(rng):
    x = rng.standard_normal((2, 6, 4, 3)).astype(np.float32)
    y = L.MaxPooling2D()(x).numpy()
    np.testing.assert_array_equal(y, x.reshape(2, 3, 2, 2, 2, 3).max(axis=(2, 4)))
    g = L.GlobalAveragePooling2D()(x).numpy()
    np.testing.assert_allclose(g, x.mean(axis=(1, 2)), rtol=1e-6)


def test_batch_normalization_training_and_moving_statistics_match_numpy(rng):
    layer = L.BatchNormalization()
    assert (layer.momentum, layer.epsilon) == (0.99, 1e-3)
    x1 = (rng.standard_normal((16, 3)) * 2 + 1).astype(np.float32)
    x2 = (rng.standard_normal((16, 3)) * 0.5 - 2).astype(np.float32)
    layer(x1)    # build (inference: moving stats 0/1)
    gamma = np.array([1.5, 0.5, 2.0], np.float32)
    beta = np.array([0.1, -0.2, 0.3], np.float32)
    layer.set_weights([gamma, beta, np.zeros(3, np.float32), np.ones(3, np.float32)])
    mm, mv = np.zeros(3), np.ones(3)
    for x in (x1, x2):
        y = layer(x, training=True).numpy()
        mu, var = x.mean(0), x.var(0)
        np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-5)
        mm, mv = 0.99 * mm + 0.01 * mu, 0.99 * mv + 0.01 * var    # biased batch variance, as Keras 3
    _, _, got_mm, got_mv = layer.get_weights()
    np.testing.assert_allclose(got_mm, mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_mv, mv, rtol=1e-5, atol=1e-6)
    y_inf = layer(x1).numpy()     # inference: the moving statistics
    np.testing.assert_allclose(y_inf, (x1 - mm) / np.sqrt(mv + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-5)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_lstm_matches_keras_equations(rng):
    layer = L.LSTM(4, return_sequences=True)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    y = layer(x).numpy()
    k, rk, b = [w.astype(np.float64) for w in layer.get_weights()]
    h = c = np.zeros((3, 4))
    outs = []
    for t in range(5):
        z = x[:, t] @ k + h @ rk + b
        i, f, g, o = _sigmoid(z[:, :4]), _sigmoid(z[:, 4:8]), np.tanh(z[:, 8:12]), _sigmoid(z[:, 12:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    np.testing.assert_allclose(y, np.stack(outs, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(L.LSTM.from_config(layer.get_config()).get_config()["units"], 4)


def test_gru_matches_keras_reset_after_equations(rng):
    layer = L.GRU(3)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    layer(x)
    k, rk, b = layer.get_weights()
    b = rng.standard_normal(b.shape).astype(np.float32)     # non-zero biases exercise both rows
    layer.set_weights([k, rk, b])
    y = layer(x).numpy()
    h = np.zeros((2, 3))
    for t in range(4):
        xz = x[:, t] @ k + b[0]
        hz = h @ rk + b[1]
        z = _sigmoid(xz[:, :3] + hz[:, :3])
        r = _sigmoid(xz[:, 3:6] + hz[:, 3:6])
        hh = np.tanh(xz[:, 6:] + r * hz[:, 6:])
        h = z * h + (1 - z) * hh
    np.testing.assert_allclose(y, h, rtol=1e-5, atol=1e-5)


def test_keras_default_initialisers():
    d = L.Dense(50)
    d(np.zeros((1, 30), np.float32))
    k, b = d.get_weights()
    limit = math.sqrt(6 / (30 + 50))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit and not b.any()
    lstm = L.LSTM(8)
    lstm(np.zeros((1, 2, 3), np.float32))
    _, rk, bias = lstm.get_weights()
    np.testing.assert_allclose(rk @ rk.T, np.eye(8), atol=1e-5)          # orthogonal rows
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])   # unit forget bias
    e = L.Embedding(100, 8)
    e(np.zeros((1, 1), np.int32))
    assert np.abs(e.get_weights()[0]).max() <= 0.05


def test_embedding_lookup_and_out_of_range_token(rng):
    e = L.Embedding(6, 3, name="tok")
    ids = np.array([[0, 5, 2], [1, 1, 4]])
    y = e(ids).numpy()
    np.testing.assert_array_equal(y, e.get_weights()[0][ids])
    with pytest.raises(ValueError, match=r"Embedding layer 'tok'.*token 6.*input_dim=6"):
        e(np.array([[0, 6]]))
    with pytest.raises(ValueError, match=r"Embedding layer 'tok'.*token -1"):
        e(np.array([[-1, 2]]))


def test_dropout_inverted_fresh_mask_and_off_in_inference():
    layer = L.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)                   # inference: identity
    a = layer(x, training=True).numpy()
    b = layer(x, training=True).numpy()
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.02
    assert not np.array_equal(a, b)                                      # a fresh mask per call
    assert abs(a.mean() - 1.0) < 0.03


@pytest.mark.parametrize("name,ref", [
    ("relu", lambda x: np.maximum(x, 0)), ("sigmoid", _sigmoid), ("tanh", np.tanh),
    ("softmax", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    ("gelu", lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    ("silu", lambda x: x * _sigmoid(x)), ("linear", lambda x: x)])
def test_activations(name, ref, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(L.Activation(name)(x).numpy(), ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(L.Activation(None)(x).numpy(), x)


def test_unknown_activation_is_an_error():
    with pytest.raises(ValueError, match="Dense layer 'd'.*unknown activation 'relux'"):
        L.Dense(3, activation="relux", name="d")
