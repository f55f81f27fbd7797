"""Parity cases: initializers, regularizers, constraints and the layers' weight arguments."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, to_numpy

# Not "constant"/"Constant" (Keras' get raises KeyError on them) nor "identity" (Keras' Identity has no
# get_config, so its config drops gain; ours keeps it).
INIT_NAMES = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
              "orthogonal", "random_normal", "random_uniform", "truncated_normal", "variance_scaling", "zeros",
              "ones", "normal", "uniform", "zero", "one", "GlorotUniform", "HeNormal"]


@case()
def case_initializer_configs_by_name(K):
    return [K.initializers.serialize(K.initializers.get(n)) for n in INIT_NAMES]


@case()
def case_initializer_configs_with_arguments(K):
    I = K.initializers
    objs = [I.RandomNormal(mean=1.0, stddev=2.0, seed=3), I.RandomUniform(-1.0, 2.0), I.TruncatedNormal(stddev=0.1),
            I.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform", seed=5),
            I.VarianceScaling(distribution="normal"), I.Orthogonal(gain=0.5), I.Constant(3.0), I.HeUniform(seed=1)]
    return [I.serialize(o) for o in objs] + [I.serialize(I.get(I.serialize(o))) for o in objs]


CONV_KERNEL = (3, 3, 32, 64)          # fan_in 288, fan_out 576: the receptive field counts


def _std(name):
    fan_in, fan_out = 3 * 3 * 32, 3 * 3 * 64
    scale, n = {"glorot_uniform": (1, (fan_in + fan_out) / 2), "glorot_normal": (1, (fan_in + fan_out) / 2),
                "lecun_uniform": (1, fan_in), "lecun_normal": (1, fan_in), "he_uniform": (2, fan_in),
                "he_normal": (2, fan_in)}[name]
    return np.sqrt(scale / n)


@case()
def case_initializer_distributions_on_a_conv_kernel(K):
    out = {}
    for name in ["glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal"]:
        w = to_numpy(K.initializers.get(name)(CONV_KERNEL)).astype(np.float64)
        std = _std(name)
        cut = np.sqrt(3) * std if "uniform" in name else 2 * std / 0.87962566103423978
        out[name] = {"std_ratio": round(float(w.std() / std), 1), "mean": round(float(w.mean() / std), 1),
                     "beyond_bound": round(float(np.mean(np.abs(w) > cut * 1.0001)), 3)}
    return out


@case()
def case_random_initializer_distributions(K):
    I = K.initializers
    n = to_numpy(I.RandomNormal(mean=1.0, stddev=0.5)((300, 200))).astype(np.float64)
    u = to_numpy(I.RandomUniform(minval=-0.3, maxval=0.7)((300, 200))).astype(np.float64)
    t = to_numpy(I.TruncatedNormal(mean=1.0, stddev=0.5)((300, 200))).astype(np.float64)
    return {"normal": [round(float(n.mean()), 1), round(float(n.std()), 2)],
            "uniform": [round(float(u.mean()), 1), round(float(u.std()), 2), bool(u.min() >= -0.3 and u.max() <= 0.7)],
            "truncated": [round(float(t.mean()), 1), round(float(t.std()), 2),
                          round(float(np.mean(np.abs(t - 1.0) > 1.0001)), 3)]}


@case()
def case_orthogonal_initializer_is_orthogonal(K):
    out = []
    for shape in [(4, 7), (7, 4), (3, 3, 2, 6)]:
        m = to_numpy(K.initializers.Orthogonal(gain=2.0)(shape)).astype(np.float64).reshape(-1, shape[-1])
        g = m @ m.T if m.shape[0] < m.shape[1] else m.T @ m
        out.append(bool(np.allclose(g, 4.0 * np.eye(min(m.shape)), atol=1e-4)))
    return out


@case()
def case_deterministic_initializers_predict(K):
    I = K.initializers
    m = K.Sequential([K.Input((4,)),
                      K.layers.Dense(3, activation="tanh", kernel_initializer=I.Constant(0.1), bias_initializer="ones"),
                      K.layers.Dense(2, kernel_initializer="identity", bias_initializer=I.Constant(-0.5))])
    return {"weights": m.get_weights(), "p": m.predict(data(5, 4), verbose=0)}


@case()
def case_recurrent_and_embedding_initializers_predict(K):
    I = K.initializers
    tok = K.Input((5,), dtype="int32")
    e = K.layers.Embedding(6, 3, embeddings_initializer=I.Constant(0.2))(tok)
    a = K.layers.LSTM(2, kernel_initializer=I.Constant(0.3), recurrent_initializer=I.Constant(-0.1),
                      bias_initializer=I.Constant(0.05))(e)
    b = K.layers.GRU(2, kernel_initializer="ones", recurrent_initializer=I.Constant(0.1), bias_initializer="zeros")(e)
    m = K.Model(tok, K.layers.Concatenate()([a, b]))
    return {"weights": m.get_weights(), "p": m.predict(data(3, 5, low=0, high=6), verbose=0)}


@case()
def case_lstm_unit_forget_bias(K):
    x = data(2, 3, 4)
    out = []
    for ufb in (True, False):
        layer = K.layers.LSTM(3, bias_initializer=K.initializers.Constant(0.5), unit_forget_bias=ufb)
        layer(x)
        out.append(to_numpy(layer.get_weights()[2]))
    return out


@case()
def case_recurrent_use_bias_false(K):
    m = K.Sequential([K.Input((4, 3)), K.layers.LSTM(5, use_bias=False, return_sequences=True),
                      K.layers.GRU(2, use_bias=False)])
    seed_weights(m)
    return {"shapes": [tuple(w.shape) for w in m.get_weights()], "params": m.count_params(),
            "p": m.predict(data(2, 4, 3), verbose=0)}


def _weight_arg_keys(cfg):
    return {k: cfg[k] for k in sorted(cfg) if k.endswith(("_initializer", "_regularizer", "_constraint"))
            or k in ("use_bias", "unit_forget_bias")}


@case()
def case_layer_weight_argument_configs(K):
    I, R, C = K.initializers, K.regularizers, K.constraints
    layers = [
        K.layers.Dense(3),
        K.layers.Dense(3, kernel_initializer="he_normal", bias_initializer=I.Constant(0.1), kernel_regularizer="l2",
                       bias_regularizer=R.L1(0.5), activity_regularizer=R.L1L2(0.1, 0.2), kernel_constraint="max_norm",
                       bias_constraint=C.NonNeg()),
        K.layers.Conv2D(2, 3, kernel_regularizer=R.L2(0.3), kernel_constraint=C.MaxNorm(1.5, axis=[0, 1, 2])),
        K.layers.Conv1D(2, 3, kernel_initializer=I.LecunUniform(seed=2), bias_constraint="unit_norm"),
        K.layers.Embedding(5, 2),
        K.layers.Embedding(5, 2, embeddings_initializer="glorot_normal", embeddings_regularizer="l1",
                           embeddings_constraint=C.UnitNorm(axis=1), activity_regularizer="l2"),
        K.layers.LSTM(2),
        K.layers.LSTM(2, unit_forget_bias=False, recurrent_regularizer="l2", recurrent_constraint=C.MinMaxNorm()),
        K.layers.GRU(2, use_bias=False, kernel_initializer=I.Orthogonal(gain=0.5), bias_regularizer=R.L1L2(l2=0.1)),
    ]
    return [_weight_arg_keys(layer.get_config()) for layer in layers]


@case()
def case_layer_config_round_trip_rebuilds_the_arguments(K):
    R, C = K.regularizers, K.constraints
    layer = K.layers.Dense(3, kernel_regularizer=R.L1L2(0.1, 0.2), activity_regularizer="l1",
                           kernel_constraint=C.MinMaxNorm(0.5, 2.0, 0.5), bias_initializer="ones")
    clone = K.layers.Dense.from_config(layer.get_config())
    return [type(clone.kernel_regularizer).__name__, clone.kernel_regularizer.get_config(),
            type(clone.activity_regularizer).__name__, clone.kernel_constraint.get_config(),
            type(clone.bias_initializer).__name__]


@case()
def case_regularizer_and_constraint_configs(K):
    R, C = K.regularizers, K.constraints
    regs = [R.get("l1"), R.get("l2"), R.get("l1l2"), R.get("L1L2"), R.L1(0.1), R.L2(0.3), R.L1L2(0.1, 0.2),
            R.L1L2(l2=0.5), R.OrthogonalRegularizer(0.2, "columns")]
    cons = [C.get("max_norm"), C.get("non_neg"), C.get("unit_norm"), C.get("min_max_norm"), C.MaxNorm(3, [0, 1]),
            C.MinMaxNorm(0.1, 0.9, 0.5, 1), C.UnitNorm(axis=1)]
    return [R.serialize(r) for r in regs] + [C.serialize(c) for c in cons]


@case()
def case_regularizer_values(K):
    R = K.regularizers
    w = data(4, 6)
    # not OrthogonalRegularizer(mode="columns"): Keras' numpy path normalises the wrong axis
    regs = [R.L1(0.3), R.L2(0.3), R.L1L2(0.1, 0.2), R.L1L2(), R.OrthogonalRegularizer(0.05)]
    return [float(to_numpy(r(w))) for r in regs]


@case()
def case_constraint_values(K):
    C = K.constraints
    w = data(3, 3, 2, 4) * 2
    w[..., 0] = 0.0
    cons = [C.MaxNorm(1.5), C.MaxNorm(1.0, axis=[0, 1, 2]), C.NonNeg(), C.UnitNorm(), C.UnitNorm(axis=[0, 1, 2]),
            C.MinMaxNorm(0.5, 1.5, 0.3, axis=3), C.MinMaxNorm()]
    return [to_numpy(c(w)) for c in cons]


@case()
def case_layer_losses_keras_docstring_example(K):
    layer = K.layers.Dense(5, kernel_initializer="ones", kernel_regularizer=K.regularizers.L1(0.01),
                           activity_regularizer=K.regularizers.L2(0.01))
    layer(np.ones((5, 5), np.float32) * 2.0)
    return [float(to_numpy(v)) for v in layer.losses]


@case()
def case_layer_losses_on_seeded_weights(K):
    R = K.regularizers
    layers = [
        (K.layers.Dense(4, activation="softmax", kernel_regularizer=R.L1(0.02), bias_regularizer=R.L2(0.03),
                        activity_regularizer=R.L1L2(0.01, 0.04)), data(6, 3)),
        (K.layers.Conv2D(3, 2, activation="relu", kernel_regularizer=R.L1L2(0.01, 0.04), activity_regularizer="l2"),
         data(2, 5, 4, 2)),
        (K.layers.Conv1D(3, 2, kernel_regularizer="l2", bias_regularizer="l1"), data(3, 6, 2)),
        (K.layers.Embedding(7, 3, embeddings_regularizer=R.L2(0.03), activity_regularizer="l1"),
         data(4, 5, low=0, high=7)),
        (K.layers.LSTM(3, kernel_regularizer="l1", recurrent_regularizer="l2", bias_regularizer=R.L1L2(0.1, 0.1),
                       activity_regularizer="l2"), data(2, 4, 3)),
        (K.layers.GRU(3, return_sequences=True, kernel_regularizer="l2", recurrent_regularizer="l1",
                      activity_regularizer=R.L1(0.1)), data(2, 4, 3)),
    ]
    out = []
    for layer, x in layers:
        layer(x)
        seed_weights(layer)
        layer(x)
        out.append([float(to_numpy(v)) for v in layer.losses])
    return out


def _regularized_model(K):
    R = K.regularizers
    m = K.Sequential([K.Input((4,)),
                      K.layers.Dense(5, activation="tanh", kernel_regularizer=R.L2(0.1), bias_regularizer=R.L1(0.05),
                                     activity_regularizer=R.L1L2(0.01, 0.02)),
                      K.layers.Dense(3, activation="softmax", kernel_regularizer="l1",
                                     activity_regularizer=R.L2(0.1))])
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    return m


@case()
def case_regularized_fit_sgd_weights(K):
    m = _regularized_model(K)
    h = m.fit(data(8, 4), data(8, low=0, high=3), batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "loss": h.history["loss"]}


@case()
def case_regularized_evaluate_loss(K):
    m = _regularized_model(K)
    return m.evaluate(data(8, 4), data(8, low=0, high=3), batch_size=4, verbose=0)


@case()
def case_constrained_fit_sgd_weights(K):
    C = K.constraints
    m = K.Sequential([K.Input((4,)),
                      K.layers.Dense(5, activation="relu", kernel_constraint=C.MaxNorm(0.2), bias_constraint="non_neg"),
                      K.layers.Dense(2, kernel_constraint=C.UnitNorm(axis=0))])
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(data(8, 4), data(8, 2, seed=3), batch_size=4, epochs=2, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_fit_from_deterministic_initializers(K):
    I = K.initializers
    m = K.Sequential([K.Input((3,)),
                      K.layers.Dense(4, activation="tanh", kernel_initializer=I.Constant(0.2), bias_initializer="ones"),
                      K.layers.Dense(1, kernel_initializer="ones", bias_initializer=I.Constant(-0.3))])
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(data(6, 3), data(6, 1, seed=2), batch_size=3, epochs=2, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_weight_argument_errors(K):
    return [observe_error(lambda: K.initializers.get("glorot_unifrom")),
            observe_error(lambda: K.regularizers.get("l3")),
            observe_error(lambda: K.constraints.get("maxnorm")),
            observe_error(lambda: K.initializers.VarianceScaling(scale=-1.0)),
            observe_error(lambda: K.initializers.VarianceScaling(mode="fan")),
            observe_error(lambda: K.initializers.VarianceScaling(distribution="cauchy")),
            observe_error(lambda: K.initializers.Orthogonal()((4,))),
            observe_error(lambda: K.regularizers.L1(-1.0)),
            observe_error(lambda: K.regularizers.OrthogonalRegularizer(mode="diag")),
            observe_error(lambda: K.layers.Dense(3, kernel_initializer="nope")),
            observe_error(lambda: K.layers.Dense(3, kernel_regularizer="nope")),
            observe_error(lambda: K.layers.Dense(3, kernel_constraint="nope"))]
