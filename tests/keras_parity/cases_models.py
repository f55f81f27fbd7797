"""Parity cases: building models, predictions on the same weights, training, return types."""
import numpy as np

from keras_parity.harness import case, data, kind, observe_error, seed_weights, shape_of, to_numpy


def _mlp(K):
    return K.Sequential([K.Input((4,)), K.layers.Dense(5, activation="relu"),
                         K.layers.Dense(3, activation="softmax")])


def _compiled_mlp(K, optimizer="sgd", metrics=("accuracy",)):
    m = seed_weights(_mlp(K))
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return m


def _xy(n=8):
    return data(n, 4), data(n, low=0, high=3)


@case()
def case_sequential_structure(K):
    m = _mlp(K)
    return {"n_layers": len(m.layers), "params": m.count_params(),
            "per_layer": [layer.count_params() for layer in m.layers],
            "weight_shapes": [tuple(w.shape) for w in m.get_weights()],
            "trainable": len(m.trainable_weights), "output_shape": tuple(m.output_shape)}


@case()
def case_sequential_predict_same_weights(K):
    m = seed_weights(_mlp(K))
    p = m.predict(data(6, 4), verbose=0)
    return {"kind": kind(p), "p": p}


@case()
def case_sequential_input_shape_argument(K):
    m = K.Sequential([K.layers.Dense(3, input_shape=(4,)), K.layers.Dense(2)])
    return [tuple(w.shape) for w in m.get_weights()]


@case()
def case_functional_two_branches(K):
    inp = K.Input((6,))
    a = K.layers.Dense(4, activation="tanh")(inp)
    b = K.layers.Dense(4, activation="relu")(inp)
    out = K.layers.Dense(2)(K.layers.Concatenate()([a, b]))
    m = seed_weights(K.Model(inp, out))
    return {"params": m.count_params(), "p": m.predict(data(5, 6), verbose=0)}


@case()
def case_functional_multi_output_predict_is_a_list(K):
    inp = K.Input((3,))
    m = seed_weights(K.Model(inp, [K.layers.Dense(2)(inp), K.layers.Dense(1)(inp)]))
    p = m.predict(data(4, 3), verbose=0)
    return {"kind": kind(p), "n": len(p), "shapes": [a.shape for a in p]}


@case()
def case_model_called_on_data_eagerly(K):
    m = seed_weights(_mlp(K))
    return to_numpy(m(data(3, 4)))


@case()
def case_train_on_batch_sgd_weights(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.1), metrics=())
    x, y = _xy()
    m.train_on_batch(x, y)
    return m.get_weights()


@case()
def case_fit_adam_history_and_weights(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.Adam(learning_rate=0.01))
    x, y = _xy(12)
    h = m.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    return {"history": h.history, "epoch": h.epoch, "weights": m.get_weights()}


@case()
def case_fit_sgd_momentum_nesterov(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True))
    x, y = _xy(12)
    m.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_fit_rmsprop(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.RMSprop(learning_rate=0.05), metrics=())
    x, y = _xy(8)
    m.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_fit_validation_split_history(K):
    m = _compiled_mlp(K)
    x, y = _xy(10)
    h = m.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, shuffle=False, verbose=0)
    return h.history


@case()
def case_evaluate_returns_loss_and_metrics_list(K):
    m = _compiled_mlp(K)
    x, y = _xy()
    r = m.evaluate(x, y, verbose=0)
    loss, acc = r
    return {"kind": kind(r), "loss": loss, "acc": acc}


@case()
def case_evaluate_loss_only_is_a_float(K):
    m = _compiled_mlp(K, metrics=())
    r = m.evaluate(*_xy(), verbose=0)
    return {"kind": kind(r), "value": r}


@case()
def case_evaluate_return_dict(K):
    m = _compiled_mlp(K)
    r = m.evaluate(*_xy(), verbose=0, return_dict=True)
    return {"kind": kind(r), "keys": sorted(r), "values": [r[k] for k in sorted(r)]}


@case()
def case_mse_mae_metrics(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(2)])
    seed_weights(m)
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = data(8, 4), data(8, 2, seed=3)
    return m.evaluate(x, y, verbose=0, return_dict=True)


@case()
def case_categorical_crossentropy_one_hot(K):
    m = seed_weights(_mlp(K))
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    x, y = _xy()
    return m.evaluate(x, np.eye(3, dtype=np.float32)[y], verbose=0, return_dict=True)


@case()
def case_binary_crossentropy_sigmoid(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(1, activation="sigmoid")])
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
    x, y = data(8, 4), (data(8, low=0, high=2)).astype(np.float32).reshape(8, 1)
    h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_sample_weight_in_fit(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.1), metrics=())
    x, y = _xy()
    m.fit(x, y, sample_weight=np.linspace(0.1, 2.0, 8).astype(np.float32), batch_size=8, epochs=1,
          shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_class_weight_in_fit(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.1), metrics=())
    x, y = _xy()
    m.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5}, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return m.get_weights()


