"""BatchNorm and LayerNorm over the last (channel / feature) axis."""
from __future__ import annotations

import numpy as np

from .. import ops
from . import init
from .linear import positive_int
from .module import Module, input_features


class BatchNorm(Module):
    """Batch normalisation over every axis but the last (channels-last).

    Training mode normalises with the batch statistics (the gradient includes
    their dependence on the input) and updates the running statistics as
    running = (1 - momentum) * running + momentum * batch (unbiased variance),
    as PyTorch does; eval mode uses the running statistics.
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features", "BatchNorm")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"BatchNorm: eps must be positive, got {eps}")
        self.momentum, self.eps = float(momentum), float(eps)
        if affine:
            self.new_param("weight", init.ones((num_features,), dtype))
            self.new_param("bias", init.zeros((num_features,), dtype))
        else:
            self.weight = self.bias = None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def forward(self, x):
        input_features(self, x, self.num_features, "channels")
        return ops.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                              training=self.training, momentum=self.momentum, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class LayerNorm(Module):
    """Normalise each item over its last axis, then scale and shift (per feature)."""

    def __init__(self, num_features, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features", "LayerNorm")
        if eps <= 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps}")
        self.eps = float(eps)
        if affine:
            self.new_param("weight", init.ones((num_features,), dtype))
            self.new_param("bias", init.zeros((num_features,), dtype))
        else:
            self.weight = self.bias = None

    def forward(self, x):
        input_features(self, x, self.num_features)
        return ops.layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}"
