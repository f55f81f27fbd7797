"""Parity cases: activation names, the activation layers (Identity, ReLU, LeakyReLU, PReLU, ELU,
Softmax) and the reshaping layers (Reshape, Permute, RepeatVector, Cropping, ZeroPadding,
UpSampling): shapes, parameters, predictions on the same weights, one SGD step, errors."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, to_numpy

# every activation name both sides know, except glu (it halves the units, which Keras' Dense
# does not reflect in its output shape)
ACTIVATIONS = ("celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
               "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
               "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus",
               "sparse_sigmoid", "squareplus", "swish", "tanh", "tanh_shrink")


def _sgd_step(K, m, x, y, lr=0.1):
    m.compile(optimizer=K.optimizers.SGD(learning_rate=lr), loss="mse")
    m.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


def _observe(K, m, x, y):
    """Output shape, parameter count, weight shapes, predictions, and the weights after one SGD step."""
    seed_weights(m)
    out = {"output_shape": tuple(m.output_shape), "params": m.count_params(),
           "weight_shapes": [tuple(w.shape) for w in m.get_weights()], "predict": m.predict(x, verbose=0)}
    out["weights_after_sgd"] = _sgd_step(K, m, x, y)
    return out


def _activation_case(name):
    def fn(K):
        m = seed_weights(K.Sequential([K.Input((4,)), K.layers.Dense(4, activation=name)]), scale=1.0)
        x = data(8, 4)
        p = m.predict(x, verbose=0)
        return {"activation": m.layers[-1].get_config()["activation"], "predict": p,
                "weights_after_sgd": _sgd_step(K, m, x, data(8, 4, seed=5))}
    fn.__name__ = f"case_activation_{name}"
    return case()(fn)


for _name in ACTIVATIONS:
    _activation_case(_name)


@case()
def case_activation_layer_by_name_on_images(K):
    m = K.Sequential([K.Input((3, 3, 2)), K.layers.Conv2D(2, 2), K.layers.Activation("selu"),
                      K.layers.Activation("hard_silu"), K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 3, 3, 2), data(4, 1, seed=2))


@case()
def case_unknown_activation_name_raises(K):
    return observe_error(lambda: K.layers.Dense(2, activation="relu7"))


# --- activation layers --------------------------------------------------------------------------
def _after_dense(K, layer, n=6):
    return K.Sequential([K.Input((n,)), K.layers.Dense(n), layer])


@case()
def case_relu_layer_variants_predict(K):
    x = data(8, 6)
    outs = []
    for kw in ({}, {"max_value": 6.0}, {"max_value": 0.5}, {"negative_slope": 0.2},
               {"threshold": 0.3}, {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}):
        m = seed_weights(_after_dense(K, K.layers.ReLU(**kw)), scale=1.0)
        outs.append(m.predict(x, verbose=0))
    return outs


@case()
def case_relu_layer_sgd_step(K):
    m = _after_dense(K, K.layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2))
    return _observe(K, m, data(8, 6), data(8, 6, seed=3))


@case()
def case_relu_layer_config(K):
    c = K.layers.ReLU(max_value=2.0, negative_slope=0.5, threshold=0.25).get_config()
    return [c[k] for k in ("max_value", "negative_slope", "threshold")]


@case()
def case_relu_layer_negative_arguments_raise(K):
    return [observe_error(lambda: K.layers.ReLU(max_value=-1.0)),
            observe_error(lambda: K.layers.ReLU(negative_slope=-0.5)),
            observe_error(lambda: K.layers.ReLU(threshold=-1.0)),
            observe_error(lambda: K.layers.LeakyReLU(negative_slope=-0.1))]


@case()
def case_leaky_relu_layer_default_and_sgd_step(K):
    m = _after_dense(K, K.layers.LeakyReLU())
    out = _observe(K, m, data(8, 6), data(8, 6, seed=3))
    out["slope"] = K.layers.LeakyReLU().get_config()["negative_slope"]
    return out


@case()
def case_leaky_relu_layer_slope_predict(K):
    m = seed_weights(_after_dense(K, K.layers.LeakyReLU(negative_slope=0.01)))
    return m.predict(data(8, 6), verbose=0)


@case()
def case_elu_layer_sgd_step(K):
    return _observe(K, _after_dense(K, K.layers.ELU(alpha=0.7)), data(8, 6), data(8, 6, seed=3))


@case()
def case_elu_layer_default_predict(K):
    m = seed_weights(_after_dense(K, K.layers.ELU()), scale=1.0)
    return m.predict(data(8, 6), verbose=0)


@case()
def case_prelu_layer_structure_and_shared_axes(K):
    inp = K.Input((5, 4, 3))
    a = K.layers.PReLU()
    b = K.layers.PReLU(shared_axes=[1, 2])
    c = K.layers.PReLU(shared_axes=1)
    outs = [a(inp), b(inp), c(inp)]
    m = K.Model(inp, outs)
    return {"params": [a.count_params(), b.count_params(), c.count_params()],
            "weight_shapes": [tuple(w.shape) for w in m.get_weights()],
            "initial": [float(np.abs(w).sum()) for w in m.get_weights()],
            "output_shapes": [tuple(o.shape) for o in outs]}


@case()
def case_prelu_layer_sgd_step(K):
    m = _after_dense(K, K.layers.PReLU())
    return _observe(K, m, data(8, 6), data(8, 6, seed=3))


@case()
def case_prelu_layer_shared_axes_on_images_sgd_step(K):
    m = K.Sequential([K.Input((4, 4, 2)), K.layers.Conv2D(3, 2), K.layers.PReLU(shared_axes=[1, 2]),
                      K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 4, 4, 2), data(4, 1, seed=2))


@case()
def case_prelu_layer_constant_initializer_predict(K):
    m = K.Sequential([K.Input((6,)), K.layers.PReLU(alpha_initializer=K.initializers.Constant(0.25))])
    return {"weights": m.get_weights(), "predict": m.predict(data(8, 6), verbose=0)}


@case()
def case_softmax_layer_axes_predict(K):
    x = data(4, 3, 5)
    outs = []
    for axis in (-1, 1, [1, 2]):
        m = seed_weights(K.Sequential([K.Input((3, 5)), K.layers.Dense(5), K.layers.Softmax(axis=axis)]))
        outs.append(m.predict(x, verbose=0))
    return outs


@case()
def case_softmax_layer_sgd_step(K):
    m = K.Sequential([K.Input((3, 5)), K.layers.Dense(5), K.layers.Softmax(axis=1)])
    return _observe(K, m, data(4, 3, 5), data(4, 3, 5, seed=3))


@case()
def case_softmax_layer_with_mask(K):
    mask = np.array([[1, 1, 0], [1, 0, 0]], bool)
    return to_numpy(K.layers.Softmax()(data(2, 3), mask=mask))


@case()
def case_identity_layer(K):
    m = K.Sequential([K.Input((3, 2)), K.layers.Identity(), K.layers.Dense(2)])
    return _observe(K, m, data(4, 3, 2), data(4, 3, 2, seed=3))


# --- Reshape, Permute, RepeatVector -------------------------------------------------------------
@case()
def case_reshape_permute_shapes(K):
    shapes = []
    for shape, layer in (((12,), K.layers.Reshape((3, 4))), ((12,), K.layers.Reshape((-1, 2, 2))),
                         ((3, 4), K.layers.Reshape((12,))), ((None, 4), K.layers.Reshape((-1, 2))),
                         ((2, 3, 4), K.layers.Permute((3, 1, 2))), ((None, 4), K.layers.Permute((2, 1))),
                         ((5,), K.layers.RepeatVector(3))):
        shapes.append(tuple(K.Sequential([K.Input(shape), layer]).output_shape))
    return shapes


@case()
def case_reshape_permute_sgd_step(K):
    m = K.Sequential([K.Input((6,)), K.layers.Dense(12), K.layers.Reshape((3, -1)), K.layers.Permute((2, 1)),
                      K.layers.Dense(2), K.layers.Reshape((8,))])
    return _observe(K, m, data(5, 6), data(5, 8, seed=3))


@case()
def case_repeat_vector_sgd_step(K):
    m = K.Sequential([K.Input((3,)), K.layers.Dense(4), K.layers.RepeatVector(3), K.layers.Dense(2)])
    return _observe(K, m, data(5, 3), data(5, 3, 2, seed=3))


@case()
def case_reshaping_configs(K):
    L = K.layers
    keys = {"Reshape": ["target_shape"], "Permute": ["dims"], "RepeatVector": ["n"],
            "Cropping1D": ["cropping"], "Cropping2D": ["cropping", "data_format"],
            "ZeroPadding1D": ["padding", "data_format"], "ZeroPadding2D": ["padding", "data_format"],
            "UpSampling1D": ["size"], "UpSampling2D": ["size", "data_format", "interpolation"]}
    layers = [L.Reshape((2, -1)), L.Permute((2, 1)), L.RepeatVector(4), L.Cropping1D(2), L.Cropping2D((1, 2)),
              L.ZeroPadding1D((1, 3)), L.ZeroPadding2D(2), L.UpSampling1D(3),
              L.UpSampling2D(2, interpolation="bilinear")]
    return [[layer.get_config()[k] for k in keys[type(layer).__name__]] for layer in layers]


@case()
def case_reshape_errors(K):
    L = K.layers
    return [observe_error(lambda: K.Sequential([K.Input((12,)), L.Reshape((5,))])),
            observe_error(lambda: K.Sequential([K.Input((12,)), L.Reshape((5, -1))])),
            observe_error(lambda: L.Reshape((-1, -1))),
            observe_error(lambda: L.Permute((1, 3))),
            observe_error(lambda: L.RepeatVector(0)),
            observe_error(lambda: L.RepeatVector(2.5))]


# --- Cropping, ZeroPadding, UpSampling ----------------------------------------------------------
@case()
def case_padding_cropping_1d_sgd_step(K):
    m = K.Sequential([K.Input((8, 3)), K.layers.ZeroPadding1D((1, 2)), K.layers.Conv1D(2, 3),
                      K.layers.Cropping1D((2, 1)), K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 8, 3), data(4, 1, seed=2))


@case()
def case_padding_cropping_2d_sgd_step(K):
    m = K.Sequential([K.Input((6, 5, 2)), K.layers.ZeroPadding2D(((1, 0), (2, 1))), K.layers.Conv2D(3, 3),
                      K.layers.Cropping2D(((1, 0), (0, 1))), K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 6, 5, 2), data(4, 1, seed=2))


@case()
def case_padding_cropping_shapes(K):
    L = K.layers
    shapes = []
    for shape, layer in (((8, 3), L.Cropping1D()), ((None, 3), L.Cropping1D((1, 2))), ((5, 6, 2), L.Cropping2D(1)),
                         ((5, 6, 2), L.Cropping2D((1, 2))), ((None, 6, 2), L.Cropping2D(((0, 1), (2, 0)))),
                         ((4, 3), L.ZeroPadding1D()), ((4, 3), L.ZeroPadding1D((0, 3))),
                         ((3, 4, 2), L.ZeroPadding2D()), ((None, 4, 2), L.ZeroPadding2D(((1, 0), (0, 2)))),
                         ((3, 4, 4, 2), L.Cropping3D()), ((2, 2, 2, 1), L.ZeroPadding3D())):
        shapes.append(tuple(K.Sequential([K.Input(shape), layer]).output_shape))
    return shapes


@case()
def case_cropping_too_much_raises(K):
    L = K.layers
    return [observe_error(lambda: K.Sequential([K.Input((4, 3)), L.Cropping1D((2, 2))])),
            observe_error(lambda: K.Sequential([K.Input((4, 6, 1)), L.Cropping2D(((0, 0), (3, 3)))])),
            observe_error(lambda: L.Cropping2D(-1)),
            observe_error(lambda: L.Cropping2D((1, 1, 1)))]


@case()
def case_up_sampling_1d_sgd_step(K):
    m = K.Sequential([K.Input((4, 2)), K.layers.Dense(3), K.layers.UpSampling1D(3), K.layers.Flatten(),
                      K.layers.Dense(2)])
    return _observe(K, m, data(4, 4, 2), data(4, 2, seed=2))


@case()
def case_up_sampling_2d_nearest_sgd_step(K):
    m = K.Sequential([K.Input((3, 4, 2)), K.layers.Conv2D(2, 2), K.layers.UpSampling2D((2, 3)),
                      K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 3, 4, 2), data(4, 1, seed=2))


@case()
def case_up_sampling_2d_bilinear_sgd_step(K):
    m = K.Sequential([K.Input((3, 4, 2)), K.layers.Conv2D(2, 2, padding="same"),
                      K.layers.UpSampling2D((2, 3), interpolation="bilinear"), K.layers.Flatten(), K.layers.Dense(1)])
    return _observe(K, m, data(4, 3, 4, 2), data(4, 1, seed=2))


@case()
def case_up_sampling_bilinear_predict_factors(K):
    x = data(2, 3, 5, 2)
    return [to_numpy(K.layers.UpSampling2D(s, interpolation="bilinear")(x)) for s in ((2, 2), (3, 1), (4, 3))]


@case()
def case_up_sampling_shapes(K):
    L = K.layers
    shapes = []
    for shape, layer in (((4, 3), L.UpSampling1D()), ((None, 3), L.UpSampling1D(3)), ((3, 4, 2), L.UpSampling2D()),
                         ((None, 4, 2), L.UpSampling2D((1, 3))), ((2, 3, 2, 1), L.UpSampling3D((1, 2, 3)))):
        shapes.append(tuple(K.Sequential([K.Input(shape), layer]).output_shape))
    return shapes


@case()
def case_3d_layers_predict(K):
    m = K.Sequential([K.Input((2, 3, 2, 1)), K.layers.ZeroPadding3D((1, 0, 1)), K.layers.UpSampling3D((1, 2, 1)),
                      K.layers.Cropping3D(((1, 0), (1, 2), (0, 1))), K.layers.Flatten(), K.layers.Dense(2)])
    return _observe(K, m, data(3, 2, 3, 2, 1), data(3, 2, seed=2))


@case(missing="data_format='channels_first' for the reshaping layers")
def case_zero_padding_2d_channels_first(K):
    m = K.Sequential([K.Input((2, 3, 4)), K.layers.ZeroPadding2D(1, data_format="channels_first")])
    return {"shape": tuple(m.output_shape), "predict": m.predict(data(2, 2, 3, 4), verbose=0)}


@case(missing="UpSampling2D(interpolation='bicubic')")
def case_up_sampling_2d_bicubic(K):
    return to_numpy(K.layers.UpSampling2D(2, interpolation="bicubic")(data(2, 3, 3, 1)))
