"""Embedding: 0-based integer tokens -> dense vectors."""
from __future__ import annotations

import numpy as np

from engine import ops
from engine.tensor import Tensor

from .base import Layer, positive_int, register
from .core import WeightArgs


@register
class Embedding(WeightArgs, Layer):
    """y[..., :] = embeddings[token]: [batch, ...] integer tokens in 0..input_dim-1 ->
    [batch, ..., output_dim]; embeddings [input_dim, output_dim] (default "uniform",
    RandomUniform(-0.05, 0.05)). `mask_zero=True`: token 0 is padding; the output carries the
    mask `tokens != 0`, which the layers after it that support masking use (then input_dim
    should be the vocabulary size + 1)."""

    input_dtype = "int32"   # what Sequential gives an Input built from input_shape=

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, activity_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "input_dim", self._who())
        self.output_dim = positive_int(output_dim, "output_dim", self._who())
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"{self._who()}: mask_zero must be True or False, got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero      # as Keras
        self._set_weight_args(embeddings_initializer=embeddings_initializer,
                              embeddings_regularizer=embeddings_regularizer,
                              activity_regularizer=activity_regularizer,
                              embeddings_constraint=embeddings_constraint)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise self.shape_error(input_shape, "(batch, ...) of token ids")
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise self.shape_error(input_shape, "(batch, ...) of token ids")
        return input_shape + (self.output_dim,)

    def check_tokens(self, tokens, where="input"):
        """Integer tokens in range, else a ValueError naming the layer and the token."""
        a = tokens.numpy() if isinstance(tokens, Tensor) else np.asarray(tokens)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise ValueError(f"{self._who()}: {where} must hold integer token ids, got non-integral values")
        elif a.dtype.kind not in "iu":
            raise TypeError(f"{self._who()}: {where} must hold integer token ids, got dtype {a.dtype}")
        if a.size:
            lo, hi = a.min(), a.max()
            if lo < 0 or hi >= self.input_dim:
                bad = int(lo) if lo < 0 else int(hi)
                raise ValueError(f"{self._who()}: token {bad} in {where} is out of range for "
                                 f"input_dim={self.input_dim} (valid tokens: 0..{self.input_dim - 1})")
        return a

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        from .. import ops as dops
        return dops.not_equal(inputs, 0)

    def call(self, tokens, training=False):
        return self._record_activity(ops.embedding(self.check_tokens(tokens), self.embeddings))

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero,
                **self._weight_args_config()}
