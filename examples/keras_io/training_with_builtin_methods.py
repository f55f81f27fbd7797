"""keras.io guide "Training & evaluation with the built-in methods", on scikit-learn's digits.

The guide's pieces, in order: compile/fit with validation_data and evaluate/predict; a custom
loss function and a custom Loss subclass; a custom Metric subclass (CategoricalTruePositives);
validation_split; class_weight; sample_weight; a multi-input multi-output model with per-output
losses and loss weights; callbacks EarlyStopping and ModelCheckpoint; a learning-rate schedule.
Run: python examples/keras_io/training_with_builtin_methods.py [--keras] [--epochs N]
"""
import os
import sys
import tempfile
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers, ops
else:
    import dptrain as keras
    from dptrain import layers, ops


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def get_uncompiled_model():
    inputs = keras.Input(shape=(64,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        # the guide writes `a == b`; dptrain tensors compare with ops.equal (`==` is not elementwise yet)
        values = ops.equal(ops.cast(y_true, "int32"), ops.cast(y_pred, "int32"))
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


def main(epochs=6, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    x_val, y_val = x_train[-200:], y_train[-200:]
    x_train, y_train = x_train[:-200], y_train[:-200]
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    out = {}
    start = time.perf_counter()

    # API overview: fit with validation_data, evaluate, predict
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_data=(x_val, y_val),
                        verbose=verbose)
    results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    predictions = model.predict(x_test[:3], verbose=0)
    out["accuracy"] = float(results[1])
    out["history_keys"] = sorted(history.history)

    # custom losses: a function and a Loss subclass
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    model.fit(x_train, y_train_1h, batch_size=64, epochs=1, verbose=verbose)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    model.fit(x_train, y_train_1h, batch_size=64, epochs=1, verbose=verbose)

    # a custom metric
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=[CategoricalTruePositives()])
    h = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=verbose)
    out["true_positives_last_epoch"] = float(h.history["categorical_true_positives"][-1])

    # validation_split
    model = get_compiled_model()
    h = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1, verbose=verbose)
    out["split_val_accuracy"] = float(h.history["val_sparse_categorical_accuracy"][-1])

    # class_weight: class 5 counts twice; sample_weight: the same through per-sample weights
    class_weight = {i: 1.0 for i in range(10)}
    class_weight[5] = 2.0
    model = get_compiled_model()
    model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=epochs, verbose=verbose)
    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    model = get_compiled_model()
    model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=epochs, verbose=verbose)
    p = model.predict(x_test, verbose=0).argmax(1)
    out["class5_recall"] = float((p[y_test == 5] == 5).mean())

    # multi-input, multi-output: per-output losses and loss weights
    image_input = keras.Input(shape=(8, 8, 1), name="img_input")
    timeseries_input = keras.Input(shape=(None, 8), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(10, name="class_output")(x)
    model = keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"score_output": 2.0, "class_output": 1.0})
    img = x_train.reshape(-1, 8, 8, 1)
    ts = x_train.reshape(-1, 8, 8)
    h = model.fit({"img_input": img, "ts_input": ts},
                  {"score_output": (y_train / 9.0).reshape(-1, 1).astype("float32"), "class_output": y_train_1h},
                  batch_size=32, epochs=2, verbose=verbose)
    out["multi_output_loss"] = float(h.history["loss"][-1])

    # callbacks: EarlyStopping, ModelCheckpoint, and a learning-rate schedule
    folder = tempfile.mkdtemp()
    initial_learning_rate = 0.01
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(initial_learning_rate, decay_steps=100000,
                                                              decay_rate=0.96, staircase=True)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
                  loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1),
        keras.callbacks.ModelCheckpoint(filepath=os.path.join(folder, "mymodel_{epoch}.keras"),
                                        save_best_only=True, monitor="val_loss", verbose=1),
    ]
    h = model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks, validation_split=0.2,
                  verbose=verbose)
    out["early_stopping_epochs"] = len(h.history["loss"])
    out["checkpoints"] = len(os.listdir(folder))
    seconds = time.perf_counter() - start
    out["seconds"] = seconds
    print(f"predictions shape: {predictions.shape}; history keys {out['history_keys']}")
    print(f"true positives (last epoch): {out['true_positives_last_epoch']:.0f}; class 5 recall "
          f"{out['class5_recall']:.3f}; multi-output loss {out['multi_output_loss']:.4f}")
    print(f"early stopping after {out['early_stopping_epochs']} epochs, {out['checkpoints']} checkpoints")
    print(f"accuracy: {out['accuracy']:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 6, verbose=0)
