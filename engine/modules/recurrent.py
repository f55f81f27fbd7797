"""LSTM and GRU over batch-first sequences [B, T, F], each one fused primitive (engine.ops.lstm
/ gru: one matmul projects every step's input, then the loop over time runs in the kernel).

Weights are stored for x @ W: weight_ih [F, G*H], weight_hh [H, G*H], with the
G gate blocks of H columns side by side in the order documented per class.
Initialisation as Keras: Glorot-uniform input weights, orthogonal recurrent
weights, zero biases (LSTM: forget-gate bias 1).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..tensor import Tensor
from . import init
from .linear import positive_int
from .module import Module


class _Recurrent(Module):
    gates = 1

    def __init__(self, input_size, hidden_size, return_sequences, dtype):
        super().__init__()
        who = type(self).__name__
        self.input_size = positive_int(input_size, "input_size", who)
        self.hidden_size = positive_int(hidden_size, "hidden_size", who)
        self.return_sequences = bool(return_sequences)
        g, h = self.gates, self.hidden_size
        self.new_param("weight_ih", init.glorot_uniform((self.input_size, g * h), dtype))
        # One orthogonal [H, H] block per gate (Keras draws one [H, G*H] matrix; per-gate
        # blocks keep each gate's recurrent map norm-preserving).
        self.new_param("weight_hh", np.concatenate([init.orthogonal((h, h), dtype) for _ in range(g)], axis=1))

    def _check(self, x):
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if len(shape) != 3 or shape[-1] != self.input_size:
            raise ValueError(f"{self._label()}: expected input [batch, time, {self.input_size}], got shape {tuple(shape)}")
        if shape[1] == 0:
            raise ValueError(f"{self._label()}: the sequence is empty (time axis of length 0)")
        return shape

    def _state(self, s, b, name):
        if s is None:
            return None
        shape = s.shape if isinstance(s, (Tensor, np.ndarray)) else np.shape(s)
        if tuple(shape) != (b, self.hidden_size):
            raise ValueError(f"{self._label()}: initial {name} must have shape {(b, self.hidden_size)}, got {tuple(shape)}")
        return s

    def extra_repr(self):
        rs = ", return_sequences=True" if self.return_sequences else ""
        return f"{self.input_size}, {self.hidden_size}{rs}"


class LSTM(_Recurrent):
    """Long short-term memory. Gate blocks: [input i, forget f, cell candidate g, output o].

    z = x_t @ weight_ih + h @ weight_hh + bias
    i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)
    c = f * c + i * g;  h = o * tanh(c)
    forward(x [B, T, F], initial_state=None or (h0, c0)) -> [B, T, H] with
    return_sequences, else the last h [B, H].
    """
    gates = 4

    def __init__(self, input_size, hidden_size, return_sequences=False, dtype=np.float32):
        super().__init__(input_size, hidden_size, return_sequences, dtype)
        bias = np.zeros(4 * self.hidden_size, dtype)
        bias[self.hidden_size:2 * self.hidden_size] = 1.0
        self.new_param("bias", bias)

    def forward(self, x, initial_state=None):
        b, _, _ = self._check(x)
        h = c = None
        if initial_state is not None:
            if not isinstance(initial_state, (tuple, list)) or len(initial_state) != 2:
                raise ValueError(f"{self._label()}: initial_state must be a pair (h0, c0)")
            h, c = (self._state(s, b, n) for s, n in zip(initial_state, ("h0", "c0")))
        return ops.lstm(x, self.weight_ih, self.weight_hh, self.bias, h, c, return_sequences=self.return_sequences)


class GRU(_Recurrent):
    """Gated recurrent unit (PyTorch / Keras reset_after=True). Gate blocks: [reset r, update z, new n].

    gi = x_t @ weight_ih + bias_ih;  gh = h @ weight_hh + bias_hh
    r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n)
    h = (1 - z) * n + z * h
    forward(x [B, T, F], initial_state=None or h0) -> [B, T, H] with
    return_sequences, else the last h [B, H].
    """
    gates = 3

    def __init__(self, input_size, hidden_size, return_sequences=False, dtype=np.float32):
        super().__init__(input_size, hidden_size, return_sequences, dtype)
        self.new_param("bias_ih", np.zeros(3 * self.hidden_size, dtype))
        self.new_param("bias_hh", np.zeros(3 * self.hidden_size, dtype))

    def forward(self, x, initial_state=None):
        b, _, _ = self._check(x)
        h = self._state(initial_state, b, "h0")
        return ops.gru(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h, gate_order="rzn",
                       return_sequences=self.return_sequences)
