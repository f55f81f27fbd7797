"""Activation functions by Keras 3 name (`activation="..."`), with `keras.activations`' formulas
and defaults, each composed from engine ops (so it runs on every backend and has a gradient).

`get(identifier, who)` resolves a name (or one of the functions below, or None) to
(canonical Keras name, function or None for the identity).
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine.tensor import as_tensor
from ..suggest import did_you_mean

# keras.activations.selu's constants
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def greater_mask(x, t=0.0):
    """1.0 where x > t, else 0.0, as a constant (a step has no gradient).

    There is no comparison primitive: z = x - t is clamped to [0, tiny] (tiny: the smallest
    normal float), scaled by 1/tiny into {0} or [2**-nmant, 1] (subnormals included), then
    scaled by 2**nmant and clamped to [0, 1], which gives exactly 0 or 1 without overflow.
    """
    x = as_tensor(x)
    z = x.detach() if t == 0.0 else ops.sub(x.detach(), float(t))
    info = np.finfo(z.dtype)
    z = ops.scale(ops.clamp(z, 0.0, float(info.tiny)), 1.0 / float(info.tiny))
    return ops.clamp(ops.scale(z, 2.0 ** info.nmant), 0.0, 1.0)


def _logsumexp_with_zero(x):
    """log(exp(x) + 1), stably: shifted by m = max(x, 0), a constant (the gradient is sigmoid(x))."""
    x = as_tensor(x)
    m = ops.relu(x.detach())
    return ops.add(m, ops.log(ops.add(ops.exp(ops.neg(m)), ops.exp(ops.sub(x, m)))))


# --- the functions (keras.activations signatures) --------------------------------------------
def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' relu: x where x > threshold (else 0), clipped to [0, max_value], minus
    negative_slope * relu(threshold - x)."""
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return leaky_relu(x, negative_slope)
    y = ops.relu(x) if threshold == 0 else ops.mul(x, greater_mask(x, threshold))
    if max_value is not None:
        y = ops.clamp(y, 0.0, float(max_value))
    if negative_slope != 0.0:
        neg = ops.relu(ops.neg(x)) if threshold == 0 else ops.relu(ops.sub(float(threshold), x))
        y = ops.sub(y, ops.scale(neg, negative_slope))
    return y


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, negative_slope * x otherwise (the slope is also the gradient at 0, as in torch)."""
    r = ops.relu(x)
    return ops.add(r, ops.scale(ops.sub(x, r), negative_slope))


def relu6(x):
    """min(max(x, 0), 6)."""
    return ops.clamp(ops.relu(x), max=6.0)


def sigmoid(x):
    return ops.sigmoid(x)


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (an int, or a list of axes normalised together)."""
    if isinstance(axis, (list, tuple)):
        if len(axis) == 1:
            return ops.softmax(x, axis[0])
        return ops.exp(ops.sub(x, _logsumexp(x, tuple(axis))))
    return ops.softmax(x, axis)


def _logsumexp(x, axes):
    x = as_tensor(x)
    m = ops.max(x.detach(), axis=axes, keepdims=True)
    return ops.add(m, ops.log(ops.sum(ops.exp(ops.sub(x, m)), axis=axes, keepdims=True)))


def log_softmax(x, axis=-1):
    """x - log(sum(exp(x))) along `axis`."""
    return ops.log_softmax(x, axis)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    neg = ops.sub(ops.exp(ops.clamp(x, max=0.0)), 1.0)
    return ops.add(ops.relu(x), ops.scale(neg, alpha))


def selu(x):
    """SELU_SCALE * elu(x, SELU_ALPHA)."""
    return ops.scale(elu(x, SELU_ALPHA), SELU_SCALE)


def celu(x, alpha=1.0):
    """x for x >= 0, alpha * (exp(x / alpha) - 1) otherwise."""
    neg = ops.sub(ops.exp(ops.clamp(ops.scale(x, 1.0 / alpha), max=0.0)), 1.0)
    return ops.add(ops.relu(x), ops.scale(neg, alpha))


def softplus(x):
    """log(exp(x) + 1)."""
    return _logsumexp_with_zero(x)


def softsign(x):
    """x / (abs(x) + 1)."""
    return ops.div(x, ops.add(ops.abs(x), 1.0))


def silu(x):
    """x * sigmoid(x) (also "swish")."""
    return ops.silu(x)


