"""Keras 3 attention layers: MultiHeadAttention, Attention (Luong-style dot / concat scores) and
AdditiveAttention (Bahdanau-style scores), composed from engine ops (matmul, softmax, reshape,
transpose, add, mul, tanh, sum).

Masks are "may attend" arrays (True / nonzero = keep). As Keras, a masked score is replaced by a
large negative number before the softmax (MultiHeadAttention: -1e9, then the masked
probabilities are set to 0, so a query whose keys are all masked attends to nothing; Attention:
score - 1e9), written as `score * keep + (1 - keep) * (-1e9)` (`score + (1 - keep) * (-1e9)`),
which is bit-exact with Keras' `where`.
"""
from __future__ import annotations

import math

import numpy as np

from engine import ops
from engine import random as _random
from engine.tensor import Tensor

from . import base as _base
from .base import Layer, call_tensor, register
from .core import WeightArgs

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]

_LARGE_NEGATIVE = -1e9      # Keras' _large_negative_number / max_value for float32 and float64


def _keras_mask(x):
    """The Keras mask attached to `x` (None where dptrain tensors carry none)."""
    get = getattr(_base, "get_keras_mask", None)
    return None if get is None else get(x)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _seed_arg(who, seed):
    if seed is not None and not (_is_int(seed) and seed >= 0):
        raise ValueError(f"{who}: seed must be a non-negative int or None, got {seed!r}")
    return None if seed is None else int(seed)


