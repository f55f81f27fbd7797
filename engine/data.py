"""DataLoader: mini-batches of (x, y) tensors from arrays or a map-style dataset."""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import backend as _backend
from . import random as _random
from .tensor import Tensor


def _as_array(a, name):
    if isinstance(a, Tensor):
        return a.numpy()
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"DataLoader: {name} must have a batch axis, got a scalar")
    return a


def _to_tensor(a):
    """A batch as a tensor without gradient (no copy: fancy indexing made one already)."""
    return Tensor(_backend.current.asarray(a))


def _collate(items, where):
    """Stack a list of items (arrays, numbers, or tuples/lists/dicts of them) along a new batch axis."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        if any(not isinstance(it, (tuple, list)) or len(it) != len(first) for it in items):
            raise ValueError(f"DataLoader: items disagree in structure at {where}")
        return type(first)(_collate([it[i] for it in items], f"{where}[{i}]") for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate([it[k] for it in items], f"{where}[{k!r}]") for k in first}
    if first is None:
        return None
    arrays = [it.numpy() if isinstance(it, Tensor) else np.asarray(it) for it in items]
    if any(a.dtype.kind not in "biuf" for a in arrays):
        raise TypeError(f"DataLoader: item {where} is not numeric (dtype {arrays[0].dtype})")
    try:
        return _to_tensor(np.stack(arrays))
    except ValueError:
        shapes = sorted({a.shape for a in arrays})
        raise ValueError(f"DataLoader: items at {where} have different shapes {shapes[:4]}; cannot batch them") from None


class DataLoader:
    """Iterate over mini-batches; each pass (`for xb, yb in loader` or `loader.epoch()`) is one epoch.

    DataLoader(x, y, batch_size, shuffle=True, drop_last=False, seed=None):
      x, y: arrays (or tensors) with the same first dimension; y may be None
        (then yb is None). Or x is a map-style dataset (a list of pairs too, or an object with
        __len__ and __getitem__ returning an (x, y) pair) and y is None: items are
        stacked into batches (tuples/lists/dicts of arrays are batched field by field).
      shuffle: a new order each epoch; seed makes the sequence of orders
        reproducible (without a seed the engine generator is used, see ag.manual_seed).
      drop_last: drop the final partial batch instead of yielding it.
    Batches are tensors without gradient.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=True, drop_last=False, seed=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.dataset = None
        if isinstance(x, (np.ndarray, Tensor)) or (isinstance(x, list) and y is not None):
            self.x = _as_array(x, "x")
            self.y = None if y is None else _as_array(y, "y")
            if self.y is not None and len(self.y) != len(self.x):
                raise ValueError(f"DataLoader: x has {len(self.x)} samples but y has {len(self.y)}")
            self.n = len(self.x)
        elif hasattr(x, "__len__") and hasattr(x, "__getitem__"):
            if y is not None:
                raise ValueError("DataLoader: with a dataset object as first argument, y must be None "
                                 "(the dataset returns (x, y) pairs)")
            self.dataset = x
            self.n = len(x)
        else:
            raise TypeError(f"DataLoader: x must be an array, a tensor or a map-style dataset "
                            f"(with __len__ and __getitem__), got {type(x).__name__}")
        if self.n == 0:
            raise ValueError("DataLoader: the dataset is empty")

    def __len__(self):
        if self.drop_last:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def _order(self):
        if not self.shuffle:
            return np.arange(self.n)
        rng = self._rng if self._rng is not None else _random.generator()
        return rng.permutation(self.n)

    def epoch(self):
        """A generator over one epoch of (x, y) batches."""
        order = self._order()
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, self.n), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.dataset is not None:
                yield self._dataset_batch(idx)
            else:
                yield (_to_tensor(self.x[idx]), None if self.y is None else _to_tensor(self.y[idx]))

    def _dataset_batch(self, idx):
        items = [self.dataset[int(i)] for i in idx]
        for i, it in zip(idx, items):
            if not isinstance(it, (tuple, list)) or len(it) != 2:
                raise ValueError(f"DataLoader: dataset[{int(i)}] must be an (x, y) pair, got {type(it).__name__}")
        xb = _collate([it[0] for it in items], "x")
        yb = _collate([it[1] for it in items], "y")
        return xb, yb

    def __iter__(self):
        return self.epoch()
