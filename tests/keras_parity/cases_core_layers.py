"""Parity cases: the core layers (Dense, Conv1D/2D, pooling, Embedding, LSTM, GRU,
BatchNormalization, Dropout at inference) on the same weights: shapes, parameter counts,
predictions and one SGD epoch."""
import numpy as np

from keras_parity.harness import case, data, seed_weights, to_numpy


def _check(K, input_shape, layer, x, dtype="float32", head=True):
    inp = K.Input(input_shape, dtype=dtype)
    out = layer(inp)
    if head:
        out = K.layers.Dense(1)(K.layers.Flatten()(out) if len(out.shape) > 2 else out)
    m = seed_weights(K.Model(inp, out))
    obs = {"params": [layer.count_params()], "shapes": [tuple(w.shape) for w in m.get_weights()],
           "p": m.predict(x, verbose=0)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(x, data(len(x), 1, seed=9), batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    obs["trained"] = m.get_weights()
    return obs


@case()
def case_dense_tanh(K):
    return _check(K, (5,), K.layers.Dense(4, activation="tanh"), data(6, 5))


@case()
def case_conv2d_same_strided(K):
    return _check(K, (7, 7, 2), K.layers.Conv2D(3, (3, 2), strides=2, padding="same", activation="relu"),
                  data(4, 7, 7, 2))


@case()
def case_conv1d_valid(K):
    return _check(K, (9, 3), K.layers.Conv1D(4, 3), data(4, 9, 3))


@case()
def case_max_pooling_2d_same(K):
    return _check(K, (5, 5, 2), K.layers.MaxPooling2D(3, strides=2, padding="same"), data(3, 5, 5, 2))


@case()
def case_global_average_pooling_2d(K):
    return _check(K, (4, 4, 3), K.layers.GlobalAveragePooling2D(), data(3, 4, 4, 3))


@case()
def case_embedding(K):
    return _check(K, (6,), K.layers.Embedding(10, 3), data(4, 6, low=0, high=10), dtype="int32")


@case(rtol=5e-4, atol=5e-5)
def case_lstm_last_state(K):
    return _check(K, (7, 3), K.layers.LSTM(5), data(4, 7, 3))


@case(rtol=5e-4, atol=5e-5)
def case_lstm_sequences(K):
    return _check(K, (6, 3), K.layers.LSTM(4, return_sequences=True), data(3, 6, 3))


@case(rtol=5e-4, atol=5e-5)
def case_gru_last_state(K):
    return _check(K, (7, 3), K.layers.GRU(5), data(4, 7, 3))


@case(rtol=5e-4, atol=5e-5)
def case_gru_sequences(K):
    return _check(K, (6, 3), K.layers.GRU(4, return_sequences=True), data(3, 6, 3))


@case()
def case_batch_normalization_training_and_inference(K):
    inp = K.Input((4,))
    m = K.Model(inp, K.layers.Dense(1)(K.layers.BatchNormalization()(K.layers.Dense(3)(inp))))
    seed_weights(m)
    x = data(8, 4)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(x, data(8, 1, seed=4), batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "p": m.predict(x, verbose=0)}


@case()
def case_dropout_is_the_identity_at_inference(K):
    m = seed_weights(K.Sequential([K.Input((5,)), K.layers.Dropout(0.5), K.layers.Dense(2)]))
    return m.predict(data(4, 5), verbose=0)


@case()
def case_rescaling_uint8_images_and_per_channel_offset(K):
    x = data(2, 3, 3, 3, low=0, high=256).astype(np.uint8)
    a = K.layers.Rescaling(1.0 / 255)
    b = K.layers.Rescaling(scale=[0.5, 1.0, 2.0], offset=[-1.0, 0.0, 1.0])
    cfg = K.layers.Rescaling(0.5, offset=0.25).get_config()
    return {"a": to_numpy(a(x)), "b": to_numpy(b(x.astype(np.float32))),
            "cfg": {k: cfg[k] for k in ("scale", "offset")}}


@case()
def case_rescaling_in_a_trained_model(K):
    m = K.Sequential([K.Input((4,)), K.layers.Rescaling(0.1, offset=1.0), K.layers.Dense(2)])
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(data(8, 4), data(8, 2, seed=3), epochs=1, batch_size=4, shuffle=False, verbose=0)
    return {"w": m.get_weights(), "params": m.count_params(), "shape": m.output_shape}


@case()
def case_lambda_infers_its_output_shape_and_trains_through(K):
    inp = K.Input((6,))
    h = K.layers.Dense(4)(inp)
    out = K.layers.Lambda(lambda t: K.ops.concatenate([t, t * t], axis=-1))(h)
    m = seed_weights(K.Model(inp, K.layers.Dense(1)(out)))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(data(8, 6), data(8, 1, seed=2), epochs=1, batch_size=4, shuffle=False, verbose=0)
    return {"lambda_shape": tuple(out.shape), "w": m.get_weights(), "p": m.predict(data(3, 6), verbose=0)}


@case()
def case_lambda_arguments_and_given_output_shape(K):
    lam = K.layers.Lambda(lambda t, power: t ** power, arguments={"power": 3})
    fixed = K.layers.Lambda(lambda t: K.ops.sum(t, axis=-1, keepdims=True), output_shape=(1,))
    inp = K.Input((3,))
    out = fixed(lam(inp))
    m = K.Model(inp, out)
    return {"shape": tuple(out.shape), "p": m.predict(data(4, 3), verbose=0),
            "weights": len(m.weights)}
