"""fit/evaluate/predict on data that comes in batches: a list of batches, a generator, a
`PyDataset` (`__len__` + `__getitem__`), or any iterable (a torch DataLoader) yielding
`(x, y)`, `(x, y, sample_weight)` or, for predict, `x` batches of array-likes.

As in Keras: a re-iterable source (a list, a PyDataset, a DataLoader) is read again every
epoch; a generator is read once, and with `steps_per_epoch` the epochs share one iterator
(when it runs out, training stops with a warning, as Keras does). Nothing here imports torch:
tensors become numpy arrays through `np.asarray`.
"""
from __future__ import annotations

import inspect
import itertools
import warnings

import numpy as np

from engine.tensor import Tensor


def _is_array_like(v):
    return isinstance(v, (np.ndarray, Tensor, np.generic, int, float)) or hasattr(v, "__array__")


def is_batch_source(x, y):
    """True when `x` is a source of batches rather than the data itself."""
    if x is None or _is_array_like(x) or isinstance(x, dict):
        return False
    if isinstance(x, (list, tuple)):
        # a list of batches (each a tuple/list) when no y is given; else a list of inputs
        return y is None and len(x) > 0 and all(isinstance(b, (tuple, list)) for b in x)
    if inspect.isgenerator(x) or hasattr(x, "__next__"):
        return True
    return hasattr(x, "__iter__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def _to_numpy(v):
    if isinstance(v, dict):
        return {k: _to_numpy(a) for k, a in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_numpy(a) for a in v]
    if isinstance(v, Tensor):
        return v.numpy()
    if hasattr(v, "detach") and hasattr(v, "cpu"):     # a torch tensor, without importing torch
        v = v.detach().cpu()
    return np.asarray(v)


def split_batch(batch, where, need_y=True):
    """(x, y, sample_weight) of one batch, as numpy, unpacked as Keras does: a tuple or list of
    1, 2 or 3 items is (x,), (x, y) or (x, y, sample_weight); anything else is x alone."""
    items = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if len(items) > 3:
        raise ValueError(f"{where}: a batch must be x, (x, y) or (x, y, sample_weight); got a "
                         f"{type(batch).__name__} of {len(items)} items")
    x, y, sw = (items + (None, None))[:3]
    if need_y and y is None:
        raise ValueError(f"{where}: each batch must be a tuple (x, y) or (x, y, sample_weight); this one has no y")
    return _to_numpy(x), None if y is None else _to_numpy(y), None if sw is None else _to_numpy(sw)


class BatchSource:
    """The batches of one source, epoch by epoch."""

    def __init__(self, data, where, steps=None):
        self.data, self.where, self.steps = data, where, steps
        self.indexed = hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not isinstance(data, (list, tuple)) and not hasattr(data, "__iter__")
        self.reiterable = not (inspect.isgenerator(data) or hasattr(data, "__next__"))
        self._iter = None
        self._peeked = []
        self.exhausted = False

    def __len__(self):
        if self.steps is not None:
            return int(self.steps)
        try:
            return len(self.data)
        except TypeError:
            return 0        # unknown

    def _fresh(self):
        if self.indexed:
            return (self.data[i] for i in range(len(self.data)))
        return iter(self.data)

    def peek(self):
        """The first batch (to build a model), without losing it."""
        if self._iter is None:
            self._iter = self._fresh()
        if not self._peeked:
            try:
                self._peeked.append(next(self._iter))
            except StopIteration:
                raise ValueError(f"{self.where}: the data source yielded no batches") from None
        return self._peeked[0]

    def epoch(self):
        """An iterator over this epoch's batches."""
        if self._iter is None or (self.steps is None and self.reiterable and not self._peeked):
            self._iter = self._fresh()
        it = itertools.chain(self._peeked, self._iter)
        self._peeked = []
        if self.steps is None:
            return it
        return self._limited(it)

    def _limited(self, it):
        taken = 0
        while taken < self.steps:
            try:
                batch = next(it)
            except StopIteration:
                if self.reiterable and taken > 0:
                    self._iter = it = self._fresh()
                    continue
                warnings.warn(f"{self.where}: your input ran out of data after {taken} of {self.steps} steps; "
                              f"training stops (make the source yield steps_per_epoch * epochs batches)",
                              RuntimeWarning, stacklevel=4)
                self.exhausted = True
                return
            taken += 1
            yield batch

    def end_epoch(self):
        hook = getattr(self.data, "on_epoch_end", None)
        if callable(hook):
            hook()
