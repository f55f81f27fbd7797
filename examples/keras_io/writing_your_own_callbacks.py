"""keras.io guide "Writing your own callbacks", on scikit-learn's digits (offline).

The guide's model regresses the digit's value (Dense 1, mse, mae). Its callbacks: one that
records every hook it receives, LossAndErrorPrintingCallback (batch and epoch logs),
EarlyStoppingAtMinLoss (keeps the best weights with get_weights / set_weights, stops with
`self.model.stop_training`) and CustomLearningRateScheduler (sets `model.optimizer.learning_rate`).
Run: python examples/keras_io/writing_your_own_callbacks.py [--keras] [--epochs N]
"""
import os
import sys
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
else:
    import dptrain as keras


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    return train_test_split(x, d.target.astype("float32"), test_size=0.2, random_state=0, stratify=d.target)


def get_model():
    model = keras.Sequential()
    model.add(keras.Input(shape=(64,)))
    model.add(keras.layers.Dense(32, activation="relu"))
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="mean_squared_error",
                  metrics=["mean_absolute_error"])
    return model


class CustomCallback(keras.callbacks.Callback):
    """Records the hooks it receives and the keys of their logs."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def _record(self, name, logs):
        self.seen.append((name, sorted(logs or {})))

    def on_train_begin(self, logs=None): self._record("on_train_begin", logs)
    def on_train_end(self, logs=None): self._record("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._record("on_epoch_begin", logs)
    def on_epoch_end(self, epoch, logs=None): self._record("on_epoch_end", logs)
    def on_test_begin(self, logs=None): self._record("on_test_begin", logs)
    def on_test_end(self, logs=None): self._record("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._record("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._record("on_predict_end", logs)
    def on_train_batch_begin(self, batch, logs=None): self._record("on_train_batch_begin", logs)
    def on_train_batch_end(self, batch, logs=None): self._record("on_train_batch_end", logs)
    def on_test_batch_begin(self, batch, logs=None): self._record("on_test_batch_begin", logs)
    def on_test_batch_end(self, batch, logs=None): self._record("on_test_batch_end", logs)
    def on_predict_batch_begin(self, batch, logs=None): self._record("on_predict_batch_begin", logs)
    def on_predict_batch_end(self, batch, logs=None): self._record("on_predict_batch_end", logs)


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def on_train_batch_end(self, batch, logs=None):
        self.lines.append(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_test_batch_end(self, batch, logs=None):
        self.lines.append(f"Up to batch {batch}, the average loss is {logs['loss']:7.2f}.")

    def on_epoch_end(self, epoch, logs=None):
        self.lines.append(f"The average loss for epoch {epoch} is {logs['loss']:7.2f} "
                          f"and mean absolute error is {logs['mean_absolute_error']:7.2f}.")


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing."""

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.model.optimizer.learning_rate
        scheduled_lr = self.schedule(epoch, float(np.array(lr)))
        self.model.optimizer.learning_rate = scheduled_lr
        self.rates.append(scheduled_lr)


LR_SCHEDULE = [(3, 0.005), (6, 0.002), (9, 0.001)]


def lr_schedule(epoch, lr):
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def main(epochs=12, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    start = time.perf_counter()
    model = get_model()
    recorder = CustomCallback()
    model.fit(x_train[:256], y_train[:256], batch_size=128, epochs=1, verbose=0,
              validation_split=0.5, callbacks=[recorder])
    model.evaluate(x_test[:256], y_test[:256], batch_size=128, verbose=0, callbacks=[recorder])
    model.predict(x_test[:256], batch_size=128, callbacks=[recorder], verbose=0)
    hooks = sorted({name for name, _ in recorder.seen})

    model = get_model()
    printer = LossAndErrorPrintingCallback()
    model.fit(x_train, y_train, batch_size=128, epochs=2, verbose=0, callbacks=[printer])
    model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[printer])

    model = get_model()
    stopper = EarlyStoppingAtMinLoss(patience=2)
    scheduler = CustomLearningRateScheduler(lr_schedule)
    history = model.fit(x_train, y_train, batch_size=64, epochs=epochs, verbose=verbose,
                        callbacks=[printer, stopper, scheduler])
    seconds = time.perf_counter() - start
    loss, mae = model.evaluate(x_test, y_test, verbose=0)
    print(f"hooks seen: {len(hooks)}; first printed line: {printer.lines[0].strip()}")
    print(f"epochs run: {len(history.history['loss'])}; learning rates {scheduler.rates}")
    print(f"test mean absolute error: {mae:.4f}")
    print(f"final loss: {loss:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"loss": float(loss), "mae": float(mae), "hooks": hooks, "rates": scheduler.rates,
            "epochs_run": len(history.history["loss"]), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 12, verbose=2)
