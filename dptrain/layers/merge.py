"""Merging layers (Keras 3 `keras.layers.merging`): layers over a list of inputs, and their
functional forms (`add`, `concatenate`, `dot`, ...)."""
from __future__ import annotations

import math

import numpy as np

from engine import ops
from engine.tensor import as_tensor

from .base import Layer, format_shape, get_keras_mask, register, set_keras_mask

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]


class _Merge(Layer):
    """Base of the layers over a list of inputs; subclasses set how many inputs they take.
    Masks (as Keras): an elementwise merge's output mask is the OR of its inputs' masks when every
    input has one (else none); Concatenate's is any() over the concatenated masks (an unmasked
    input counts as all True); Dot's output has no mask."""
    min_inputs, max_inputs = 1, None
    supports_masking = True

    def _check_masks(self, inputs, mask):
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"{self._who()}: `mask` should be a list. Received: mask={mask}")
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._who()}: `inputs` should be a list. Received: inputs={inputs}")
        if len(mask) != len(inputs):
            raise ValueError(f"{self._who()}: the lists `inputs` and `mask` should have the same length; got "
                             f"{len(inputs)} inputs and {len(mask)} masks")

    def _check_list(self, input_shape):
        if not isinstance(input_shape, list):
            got = format_shape(input_shape) if isinstance(input_shape, tuple) else repr(input_shape)
            many = "exactly 2" if self.max_inputs == 2 else "at least 2"
            raise ValueError(f"{self._who()}: expects a list of inputs (it merges a list of {many} inputs, "
                             f"e.g. [x1, x2]), got a single input {got}")
        n = len(input_shape)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.min_inputs}" if self.min_inputs == self.max_inputs
                    else f"at least {self.min_inputs}")
            raise ValueError(f"{self._who()}: expects a list of {want} input(s), got {n}: "
                             f"{format_shape(input_shape) if input_shape else '[]'}")
        batches = {s[0] for s in input_shape if s and s[0] is not None}
        if len(batches) > 1:
            raise ValueError(f"{self._who()}: cannot merge inputs with different batch sizes, got "
                             f"{format_shape(input_shape)}")
        return input_shape


class _Elementwise(_Merge):
    """An elementwise merge. Inputs broadcast as in Keras: the axes after the batch axis align
    from the right, a 1 stretches to the other size, and a lower-rank input gains unit axes
    right after its batch axis."""

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        out = tuple(shapes[0][1:])
        for s in shapes[1:]:
            out = self._broadcast(out, tuple(s[1:]), shapes[0], s)
        batch = next((s[0] for s in shapes if s[0] is not None), None)
        return (batch,) + out

    def _broadcast(self, a, b, full_a, full_b):
        if len(a) < len(b):
            a, b = b, a
        lead, dims = list(a[:len(a) - len(b)]), []
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                dims.append(None)
            elif i == 1 or j == 1 or i == j:
                dims.append(j if i == 1 else i)
            else:
                raise ValueError(f"{self._who()}: inputs have incompatible shapes {format_shape(full_a)} and "
                                 f"{format_shape(full_b)}")
        return tuple(lead + dims)

    def call(self, inputs, training=False):
        inputs = list(inputs)
        rank = max(x.ndim for x in inputs)
        batches = {x.shape[0] for x in inputs}
        if len(batches) > 1:
            raise ValueError(f"{self._who()}: cannot merge inputs with different batch sizes, got "
                             f"{', '.join(str(tuple(x.shape)) for x in inputs)}")
        inputs = [x if x.ndim == rank else
                  ops.reshape(x, x.shape[:1] + (1,) * (rank - x.ndim) + tuple(x.shape[1:])) for x in inputs]
        return self._merge(inputs)

    def _merge(self, inputs):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        self._check_masks(inputs, mask)
        if any(m is None for m in mask):
            return None
        from .. import ops as dops
        out = mask[0]
        for m in mask[1:]:
            out = dops.logical_or(out, m)
        return out


def _input_masks(inputs):
    """Each input's mask broadcast to the input's shape (None where it has none)."""
    from .. import ops as dops
    out = []
    for x in inputs:
        m = get_keras_mask(x)
        out.append(None if m is None else dops.broadcast_to(dops.expand_dims(m, -1), tuple(x.shape)))
    return out


