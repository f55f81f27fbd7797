"""Keras masks: the mechanism (masks attached to tensors, `mask=` reaching call, compute_mask,
symbolic masks, the graph plan), the layers that make them (Embedding(mask_zero=True), Masking),
the layers that pass or use them, and the losses and metrics of a masked output."""
import gc

import numpy as np
import pytest

import dptrain as dt
from dptrain.layers.base import _MASKS, get_keras_mask, set_keras_mask
from engine.tensor import as_tensor

L = dt.layers
TOKENS = np.array([[3, 1, 4, 1, 0, 0], [5, 9, 2, 0, 0, 0], [6, 5, 3, 5, 8, 9], [7, 0, 0, 0, 0, 0]], np.int32)
KEEP = TOKENS != 0


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _mask(t):
    m = get_keras_mask(t)
    return None if m is None else np.asarray(m.numpy() if hasattr(m, "numpy") else m).astype(bool)


class Recorder(L.Layer):
    """y = 2x; records the mask its call receives; passes masks on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.seen = []

    def call(self, x, mask=None):
        self.seen.append(None if mask is None else np.asarray(mask.numpy() if hasattr(mask, "numpy") else mask))
        return x * 2.0


class MaskedSum(L.Layer):
    """y = sum_t mask_t x_t (every step without a mask); no output mask."""

    def call(self, x, mask=None):
        if mask is None:
            return dt.ops.sum(x, axis=1)
        return dt.ops.sum(x * dt.ops.expand_dims(dt.ops.cast(mask, x.dtype), -1), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, s):
        return (s[0], s[2])


# --- the mechanism --------------------------------------------------------------------------------
def test_masks_attach_to_tensors_and_go_with_them():
    x = as_tensor(np.ones((2, 3), np.float32))
    m = dt.ops.not_equal(as_tensor(np.array([[1, 0, 1], [0, 0, 1]])), 0)
    assert get_keras_mask(x) is None and x._keras_mask is None
    set_keras_mask(x, m)
    assert get_keras_mask(x) is m and x._keras_mask is m
    x._keras_mask = None
    assert get_keras_mask(x) is None
    y = as_tensor(np.ones(2, np.float32))
    y._keras_mask = m
    n = len(_MASKS)
    del y
    gc.collect()
    assert len(_MASKS) == n - 1           # a mask does not outlive its tensor


def test_call_receives_the_input_mask_and_the_output_carries_it():
    x = as_tensor(np.ones((2, 3, 4), np.float32))
    set_keras_mask(x, KEEP[:2, :3])
    layer = Recorder()
    y = layer(x)
    np.testing.assert_array_equal(layer.seen[-1], KEEP[:2, :3])
    np.testing.assert_array_equal(_mask(y), KEEP[:2, :3])
    layer(np.ones((2, 3, 4), np.float32))
    assert layer.seen[-1] is None                       # no mask: call gets none
    explicit = np.array([[1, 1, 1], [0, 0, 0]], bool)   # an explicit mask= wins, and is passed on
    z = layer(x, mask=explicit)
    np.testing.assert_array_equal(layer.seen[-1], explicit)
    np.testing.assert_array_equal(_mask(z), explicit)


def test_supports_masking_defaults_as_keras():
    assert not L.Layer().supports_masking and not L.Flatten().supports_masking
    assert MaskedSum().supports_masking               # overriding compute_mask turns it on
    assert L.Dense(2).supports_masking and L.Dropout(0.1).supports_masking
    assert L.Embedding(3, 2, mask_zero=True).supports_masking and not L.Embedding(3, 2).supports_masking
    r = Recorder()
    r.supports_masking = False
    assert not r.supports_masking


def test_a_layer_without_masking_drops_the_mask_with_a_warning():
    x = as_tensor(np.ones((2, 3, 2), np.float32))
    set_keras_mask(x, KEEP[:2, :3])
    with pytest.warns(UserWarning, match="does not support masking"):
        y = L.Flatten(name="flat")(x)
    assert get_keras_mask(y) is None
    inp = dt.Input((6,), dtype="int32")
    e = L.Embedding(10, 2, mask_zero=True)(inp)
    with pytest.warns(UserWarning, match="'flat2'"):
        f = L.Flatten(name="flat2")(e)
    assert f._keras_mask is None


def test_several_tensor_arguments_get_their_own_masks():
    class Pair(L.Layer):
        def call(self, query, value, query_mask=None, value_mask=None):
            self.got = (query_mask, value_mask)
            return query + value

    q, v = as_tensor(np.ones((2, 3), np.float32)), as_tensor(np.ones((2, 3), np.float32))
    mq = np.array([[1, 0, 1], [1, 1, 0]], bool)
    set_keras_mask(q, mq)
    layer = Pair()
    with pytest.warns(UserWarning, match="does not support masking"):     # as Keras: Pair passes none on
        layer(q, v)
    np.testing.assert_array_equal(layer.got[0], mq)
    assert layer.got[1] is None


def test_symbolic_masks_follow_the_graph():
    inp = dt.Input((None,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(inp)
    assert e._keras_mask is not None and e._keras_mask.shape == (None, None)
    h = L.Dense(3)(L.Dropout(0.5)(e))
    assert h._keras_mask.shape == (None, None)
    assert L.GlobalAveragePooling1D()(h)._keras_mask is None
    assert L.Dense(3)(dt.Input((4,)))._keras_mask is None
    assert L.Masking()(dt.Input((5, 2)))._keras_mask.shape == (None, 5)


def test_custom_layer_in_a_model_gets_the_mask_in_predict_and_fit(rng):
    inp = dt.Input((6,), dtype="int32")
    emb = L.Embedding(10, 3, mask_zero=True)
    rec = Recorder()
    out = MaskedSum()(rec(emb(inp)))
    m = dt.Model(inp, out)
    p = m.predict(TOKENS, verbose=0)
    np.testing.assert_array_equal(rec.seen[-1], KEEP)
    table = emb.get_weights()[0].astype(np.float64)
    ref = (table[TOKENS] * 2 * KEEP[..., None]).sum(axis=1)
    np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)
    m.compile(optimizer="sgd", loss="mse")
    m.fit(TOKENS, rng.standard_normal((4, 3)).astype(np.float32), epochs=1, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_array_equal(rec.seen[-1], KEEP)


def _pooled_model():
    return dt.Sequential([dt.Input((None,), dtype="int32"), L.Embedding(10, 4, mask_zero=True),
                          L.GlobalAveragePooling1D(), L.Dense(2)])


def test_padding_does_not_change_predictions_and_survives_save_load(tmp_path):
    m = _pooled_model()
    p = m.predict(TOKENS, verbose=0)
    padded = np.concatenate([TOKENS, np.zeros((4, 4), np.int32)], axis=1)
    np.testing.assert_allclose(m.predict(padded, verbose=0), p, rtol=1e-6, atol=1e-6)
    table, (k, b) = m.layers[0].get_weights()[0].astype(np.float64), m.layers[2].get_weights()
    mean = np.stack([table[t[t != 0]].mean(axis=0) for t in TOKENS])
    np.testing.assert_allclose(p, mean @ k + b, rtol=1e-5, atol=1e-6)
    m.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.layers[0].mask_zero
    np.testing.assert_allclose(loaded.predict(padded, verbose=0), p, rtol=1e-6, atol=1e-6)


def test_model_inputs_carrying_masks_reach_every_layer():
    inp = dt.Input((6, 2))
    rec = Recorder()
    m = dt.Model(inp, L.Dense(1)(rec(inp)))       # the graph itself has no mask
    x = as_tensor(np.ones((4, 6, 2), np.float32))
    set_keras_mask(x, KEEP)
    out = m(x)
    np.testing.assert_array_equal(rec.seen[-1], KEEP)
    np.testing.assert_array_equal(_mask(out), KEEP)
    m(np.ones((4, 6, 2), np.float32), mask=~KEEP)     # Keras' Functional.call(mask=)
    np.testing.assert_array_equal(rec.seen[-1], ~KEEP)


def test_nested_model_and_subclassed_model_carry_masks(rng):
    inner_in = dt.Input((6,), dtype="int32")
    inner = dt.Model(inner_in, L.Dense(3)(L.Embedding(10, 4, mask_zero=True)(inner_in)))
    inp = dt.Input((6,), dtype="int32")
    pooled = L.GlobalAveragePooling1D()(inner(inp))
    outer = dt.Model(inp, pooled)
    h = inner.predict(TOKENS, verbose=0).astype(np.float64)
    ref = (h * KEEP[..., None]).sum(1) / KEEP.sum(1, keepdims=True)
    np.testing.assert_allclose(outer.predict(TOKENS, verbose=0), ref, rtol=1e-5, atol=1e-6)

    class Sub(dt.Model):
        def __init__(self):
            super().__init__()
            self.emb = L.Embedding(10, 3, mask_zero=True)
            self.pool = L.GlobalAveragePooling1D()

        def call(self, x):
            return self.pool(self.emb(x))

    s = Sub()
    p = s.predict(TOKENS, verbose=0)
    padded = np.concatenate([TOKENS, np.zeros((4, 2), np.int32)], axis=1)
    np.testing.assert_allclose(s(padded).numpy(), p, rtol=1e-6, atol=1e-6)


# --- Embedding(mask_zero=True) and Masking -----------------------------------------------------------
def test_embedding_mask_zero_mask_config_and_errors():
    layer = L.Embedding(10, 3, mask_zero=True)
    out = layer(TOKENS)
    np.testing.assert_array_equal(_mask(out), KEEP)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(TOKENS).numpy()), KEEP)
    assert layer.get_config()["mask_zero"] is True
    assert L.Embedding.from_config(layer.get_config()).mask_zero
    assert get_keras_mask(L.Embedding(10, 3)(TOKENS)) is None
    assert L.Embedding(10, 3).compute_mask(TOKENS) is None
    with pytest.raises(TypeError, match="Embedding layer 'e'.*mask_zero"):
        L.Embedding(10, 3, mask_zero="yes", name="e")


def test_masking_values_mask_and_gradient(rng):
    x = rng.standard_normal((3, 5, 2))
    x[0, 3:] = 0.0
    x[1, 1] = 0.0
    x[2, 0, 0] = 0.0
    keep = np.any(x != 0.0, axis=-1)
    layer = L.Masking()
    y = layer(x.astype(np.float32))
    np.testing.assert_allclose(y.numpy(), x * keep[..., None], rtol=1e-6)
    np.testing.assert_array_equal(_mask(y), keep)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x).numpy()), keep)
    z = L.Masking(mask_value=1.5)(np.array([[[1.5, 1.5], [1.5, 2.0]]], np.float32))
    np.testing.assert_array_equal(z.numpy(), [[[0, 0], [1.5, 2.0]]])
    xp = dt.ag.param(x.astype(np.float32))
    w = rng.standard_normal(x.shape).astype(np.float32)
    with dt.ag.grad_tape():
        loss = dt.ag.sum(L.Masking()(xp) * dt.ag.tensor(w))
    dt.ag.backward(loss)
    np.testing.assert_allclose(xp.grad, w * keep[..., None], rtol=1e-6)     # the masked steps get none
    assert dt.ag.gradcheck(lambda t: L.Masking(mask_value=-9.0)(t), [x])  # away from the mask value
    with pytest.raises(TypeError, match="Masking layer 'mk'.*mask_value"):
        L.Masking(mask_value="0", name="mk")
    with pytest.raises(ValueError, match="Masking layer 'mk2'"):
        L.Masking(name="mk2")(dt.Input(()))


def test_masking_config_and_save_load(tmp_path, rng):
    m = dt.Sequential([dt.Input((5, 3)), L.Masking(mask_value=0.5), L.Dense(2), MaskedSum()])
    assert L.Masking.from_config(m.layers[0].get_config()).mask_value == 0.5
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    x[0, 2:] = 0.5
    p = m.predict(x, verbose=0)
    k, b = (w.astype(np.float64) for w in m.layers[1].get_weights())
    keep = np.any(x != 0.5, axis=-1)
    np.testing.assert_allclose(p, ((x @ k + b) * keep[..., None]).sum(1), rtol=1e-5, atol=1e-5)
    m.save(tmp_path / "mk.dpt")
    loaded = dt.load_model(tmp_path / "mk.dpt", custom_objects={"MaskedSum": MaskedSum})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), p, rtol=1e-6)


# --- layers that use masks ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,keepdims", [("channels_last", False), ("channels_last", True),
                                          ("channels_first", False)])
def test_global_average_pooling_1d_masked_mean(rng, fmt, keepdims):
    x = rng.standard_normal((4, 6, 3))
    layer = L.GlobalAveragePooling1D(data_format=fmt, keepdims=keepdims)
    xin = x if fmt == "channels_last" else x.transpose(0, 2, 1)
    y = layer(xin.astype(np.float32), mask=KEEP)
    ref = (x * KEEP[..., None]).sum(1) / KEEP.sum(1, keepdims=True)
    if keepdims:
        ref = ref[:, None, :]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-6)
    assert get_keras_mask(y) is None
    assert dt.ag.gradcheck(lambda t: layer(t, mask=KEEP), [xin])


def test_global_average_pooling_1d_mask_errors_and_all_masked():
    layer = L.GlobalAveragePooling1D(name="g")
    with pytest.raises(ValueError, match="GlobalAveragePooling1D layer 'g'.*mask"):
        layer(np.zeros((2, 3, 2), np.float32), mask=np.ones((2, 4), bool))
    with np.errstate(invalid="ignore", divide="ignore"):
        y = layer(np.ones((1, 3, 2), np.float32), mask=np.zeros((1, 3), bool)).numpy()
    assert np.isnan(y).all()     # as Keras: 0 / 0


def test_softmax_mask():
    x = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]], np.float32)
    mask = np.array([[1.0, 0.2, 0.9], [0.0, 1.0, 1.0]], np.float32)    # numbers: kept where > 0.5
    z = np.where(mask > 0.5, x.astype(np.float64), -1e9)
    ref = np.exp(z - z.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    np.testing.assert_allclose(L.Softmax()(x, mask=mask).numpy(), ref, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="Softmax layer 'sm'.*broadcastable"):
        L.Softmax(name="sm")(x, mask=np.ones((2, 2), bool))


def test_lambda_mask_argument():
    inp = dt.Input((6,), dtype="int32")
    e = L.Embedding(10, 3, mask_zero=True)(inp)
    with pytest.warns(UserWarning, match="does not support masking"):
        assert L.Lambda(lambda t: t * 2.0)(e)._keras_mask is None     # as Keras: a Lambda drops the mask
    seen = []

    def fn(t, mask=None):
        seen.append(mask)
        return t * 2.0
    h = L.Lambda(fn, mask=lambda t, m: m)(e)
    assert h._keras_mask is not None
    m = dt.Model(inp, L.GlobalAveragePooling1D()(h))
    m.predict(TOKENS, verbose=0)
    np.testing.assert_array_equal(np.asarray(seen[-1].numpy()), KEEP)


def test_batch_normalization_masked_statistics(rng):
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    bn = L.BatchNormalization(momentum=0.0, epsilon=1e-3)
    y = bn(x, mask=KEEP, training=True).numpy()
    sel = x[KEEP].astype(np.float64)
    mean, var = sel.mean(0), sel.var(0)
    w = KEEP.sum()
    mean, var = mean * w / (w + 1e-7), var * w / (w + 1e-7)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    assert dt.ag.gradcheck(lambda t: L.BatchNormalization()(t, mask=KEEP, training=True), [x.astype(np.float64)])
    with pytest.raises(ValueError, match="BatchNormalization layer 'bn'.*one dimension less"):
        L.BatchNormalization(name="bn")(x, mask=np.ones((4,), bool), training=True)


# --- merging layers -------------------------------------------------------------------------------
def _two_masked(rng):
    a = as_tensor(rng.standard_normal((2, 3, 2)).astype(np.float32))
    b = as_tensor(rng.standard_normal((2, 3, 2)).astype(np.float32))
    ma = np.array([[1, 1, 0], [1, 0, 0]], bool)
    mb = np.array([[0, 1, 0], [1, 1, 0]], bool)
    set_keras_mask(a, dt.ops.convert_to_tensor(ma))
    set_keras_mask(b, dt.ops.convert_to_tensor(mb))
    return a, b, ma, mb


def test_elementwise_merges_or_the_masks(rng):
    a, b, ma, mb = _two_masked(rng)
    for layer in (L.Add(), L.Subtract(), L.Average()):
        np.testing.assert_array_equal(_mask(layer([a, b])), ma | mb)
    u = as_tensor(np.ones((2, 3, 2), np.float32))
    assert get_keras_mask(L.Add()([a, u])) is None          # one input without a mask: no output mask
    with pytest.raises(ValueError, match="should be a list"):
        L.Add().compute_mask([a, b], ma)
    with pytest.raises(ValueError, match="same length"):
        L.Add().compute_mask([a, b], [ma])


def test_multiply_maximum_minimum_masked_values(rng):
    a, b, ma, mb = _two_masked(rng)
    A, B = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    MA, MB = ma[..., None], mb[..., None]
    out = L.Multiply()([a, b])
    ref = np.where(MA | MB, np.where(MA, A, 1) * np.where(MB, B, 1), 0)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    np.testing.assert_array_equal(_mask(out), ma | mb)
    out = L.Maximum()([a, b])
    x = np.where(MB, B, A)
    first = np.where(MA, A, x)
    np.testing.assert_allclose(out.numpy(), np.maximum(first, x), rtol=1e-6)
    np.testing.assert_array_equal(_mask(out), ma | mb)
    np.testing.assert_allclose(L.Minimum()([a, b]).numpy(), np.minimum(first, x), rtol=1e-6)
    u = as_tensor(np.full((2, 3, 2), 2.0, np.float32))
    one = L.Multiply()([a, u])                 # a mask on one input only: its masked values count as 1
    np.testing.assert_allclose(one.numpy(), np.where(MA, A, 1) * 2.0, rtol=1e-6)
    assert get_keras_mask(one) is None


def test_concatenate_and_dot_masks(rng):
    a, b, ma, mb = _two_masked(rng)
    np.testing.assert_array_equal(_mask(L.Concatenate()([a, b])), ma | mb)
    np.testing.assert_array_equal(_mask(L.Concatenate(axis=1)([a, b])), np.concatenate([ma, mb], axis=1))
    u = as_tensor(np.ones((2, 3, 2), np.float32))
    np.testing.assert_array_equal(_mask(L.Concatenate()([a, u])), np.ones((2, 3), bool))
    assert get_keras_mask(L.Dot(axes=(2, 2))([a, b])) is None
    assert L.Concatenate().compute_mask([a, b], None) is None


# --- losses and metrics of a masked output --------------------------------------------------------
def _masked_pred(rng):
    x = rng.standard_normal((3, 4, 2))
    x[0, 2:] = 0.0
    x[2, 1] = 0.0
    return L.Masking()(x.astype(np.float32)), np.any(x != 0, axis=-1), x


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean", "none", "mean_with_sample_weight"])
def test_loss_call_leaves_masked_entries_out(rng, reduction):
    y_pred, keep, x = _masked_pred(rng)
    y_true = rng.standard_normal((3, 4, 2))
    values = ((y_true - x * keep[..., None]) ** 2).mean(-1)
    sw = rng.random((3, 4)) + 0.5
    got = dt.losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=sw).numpy()
    w = keep * sw
    if reduction in ("sum_over_batch_size", "mean"):
        ref = (values * keep * sw).sum() / keep.sum()
    elif reduction == "sum":
        ref = (values * w).sum()
    elif reduction == "none":
        ref = values * w
    else:
        ref = (values * w).sum() / w.sum()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_sparse_crossentropy_mask_and_ignore_class_combine(rng):
    logits = rng.standard_normal((2, 4, 3)).astype(np.float32)
    y = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    keep = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
    p = as_tensor(logits)
    set_keras_mask(p, dt.ops.convert_to_tensor(keep))
    got = dt.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)(y, p).numpy()
    z = logits.astype(np.float64)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    counted = keep & (y != 1)
    np.testing.assert_allclose(got, (nll * counted).sum() / counted.sum(), rtol=1e-5)


def test_compiled_loss_and_metrics_ignore_padding(rng):
    inp = dt.Input((6,), dtype="int32")
    out = L.Dense(3, activation="softmax")(L.Embedding(10, 4, mask_zero=True)(inp))
    m = dt.Model(inp, out)
    y = rng.integers(0, 3, size=(4, 6))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = m.evaluate(TOKENS, y, verbose=0)
    p = m.predict(TOKENS, verbose=0).astype(np.float64)
    nll = -np.log(np.take_along_axis(p, y[..., None], -1)[..., 0])
    np.testing.assert_allclose(loss, (nll * KEEP).sum() / KEEP.sum(), rtol=1e-4)
    np.testing.assert_allclose(acc, ((p.argmax(-1) == y) * KEEP).sum() / KEEP.sum(), rtol=1e-6)
    hist = m.fit(TOKENS, y, epochs=2, batch_size=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    y2 = y.copy()
    y2[~KEEP] = (y2[~KEEP] + 1) % 3      # other labels at the padding: the same loss and accuracy
    np.testing.assert_allclose(m.evaluate(TOKENS, y2, verbose=0), m.evaluate(TOKENS, y, verbose=0), rtol=1e-6)


def test_masked_mse_sum_reduction_in_evaluate(rng):
    m = dt.Sequential([dt.Input((6,), dtype="int32"), L.Embedding(10, 3, mask_zero=True), L.Dense(2)])
    y = rng.standard_normal((4, 6, 2)).astype(np.float32)
    m.compile(optimizer="sgd", loss=dt.losses.MeanSquaredError(reduction="sum"), metrics=["mae"])
    loss, mae = m.evaluate(TOKENS, y, batch_size=4, verbose=0)
    p = m.predict(TOKENS, verbose=0).astype(np.float64)
    np.testing.assert_allclose(loss, (((p - y) ** 2).mean(-1) * KEEP).sum(), rtol=1e-5)
    np.testing.assert_allclose(mae, (np.abs(p - y).mean(-1) * KEEP).sum() / KEEP.sum(), rtol=1e-5)


def test_metric_update_state_uses_the_mask_of_y_pred(rng):
    y_pred, keep, x = _masked_pred(rng)
    y_true = rng.standard_normal((3, 4, 2))
    m = dt.metrics.MeanAbsoluteError()
    m.update_state(y_true, y_pred)
    err = np.abs(y_true - x * keep[..., None]).mean(-1)
    np.testing.assert_allclose(float(m.result()), (err * keep).sum() / keep.sum(), rtol=1e-5)
    r = dt.metrics.RootMeanSquaredError()      # as Keras: a plain Mean, which the mask does not reach
    r.update_state(y_true, y_pred)
    np.testing.assert_allclose(float(r.result()), np.sqrt(((y_true - x * keep[..., None]) ** 2).mean()), rtol=1e-5)


def test_fused_softmax_output_consumed_downstream_keeps_its_mask(rng):
    inp = dt.Input((6,), dtype="int32")
    p = L.Dense(3, activation="softmax")(L.Embedding(10, 4, mask_zero=True)(inp))
    q = L.GlobalAveragePooling1D()(p)        # the softmax, folded into p's loss, still feeds q
    m = dt.Model(inp, [p, q])
    y = rng.integers(0, 3, size=(4, 6))
    m.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    total, lp, lq = m.evaluate(TOKENS, [y, np.zeros((4, 3), np.float32)], verbose=0)
    pp, qq = (a.astype(np.float64) for a in m.predict(TOKENS, verbose=0))
    np.testing.assert_allclose(qq, (pp * KEEP[..., None]).sum(1) / KEEP.sum(1, keepdims=True), rtol=1e-5)
    nll = -np.log(np.take_along_axis(pp, y[..., None], -1)[..., 0])
    np.testing.assert_allclose(lp, (nll * KEEP).sum() / KEEP.sum(), rtol=1e-4)
    np.testing.assert_allclose(lq, (qq ** 2).mean(), rtol=1e-4)
