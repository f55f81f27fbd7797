"""A two-output model on the digits: the digit (softmax, sparse categorical crossentropy)
and whether it is even (sigmoid, binary crossentropy), with loss_weights. Prints both accuracies."""
import numpy as np

import dptrain as dt
from dptrain import layers
from keras_mlp_digits import load_digits


def main(epochs=30, verbose=0):
    dt.ag.manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits()
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    even_train = (y_train % 2 == 0).astype(np.float32)
    even_test = (y_test % 2 == 0).astype(np.float32)

    inp = dt.Input(shape=(64,))
    h = layers.Dense(128, activation="relu")(inp)
    h = layers.Dropout(0.2)(h)
    digit = layers.Dense(10, activation="softmax", name="digit")(h)
    even = layers.Dense(1, activation="sigmoid", name="even")(h)
    model = dt.Model(inputs=inp, outputs=[digit, even], name="digit_and_parity")
    model.compile(optimizer="adam",
                  loss={"digit": "sparse_categorical_crossentropy", "even": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "even": 0.5},
                  metrics={"digit": ["accuracy"], "even": ["accuracy"]})
    if verbose:
        model.summary()
    model.fit(x_train, {"digit": y_train, "even": even_train}, epochs=epochs, batch_size=32, verbose=verbose)
    result = model.evaluate(x_test, [y_test, even_test], return_dict=True)
    print(f"Two-output model: digit accuracy {result['digit_accuracy']:.4f}, "
          f"parity accuracy {result['even_accuracy']:.4f} (total loss {result['loss']:.4f})")
    return result


if __name__ == "__main__":
    main(verbose=2)
