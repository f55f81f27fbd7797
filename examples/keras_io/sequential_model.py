"""keras.io guide "The Sequential model", on scikit-learn's digits (offline).

Builds Sequential models the guide's ways (a list, `add()`, `keras.Input`, `pop()`), reads weights
and `summary()`, extracts every layer's features with a functional Model over `model.inputs`
and `layer.output`, then does the guide's transfer learning: freeze all layers but the last and
train a new head.
Run: python examples/keras_io/sequential_model.py [--keras] [--epochs N]
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
    x = (d.data / 16.0).astype("float32")
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def main(epochs=10, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()

    # the guide's three ways of making the same model
    model = keras.Sequential([
        layers.Dense(2, activation="relu"),
        layers.Dense(3, activation="relu"),
        layers.Dense(4),
    ])
    model = keras.Sequential(name="my_sequential")
    model.add(layers.Dense(2, activation="relu", name="layer1"))
    model.add(layers.Dense(3, activation="relu", name="layer2"))
    model.add(layers.Dense(4, name="layer3"))
    model.pop()
    n_layers = len(model.layers)
    model(np.ones((3, 3), "float32"))            # built by its first call
    weights_after_call = len(model.weights)

    model = keras.Sequential([
        keras.Input(shape=(64,)),
        layers.Dense(64, activation="relu", name="hidden_1"),
        layers.Dense(32, activation="relu", name="hidden_2"),
        layers.Dense(10, activation="softmax", name="classifier"),
    ])
    if verbose:
        model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=verbose)

    # feature extraction with a Sequential model
    feature_extractor = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    features = feature_extractor(x_test[:5])

    # transfer learning: freeze all layers except the last one, train a new head for "digit >= 5"
    for layer in model.layers[:-1]:
        layer.trainable = False
    base = keras.Model(inputs=model.inputs, outputs=model.get_layer("hidden_2").output)
    base.trainable = False
    head = keras.Sequential([base, layers.Dense(1, activation="sigmoid")])
    head.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    frozen = [w.copy() for w in base.get_weights()]
    head.fit(x_train, (y_train >= 5).astype("float32").reshape(-1, 1), batch_size=32, epochs=epochs,
             verbose=verbose)
    seconds = time.perf_counter() - start
    unchanged = all(np.array_equal(a, b) for a, b in zip(frozen, base.get_weights()))

    _, acc = model.evaluate(x_test, y_test, verbose=0)
    _, head_acc = head.evaluate(x_test, (y_test >= 5).astype("float32").reshape(-1, 1), verbose=0)
    print(f"layers after pop: {n_layers}, weights after the first call: {weights_after_call}")
    print(f"feature maps: {[tuple(f.shape) for f in features]}; frozen base unchanged: {unchanged}")
    print(f"transfer head accuracy: {head_acc:.4f}")
    print(f"accuracy: {acc:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(acc), "head_accuracy": float(head_acc), "frozen_unchanged": unchanged,
            "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 10, verbose=2)
