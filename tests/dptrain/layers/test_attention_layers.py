"""Attention layers (MultiHeadAttention, Attention, AdditiveAttention): numpy float64 references of
Keras 3's math (projections, scaling, masks, causal mask, scores), gradients in float64, the
functional call `mha(x, x)` with save/load, configs and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain import layers as L
from engine.tensor import Tensor


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _np(t):
    return t.numpy() if isinstance(t, Tensor) else np.asarray(t)


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# --- MultiHeadAttention ---------------------------------------------------------------------------
def mha_ref(layer, query, value, key=None, keep=None, causal=False):
    """float64 Keras math: EinsumDense projections, Q/sqrt(dk) K^T, where(mask, s, -1e9), softmax,
    masked probabilities set to 0, P V, output EinsumDense. `keep`: [B, T, S] or None."""
    w = [np.asarray(a, np.float64) for a in layer.get_weights()]
    names = [x.name.split("/", 1)[1] for x in layer.weights]
    p = dict(zip(names, w))
    key = value if key is None else key
    q, k, v = (np.asarray(a, np.float64) for a in (query, key, value))

    def proj(x, name):
        y = np.einsum("btd,dhk->bthk", x, p[f"{name}/kernel"])
        return y + p[f"{name}/bias"] if f"{name}/bias" in p else y
    Q, K, V = proj(q, "query"), proj(k, "key"), proj(v, "value")
    s = np.einsum("bthk,bshk->bhts", Q / np.sqrt(layer.key_dim), K)
    b, t, sl = q.shape[0], q.shape[1], k.shape[1]
    m = np.ones((b, t, sl), bool) if keep is None else np.broadcast_to(np.asarray(keep, bool), (b, t, sl))
    if causal:
        m = m & np.tril(np.ones((t, sl), bool))
    m4 = m[:, None]
    s = np.where(m4, s, -1e9)
    P = np.where(m4, _softmax(s), 0.0)
    o = np.einsum("bhts,bshk->bthk", P, V)
    if "gate/kernel" in p:
        o = o / (1 + np.exp(-proj(q, "gate")))
    ko = p["attention_output/kernel"]
    out = np.tensordot(o, ko, axes=([2, 3], [0, 1]))
    if "attention_output/bias" in p:
        out = out + p["attention_output/bias"]
    return out, P


def _seed(layer, rng, scale=0.4):
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * scale for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("kwargs,shapes", [
    ({}, ((2, 5, 6), (2, 5, 6), None)),
    ({"value_dim": 4}, ((2, 5, 6), (2, 4, 7), None)),
    ({"value_dim": 2, "output_shape": 3}, ((3, 4, 6), (3, 6, 5), (3, 6, 8))),
    ({"output_shape": (2, 3), "use_bias": False}, ((2, 3, 4), (2, 5, 4), None)),
    ({"use_gate": True}, ((2, 4, 6), (2, 3, 6), None)),
], ids=str)
def test_mha_forward_matches_reference(rng, kwargs, shapes):
    layer = L.MultiHeadAttention(2, 3, **kwargs)
    q, v = _x(rng, *shapes[0]), _x(rng, *shapes[1])
    k = None if shapes[2] is None else _x(rng, *shapes[2])
    out, scores = layer(q, v, key=k, return_attention_scores=True)
    _seed(layer, rng)
    out, scores = layer(q, v, key=k, return_attention_scores=True)
    want, want_p = mha_ref(layer, q, v, k)
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(scores), want_p, rtol=1e-5, atol=1e-6)
    assert out.shape == layer.compute_output_shape(shapes[0], shapes[1], shapes[2])
    assert _np(layer(q, v, key=k)).shape == want.shape


def test_mha_weights_follow_keras_names_shapes_and_order(rng):
    layer = L.MultiHeadAttention(2, 3, value_dim=4, name="mha")
    layer(_x(rng, 2, 5, 6), _x(rng, 2, 4, 7))
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("mha/query/kernel", (6, 2, 3)), ("mha/query/bias", (2, 3)), ("mha/key/kernel", (7, 2, 3)),
        ("mha/key/bias", (2, 3)), ("mha/value/kernel", (7, 2, 4)), ("mha/value/bias", (2, 4)),
        ("mha/attention_output/kernel", (2, 4, 6)), ("mha/attention_output/bias", (6,))]
    gated = L.MultiHeadAttention(2, 3, use_gate=True, use_bias=False, name="g")
    gated(_x(rng, 2, 5, 6), _x(rng, 2, 4, 6))
    assert [w.name for w in gated.weights] == ["g/query/kernel", "g/key/kernel", "g/gate/kernel", "g/value/kernel",
                                               "g/attention_output/kernel"]
    assert layer.count_params() == 6 * 6 + 6 + 7 * 6 + 6 + 7 * 8 + 8 + 8 * 6 + 6


def test_mha_masks_combine_as_keras(rng):
    layer = L.MultiHeadAttention(2, 3)
    q, v, k = _x(rng, 2, 4, 5), _x(rng, 2, 6, 5), _x(rng, 2, 6, 5)
    layer(q, v, key=k)
    _seed(layer, rng)
    vm = rng.random((2, 6)) > 0.3
    km = rng.random((2, 6)) > 0.3
    am = rng.random((2, 4, 6)) > 0.2
    vm[:, 0] = km[:, 0] = am[:, :, 0] = True        # no query left without keys, except below
    out, p = layer(q, v, key=k, value_mask=vm, key_mask=km, attention_mask=am, return_attention_scores=True)
    want, want_p = mha_ref(layer, q, v, k, keep=am & vm[:, None] & km[:, None])
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(p), want_p, rtol=1e-5, atol=1e-6)
    # key_mask counts also when key is value (as Keras' _compute_attention_mask)
    np.testing.assert_allclose(_np(layer(q, v, value_mask=vm, key_mask=km)),
                               mha_ref(layer, q, v, keep=(vm & km)[:, None])[0], rtol=1e-5, atol=1e-5)
    # a [T, S] mask and 0/1 floats broadcast like a boolean [B, T, S] mask
    np.testing.assert_allclose(_np(layer(q, v, attention_mask=am[0].astype(np.float32))),
                               mha_ref(layer, q, v, keep=am[0][None])[0], rtol=1e-5, atol=1e-5)
    # a query with every key masked attends to nothing: probabilities 0, the output is the output bias
    full = np.ones((2, 4, 6), bool)
    full[1, 2] = False
    out, p = layer(q, v, attention_mask=full, return_attention_scores=True)
    assert np.all(_np(p)[1, :, 2] == 0)
    np.testing.assert_allclose(_np(out)[1, 2], layer.get_weights()[-1], rtol=1e-6)


def test_mha_fully_masked_query_without_scores_averages_the_values(rng):
    """Keras (torch) takes dot_product_attention when there is no dropout and no returned scores:
    there a query with every key masked averages all values uniformly."""
    layer = L.MultiHeadAttention(2, 3)
    q, v = _x(rng, 2, 4, 5), _x(rng, 2, 6, 5)
    layer(q, v)
    _seed(layer, rng)
    am = np.ones((2, 4, 6), bool)
    am[1, 2] = False
    got = _np(layer(q, v, attention_mask=am))
    want = mha_ref(layer, q, v, keep=am)[0]
    np.testing.assert_allclose(np.delete(got[1], 2, 0), np.delete(want[1], 2, 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5)
    p = {w.name.split("/", 1)[1]: w.numpy().astype(np.float64) for w in layer.weights}
    mean_v = (np.einsum("sd,dhk->shk", v[1].astype(np.float64), p["value/kernel"]) + p["value/bias"]).mean(0)
    np.testing.assert_allclose(got[1, 2], np.tensordot(mean_v, p["attention_output/kernel"], 2) +
                               p["attention_output/bias"], rtol=1e-5, atol=1e-5)


def test_mha_causal_and_sliding_window(rng):
    layer = L.MultiHeadAttention(3, 2)
    q = _x(rng, 2, 5, 4)
    layer(q, q)
    _seed(layer, rng)
    out, p = layer(q, q, use_causal_mask=True, return_attention_scores=True)
    want, want_p = mha_ref(layer, q, q, causal=True)
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)
    assert np.all(np.triu(_np(p)[0, 0], 1) == 0)
    vm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    out = layer(q, q, value_mask=vm, use_causal_mask=True)
    np.testing.assert_allclose(_np(out), mha_ref(layer, q, q, keep=vm[:, None], causal=True)[0], rtol=1e-5, atol=1e-5)
    # cross attention, T != S: Keras' causal mask is lower triangular from the first key
    v = _x(rng, 2, 7, 4)
    np.testing.assert_allclose(_np(layer(q, v, use_causal_mask=True)), mha_ref(layer, q, v, causal=True)[0],
                               rtol=1e-5, atol=1e-5)
    win = L.MultiHeadAttention(3, 2, sliding_window=2)
    win(q, q)
    win.set_weights(layer.get_weights())
    band = np.abs(np.arange(5)[:, None] - np.arange(5)[None]) < 2
    np.testing.assert_allclose(_np(win(q, q)), mha_ref(layer, q, q, keep=band[None])[0], rtol=1e-5, atol=1e-5)


def test_mha_query_mask_argument_has_no_effect_as_in_keras(rng):
    layer = L.MultiHeadAttention(2, 3)
    q = _x(rng, 2, 4, 5)
    a = _np(layer(q, q))
    b = _np(layer(q, q, query_mask=np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)))
    np.testing.assert_array_equal(a, b)


def test_mha_dropout_in_training_only(rng):
    layer = L.MultiHeadAttention(2, 3, dropout=0.5, seed=3)
    q = _x(rng, 2, 6, 4)
    inference = _np(layer(q, q))
    np.testing.assert_allclose(inference, _np(layer(q, q, training=False)))
    np.testing.assert_allclose(inference, mha_ref(layer, q, q)[0], rtol=1e-5, atol=1e-5)
    trained = _np(layer(q, q, training=True))
    assert not np.allclose(trained, inference)
    # the returned scores are the probabilities before dropout
    _, p = layer(q, q, training=True, return_attention_scores=True)
    np.testing.assert_allclose(_np(p), mha_ref(layer, q, q)[1], rtol=1e-5, atol=1e-6)
    a = L.MultiHeadAttention(2, 3, dropout=0.5, seed=3)
    b = L.MultiHeadAttention(2, 3, dropout=0.5, seed=3)
    a(q, q)
    b(q, q)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(_np(a(q, q, training=True)), _np(b(q, q, training=True)))


def _set_float64(layer):
    """Give the layer float64 parameter copies of its weights (for gradcheck); returns (names, arrays)."""
    names = list(layer._proj)
    arrays = []
    for n in names:
        for w in layer._proj[n]:
            if w is not None:
                arrays.append(w.numpy().astype(np.float64))
    return names, arrays


def _rebind(layer, names, ws):
    it = iter(ws)
    for n in names:
        k, b = layer._proj[n]
        layer._proj[n] = (next(it), None if b is None else next(it))


@pytest.mark.parametrize("kwargs", [{"use_causal_mask": True}, {"attention_mask": "random"}], ids=str)
def test_mha_gradcheck_float64(rng, kwargs):
    layer = L.MultiHeadAttention(2, 2, value_dim=3, use_gate=True)
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 4, 3)
    layer(q, v)
    _seed(layer, rng, 0.5)
    if kwargs.get("attention_mask") == "random":
        am = rng.random((2, 3, 4)) > 0.3
        am[:, :, 0] = True
        kwargs = {"attention_mask": am}
    names, arrays = _set_float64(layer)

    def fn(q, v, *ws):
        _rebind(layer, names, ws)
        return layer.call(q, v, **kwargs)
    assert ag.gradcheck(fn, [q.astype(np.float64), v.astype(np.float64)] + arrays)


def test_mha_functional_self_attention_trains_and_saves(rng, tmp_path):
    inp = dt.Input((5, 4))
    h = L.MultiHeadAttention(2, 3, name="mha")(inp, inp)
    h = L.LayerNormalization()(L.Add()([inp, h]))
    out = L.Dense(1)(L.GlobalAveragePooling1D()(h))
    model = dt.Model(inp, out)
    assert h.shape == (None, 5, 4)
    assert [w.name for w in model.get_layer("mha").weights][0] == "mha/query/kernel"
    x, y = _x(rng, 8, 5, 4), _x(rng, 8, 1)
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    moved = [not np.allclose(a, b) for a, b in zip(before[:8], model.get_weights()[:8])]
    assert moved == [True, True, True, False, True, True, True, True]    # softmax ignores the key bias
    p = model.predict(x, verbose=0)
    model.save(tmp_path / "m.dpt")
    loaded = dt.models.load_model(tmp_path / "m.dpt")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), p, rtol=1e-6, atol=1e-6)
    clone = dt.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), p, rtol=1e-6, atol=1e-6)


def test_mha_functional_cross_attention_with_key_mask_input_and_causal(rng, tmp_path):
    q_in, v_in, k_in = dt.Input((4, 3)), dt.Input((6, 5)), dt.Input((6, 2))
    m_in = dt.Input((6,), dtype="int32")
    mha = L.MultiHeadAttention(2, 3, value_dim=2, name="cross")
    out, scores = mha(q_in, v_in, key=k_in, value_mask=m_in, use_causal_mask=True, return_attention_scores=True)
    assert out.shape == (None, 4, 3) and scores.shape == (None, 2, 4, 6)
    model = dt.Model([q_in, v_in, k_in, m_in], [out, scores])
    q, v, k = _x(rng, 3, 4, 3), _x(rng, 3, 6, 5), _x(rng, 3, 6, 2)
    vm = (rng.random((3, 6)) > 0.3).astype(np.int32)
    vm[:, 0] = 1
    _seed(mha, rng)
    got = model.predict([q, v, k, vm], verbose=0)
    want, want_p = mha_ref(mha, q, v, k, keep=vm.astype(bool)[:, None], causal=True)
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], want_p, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "c.dpt")
    loaded = dt.models.load_model(tmp_path / "c.dpt")
    again = loaded.predict([q, v, k, vm], verbose=0)
    np.testing.assert_allclose(again[0], got[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(again[1], got[1], rtol=1e-6, atol=1e-6)


def test_mha_config_round_trip(rng):
    layer = L.MultiHeadAttention(4, 8, value_dim=2, dropout=0.1, output_shape=(3,), use_bias=False, seed=5,
                                 kernel_regularizer="l2", name="m")
    cfg = layer.get_config()
    assert cfg["attention_axes"] is None and cfg["output_shape"] == [3] and cfg["seed"] == 5
    again = L.MultiHeadAttention.from_config(cfg)
    assert again.get_config() == cfg
    layer(_x(rng, 2, 3, 4), _x(rng, 2, 3, 4))
    assert layer.get_config()["attention_axes"] == [1]           # set by build, as Keras
    assert len(layer.losses) == 4                                 # the l2 of each kernel
    defaults = L.MultiHeadAttention(2, 3).get_config()
    assert {k: defaults[k] for k in ("value_dim", "dropout", "use_bias", "use_gate", "sliding_window")} == {
        "value_dim": 3, "dropout": 0.0, "use_bias": True, "use_gate": False, "sliding_window": None}


@pytest.mark.parametrize("make,call,exc,match", [
    (lambda: L.MultiHeadAttention(0, 3), None, ValueError, "num_heads"),
    (lambda: L.MultiHeadAttention(2, 1.5), None, ValueError, "key_dim"),
    (lambda: L.MultiHeadAttention(2, 3, value_dim=-1), None, ValueError, "value_dim"),
    (lambda: L.MultiHeadAttention(2, 3, dropout=1.0), None, ValueError, "dropout"),
    (lambda: L.MultiHeadAttention(2, 3, dropout=0.1, flash_attention=True), None, ValueError, "flash"),
    (lambda: L.MultiHeadAttention(2, 3, activity_regularizer="l2"), None, NotImplementedError, "activity_regularizer"),
    (lambda: L.MultiHeadAttention(2, 3, attention_axes="x"), None, ValueError, "attention_axes"),
    (lambda: L.MultiHeadAttention(2, 3, sliding_window=0), None, ValueError, "sliding_window"),
    (lambda: L.MultiHeadAttention(2, 3, attention_axes=(2,)),
     lambda m: m(np.zeros((2, 3, 4, 5)), np.zeros((2, 3, 4, 5))), NotImplementedError, "attention_axes|rank 4"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 4)), np.zeros((2, 4))), ValueError,
     "MultiHeadAttention layer.*query must have shape"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 3, 4, 5)), np.zeros((2, 3, 4, 5))),
     NotImplementedError, "rank 4"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), key=np.zeros((2, 6, 4))),
     ValueError, "value and key"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 3, 4))), TypeError, "query and value"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 3, 4)), np.zeros((2, 5, 4)),
                                                     value_mask=np.ones((2, 4))), ValueError, "value_mask"),
    (lambda: L.MultiHeadAttention(2, 3), lambda m: m(np.zeros((2, 3, 4)), np.zeros((2, 5, 4)),
                                                     attention_mask=np.ones((2, 5, 3))), ValueError, "attention_mask"),
    (lambda: L.MultiHeadAttention(2, 3, flash_attention=True),
     lambda m: m(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), return_attention_scores=True), ValueError, "flash"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_mha_errors_name_the_layer_and_argument(make, call, exc, match):
    with pytest.raises(exc, match=match):
        m = make()
        call(m)


def test_mha_rebuilt_shapes_are_checked(rng):
    layer = L.MultiHeadAttention(2, 3, name="m1")
    layer(_x(rng, 2, 3, 4), _x(rng, 2, 3, 4))
    with pytest.raises(ValueError, match="m1.*query has 5 features"):
        layer(_x(rng, 2, 3, 5), _x(rng, 2, 3, 4))
    with pytest.raises(ValueError, match="batch size"):
        layer(_x(rng, 2, 3, 4), _x(rng, 3, 3, 4))


def test_symbolic_and_data_mixed_in_the_first_argument_is_still_an_error():
    inp = dt.Input((3, 4))
    with pytest.raises(TypeError, match="mix"):
        L.MultiHeadAttention(2, 3)(np.zeros((2, 3, 4), np.float32), inp)


# --- Attention / AdditiveAttention ------------------------------------------------------------------
def attention_ref(q, v, k=None, mode="dot", scale=None, c=None, additive_scale=None, additive=False,
                  q_mask=None, v_mask=None, causal=False):
    q, v = np.asarray(q, np.float64), np.asarray(v, np.float64)
    k = v if k is None else np.asarray(k, np.float64)
    if additive:
        t = np.tanh(q[:, :, None] + k[:, None])
        s = (t * (1.0 if additive_scale is None else additive_scale)).sum(-1)
    elif mode == "dot":
        s = q @ np.swapaxes(k, -1, -2) * (1.0 if scale is None else scale)
    else:
        s = c * np.tanh((1.0 if scale is None else scale) * (q[:, :, None] + k[:, None])).sum(-1)
    keep = np.ones(s.shape, bool)
    if v_mask is not None:
        keep &= np.asarray(v_mask, bool)[:, None]
    if causal:
        keep &= np.tril(np.ones(s.shape[-2:], bool))
    if v_mask is not None or causal:
        s = np.where(keep, s, s - 1e9)
    w = _softmax(s)
    out = w @ v
    if q_mask is not None:
        out = out * np.asarray(q_mask, bool)[..., None]
    return out, w


@pytest.mark.parametrize("kwargs", [{}, {"use_scale": True}, {"score_mode": "concat"},
                                    {"score_mode": "concat", "use_scale": True}], ids=str)
def test_attention_matches_reference(rng, kwargs):
    layer = L.Attention(**kwargs)
    q, v, k = _x(rng, 2, 3, 4), _x(rng, 2, 5, 6), _x(rng, 2, 5, 4)
    layer([q, v, k])
    ws = [np.float32(rng.uniform(0.5, 1.5)) for _ in layer.get_weights()]
    layer.set_weights([np.asarray(w) for w in ws])
    scale = ws[0] if kwargs.get("use_scale") else None
    c = ws[-1] if kwargs.get("score_mode") == "concat" else None
    out, w = layer([q, v, k], return_attention_scores=True)
    want, want_w = attention_ref(q, v, k, mode=kwargs.get("score_mode", "dot"), scale=scale, c=c)
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(w), want_w, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape([(None, 3, 4), (None, 5, 6), (None, 5, 4)]) == (None, 3, 6)
    # masks and the causal mask
    qm, vm = rng.random((2, 3)) > 0.4, rng.random((2, 5)) > 0.4
    vm[:, 0] = True
    out = layer([q, v, k], mask=[qm, vm], use_causal_mask=True)
    want, _ = attention_ref(q, v, k, mode=kwargs.get("score_mode", "dot"), scale=scale, c=c, q_mask=qm, v_mask=vm,
                            causal=True)
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)


def test_attention_weights_and_two_inputs(rng):
    layer = L.Attention(use_scale=True, score_mode="concat", name="att")
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 5, 4)
    out = layer([q, v])
    assert [(w.name, w.shape) for w in layer.weights] == [("att/scale", ()), ("att/concat_score_weight", ())]
    np.testing.assert_allclose(_np(out), attention_ref(q, v, mode="concat", scale=1.0, c=1.0)[0], rtol=1e-5, atol=1e-5)
    assert L.Attention().get_config()["score_mode"] == "dot"
    assert not L.Attention()([q, v]) is None and L.Attention().weights == []


def test_additive_attention_matches_reference(rng):
    layer = L.AdditiveAttention(name="add")
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 5, 4)
    layer([q, v])
    assert [(w.name, w.shape) for w in layer.weights] == [("add/scale", (4,))]
    scale = layer.get_weights()[0]
    vm = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], bool)
    out, w = layer([q, v], mask=[None, vm], return_attention_scores=True)
    want, want_w = attention_ref(q, v, additive=True, additive_scale=scale, v_mask=vm)
    np.testing.assert_allclose(_np(out), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(w), want_w, rtol=1e-5, atol=1e-6)
    plain = L.AdditiveAttention(use_scale=False)
    np.testing.assert_allclose(_np(plain([q, v])), attention_ref(q, v, additive=True)[0], rtol=1e-5, atol=1e-5)
    assert plain.weights == [] and "score_mode" not in plain.get_config()
    assert L.AdditiveAttention.from_config(layer.get_config()).get_config() == layer.get_config()


def test_attention_dropout_in_training_only(rng):
    layer = L.Attention(dropout=0.5, seed=1)
    q = _x(rng, 2, 6, 4)
    np.testing.assert_allclose(_np(layer([q, q])), attention_ref(q, q)[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(_np(layer([q, q], training=True)), attention_ref(q, q)[0])


@pytest.mark.parametrize("cls,kwargs", [(L.Attention, {"use_scale": True}), (L.Attention, {"score_mode": "concat"}),
                                        (L.AdditiveAttention, {})], ids=str)
def test_attention_gradcheck_float64(rng, cls, kwargs):
    layer = cls(**kwargs)
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 4, 4)
    layer([q, v])
    names = [n for n in ("scale", "concat_score_weight") if getattr(layer, n) is not None]
    vm = np.array([[1, 1, 0, 1], [1, 0, 1, 1]], bool)

    def fn(q, v, *ws):
        for n, w in zip(names, ws):
            setattr(layer, n, w)
        return layer.call([q, v], mask=[None, vm], use_causal_mask=True)
    assert ag.gradcheck(fn, [q.astype(np.float64), v.astype(np.float64)] +
                        [getattr(layer, n).numpy().astype(np.float64) for n in names])


@pytest.mark.parametrize("cls", [L.Attention, L.AdditiveAttention])
def test_attention_in_a_model_trains_and_saves(rng, tmp_path, cls):
    q_in, v_in = dt.Input((3, 4)), dt.Input((5, 4))
    h = cls(use_scale=True, name="att")([q_in, v_in])
    model = dt.Model([q_in, v_in], L.Dense(1)(L.GlobalAveragePooling1D()(h)))
    q, v, y = _x(rng, 6, 3, 4), _x(rng, 6, 5, 4), _x(rng, 6, 1)
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.5), loss="mse")
    before = model.get_layer("att").get_weights()
    model.fit([q, v], y, epochs=1, batch_size=6, verbose=0)
    assert not np.allclose(before[0], model.get_layer("att").get_weights()[0])
    p = model.predict([q, v], verbose=0)
    model.save(tmp_path / "a.dpt")
    np.testing.assert_allclose(dt.models.load_model(tmp_path / "a.dpt").predict([q, v], verbose=0), p,
                               rtol=1e-6, atol=1e-6)


def test_attention_symbolic_mask_and_causal_in_a_saved_model(rng, tmp_path):
    q_in, v_in, m_in = dt.Input((3, 4)), dt.Input((5, 4)), dt.Input((5,))
    out = L.Attention(name="att")([q_in, v_in], mask=[None, m_in], use_causal_mask=True)
    model = dt.Model([q_in, v_in, m_in], out)
    q, v = _x(rng, 2, 3, 4), _x(rng, 2, 5, 4)
    vm = np.array([[1, 0, 1, 1, 0], [1, 1, 0, 1, 1]], np.float32)
    got = model.predict([q, v, vm], verbose=0)
    np.testing.assert_allclose(got, attention_ref(q, v, v_mask=vm, causal=True)[0], rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "s.dpt")
    np.testing.assert_allclose(dt.models.load_model(tmp_path / "s.dpt").predict([q, v, vm], verbose=0), got,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make,call,match", [
    (lambda: L.Attention(score_mode="add"), None, "score_mode"),
    (lambda: L.Attention(dropout=-0.1), None, "dropout"),
    (lambda: L.Attention(seed=-1), None, "seed"),
    (lambda: L.Attention(), lambda a: a(np.zeros((2, 3, 4))), "list of inputs"),
    (lambda: L.Attention(), lambda a: a([np.zeros((2, 3, 4))]), "length 2 or 3"),
    (lambda: L.Attention(), lambda a: a([np.zeros((2, 3, 4))] * 4), "length 2 or 3"),
    (lambda: L.Attention(), lambda a: a([np.zeros((2, 3, 4)), np.zeros((2, 5, 4))], mask=np.ones((2, 5))),
     "mask must be a list"),
    (lambda: L.Attention(), lambda a: a([np.zeros((2, 3, 4)), np.zeros((2, 5, 3))]), "same feature size"),
    (lambda: L.Attention(), lambda a: a([np.zeros((2, 3, 4)), np.zeros((2, 5, 4)), np.zeros((2, 6, 4))]),
     "same number of steps"),
    (lambda: L.AdditiveAttention(), lambda a: a([np.zeros((2, 4)), np.zeros((2, 4))]), "must have shape"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_attention_errors_name_the_layer(make, call, match):
    with pytest.raises(ValueError, match=match):
        a = make()
        call(a)


def test_exports():
    for name in ("MultiHeadAttention", "Attention", "AdditiveAttention"):
        assert getattr(dt.layers, name) is getattr(L, name)


# --- the shared graph code: KerasTensors beyond a call's first argument become node inputs ----------
@dt.layers.register
class _Blend(dt.layers.Layer):
    """call(x, other, weights=[a, b], scale=1.0) = scale * (x * a + other * b) (a test layer)."""

    def call(self, x, other, weights=None, scale=1.0):
        from engine import ops
        a, b = weights
        return ops.mul(ops.add(ops.mul(x, a), ops.mul(other, b)), np.float32(scale))


def test_extra_symbolic_arguments_become_node_inputs_and_survive_save_load(rng, tmp_path):
    x_in, y_in, a_in = dt.Input((3,)), dt.Input((3,)), dt.Input((3,))
    out = _Blend(name="blend")(x_in, y_in, weights=[a_in, 2.0], scale=0.5)
    assert out.shape == (None, 3)
    model = dt.Model([x_in, y_in, a_in], out)
    assert [layer.name for layer in model.layers][-1] == "blend"
    x, y, a = _x(rng, 4, 3), _x(rng, 4, 3), _x(rng, 4, 3)
    want = 0.5 * (x * a + y * 2.0)
    np.testing.assert_allclose(model.predict([x, y, a], verbose=0), want, rtol=1e-6)
    node = model.get_config()["nodes"][-1]
    assert node["n_main"] == 1 and node["args"] == [{"__node_input__": 1}]
    assert node["kwargs"] == {"weights": [{"__node_input__": 2}, 2.0], "scale": 0.5}
    model.save(tmp_path / "b.dpt")
    np.testing.assert_allclose(dt.models.load_model(tmp_path / "b.dpt").predict([x, y, a], verbose=0), want,
                               rtol=1e-6)


def test_a_call_argument_a_config_cannot_hold_is_an_error():
    x_in, y_in = dt.Input((3,)), dt.Input((3,))
    model = dt.Model([x_in, y_in], _Blend(name="b2")(x_in, y_in, weights=[np.ones(3, np.float32), 1.0]))
    with pytest.raises(NotImplementedError, match="b2.*ndarray"):
        model.get_config()
