"""Fused recurrences: a whole LSTM / GRU layer over a sequence as one primitive, BPTT as its backward.

The kernel projects every time step's input with one matmul before the loop, runs the
recurrence keeping the gate activations, and in backward runs the loop in reverse and
finishes with one matmul per weight. A sequence of T steps is one tape node instead of ~20 T.
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import as_tensor

GRU_ORDERS = ("rzn", "zrn")    # PyTorch's gate blocks [reset, update, new]; Keras' [update, reset, new]


class _Seq:
    """Mixed into the Functions below. Inputs: x, w_ih, w_hh, then the optional ones named in
    `self.present` (in the order of `optional`)."""
    optional = ()

    def forward(self, K, x, w_ih, w_hh, *rest):
        given = dict(zip(self.present, rest))
        opt = [given.get(name) for name in self.optional]
        y, self.ctx = self.kernel(K)(x, w_ih, w_hh, *opt, **self.options)
        return y

    def backward(self, g):
        need_x = self.inputs[0].requires_grad
        grads = self.backward_kernel(self.K)(self.ctx, g, need_x)
        gx, gw_ih, gw_hh, *gopt = grads
        by_name = dict(zip(self.optional, gopt))
        return [gx, gw_ih, gw_hh] + [by_name[name] for name in self.present]


class LSTMSeq(_Seq, Function):
    optional = ("bias", "h0", "c0")

    @staticmethod
    def kernel(K):
        return K.lstm_seq

    @staticmethod
    def backward_kernel(K):
        return K.lstm_seq_backward


class GRUSeq(_Seq, Function):
    optional = ("b_ih", "b_hh", "h0")

    @staticmethod
    def kernel(K):
        return K.gru_seq

    @staticmethod
    def backward_kernel(K):
        return K.gru_seq_backward


def _args(op, gates, x, w_ih, w_hh, named):
    w_ih, w_hh = as_tensor(w_ih), as_tensor(w_hh)
    x = as_tensor(x, like=w_ih)
    if x.ndim != 3:
        raise ValueError(f"{op}: input must be [batch, time, features], got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"{op}: the sequence is empty (time axis of length 0)")
    if w_hh.ndim != 2 or w_hh.shape[1] != gates * w_hh.shape[0]:
        raise ValueError(f"{op}: w_hh must be [hidden, {gates} * hidden], got shape {w_hh.shape}")
    b, f, hidden = x.shape[0], x.shape[2], w_hh.shape[0]
    if w_ih.shape != (f, gates * hidden):
        raise ValueError(f"{op}: w_ih must have shape {(f, gates * hidden)} for input shape {x.shape} and "
                         f"w_hh shape {w_hh.shape}, got {w_ih.shape}")
    present, rest = [], []
    for name, value, shape in named(b, hidden):
        if value is None:
            continue
        value = as_tensor(value, like=x)
        if value.shape != shape:
            raise ValueError(f"{op}: {name} must have shape {shape}, got {value.shape}")
        present.append(name)
        rest.append(value)
    return (x, w_ih, w_hh, *rest), tuple(present)


def lstm(x, w_ih, w_hh, bias=None, h0=None, c0=None, return_sequences=True):
    """An LSTM layer over x [B, T, F]: every hidden state [B, T, H], or the last [B, H].

    Gate blocks [i, f, g, o] of H columns each; w_ih [F, 4H], w_hh [H, 4H], bias [4H]:
    z_t = x_t @ w_ih + bias + h_{t-1} @ w_hh;  i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)
    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t);  h_{-1} = h0, c_{-1} = c0 (zeros when None).
    """
    inputs, present = _args("lstm", 4, x, w_ih, w_hh, lambda b, h: (
        ("bias", bias, (4 * h,)), ("h0", h0, (b, h)), ("c0", c0, (b, h))))
    return LSTMSeq.apply(*inputs, present=present, options={"return_sequences": bool(return_sequences)})


def gru(x, w_ih, w_hh, b_ih=None, b_hh=None, h0=None, gate_order="rzn", return_sequences=True):
    """A GRU layer over x [B, T, F] with the reset gate after the recurrent matmul (PyTorch;
    Keras reset_after=True): every hidden state [B, T, H], or the last [B, H].

    Blocks r (reset), z (update), n (new) of H columns in `gate_order` ("rzn": PyTorch,
    "zrn": Keras); w_ih [F, 3H], w_hh [H, 3H], b_ih and b_hh [3H]:
    gi = x_t @ w_ih + b_ih;  gh = h_{t-1} @ w_hh + b_hh;  r, z = sigmoid(gi_r + gh_r, gi_z + gh_z)
    n = tanh(gi_n + r * gh_n);  h_t = (1 - z) * n + z * h_{t-1};  h_{-1} = h0 (zeros when None).
    """
    if gate_order not in GRU_ORDERS:
        raise ValueError(f"gru: gate_order must be one of {GRU_ORDERS}, got {gate_order!r}")
    inputs, present = _args("gru", 3, x, w_ih, w_hh, lambda b, h: (
        ("b_ih", b_ih, (3 * h,)), ("b_hh", b_hh, (3 * h,)), ("h0", h0, (b, h))))
    return GRUSeq.apply(*inputs, present=present,
                        options={"order": gate_order, "return_sequences": bool(return_sequences)})
