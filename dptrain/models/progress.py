"""Console progress as Keras 3 prints it.

verbose=1: a live bar per epoch, `12/45 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.91 - loss: 0.31`
(ETA while running, elapsed time at the end); colours only on a terminal.
verbose=2: one line per epoch, `45/45 - 1s - 3ms/step - loss: 0.3100`.
Both print `Epoch e/E` first when fit runs more than one epoch.
"""
from __future__ import annotations

import sys
import time

from .callback_list import Callback

_WIDTH = 20
_INTERVAL = 0.05     # seconds between redraws of the live bar


def _fmt_value(v):
    if isinstance(v, (float, int)) and not isinstance(v, bool):
        return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"
    return str(v)


def _fmt_logs(logs):
    return "".join(f" - {k}: {_fmt_value(v)}" for k, v in logs.items())


def _fmt_eta(seconds):
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def _fmt_per_step(seconds):
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgressBar(Callback):
    """fit's (and evaluate's / predict's) console output; `steps` comes from `params`."""

    def __init__(self, verbose, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_len = 0
        self._t0 = self._last_draw = time.perf_counter()
        self._t_first = None
        self._in_fit = False
        self._seen = 0

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _start(self):
        self._t0 = self._last_draw = time.perf_counter()
        self._t_first = None
        self._last_len = 0
        self._seen = 0

    def on_train_begin(self, logs=None):
        self._in_fit = True    # fit's validation runs test hooks: they print nothing of their own

    def on_epoch_begin(self, epoch, logs=None):
        self._start()
        if self.params.get("epochs", 1) > 1:
            self._write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._start()

    def on_predict_begin(self, logs=None):
        self._start()

    def _per_step(self, done, now):
        # Keras leaves the first step (often slower: allocation, warm-up) out of the estimate
        if self._t_first is not None and done > 1:
            return (now - self._t_first) / (done - 1)
        return (now - self._t0) / done if done else 0.0

    def _style(self, text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if self._tty else text

    def _bar(self, done, steps, logs, final):
        now = time.perf_counter()
        per_step = self._per_step(done, now)
        if not steps:        # a generator of unknown length: Keras shows "12/Unknown"
            done = max(done, self._seen)
        count = f"{done:>{len(str(steps))}}/{steps}" if steps else f"{done:>7}/Unknown"
        if self.verbose == 2:
            self._write(f"{count} - {now - self._t0:.0f}s - {_fmt_per_step(per_step)}{_fmt_logs(logs)}\n")
            return
        filled = int(_WIDTH * done / steps) if steps else 0
        bar = (self._style("━" * filled, 32) if filled else "") + self._style("━" * (_WIDTH - filled), 37)
        when = f"{now - self._t0:.0f}s" if final else _fmt_eta(per_step * (steps - done))
        plain = f"{count} {'━' * _WIDTH} {when} {_fmt_per_step(per_step)}{_fmt_logs(logs)}"
        line = f"{self._style(count, 1)} {bar} {self._style(when, 1)} {_fmt_per_step(per_step)}{_fmt_logs(logs)}"
        pad = " " * max(self._last_len - len(plain), 0)
        self._last_len = len(plain)
        self._write("\r" + line + pad + ("\n" if final else ""))

    def _batch_end(self, batch, logs):
        self._seen = batch + 1
        now = time.perf_counter()
        if self._t_first is None:
            self._t_first = now
        steps = self.params.get("steps") or 0
        if self.verbose == 1 and now - self._last_draw >= _INTERVAL and (batch + 1 < steps or not steps):
            self._last_draw = now
            self._bar(batch + 1, steps, logs or {}, final=False)

    def on_train_batch_end(self, batch, logs=None):
        self._batch_end(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._batch_end(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._batch_end(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        steps = self.params.get("steps") or 0
        self._bar(steps, steps, logs or {}, final=True)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.on_epoch_end(0, logs)

    def on_predict_end(self, logs=None):
        self.on_epoch_end(0, None)
