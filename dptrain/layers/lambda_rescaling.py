"""Keras 3's Lambda (a function as a layer) and Rescaling (y = x * scale + offset)."""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from engine import ops
from engine.tensor import as_tensor

from .base import Layer, register

__all__ = ["Lambda", "Rescaling"]


@register
class Lambda(Layer):
    """`function(inputs, **arguments)` as a layer, as keras.layers.Lambda.

    The output shape is found by running the function once on zeros (as Keras'
    compute_output_spec), unless `output_shape` (a tuple without the batch axis, or a function
    of the input shape) is given. `mask`: the output mask, a function `(inputs, mask) -> mask` or a
constant mask (by default, as Keras, None: a Lambda drops an incoming mask); a function with a
`mask` parameter is given the inputs' mask. A Lambda has no weights. Its function
    is code, which dptrain's data-only model files never hold: a model with a Lambda saves its
    weights (`save_weights`) but not its architecture (`save` raises, naming the layer).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"{self._who()}: function must be callable, got {type(function).__name__}")
        self.mask = mask
        self.supports_masking = mask is not None       # as Keras
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"{self._who()}: arguments must be a dict of keyword arguments, got "
                            f"{type(arguments).__name__}")
        if output_shape is not None and not callable(output_shape):
            output_shape = tuple(output_shape)
        self.function, self.output_shape_arg, self.arguments = function, output_shape, dict(arguments or {})
        try:
            params = inspect.signature(function).parameters
            self._fn_training = "training" in params
            self._fn_mask = "mask" in params
        except (TypeError, ValueError):
            self._fn_training = self._fn_mask = False

    def call(self, inputs, training=False, mask=None):
        kw = dict(self.arguments)
        if self._fn_training:
            kw["training"] = training
        if self._fn_mask:
            kw["mask"] = mask
        return self.function(inputs, **kw)

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        if self.output_shape_arg is None:
            return self._infer_output_shape(input_shape)
        if callable(self.output_shape_arg):
            return self.output_shape_arg(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + self.output_shape_arg

    def get_config(self):
        raise NotImplementedError(
            f"{self._who()}: a Lambda layer's function is Python code, which dptrain's model files (data "
            f"only, never code) cannot hold; save the weights with save_weights and rebuild the model in "
            f"code, or write the function as a registered custom Layer")


def _factor(value, name, who):
    if isinstance(value, bool):
        raise TypeError(f"{who}: {name} must be a number or an array, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    a = np.asarray(value, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{who}: {name} must be finite")
    return a


@register
class Rescaling(Layer):
    """y = x * scale + offset, in float32 (integer inputs, e.g. uint8 images, are cast first), as
    keras.layers.Rescaling. `scale` and `offset` are numbers or arrays that broadcast against the
    input (e.g. one per channel). Input/output: any shape."""
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor(scale, "scale", self._who())
        self.offset = _factor(offset, "offset", self._who())

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x, training=False):
        kind = np.dtype(str(x.dtype)).kind
        if kind != "f":          # integer data (no gradient): converted, as Keras casts to the compute dtype
            x = as_tensor(np.asarray(x.numpy(), dtype=np.float32))
        elif str(x.dtype) != "float32":
            x = ops.cast(x, "float32")
        scale = self.scale if isinstance(self.scale, float) else as_tensor(self.scale)
        offset = self.offset if isinstance(self.offset, float) else as_tensor(self.offset)
        y = x * scale
        return y + offset if not (isinstance(offset, float) and offset == 0.0) else y

    def get_config(self):
        def plain(v):
            return v if isinstance(v, float) else v.tolist()
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}
