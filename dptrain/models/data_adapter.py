"""Checks and converts fit/evaluate/predict data once, before any training step.

Errors name the argument (`x`, `y`, `sample_weight`, `validation_data`) and the
model input/output concerned. Arrays come out contiguous in the dtype the graph
consumes (float32, or the Input's integer dtype), so batches need no conversion.
"""
from __future__ import annotations

import math

import numpy as np

from engine.tensor import Tensor

from ..layers.base import format_shape


def _array(a, where):
    if isinstance(a, Tensor):
        a = a.numpy()
    try:
        a = np.asarray(a)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{where}: cannot be turned into an array ({e})") from None
    if a.dtype == object:
        raise TypeError(f"{where}: has an object dtype (ragged or non-numeric data); pass a numeric array")
    if a.ndim == 0:
        raise ValueError(f"{where}: needs a batch axis, got a scalar")
    return a


def _structure(data, names, where, what, required=None):
    """One array per name from a single array, a list/tuple or a dict by name (a dict may leave
    out the names not in `required`: those entries are None)."""
    if isinstance(data, dict):
        unknown = [k for k in data if k not in names]
        missing = [k for k in (names if required is None else required) if k not in data]
        if unknown or missing:
            raise ValueError(f"{where}: dict keys must be the model's {what} names {names}; "
                             f"missing {missing}, unknown {unknown}")
        return [data.get(k) for k in names]
    if isinstance(data, (list, tuple)):
        if len(data) != len(names):
            raise ValueError(f"{where}: the model has {len(names)} {what}(s) {names}, got a list of {len(data)} "
                             f"arrays")
        return list(data)
    if len(names) != 1:
        raise ValueError(f"{where}: the model has {len(names)} {what}s {names}; pass a list (or a dict by name) "
                         f"with one array each")
    return [data]


def _label(where, kind, name, n):
    return f"{where} ({kind} '{name}')"


def prepare_x(model, x, where="x"):
    if x is None:
        raise ValueError(f"{where}: no input data given")
    graph = model._graph
    names = model._input_feed_names
    arrays = _structure(x, names, where, "input")
    out = []
    for t, name, a in zip(graph.inputs, names, arrays):
        label = _label(where, "input", name, len(names))
        a = _array(a, label)
        want = t.shape
        if a.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], a.shape[1:])):
            raise ValueError(f"{label}: expected data of shape {format_shape(want)}, got an array of shape {a.shape}")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{label}: must be numeric, got dtype {a.dtype}")
        if t.dtype.startswith("int"):
            if a.dtype.kind == "f":
                if not np.all(np.isfinite(a)):
                    raise ValueError(f"{label}: contains NaN or Inf")
                if np.any(a != np.round(a)):
                    raise ValueError(f"{label}: the input has dtype {t.dtype} (integer ids), got fractional values")
            a = np.ascontiguousarray(a, dtype=t.dtype)
        else:
            a = np.ascontiguousarray(a, dtype=np.float32)
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{label}: contains NaN or Inf")
        out.append(a)
    n = out[0].shape[0]
    for name, a in zip(names, out):
        if a.shape[0] != n:
            raise ValueError(f"{where}: inputs have different numbers of samples: "
                             f"{dict(zip(names, [b.shape[0] for b in out]))}")
    _check_tokens(model, out, names, where)
    return out


def _check_tokens(model, arrays, names, where):
    """Layers fed straight from an Input that check their data (Embedding token ranges) do it now."""
    graph = model._graph
    slot = {id(t): i for i, t in enumerate(graph.inputs)}
    for node in graph.nodes:
        check = getattr(node.layer, "check_tokens", None)
        if check is None:
            continue
        for t in node.inputs:
            i = slot.get(id(t))
            if i is not None:
                check(arrays[i], _label(where, "input", names[i], len(names)))


