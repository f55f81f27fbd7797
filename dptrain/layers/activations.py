"""Activation functions by Keras name: relu sigmoid tanh softmax gelu silu linear."""
from __future__ import annotations

from engine import ops
from ..suggest import did_you_mean


def _softmax(x):
    return ops.softmax(x, -1)


def _gelu(x):
    return ops.gelu(x, approximate=False)  # Keras' default is the exact (erf) form


_BY_NAME = {
    "relu": ops.relu,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "softmax": _softmax,
    "gelu": _gelu,
    "silu": ops.silu,
    "swish": ops.silu,
    "linear": None,
}

NAMES = tuple(sorted(_BY_NAME))


def get(identifier, who):
    """(canonical name, function or None for identity) for an activation name or None."""
    if identifier is None:
        return "linear", None
    if not isinstance(identifier, str):
        raise TypeError(f"{who}: activation must be a name ({', '.join(NAMES)}) or None, "
                        f"got {type(identifier).__name__}")
    key = identifier.lower()
    if key not in _BY_NAME:
        raise ValueError(f"{who}: unknown activation {identifier!r}.{did_you_mean(identifier, NAMES)} "
                         f"Known: {', '.join(NAMES)}")
    return key, _BY_NAME[key]


class WithActivation:
    """Mixin for layers ending in an activation: `call` = activation(pre_activation(x)).

    The training step reads `pre_activation` to fuse a softmax/sigmoid output
    with its crossentropy loss on the logits.
    """

    def _set_activation(self, activation):
        self.activation, self._act = get(activation, self._who())

    def pre_activation(self, inputs, training=False):
        raise NotImplementedError

    def call(self, inputs, training=False):
        y = self.pre_activation(inputs, training)
        return y if self._act is None else self._act(y)
