"""Parity cases: merging layers (Add ... Dot and the functional forms) and pooling layers."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, shape_of, to_numpy

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def _two_branch(K, merge_layer, n_in=4):
    a, b = K.Input((n_in,)), K.Input((n_in,))
    h = merge_layer([K.layers.Dense(3, activation="tanh")(a), K.layers.Dense(3)(b)])
    return seed_weights(K.Model([a, b], K.layers.Dense(2)(h)))


def _xs(n=8, n_in=4):
    return [data(n, n_in), data(n, n_in, seed=1)]


def _sgd_fit(K, model, xs, y, batch_size=4):
    model.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(xs, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def _elementwise_cases(name):
    """Two cases per elementwise merge layer: predictions on the same weights, one SGD epoch."""
    def predict(K):
        m = _two_branch(K, getattr(K.layers, name)())
        return {"shape": tuple(m.output_shape), "params": m.count_params(), "p": m.predict(_xs(), verbose=0)}

    def train(K):
        m = _two_branch(K, getattr(K.layers, name)())
        return _sgd_fit(K, m, _xs(), data(8, 2, seed=2))

    for suffix, fn in (("predict", predict), ("sgd_weights", train)):
        fn.__name__ = f"case_{name.lower()}_{suffix}"
        case()(fn)


for _name in ELEMENTWISE:
    _elementwise_cases(_name)


@case()
def case_merge_broadcasting(K):
    pairs = [((2, 3), (3,)), ((4, 1), (4, 3)), ((4, 3), (1, 3)), ((2, 4, 3), (4, 1))]
    out = {}
    for name in ("Add", "Multiply", "Maximum", "Minimum", "Average", "Subtract"):
        for i, (s1, s2) in enumerate(pairs):
            sym = getattr(K.layers, name)()([K.Input(s1), K.Input(s2)])
            eager = getattr(K.layers, name)()([data(2, *s1, seed=i), data(2, *s2, seed=i + 10)])
            out[f"{name} {s1} {s2}"] = [shape_of(sym), to_numpy(eager)]
    return out


@case()
def case_merge_three_inputs_and_ties(K):
    xs = [np.round(data(3, 5, seed=s)) for s in range(3)]      # rounded: many exact ties
    return {name: to_numpy(getattr(K.layers, name)()(xs)) for name in ("Add", "Multiply", "Average", "Maximum",
                                                                       "Minimum")}


@case()
def case_maximum_minimum_tie_gradients(K):
    # Keras' torch.maximum/minimum give half the gradient to each tied input
    inp = K.Input((3,))
    a = K.layers.Dense(4, name="a")(inp)
    b = K.layers.Dense(4, name="b")(inp)
    m = K.Model(inp, K.layers.Dense(1)(K.layers.Concatenate()([K.layers.Maximum()([a, b]),
                                                               K.layers.Minimum()([a, b])])))
    seed_weights(m)
    wa = m.get_layer("a").get_weights()
    m.get_layer("b").set_weights(wa)                               # a == b: every element ties
    return _sgd_fit(K, m, data(6, 3), data(6, 1, seed=3), batch_size=6)


@case()
def case_merge_functional_forms(K):
    a, b = K.Input((2, 3)), K.Input((2, 3))
    outs = [K.layers.add([a, b]), K.layers.subtract([a, b]), K.layers.multiply([a, b]), K.layers.average([a, b]),
            K.layers.maximum([a, b]), K.layers.minimum([a, b]), K.layers.concatenate([a, b], axis=1),
            K.layers.dot([a, b], axes=2), K.layers.dot([a, b], axes=(1, 1), normalize=True)]
    m = K.Model([a, b], outs)
    return {"shapes": [shape_of(o) for o in outs], "layers": [type(layer).__name__ for layer in m.layers[2:]],
            "p": m.predict([data(4, 2, 3), data(4, 2, 3, seed=1)], verbose=0)}


@case()
def case_merge_errors(K):
    L = K.layers
    return {
        "incompatible": observe_error(lambda: L.Add()([K.Input((3,)), K.Input((4,))])),
        "rank_mismatch": observe_error(lambda: L.Multiply()([K.Input((2, 3)), K.Input((2,))])),
        "not_a_list": observe_error(lambda: L.Add()(K.Input((3,)))),
        "subtract_three": observe_error(lambda: L.Subtract()([K.Input((3,))] * 3)),
        "batch_sizes": observe_error(lambda: L.Maximum()([data(4, 3), data(1, 3)])),
        "dot_sizes": observe_error(lambda: L.Dot(axes=1)([K.Input((4,)), K.Input((5,))])),
        "dot_axes_one": observe_error(lambda: L.Dot(axes=[1])),
        "concat_shapes": observe_error(lambda: L.Concatenate()([K.Input((2, 3)), K.Input((4, 5))])),
    }


DOTS = [(1, (4,), (4,)), ((1, 2), (3, 5), (10, 3)), (-1, (4, 5), (6, 5)), ((2, 2), (2, 3, 4), (5, 3, 6)),
        ((3, 1), (2, 3, 4), (4, 5)), ((1, 1), (4,), (4, 2))]


@case()
def case_dot_shapes_and_values(K):
    out = []
    for i, (axes, s1, s2) in enumerate(DOTS):
        for normalize in (False, True):
            sym = K.layers.Dot(axes=axes, normalize=normalize)([K.Input(s1), K.Input(s2)])
            eager = K.layers.Dot(axes=axes, normalize=normalize)([data(3, *s1, seed=i), data(3, *s2, seed=i + 7)])
            out.append([shape_of(sym), to_numpy(eager)])
    return out


@case()
def case_dot_cosine_model_predict_and_sgd(K):
    a, b = K.Input((5,)), K.Input((5,))
    sim = K.layers.Dot(axes=1, normalize=True)([K.layers.Dense(4)(a), K.layers.Dense(4)(b)])
    m = seed_weights(K.Model([a, b], K.layers.Dense(1, activation="sigmoid")(sim)))
    xs = _xs(n_in=5)
    p = m.predict(xs, verbose=0)
    return {"shape": tuple(m.output_shape), "p": p, "weights": _sgd_fit(K, m, xs, data(8, 1, seed=5))}


@case()
def case_dot_attention_scores_sgd(K):
    q, v = K.Input((3, 4)), K.Input((5, 4))
    scores = K.layers.Dot(axes=(2, 2))([K.layers.Dense(4)(q), K.layers.Dense(4)(v)])    # (batch, 3, 5)
    m = seed_weights(K.Model([q, v], K.layers.Dense(1)(K.layers.Flatten()(scores))))
    xs = [data(6, 3, 4), data(6, 5, 4, seed=1)]
    return {"shape": tuple(m.output_shape), "weights": _sgd_fit(K, m, xs, data(6, 1, seed=2), batch_size=3)}


@case()
def case_concatenate_axis1_sgd_weights(K):
    a, b = K.Input((2, 3)), K.Input((4, 3))
    h = K.layers.Concatenate(axis=1)([K.layers.Dense(3)(a), K.layers.Dense(3)(b)])
    m = seed_weights(K.Model([a, b], K.layers.Dense(1)(K.layers.Flatten()(h))))
    return _sgd_fit(K, m, [data(6, 2, 3), data(6, 4, 3, seed=1)], data(6, 1, seed=2), batch_size=3)


# --- pooling ---------------------------------------------------------------------------------
POOL1D = [dict(pool_size=2), dict(pool_size=3, strides=2), dict(pool_size=3, strides=1, padding="same"),
          dict(pool_size=4, strides=1, padding="same"), dict(pool_size=2, strides=3, padding="same"),
          dict(pool_size=3, strides=2, padding="same", data_format="channels_first")]
POOL2D = [dict(pool_size=(2, 2)), dict(pool_size=3, strides=1, padding="same"),
          dict(pool_size=(3, 2), strides=1, padding="same"), dict(pool_size=(3, 4), strides=(2, 1), padding="same"),
          dict(pool_size=2, padding="same", data_format="channels_first")]


@case()
def case_pooling1d_shapes_and_values(K):
    out = {}
    for name in ("MaxPooling1D", "AveragePooling1D"):
        for i, cfg in enumerate(POOL1D):
            layer = getattr(K.layers, name)(**cfg)
            out[f"{name} {cfg}"] = [shape_of(layer(K.Input((7, 3)))), to_numpy(layer(data(2, 7, 3, seed=i)))]
    return out


@case()
def case_average_pooling2d_shapes_and_values(K):
    out = {}
    for i, cfg in enumerate(POOL2D):
        layer = K.layers.AveragePooling2D(**cfg)
        out[str(cfg)] = [shape_of(layer(K.Input((5, 6, 3)))), to_numpy(layer(data(2, 5, 6, 3, seed=i)))]
    return out


@case()
def case_global_pooling_shapes_and_values(K):
    out = {}
    for name, shape in (("GlobalAveragePooling1D", (5, 3)), ("GlobalMaxPooling1D", (5, 3)),
                        ("GlobalMaxPooling2D", (4, 5, 3))):
        for keepdims in (False, True):
            for fmt in ("channels_last", "channels_first"):
                layer = getattr(K.layers, name)(keepdims=keepdims, data_format=fmt)
                out[f"{name} {keepdims} {fmt}"] = [shape_of(layer(K.Input(shape))),
                                                   to_numpy(layer(data(2, *shape)))]
    return out


@case()
def case_pooling1d_model_sgd_weights(K):
    m = K.Sequential([K.Input((9, 2)), K.layers.Conv1D(4, 3, padding="same"),
                      K.layers.MaxPooling1D(3, strides=2, padding="same"),
                      K.layers.AveragePooling1D(2, strides=1, padding="same"),
                      K.layers.GlobalAveragePooling1D(), K.layers.Dense(1)])
    seed_weights(m)
    x = data(8, 9, 2)
    p = m.predict(x, verbose=0)
    return {"shape": tuple(m.output_shape), "params": m.count_params(), "p": p,
            "weights": _sgd_fit(K, m, x, data(8, 1, seed=4))}


@case()
def case_pooling2d_model_sgd_weights(K):
    m = K.Sequential([K.Input((6, 5, 2)), K.layers.Conv2D(3, 2, padding="same"),
                      K.layers.AveragePooling2D((3, 2), strides=1, padding="same"),
                      K.layers.AveragePooling2D(2), K.layers.GlobalMaxPooling2D(), K.layers.Dense(1)])
    seed_weights(m)
    x = data(6, 6, 5, 2)
    return {"shape": tuple(m.output_shape), "p": m.predict(x, verbose=0),
            "weights": _sgd_fit(K, m, x, data(6, 1, seed=4), batch_size=3)}


@case()
def case_global_max_pooling1d_keepdims_sgd_weights(K):
    m = K.Sequential([K.Input((6, 3)), K.layers.Dense(4), K.layers.GlobalMaxPooling1D(keepdims=True),
                      K.layers.Flatten(), K.layers.Dense(1)])
    seed_weights(m)
    return _sgd_fit(K, m, data(8, 6, 3), data(8, 1, seed=6))


@case()
def case_pooling_aliases_and_configs(K):
    L = K.layers
    layers = [L.MaxPool1D(), L.AvgPool1D(3, strides=1, padding="same"), L.AvgPool2D((2, 3)), L.GlobalAvgPool1D(),
              L.GlobalMaxPool1D(keepdims=True), L.GlobalMaxPool2D(), L.MaxPool2D(), L.GlobalAvgPool2D()]
    keys = ("pool_size", "strides", "padding", "data_format", "keepdims")
    return [[type(layer).__name__, {k: v for k, v in layer.get_config().items() if k in keys}]
            for layer in layers[:6]] + [type(layer).__name__ for layer in layers[6:]]


@case()
def case_pooling_errors(K):
    L = K.layers
    return {
        "does_not_fit": observe_error(lambda: L.AveragePooling2D(7)(K.Input((5, 5, 1)))),
        "wrong_rank": observe_error(lambda: L.MaxPooling1D()(K.Input((5, 4, 3)))),
        "bad_padding": observe_error(lambda: L.MaxPooling1D(padding="causal")(K.Input((5, 4)))),
        "bad_pool_size": observe_error(lambda: L.MaxPooling1D(pool_size=(2, 2))),
        "bad_data_format": observe_error(lambda: L.GlobalMaxPooling1D(data_format="nhwc")),
        "no_pool_size": observe_error(lambda: L.AveragePooling1D()),
        "global_wrong_rank": observe_error(lambda: L.GlobalMaxPooling2D()(K.Input((5, 3)))),
    }
