"""Parity cases: Keras masks. Embedding(mask_zero=True) and Masking make them, the layers that
support masking pass them on (or use them: GlobalAveragePooling1D, Softmax, the merges), a
custom layer's call receives them, and a masked output's loss and metrics leave the padding out."""
import warnings

import numpy as np

from keras_parity.harness import case, data, seed_weights, to_numpy

# two padded token sequences (0 = padding)
TOKENS = np.array([[3, 1, 4, 1, 0, 0], [5, 9, 2, 0, 0, 0], [6, 5, 3, 5, 8, 9], [7, 0, 0, 0, 0, 0]], np.int32)


def _mask(t):
    m = getattr(t, "_keras_mask", None)
    return None if m is None else to_numpy(m).astype(bool)


@case()
def case_embedding_mask_zero_average_pooling_dense(K):
    m = seed_weights(K.Sequential([K.Input((None,), dtype="int32"), K.layers.Embedding(10, 4, mask_zero=True),
                                   K.layers.GlobalAveragePooling1D(), K.layers.Dense(2)]))
    p = m.predict(TOKENS, verbose=0)
    more_padding = np.concatenate([TOKENS, np.zeros((4, 3), np.int32)], axis=1)
    p_padded = m.predict(more_padding, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(TOKENS, data(4, 2, seed=3), batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"p": p, "p_padded": p_padded, "trained": m.get_weights()}


@case()
def case_embedding_mask_zero_output_mask(K):
    layer = K.layers.Embedding(10, 3, mask_zero=True)
    out = layer(TOKENS)
    plain = K.layers.Embedding(10, 3)(TOKENS)
    return {"mask": _mask(out), "plain": _mask(plain), "config": layer.get_config()["mask_zero"],
            "computed": to_numpy(layer.compute_mask(TOKENS)).astype(bool)}


@case()
def case_masked_sequence_labels_loss_and_accuracy(K):
    inp = K.Input((6,), dtype="int32")
    h = K.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = K.layers.Activation("relu")(K.layers.Dense(5, activation="tanh")(h))
    out = K.layers.Dense(3, activation="softmax")(K.layers.LayerNormalization()(h))
    m = seed_weights(K.Model(inp, out))
    y = data(4, 6, low=0, high=3, seed=5)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    before = m.evaluate(TOKENS, y, verbose=0)
    hist = m.fit(TOKENS, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    return {"before": before, "history": hist.history, "after": m.evaluate(TOKENS, y, verbose=0),
            "weights": m.get_weights()}


@case()
def case_masked_sequence_mse_sum_reduction_and_metrics(K):
    # (per-sample weights with a [batch, steps] mask: Keras 3 itself fails to broadcast them)
    m = seed_weights(K.Sequential([K.Input((6,), dtype="int32"), K.layers.Embedding(10, 3, mask_zero=True),
                                   K.layers.Dense(2)]))
    y = data(4, 6, 2, seed=2)
    out = []
    for loss in ("mse", K.losses.MeanSquaredError(reduction="sum"), K.losses.MeanAbsoluteError()):
        m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss=loss, metrics=["mae", "mse"])
        out.append(m.evaluate(TOKENS, y, batch_size=3, verbose=0))
    m.fit(TOKENS, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return {"evals": out, "weights": m.get_weights()}


@case()
def case_masking_layer_values_and_mask(K):
    x = data(3, 5, 2, seed=4)
    x[0, 3:] = 0.0
    x[1, 1] = 0.0
    x[2, 0, 0] = 0.0          # one zero feature: not masked
    layer = K.layers.Masking(mask_value=0.0)
    y = layer(x)
    z = K.layers.Masking(mask_value=1.5)(np.full((1, 2, 2), 1.5, np.float32))
    return {"y": to_numpy(y), "mask": _mask(y), "other_value": to_numpy(z), "other_mask": _mask(z),
            "config": layer.get_config()["mask_value"]}


@case()
def case_masking_then_dense_trains_on_unmasked_steps(K):
    x = data(4, 5, 3, seed=6)
    x[0, 2:] = 0.0
    x[3, 4] = 0.0
    m = seed_weights(K.Sequential([K.Input((5, 3)), K.layers.Masking(), K.layers.Dense(2, activation="relu"),
                                   K.layers.BatchNormalization(), K.layers.Dense(1)]))
    y = data(4, 5, 1, seed=7)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    before = m.evaluate(x, y, verbose=0)
    m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"before": before, "after": m.evaluate(x, y, verbose=0), "weights": m.get_weights(),
            "p": m.predict(x, verbose=0)}


@case()
def case_merging_layers_masks(K):
    a = K.layers.Embedding(10, 3, mask_zero=True)
    b = K.layers.Embedding(10, 3, mask_zero=True)
    t2 = np.array([[1, 0, 2, 0, 0, 4], [0, 0, 1, 1, 0, 0], [2, 2, 2, 0, 0, 0], [0, 3, 0, 0, 0, 0]], np.int32)
    a(TOKENS), b(t2)          # built
    seed_weights(a, seed=1)
    seed_weights(b, seed=2)
    x, y = a(TOKENS), b(t2)
    out = {}
    for name, layer in (("add", K.layers.Add()), ("subtract", K.layers.Subtract()),
                        ("average", K.layers.Average()), ("multiply", K.layers.Multiply()),
                        ("maximum", K.layers.Maximum()), ("minimum", K.layers.Minimum()),
                        ("concatenate", K.layers.Concatenate()), ("concatenate_time", K.layers.Concatenate(axis=1))):
        z = layer([x, y])
        out[name] = (to_numpy(z), _mask(z))
    z = K.layers.Dot(axes=(2, 2))([x, y])
    out["dot"] = (to_numpy(z), _mask(z))
    return out


@case()
def case_merging_one_unmasked_input(K):
    a = seed_weights(K.Sequential([K.Input((6,), dtype="int32"), K.layers.Embedding(10, 3, mask_zero=True)]))
    x = a(TOKENS)
    u = data(4, 6, 3, seed=8)
    out = {}
    for name, layer in (("add", K.layers.Add()), ("multiply", K.layers.Multiply()),
                        ("maximum", K.layers.Maximum()), ("concatenate", K.layers.Concatenate())):
        z = layer([x, u])
        out[name] = (to_numpy(z), _mask(z))
    return out


def _masked_sum_layer(K):
    class MaskedSum(K.layers.Layer):
        """sum over time of x * mask; no output mask."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True
            self.seen = []

        def call(self, x, mask=None):
            self.seen.append(mask is not None)
            if mask is None:
                return K.ops.sum(x, axis=1)
            return K.ops.sum(x * K.ops.expand_dims(K.ops.cast(mask, x.dtype), -1), axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

        def compute_output_shape(self, s):
            return (s[0], s[2])
    return MaskedSum


@case()
def case_custom_layer_call_receives_the_mask(K):
    MaskedSum = _masked_sum_layer(K)
    inp = K.Input((6,), dtype="int32")
    layer = MaskedSum()
    out = K.layers.Dense(1)(layer(K.layers.Embedding(10, 3, mask_zero=True)(inp)))
    m = seed_weights(K.Model(inp, out))
    p = m.predict(TOKENS, verbose=0)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(TOKENS, data(4, 1, seed=1), batch_size=4, epochs=1, shuffle=False, verbose=0)
    explicit = layer(np.ones((2, 3, 3), np.float32), mask=np.array([[1, 1, 0], [1, 0, 0]], bool))
    return {"p": p, "weights": m.get_weights(), "got_mask": layer.seen[-2], "explicit": to_numpy(explicit)}


@case()
def case_custom_compute_mask_propagates(K):
    class NonZero(K.layers.Layer):
        def call(self, x):
            return x * 2.0

        def compute_mask(self, inputs, mask=None):
            return K.ops.any(K.ops.not_equal(inputs, 0.0), axis=-1)

    MaskedSum = _masked_sum_layer(K)
    inp = K.Input((4, 2))
    out = MaskedSum()(K.layers.Dense(3)(NonZero()(inp)))
    m = seed_weights(K.Model(inp, out))
    x = data(2, 4, 2)
    x[0, 1:] = 0.0
    return {"p": m.predict(x, verbose=0), "supports": NonZero().supports_masking}


@case()
def case_layer_without_masking_drops_the_mask(K):
    m = seed_weights(K.Sequential([K.Input((6,), dtype="int32"), K.layers.Embedding(10, 2, mask_zero=True),
                                   K.layers.Flatten(), K.layers.Dense(1)]))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = m(TOKENS)
    y = data(4, 1, seed=2)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    return {"mask": _mask(out), "loss": m.evaluate(TOKENS, y, verbose=0),
            "supports": [K.layers.Flatten().supports_masking, K.layers.Reshape((2,)).supports_masking,
                         K.layers.Dense(1).supports_masking, K.layers.Dropout(0.1).supports_masking,
                         K.layers.GlobalMaxPooling1D().supports_masking,
                         K.layers.GlobalAveragePooling1D().supports_masking,
                         K.layers.Embedding(3, 2).supports_masking, K.layers.Masking().supports_masking]}


@case()
def case_global_max_pooling_ignores_the_mask(K):
    m = seed_weights(K.Sequential([K.Input((6,), dtype="int32"), K.layers.Embedding(10, 3, mask_zero=True),
                                   K.layers.GlobalMaxPooling1D()]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.predict(TOKENS, verbose=0)


@case()
def case_loss_object_uses_the_mask_of_y_pred(K):
    x = data(3, 4, 2, seed=1)
    x[0, 2:] = 0.0
    x[2, 1] = 0.0
    y_pred = K.layers.Masking()(x)
    y_true = data(3, 4, 2, seed=2)
    out = {}
    for red in ("sum_over_batch_size", "sum", "mean", "none"):
        out[red] = to_numpy(K.losses.MeanSquaredError(reduction=red)(y_true, y_pred))
    sw = data(3, 4, seed=3) ** 2      # per step (Keras folds the mask into [batch, steps] weights)
    out["weighted"] = to_numpy(K.losses.MeanAbsoluteError()(y_true, y_pred, sample_weight=sw))
    out["mean_with_sample_weight"] = to_numpy(K.losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        y_true, y_pred, sample_weight=sw))
    return out


@case()
def case_softmax_layer_after_a_mask_and_with_numbers(K):
    x = data(2, 3)
    mask = np.array([[1.0, 0.2, 0.9], [0.0, 1.0, 1.0]], np.float32)
    return to_numpy(K.layers.Softmax()(x, mask=mask))


@case()
def case_lambda_mask_function(K):
    inp = K.Input((6,), dtype="int32")
    e = K.layers.Embedding(10, 3, mask_zero=True)(inp)
    h = K.layers.Lambda(lambda t: t * 3.0, mask=lambda t, m: m)(e)
    out = K.layers.GlobalAveragePooling1D()(h)
    m = seed_weights(K.Model(inp, out))
    return m.predict(TOKENS, verbose=0)


@case()
def case_nested_model_carries_the_mask(K):
    inner_in = K.Input((6,), dtype="int32")
    inner = K.Model(inner_in, K.layers.Dense(3)(K.layers.Embedding(10, 4, mask_zero=True)(inner_in)))
    inp = K.Input((6,), dtype="int32")
    out = K.layers.Dense(1)(K.layers.GlobalAveragePooling1D()(inner(inp)))
    m = seed_weights(K.Model(inp, out))
    return m.predict(TOKENS, verbose=0)


@case()
def case_masked_batch_normalization_training(K):
    m = seed_weights(K.Sequential([K.Input((6,), dtype="int32"), K.layers.Embedding(10, 3, mask_zero=True),
                                   K.layers.BatchNormalization(momentum=0.5), K.layers.GlobalAveragePooling1D(),
                                   K.layers.Dense(1)]))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    m.fit(TOKENS, data(4, 1, seed=3), batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "p": m.predict(TOKENS, verbose=0)}


@case()
def case_metric_update_state_uses_the_mask_of_y_pred(K):
    x = np.abs(data(3, 4, 2, seed=1))
    x[0, 2:] = 0.0
    x[2, 1] = 0.0
    y_pred = K.layers.Masking()(x)
    y_true = np.abs(data(3, 4, 2, seed=2))
    out = {}
    for name, m in (("mae", K.metrics.MeanAbsoluteError()), ("mse", K.metrics.MeanSquaredError()),
                    ("binary_accuracy", K.metrics.BinaryAccuracy()),
                    ("rmse", K.metrics.RootMeanSquaredError())):          # RMSE is a Mean: no mask
        m.update_state(y_true, y_pred)
        out[name] = float(to_numpy(m.result()))
    weighted = K.metrics.MeanAbsoluteError()
    weighted.update_state(y_true, y_pred, sample_weight=data(3, 4, seed=3) ** 2)
    out["weighted"] = float(to_numpy(weighted.result()))
    return out
