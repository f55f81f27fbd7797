"""The README CNN on scikit-learn's 8x8 digits.

README layout (Conv2D 32 3x3 relu -> MaxPooling2D -> Conv2D 64 3x3 relu -> MaxPooling2D
-> Flatten -> Dense 10 softmax), with padding="same" so that two 2x2 poolings fit an 8x8
image (8 -> 4 -> 2); channels-last input [N, 8, 8, 1].
Run: python examples/keras_cnn_digits.py   (a few seconds; prints the test accuracy)
"""
import dptrain as dt
from dptrain import layers
from keras_mlp_digits import load_digits


def main(epochs=25, verbose=0):
    dt.ag.manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits()
    x_train, x_test = x_train[..., None], x_test[..., None]        # [N, 8, 8, 1]

    model = dt.Sequential([
        layers.Conv2D(32, (3, 3), activation="relu", padding="same", input_shape=(8, 8, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if verbose:
        model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    result = model.evaluate(x_test, y_test, return_dict=True)
    print(f"CNN on digits: test loss {result['loss']:.4f}, test accuracy {result['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main(verbose=2)
