"""A two-input model: the top and bottom halves of each digit image enter separately,
each through its own Dense branch, and are joined by Concatenate. Prints the test accuracy."""
import dptrain as dt
from dptrain import layers
from keras_mlp_digits import load_digits


def halves(x):
    return x[:, :4].reshape(len(x), -1), x[:, 4:].reshape(len(x), -1)


def main(epochs=30, verbose=0):
    dt.ag.manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits()
    top = dt.Input(shape=(32,), name="top")
    bottom = dt.Input(shape=(32,), name="bottom")
    a = layers.Dense(48, activation="relu", name="top_branch")(top)
    b = layers.Dense(48, activation="relu", name="bottom_branch")(bottom)
    h = layers.Dense(64, activation="relu")(layers.Concatenate()([a, b]))
    out = layers.Dense(10, activation="softmax", name="digit")(h)
    model = dt.Model(inputs=[top, bottom], outputs=out, name="two_halves")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if verbose:
        model.summary()
    model.fit(list(halves(x_train)), y_train, epochs=epochs, batch_size=32, verbose=verbose)
    result = model.evaluate({"top": halves(x_test)[0], "bottom": halves(x_test)[1]}, y_test, return_dict=True)
    print(f"Two-input model on digit halves: test accuracy {result['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main(verbose=2)
