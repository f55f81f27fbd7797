"""Parity cases: subclassed models and custom layers, attribute tracking, call conventions."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, shape_of, to_numpy


def _subclassed_mlp(K):
    class MLP(K.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = K.layers.Dense(6, activation="relu")
            self.head = K.layers.Dense(3, activation="softmax")

        def call(self, inputs):
            return self.head(self.hidden(inputs))
    return MLP()


@case()
def case_subclassed_model_tracks_layers_and_weights(K):
    m = _subclassed_mlp(K)
    m(data(2, 4))
    return {"weights": len(m.weights), "trainable": len(m.trainable_weights), "params": m.count_params(),
            "layers": len(m.layers)}


@case()
def case_subclassed_model_fit_weights(K):
    m = _subclassed_mlp(K)
    m(data(2, 4))
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    x, y = data(8, 4), data(8, low=0, high=3)
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights(), "predict": m.predict(x, verbose=0)}


@case()
def case_subclassed_model_with_training_branch(K):
    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.dense = K.layers.Dense(3)
            self.dropout = K.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            x = self.dense(inputs)
            if training:
                x = self.dropout(x, training=training)
            return x
    m = Net()
    m(data(2, 4))
    seed_weights(m)
    return m.predict(data(5, 4), verbose=0)


@case()
def case_layers_in_a_list_attribute_are_tracked(K):
    class Stack(K.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [K.layers.Dense(4, activation="tanh") for _ in range(3)]
            self.out = K.layers.Dense(1)

        def call(self, x):
            for block in self.blocks:
                x = block(x)
            return self.out(x)
    m = Stack()
    m(data(2, 5))
    seed_weights(m)
    return {"weights": [tuple(w.shape) for w in m.get_weights()], "p": m.predict(data(3, 5), verbose=0)}


@case()
def case_custom_layer_add_weight(K):
    class Scale(K.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w
    inp = K.Input((3,))
    out = K.layers.Dense(2)(Scale()(inp))
    m = seed_weights(K.Model(inp, out))
    return {"params": m.count_params(), "p": m.predict(data(4, 3), verbose=0)}


@case()
def case_custom_layer_output_shape_inferred_from_call(K):
    class Halve(K.layers.Layer):
        def call(self, x):
            return x[:, : x.shape[1] // 2]
    inp = K.Input((6,))
    h = Halve()(inp)
    out = K.layers.Dense(2)(h)
    m = K.Model(inp, out)
    return {"halve": shape_of(h), "weights": [tuple(w.shape) for w in m.get_weights()]}


@case()
def case_custom_layer_with_sublayers_tracked(K):
    class Block(K.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.a = K.layers.Dense(units, activation="relu")
            self.b = K.layers.Dense(units)

        def call(self, x):
            return self.b(self.a(x))
    inp = K.Input((4,))
    m = K.Model(inp, Block(3)(inp))
    seed_weights(m)
    return {"n_weights": len(m.weights), "params": m.count_params(), "p": m.predict(data(2, 4), verbose=0)}


@case()
def case_layer_called_with_an_extra_keyword_argument(K):
    class Mix(K.layers.Layer):
        def call(self, x, factor=1.0):
            return x * factor
    layer = Mix()
    return to_numpy(layer(data(2, 3), factor=2.0))


@case()
def case_second_positional_tensor_goes_to_call_not_training(K):
    class Combine(K.layers.Layer):
        def call(self, a, b):
            return a - b
    return to_numpy(Combine()(data(2, 3), data(2, 3, seed=5)))


@case()
def case_eager_call_of_a_custom_layer_without_training_argument(K):
    class Double(K.layers.Layer):
        def call(self, inputs):
            return inputs + inputs
    return to_numpy(Double()(data(2, 3), training=True))


@case()
def case_subclassed_model_evaluate_list(K):
    m = _subclassed_mlp(K)
    m(data(2, 4))
    seed_weights(m)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = m.evaluate(data(8, 4), data(8, low=0, high=3), verbose=0)
    return [loss, acc]


@case()
def case_subclassed_model_predict_before_build_builds(K):
    m = _subclassed_mlp(K)
    p = m.predict(data(3, 4), verbose=0)
    return {"shape": p.shape, "weights": len(m.weights)}


@case()
def case_subclassed_model_count_params_before_build_raises(K):
    m = _subclassed_mlp(K)
    return observe_error(lambda: m.count_params())


@case()
def case_functional_model_using_a_subclassed_layer_block_trains(K):
    class Residual(K.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = K.layers.Dense(4)

        def call(self, x):
            return x + self.inner(x)
    inp = K.Input((4,))
    out = K.layers.Dense(1)(Residual()(inp))
    m = seed_weights(K.Model(inp, out))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = data(6, 4), data(6, 1, seed=2)
    m.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_keras_tensor_arithmetic_in_a_functional_model(K):
    a, b = K.Input((3,)), K.Input((3,))
    mixed = (a * b + 1.0) - a / 2.0
    out = K.layers.Dense(2)(-mixed)
    m = seed_weights(K.Model([a, b], out))
    return {"shape": shape_of(mixed), "p": m.predict([data(4, 3), data(4, 3, seed=2)], verbose=0)}


@case()
def case_keras_tensor_slicing_in_a_functional_model(K):
    inp = K.Input((5, 3))
    last = inp[:, -1, :2]
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(last)))
    return {"shape": shape_of(last), "p": m.predict(data(3, 5, 3), verbose=0)}


@case()
def case_custom_layer_using_tensor_comparison_and_where(K):
    from_ops = K.ops

    class PosPart(K.layers.Layer):
        def call(self, x):
            return from_ops.where(x > 0, x, from_ops.zeros_like(x))
    m = seed_weights(K.Sequential([K.Input((4,)), K.layers.Dense(3), PosPart(), K.layers.Dense(1)]))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = data(6, 4), data(6, 1, seed=3)
    m.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()
