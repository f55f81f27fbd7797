"""Parity cases: optimizers (weights after a few steps), learning-rate schedules, callbacks,
keras.utils, keras.config, clone_model and custom-object registration."""
import os
import tempfile

import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights


def _model(K):
    return K.Sequential([K.Input((4,)), K.layers.Dense(5, activation="tanh"), K.layers.Dense(3, activation="softmax")])


def _xy(n=12):
    return data(n, 4), data(n, low=0, high=3)


def _fit_weights(K, optimizer, steps=3, batch_size=4, epochs=1):
    """Weights after `steps * epochs` updates on the same model, weights and data."""
    m = seed_weights(_model(K))
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    x, y = _xy(steps * batch_size)
    m.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return m.get_weights()


# --- each optimizer: weights after 3 steps -------------------------------------------------------
@case()
def case_adagrad_weights(K):
    return _fit_weights(K, K.optimizers.Adagrad(learning_rate=0.1))


@case()
def case_adagrad_arguments(K):
    return _fit_weights(K, K.optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.3, epsilon=1e-3))


@case()
def case_adadelta_weights(K):
    return _fit_weights(K, K.optimizers.Adadelta(learning_rate=1.0, rho=0.9))


@case()
def case_adadelta_defaults(K):
    return _fit_weights(K, K.optimizers.Adadelta())


@case()
def case_adamax_weights(K):
    return _fit_weights(K, K.optimizers.Adamax(learning_rate=0.02, beta_1=0.8, beta_2=0.99))


@case()
def case_nadam_weights(K):
    return _fit_weights(K, K.optimizers.Nadam(learning_rate=0.02))


@case()
def case_nadam_two_epochs(K):
    return _fit_weights(K, K.optimizers.Nadam(learning_rate=0.01, beta_1=0.85, epsilon=1e-5), epochs=2)


@case()
def case_lion_weights(K):
    return _fit_weights(K, K.optimizers.Lion(learning_rate=0.01))


@case()
def case_lion_weight_decay(K):
    return _fit_weights(K, K.optimizers.Lion(learning_rate=0.01, beta_1=0.8, beta_2=0.9, weight_decay=0.1))


@case()
def case_adam_weight_decay_and_adamw(K):
    return {"adam": _fit_weights(K, K.optimizers.Adam(learning_rate=0.02, weight_decay=0.05)),
            "adamw": _fit_weights(K, K.optimizers.AdamW(learning_rate=0.02))}


@case()
def case_weight_decay_on_every_new_optimizer(K):
    return [_fit_weights(K, cls(learning_rate=0.05, weight_decay=0.2))
            for cls in (K.optimizers.Adagrad, K.optimizers.Adadelta, K.optimizers.Adamax, K.optimizers.Nadam,
                        K.optimizers.SGD)]


@case()
def case_optimizer_default_arguments(K):
    out = {}
    for name in ("Adagrad", "Adadelta", "Adamax", "Nadam", "Lion", "SGD", "Adam", "AdamW", "RMSprop"):
        cfg = getattr(K.optimizers, name)().get_config()
        out[name] = {k: (float(v) if isinstance(v, float) else v) for k, v in sorted(cfg.items())}
    return out


@case()
def case_optimizer_by_name(K):
    return [_fit_weights(K, name, steps=2) for name in ("adagrad", "adamax", "nadam", "lion")]


# --- clipping, EMA ----------------------------------------------------------------------------
@case()
def case_clipnorm_sgd(K):
    return _fit_weights(K, K.optimizers.SGD(learning_rate=0.5, clipnorm=0.05))


@case()
def case_global_clipnorm_adam(K):
    return _fit_weights(K, K.optimizers.Adam(learning_rate=0.05, global_clipnorm=0.1))


@case()
def case_clipvalue_sgd_momentum(K):
    return _fit_weights(K, K.optimizers.SGD(learning_rate=0.5, momentum=0.9, clipvalue=0.01))


@case()
def case_two_clip_arguments_raise(K):
    return observe_error(lambda: K.optimizers.SGD(clipnorm=1.0, clipvalue=1.0))


@case()
def case_ema_overwritten_every_step(K):
    return _fit_weights(K, K.optimizers.SGD(learning_rate=0.5, use_ema=True, ema_momentum=0.5,
                                            ema_overwrite_frequency=1))


@case()
def case_ema_weights_at_the_end_of_fit(K):
    return _fit_weights(K, K.optimizers.Adam(learning_rate=0.05, use_ema=True, ema_momentum=0.6))


