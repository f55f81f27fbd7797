"""A Siamese model: one encoder layer stack shared by two inputs (one set of weights),
trained to tell whether two digit images show the same digit. Prints the test accuracy."""
import numpy as np

import dptrain as dt
from dptrain import layers
from keras_mlp_digits import load_digits


def make_pairs(x, y, n, rng):
    """Half same-digit pairs, half different-digit pairs."""
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    a = rng.integers(0, len(x), n)
    same = rng.random(n) < 0.5
    b = np.empty(n, np.int64)
    for i in range(n):
        c = y[a[i]] if same[i] else rng.choice([k for k in range(10) if k != y[a[i]]])
        b[i] = rng.choice(by_class[c])
    return x[a], x[b], same.astype(np.float32)


def main(epochs=15, verbose=0):
    dt.ag.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, x_test, y_train, y_test = load_digits()
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    a_train, b_train, s_train = make_pairs(x_train, y_train, 6000, rng)
    a_test, b_test, s_test = make_pairs(x_test, y_test, 1000, rng)

    encoder = dt.Sequential([layers.Dense(64, activation="relu", input_shape=(64,)),
                             layers.Dense(32, activation="relu")], name="encoder")
    left, right = dt.Input(shape=(64,), name="left"), dt.Input(shape=(64,), name="right")
    ea, eb = encoder(left), encoder(right)                    # one encoder, one set of weights
    h = layers.Dense(64, activation="relu")(layers.Concatenate()([ea, eb]))
    same = layers.Dense(1, activation="sigmoid", name="same")(h)
    model = dt.Model(inputs=[left, right], outputs=same, name="siamese")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    if verbose:
        model.summary()
    model.fit([a_train, b_train], s_train, epochs=epochs, batch_size=64, verbose=verbose)
    result = model.evaluate([a_test, b_test], s_test, return_dict=True)
    print(f"Siamese same-digit model: test accuracy {result['accuracy']:.4f} "
          f"(encoder weights shared: {len(encoder.weights)} arrays, {encoder.count_params()} params)")
    return result


if __name__ == "__main__":
    main(verbose=2)
