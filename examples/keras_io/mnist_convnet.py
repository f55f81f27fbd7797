"""keras.io "Simple MNIST convnet", on scikit-learn's 8x8 digits (offline).

Conv2D(32) -> MaxPooling2D -> Conv2D(64) -> MaxPooling2D -> Flatten -> Dropout(0.5) -> Dense(10),
categorical crossentropy, Adam, validation_split=0.1, as the keras.io example; the 8x8 images
take padding="same" convolutions where MNIST's 28x28 take "valid" ones.
Run: python examples/keras_io/mnist_convnet.py [--keras] [--epochs N]
     (--keras, or KERAS_IO_BACKEND=keras: the same program on Keras 3 with the torch backend)
"""
import os
import sys
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers
else:
    import dptrain as keras
    from dptrain import layers


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images / 16.0).astype("float32")
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def main(epochs=15, verbose=0):
    keras.utils.set_random_seed(0)
    num_classes, input_shape = 10, (8, 8, 1)
    x_train, x_test, y_train, y_test = load_data()
    x_train, x_test = np.expand_dims(x_train, -1), np.expand_dims(x_test, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), padding="same", activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    if verbose:
        model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=epochs, validation_split=0.1, verbose=verbose)
    seconds = time.perf_counter() - start
    score = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test loss: {score[0]:.4f}")
    print(f"accuracy: {score[1]:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(score[1]), "loss": float(score[0]), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 15, verbose=2)