swish = silu


def gelu(x, approximate=False):
    """x * P(X <= x), X ~ N(0, 1): 0.5 * x * (1 + erf(x / sqrt(2))); the tanh form if approximate."""
    return ops.gelu(x, approximate=bool(approximate))


def exponential(x):
    return ops.exp(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6."""
    return ops.scale(relu6(ops.add(x, 3.0)), 1.0 / 6.0)


def hard_silu(x):
    """x * relu6(x + 3) / 6 (also "hard_swish")."""
    return ops.mul(x, hard_sigmoid(x))


hard_swish = hard_silu


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return ops.clamp(x, -1.0, 1.0)


def tanh_shrink(x):
    """x - tanh(x)."""
    return ops.sub(x, ops.tanh(x))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return ops.neg(_logsumexp_with_zero(ops.neg(x)))


def mish(x):
    """x * tanh(softplus(x))."""
    return ops.mul(x, ops.tanh(softplus(x)))


def squareplus(x, b=4):
    """(x + sqrt(x**2 + b)) / 2."""
    return ops.scale(ops.add(x, ops.sqrt(ops.add(ops.mul(x, x), float(b)))), 0.5)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    return ops.scale(ops.clamp(ops.add(x, 1.0), 0.0, 2.0), 0.5)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)**2 / 4 for -1 < x < 1, x for x >= 1."""
    c = ops.add(ops.clamp(x, -1.0, 1.0), 1.0)
    return ops.add(ops.scale(ops.mul(c, c), 0.25), ops.relu(ops.sub(x, 1.0)))


def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, 0 between."""
    t = float(threshold)
    return ops.sub(ops.relu(ops.sub(x, t)), ops.relu(ops.sub(ops.neg(x), t)))


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return ops.mul(x, greater_mask(ops.abs(x), threshold))


def glu(x, axis=-1):
    """a * sigmoid(b), a and b the two halves of x along `axis`."""
    x = as_tensor(x)
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {tuple(x.shape)}")
    ax = axis % x.ndim
    first = (slice(None),) * ax + (slice(0, n // 2),)
    second = (slice(None),) * ax + (slice(n // 2, n),)
    return ops.mul(ops.getitem(x, first), ops.sigmoid(ops.getitem(x, second)))


_BY_NAME = {
    "celu": celu, "elu": elu, "exponential": exponential, "gelu": gelu, "glu": glu,
    "hard_shrink": hard_shrink, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "hard_tanh": hard_tanh,
    "leaky_relu": leaky_relu, "linear": None, "log_sigmoid": log_sigmoid, "log_softmax": log_softmax,
    "mish": mish, "relu": relu, "relu6": relu6, "selu": selu, "sigmoid": sigmoid, "silu": silu,
    "soft_shrink": soft_shrink, "softmax": softmax, "softplus": softplus, "softsign": softsign,
    "sparse_plus": sparse_plus, "sparse_sigmoid": sparse_sigmoid, "squareplus": squareplus, "tanh": tanh,
    "tanh_shrink": tanh_shrink,
}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}   # Keras serialises them by the function's name
_NOT_YET = {"sparsemax": "it needs a sort, which the engine has no op for",
            "threshold": "it needs its threshold and default_value arguments, which a name cannot carry"}
_BY_FUNCTION = {id(fn): name for name, fn in _BY_NAME.items() if fn is not None}
_BY_FUNCTION[id(linear)] = "linear"

NAMES = tuple(sorted(list(_BY_NAME) + list(_ALIASES)))


def get(identifier, who):
    """(canonical name, function or None for identity) for an activation name, one of this
    module's functions, or None."""
    if identifier is None:
        return "linear", None
    if callable(identifier) and id(identifier) in _BY_FUNCTION:
        name = _BY_FUNCTION[id(identifier)]
        return name, _BY_NAME[name]
    if not isinstance(identifier, str):
        raise TypeError(f"{who}: activation must be a name ({', '.join(NAMES)}), one of the functions in "
                        f"dptrain.layers.activations, or None; got {type(identifier).__name__}")
    key = identifier.lower()
    key = _ALIASES.get(key, key)
    if key in _NOT_YET:
        raise NotImplementedError(f"{who}: activation {identifier!r} is not supported yet: {_NOT_YET[key]}")
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