@case()
def case_callback_hook_order(K):
    seen = []

    class Record(K.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(f"epoch_begin {epoch}")

        def on_train_batch_begin(self, batch, logs=None):
            seen.append(f"batch_begin {batch}")

        def on_train_batch_end(self, batch, logs=None):
            seen.append(f"batch_end {batch}")

        def on_test_begin(self, logs=None):
            seen.append("test_begin")

        def on_test_end(self, logs=None):
            seen.append("test_end")

        def on_epoch_end(self, epoch, logs=None):
            seen.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            seen.append("train_end")
    m = _compiled_mlp(K)
    x, y = _xy()
    m.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[Record()], verbose=0)
    return seen


@case()
def case_callback_batch_aliases(K):
    seen = []

    class Record(K.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(f"begin {batch}")

        def on_batch_end(self, batch, logs=None):
            seen.append(f"end {batch}")
    m = _compiled_mlp(K)
    m.fit(*_xy(), batch_size=4, epochs=1, callbacks=[Record()], verbose=0)
    return seen


@case()
def case_early_stopping_stops(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.0))
    x, y = _xy()
    h = m.fit(x, y, epochs=10, batch_size=8, verbose=0, shuffle=False,
              callbacks=[K.callbacks.EarlyStopping(monitor="loss", patience=2)])
    return len(h.history["loss"])


@case()
def case_fit_before_compile_raises(K):
    m = _mlp(K)
    return observe_error(lambda: m.fit(*_xy(), verbose=0))


@case()
def case_wrong_feature_count_raises(K):
    m = _compiled_mlp(K)
    return observe_error(lambda: m.fit(data(8, 5), data(8, low=0, high=3), verbose=0))


@case()
def case_save_and_load_model_predicts_the_same(K, tmp=None):
    import os
    import tempfile
    m = _compiled_mlp(K)
    x = data(5, 4)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        m.save(path)
        loaded = K.models.load_model(path) if hasattr(K, "models") else K.load_model(path)
        return np.abs(loaded.predict(x, verbose=0) - m.predict(x, verbose=0)).max() < 1e-6


@case()
def case_get_set_weights_round_trip(K):
    a, b = seed_weights(_mlp(K), seed=4), _mlp(K)
    b.set_weights(a.get_weights())
    x = data(3, 4)
    return [a.predict(x, verbose=0), b.predict(x, verbose=0)]


@case()
def case_trainable_false_freezes(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.SGD(learning_rate=0.1), metrics=())
    m.layers[0].trainable = False
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    before = m.layers[0].get_weights()
    m.train_on_batch(*_xy())
    after = m.layers[0].get_weights()
    return {"trainable": len(m.trainable_weights), "non_trainable": len(m.non_trainable_weights),
            "unchanged": all(np.array_equal(p, q) for p, q in zip(before, after))}


@case()
def case_model_inside_sequential_trains(K):
    inner = seed_weights(_mlp(K))
    outer = K.Sequential([K.Input((4,)), inner, K.layers.Dense(2)])
    outer.compile(optimizer="sgd", loss="mse")
    return {"trainable": len(outer.trainable_weights), "params": outer.count_params()}


@case()
def case_input_batch_shape(K):
    inp = K.Input(batch_shape=(None, 4))
    m = K.Model(inp, K.layers.Dense(2)(inp))
    return shape_of(m.output)


@case()
def case_sequential_pop(K):
    m = _mlp(K)
    m.pop()
    return {"n_layers": len(m.layers), "output": tuple(m.output_shape)}


@case()
def case_to_categorical(K):
    return K.utils.to_categorical(np.array([2, 0, 1]), num_classes=4)


@case()
def case_sequential_pop_then_add_trains(K):
    m = _mlp(K)
    m.pop()
    m.add(K.layers.Dense(2, activation="softmax"))
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    x, y = data(6, 4), data(6, low=0, high=2)
    m.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    return {"weights": m.get_weights(), "output": tuple(m.output_shape)}



@case()
def case_fit_rmsprop_momentum_centered(K):
    m = _compiled_mlp(K, optimizer=K.optimizers.RMSprop(learning_rate=0.02, rho=0.8, momentum=0.5, centered=True),
                      metrics=())
    x, y = _xy(8)
    m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return m.get_weights()


def _dict_output_model(K):
    inp = K.Input((4,), name="x")
    h = K.layers.Dense(6, activation="relu")(inp)
    reg = K.layers.Dense(1, name="reg_head")(h)
    cls = K.layers.Dense(3, activation="softmax", name="cls_head")(h)
    return seed_weights(K.Model(inp, {"reg": reg, "cls": cls}))   # insertion order is not key order


def _dict_targets(n=16):
    return {"reg": data(n, 1, seed=5), "cls": data(n, low=0, high=3, seed=6)}


@case()
def case_dict_outputs_predict_and_names(K):
    m = _dict_output_model(K)
    p = m.predict(data(8, 4), verbose=0)
    return {"kind": kind(p), "keys": sorted(p), "p": p, "names": list(m.output_names),
            "output_shape": m.output_shape}


