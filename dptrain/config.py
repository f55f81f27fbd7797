"""`keras.config`: the global settings Keras 3 exposes, as far as dptrain has them.

dptrain computes in float32 with channels-last images; the setters accept exactly these
values (and raise NotImplementedError for others rather than silently ignoring them).
"""
from __future__ import annotations

__all__ = ["backend", "epsilon", "floatx", "image_data_format", "set_epsilon", "set_floatx",
           "set_image_data_format"]

_FLOATX = "float32"
_IMAGE_DATA_FORMAT = "channels_last"
_EPSILON = 1e-7


def floatx():
    """The default float type of weights and computations: "float32"."""
    return _FLOATX


def set_floatx(value):
    """Only "float32" is supported (float16/bfloat16/float64 training: NotImplementedError)."""
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"set_floatx: Unknown `floatx` value: {value!r}. Expected one of "
                         f"{{'float16', 'bfloat16', 'float32', 'float64'}}")
    if value != _FLOATX:
        raise NotImplementedError(f"set_floatx({value!r}) is not supported by dptrain: Keras models train in "
                                  f"float32 (the engine's `ag.param` keeps float64 arrays for lower-level use)")


def image_data_format():
    """The layout of image tensors: "channels_last" ([batch, height, width, channels])."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Only "channels_last" is supported ("channels_first": NotImplementedError)."""
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: The `data_format` argument must be one of {{'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format!r}")
    if data_format != _IMAGE_DATA_FORMAT:
        raise NotImplementedError("set_image_data_format('channels_first') is not supported by dptrain: "
                                  "images are channels_last; transpose your data with np.transpose(x, (0, 2, 3, 1))")


def epsilon():
    """The fuzz factor Keras adds to avoid divisions by zero: 1e-7."""
    return _EPSILON


def set_epsilon(value):
    """Only the default 1e-7 is supported (dptrain's losses and layers use it as a constant)."""
    if float(value) != _EPSILON:
        raise NotImplementedError(f"set_epsilon({value!r}) is not supported by dptrain: epsilon is fixed at 1e-7")


def backend():
    """The name of the backend: "dptrain" (Keras says "tensorflow", "jax" or "torch")."""
    return "dptrain"