def _merge_masked_by_or(layer, op, inputs):
    """Keras' _apply_merge_op_and_or_mask (Maximum, Minimum): a masked value takes the other
    operand's value, so `op` sees only unmasked values; the output mask is the OR of the masks."""
    from .. import ops as dops
    output = output_mask = None
    for x, m in zip(inputs, _input_masks(inputs)):
        if output is None:
            output, output_mask = x, m
            continue
        if m is not None:
            x = dops.where(m, x, output)
        if output_mask is not None:
            output = dops.where(output_mask, output, x)
        output_mask = dops.logical_or(output_mask, m) if m is not None and output_mask is not None else None
        output = op(output, x)
    if output_mask is not None:
        set_keras_mask(output, dops.any(output_mask, axis=-1))
    return output


def _broadcast_to(x, shape):
    """`x` broadcast to `shape`, exactly (times ones), its gradient summed back by the engine."""
    if tuple(x.shape) == tuple(shape):
        return x
    return ops.mul(x, as_tensor(np.ones(shape, dtype=x.dtype)))


def _maximum(a, b):
    """Elementwise max of two tensors; at a tie each gets half the gradient (as torch.maximum)."""
    shape = tuple(np.broadcast_shapes(a.shape, b.shape))
    pair = [ops.reshape(_broadcast_to(t, shape), shape + (1,)) for t in (a, b)]
    return ops.max(ops.concat(pair, axis=len(shape)), axis=-1)


@register
class Add(_Elementwise):
    """Elementwise sum of a list of inputs: inputs[0] + inputs[1] + ..."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


@register
class Subtract(_Elementwise):
    """Elementwise difference of exactly two inputs: inputs[0] - inputs[1]."""
    min_inputs = max_inputs = 2

    def _merge(self, inputs):
        return ops.sub(inputs[0], inputs[1])


@register
class Multiply(_Elementwise):
    """Elementwise product of a list of inputs: inputs[0] * inputs[1] * ..."""

    def _merge(self, inputs):
        masks = _input_masks(inputs)
        if all(m is None for m in masks):
            out = inputs[0]
            for x in inputs[1:]:
                out = ops.mul(out, x)
            return out
        from .. import ops as dops        # as Keras: masked values count as 1, masked outputs are 0
        full = all(m is not None for m in masks)
        out = out_mask = None
        for x, m in zip(inputs, masks):
            if m is not None:
                x = dops.where(m, x, 1.0)
                if full:
                    out_mask = m if out_mask is None else dops.logical_or(out_mask, m)
            out = x if out is None else ops.mul(out, x)
        if full:
            out = dops.where(out_mask, out, 0.0)
            set_keras_mask(out, dops.any(out_mask, axis=-1))
        return out


@register
class Average(_Elementwise):
    """Elementwise mean of a list of inputs: (inputs[0] + ... + inputs[n-1]) / n."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return ops.div(out, len(inputs))


@register
class Maximum(_Elementwise):
    """Elementwise maximum of a list of inputs: max(max(inputs[0], inputs[1]), ...)."""

    def _merge(self, inputs):
        return _merge_masked_by_or(self, _maximum, inputs)


@register
class Minimum(_Elementwise):
    """Elementwise minimum of a list of inputs: min(min(inputs[0], inputs[1]), ...)."""

    def _merge(self, inputs):
        return _merge_masked_by_or(self, lambda a, b: ops.neg(_maximum(ops.neg(a), ops.neg(b))), inputs)