def _rate(who, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0.0 <= v < 1.0:
        raise ValueError(f"{who}: {name} must be a number in [0, 1), got {v!r}")
    return float(v)


def _keep(mask, dtype, who, name):
    """A mask (bool / 0-1 array or Tensor, True = keep) as 0/1 values of `dtype`: a numpy array, or a
    Tensor for a floating Tensor mask (taken as 0/1)."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        if np.dtype(mask.dtype).kind == "f":
            return mask if np.dtype(mask.dtype) == np.dtype(dtype) else ops.cast(mask, dtype)
        mask = mask.numpy()
    m = np.asarray(mask)
    if m.dtype == object:
        raise TypeError(f"{who}: {name} must be an array of booleans or 0/1, got {type(mask).__name__}")
    return (m != 0).astype(dtype)


def _expand(m, axis):
    """`m` with a new axis of length 1 at `axis` (numpy or Tensor)."""
    if isinstance(m, Tensor):
        shape = list(m.shape)
        shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
        return ops.reshape(m, tuple(shape))
    return np.expand_dims(m, axis)


def _heads_axis(m):
    """A mask [B, T, S] or [T, S] as [B, 1, T, S] / [1, 1, T, S] (Keras expands at axis -3)."""
    while m.ndim < 4:
        m = _expand(m, -3)
    return m


def _and(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return ops.mul(a, b)
    return a * b


def _one_minus(m):
    return ops.sub(np.ones((), np.dtype(m.dtype)), m) if isinstance(m, Tensor) else 1.0 - m


def _causal(tq, tk, dtype):
    """Keras' causal mask: query i may attend to keys j <= i, shape (1, Tq, Tk)."""
    return np.tril(np.ones((tq, tk), dtype))[None]


def _fmt_shape(s):
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


class _Dropout:
    """Mixin: the attention-probability dropout, with a generator of its own when seeded (as the
    regularization layers; the random numbers differ from Keras')."""

    def _set_seed(self, seed):
        self.seed = _seed_arg(self._who(), seed)
        object.__setattr__(self, "_own_rng", None if self.seed is None else np.random.default_rng(self.seed))

    def _drop(self, p, rate, training):
        if not training or rate == 0.0:
            return p
        rng = self._own_rng if self._own_rng is not None else _random.generator()
        return ops.dropout(p, rate, training=True, rng=rng)


@register
class MultiHeadAttention(_Dropout, WeightArgs, Layer):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017), as Keras 3:

        Q = query @ Wq + bq    [B, T, H, key_dim]     (Wq: "query/kernel" [dq, H, key_dim])
        K = key @ Wk + bk      [B, S, H, key_dim]     (Wk: "key/kernel"   [dk, H, key_dim])
        V = value @ Wv + bv    [B, S, H, value_dim]   (Wv: "value/kernel" [dv, H, value_dim])
        P = softmax_S(mask(Q K^T / sqrt(key_dim)))    [B, H, T, S]  (masked scores -> -1e9,
                                                       masked probabilities -> 0 with dropout
                                                       or return_attention_scores, see call)
        out = concat_heads(dropout(P) V) @ Wo + bo    [B, T, *output_shape]  (Wo: "attention_output/
                                                       kernel" [H, value_dim, *output_shape])

    Args:
        num_heads: the number of heads H.
        key_dim: the size of each query / key head.
        value_dim: the size of each value head (default key_dim).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the four projections have biases.
        output_shape: the output's feature shape (int or tuple); default the query's last dimension.
        attention_axes: None (attention over the sequence axis); other axes are not supported.
        sliding_window: None, or a positive int w: query i attends only to keys |i - j| < w.
        flash_attention: accepted (None / False / True); the math is the same. As Keras, True does
            not allow dropout or return_attention_scores.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: for the kernels and biases of all four projections.
        use_gate: if True, the attention output is multiplied by sigmoid(query @ Wg + bg) ("gate",
            [dq, H, value_dim]) before the output projection.
        seed: seed of the dropout.

    Call: `mha(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False)`;
    query [B, T, dq], value [B, S, dv], key [B, S, dk] (default value). value_mask / key_mask
    [B, S], attention_mask [B, T, S] (or broadcastable, with [B, H, T, S]) and the causal mask
    (query i attends to keys j <= i) are combined by AND. `query_mask` is, as in Keras 3, taken
    from the query's own Keras mask, which dptrain tensors do not carry: an explicit query_mask=
    has no effect, in Keras as here. A query whose keys are all masked gets, as Keras 3 on torch,
    P = 0 (output = output bias) when the layer has dropout or returns the scores (Keras' explicit
    softmax path), else the uniform average of the values (Keras' dot_product_attention path).
    Returns the output, or (output, P) with return_attention_scores.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        for name, v in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not _is_int(v) or v <= 0:
                raise ValueError(f"{who}: {name} must be a positive integer, got {v!r}")
        if value_dim is not None and (not _is_int(value_dim) or value_dim <= 0):
            raise ValueError(f"{who}: value_dim must be a positive integer or None, got {value_dim!r}")
        self._num_heads, self._key_dim = int(num_heads), int(key_dim)
        self._value_dim = int(value_dim) if value_dim else self._key_dim
        self._dropout = _rate(who, "dropout", dropout)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        if output_shape:
            if _is_int(output_shape):
                output_shape = (int(output_shape),)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"{who}: output_shape must be an int, a tuple or a list of ints, "
                                 f"got {output_shape!r}") from None
            if any(d <= 0 for d in output_shape):
                raise ValueError(f"{who}: output_shape must hold positive ints, got {output_shape!r}")
        self._output_shape = output_shape or None
        if _is_int(attention_axes):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"{who}: attention_axes must be an int, list, or tuple, got {attention_axes!r}")
        self._attention_axes = None if attention_axes is None else tuple(int(a) for a in attention_axes)
        if sliding_window is not None and (not _is_int(sliding_window) or sliding_window <= 0):
            raise ValueError(f"{who}: sliding_window must be None or a positive integer, got {sliding_window!r}")
        self._sliding_window = None if sliding_window is None else int(sliding_window)
        if flash_attention not in (None, False, True):
            raise ValueError(f"{who}: flash_attention must be None, True or False, got {flash_attention!r}")
        self._flash_attention = bool(flash_attention)
        if self._flash_attention and self._dropout > 0.0:
            raise ValueError(f"{who}: dropout is not supported when flash attention is enabled; set dropout=0.0 "
                             f"to use flash_attention=True")
        if activity_regularizer is not None:
            raise NotImplementedError(f"{who}: activity_regularizer is not supported yet")
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(float(self._key_dim))
        self._set_weight_args(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                              kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=None, kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint)
        self._set_seed(seed)
        self._proj = None           # {"query": (kernel, bias), ...} once built
        self.supports_masking = True    # the output carries the query's mask (Keras)

    # Keras' read-only properties
    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def __call__(self, query=None, value=None, *args, **kwargs):
        """As Keras: `mha(query, value, ...)`, also with `query=` / `value=` by keyword."""
        if query is None or value is None:
            raise TypeError(f"{self._who()}: missing the required arguments query and value: call it as "
                            f"mha(query, value) (value is also the key unless key= is given)")
        return Layer.__call__(self, query, value, *args, **kwargs)

    # --- building -----------------------------------------------------------------------------
    def _check_shapes(self, query_shape, value_shape, key_shape=None):
        who = self._who()
        key_shape = value_shape if key_shape is None else key_shape
        for name, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if not isinstance(s, tuple) or len(s) < 3:
                raise ValueError(f"{who}: {name} must have shape (batch, sequence, features), got "
                                 f"{s if not isinstance(s, tuple) else _fmt_shape(s)}")
            if len(s) > 3:
                raise NotImplementedError(f"{who}: inputs of rank {len(s)} ({name} shape {_fmt_shape(s)}): "
                                          f"attention over several axes is not supported yet; use "
                                          f"(batch, sequence, features) inputs")
            if s[-1] is None:
                raise ValueError(f"{who}: the feature size of {name} must be known, got shape {_fmt_shape(s)}")
        if value_shape[1:-1] != key_shape[1:-1] and None not in value_shape[1:-1] + key_shape[1:-1]:
            raise ValueError(f"{who}: all dimensions of value and key, except the last one, must be equal; got "
                             f"value shape {_fmt_shape(value_shape)} and key shape {_fmt_shape(key_shape)}")
        if self._attention_axes is not None:
            axes = tuple(a if a >= 0 else len(query_shape) + a for a in self._attention_axes)
            if axes != (1,):
                raise NotImplementedError(f"{who}: attention_axes={self._attention_axes!r}: only attention over "
                                          f"the sequence axis (attention_axes=None or (1,)) is supported")
        return key_shape

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections for these shapes (batch axis included). Called with the query
        shape alone (dptrain's graph building), it waits for the first call to see value and key."""
        if value_shape is None:
            return
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = self._check_shapes(query_shape, value_shape, None if key_shape is None else tuple(key_shape))
        h, kd, vd = self._num_heads, self._key_dim, self._value_dim
        out_shape = self._output_shape or (query_shape[-1],)
        proj = {}

        def add(name, kernel_shape, bias_shape):
            k = self.add_weight(f"{name}/kernel", kernel_shape, self.kernel_initializer,
                                regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
            b = self.add_weight(f"{name}/bias", bias_shape, self.bias_initializer, regularizer=self.bias_regularizer,
                                constraint=self.bias_constraint) if self._use_bias else None
            proj[name] = (k, b)
        add("query", (query_shape[-1], h, kd), (h, kd))        # Keras' build order: query, key, gate, value, output
        add("key", (key_shape[-1], h, kd), (h, kd))
        if self._use_gate:
            add("gate", (query_shape[-1], h, vd), (h, vd))
        add("value", (value_shape[-1], h, vd), (h, vd))
        add("attention_output", (h, vd) + tuple(out_shape), tuple(out_shape))
        self._proj = proj
        if self._attention_axes is None:
            self._attention_axes = (1,)           # as Keras' build sets it
        self.built = True
        self.build_input_shape = query_shape

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        value_shape = query_shape if value_shape is None else tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"{self._who()}: all dimensions of value and key, except the last one, must be equal; "
                             f"got value shape {_fmt_shape(value_shape)} and key shape {_fmt_shape(key_shape)}")
        return query_shape[:-1] + self._output_shape if self._output_shape else query_shape

    # --- the computation ----------------------------------------------------------------------------
    def _project(self, x, name):
        """x [B, T, d] -> [B, T, H, n] through the EinsumDense-shaped kernel [d, H, n]."""
        kernel, bias = self._proj[name]
        d, h, n = kernel.shape
        b, t = x.shape[0], x.shape[1]
        y = ops.matmul(x, ops.reshape(kernel, (d, h * n)))
        if bias is not None:
            y = ops.add(y, ops.reshape(bias, (h * n,)))
        return ops.reshape(y, (b, t, h, n))

    def _attention_keep(self, b, tq, tk, dtype, value_mask, key_mask, attention_mask, use_causal_mask):
        """Keras' _compute_attention_mask as 0/1 values broadcastable to [B, T, S] (None: no mask)."""
        who = self._who()
        keep = None
        for name, m in (("value_mask", value_mask), ("key_mask", key_mask)):
            m = _keep(m, dtype, who, name)
            if m is not None:
                if tuple(m.shape) != (b, tk):
                    raise ValueError(f"{who}: {name} must have shape (batch, value length) = {(b, tk)}, got "
                                     f"{tuple(m.shape)}")
                keep = _and(keep, _expand(m, -2))             # [B, 1, S]
        if use_causal_mask:
            keep = _and(keep, _causal(tq, tk, dtype))
        if self._sliding_window is not None:
            i, j = np.arange(tq)[:, None], np.arange(tk)[None, :]
            keep = _and(keep, (np.abs(i - j) < self._sliding_window).astype(dtype)[None])
        am = _keep(attention_mask, dtype, who, "attention_mask")
        if am is not None:
            if not 2 <= am.ndim <= 4:
                raise ValueError(f"{who}: attention_mask must be [B, T, S] (or [T, S], [B, H, T, S]), got shape "
                                 f"{tuple(am.shape)}")
            want = (b, self._num_heads, tq, tk) if am.ndim == 4 else (b, tq, tk)[-am.ndim:]
            if any(m != 1 and m != w for m, w in zip(tuple(am.shape), want)):
                raise ValueError(f"{who}: attention_mask shape {tuple(am.shape)} does not broadcast to "
                                 f"{'(batch, heads, query length, value length)' if am.ndim == 4 else '(batch, query length, value length)'}"
                                 f" = {want}") from None
            keep = _and(_heads_axis(am), None if keep is None else _heads_axis(keep))
        return keep

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        query_mask = _keras_mask(query)     # Keras 3: the query's own mask, whatever query_mask= says
        query, value = call_tensor(query), call_tensor(value)
        key = value if key is None else call_tensor(key)
        if self._proj is None:
            shapes = [(None,) + tuple(t.shape[1:]) for t in (query, value, key)]
            self.build(*shapes)
        else:
            self._check_shapes(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        if return_attention_scores and self._flash_attention:
            raise ValueError(f"{self._who()}: returning attention scores is not supported when flash attention "
                             f"is enabled; set flash_attention=False to get them")
        for name, t in (("query", query), ("key", key), ("value", value)):
            want = self._proj[name][0].shape[0]
            if t.shape[-1] != want:
                raise ValueError(f"{self._who()}: {name} has {t.shape[-1]} features, the layer was built for {want}")
        b, tq, tk = query.shape[0], query.shape[1], key.shape[1]
        if value.shape[0] != b or key.shape[0] != b:
            raise ValueError(f"{self._who()}: query, value and key must have the same batch size, got "
                             f"{b}, {value.shape[0]}, {key.shape[0]}")
        dtype = np.dtype(query.dtype)
        keep = self._attention_keep(b, tq, tk, dtype, value_mask, key_mask, attention_mask, bool(use_causal_mask))
        q_keep = _keep(query_mask, dtype, self._who(), "query_mask")
        if q_keep is not None:
            keep = _and(_heads_axis(_expand(q_keep, -1)), None if keep is None else _heads_axis(keep))  # [B, 1, T, 1]
        h = self._num_heads
        q = ops.transpose(self._project(query, "query"), (0, 2, 1, 3))           # [B, H, T, kd]
        k = ops.transpose(self._project(key, "key"), (0, 2, 3, 1))               # [B, H, kd, S]
        v = ops.transpose(self._project(value, "value"), (0, 2, 1, 3))           # [B, H, S, vd]
        q = ops.mul(q, np.asarray(self._inverse_sqrt_key_dim, dtype))
        scores = ops.matmul(q, k)                                                # [B, H, T, S]
        if keep is not None:
            keep = _heads_axis(keep)
            keep = keep if isinstance(keep, Tensor) else keep.astype(np.dtype(scores.dtype))
            scores = ops.add(ops.mul(scores, keep), ops.mul(_one_minus(keep), np.asarray(_LARGE_NEGATIVE, dtype)))
        probs = ops.softmax(scores, -1)
        if keep is not None and (self._dropout > 0.0 or return_attention_scores):
            # Keras' explicit path (Softmax with a mask): a query whose keys are all masked attends to
            # nothing. Without dropout or returned scores Keras (torch) runs dot_product_attention,
            # where that query averages every value uniformly: no zeroing then, as here.
            probs = ops.mul(probs, keep)
        out = ops.matmul(self._drop(probs, self._dropout, training), v)          # [B, H, T, vd]
        out = ops.transpose(out, (0, 2, 1, 3))                                   # [B, T, H, vd]
        if self._use_gate:
            out = ops.mul(out, ops.sigmoid(self._project(query, "gate")))
        kernel, bias = self._proj["attention_output"]
        out_shape = tuple(kernel.shape[2:])
        n_out = int(np.prod(out_shape))
        out = ops.matmul(ops.reshape(out, (b, tq, h * self._value_dim)), ops.reshape(kernel, (h * self._value_dim, n_out)))
        if bias is not None:
            out = ops.add(out, ops.reshape(bias, (n_out,)))
        out = ops.reshape(out, (b, tq) + out_shape)
        return (out, probs) if return_attention_scores else out

    def get_config(self):
        args = self._weight_args_config()
        args.pop("activity_regularizer", None)
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout, "use_bias": self._use_bias,
                "use_gate": self._use_gate, "output_shape": None if self._output_shape is None else
                list(self._output_shape), "attention_axes": None if self._attention_axes is None else
                list(self._attention_axes), "sliding_window": self._sliding_window,
                "kernel_initializer": args["kernel_initializer"], "bias_initializer": args["bias_initializer"],
                "kernel_regularizer": args["kernel_regularizer"], "bias_regularizer": args["bias_regularizer"],
                "activity_regularizer": None, "kernel_constraint": args["kernel_constraint"],
                "bias_constraint": args["bias_constraint"], "seed": self.seed}


def _check_list(who, inputs, mask=None):
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(f"{who} must be called on a list of inputs, namely [query, value] or [query, value, key]; "
                         f"got {type(inputs).__name__}")
    if not 2 <= len(inputs) <= 3:
        raise ValueError(f"{who} accepts an inputs list of length 2 or 3, namely [query, value] or "
                         f"[query, value, key]; got length {len(inputs)}")
    if mask is not None:
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"{who}: mask must be a list, namely [query_mask, value_mask]; got "
                             f"{type(mask).__name__}")
        if not 2 <= len(mask) <= 3:
            raise ValueError(f"{who} accepts a mask list of length 2 or 3; got length {len(mask)}")


