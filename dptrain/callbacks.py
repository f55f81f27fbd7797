"""Callbacks (`dt.callbacks.*`): hooks called by fit/evaluate/predict.

Callbacks that write files (ModelCheckpoint, CSVLogger, BackupAndRestore) write only
on the chief process of a data-parallel job (`current_strategy().is_chief`).
"""
from __future__ import annotations

import csv
import math
import numbers
import os
import warnings

import numpy as np

from .history import History
from .models.callback_list import Callback, CallbackList
from .models.progress import ProgressBar
from .models.strategy import current_strategy

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor",
           "TensorBoard", "TerminateOnNaN"]


def _monitor_mode(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
    return mode


class _Monitor(Callback):
    """Shared logic: read `monitor` from the epoch logs and compare with min_delta."""

    def __init__(self, monitor, mode, min_delta, who):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"{who}: monitor must be a log name such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.mode = _monitor_mode(mode, monitor, who)
        self.min_delta = abs(float(min_delta))
        self._who = who

    def _initial(self):
        return math.inf if self.mode == "min" else -math.inf

    def _better(self, current, reference):
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def _current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{self._who}: the monitored metric {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})}); skipping", RuntimeWarning, stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs;
    with restore_best_weights, end with the weights of the best epoch."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta, "EarlyStopping")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._initial()
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose and current_strategy().is_chief:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose and current_strategy().is_chief:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or only its weights) after each epoch, or every `save_freq` batches, or only
    when `monitor` improves.

    `filepath` may hold format fields filled from the epoch (1-based), the batch (1-based, when
    saving every `save_freq` batches) and the logs, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.keras".
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, 0.0, "ModelCheckpoint")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: Unrecognized save_freq: {save_freq!r}. Expected save_freq are "
                             f"'epoch' or integer values (a number of batches >= 1)")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.best = self._initial() if initial_value_threshold is None else float(initial_value_threshold)
        self._current_epoch = 0
        self._batches_since_save = 0
        self._last_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # batches seen since the last save, across epoch boundaries (batch numbers restart at 0)
        new_epoch = self._last_batch is None or batch <= self._last_batch
        self._batches_since_save += batch + 1 if new_epoch else batch - self._last_batch
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _should_save(self, epoch, logs):
        if not self.save_best_only:
            return True
        current = logs.get(self.monitor)
        if current is None:      # as Keras: warn, and save anyway
            warnings.warn(f"ModelCheckpoint: Can save best model only with {self.monitor} available "
                          f"(the logs have {sorted(logs)}); saving", RuntimeWarning, stacklevel=3)
            return True
        if not self._better(current, self.best):
            return False
        if self.verbose and current_strategy().is_chief:
            print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, saving model")
        self.best = current
        return True

    def _path(self, epoch, batch, logs):
        fields = dict(logs)
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(epoch=epoch + 1, **fields)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint: cannot format filepath {self.filepath!r} with epoch"
                             f"{', batch' if batch is not None else ''} and logs {sorted(logs)}: {e}") from None

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        if not self._should_save(epoch, logs) or not current_strategy().is_chief:
            return
        path = self._path(epoch, batch, logs)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Before each epoch: lr = schedule(epoch, lr) (or schedule(epoch)); the lr is logged as 'learning_rate'."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: schedule must be a callable(epoch, lr) -> new lr")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(opt.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, (numbers.Real, np.floating)) or not math.isfinite(new) \
                or new < 0:
            raise ValueError(f"LearningRateScheduler: the schedule returned {new!r} for epoch {epoch}; "
                             f"it must return a finite number >= 0")
        opt.learning_rate = float(new)
        if self.verbose and current_strategy().is_chief:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the lr by `factor` when `monitor` has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta, "ReduceLROnPlateau")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor!r}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs=None):
        self.best = self._initial()
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch, logs=None):
        opt = self.model.optimizer
        if logs is not None:
            logs["learning_rate"] = float(opt.learning_rate)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(opt.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    opt.learning_rate = new
                    if self.verbose and current_strategy().is_chief:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """One CSV row per epoch: epoch, then every log value (columns fixed at the first epoch)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self._file = None
        self.keys = None

    def on_train_begin(self, logs=None):
        if not current_strategy().is_chief:
            return
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._header_needed = not exists
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        writer = csv.writer(self._file, delimiter=self.separator, lineterminator="\n")
        if self._header_needed:
            writer.writerow(["epoch"] + self.keys)
            self._header_needed = False
        writer.writerow([epoch] + [_csv_value(logs.get(k, "")) for k in self.keys])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class BackupAndRestore(Callback):
    """Back up the training state at the end of every epoch into `backup_dir`; a fit that
    is started again after an interruption restores it and resumes at the next epoch.

    The backup holds the weights, the optimiser state, the epoch, fit's shuffling seed and
    the engine's random state, so the resumed run continues exactly as the interrupted one
    would have. It is deleted when fit completes (unless delete_checkpoint=False).
    """

    FILE = "backup.dpt"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: only save_freq='epoch' is supported, got {save_freq!r}")
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def path(self):
        return os.path.join(self.backup_dir, self.FILE)

    def on_train_begin(self, logs=None):
        from .models.saving import restore_training_state
        if os.path.exists(self.path):
            restore_training_state(self.model, self.path)

    def on_epoch_end(self, epoch, logs=None):
        from .models.saving import save_training_state
        if current_strategy().is_chief:
            os.makedirs(self.backup_dir, exist_ok=True)
            save_training_state(self.model, self.path, epoch)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and current_strategy().is_chief and os.path.exists(self.path):
            os.remove(self.path)


class LambdaCallback(Callback):
    """A callback from plain functions: `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`,
    `on_train_begin(logs)`, `on_train_end(logs)`, `on_train_batch_begin(batch, logs)`,
    `on_train_batch_end(batch, logs)`; other hooks (`on_test_end=...`) as keyword arguments."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin), ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, name, fn)

    # fit calls a batch hook only on callbacks whose class defines it; these forward to the
    # functions given (instance attributes win over them) or do nothing
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (raise RuntimeError with raise_error=True)."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                               f"Terminating training immediately.")
        if current_strategy().is_chief:
            print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class ProgbarLogger(ProgressBar):
    """The progress bar fit/evaluate/predict print (verbose=1: a live bar, 2: one line per epoch);
    its verbosity comes from the call's `verbose`."""

    def __init__(self):
        super().__init__(verbose=1)

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose

    def _write(self, text):
        if self.verbose:
            super()._write(text)


class _Unsupported(Callback):
    reason = ""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is not supported by dptrain: {self.reason}")


class RemoteMonitor(_Unsupported):
    """Not supported: posting logs to a server (dptrain training has no network access)."""
    reason = ("it posts the epoch logs to an HTTP server; use a LambdaCallback(on_epoch_end=...) that sends "
              "them, or CSVLogger to keep them in a file")


class TensorBoard(_Unsupported):
    """Not supported: TensorBoard event files."""
    reason = ("writing TensorBoard event files needs TensorFlow; use CSVLogger (or History.plot()) for the "
              "training curves")