@register
class Concatenate(_Merge):
    """Join inputs along `axis` (default the last); every other axis must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"{self._who()}: axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError(f"{self._who()}: inputs must have the same rank, got "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"{self._who()}: axis {self.axis} is out of range (or the batch axis) for inputs "
                             f"of rank {rank}")
        ax = self.axis % rank
        out = []
        for i, dims in enumerate(zip(*shapes)):
            if i == ax:
                out.append(None if any(d is None for d in dims) else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1 and i > 0:
                raise ValueError(f"{self._who()}: inputs must agree on every axis but {self.axis}, got "
                                 f"{', '.join(format_shape(s) for s in shapes)}")
            out.append(next(iter(known)) if known else None)
        return tuple(out)

    def call(self, inputs, training=False):
        inputs = list(inputs)
        if len(inputs) == 1:
            return inputs[0]
        return ops.concat(inputs, axis=self.axis % inputs[0].ndim)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        self._check_masks(inputs, mask)
        if all(m is None for m in mask):
            return None
        from .. import ops as dops
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(dops.ones_like(x, dtype="bool"))
            elif len(m.shape) < x.ndim:
                masks.append(dops.broadcast_to(dops.expand_dims(m, -1), tuple(x.shape)))
            else:
                masks.append(m)
        return dops.any(dops.concatenate(masks, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x, axis):
    """x / max(||x||, 1e-7) along `axis`, as keras.ops.normalize (x * min(rsqrt(sum x^2), 1e7))."""
    sq = ops.sum(ops.mul(x, x), axis=axis, keepdims=True)
    return ops.div(x, ops.sqrt(ops.clamp(sq, min=1e-14)))


@register
class Dot(_Merge):
    """Batchwise dot product of two inputs over axes (a, b) after the batch axis:
    out[n, i..., j...] = sum_k x[n, i..., k, ...] * y[n, j..., k, ...]; a rank-1 result becomes
    [batch, 1]. With normalize=True both are L2-normalised along their axis (cosine proximity)."""
    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(f"{who}: axes must be an int or a pair of ints, got {axes!r}")
            if any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
                raise ValueError(f"{who}: axes must hold ints, got {axes!r}")
            axes = list(axes)
        elif isinstance(axes, bool) or not isinstance(axes, int):
            raise TypeError(f"{who}: axes must be an int or a pair of ints, got {axes!r}")
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes(self, ranks):
        pair = [self.axes] * 2 if isinstance(self.axes, int) else self.axes
        out = []
        for a, r in zip(pair, ranks):
            if not -r <= a < r or a % r == 0:
                raise ValueError(f"{self._who()}: axis {a} is out of range (or the batch axis) for an input of "
                                 f"rank {r}; axes={self.axes!r}")
            out.append(a % r)
        return out

    def compute_output_shape(self, input_shape):
        s1, s2 = self._check_list(input_shape)
        a1, a2 = self._axes((len(s1), len(s2)))
        d1, d2 = s1[a1], s2[a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"{self._who()}: axis {a1} of {format_shape(s1)} has size {d1} but axis {a2} of "
                             f"{format_shape(s2)} has size {d2}; they must agree (axes={self.axes!r})")
        out = [s1[0]] + [d for i, d in enumerate(s1) if i not in (0, a1)] + \
              [d for i, d in enumerate(s2) if i not in (0, a2)]
        if s1[0] is None:
            out[0] = s2[0]
        return tuple(out) if len(out) > 1 else (out[0], 1)

    def call(self, inputs, training=False):
        x, y = inputs
        a1, a2 = self._axes((x.ndim, y.ndim))
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{self._who()}: cannot merge inputs with different batch sizes, got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        n, k = x.shape[0], x.shape[a1]
        x_rest = [d for i, d in enumerate(x.shape) if i not in (0, a1)]
        y_rest = [d for i, d in enumerate(y.shape) if i not in (0, a2)]
        # x -> [n, M, k] (its axis last), y -> [n, k, N] (its axis second), one batched matmul
        x_perm = [i for i in range(x.ndim) if i != a1] + [a1]
        y_perm = [0, a2] + [i for i in range(1, y.ndim) if i != a2]
        if x_perm != list(range(x.ndim)):
            x = ops.transpose(x, x_perm)
        if y_perm != list(range(y.ndim)):
            y = ops.transpose(y, y_perm)
        x = ops.reshape(x, (n, math.prod(x_rest), k))
        y = ops.reshape(y, (n, k, math.prod(y_rest)))
        out = ops.matmul(x, y)
        return ops.reshape(out, (n,) + tuple(x_rest + y_rest) if x_rest or y_rest else (n, 1))

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# --- functional forms, as keras.layers exports them ------------------------------------------
def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`: the elementwise sum of a list of inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """`Subtract(**kwargs)(inputs)`: inputs[0] - inputs[1]."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`: the elementwise product of a list of inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """`Average(**kwargs)(inputs)`: the elementwise mean of a list of inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """`Maximum(**kwargs)(inputs)`: the elementwise maximum of a list of inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """`Minimum(**kwargs)(inputs)`: the elementwise minimum of a list of inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """`Concatenate(axis=axis, **kwargs)(inputs)`: the inputs joined along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """`Dot(axes=axes, **kwargs)(inputs)`: the batchwise dot product of two inputs."""
    return Dot(axes=axes, **kwargs)(inputs)
