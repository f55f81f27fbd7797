"""The functional graph: Sequential vs functional, multiple inputs/outputs, shared layers,
nested models, graph errors, summary."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


def _mlp_pair():
    seq = dt.Sequential([L.Dense(16, activation="relu", input_shape=(6,)), L.Dropout(0.2),
                         L.Dense(3, activation="softmax")])
    inp = dt.Input((6,))
    out = L.Dense(3, activation="softmax")(L.Dropout(0.2)(L.Dense(16, activation="relu")(inp)))
    fun = dt.Model(inp, out)
    fun.set_weights(seq.get_weights())
    return seq, fun


def test_sequential_equals_the_equivalent_functional_model(rng):
    seq, fun = _mlp_pair()
    x = rng.standard_normal((50, 6)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    np.testing.assert_array_equal(seq.predict(x), fun.predict(x))
    for m in (seq, fun):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    dt.ag.manual_seed(3)
    h1 = seq.fit(x, y, epochs=3, batch_size=8, verbose=0)
    dt.ag.manual_seed(3)
    h2 = fun.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_add_and_deferred_build(rng):
    model = dt.Sequential()
    model.add(L.Dense(4, activation="tanh"))
    model.add(L.Dense(2))
    assert model.weights == [] and model._graph is None
    model.compile(optimizer="sgd", loss="mse")
    x = rng.standard_normal((10, 5)).astype(np.float32)
    model.fit(x, np.zeros((10, 2)), verbose=0)        # built from the data
    assert model.input_shape == (None, 5) and model.output_shape == (None, 2)
    assert [w.shape for w in model.get_weights()] == [(5, 4), (4,), (4, 2), (2,)]
    m2 = dt.Sequential([L.Dense(3)])
    m2.build((None, 7))
    assert m2.count_params() == 24
    m3 = dt.Sequential()
    m3.add(dt.Input((4,)))
    m3.add(L.Dense(2))
    assert m3.output_shape == (None, 2)


def test_model_used_before_its_input_shape_is_known():
    model = dt.Sequential([L.Dense(3)])
    with pytest.raises(ValueError, match="no input shape yet"):
        model.inputs


def test_multi_input_multi_output_graph(rng):
    a, b = dt.Input((4,), name="a"), dt.Input((3,), name="b")
    h = L.Concatenate()([L.Dense(5, name="da")(a), L.Dense(5, name="db")(b)])
    o1 = L.Dense(2, name="o1")(h)
    o2 = L.Dense(1, name="o2")(L.Add()([L.Dense(5)(h), L.Dense(5)(a)]))
    m = dt.Model([a, b], [o1, o2])
    assert m.input_names == ["a", "b"] and m.output_names == ["o1", "o2"]
    xa, xb = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    p1, p2 = m.predict([xa, xb])
    assert p1.shape == (6, 2) and p2.shape == (6, 1)
    q1, q2 = m.predict({"b": xb, "a": xa})
    np.testing.assert_array_equal(p1, q1)
    t1, t2 = m([xa.astype(np.float32), xb.astype(np.float32)])     # eager call
    np.testing.assert_allclose(t1.numpy(), p1, rtol=1e-6)
    # layers are listed in topological order, inputs first
    names = [layer.name for layer in m.layers]
    assert names[:2] == ["a", "b"] and names.index("da") < names.index("o1")


def test_shared_layer_has_one_set_of_weights_and_gets_both_gradients(rng):
    shared = L.Dense(3, use_bias=False, name="shared")
    x1, x2 = dt.Input((2,)), dt.Input((2,))
    out = L.Add()([shared(x1), shared(x2)])
    m = dt.Model([x1, x2], out)
    assert len(m.weights) == 1 and m.count_params() == 6
    a = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal((4, 2)).astype(np.float32)
    w = shared.get_weights()[0]
    np.testing.assert_allclose(m.predict([a, b]), (a + b) @ w, rtol=1e-5, atol=1e-6)
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    y = np.zeros((4, 3), np.float32)
    m.train_on_batch([a, b], y)
    # d/dW mean((a W + b W)^2) = 2 (a+b)^T (a+b) W / (4*3)
    s = a + b
    expected = w - 0.1 * 2 * s.T @ (s @ w) / 12
    np.testing.assert_allclose(shared.get_weights()[0], expected, rtol=1e-4, atol=1e-6)


def test_nested_model_as_a_layer(rng):
    inner = dt.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)], name="inner")
    x = dt.Input((3,))
    outer = dt.Model(x, L.Dense(1)(inner(x)))
    assert outer.count_params() == inner.count_params() + 3
    data = rng.standard_normal((5, 3)).astype(np.float32)
    h = inner.predict(data)
    k, b = outer.layers[-1].get_weights()
    np.testing.assert_allclose(outer.predict(data), h @ k + b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Sequential layer 'inner'.*expects shape \(None, 3\), got \(None, 5\)"):
        inner(dt.Input((5,)))


def test_graph_errors():
    a, b = dt.Input((3,), name="ga"), dt.Input((3,), name="gb")
    out = L.Add()([a, b])
    with pytest.raises(ValueError, match="graph disconnected.*'gb'"):
        dt.Model(a, out)
    with pytest.raises(TypeError, match="symbolic tensors"):
        dt.Model(a, np.zeros(3))
    with pytest.raises(ValueError, match="must come from dt.Input"):
        dt.Model(L.Dense(2)(a), out)
    x = dt.Input((3,))
    y = L.Dense(2, name="dup")(L.Dense(3, name="dup")(x))
    with pytest.raises(ValueError, match="both named 'dup'"):
        dt.Model(x, y)
    with pytest.raises(ValueError, match="inputs= and outputs="):
        dt.Model(inputs=x)


def test_layer_input_output_properties():
    x = dt.Input((3,))
    d = L.Dense(2)
    y = d(x)
    assert d.input[0] is x and d.output is y
    d(dt.Input((3,)))
    with pytest.raises(AttributeError, match="called 2 times"):
        d.output


def test_summary_lists_layers_shapes_and_counts():
    model = dt.Sequential([L.Dense(128, activation="relu", input_shape=(784,)), L.Dropout(0.3),
                           L.BatchNormalization(), L.Dense(10, activation="softmax")], name="mlp")
    lines = []
    totals = model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "mlp"' in text
    assert "(Dense)" in text and "(None, 128)" in text and "100,480" in text and "1,290" in text
    assert "Total params: 102,282" in text
    assert "Trainable params: 102,026" in text and "Non-trainable params: 256" in text
    assert totals == {"total": 102282, "trainable": 102026, "non_trainable": 256}
    a, b = dt.Input((2,), name="left"), dt.Input((2,), name="right")
    f = dt.Model([a, b], L.Add(name="plus")([a, b]))
    lines = []
    f.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "left[0][0]" in text and "right[0][0]" in text and "(InputLayer)" in text


def test_summary_prints(capsys):
    dt.Sequential([L.Dense(2, input_shape=(3,))]).summary()
    assert "Total params: 8" in capsys.readouterr().out
