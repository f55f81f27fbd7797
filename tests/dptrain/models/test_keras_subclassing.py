"""Subclassed models and custom layers: tracked attributes, eager call(), Keras' call conventions."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


class Linear(dt.Model):
    def __init__(self):
        super().__init__()
        self.dense = L.Dense(1)

    def call(self, x):
        return self.dense(x)


def test_one_sgd_step_matches_the_closed_form_gradient(rng):
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 1)).astype(np.float32)
    m = Linear()
    m(x[:1])
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    b0 = np.array([0.5], np.float32)
    m.set_weights([w0, b0])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    x64, r = x.astype(np.float64), (x @ w0 + b0 - y).astype(np.float64)
    np.testing.assert_allclose(m.get_weights()[0], w0 - 0.1 * 2 / 6 * x64.T @ r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.get_weights()[1], b0 - 0.1 * 2 / 6 * r.sum(0), rtol=1e-5, atol=1e-6)


def test_layers_in_attributes_lists_and_dicts_are_tracked():
    class Net(dt.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [L.Dense(4), L.Dense(4)]
            self.heads = {"a": L.Dense(2)}
            self._private = L.Dense(3)
            self.not_a_layer = 3

        def call(self, x):
            for b in self.blocks:
                x = b(x)
            return self.heads["a"](x) + 0 * self._private(x)[:, :1]
    m = Net()
    m(np.zeros((2, 5), np.float32))
    assert len(m.layers) == 4 and len(m.weights) == 8 and len(m.trainable_weights) == 8
    assert m.count_params() == (5 * 4 + 4) + (4 * 4 + 4) + (4 * 2 + 2) + (4 * 3 + 3)
    m.blocks = []                  # reassigning an attribute drops what it held
    assert len(m.layers) == 2


def test_training_reaches_call_only_where_declared(rng):
    seen = []

    class Probe(dt.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2, activation="softmax")

        def call(self, x, training=None):
            seen.append(training)
            return self.dense(x)
    m = Probe()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 1, 0, 1])
    m.predict(x, verbose=0)       # builds the model
    seen.clear()
    m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert seen == [True]
    seen.clear()
    m.predict(x, verbose=0)
    assert seen == [False]

    class NoTraining(L.Layer):
        def call(self, x):
            return x * 2
    np.testing.assert_array_equal(NoTraining()(np.ones((1, 2), np.float32), training=True).numpy(), [[2, 2]])


def test_a_second_positional_tensor_goes_to_call():
    class Sub(L.Layer):
        def call(self, a, b):
            return a - b
    out = Sub()(np.full((1, 2), 3.0, np.float32), np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(out.numpy(), [[2, 2]])


def test_custom_layer_output_shape_comes_from_call():
    class LastStep(L.Layer):
        def call(self, x):
            return x[:, -1, :2]
    inp = dt.Input((None, 5))
    out = LastStep()(inp)
    assert out.shape == (None, 2)

    class Repeat(L.Layer):
        def call(self, x):
            return dt.ag.concat([x, x], axis=1)
    assert Repeat()(dt.Input((None, 3))).shape == (None, None, 3)
    assert Repeat()(dt.Input((4, 3))).shape == (None, 8, 3)


def test_add_weight_keras_signature():
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")
            self.c = self.add_weight(shape=(1,), initializer="zeros", trainable=False)

        def call(self, x):
            return x * self.w + self.c
    layer = Scale()
    out = layer(np.full((2, 3), 2.0, np.float32))
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 2.0))
    assert [w.name for w in layer.weights] == [f"{layer.name}/scale", f"{layer.name}/variable"]
    assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1


def test_subclassed_model_saves_weights_and_refuses_config(tmp_path, rng):
    a, b = Linear(), Linear()
    x = rng.standard_normal((3, 3)).astype(np.float32)
    a(x)
    b(x)
    a.save_weights(tmp_path / "w.dpt")
    b.load_weights(tmp_path / "w.dpt")
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    with pytest.raises(NotImplementedError, match="subclassed model.*save_weights"):
        a.save(tmp_path / "m.dpt")


def test_unbuilt_subclassed_model_explains_itself():
    with pytest.raises(ValueError, match="not built yet"):
        Linear().count_params()
    m = Linear()
    m.build((None, 4))
    assert [w.shape for w in m.get_weights()] == [(4, 1), (1,)]


def test_input_keras_arguments():
    assert dt.Input(batch_shape=(None, 4)).shape == (None, 4)
    assert dt.Input((3,), batch_size=8).shape == (None, 3)
    with pytest.raises(NotImplementedError, match="sparse"):
        dt.Input((3,), sparse=True)
    with pytest.raises(ValueError, match="not both"):
        dt.Input((3,), batch_shape=(None, 3))


def test_keras_applications_is_out_of_scope_with_a_clear_error():
    with pytest.raises(NotImplementedError, match="out of dptrain's scope"):
        dt.applications.ResNet50(weights="imagenet")


def test_keras_tensor_operators_and_slices_build_graphs_that_save(tmp_path, rng):
    a, b = dt.Input((4, 3)), dt.Input((3,))
    h = a[:, -1, :] * b + 2.0
    m = dt.Model([a, b], L.Dense(1)(-h))
    xa, xb = rng.standard_normal((5, 4, 3)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
    k, c = m.get_weights()
    want = -(xa[:, -1, :] * xb + 2.0) @ k + c
    np.testing.assert_allclose(m.predict([xa, xb], verbose=0), want, rtol=1e-5, atol=1e-6)
    m.save(tmp_path / "m.dpt")
    np.testing.assert_allclose(dt.load_model(tmp_path / "m.dpt").predict([xa, xb], verbose=0), want, rtol=1e-5,
                               atol=1e-6)


def test_tensor_comparisons_are_masks_without_gradient():
    x = dt.ag.param(np.array([-1.0, 0.0, 2.0], np.float32))
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.numpy(), [False, False, True])
    np.testing.assert_array_equal((x <= 0).numpy(), [True, True, False])
    assert x in [x] and x != dt.ag.tensor(np.zeros(3))     # == stays identity
