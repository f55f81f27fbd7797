"""Console progress for fit: verbose=1 a live bar per epoch (`\\r` updates), verbose=2 one line per epoch."""
from __future__ import annotations

import sys
import time

from .callback_list import Callback

_WIDTH = 30
_INTERVAL = 0.05     # seconds between redraws of the live bar


def _fmt_logs(logs):
    return "".join(f" - {k}: {v:.4f}" if isinstance(v, float) else f" - {k}: {v}" for k, v in logs.items())


def _fmt_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"


class ProgressBar(Callback):
    def __init__(self, verbose, stream=None):
        super().__init__()
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self._last_len = 0

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = self._last_draw = time.perf_counter()
        self._epoch = epoch
        if self.verbose == 1:
            self._write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
            self._last_len = 0

    def _bar(self, done, steps, logs, final):
        now = time.perf_counter()
        elapsed = now - self._t0
        width = len(str(steps))
        filled = int(_WIDTH * done / steps) if steps else _WIDTH
        arrow = ">" if done < steps else "="
        bar = "=" * max(filled - 1, 0) + (arrow if filled else "") + "." * (_WIDTH - filled)
        if final:
            per_step = elapsed / max(done, 1)
            timing = f" - {_fmt_time(elapsed)} {per_step * 1e3:.0f}ms/step"
        else:
            eta = elapsed / max(done, 1) * (steps - done)
            timing = f" - ETA: {_fmt_time(eta)}"
        line = f"{done:>{width}}/{steps} [{bar}]{timing}{_fmt_logs(logs)}"
        pad = " " * max(self._last_len - len(line), 0)
        self._last_len = len(line)
        self._write("\r" + line + pad + ("\n" if final else ""))

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose != 1:
            return
        now = time.perf_counter()
        steps = self.params["steps"]
        if now - self._last_draw >= _INTERVAL and batch + 1 < steps:
            self._last_draw = now
            self._bar(batch + 1, steps, logs or {}, final=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose == 1:
            self._bar(self.params["steps"], self.params["steps"], logs or {}, final=True)
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self._t0
            self._write(f"Epoch {epoch + 1}/{self.params['epochs']} - {_fmt_time(elapsed)}{_fmt_logs(logs or {})}\n")
