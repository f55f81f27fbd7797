"""keras.io guide "Customizing what happens in fit()" (torch backend), on scikit-learn's digits.

The guide's programs with `train_step` / `test_step` overrides: a first simple example (compute_loss,
self.metrics), the lower-level one (own loss function and trackers, compile without a loss),
sample-weight support, and an own evaluation step. With the torch backend a step is written with
torch's autograd; under dptrain the same lines run on dptrain tensors. The one line that differs is
the no-grad context around `optimizer.apply` (torch.no_grad() in Keras, dptrain.ag.no_grad() here),
picked by `no_grad` below.
Run: python examples/keras_io/customizing_fit.py [--keras] [--epochs N]
"""
import os
import sys
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers
    import torch
    no_grad = torch.no_grad
else:
    import dptrain as keras
    from dptrain import layers
    no_grad = keras.ag.no_grad


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


class CustomModel(keras.Model):
    """A first simple example."""

    def train_step(self, data):
        x, y = data
        # Call torch.nn.Module.zero_grad() to clear the leftover gradients for the weights from the previous
        # train step (dptrain: zeroes each weight's .grad).
        self.zero_grad()
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class LowLevelModel(keras.Model):
    """Going lower-level: own loss function and metric trackers, compile(optimizer) only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        self.loss_tracker.update_state(loss)
        self.acc_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc_metric.result()}

    @property
    def metrics(self):
        # listed here so that reset_states() can be called automatically at the start of each epoch
        return [self.loss_tracker, self.acc_metric]


class WeightedModel(keras.Model):
    """Supporting sample_weight & class_weight."""

    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


class EvalModel(keras.Model):
    """Providing your own evaluation step."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def build(cls):
    inputs = keras.Input(shape=(64,))
    x = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(x)
    return cls(inputs, outputs)


def main(epochs=8, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    start = time.perf_counter()

    model = build(CustomModel)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    _, acc = model.evaluate(x_test, y_test, verbose=0)

    low = build(LowLevelModel)
    low.compile(optimizer="adam")
    low_history = low.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)

    weighted = build(WeightedModel)
    weighted.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    sample_weight = np.where(y_train == 5, 2.0, 1.0)
    weighted.fit(x_train, y_train, sample_weight=sample_weight, epochs=max(epochs // 2, 1), batch_size=32,
                 verbose=verbose)

    evaluator = build(EvalModel)
    evaluator.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    evaluator.set_weights(model.get_weights())
    eval_logs = evaluator.evaluate(x_test, y_test, verbose=0, return_dict=True)
    seconds = time.perf_counter() - start

    print(f"first example history keys: {sorted(history.history)}")
    print(f"lower-level final accuracy {low_history.history['accuracy'][-1]:.4f}; own test_step "
          f"accuracy {eval_logs['accuracy']:.4f}")
    print(f"accuracy: {acc:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(acc), "low_level_accuracy": float(low_history.history["accuracy"][-1]),
            "test_step_accuracy": float(eval_logs["accuracy"]), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 8, verbose=2)
