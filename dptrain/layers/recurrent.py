"""LSTM and GRU over [batch, time, features] with Keras' weight layouts.

LSTM: kernel [F, 4u], recurrent_kernel [u, 4u], bias [4u]; gate blocks i, f, c, o;
      forget-gate bias initialised to 1 (unit_forget_bias).
GRU (reset_after=True, Keras 3's default): kernel [F, 3u], recurrent_kernel [u, 3u],
      bias [2, 3u] (input bias, recurrent bias); gate blocks z, r, h.
Default initializers as Keras': kernels Glorot-uniform, recurrent kernels orthogonal, biases zeros.
"""
from __future__ import annotations

import numpy as np

from engine import ops

from .. import initializers
from . import activations
from .base import Layer, positive_int, register
from .core import WeightArgs


def _cols(a, lo, hi):
    return ops.getitem(a, (Ellipsis, slice(lo, hi)))


class _Recurrent(WeightArgs, Layer):
    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, return_sequences=False, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", self._who())
        self.activation, act = activations.get(activation, self._who())
        self.recurrent_activation, ract = activations.get(recurrent_activation, self._who())
        self._act = act or (lambda x: x)
        self._ract = ract or (lambda x: x)
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self._set_weight_args(kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                              bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                              recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                              recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self.shape_error(input_shape, (None, None, "features"),
                                   f"{type(self).__name__} takes [batch, time, features]")
        g, u = self.gates, self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], g * u), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, g * u), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initializer(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _bias_initializer(self):
        return self.bias_initializer

    def compute_output_shape(self, input_shape):
        f = self.kernel.shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] != f:
            raise self.shape_error(input_shape, (None, None, f),
                                   f"[batch, time, features] with the {f} features the layer was built for")
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def _steps(self, x):
        t = x.shape[1]
        if t == 0:
            raise ValueError(f"{self._who()}: the sequence is empty (time axis of length 0)")
        return t

    def _output(self, hs, h):
        if not self.return_sequences:
            return self._record_activity(h)
        n = h.shape[0]
        return self._record_activity(ops.concat([ops.reshape(ht, (n, 1, self.units)) for ht in hs], axis=1))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "return_sequences": self.return_sequences, **self._weight_args_config()}


@register
class LSTM(_Recurrent):
    """Long short-term memory over [batch, time, features] -> [batch, units] (or [batch, time,
    units] with return_sequences): i, f, o = recurrent_activation(x W + h U + b) blocks,
    c = f * c + i * activation(block c), h = o * activation(c). unit_forget_bias: the forget block
    of the bias starts at 1 (bias_initializer for the other blocks)."""
    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, return_sequences=False, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, recurrent_constraint,
                         bias_constraint, return_sequences, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_shape(self):
        return (4 * self.units,)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        u, init = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):   # as Keras: [init(u), ones(u), init(2u)]
            parts = [init((u,), dtype), initializers.Ones()((u,), dtype), init((2 * u,), dtype)]
            return np.concatenate([np.asarray(p) for p in parts]).astype("float32" if dtype is None else dtype)
        return forget_bias_one

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config

    def call(self, x, training=False):
        steps, u = self._steps(x), self.units
        if self.activation == "tanh" and self.recurrent_activation == "sigmoid":   # one fused op, BPTT included
            return self._record_activity(ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias,
                                                  return_sequences=self.return_sequences))
        xw = ops.matmul(x, self.kernel)                           # all time steps in one matmul
        if self.bias is not None:
            xw = ops.add(xw, self.bias)
        h = c = None
        hs = []
        for t in range(steps):
            z = ops.getitem(xw, (slice(None), t))
            if h is not None:                                      # h = 0 at the first step
                z = ops.add(z, ops.matmul(h, self.recurrent_kernel))
            i = self._ract(_cols(z, 0, u))
            g = self._act(_cols(z, 2 * u, 3 * u))
            o = self._ract(_cols(z, 3 * u, 4 * u))
            ig = ops.mul(i, g)
            c = ig if c is None else ops.add(ops.mul(self._ract(_cols(z, u, 2 * u)), c), ig)
            h = ops.mul(o, self._act(c))
            hs.append(h)
        return self._output(hs, h)


@register
class GRU(_Recurrent):
    """Gated recurrent unit (Keras 3's reset_after=True) over [batch, time, features] -> [batch,
    units] (or [batch, time, units]): z, r = recurrent_activation(x W + b_in + h U + b_rec) blocks,
    hh = activation(x W_h + b_in_h + r * (h U_h + b_rec_h)), h = z * h + (1 - z) * hh."""
    gates = 3

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _recurrent_inner(self, h, b_rec):
        if h is None:
            return b_rec                      # h = 0 at the first step (None: no bias either)
        hu = ops.matmul(h, self.recurrent_kernel)
        return hu if b_rec is None else ops.add(hu, b_rec)

    def call(self, x, training=False):
        steps, u = self._steps(x), self.units
        if self.activation == "tanh" and self.recurrent_activation == "sigmoid":   # one fused op (Keras: z, r, h)
            b_in = b_rec = None
            if self.bias is not None:
                b_in, b_rec = ops.getitem(self.bias, 0), ops.getitem(self.bias, 1)
            return self._record_activity(ops.gru(x, self.kernel, self.recurrent_kernel, b_in, b_rec,
                                                 gate_order="zrn", return_sequences=self.return_sequences))
        xw = ops.matmul(x, self.kernel)
        b_rec = None
        if self.bias is not None:
            xw = ops.add(xw, ops.getitem(self.bias, 0))
            b_rec = ops.getitem(self.bias, 1)
        h = None
        hs = []
        for t in range(steps):
            xt = ops.getitem(xw, (slice(None), t))
            inner = self._recurrent_inner(h, b_rec)    # None: zero (first step without bias)
            xzr, xh = _cols(xt, 0, 2 * u), _cols(xt, 2 * u, 3 * u)
            zr = self._ract(xzr if inner is None else ops.add(xzr, _cols(inner, 0, 2 * u)))
            z, r = _cols(zr, 0, u), _cols(zr, u, 2 * u)
            hh = self._act(xh if inner is None else ops.add(xh, ops.mul(r, _cols(inner, 2 * u, 3 * u))))
            # z * h + (1 - z) * hh == hh + z * (h - hh); h = 0 at the first step
            h = ops.sub(hh, ops.mul(z, hh)) if h is None else ops.add(hh, ops.mul(z, ops.sub(h, hh)))
            hs.append(h)
        return self._output(hs, h)
