"""keras.io "Timeseries classification from scratch" (FordA), on generated series (offline).

Two classes of univariate series of length 64: a noisy sine whose frequency depends on the
class. The keras.io model: three Conv1D(64, 3, "same") + BatchNormalization + ReLU blocks,
GlobalAveragePooling1D, Dense softmax; sparse categorical crossentropy, Adam, validation_split,
callbacks ModelCheckpoint(save_best_only), ReduceLROnPlateau and EarlyStopping.
Run: python examples/keras_io/timeseries_classification_from_scratch.py [--keras] [--epochs N]
"""
import os
import sys
import tempfile
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
else:
    import dptrain as keras


def make_series(n, length=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.arange(length)[None, :]
    freq = np.where(y == 1, 0.18, 0.12)[:, None] * rng.uniform(0.9, 1.1, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * freq * t / 2 + phase) + 0.6 * rng.normal(size=(n, length))
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x.reshape(n, length, 1).astype("float32"), y


def make_model(input_shape, num_classes):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


def main(epochs=20, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, y_train = make_series(600, seed=0)
    x_test, y_test = make_series(300, seed=1)
    num_classes = len(np.unique(y_train))
    idx = np.random.default_rng(0).permutation(len(x_train))
    x_train, y_train = x_train[idx], y_train[idx]

    model = make_model(input_shape=x_train.shape[1:], num_classes=num_classes)
    folder = tempfile.mkdtemp()
    callbacks = [
        keras.callbacks.ModelCheckpoint(os.path.join(folder, "best_model.keras"), save_best_only=True,
                                        monitor="val_loss"),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5, min_lr=0.0001),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, verbose=1),
    ]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, callbacks=callbacks,
                        validation_split=0.2, verbose=verbose)
    seconds = time.perf_counter() - start
    model = keras.models.load_model(os.path.join(folder, "best_model.keras"))
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"epochs run: {len(history.history['loss'])}")
    print(f"Test loss: {test_loss:.4f}")
    print(f"accuracy: {test_acc:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(test_acc), "loss": float(test_loss), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 20, verbose=2)
