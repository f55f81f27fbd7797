"""`keras.initializers`: objects called as `init(shape, dtype=None)` that return a numpy array.

Random draws come from the engine generator (`engine.random`, reseeded by `ag.manual_seed`),
or, with `seed=<int>`, from a generator of that seed made afresh at every call (a fixed draw, as
an integer-seeded Keras initializer gives). The draws are not Keras' bits; the distributions are
Keras': fans as `compute_fans` counts them (a conv kernel [..., in, out] multiplies both by its
receptive field), truncated normals cut at two standard deviations.

`serialize_object` / `get_object` are shared with `dptrain.regularizers` and `dptrain.constraints`.
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np

from engine import random as _random
from .suggest import did_you_mean

__all__ = [
    "Initializer", "Constant", "Identity", "Ones", "Zeros",
    "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
    "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
    "constant", "identity", "ones", "zeros", "glorot_normal", "glorot_uniform", "he_normal",
    "he_uniform", "lecun_normal", "lecun_uniform", "orthogonal", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "IdentityInitializer", "OrthogonalInitializer",
    "compute_fans", "serialize", "deserialize", "get",
]


# --- configs shared by initializers, regularizers and constraints -----------------------------
def snake_case(name):
    """'GlorotUniform' -> 'glorot_uniform', 'L1L2' -> 'l1l2' (Keras' to_snake_case)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def serialize_object(obj, module, table):
    """A Keras-style config: {"module", "class_name", "config", "registered_name"}; None stays None,
    a named function its name (load it back through custom_objects)."""
    if obj is None:
        return None
    cls = type(obj)
    if hasattr(obj, "get_config") and not inspect.isclass(obj):
        builtin = table.get(cls.__name__) is cls
        return {"module": module if builtin else cls.__module__, "class_name": cls.__name__,
                "config": obj.get_config(), "registered_name": None if builtin else cls.__name__}
    name = getattr(obj, "__name__", None)
    if callable(obj) and name and name != "<lambda>":
        return name
    raise TypeError(f"{module}: cannot serialise {obj!r}: give it a get_config() method "
                    f"(subclass the base class), or use a named function")


def get_object(identifier, table, kind, custom_objects=None):
    """A name, a {"class_name", "config"} dict, a class, an instance or a callable -> the object."""
    if identifier is None:
        return None
    lookup = {**table, **(custom_objects or {})}
    if isinstance(identifier, str):
        if identifier not in lookup:
            raise ValueError(f"unknown {kind} {identifier!r}; known: {', '.join(sorted(table))}"
                             f"{did_you_mean(identifier, lookup)}")
        identifier = lookup[identifier]
    elif isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"a {kind} config must be a dict with 'class_name' and 'config', got {identifier!r}")
        name = identifier["class_name"]
        cls = lookup.get(name) or lookup.get(identifier.get("registered_name") or "")
        if cls is None:
            raise ValueError(f"unknown {kind} class {name!r} in the config; known: {', '.join(sorted(table))} "
                             f"(pass your own class with custom_objects=){did_you_mean(name, lookup)}")
        return cls.from_config(dict(identifier.get("config") or {}))
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"could not interpret {kind} identifier {identifier!r}: give a name, a config dict, "
                     f"an instance or a callable")


# --- base classes -----------------------------------------------------------------------------
def _dtype(dtype):
    return np.dtype("float32" if dtype is None else dtype)


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(int(s) for s in shape)


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns a numpy array of that shape."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement __call__(shape, dtype=None)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__}: seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        return _random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng, shape, mean, stddev):
    """Normal(mean, stddev) with every value beyond two standard deviations redrawn."""
    out = rng.standard_normal(size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev + mean


# --- constants --------------------------------------------------------------------------------
class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(_shape(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(_shape(shape), _dtype(dtype))


class Constant(Initializer):
    """Every value `value` (a scalar)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(_shape(shape), self.value, _dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """gain * the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: only 2-D shapes can be initialised, got shape {shape}")
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


# --- random -----------------------------------------------------------------------------------
class RandomNormal(RandomInitializer):
    """Normal(mean, stddev)."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, size=_shape(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal(mean, stddev) with values beyond two standard deviations redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), _shape(shape), self.mean, self.stddev).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, size=_shape(shape)).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape, as Keras counts them: [in, out] for 2-D; a kernel
    [..., in, out] multiplies both by the receptive field (the product of the leading axes)."""
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)), int(math.prod(shape[a] for a in output_axes)))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(RandomInitializer):
    """Variance scale / n, n = fan_in, fan_out or their mean (`mode`): a normal truncated at two
    standard deviations (stddev sqrt(scale / n) after truncation), an untruncated normal, or a
    uniform on [-limit, limit] with limit = sqrt(3 * scale / n)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        who = type(self).__name__
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0.0:
            raise ValueError(f"{who}: scale must be a positive float, got {scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"{who}: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"{who}: distribution must be 'uniform', 'truncated_normal' or "
                             f"'untruncated_normal', got {distribution!r}")
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a unit normal truncated at +-2: it restores sqrt(scale)
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            out = rng.normal(0.0, math.sqrt(scale), size=shape)
        else:
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, size=shape)
        return out.astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""
    _args = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._args
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""
    _args = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out))."""
    _args = (1.0, "fan_avg", "truncated_normal")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal, stddev sqrt(1 / fan_in)."""
    _args = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(3 / fan_in)."""
    _args = (1.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal, stddev sqrt(2 / fan_in)."""
    _args = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform on [-limit, limit], limit = sqrt(6 / fan_in)."""
    _args = (2.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """gain * a (semi-)orthogonal matrix, reshaped: the shape is flattened to [prod(shape[:-1]),
    shape[-1]], whose rows (if fewer) or columns are orthonormal; from the QR of a normal draw."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape to initialise must have at least 2 dimensions, "
                             f"got shape {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))      # makes the distribution uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(_dtype(dtype))

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# --- names, serialisation ---------------------------------------------------------------------
_CLASSES = (Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal,
            HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform,
            TruncatedNormal, VarianceScaling)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({"normal": RandomNormal, "one": Ones, "uniform": RandomUniform, "zero": Zeros,
                         "IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal})

# Keras' lower-case names are the classes themselves.
constant, identity, ones, zeros = Constant, Identity, Ones, Zeros
glorot_normal, glorot_uniform, he_normal, he_uniform = GlorotNormal, GlorotUniform, HeNormal, HeUniform
lecun_normal, lecun_uniform, orthogonal = LecunNormal, LecunUniform, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


def serialize(initializer):
    """The Keras-style config of `initializer` ({"class_name": ..., "config": ...}), data only."""
    return serialize_object(initializer, "keras.initializers", ALL_OBJECTS_DICT)


def deserialize(config, custom_objects=None):
    """The initializer a config made by `serialize` describes (custom_objects for your own classes)."""
    return get_object(config, ALL_OBJECTS_DICT, "initializer", custom_objects)


def get(identifier, custom_objects=None):
    """A name ("glorot_uniform", "HeNormal"), a config dict, a class, an instance, a callable
    `fn(shape, dtype=None)` or a numpy array (its values, for that shape only) -> an initializer."""
    if isinstance(identifier, np.ndarray):
        return _FromArray(identifier)
    return get_object(identifier, ALL_OBJECTS_DICT, "initializer", custom_objects)


class _FromArray:
    def __init__(self, value):
        self.value = value

    def __call__(self, shape, dtype=None):
        if _shape(shape) != self.value.shape:
            raise ValueError(f"initializer array: expected shape {self.value.shape}, got shape {_shape(shape)}")
        return np.array(self.value, dtype=_dtype(dtype))
