"""Layer mechanics a Keras user relies on: a layer built by hand (`layer.build(shape)`) is not built
again when it is then called (one set of weights, and set_weights reaches the weights the call
uses); sublayers called without `training` inherit it from the call they run in."""
import numpy as np

import dptrain as dt


def test_dense_built_by_hand_keeps_one_set_of_weights():
    d = dt.layers.Dense(2)
    d.build((None, 3))
    assert d.built
    d.set_weights([np.full((3, 2), 0.5, np.float32), np.array([1.0, -1.0], np.float32)])
    y = np.asarray(d(np.ones((1, 3), np.float32)))
    assert len(d.weights) == 2
    np.testing.assert_allclose(y, [[2.5, 0.5]])


class Scale(dt.layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return dt.ops.multiply(x, self.w)


def test_custom_layer_built_by_hand_is_marked_built_and_not_rebuilt():
    s = Scale()
    s.build((None, 4))
    assert s.built and s.build_input_shape == (None, 4)
    s.set_weights([np.arange(4, dtype=np.float32)])
    np.testing.assert_allclose(np.asarray(s(np.ones((2, 4), np.float32))), [[0, 1, 2, 3]] * 2)
    assert len(s.weights) == 1


def test_a_build_that_fails_leaves_the_layer_unbuilt():
    class Broken(dt.layers.Layer):
        def build(self, input_shape):
            raise ValueError("no")

    b = Broken()
    try:
        b.build((None, 2))
    except ValueError:
        pass
    assert not b.built


class WithDropout(dt.Model):
    def __init__(self):
        super().__init__()
        self.dense = dt.layers.Dense(64, kernel_initializer="ones")
        self.drop = dt.layers.Dropout(0.5)

    def call(self, x, training=None):
        return self.drop(self.dense(x))     # no training= passed: inherited from the model's call


def test_sublayers_called_without_training_inherit_it_from_the_outer_call():
    m = WithDropout()
    x = np.ones((4, 3), np.float32)
    inference = np.asarray(m(x, training=False))
    trained = np.asarray(m(x, training=True))
    np.testing.assert_allclose(inference, 3.0)
    assert (trained == 0).mean() > 0.3 and np.allclose(trained[trained != 0], 6.0)
    np.testing.assert_allclose(np.asarray(m(x)), 3.0)        # no flag anywhere: inference
    np.testing.assert_allclose(m.predict(x, verbose=0), 3.0)
