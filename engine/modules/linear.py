"""Linear: y = activation(x @ W + b), batch-first, W of shape [in, out]."""
from __future__ import annotations

import numpy as np

from .. import ops
from . import init
from .module import Module, input_features

ACTIVATIONS = {
    None: None, "linear": None,
    "relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "gelu": ops.gelu, "silu": ops.silu,
    "softmax": lambda x: ops.softmax(x, -1),
}


def resolve_activation(activation, who):
    """(display name, function or None) for a name, None or a callable."""
    if callable(activation):
        return getattr(activation, "__name__", "callable"), activation
    if activation not in ACTIVATIONS:
        names = sorted(k for k in ACTIVATIONS if k)
        raise ValueError(f"{who}: unknown activation {activation!r}; choose one of {names}, None or a callable")
    return activation, ACTIVATIONS[activation]


def positive_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Linear(Module):
    """Glorot-uniform weight [in, out], zero bias (Keras Dense / PyTorch Linear with x @ W)."""

    def __init__(self, in_features, out_features, activation=None, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        self.activation, self._act = resolve_activation(activation, "Linear")
        self.new_param("weight", init.glorot_uniform((self.in_features, self.out_features), dtype))
        if bias:
            self.new_param("bias", init.zeros((self.out_features,), dtype))
        else:
            self.bias = None

    def forward(self, x):
        input_features(self, x, self.in_features)
        y = ops.matmul(x, self.weight)
        if self.bias is not None:
            y = ops.add(y, self.bias)
        return y if self._act is None else self._act(y)

    def extra_repr(self):
        act = "" if self.activation in (None, "linear") else f", activation={self.activation!r}"
        bias = "" if self.bias is not None else ", bias=False"
        return f"{self.in_features}, {self.out_features}{act}{bias}"