@register
class Attention(_Dropout, Layer):
    """Dot-product (Luong-style) attention, as Keras 3, on [query [B, Tq, d], value [B, Tv, dv],
    key [B, Tv, d] (default value)]:

        scores = query @ key^T                      (score_mode="dot"; times `scale` if use_scale)
        scores = c * sum_d tanh(scale * (q_i + k_j)) (score_mode="concat"; c = `concat_score_weight`)
        scores -= 1e9 where the value mask / causal mask (key j > query i) masks key j
        out = dropout(softmax_j(scores)) @ value    [B, Tq, dv]; rows of masked queries are 0

    Args:
        use_scale: learn a scalar `scale` (initialised to 1) multiplying the scores.
        score_mode: "dot" or "concat".
        dropout: dropout rate on the attention weights (training only).
        seed: seed of the dropout.

    Call: `layer([query, value(, key)], mask=[query_mask, value_mask], training=None,
    return_attention_scores=False, use_causal_mask=False)`; masks [B, Tq] / [B, Tv], True = keep.
    Returns the output, or (output, attention weights [B, Tq, Tv]).
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{self._who()}: invalid score_mode {score_mode!r}; expected one of 'dot', 'concat'")
        self.score_mode = score_mode
        self.dropout = _rate(self._who(), "dropout", dropout)
        self._set_seed(seed)
        self.scale = self.concat_score_weight = None

    def _check_shapes(self, shapes, features=True):
        who = self._who()
        if not isinstance(shapes, list):
            raise ValueError(f"{who} must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]; got one input of shape {shapes!r}")
        _check_list(who, shapes)
        shapes = [tuple(s) for s in shapes]
        q, v = shapes[0], shapes[1]
        k = shapes[2] if len(shapes) > 2 else v
        for name, s in (("query", q), ("value", v), ("key", k)):
            if not isinstance(s, tuple) or len(s) < 3:
                raise ValueError(f"{who}: {name} must have shape (batch, steps, features), got {s!r}")
        if k[-2] is not None and v[-2] is not None and k[-2] != v[-2]:
            raise ValueError(f"{who}: key and value must have the same number of steps, got key shape "
                             f"{_fmt_shape(k)} and value shape {_fmt_shape(v)}")
        if features and q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ValueError(f"{who}: query and key must have the same feature size, got query shape "
                             f"{_fmt_shape(q)} and key shape {_fmt_shape(k)}")
        return q, v, k

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones") \
            if self.score_mode == "concat" else None

    def compute_output_shape(self, input_shape):
        q, v, _ = self._check_shapes(input_shape, features=False)     # (the feature sizes: in build / call)
        return tuple(q[:-1]) + (v[-1],)

    def _scores(self, q, k):
        if self.score_mode == "dot":
            s = ops.matmul(q, ops.transpose(k, tuple(range(k.ndim - 2)) + (k.ndim - 1, k.ndim - 2)))
            return s if self.scale is None else ops.mul(s, self.scale)
        qe = _expand(q, -2)                            # [B, Tq, 1, d]
        ke = _expand(k, -3)                            # [B, 1, Tv, d]
        x = ops.add(qe, ke)
        if self.scale is not None:
            x = ops.mul(self.scale, x)
        return ops.mul(self.concat_score_weight, ops.sum(ops.tanh(x), axis=-1))

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        who = self._who()
        _check_list(who, inputs, mask)
        xs = [call_tensor(t) for t in inputs]
        self._check_shapes([tuple(t.shape) for t in xs])
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) > 2 else v
        dtype = np.dtype(q.dtype)
        scores = self._scores(q, k)                    # [B, Tq, Tv]
        q_mask = _keep(mask[0], dtype, who, "query mask") if mask else None
        v_mask = _keep(mask[1], dtype, who, "value mask") if mask else None
        keep = None if v_mask is None else _expand(v_mask, -2)     # [B, 1, Tv]
        if use_causal_mask:
            keep = _and(keep, _causal(scores.shape[-2], scores.shape[-1], dtype))
        if keep is not None:
            scores = ops.add(scores, ops.mul(_one_minus(keep), np.asarray(_LARGE_NEGATIVE, dtype)))
        weights = ops.softmax(scores, -1)
        out = ops.matmul(self._drop(weights, self.dropout, training), v)
        if q_mask is not None:
            out = ops.mul(out, _expand(q_mask, -1))
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        """As Keras: the output's mask is the query's mask."""
        _check_list(self._who(), inputs, mask)
        return None if mask is None or mask[0] is None else mask[0]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


@register
class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention, as Keras 3, on [query [B, Tq, d], value [B, Tv, dv],
    key [B, Tv, d] (default value)]:

        scores_ij = sum_d scale_d * tanh(query_id + key_jd)   (scale [d], Glorot-uniform; 1 without
                                                                use_scale)
        out = dropout(softmax_j(scores, masked as Attention)) @ value

    Args:
        use_scale: learn the vector `scale` (default True).
        dropout: dropout rate on the attention weights (training only).
        seed: seed of the dropout.

    Call and masks: as `Attention`.
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        q, _, _ = self._check_shapes(input_shape)
        if q[-1] is None:
            raise self.shape_error(input_shape[0], "(batch, steps, features) with a known feature size")
        self.scale = self.add_weight("scale", (q[-1],), "glorot_uniform") if self.use_scale else None

    def _scores(self, q, k):
        x = ops.tanh(ops.add(_expand(q, -2), _expand(k, -3)))      # [B, Tq, Tv, d]
        if self.scale is not None:
            x = ops.mul(self.scale, x)
        return ops.sum(x, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