@case(rtol=1e-3, atol=1e-4)
def case_dict_outputs_fit_losses_weights_metrics_by_key(K):
    m = _dict_output_model(K)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05),
              loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
              loss_weights={"reg": 0.25, "cls": 1.0}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    h = m.fit(data(16, 4), _dict_targets(), epochs=2, batch_size=4, shuffle=False, verbose=0)
    ev = m.evaluate(data(16, 4), _dict_targets(), verbose=0, return_dict=True)
    return {"history": h.history, "evaluate": ev, "weights": m.get_weights()}


@case()
def case_dict_outputs_evaluate_list_order(K):
    m = _dict_output_model(K)
    m.compile(optimizer="sgd", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
              metrics={"cls": ["accuracy"]})
    return m.evaluate(data(16, 4), _dict_targets(), verbose=0)


@case()
def case_dict_outputs_missing_loss_key_trains_the_rest(K):
    m = _dict_output_model(K)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss={"cls": "sparse_categorical_crossentropy"})
    h = m.fit(data(16, 4), {"cls": _dict_targets()["cls"]}, epochs=1, batch_size=8, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_dict_inputs_fed_by_key(K):
    a, b = K.Input((3,), name="in_a"), K.Input((2,), name="in_b")
    out = K.layers.Dense(2)(K.layers.Concatenate()([a, b]))
    m = seed_weights(K.Model({"left": a, "right": b}, out))
    x = {"left": data(5, 3), "right": data(5, 2, seed=3)}
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="mse")
    m.fit(x, data(5, 2, seed=4), epochs=1, batch_size=5, verbose=0)
    return {"p": m.predict(x, verbose=0), "eager": to_numpy(m(x))}


@case()
def case_dict_output_model_called_on_symbolic_input(K):
    inner = _dict_output_model(K)
    inp = K.Input((4,))
    out = inner(inp)
    outer = K.Model(inp, out["cls"])
    return {"kind": kind(out), "keys": sorted(out), "shape": tuple(outer.output_shape),
            "p": outer.predict(data(3, 4), verbose=0)}


@case()
def case_dict_output_model_eager_call(K):
    p = _dict_output_model(K)(data(3, 4))
    return {"kind": kind(p), "p": {k: to_numpy(v) for k, v in p.items()}}


@case()
def case_dict_output_model_save_load(K):
    import os
    import tempfile
    m = _dict_output_model(K)
    x = data(5, 4)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        m.save(path)
        loaded = K.models.load_model(path)
        p, q = m.predict(x, verbose=0), loaded.predict(x, verbose=0)
        return {"keys": sorted(q), "same": all(np.abs(p[k] - q[k]).max() < 1e-6 for k in p)}


@case()
def case_evaluate_list_follows_compile_metric_order(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(2, activation="softmax")])
    seed_weights(m)
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["mae", "accuracy"])
    y = np.eye(2, dtype=np.float32)[data(16, low=0, high=2, seed=2)]
    return {"list": m.evaluate(data(16, 4), y, verbose=0), "names": m.metrics_names}


@case()
def case_multi_output_evaluate_list_follows_loss_dict_order(K):
    inp = K.Input((4,), name="x")
    h = K.layers.Dense(6, activation="relu")(inp)
    outs = [K.layers.Dense(1, name="a_head")(h), K.layers.Dense(1, name="b_head")(h), K.layers.Dense(1, name="c_head")(h)]
    m = seed_weights(K.Model(inp, outs))
    m.compile(optimizer="sgd", loss={"c_head": "mse", "a_head": "mae", "b_head": "mse"},
              metrics={"b_head": ["mae"], "a_head": ["mse"]})
    y = [data(8, 1, seed=s) for s in (3, 4, 5)]
    return {"list": m.evaluate(data(8, 4), y, verbose=0), "names": m.metrics_names}


@case()
def case_functional_layer_order_is_by_depth(K):
    inp = K.Input((4,), name="x")
    h = K.layers.Dense(6, activation="relu", name="h")(inp)
    reg, cls = K.layers.Dense(1, name="reg_head")(h), K.layers.Dense(3, name="cls_head")(h)
    deep = K.layers.Dense(3, name="deep2")(K.layers.Dense(3, name="deep1")(inp))
    a, b = K.Input((3,), name="b_in"), K.Input((3,), name="a_in")
    two = K.Model([a, b], K.layers.Add(name="add")([K.layers.Dense(3, name="db")(b), K.layers.Dense(3, name="da")(a)]))
    m = K.Model(inp, [reg, deep, cls])
    return {"layers": [layer.name for layer in m.layers], "weights": [tuple(w.shape) for w in m.get_weights()],
            "two": [layer.name for layer in two.layers]}


@case()
def case_metrics_names_before_and_after_compile(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(1)])
    seen = [list(m.metrics_names)]
    m.compile(optimizer="sgd", loss="mse")
    seen.append(list(m.metrics_names))
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    seen.append(list(m.metrics_names))
    inp = K.Input((4,))
    two = K.Model(inp, [K.layers.Dense(1, name="first")(inp), K.layers.Dense(1, name="second")(inp)])
    two.compile(optimizer="sgd", loss=["mse", "mse"])
    seen.append(list(two.metrics_names))
    two.fit(data(8, 4), [data(8, 1), data(8, 1, seed=2)], verbose=0)
    seen.append(list(two.metrics_names))
    return seen
