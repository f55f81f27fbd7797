"""Layer: build / call / compute_output_shape, lazily created weights, configs.

A layer is called either on KerasTensors (symbolic: it builds its weights from
the input shape, checks the shape and records a graph node, no data runs) or on
arrays/Tensors (eager: it runs `call`). Shapes always include the batch axis,
as None in symbolic shapes.
"""
from __future__ import annotations

import collections
import itertools
import re

import numpy as np

from engine import backend as _backend
from engine.tensor import Tensor, as_tensor, param as _param
from ..suggest import did_you_mean

_name_counters = collections.defaultdict(itertools.count)
_REGISTRY = {}


def register(cls):
    """Make a layer class loadable by `load_model` (configs name classes; nothing else is executed)."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"register: another class is already registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


def lookup(class_name, custom_objects=None):
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    cls = _REGISTRY.get(class_name)
    if cls is None:
        raise ValueError(f"unknown layer class {class_name!r} in the model config; known classes: "
                         f"{', '.join(sorted(_REGISTRY))} (register your own with dptrain.layers.register "
                         f"or pass custom_objects=)")
    return cls


def _snake(name):
    s = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()


def unique_name(prefix):
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def check_shape_arg(shape, who, what="input_shape"):
    """A shape tuple of positive ints or None (batch excluded)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who}: {what} must be a tuple of ints, got {shape!r}") from None
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0:
            out.append(int(s))
        else:
            raise ValueError(f"{who}: {what} must hold positive ints (or None), got {shape!r}")
    return tuple(out)


def positive_int(v, name, who):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {v!r}")
    return int(v)


def int_tuple(v, n, name, who):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (int(v),) * n
    try:
        v = tuple(int(i) for i in v)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(v) != n or any(i <= 0 for i in v):
        raise ValueError(f"{who}: {name} must be a positive int or a tuple of {n} positive ints, got {v!r}")
    return v


def _init_keywords(cls):
    """Every keyword the constructors of `cls` and its bases accept."""
    import inspect
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            try:
                names.update(p for p in inspect.signature(init).parameters if p not in ("self", "kwargs"))
            except (TypeError, ValueError):
                pass
    return sorted(names)


def flatten(struct):
    return list(struct) if isinstance(struct, (list, tuple)) else [struct]


