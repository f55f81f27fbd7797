"""BatchNormalization (channels-last, Keras semantics)."""
from __future__ import annotations

from engine import backend as _backend
from engine import ops
from engine.modules import init
from engine.ops.nn import BatchNorm as _BatchNormFn

from .base import Layer, register


@register
class BatchNormalization(Layer):
    """Normalise over every axis but the last.

    Training: the batch's own mean and (biased) variance; the moving statistics
    follow moving = momentum * moving + (1 - momentum) * batch, as Keras 3.
    Inference, and whenever the layer is frozen (trainable=False, as Keras):
    the moving statistics.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if axis != -1:
            raise ValueError(f"{who}: only axis=-1 (channels-last) is supported, got axis={axis!r}")
        for nm, v, lo in (("momentum", momentum, 0.0), ("epsilon", epsilon, 0.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= lo) or (nm == "momentum" and v > 1):
                raise ValueError(f"{who}: {nm} must be a number{' in [0, 1]' if nm == 'momentum' else ' >= 0'}, "
                                 f"got {v!r}")
        self.axis = -1
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, "(batch, ..., channels) with a known channel count")
        c = (input_shape[-1],)
        self.gamma = self.add_weight("gamma", c, init.ones) if self.scale else None
        self.beta = self.add_weight("beta", c, init.zeros) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", c, init.zeros, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", c, init.ones, trainable=False)

    def compute_output_shape(self, input_shape):
        c = self.moving_mean.shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] != c:
            raise self.shape_error(input_shape, (None, "...", c),
                                   f"the layer was built for {c} channels on the last axis")
        return input_shape

    def _affine(self, x):
        if self.gamma is None and self.beta is None:
            return ()
        c = x.shape[-1]
        K = _backend.current
        gamma = self.gamma if self.gamma is not None else K.full((c,), 1.0, x.dtype)
        beta = self.beta if self.beta is not None else K.zeros((c,), x.dtype)
        return gamma, beta

    def call(self, x, training=False):
        if training and self._trainable:
            return self._train(x)
        inv = ops.div(1.0, ops.sqrt(ops.add(self.moving_variance, self.epsilon)))
        scale = inv if self.gamma is None else ops.mul(self.gamma, inv)
        shift = ops.neg(ops.mul(self.moving_mean, scale))
        if self.beta is not None:
            shift = ops.add(shift, self.beta)
        return ops.add(ops.mul(x, scale), shift)

    def _train(self, x):
        m = x.size // x.shape[-1]
        if m < 2:
            raise ValueError(f"{self._who()}: training needs more than one value per channel, got input shape "
                             f"{x.shape} (use a batch size > 1)")
        stats = []
        y = _BatchNormFn.apply(x, *self._affine(x), eps=self.epsilon, stats=stats)
        mean, var = stats[0]
        K = _backend.current
        mom = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
            K.copy_into(moving.data, K.add(K.scale(moving.data, mom), K.scale(batch, 1.0 - mom)))
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