# --- the learning rate on model.optimizer, and schedules -----------------------------------------
@case()
def case_learning_rate_readable_and_settable(K):
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    before = float(m.optimizer.learning_rate)
    m.optimizer.learning_rate = 0.05
    m.fit(*_xy(), batch_size=4, shuffle=False, verbose=0)
    return {"before": before, "after": float(m.optimizer.learning_rate), "iterations": int(m.optimizer.iterations),
            "weights": m.get_weights()}


@case()
def case_schedule_as_learning_rate(K):
    s = K.optimizers.schedules.ExponentialDecay(0.5, decay_steps=2, decay_rate=0.3)
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=s), loss="sparse_categorical_crossentropy")
    m.fit(*_xy(), batch_size=4, shuffle=False, verbose=0)
    return {"lr_now": float(m.optimizer.learning_rate), "weights": m.get_weights(),
            "set_float": observe_error(lambda: setattr(m.optimizer, "learning_rate", 0.1))}


@case()
def case_sgd_momentum_with_a_schedule(K):
    s = K.optimizers.schedules.PiecewiseConstantDecay([0, 1], [0.5, 0.2, 0.05])
    return _fit_weights(K, K.optimizers.SGD(learning_rate=s, momentum=0.9, nesterov=True), epochs=2)


@case()
def case_cosine_warmup_adam(K):
    s = K.optimizers.schedules.CosineDecay(0.0, decay_steps=4, warmup_target=0.05, warmup_steps=2, alpha=0.1)
    return _fit_weights(K, K.optimizers.Adam(learning_rate=s), epochs=2)


def _schedules(K):
    S = K.optimizers.schedules
    return [S.ExponentialDecay(0.1, 3, 0.5), S.ExponentialDecay(0.1, 3, 0.5, staircase=True),
            S.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1]),
            S.PolynomialDecay(0.1, 5, end_learning_rate=0.01, power=2.0),
            S.PolynomialDecay(0.1, 4, cycle=True), S.InverseTimeDecay(0.1, 2, 0.5),
            S.InverseTimeDecay(0.1, 2, 0.5, staircase=True), S.CosineDecay(0.1, 6, alpha=0.2),
            S.CosineDecay(0.01, 5, warmup_target=0.1, warmup_steps=3),
            S.CosineDecayRestarts(0.1, 3), S.CosineDecayRestarts(0.1, 2, t_mul=1.0, m_mul=0.5, alpha=0.1)]


@case()
def case_schedule_values(K):
    return [[float(s(step)) for step in range(12)] for s in _schedules(K)]


@case()
def case_schedule_configs_round_trip(K):
    out = []
    for s in _schedules(K):
        cfg = s.get_config()
        again = type(s).from_config(cfg)
        out.append({"config": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in sorted(cfg.items())},
                    "same": [float(again(t)) for t in (0, 3, 7)]})
    return out


@case()
def case_schedule_errors(K):
    S = K.optimizers.schedules
    return [observe_error(lambda: S.ExponentialDecay(0.1, 0, 0.5)),
            observe_error(lambda: S.PiecewiseConstantDecay([1, 2], [0.1])),
            observe_error(lambda: S.CosineDecayRestarts(0.1, 0))]


# --- callbacks --------------------------------------------------------------------------------
@case()
def case_lambda_callback(K):
    seen = []
    cb = K.callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append(f"epoch_begin {epoch}"),
        on_train_batch_end=lambda batch, logs: seen.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: seen.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: seen.append("train_end"))
    m = seed_weights(_model(K))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(*_xy(8), batch_size=4, epochs=2, callbacks=[cb], verbose=0)
    return seen


@case()
def case_terminate_on_nan_stops_after_the_epoch(K):
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=1e30), loss="mse")
    x, y = data(12, 4), np.full((12, 3), 1e30, np.float32)
    h = m.fit(x, y, batch_size=4, epochs=5, callbacks=[K.callbacks.TerminateOnNaN()], verbose=0)
    return {"epochs": len(h.history["loss"]), "finite": bool(np.isfinite(h.history["loss"][-1]))}


@case()
def case_terminate_on_nan_stops_at_the_batch(K):
    batches = []
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=1e30), loss="mse")
    x, y = data(12, 4), np.full((12, 3), 1e30, np.float32)
    count = K.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))
    m.fit(x, y, batch_size=2, epochs=2, callbacks=[K.callbacks.TerminateOnNaN(), count], verbose=0)
    return batches


@case()
def case_reduce_lr_on_plateau_and_scheduler_logs(K):
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    h = m.fit(*_xy(), batch_size=6, epochs=4, verbose=0, shuffle=False,
              callbacks=[K.callbacks.LearningRateScheduler(lambda epoch, lr: 0.0 if epoch < 2 else 0.1),
                         K.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)])
    return {"lr": h.history["learning_rate"], "weights": m.get_weights()}


