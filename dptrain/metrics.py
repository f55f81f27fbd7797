"""Metrics as Keras 3 (`keras.metrics`): stateful objects with update_state / result / reset_state.

Metrics run on the host, on numpy arrays (they need no gradient): `update_state(y_true, y_pred,
sample_weight=None)` adds a batch to the metric's state variables, `result()` computes the value
from them, `reset_state()` zeroes them. The numerics follow Keras 3 (thresholds compared in
float32, AUC's bucketed thresholds and interpolation, divide-no-nan ratios).

A metric's variables (`add_variable`) are views into one flat float64 buffer, its state. Every
built-in metric's state is a set of sums (counts, totals, confusion matrices, AUC's threshold
histograms), so data-parallel ranks combine their metrics by adding their state buffers; `fit`
then reads `result()` of the combined state.
"""
from __future__ import annotations

import copy
import re
import warnings

import numpy as np

from engine.tensor import Tensor, as_tensor
from . import losses as _losses
from .suggest import did_you_mean

EPSILON = 1e-7          # keras.config.epsilon()
NEG_INF = -1e10         # Keras' "minus infinity" for top_k filtering


def _snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_name(cls_name):
    """An unnamed metric is named after its class in snake case. (Keras also numbers them _1, _2
    across a session until clear_session(); compile numbers repeated names within a model as Keras.)"""
    return _snake(cls_name)


def _array(x, dtype=None):
    if isinstance(x, Variable):
        x = x.numpy()
    a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return a if dtype is None else a.astype(dtype, copy=False)


def _floats(x):
    """A float array for the metric's arithmetic: float32 stays float32 (Keras' comparisons), the rest float32."""
    a = _array(x)
    return a if a.dtype == np.float32 or a.dtype == np.float64 else a.astype(np.float32)


def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)
    return out


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras' squeeze_or_expand_to_same_rank on numpy arrays."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def probabilities(pred, activation):
    """Predictions from logits (the training step keeps logits when it fuses the output activation)."""
    if activation == "softmax":
        return _softmax(pred)
    return _sigmoid(pred) if activation == "sigmoid" else pred


# --- state -------------------------------------------------------------------------------------------
class Variable(np.lib.mixins.NDArrayOperatorsMixin):
    """A metric state variable (Keras' `backend.Variable` of a metric): a numpy view with
    `assign`, `assign_add`, `assign_sub`, `numpy()`, and numpy arithmetic (`v + 1`, `np.sum(v)`)."""

    def __init__(self, shape, dtype, name, aggregation):
        self._shape = tuple(shape)
        self._view = None       # a slice of its metric's state buffer (Metric._rebind)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.aggregation = aggregation
        self.trainable = False

    @property
    def value(self):
        return self._view if self.dtype == np.float64 else self._view.astype(self.dtype)

    def numpy(self):
        return np.array(self.value, copy=True)

    @property
    def shape(self):
        return self._view.shape

    @property
    def ndim(self):
        return self._view.ndim

    @property
    def size(self):
        return self._view.size

    def assign(self, value):
        self._view[...] = _array(value)
        return self

    def assign_add(self, value):
        self._view[...] += _array(value)
        return self

    def assign_sub(self, value):
        self._view[...] -= _array(value)
        return self

    def __array__(self, dtype=None, copy=None):
        v = self.value
        return v if dtype is None else v.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if "out" in kwargs:
            return NotImplemented
        return getattr(ufunc, method)(*[i.value if isinstance(i, Variable) else i for i in inputs], **kwargs)

    def __getitem__(self, index):
        return self.value[index]

    def __len__(self):
        return len(self._view)

    def __float__(self):
        return float(self._view.reshape(-1)[0]) if self._view.size == 1 else float(self._view)

    def __int__(self):
        return int(float(self))

    def __repr__(self):
        return f"<Variable {self.name!r} shape={self.shape} value={self.value!r}>"


