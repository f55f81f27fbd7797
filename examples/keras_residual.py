"""A functional residual network: two residual blocks x + F(x) (layers.Add) on the digits.

Input(64) -> Dense 64 relu -> [Dense 64 relu -> Dense 64 -> Add(skip) -> relu] x 2
-> Dense 10 softmax. Prints the test accuracy.
"""
import dptrain as dt
from dptrain import layers
from keras_mlp_digits import load_digits


def residual_block(x, units, name):
    h = layers.Dense(units, activation="relu", name=f"{name}_a")(x)
    h = layers.Dense(units, name=f"{name}_b")(h)
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, h]))


def main(epochs=30, verbose=0):
    dt.ag.manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits()
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)

    inp = dt.Input(shape=(64,), name="pixels")
    x = layers.Dense(64, activation="relu", name="stem")(inp)
    x = residual_block(x, 64, "block1")
    x = residual_block(x, 64, "block2")
    out = layers.Dense(10, activation="softmax", name="digit")(x)
    model = dt.Model(inputs=inp, outputs=out, name="resnet_mlp")
    model.compile(optimizer=dt.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if verbose:
        model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    result = model.evaluate(x_test, y_test, return_dict=True)
    print(f"Residual model on digits: test accuracy {result['accuracy']:.4f}")
    return result


if __name__ == "__main__":
    main(verbose=2)
