"""The README MLP (Dense 128 relu -> Dropout 0.3 -> Dense 10 softmax) on scikit-learn's digits.

8x8 images flattened to 64 features, 1437 training and 360 test images.
Run: python examples/keras_mlp_digits.py   (a few seconds; prints the test accuracy)
"""
import numpy as np

import dptrain as dt
from dptrain import layers


def load_digits(seed=0):
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split
    d = _load()
    x = (d.images / 16.0).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.2, random_state=seed, stratify=d.target)


def main(epochs=40, verbose=0):
    dt.ag.manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits()
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    y_train_1h = np.eye(10, dtype=np.float32)[y_train]
    y_test_1h = np.eye(10, dtype=np.float32)[y_test]

    model = dt.Sequential([
        layers.Dense(128, activation="relu", input_shape=(64,)),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    if verbose:
        model.summary()
    history = model.fit(x_train, y_train_1h, epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose)
    result = model.evaluate(x_test, y_test_1h, return_dict=True)
    print(f"MLP on digits: test loss {result['loss']:.4f}, test accuracy {result['accuracy']:.4f} "
          f"(final val_accuracy {history.history['val_accuracy'][-1]:.4f})")
    return result


if __name__ == "__main__":
    main(verbose=2)
