"""The callback machinery fit/evaluate/predict drive: the Callback base class and CallbackList."""
from __future__ import annotations


class Callback:
    """Base class of fit/evaluate/predict hooks, as Keras 3's: override the `on_*` methods you need.

    `self.model` is the model being trained and `self.params` holds "epochs", "steps" and
    "verbose". `on_batch_begin` / `on_batch_end` are Keras' aliases of the train-batch hooks.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(cb, name):
    def own(n):
        return n in cb.__dict__ or getattr(type(cb), n, None) is not getattr(Callback, n)
    return own(name) or (name in _ALIASES and own(_ALIASES[name]))


class CallbackList:
    """Dispatches hooks; batch-level hooks are only called on callbacks that define them,
    so a fit without such callbacks pays nothing per batch."""

    def __init__(self, callbacks, model, params):
        self.model = model
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self._batch = {name: [cb for cb in self.callbacks if _overrides(cb, name)]
                       for name in ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                                    "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")}

    def wants(self, name):
        return bool(self._batch[name])

    def call(self, name, *args):
        for cb in self._batch[name] if name in self._batch else self.callbacks:
            getattr(cb, name)(*args)


def check_callbacks(callbacks, where="callbacks"):
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"{where}: expected dt.callbacks.Callback objects, got {type(cb).__name__}")
    return callbacks