@case()
def case_model_checkpoint_every_two_batches(K):
    m = seed_weights(_model(K))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with tempfile.TemporaryDirectory() as d:
        cb = K.callbacks.ModelCheckpoint(os.path.join(d, "ck-{epoch}-{batch}.keras"), save_freq=2)
        m.fit(*_xy(), batch_size=4, epochs=2, callbacks=[cb], verbose=0)
        return sorted(os.listdir(d))


@case()
def case_model_checkpoint_bad_save_freq(K):
    return observe_error(lambda: K.callbacks.ModelCheckpoint("x.keras", save_freq="batch"))


@case()
def case_history_is_exported(K):
    m = seed_weights(_model(K))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = m.fit(*_xy(), batch_size=6, epochs=2, verbose=0)
    return {"is_history": isinstance(h, K.callbacks.History), "epoch": h.epoch}


# --- keras.utils, keras.config, models ---------------------------------------------------------
@case()
def case_normalize(K):
    x = data(4, 3)
    x[1] = 0.0
    return [K.utils.normalize(x), K.utils.normalize(x, axis=1, order=1), K.utils.normalize(x[0])]


@case()
def case_pad_sequences(K):
    seqs = [[1, 2, 3, 4, 5], [6], [], [7, 8]]
    P = K.utils.pad_sequences
    return [P(seqs), P(seqs, maxlen=3), P(seqs, maxlen=3, padding="post", truncating="post"),
            P(seqs, maxlen=4, value=-1, padding="post"), P([[0.5, 1.5], [2.5]], dtype="float32"),
            P([[[1, 2], [3, 4]], [[5, 6]]], maxlen=3)]


@case()
def case_pad_sequences_errors(K):
    P = K.utils.pad_sequences
    return [observe_error(lambda: P([[1]], padding="middle")), observe_error(lambda: P([[1], 2])),
            observe_error(lambda: P([[1]], value="x"))]


@case()
def case_split_dataset_sizes(K):
    def lengths(split):
        return [len(part) for part in split]
    # arrays only: Keras returns a torch Dataset of samples for a tuple, dptrain a tuple of arrays
    x, y = np.arange(10), np.arange(10) * 2
    return [lengths(K.utils.split_dataset(x, left_size=0.7)), lengths(K.utils.split_dataset(y, right_size=3)),
            lengths(K.utils.split_dataset(x, left_size=4, right_size=6)),
            observe_error(lambda: K.utils.split_dataset(x, left_size=1.5))]


@case()
def case_pydataset_fit(K):
    class Batches(K.utils.PyDataset):
        def __init__(self, x, y, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y = x, y

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.x[4 * i:4 * i + 4], self.y[4 * i:4 * i + 4]
    m = seed_weights(_model(K))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    ds = Batches(*_xy())
    m.fit(ds, epochs=2, shuffle=False, verbose=0)
    return {"len": len(ds), "weights": m.get_weights()}


@case()
def case_config(K):
    return {"floatx": K.config.floatx(), "image_data_format": K.config.image_data_format(),
            "epsilon": K.config.epsilon()}


@case()
def case_clone_model(K):
    m = seed_weights(_model(K))
    c = K.models.clone_model(m)
    same = all(np.array_equal(a, b) for a, b in zip(m.get_weights(), c.get_weights()))
    return {"params": c.count_params(), "shapes": [tuple(w.shape) for w in c.get_weights()], "same_weights": same,
            "layers": [type(x).__name__ for x in c.layers], "new_object": c is not m}


@case()
def case_register_keras_serializable_round_trip(K):
    @K.saving.register_keras_serializable(package="Parity")
    class ParityTimesTwo(K.layers.Layer):
        def call(self, x):
            return x * 2.0

    m = K.Sequential([K.Input((4,)), K.layers.Dense(3), ParityTimesTwo()])
    seed_weights(m)
    x = data(2, 4)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.keras")
        K.saving.save_model(m, path)
        loaded = K.saving.load_model(path)
        return {"name": K.saving.get_registered_name(ParityTimesTwo), "kind": type(loaded.layers[-1]).__name__,
                "p": loaded.predict(x, verbose=0), "same": m.predict(x, verbose=0)}


@case()
def case_optimizer_config_round_trip(K):
    s = K.optimizers.schedules.InverseTimeDecay(0.1, 2, 0.5)
    opt = K.optimizers.Nadam(learning_rate=s, beta_1=0.8, clipnorm=1.5)
    again = K.optimizers.Nadam.from_config(opt.get_config())
    return {"beta_1": again.beta_1, "clipnorm": again.clipnorm, "lr": float(again.learning_rate),
            "config_lr": again.get_config()["learning_rate"]["config"]}
