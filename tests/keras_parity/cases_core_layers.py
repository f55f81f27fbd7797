"""Parity cases: the core layers (Dense, Conv1D/2D, pooling, Embedding, LSTM, GRU,
BatchNormalization, Dropout at inference) on the same weights: shapes, parameter counts,
predictions and one SGD epoch."""
import numpy as np

from keras_parity.harness import case, data, seed_weights


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
