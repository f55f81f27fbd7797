"""Masking (Keras 3 `keras.layers.Masking`): skip the timesteps whose features all equal a value."""
from __future__ import annotations

import numbers

from .base import Layer, register, set_keras_mask

__all__ = ["Masking"]


@register
class Masking(Layer):
    """keep[..., t] = any(x[..., t, :] != mask_value); y = x where keep, else 0; the output
    carries the mask `keep` ([batch, steps] for [batch, steps, features]), which the layers
    after it that support masking use (a masked timestep is False, as Keras).

    Args:
        mask_value: the padding value (default 0.0).
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, numbers.Real):
            raise TypeError(f"{self._who()}: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ..., features)")
        return input_shape

    def compute_mask(self, inputs, mask=None):
        from .. import ops as dops
        return dops.any(dops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        from .. import ops as dops
        keep = dops.any(dops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = dops.where(keep, inputs, 0.0)
        set_keras_mask(outputs, dops.squeeze(keep, axis=-1))
        return outputs

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
