"""LSTM and GRU over [batch, time, features] with Keras' weight layouts.

LSTM: kernel [F, 4u], recurrent_kernel [u, 4u], bias [4u]; gate blocks i, f, c, o;
      forget-gate bias initialised to 1 (unit_forget_bias).
GRU (reset_after=True, Keras 3's default): kernel [F, 3u], recurrent_kernel [u, 3u],
      bias [2, 3u] (input bias, recurrent bias); gate blocks z, r, h.
Kernels Glorot-uniform, recurrent kernels orthogonal, biases zeros.
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine.modules import init

from . import activations
from .base import Layer, positive_int, register


def _cols(a, lo, hi):
    return ops.getitem(a, (Ellipsis, slice(lo, hi)))


class _Recurrent(Layer):
    gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", return_sequences=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", self._who())
        self.activation, act = activations.get(activation, self._who())
        self.recurrent_activation, ract = activations.get(recurrent_activation, self._who())
        self._act = act or (lambda x: x)
        self._ract = ract or (lambda x: x)
        self.return_sequences = bool(return_sequences)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self.shape_error(input_shape, (None, None, "features"),
                                   f"{type(self).__name__} takes [batch, time, features]")
        g, u = self.gates, self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], g * u), init.glorot_uniform)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (u, g * u), init.orthogonal)
        self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init)

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
            return h
        n = h.shape[0]
        return ops.concat([ops.reshape(ht, (n, 1, self.units)) for ht in hs], axis=1)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "return_sequences": self.return_sequences}


@register
class LSTM(_Recurrent):
    gates = 4

    def _bias_shape(self):
        return (4 * self.units,)

    def _bias_init(self, shape, dtype):
        b = np.zeros(shape, dtype)
        b[self.units:2 * self.units] = 1.0
        return b

    def call(self, x, training=False):
        steps, u = self._steps(x), self.units
        xw = ops.add(ops.matmul(x, self.kernel), self.bias)      # all time steps in one matmul
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
    gates = 3

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _bias_init(self, shape, dtype):
        return np.zeros(shape, dtype)

    def call(self, x, training=False):
        steps, u = self._steps(x), self.units
        b_in = ops.getitem(self.bias, 0)
        b_rec = ops.getitem(self.bias, 1)
        xw = ops.add(ops.matmul(x, self.kernel), b_in)
        h = None
        hs = []
        for t in range(steps):
            xt = ops.getitem(xw, (slice(None), t))
            inner = b_rec if h is None else ops.add(ops.matmul(h, self.recurrent_kernel), b_rec)
            zr = self._ract(ops.add(_cols(xt, 0, 2 * u), _cols(inner, 0, 2 * u)))
            z, r = _cols(zr, 0, u), _cols(zr, u, 2 * u)
            hh = self._act(ops.add(_cols(xt, 2 * u, 3 * u), ops.mul(r, _cols(inner, 2 * u, 3 * u))))
            # z * h + (1 - z) * hh == hh + z * (h - hh); h = 0 at the first step
            h = ops.sub(hh, ops.mul(z, hh)) if h is None else ops.add(hh, ops.mul(z, ops.sub(h, hh)))
            hs.append(h)
        return self._output(hs, h)
