"""keras.io guide "Making new layers and models via subclassing", on scikit-learn's digits.

The guide's pieces: a Linear layer with `add_weight` (and its build-deferred form), a layer with
a non-trainable weight (ComputeSum), layers inside layers (MLPBlock), `add_loss` from a layer
(ActivityRegularizationLayer), `get_config`, a `training` argument, and a subclassed Model made of
those layers (an MLP with an activity-regularised hidden layer) trained with compile / fit.
Run: python examples/keras_io/making_new_layers_and_models_via_subclassing.py [--keras] [--epochs N]
"""
import os
import sys
import time

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import ops
else:
    import dptrain as keras
    from dptrain import ops


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class ComputeSum(keras.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


class MLPBlock(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = self.linear_1(inputs)
        x = keras.activations.relu(x)
        x = self.linear_2(x)
        x = keras.activations.relu(x)
        return self.linear_3(x)


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


class CustomDropout(keras.layers.Layer):
    """The guide's layer with a `training` argument (it draws its mask with keras.random.dropout,
    which dptrain does not have yet; a Dropout sublayer does the same)."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.dropout = keras.layers.Dropout(rate)

    def call(self, inputs, training=None):
        if training:
            return self.dropout(inputs, training=True)
        return inputs


class DigitClassifier(keras.Model):
    """A subclassed Model from the layers above: Linear -> relu -> activity regulariser -> Linear."""

    def __init__(self, hidden=64, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Linear(hidden)
        self.regularizer = ActivityRegularizationLayer(1e-3)
        self.dropout = CustomDropout(0.1)
        self.classifier = Linear(num_classes)

    def call(self, inputs, training=None):
        x = keras.activations.relu(self.hidden(inputs))
        x = self.regularizer(x)
        x = self.dropout(x, training=training)
        return keras.activations.softmax(self.classifier(x))


def main(epochs=10, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()

    linear_layer = Linear(4)
    y = linear_layer(ops.ones((2, 2)))
    n_linear_weights = len(linear_layer.weights)
    my_sum = ComputeSum(2)
    my_sum(ops.ones((2, 2)))
    total = keras.ops.convert_to_numpy(my_sum(ops.ones((2, 2))))
    mlp = MLPBlock()
    mlp(ops.ones(shape=(3, 64)))
    n_mlp_weights = len(mlp.weights)
    reg = ActivityRegularizationLayer()
    reg(ops.zeros((1, 1)) + 1.0)
    n_losses = len(reg.losses)
    config = Linear(64).get_config()
    restored = Linear.from_config(config)

    model = DigitClassifier()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=verbose)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Linear output {tuple(y.shape)} with {n_linear_weights} weights; ComputeSum after two calls {total}")
    print(f"MLPBlock weights: {n_mlp_weights}; add_loss losses: {n_losses}; restored units: {restored.units}")
    print(f"accuracy: {acc:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(acc), "loss": float(loss), "sum": total.tolist(), "mlp_weights": n_mlp_weights,
            "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 10, verbose=2)