class Metric:
    """Base class of metrics, and what a user subclasses (Keras' `keras.metrics.Metric`).

    A subclass creates its state with `self.add_variable(shape, initializer, dtype, name)` (or
    `add_weight`) in `__init__`, adds a batch in `update_state(y_true, y_pred, sample_weight=None)`,
    and computes the value in `result()`. `reset_state()` zeroes every variable.
    """
    _argmax_only = False    # the metric only compares argmaxes (softmax logits work as well)

    def __init__(self, dtype=None, name=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = "float32" if dtype is None else str(np.dtype(dtype)) if dtype != "int" else "int32"
        self._buffer = np.zeros(0, np.float64)
        self._variables = []
        self._sub_metrics = []

    @property
    def dtype(self):
        return self._dtype

    def __setattr__(self, name, value):
        subs = self.__dict__.get("_sub_metrics")
        if isinstance(value, Metric) and subs is not None and value is not self and all(m is not value for m in subs):
            subs.append(value)
        object.__setattr__(self, name, value)

    def _check_super_called(self):
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: you forgot to call super().__init__() in __init__")

    # --- state variables --------------------------------------------------------------------------
    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state variable of `shape`, initialised by `initializer` ("zeros", "ones", a number or a
        callable (shape, dtype) -> array); `aggregation` says how data-parallel ranks combine it:
        "sum" (the default) or "mean"."""
        self._check_super_called()
        if aggregation not in ("sum", "mean", "none", "only_first_replica"):
            raise ValueError(f"{self._who()}: aggregation must be 'sum', 'mean', 'none' or 'only_first_replica', "
                             f"got {aggregation!r}")
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in (shape or ()))
        dtype = np.dtype("int32" if dtype == "int" else dtype or np.float32)
        init = _initial_value(initializer, shape, dtype, self._who())
        self._buffer = np.concatenate([self._buffer, init.astype(np.float64).ravel()])
        var = Variable(shape, dtype, name or f"variable_{len(self._variables)}", aggregation)
        self._variables.append(var)
        self._rebind()
        return var

    def _rebind(self):
        """Point every variable at its slice of the (grown or copied) state buffer."""
        offset = 0
        for v in self._variables:
            size = int(np.prod(v._shape, dtype=np.int64))
            v._view = self._buffer[offset:offset + size].reshape(v._shape)
            offset += size

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            object.__setattr__(new, k, copy.deepcopy(v, memo))
        new._rebind()       # the copied variables view the copied buffer, not arrays of their own
        return new

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras' backwards-compatible alias of add_variable."""
        return self.add_variable(shape=shape, initializer=initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self):
        out = list(self._variables)
        for m in self._sub_metrics:
            out.extend(m.variables)
        return out

    def reset_state(self):
        """Every variable back to zeros (as Keras' default reset_state)."""
        self._buffer[...] = 0.0
        for m in self._sub_metrics:
            m.reset_state()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: a Metric subclass must implement update_state")

    def result(self):
        """The metric's value, as a Tensor (call float() on it, or .numpy())."""
        return as_tensor(np.asarray(self._result(), dtype=np.float32))

    def _result(self):
        raise NotImplementedError(f"{type(self).__name__}: a Metric subclass must implement result()")

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _who(self):
        return f"{type(self).__name__} metric {getattr(self, 'name', '?')!r}"

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"

    # --- what fit uses: the state as one array, and the logged value ---------------------------------
    def _state(self):
        """The metric's state: one float64 array (the live buffer; sub-metrics' appended)."""
        if not self._sub_metrics:
            return self._buffer
        return np.concatenate([self._buffer] + [m._state() for m in self._sub_metrics])

    def _load_state(self, state, world_size=1):
        """Set the state from `state` (e.g. the sum of every rank's), adjusting 'mean' variables."""
        state = np.asarray(state, np.float64).ravel()
        if state.size != self._state().size:
            raise ValueError(f"{self._who()}: a state of {state.size} values does not fit its "
                             f"{self._state().size} variables (did a rank build it differently?)")
        self._load_into(state, 0, world_size)

    def _load_into(self, state, offset, world_size):
        n = self._buffer.size
        self._buffer[...] = state[offset:offset + n]
        if world_size > 1:
            for v in self._variables:
                if v.aggregation == "mean":
                    v._view[...] /= world_size
                elif v.aggregation != "sum":
                    raise NotImplementedError(f"{self._who()}: variable {v.name!r} has aggregation="
                                              f"{v.aggregation!r}, which data-parallel fit cannot combine "
                                              f"across ranks; use 'sum' or 'mean'")
        offset += n
        for m in self._sub_metrics:
            offset = m._load_into(state, offset, world_size)
        return offset

    def _log_value(self):
        """result() as a log entry: a float, or an array for vector results (several thresholds)."""
        if type(self).result is Metric.result:
            r = np.asarray(self._result(), dtype=np.float64)
        else:
            r = np.asarray(_array(self.result()), dtype=np.float64)
        return float(r) if r.ndim == 0 else r      # Keras keeps a shape-(1,) result an array


def _initial_value(initializer, shape, dtype, who):
    if initializer is None or initializer == "zeros":
        return np.zeros(shape, dtype)
    if initializer == "ones":
        return np.ones(shape, dtype)
    if isinstance(initializer, (int, float, np.number)) and not isinstance(initializer, bool):
        return np.full(shape, initializer, dtype)
    if isinstance(initializer, (str, dict)) or hasattr(initializer, "get_config"):
        from . import initializers
        if hasattr(initializers, "get"):
            initializer = initializers.get(initializer)
    if callable(initializer):
        return np.asarray(initializer(shape, dtype), dtype=dtype).reshape(shape)
    raise ValueError(f"{who}: unknown initializer {initializer!r} for a metric variable")


# --- reductions: Mean, Sum, MeanMetricWrapper ------------------------------------------------------------
def _samplewise(values, sample_weight, reduce):
    """Keras' reduce_to_samplewise_values: weighted values [N] and the sample weights [N] (or None)."""
    values = np.asarray(values, np.float64)
    if sample_weight is not None:
        sample_weight = np.asarray(_array(sample_weight), np.float64)
        values, sample_weight = _same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = reduce(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = reduce(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values given to update_state. Args: name, dtype."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(_array(values), sample_weight, np.sum)
        self.total.assign_add(values.sum())

    def _result(self):
        return self.total.value[()]


class Mean(Metric):
    """The (weighted) mean of the values given to update_state: total / count, values averaged
    within each sample first. Args: name, dtype."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None):
        values = _array(values)
        if sample_weight is None and values.ndim == 1:          # the common case, without copies
            self._buffer[0] += values.sum(dtype=np.float64)
            self._buffer[1] += values.shape[0]
            return
        values, sample_weight = _samplewise(values, sample_weight, np.mean)
        self._buffer[0] += values.sum()
        if sample_weight is not None:
            self._buffer[1] += np.sum(sample_weight)
        else:
            self._buffer[1] += values.shape[0] if values.ndim >= 1 else 1

    def _result(self):
        return _divide_no_nan(self._buffer[0], self._buffer[1])


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over the samples (Keras' MeanMetricWrapper).
    Args: fn, name, dtype, and fn's keyword arguments."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or _snake(getattr(fn, "__name__", type(fn).__name__)), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        from .layers.base import get_keras_mask
        mask = get_keras_mask(y_pred)       # as Keras: a mask on y_pred weighs the masked entries 0
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = _losses.apply_mask(sample_weight, mask, "sum")
        return Mean.update_state(self, _array(values), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MetricFunction(MeanMetricWrapper):
    """A user callable fn(y_true, y_pred) (numpy arrays) returning per-sample values, or their mean;
    averaged over the samples as Keras' MeanMetricWrapper does (a scalar counts as one sample)."""

    def __init__(self, fn, name=None):
        own = getattr(fn, "name", None)         # a Loss object used as a metric keeps its name (Keras)
        super().__init__(fn, name=name or (own if isinstance(own, str) else
                                           _snake(getattr(fn, "__name__", type(fn).__name__))))


# --- accuracy ------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    """1.0 where y_true == y_pred."""
    p = _floats(y_pred)
    t, p = _same_rank(_array(y_true, p.dtype), p)
    return (t == p).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true."""
    t, p = _same_rank(_array(y_true), _floats(y_pred))
    return (t == (p > p.dtype.type(threshold)).astype(t.dtype)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_true) == argmax(y_pred) (one-hot targets)."""
    t = np.argmax(_array(y_true), axis=-1)
    p = _array(y_pred)
    shape = t.shape
    reshape = t.ndim == p.ndim
    if reshape:
        t = t[..., 0]
    matches = (t == np.argmax(p, axis=-1)).astype(np.float32)
    return matches.reshape(shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label y_true == argmax(y_pred)."""
    p = _array(y_pred)
    t = _array(y_true).astype(np.float64)
    shape = t.shape
    reshape = t.ndim == p.ndim and t.shape[-1] == 1
    if reshape:
        t = t[..., 0]
    matches = (t == np.argmax(p, axis=-1)).astype(np.float32)
    if reshape:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def _in_top_k(labels, pred, k, who):
    """Keras' in_top_k: the label's score is >= the k-th largest score."""
    if k > pred.shape[-1]:
        raise ValueError(f"{who}: k={k} is larger than the {pred.shape[-1]} classes of y_pred")
    kth = np.partition(pred, pred.shape[-1] - k, axis=-1)[:, pred.shape[-1] - k]
    return np.take_along_axis(pred, labels[:, None], axis=-1)[:, 0] >= kth


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where argmax(y_true) is among the k largest scores of y_pred."""
    p = _floats(y_pred)
    t = np.argmax(_array(y_true), axis=-1)
    shape = t.shape
    p2 = p.reshape(-1, p.shape[-1])
    matches = _in_top_k(t.reshape(-1).astype(np.int64), p2, k, "top_k_categorical_accuracy").astype(np.float32)
    return matches.reshape(shape) if len(shape) > 1 else matches


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k largest scores of y_pred (or, with
    from_sorted_ids=True, among the first k ids of y_pred)."""
    p = _floats(y_pred)
    t = _array(y_true)
    shape = t.shape
    if p.ndim > 2:
        p = p.reshape(-1, p.shape[-1])
    t = t.reshape(-1)
    if from_sorted_ids:
        matches = np.any(t[:, None].astype(p.dtype) == p[:, :k], axis=1)
    else:
        matches = _in_top_k(t.astype(np.int64), p, k, "sparse_top_k_categorical_accuracy")
    matches = matches.astype(np.float32)
    return matches.reshape(shape) if len(shape) > 1 else matches


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly (Keras' Accuracy; compile's "accuracy" string picks
    binary / categorical / sparse accuracy instead). Args: name, dtype."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 label. Args: name, dtype, threshold (0.5)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax of the one-hot y_true. Args: name, dtype."""
    _argmax_only = True

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label. Args: name, dtype."""
    _argmax_only = True

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the k largest scores. Args: k (5), name, dtype."""
    _argmax_only = True

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=int(k))
        self.k = int(k)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the k largest scores. Args: k (5), name, dtype,
    from_sorted_ids (False)."""
    _argmax_only = True

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=int(k),
                         from_sorted_ids=bool(from_sorted_ids))
        self.k, self.from_sorted_ids = int(k), bool(from_sorted_ids)
        self._argmax_only = not self.from_sorted_ids

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


class _AutoAccuracy(Metric):
    """compile's "accuracy" / "acc": resolved, as Keras does, from the target and output shapes:
    binary for one output unit, sparse categorical for integer labels, categorical otherwise."""

    def __init__(self, name="accuracy"):
        super().__init__(name=name)

    def resolve(self, y_shape, out_shape):
        is_binary = out_shape[-1] == 1
        is_sparse = len(y_shape) < len(out_shape) or (y_shape[-1] == 1 and out_shape[-1] != 1)
        if is_binary:
            return BinaryAccuracy(name=self.name)
        if is_sparse:
            return SparseCategoricalAccuracy(name=self.name)
        return CategoricalAccuracy(name=self.name)


# --- regression -----------------------------------------------------------------------------------------
def _regression_pair(y_true, y_pred, who="metric"):
    p = _array(y_pred).astype(np.float64)
    t, p = _same_rank(_array(y_true).astype(np.float64), p)
    try:
        np.broadcast_shapes(t.shape, p.shape)
    except ValueError:
        raise ValueError(f"{who}: y_true of shape {t.shape} does not match y_pred of shape {p.shape} (Keras "
                         f"fails here too); integer class labels need one-hot encoding for this metric") from None
    return t, p


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1) on numpy arrays."""
    t, p = _regression_pair(y_true, y_pred, "mean_squared_error")
    return np.mean((t - p) ** 2, axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1) on numpy arrays."""
    t, p = _regression_pair(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(t - p), axis=-1)


def _loss_function(name):
    """A metric function over dptrain.losses.<name> (its Tensor result as numpy)."""
    def fn(y_true, y_pred, **kwargs):
        return getattr(_losses, name)(_array(y_true), _array(y_pred, np.float32), **kwargs).numpy()
    fn.__name__ = name
    return fn


class MeanSquaredError(MeanMetricWrapper):
    """The mean of mean((y_true - y_pred)^2, axis=-1). Args: name, dtype."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of mean(|y_true - y_pred|, axis=-1). Args: name, dtype."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """The mean of 100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1). Args: name, dtype."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(_loss_function("mean_absolute_percentage_error"), name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """The mean of msle(y_true, y_pred). Args: name, dtype."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(_loss_function("mean_squared_logarithmic_error"), name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the mean of (y_true - y_pred)^2 over every element. Args: name, dtype."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _regression_pair(y_true, y_pred)
        return super().update_state((p - t) ** 2, sample_weight=sample_weight)

    def _result(self):
        return np.sqrt(super()._result())


class CosineSimilarity(MeanMetricWrapper):
    """The mean of sum(l2_normalize(y_true) * l2_normalize(y_pred), axis). Args: name, dtype, axis (-1)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine, name=name, dtype=dtype, axis=axis)


def _cosine(y_true, y_pred, axis=-1):
    t, p = _regression_pair(y_true, y_pred)

    def normalize(x):
        return x / np.maximum(np.sqrt(np.sum(x * x, axis=axis, keepdims=True)), EPSILON)
    return np.sum(normalize(t) * normalize(p), axis=axis)


class LogCoshError(MeanMetricWrapper):
    """The mean of log(cosh(y_pred - y_true)). Args: name, dtype."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(_loss_function("log_cosh"), name=name, dtype=dtype)


class R2Score(Metric):
    """The coefficient of determination 1 - SS_res / SS_tot per output column, averaged
    ("uniform_average"), variance weighted, or per column (None); `num_regressors` > 0 gives the
    adjusted R2. Inputs [N, outputs]. Args: class_aggregation, num_regressors (0), name, dtype."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', got {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, got {num_regressors!r}")
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, t_shape, p_shape):
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError(f"R2Score expects 2D inputs with shape (batch_size, output_dim); got "
                             f"y_pred.shape={p_shape} and y_true.shape={t_shape}")
        n = p_shape[-1]
        self.squared_sum = self.add_variable((n,), name="squared_sum")
        self.sum = self.add_variable((n,), name="sum")
        self.total_mse = self.add_variable((n,), name="residual")
        self.count = self.add_variable((n,), name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _regression_pair(y_true, y_pred)
        if not self._built:
            self._build(t.shape, p.shape)
        w = np.float64(1.0) if sample_weight is None else _array(sample_weight).astype(np.float64)
        if w.ndim == 1:
            w = w[:, None]
        w = np.broadcast_to(w, t.shape)
        self.sum.assign_add(np.sum(t * w, axis=0))
        self.squared_sum.assign_add(np.sum(t * t * w, axis=0))
        self.total_mse.assign_add(np.sum((t - p) ** 2 * w, axis=0))
        self.count.assign_add(np.sum(w, axis=0))
        self.num_samples.assign_add(t.size)

    def _result(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.value / self.count.value
            total = self.squared_sum.value - self.sum.value * mean
            raw = 1.0 - self.total_mse.value / total
            raw = np.where(np.isinf(raw), 0.0, raw)
            if self.class_aggregation == "uniform_average":
                score = np.mean(raw)
            elif self.class_aggregation == "variance_weighted_average":
                score = np.sum(total * raw) / np.sum(total)
            else:
                score = raw
        n, k = float(self.num_samples.value), self.num_regressors
        if k:
            if k > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back "
                              "to standard R2 score.", stacklevel=2)
            elif k == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                score = 1.0 - (1.0 - score) * (n - 1.0) / (n - k - 1.0)
        return score

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# --- probabilistic and hinge metrics over the loss functions ---------------------------------------------
class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary crossentropy. Args: name, dtype, from_logits (False), label_smoothing (0)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(_loss_function("binary_crossentropy"), name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean categorical crossentropy. Args: name, dtype, from_logits, label_smoothing, axis."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(_loss_function("categorical_crossentropy"), name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean sparse categorical crossentropy. Args: name, dtype, from_logits, ignore_class, axis."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(_loss_function("sparse_categorical_crossentropy"), name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class KLDivergence(MeanMetricWrapper):
    """The mean Kullback-Leibler divergence. Args: name, dtype."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(_loss_function("kl_divergence"), name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """The mean Poisson loss. Args: name, dtype."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(_loss_function("poisson"), name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """The mean hinge loss. Args: name, dtype."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(_loss_function("hinge"), name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """The mean squared hinge loss. Args: name, dtype."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(_loss_function("squared_hinge"), name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """The mean categorical hinge loss. Args: name, dtype."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(_loss_function("categorical_hinge"), name=name, dtype=dtype)


# --- confusion-matrix metrics ----------------------------------------------------------------------------
def _parse_thresholds(thresholds, default, who):
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad:
        raise ValueError(f"{who}: threshold values must be in [0, 1], got {bad}")
    return [float(t) for t in values]


def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(np.asarray(thresholds), even, atol=EPSILON))


def _filter_top_k(x, k):
    """x where it is among the k largest along the last axis, NEG_INF elsewhere."""
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(x.shape, bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return np.where(mask, x, np.float32(NEG_INF)).astype(x.dtype)


def update_confusion_matrix(counts, y_true, y_pred, thresholds, top_k=None, class_id=None, sample_weight=None,
                            multi_label=False, label_weights=None, evenly=False):
    """Add a batch to the counts {"tp"/"fp"/"tn"/"fn": Variable [thresholds] (or [thresholds, labels]
    with multi_label)}: a prediction is positive where y_pred > threshold (float32, as Keras)."""
    t = _array(y_true).astype(np.float32)
    p = _array(y_pred).astype(np.float32)
    p, t = _same_rank(p, t)
    w = None
    if sample_weight is not None:
        w = _array(sample_weight).astype(np.float32)[..., None]
        _, w = _same_rank(t, w, expand_rank_1=False)
    if top_k is not None:
        p = _filter_top_k(p, top_k)
    if class_id is not None:
        if p.ndim == 1:
            raise ValueError(f"when class_id is given, y_pred must be 2D (num_samples, num_classes); got shape "
                             f"{p.shape}")
        t, p = t[..., class_id, None], p[..., class_id, None]
    weights = np.ones(p.shape, np.float32) if w is None else np.broadcast_to(w, p.shape).astype(np.float32)
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, np.float32), p.shape)
    positive = t.astype(bool)
    if not multi_label:
        p, positive, weights = p.reshape(-1), positive.reshape(-1), weights.reshape(-1)
    n_thr = len(thresholds)
    if evenly:
        # bucket i holds predictions in (thr[i], thr[i + 1]]: counts above each threshold are
        # reversed cumulative sums of the bucket histograms (Keras' optimised path)
        with_eps = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        q = np.clip(p, 0.0, 1.0)
        bucket = np.ceil(q * np.float32(n_thr - 1)) - 1
        if with_eps:
            bucket = np.maximum(bucket, 0)
        bucket = bucket.astype(np.int64)
        true_w = np.where(positive, weights, 0).astype(np.float64)
        false_w = np.where(positive, 0, weights).astype(np.float64)

        def above(values):
            if multi_label:
                out = np.zeros((n_thr,) + values.shape[1:])
                for j in range(values.shape[1]):
                    keep = bucket[:, j] >= 0
                    out[:, j] = np.bincount(bucket[keep, j], values[keep, j], minlength=n_thr)[:n_thr]
            else:
                keep = bucket >= 0
                out = np.bincount(bucket[keep], values[keep], minlength=n_thr)[:n_thr]
            return np.flip(np.cumsum(np.flip(out, 0), axis=0), 0)
        tp, fp = above(true_w), above(false_w)
        if "tp" in counts:
            counts["tp"].assign_add(tp)
        if "fp" in counts:
            counts["fp"].assign_add(fp)
        if "tn" in counts:
            counts["tn"].assign_add(np.sum(false_w, axis=0) - fp)
        if "fn" in counts:
            counts["fn"].assign_add(np.sum(true_w, axis=0) - tp)
        return
    thr = np.asarray(thresholds, np.float32).reshape((n_thr,) + (1,) * p.ndim)
    pred_pos = p[None] > thr
    label_pos = positive[None]
    wd = weights[None].astype(np.float64)
    cells = {"tp": (label_pos, pred_pos), "fp": (~label_pos, pred_pos), "tn": (~label_pos, ~pred_pos),
             "fn": (label_pos, ~pred_pos)}
    for key, var in counts.items():
        label, pred = cells[key]
        var.assign_add(np.sum(np.where(label & pred, wd, 0.0), axis=1))


class _ConfusionCount(Metric):
    _cell = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5, type(self).__name__)
        self._evenly = _evenly_distributed(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix({self._cell: self.accumulator}, y_true, y_pred, self.thresholds,
                                sample_weight=sample_weight, evenly=self._evenly)

    def _result(self):
        a = self.accumulator.value
        return a[0] if len(self.thresholds) == 1 else a.copy()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The (weighted) count of positives predicted above each threshold. Args: thresholds (0.5), name, dtype."""
    _cell = "tp"


class FalsePositives(_ConfusionCount):
    """The (weighted) count of negatives predicted above each threshold. Args: thresholds (0.5), name, dtype."""
    _cell = "fp"


class TrueNegatives(_ConfusionCount):
    """The (weighted) count of negatives predicted at or below each threshold. Args: thresholds, name, dtype."""
    _cell = "tn"


class FalseNegatives(_ConfusionCount):
    """The (weighted) count of positives predicted at or below each threshold. Args: thresholds, name, dtype."""
    _cell = "fn"


class _PrecisionRecall(Metric):
    _other = None       # "fp" (precision) or "fn" (recall)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF, type(self).__name__)
        self._evenly = _evenly_distributed(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable((n,), "zeros", name="true_positives")
        other = self.add_variable((n,), "zeros", name="false_positives" if self._other == "fp" else "false_negatives")
        setattr(self, "false_positives" if self._other == "fp" else "false_negatives", other)
        self._other_var = other

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix({"tp": self.true_positives, self._other: self._other_var}, y_true, y_pred,
                                self.thresholds, top_k=self.top_k, class_id=self.class_id,
                                sample_weight=sample_weight, evenly=self._evenly)

    def _result(self):
        tp = self.true_positives.value
        r = _divide_no_nan(tp, tp + self._other_var.value)
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) of predictions above `thresholds` (default 0.5); `top_k` counts only the k
    largest scores of each sample, `class_id` one class column. Args: thresholds, top_k, class_id, name, dtype."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """tp / (tp + fn) of predictions above `thresholds` (default 0.5); `top_k` counts only the k
    largest scores of each sample, `class_id` one class column. Args: thresholds, top_k, class_id, name, dtype."""
    _other = "fn"


class AUC(Metric):
    """Area under the ROC or PR curve, from tp/fp/tn/fn counted at `num_thresholds` thresholds
    spread evenly over [0, 1] and summed by `summation_method` ("interpolation": trapezoids for ROC,
    Davis & Goadrich's interpolation for PR; "minoring"; "majoring").
    Args: num_thresholds (200), curve ("ROC" / "PR" / "PRGAIN"), summation_method, name, dtype,
    thresholds, multi_label (False), num_labels, label_weights, from_logits (False)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curve_key = str(curve).upper()
        if curve_key not in ("ROC", "PR", "PRGAIN"):
            raise ValueError(f'AUC: invalid curve "{curve}"; expected one of ["PR", "ROC", "PRGAIN"]')
        method = str(summation_method).lower()
        if method not in ("interpolation", "majoring", "minoring"):
            raise ValueError(f'AUC: invalid summation_method "{summation_method}"; expected one of '
                             f'["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._evenly = _evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be an integer > 1, got {num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + thresholds + [1.0 + EPSILON])
        self.curve, self.summation_method = curve_key, method
        super().__init__(name=name, dtype=dtype)
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        self._from_logits = bool(from_logits)
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("AUC: num_labels is needed only when multi_label is True")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, shape):
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"AUC: y_pred must have rank 2 when multi_label=True, got shape {shape}")
            self._num_labels = shape[1]
            var_shape = (self.num_thresholds, self._num_labels)
        else:
            var_shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(var_shape, name="true_positives")
        self.false_positives = self.add_variable(var_shape, name="false_positives")
        self.true_negatives = self.add_variable(var_shape, name="true_negatives")
        self.false_negatives = self.add_variable(var_shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _floats(y_pred)
        if not self._built:
            self._build(p.shape)
        if self._from_logits:
            p = _sigmoid(p).astype(np.float32)
        update_confusion_matrix({"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
                                 "fn": self.false_negatives}, y_true, p, self._thresholds,
                                sample_weight=sample_weight, multi_label=self.multi_label,
                                label_weights=None if self.multi_label else self.label_weights, evenly=self._evenly)

    def _by_label(self, values):
        if not self.multi_label:
            return np.sum(values)
        per_label = np.sum(values, axis=0)
        if self.label_weights is None:
            return np.mean(per_label)
        return _divide_no_nan(np.sum(per_label * self.label_weights), np.sum(self.label_weights))

    def _interpolate_pr_auc(self, tp, fp, fn):
        n = self.num_thresholds
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        safe_ratio = np.where((p[:n - 1] > 0) & (p[1:] > 0), _divide_no_nan(p[:n - 1], np.maximum(p[1:], 0)),
                              np.ones_like(p[1:]))
        with np.errstate(divide="ignore", invalid="ignore"):
            increment = _divide_no_nan(prec_slope * (dtp + intercept * np.log(safe_ratio)),
                                       np.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(increment)

    def _result(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(tp, fp, fn)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:n - 1], y[1:])
        else:
            heights = np.maximum(y[:n - 1], y[1:])
        return self._by_label((x[:n - 1] - x[1:]) * heights)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(Metric):
    """F-beta = (1 + beta^2) P R / (beta^2 P + R) per class ([N, classes] inputs); `average`
    None (per class), "micro", "macro" or "weighted"; `threshold` None marks each sample's largest
    score as the prediction. Args: average, beta (1.0), threshold, name, dtype."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' or 'weighted', "
                             f"got {average!r}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{type(self).__name__}: beta must be a Python float > 0, got {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ValueError(f"{type(self).__name__}: threshold must be a Python float in (0, 1], got {threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, t_shape, p_shape):
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim); got "
                             f"y_pred.shape={p_shape} and y_true.shape={t_shape}")
        shape = () if self.average == "micro" else (p_shape[-1],)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = _array(y_true).astype(np.float32)
        p = _array(y_pred).astype(np.float32)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pred = p > np.float32(self.threshold)
        pred = pred.astype(np.float64)
        t = t.astype(np.float64)
        w = None if sample_weight is None else _array(sample_weight).astype(np.float64)[:, None]

        def weighted_sum(v):
            return np.sum(v if w is None else v * w, axis=self.axis)
        self.true_positives.assign_add(weighted_sum(pred * t))
        self.false_positives.assign_add(weighted_sum(pred * (1 - t)))
        self.false_negatives.assign_add(weighted_sum((1 - pred) * t))
        self.intermediate_weights.assign_add(weighted_sum(t))

    def _result(self):
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        f = (precision * recall) / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights.value
            return np.sum(f * iw / (np.sum(iw) + EPSILON))
        if self.average is not None:
            return np.mean(f)
        return f

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """F1 = 2 P R / (P + R) per class ([N, classes] inputs); `average` None, "micro", "macro" or
    "weighted"; `threshold` None marks each sample's largest score. Args: average, threshold, name, dtype."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class IoU(Metric):
    """Intersection over union, tp / (tp + fp + fn), of the classes `target_class_ids`, averaged,
    from the confusion matrix of integer class ids (`sparse_y_true` / `sparse_y_pred` False: take
    the argmax along `axis`). Args: num_classes, target_class_ids, name, dtype, ignore_class,
    sparse_y_true (True), sparse_y_pred (True), axis (-1)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int")
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"{type(self).__name__}: target class id {max(target_class_ids)} is out of range "
                             f"[0, {num_classes})")
        self.num_classes, self.ignore_class, self.axis = int(num_classes), ignore_class, axis
        self.sparse_y_true, self.sparse_y_pred = sparse_y_true, sparse_y_pred
        self.target_class_ids = list(target_class_ids)
        self.total_cm = self.add_variable((num_classes, num_classes), dtype=self.dtype, name="total_confusion_matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _array(y_true), _array(y_pred)
        if not self.sparse_y_true:
            t = np.argmax(t, axis=self.axis)
        if not self.sparse_y_pred:
            p = np.argmax(p, axis=self.axis)
        kind = np.dtype(self.dtype)
        t, p = t.astype(kind).reshape(-1), p.astype(kind).reshape(-1)
        if sample_weight is None:
            w = np.ones(t.shape, kind)
        else:
            w = _array(sample_weight)
            if w.dtype.kind == "f" and kind.kind in "iu":
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an "
                              "incorrect weight due to type casting Consider using integer weights.", stacklevel=2)
            w = np.broadcast_to(w.astype(kind).reshape(-1) if w.ndim > 1 else w.astype(kind), t.shape)
        valid = (t >= 0) & (t < self.num_classes) & (p >= 0) & (p < self.num_classes)
        if self.ignore_class is not None:
            valid &= t != self.ignore_class
        cm = np.zeros((self.num_classes, self.num_classes), np.float64)
        np.add.at(cm, (np.where(valid, t, 0).astype(np.int64), np.where(valid, p, 0).astype(np.int64)),
                  np.where(valid, w, 0).astype(np.float64))
        self.total_cm.assign_add(cm)

    def _result(self):
        cm = self.total_cm.value.astype(np.float64)
        tp = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        ids = self.target_class_ids
        tp, denominator = tp[ids], denominator[ids]
        valid = denominator > 1e-9
        iou = np.where(valid, tp / (denominator + EPSILON), 0.0)
        return np.sum(iou, axis=self.axis) / (np.sum(valid) + EPSILON)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class MeanIoU(IoU):
    """The mean IoU over all `num_classes` classes that occur (integer class ids; y_pred values are
    cast to integers, so pass ids or set sparse_y_pred=False for scores). Args: num_classes, name,
    dtype, ignore_class, sparse_y_true (True), sparse_y_pred (True), axis (-1)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)), name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of binary predictions (y_pred >= threshold) for `target_class_ids` of (0, 1).
    Args: target_class_ids ((0, 1)), threshold (0.5), name, dtype."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = (_array(y_pred).astype(np.float32) >= np.float32(self.threshold)).astype(np.int64)
        return super().update_state(y_true, p, sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


# --- lookup ---------------------------------------------------------------------------------------------
_CLASSES = [Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
            MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity,
            LogCoshError, R2Score, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, TruePositives, FalsePositives,
            TrueNegatives, FalseNegatives, Precision, Recall, AUC, FBetaScore, F1Score, IoU, MeanIoU, BinaryIoU]
_BY_NAME = {c.__name__: c for c in _CLASSES}
_BY_NAME.update({_snake(c.__name__): c for c in _CLASSES})
_BY_NAME.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
                 "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
_BY_LOWER = {k.lower(): c for k, c in _BY_NAME.items()}
_NEEDS_ARGS = {IoU, MeanIoU, MeanMetricWrapper}


def serialize(metric):
    """{"class_name", "config"} for a built-in metric (Keras' format); None for anything else."""
    if type(metric) in _CLASSES and type(metric) is not MeanMetricWrapper:
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return None


def deserialize(config, custom_objects=None):
    """The metric a config made by `serialize` describes (custom_objects for your own classes)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"metrics.deserialize: expected {{'class_name': ..., 'config': {{...}}}}, got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        raise ValueError(f"metrics.deserialize: unknown metric class {name!r}.{did_you_mean(name, _BY_NAME)}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier, where="compile: metrics"):
    """A Metric object for compile: a name ("accuracy", "mae", "precision", "AUC", ...), a Metric
    object or class, a config dict, or a callable fn(y_true, y_pred); a string names the metric in
    the logs as written, as in Keras."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _AutoAccuracy(identifier)
        cls = _BY_NAME.get(identifier) or _BY_LOWER.get(identifier.lower())
        if cls is None:
            known = sorted({k for k in _BY_NAME if k == k.lower()} | {"accuracy", "acc"})
            raise ValueError(f"{where}: unknown metric {identifier!r}.{did_you_mean(identifier, known)} "
                             f"Known: {', '.join(known)}, a Metric object, or a callable(y_true, y_pred)")
        if cls in _NEEDS_ARGS:
            raise ValueError(f"{where}: metric {identifier!r} needs arguments; pass {cls.__name__}(...) instead")
        m = cls()
        m.name = identifier
        return m
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MetricFunction(identifier)
    raise TypeError(f"{where}: a metric is a name, a Metric object or a callable(y_true, y_pred), "
                    f"got {type(identifier).__name__}")


# keras.metrics also exports the loss functions under their names
from .losses import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,  # noqa: E402
                     categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                     mean_absolute_percentage_error, mean_squared_logarithmic_error, poisson,
                     sparse_categorical_crossentropy, squared_hinge)

__all__ = [c.__name__ for c in _CLASSES] + [
    "Metric", "Variable", "get", "serialize", "deserialize", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "binary_focal_crossentropy",
    "categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "hinge", "huber",
    "kl_divergence", "log_cosh", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "poisson",
    "sparse_categorical_crossentropy", "squared_hinge"]
