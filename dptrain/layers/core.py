"""Dense, Activation, Flatten, Dropout; `WeightArgs`, the initializer / regularizer / constraint
arguments of every layer with weights."""
from __future__ import annotations

import math

import numpy as np

from engine import backend as _backend
from engine import ops
from engine.tensor import Tensor, as_tensor

from .. import constraints, initializers, regularizers
from .activations import WithActivation
from .base import Layer, positive_int, register

_KINDS = {"initializer": (initializers.get, initializers.serialize),
          "regularizer": (regularizers.get, regularizers.serialize),
          "constraint": (constraints.get, constraints.serialize)}


class WeightArgs:
    """Mixin for layers with weights: Keras' `<weight>_initializer`, `<weight>_regularizer`,
    `<weight>_constraint` and `activity_regularizer` arguments, and the protocol the train step
    calls: `regularization_losses()` (scalar Tensors, from the current weights and the last call's
    output) and `apply_constraints()` (projects the weights in place, after the optimizer step)."""

    def _set_weight_args(self, **args):
        """`args`: '<weight>_initializer' / '_regularizer' / '_constraint' and 'activity_regularizer'
        -> a Keras identifier, in the order of Keras' get_config."""
        for key, value in args.items():
            getter = _KINDS[key.rsplit("_", 1)[1]][0]
            try:
                setattr(self, key, getter(value))
            except (TypeError, ValueError) as e:
                raise type(e)(f"{self._who()}: {key}: {e}") from None
        self._weight_arg_names = tuple(args)
        self._regularized = []         # (weight, regularizer)
        self._constrained = []         # (weight, constraint)
        self._set_activity_penalty(None)

    def _set_activity_penalty(self, penalty):
        """activity_regularizer(output) / batch of the last call. Set past Layer.__setattr__, which
        would otherwise track a Tensor that requires grad as one of the layer's weights."""
        object.__setattr__(self, "_activity_penalty", penalty)

    def _weight_args_config(self):
        return {key: _KINDS[key.rsplit("_", 1)[1]][1](getattr(self, key)) for key in self._weight_arg_names}

    def add_weight(self, *args, regularizer=None, constraint=None, **kwargs):
        """`Layer.add_weight`, remembering the weight's regularizer and constraint."""
        w = super().add_weight(*args, **kwargs)
        if regularizer is not None:
            self._regularized.append((w, regularizer))
        if constraint is not None:
            self._constrained.append((w, constraint))
        return w

    def _record_activity(self, outputs):
        """Keep activity_regularizer(outputs) / batch size (Keras' normalisation); return outputs."""
        if self.activity_regularizer is not None:
            p = _scalar(self.activity_regularizer(outputs))
            n = outputs.shape[0] if outputs.ndim else 1
            self._set_activity_penalty(ops.scale(p, 1.0 / n) if n else as_tensor(np.zeros((), p.dtype)))
        return outputs

    def _record_activity_of_logits(self, logits):
        """The activity penalty of activation(logits). Layers ending in an activation take it in
        `pre_activation`, since the train step may call that alone (a softmax output fused with
        its crossentropy); the activation is then computed once more, only for the penalty."""
        if self.activity_regularizer is not None:
            act = getattr(self, "_act", None)
            self._record_activity(logits if act is None else act(logits))
        return logits

    def regularization_losses(self):
        """The layer's penalties as scalar Tensors, in Keras' `layer.losses` order: the activity
        penalty of the last call, then each weight regularizer on its current weight (trainable
        weights only, as Keras). Call it inside the train step's grad_tape, after the forward pass."""
        out = [] if self._activity_penalty is None else [self._activity_penalty]
        return out + [_scalar(reg(w)) for w, reg in self._regularized if w.requires_grad]

    @property
    def losses(self):
        """Keras' `layer.losses`: the same list as `regularization_losses()`."""
        return self.regularization_losses()

    def apply_constraints(self):
        """Project every constrained trainable weight in place: w <- constraint(w) (numpy)."""
        K = _backend.current
        for w, constraint in self._constrained:
            if not w.requires_grad:
                continue
            a = np.asarray(constraint(w.numpy()))
            if a.shape != w.shape:
                raise ValueError(f"{self._who()}: the constraint {constraint!r} of weight '{w.name}' returned "
                                 f"shape {a.shape}, the weight has shape {w.shape}")
            K.copy_into(w.data, K.asarray(a.astype(w.dtype, copy=False)))


def _scalar(p):
    p = p if isinstance(p, Tensor) else as_tensor(np.asarray(p, np.float32))
    if p.size != 1:
        raise ValueError(f"a regularizer must return a scalar, got shape {p.shape}")
    return p if p.ndim == 0 else ops.reshape(p, ())


@register
class Dense(WeightArgs, WithActivation, Layer):
    """y = activation(x @ kernel + bias) on the last axis; kernel [in, units] (default
    Glorot-uniform), bias [units] (default zeros)."""
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", self._who())
        self.use_bias = bool(use_bias)
        self._set_activation(activation)
        self._set_weight_args(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                              kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, "(batch, ..., features) with a known feature size")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ..., features)")
        n_in = self.kernel.shape[0]
        if input_shape[-1] != n_in:
            raise self.shape_error(input_shape, input_shape[:-1] + (n_in,),
                                   f"the layer was built for {n_in} input features")
        return input_shape[:-1] + (self.units,)

    def pre_activation(self, x, training=False):
        y = ops.matmul(x, self.kernel)
        y = y if self.bias is None else ops.add(y, self.bias)
        return self._record_activity_of_logits(y)

    def get_config(self):
        args = self._weight_args_config()
        activity = {"activity_regularizer": args.pop("activity_regularizer")}
        activity = activity if self.activity_regularizer is not None else {}
        return {**super().get_config(), **activity, "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, **args}      # Keras' Dense lists activity_regularizer only when set


@register
class Activation(WithActivation, Layer):
    """y = activation(x): applies a named activation ("relu", "softmax", ...) elementwise.

    Args:
        activation: an activation name or function of `dt.activations`.

    Input and output: any shape, unchanged.
    """
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def pre_activation(self, x, training=False):
        return x

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@register
class Flatten(Layer):
    """[batch, d1, d2, ...] -> [batch, d1 * d2 * ...]."""

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ...) with at least one axis after the batch")
        if any(s is None for s in input_shape[1:]):
            raise self.shape_error(input_shape, "a shape with every non-batch axis known")
        return (input_shape[0], math.prod(input_shape[1:]))

    def call(self, x, training=False):
        return ops.reshape(x, (x.shape[0], -1))


@register
class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability `rate` (a fresh mask per batch)
    and scale the rest by 1 / (1 - rate); the identity in inference."""
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"{self._who()}: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        return ops.dropout(x, self.rate, training=True)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