def prepare_y(model, heads, y, n, where="y"):
    """One converted target array per head (in head order)."""
    if y is None:
        raise ValueError(f"{where}: no targets given; fit/evaluate need y")
    names = model._output_feed_names
    arrays = _structure(y, names, where, "output", required=[h.name for h in heads])  # Keras: only outputs with a loss
    outs = model._graph.outputs
    prepared = []
    for h in heads:
        label = f"{where} (output '{h.name}')" if len(names) > 1 else where
        a = _array(arrays[h.index], label)
        if a.shape[0] != n:
            raise ValueError(f"{label}: has {a.shape[0]} samples but x has {n}")
        a = h.loss.check_targets(a, outs[h.index].shape, label)
        h.bind(a.shape, outs[h.index].shape)
        prepared.append(np.ascontiguousarray(a))
    return prepared


def prepare_sample_weight(sample_weight, n, where="sample_weight"):
    if sample_weight is None:
        return None
    w = _array(sample_weight, where)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise ValueError(f"{where}: must have shape ({n},) (one weight per sample), got {w.shape}")
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{where}: must be numeric, got dtype {w.dtype}")
    w = np.ascontiguousarray(w, dtype=np.float32)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{where}: weights must be finite and >= 0")
    return w


def class_weight_to_sample(class_weight, heads, ys, where="class_weight"):
    """Per-sample weights from {class: weight}, for a single-output model."""
    if len(heads) != 1:
        raise ValueError(f"{where}: is only supported for models with one output with a loss; "
                         f"use sample_weight for several outputs")
    if not isinstance(class_weight, dict) or not class_weight:
        raise TypeError(f"{where}: must be a non-empty dict {{class index: weight}}")
    y, kind = ys[0], heads[0].loss.kind
    if kind == "sparse" or (y.dtype.kind in "iu"):
        labels = y.reshape(len(y), -1)[:, 0].astype(np.int64)
    elif y.ndim >= 2 and y.shape[-1] > 1:
        labels = y.reshape(len(y), -1, y.shape[-1])[:, 0].argmax(-1)
    else:
        labels = np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    table = {}
    for k, v in class_weight.items():
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"{where}: keys must be integer class indices, got {k!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{where}: weight for class {k} must be a finite number >= 0, got {v!r}")
        table[int(k)] = float(v)
    missing = sorted(set(np.unique(labels).tolist()) - set(table))
    if missing:
        raise ValueError(f"{where}: no weight for class(es) {missing[:10]} present in y")
    lut = np.zeros(max(max(table), int(labels.max())) + 1, np.float32)
    for k, v in table.items():
        lut[k] = v
    return lut[labels]


def split_validation(arrays, fraction, where="validation_split"):
    """Keras' rule: the last `fraction` of the samples (taken before any shuffling) are held out."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise ValueError(f"{where}: must be a number in [0, 1), got {fraction!r}")
    n = len(arrays[0][0])
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"{where}={fraction} leaves {split_at} training and {n - split_at} validation samples "
                         f"out of {n}; both must be non-empty")
    train = [None if group is None else [a[:split_at] for a in group] for group in arrays]
    val = [None if group is None else [a[split_at:] for a in group] for group in arrays]
    return train, val


def check_batch_size(batch_size, where="batch_size"):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"{where}: must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class Batches:
    """Gathers batches of several arrays by index into pre-allocated buffers (one per array)."""

    def __init__(self, arrays, batch_size):
        self.arrays = arrays
        self.batch_size = batch_size
        self._bufs = [None if a is None else np.empty((batch_size,) + a.shape[1:], a.dtype) for a in arrays]

    def take(self, idx):
        if isinstance(idx, slice):
            return [None if a is None else a[idx] for a in self.arrays]
        if len(idx) == self.batch_size:
            return [None if a is None else np.take(a, idx, axis=0, out=b) for a, b in zip(self.arrays, self._bufs)]
        return [None if a is None else a[idx] for a in self.arrays]


def batch_indices(order, batch_size):
    """Index arrays (or slices, for the identity order) of consecutive batches."""
    n = len(order)
    if n and order[-1] - order[0] == n - 1 and np.all(np.diff(order) == 1):
        s = int(order[0])
        return [slice(s + i, s + min(i + batch_size, n)) for i in range(0, n, batch_size)]
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
