"""SimpleRNN, LSTM and GRU over [batch, time, features] with Keras' weight layouts and call semantics.

SimpleRNN: kernel [F, u], recurrent_kernel [u, u], bias [u].
LSTM: kernel [F, 4u], recurrent_kernel [u, 4u], bias [4u]; gate blocks i, f, c, o;
      forget-gate bias initialised to 1 (unit_forget_bias).
GRU (reset_after=True, Keras 3's default): kernel [F, 3u], recurrent_kernel [u, 3u],
      bias [2, 3u] (input bias, recurrent bias); gate blocks z, r, h. reset_after=False: bias [3u].
Default initializers as Keras': kernels Glorot-uniform, recurrent kernels orthogonal, biases zeros.

Call: `layer(sequences, initial_state=None, mask=None, training=False)`, as Keras' RNN layers:
- `initial_state`: [h, c] for LSTM, h (or [h]) for GRU / SimpleRNN, each [batch, units].
- `mask` [batch, time] (True = a real step): at a masked step the state is carried over unchanged
  and the output is the previous step's output (zeros before the first real step), or zeros with
  `zero_output_for_mask=True` (Bidirectional sets it when it returns sequences).
- `go_backwards`: the sequence is processed from its last step; the output sequence stays in that
  (reversed) order.
- `dropout` / `recurrent_dropout` (training only): one mask per call (the same at every step) on
  the inputs and one on the recurrent state; with recurrent_dropout, one mask per gate (Keras'
  implementation 1).
- `return_state`: a tuple (output, h, c) for LSTM, (output, h) for GRU / SimpleRNN.

The plain case (tanh / sigmoid, no mask, no recurrent dropout, GRU reset_after=True, LSTM without
return_state) runs as one fused op (`ops.lstm` / `ops.gru`, BPTT included); everything else runs as
a loop of engine ops over the time steps (one matmul for every step's input projection first).
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine import random as _random
from engine.tensor import Tensor, as_tensor

from .. import initializers
from . import activations
from .base import Layer, positive_int, register
from .core import WeightArgs

__all__ = ["GRU", "LSTM", "SimpleRNN"]


def _cols(a, lo, hi):
    return ops.getitem(a, (Ellipsis, slice(lo, hi)))


def _rate(v, name, who):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0.0 <= v < 1.0:
        raise ValueError(f"{who}: {name} must be a number in [0, 1), got {v!r}")
    return float(v)


def _blend(m, new, old):
    """where(m, new, old) for a 0/1 float mask m [batch, 1]: old + m * (new - old)."""
    return ops.add(old, ops.mul(m, ops.sub(new, old)))


class _Recurrent(WeightArgs, Layer):
    gates = 1            # blocks of `units` columns in the kernels
    n_states = 1         # h (and c for LSTM)
    _cudnn = True        # the class takes Keras' use_cudnn argument

    def _setup(self, units, activation, recurrent_activation, use_bias, weight_args, dropout, recurrent_dropout,
               seed, return_sequences, return_state, go_backwards, stateful, unroll, use_cudnn, kwargs):
        """The arguments every recurrent layer shares (called by each class's Keras-ordered __init__)."""
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        implementation = kwargs.pop("implementation", 2)
        time_major = kwargs.pop("time_major", False)
        Layer.__init__(self, **kwargs)
        who = self._who()
        if stateful:
            raise NotImplementedError(f"{who}: stateful=True (states kept across batches) is not supported by "
                                      f"dptrain; pass the state explicitly with initial_state= and return_state=True")
        if time_major:
            raise NotImplementedError(f"{who}: time_major=True is not supported; inputs are [batch, time, features]")
        if implementation not in (1, 2):
            raise ValueError(f"{who}: implementation must be 1 or 2, got {implementation!r}")
        if self._cudnn and use_cudnn not in ("auto", True, False):
            raise ValueError(f"{who}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}")
        self.units = positive_int(units, "units", who)
        self.activation, act = activations.get(activation, who)
        self._act = act or (lambda x: x)
        if recurrent_activation is not None or self.gates > 1:
            self.recurrent_activation, ract = activations.get(recurrent_activation, who)
            self._ract = ract or (lambda x: x)
        self.use_bias = bool(use_bias)
        self.dropout = _rate(dropout, "dropout", who)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", who)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{who}: seed must be a non-negative int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own_rng = None if seed is None else np.random.default_rng(self.seed)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)          # accepted: the loop is the same either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.implementation = implementation
        self.use_cudnn = use_cudnn
        self._set_weight_args(**weight_args)

    # --- weights and shapes ------------------------------------------------------------------------
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

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        f = self.kernel.shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] != f:
            raise self.shape_error(input_shape, (None, None, f),
                                   f"[batch, time, features] with the {f} features the layer was built for")
        if self.return_sequences:
            out = (input_shape[0], input_shape[1], self.units)
        else:
            out = (input_shape[0], self.units)
        if self.return_state:
            return [out] + [(input_shape[0], self.units)] * self.n_states
        return out

    def compute_mask(self, inputs, mask=None):
        """The output mask, as Keras: the input mask when returning sequences, else None (and None for
        every state with return_state)."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * self.n_states
        return out

    # --- call ------------------------------------------------------------------------------------
    def _rng(self):
        return self._own_rng if self._own_rng is not None else _random.generator()

    def _dropout_masks(self, rate, shape, count, like):
        """`count` masks of 0 and 1/(1 - rate) values of `shape` (Keras: dropout of ones_like)."""
        ones = as_tensor(np.ones(shape, like.dtype))
        return [ops.dropout(ones, rate, training=True, rng=self._rng()) for _ in range(count)]

    def _initial_states(self, initial_state, x):
        n, u = x.shape[0], self.units
        if initial_state is None:
            return None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != self.n_states:
            want = "[h, c]" if self.n_states == 2 else "h (or [h])"
            raise ValueError(f"{self._who()}: initial_state must be {want}, got {len(states)} tensor(s)")
        out = []
        for s in states:
            s = s if isinstance(s, Tensor) else as_tensor(np.asarray(s, x.dtype))
            if tuple(s.shape) != (n, u):
                raise ValueError(f"{self._who()}: an initial state has shape {tuple(s.shape)}, expected "
                                 f"{(n, u)} (batch, units) for inputs of shape {tuple(x.shape)}")
            out.append(s)
        return out

    def _time_mask(self, mask, x):
        """The mask as a 0/1 float Tensor [batch, time], or None (no mask, or every step real)."""
        if isinstance(mask, (list, tuple)) and not isinstance(mask, np.ndarray):
            mask = mask[0] if mask else None
        if mask is None:
            return None
        a = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask)
        if a.shape == tuple(x.shape[:2]) + (1,):
            a = a[..., 0]
        if a.shape != tuple(x.shape[:2]):
            raise ValueError(f"{self._who()}: mask must have shape (batch, time) = {tuple(x.shape[:2])}, "
                             f"got {a.shape}")
        a = a.astype(bool)
        if a.all():
            return None                  # every step real: the same as no mask
        return as_tensor(a.astype(x.dtype))

    def _fusable(self):
        return self.activation == "tanh" and getattr(self, "recurrent_activation", None) == "sigmoid"

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        if x.ndim != 3:
            raise self.shape_error(tuple(x.shape), (None, None, "features"))
        t_len = x.shape[1]
        if t_len == 0:
            raise ValueError(f"{self._who()}: the sequence is empty (time axis of length 0)")
        n, f = x.shape[0], x.shape[2]
        states = self._initial_states(initial_state, x)      # None: zeros (the fused op's default)
        m = self._time_mask(mask, x)
        per_gate = (self.recurrent_dropout > 0 or self.implementation == 1) and self.gates > 1
        drop = bool(training) and self.dropout > 0
        rdrop = bool(training) and self.recurrent_dropout > 0
        in_masks = self._dropout_masks(self.dropout, (n, f), self.gates if per_gate else 1, x) if drop else None
        rec_masks = self._dropout_masks(self.recurrent_dropout, (n, self.units), self.gates, x) if rdrop else None
        if m is None and rec_masks is None and (in_masks is None or len(in_masks) == 1) and self._fusable() \
                and self._fused_ok():
            if in_masks is not None:          # Keras: the input mask applied to the whole sequence first
                x = ops.mul(x, ops.reshape(in_masks[0], (n, 1, f)))
            if self.go_backwards:
                x = ops.getitem(x, (slice(None), np.arange(t_len - 1, -1, -1)))
            out, states = self._fused(x, states or [None] * self.n_states)
        else:
            if states is None:
                states = [as_tensor(np.zeros((n, self.units), x.dtype)) for _ in range(self.n_states)]
            out, states = self._loop(x, states, m, in_masks, rec_masks)
        return self._finish(out, states)

    def _fused_ok(self):
        return False

    def _input_projection(self, x, in_masks):
        """x @ kernel (+ input bias) for every step at once; with per-gate input masks, gate by gate."""
        n, t_len, f = x.shape
        if in_masks is None:
            xw = ops.matmul(x, self.kernel)
        elif len(in_masks) == 1:
            xw = ops.matmul(ops.mul(x, ops.reshape(in_masks[0], (n, 1, f))), self.kernel)
        else:
            u = self.units
            xw = ops.concat([ops.matmul(ops.mul(x, ops.reshape(mk, (n, 1, f))), _cols(self.kernel, k * u, (k + 1) * u))
                             for k, mk in enumerate(in_masks)], axis=-1)
        b = self._input_bias()
        return xw if b is None else ops.add(xw, b)

    def _input_bias(self):
        return self.bias

    def _recurrent(self, h, rec_masks, k0, k1):
        """h @ recurrent_kernel[:, k0 u : k1 u]; with recurrent dropout, each gate block gets its own mask."""
        u = self.units
        if rec_masks is None:
            w = self.recurrent_kernel if (k0, k1) == (0, self.gates) else _cols(self.recurrent_kernel, k0 * u, k1 * u)
            return ops.matmul(h, w)
        parts = [ops.matmul(ops.mul(h, rec_masks[k]), _cols(self.recurrent_kernel, k * u, (k + 1) * u))
                 for k in range(k0, k1)]
        return parts[0] if len(parts) == 1 else ops.concat(parts, axis=-1)

    def _loop(self, x, states, m, in_masks, rec_masks):
        n, t_len = x.shape[0], x.shape[1]
        xw = self._input_projection(x, in_masks)
        order = range(t_len - 1, -1, -1) if self.go_backwards else range(t_len)
        outs, prev = [], None
        for t in order:
            out, new = self._step(ops.getitem(xw, (slice(None), t)), states, rec_masks)
            if m is not None:
                mt = ops.getitem(m, (slice(None), slice(t, t + 1)))           # [batch, 1]
                new = [_blend(mt, s_new, s_old) for s_new, s_old in zip(new, states)]
                if self.zero_output_for_mask or prev is None:
                    out = ops.mul(out, mt)                  # the previous output is zeros before the first step
                else:
                    out = _blend(mt, out, prev)
            states, prev = new, out
            if self.return_sequences:
                outs.append(out)
        if not self.return_sequences:
            return prev, states
        u = self.units
        return ops.concat([ops.reshape(o, (n, 1, u)) for o in outs], axis=1), states

    def _finish(self, out, states):
        if self.activity_regularizer is None:
            return (out, *states) if self.return_state else out
        if not self.return_state:
            return self._record_activity(out)
        penalties = []                                 # Keras: one penalty per output (and state)
        for o in (out, *states):
            self._record_activity(o)
            penalties.append(self._activity_penalty)
        self._set_activity_penalty(None)
        object.__setattr__(self, "_state_penalties", penalties)     # past attribute tracking
        return (out, *states)

    def regularization_losses(self):
        """As WeightArgs', with return_state one activity penalty per output, in Keras' order."""
        extra = self.__dict__.get("_state_penalties") if self.return_state else None
        return list(extra or []) + super().regularization_losses()

    def get_config(self):
        config = {**Layer.get_config(self), "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                  "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask, "units": self.units,
                  "activation": self.activation}
        if hasattr(self, "recurrent_activation"):
            config["recurrent_activation"] = self.recurrent_activation
        config["use_bias"] = self.use_bias
        config.update(self._weight_args_config())
        config.update({"dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed})
        if self._cudnn and self.use_cudnn != "auto":
            config["use_cudnn"] = self.use_cudnn
        return config


def _weight_args(kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                 recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
                 recurrent_constraint, bias_constraint):
    return dict(kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint)


@register
class SimpleRNN(_Recurrent):
    """Fully connected recurrence over [batch, time, features] -> [batch, units] (or [batch, time,
    units] with return_sequences): h_t = activation(x_t W + b + h_{t-1} U), h_{-1} = 0 (or the
    initial state). Weights kernel W [F, u], recurrent_kernel U [u, u], bias b [u]."""
    _cudnn = False

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 seed=None, **kwargs):
        self._setup(units, activation, None, use_bias,
                    _weight_args(kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                                 recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
                                 recurrent_constraint, bias_constraint),
                    dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful, unroll,
                    "auto", kwargs)

    def _step(self, xt, states, rec_masks):
        h = self._act(ops.add(xt, self._recurrent(states[0], rec_masks, 0, 1)))
        return h, [h]


@register
class LSTM(_Recurrent):
    """Long short-term memory over [batch, time, features] -> [batch, units] (or [batch, time,
    units] with return_sequences): i, f, o = recurrent_activation(x W + h U + b) blocks,
    c = f * c + i * activation(block c), h = o * activation(c). unit_forget_bias: the forget block
    of the bias starts at 1 (bias_initializer for the other blocks)."""
    gates = 4
    n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        self._setup(units, activation, recurrent_activation, use_bias,
                    _weight_args(kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                                 recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
                                 recurrent_constraint, bias_constraint),
                    dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful, unroll,
                    use_cudnn, kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

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
        out = {}
        for k, v in config.items():            # Keras' order: unit_forget_bias after bias_initializer
            out[k] = v
            if k == "bias_initializer":
                out["unit_forget_bias"] = self.unit_forget_bias
        return out

    def _fused_ok(self):
        return not self.return_state          # the fused op gives no final cell state

    def _fused(self, x, states):
        h0, c0 = states
        y = ops.lstm(x, self.kernel, self.recurrent_kernel, self.bias, h0=h0, c0=c0,
                     return_sequences=self.return_sequences)
        return y, []

    def _step(self, xt, states, rec_masks):
        h, c = states
        u = self.units
        z = ops.add(xt, self._recurrent(h, rec_masks, 0, 4))
        i = self._ract(_cols(z, 0, u))
        f = self._ract(_cols(z, u, 2 * u))
        g = self._act(_cols(z, 2 * u, 3 * u))
        o = self._ract(_cols(z, 3 * u, 4 * u))
        c = ops.add(ops.mul(f, c), ops.mul(i, g))
        h = ops.mul(o, self._act(c))
        return h, [h, c]


@register
class GRU(_Recurrent):
    """Gated recurrent unit over [batch, time, features] -> [batch, units] (or [batch, time, units]).
    reset_after=True (Keras 3's default): z, r = recurrent_activation(x W + b_in + h U + b_rec) blocks,
    hh = activation(x W_h + b_in_h + r * (h U_h + b_rec_h)). reset_after=False (the classic GRU):
    z, r = recurrent_activation(x W + b + h U) blocks, hh = activation(x W_h + b_h + (r * h) U_h).
    Then h = z * h + (1 - z) * hh."""
    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        self.reset_after = bool(reset_after)
        self._setup(units, activation, recurrent_activation, use_bias,
                    _weight_args(kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
                                 recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
                                 recurrent_constraint, bias_constraint),
                    dropout, recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful, unroll,
                    use_cudnn, kwargs)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return ops.getitem(self.bias, 0)

    def get_config(self):
        config = super().get_config()
        seed = config.pop("seed")
        config["reset_after"] = self.reset_after
        config["seed"] = seed
        if "use_cudnn" in config:
            config["use_cudnn"] = config.pop("use_cudnn")
        return config

    def _fused_ok(self):
        return self.reset_after

    def _fused(self, x, states):
        b_in = b_rec = None
        if self.bias is not None:
            b_in, b_rec = ops.getitem(self.bias, 0), ops.getitem(self.bias, 1)
        y = ops.gru(x, self.kernel, self.recurrent_kernel, b_in, b_rec, h0=states[0], gate_order="zrn",
                    return_sequences=self.return_sequences)
        last = ops.getitem(y, (slice(None), -1)) if self.return_sequences else y
        return y, [last]

    def _step(self, xt, states, rec_masks):
        h = states[0]
        u = self.units
        x_zr, x_h = _cols(xt, 0, 2 * u), _cols(xt, 2 * u, 3 * u)
        if self.reset_after:
            inner = self._recurrent(h, rec_masks, 0, 3)
            if self.bias is not None:
                inner = ops.add(inner, ops.getitem(self.bias, 1))
            zr = self._ract(ops.add(x_zr, _cols(inner, 0, 2 * u)))
            r = _cols(zr, u, 2 * u)
            hh = self._act(ops.add(x_h, ops.mul(r, _cols(inner, 2 * u, 3 * u))))
        else:
            zr = self._ract(ops.add(x_zr, self._recurrent(h, rec_masks, 0, 2)))
            r = _cols(zr, u, 2 * u)
            h_h = h if rec_masks is None else ops.mul(h, rec_masks[2])
            hh = self._act(ops.add(x_h, ops.matmul(ops.mul(r, h_h), _cols(self.recurrent_kernel, 2 * u, 3 * u))))
        z = _cols(zr, 0, u)
        h = ops.add(hh, ops.mul(z, ops.sub(h, hh)))    # z * h + (1 - z) * hh
        return h, [h]