class Layer:
    """Base class. Subclasses implement `build(input_shape)`, `call(inputs, training)` and
    `compute_output_shape(input_shape)`, and extend `get_config()` with their arguments."""

    def __init__(self, name=None, trainable=True, input_shape=None, **kwargs):
        who = type(self).__name__
        if kwargs:
            hints = "".join(did_you_mean(k, _init_keywords(type(self))) for k in sorted(kwargs))
            raise TypeError(f"{who}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}.{hints}")
        if name is None:
            name = unique_name(_snake(who))
        elif not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{who}: name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self._trainable = bool(trainable)
        self._input_shape_arg = None if input_shape is None else check_shape_arg(input_shape, self._who())
        self.built = False
        self._weights = []            # Tensors, in creation (Keras) order
        self._weight_trainable = []   # per weight: a trainable variable (BN moving stats are not)
        self._inbound_nodes = []
        self.build_input_shape = None

    def _who(self):
        return f"{type(self).__name__} layer '{self.name}'"

    # --- weights -------------------------------------------------------------
    def add_weight(self, name, shape, initializer, trainable=True, dtype=np.float32):
        """Create a weight (an ag.param when trainable) named '<layer>/<name>'."""
        value = initializer(tuple(int(s) for s in shape), dtype)
        full = f"{self.name}/{name}"
        if trainable:
            w = _param(value, name=full)
            w.requires_grad = self._trainable
        else:
            K = _backend.current
            w = Tensor(K.copy(K.asarray(value)), name=full)
        self._weights.append(w)
        self._weight_trainable.append(bool(trainable))
        return w

    def _sublayers(self):
        return ()

    @property
    def weights(self):
        out, seen = [], set()
        for w in self._weights:
            out.append(w)
            seen.add(id(w))
        for layer in self._sublayers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def _weight_flags(self):
        """(weight, trainable now) pairs, sublayers included, without duplicates."""
        out, seen = [], set()
        for w, t in zip(self._weights, self._weight_trainable):
            out.append((w, t and self._trainable))
            seen.add(id(w))
        for layer in self._sublayers():
            for w, t in layer._weight_flags():
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((w, t and self._trainable))
        return out

    @property
    def trainable_weights(self):
        return [w for w, t in self._weight_flags() if t]

    @property
    def non_trainable_weights(self):
        return [w for w, t in self._weight_flags() if not t]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value
        for w, t in zip(self._weights, self._weight_trainable):
            if t:
                w.requires_grad = self._trainable

    def count_params(self):
        if not self.built:
            raise ValueError(f"{self._who()}: not built yet, so it has no weights to count; call it on an "
                             f"input (or give the first layer input_shape=) first")
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [np.array(w.numpy(), copy=True) for w in self.weights]

    def set_weights(self, weights):
        own = self.weights
        weights = list(weights)
        if not self.built and not own:
            raise ValueError(f"{self._who()}: not built yet; build it (call it on an input) before set_weights")
        if len(weights) != len(own):
            raise ValueError(f"{self._who()}: set_weights got {len(weights)} arrays, the layer has "
                             f"{len(own)} weights ({', '.join(w.name for w in own)})")
        arrays = []
        for w, a in zip(own, weights):
            a = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
            if a.shape != w.shape:
                raise ValueError(f"{self._who()}: weight '{w.name}' has shape {w.shape}, "
                                 f"set_weights got shape {a.shape}")
            arrays.append(a)
        K = _backend.current
        for w, a in zip(own, arrays):
            K.copy_into(w.data, K.asarray(a.astype(w.dtype, copy=False)))

    # --- building ---------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for `input_shape` (batch axis included, as None)."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_dtype(self, input_dtype):
        return "float32"

    def call(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def ensure_built(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.build_input_shape = input_shape

    def shape_error(self, input_shape, expected, why=""):
        why = f": {why}" if why else ""
        return ValueError(f"{self._who()}: incompatible input shape {_fmt(input_shape)}, expected "
                          f"{_fmt(expected)}{why}")

    # --- calling ----------------------------------------------------------------
    def __call__(self, inputs, training=None):
        from .input import KerasTensor, make_node
        flat = flatten(inputs)
        symbolic = [isinstance(t, KerasTensor) for t in flat]
        if any(symbolic):
            if not all(symbolic):
                raise TypeError(f"{self._who()}: called on a mix of symbolic inputs (dt.Input / layer outputs) "
                                f"and data; use one or the other")
            return make_node(self, inputs)
        return self._call_eager(inputs, bool(training))

    def _call_eager(self, inputs, training):
        def to_tensor(a):
            if isinstance(a, Tensor):
                return a
            a = np.asarray(a)
            if a.dtype.kind == "f" and a.dtype != np.float32:
                a = a.astype(np.float32)
            return as_tensor(a)
        if isinstance(inputs, (list, tuple)):
            xs = [to_tensor(a) for a in inputs]
            shapes = [(None,) + tuple(x.shape[1:]) for x in xs]
        else:
            xs = to_tensor(inputs)
            shapes = (None,) + tuple(xs.shape[1:])
        self.ensure_built(shapes)
        self.compute_output_shape(shapes)   # validates
        return self.call(xs, training=training)

    # --- graph helpers --------------------------------------------------------
    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"{self._who()} has not been called on a symbolic input, so it has no {what}")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"{self._who()} has been called {len(self._inbound_nodes)} times (shared); "
                                 f"its {what} is ambiguous")
        return self._inbound_nodes[0]

    @property
    def input(self):
        return self._single_node("input").inputs

    @property
    def output(self):
        outs = self._single_node("output").outputs
        return outs[0] if len(outs) == 1 else outs

    # --- configs ------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self._trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _fmt(shape):
    if isinstance(shape, str):
        return shape
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt(s) for s in shape) + "]"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


format_shape = _fmt
