"""Shape and layout primitives: reshape, transpose, getitem/slicing, concat."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, SliceGrad
from ..tensor import Tensor, as_tensor


def _resolve_shape(shape, size, op):
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be -1, got {shape}")
    if -1 in shape:
        rest = 1
        for s in shape:
            if s != -1:
                rest *= s
        if rest == 0 or size % rest:
            raise ValueError(f"{op}: cannot reshape {size} elements into {shape}")
        shape = tuple(size // rest if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != size:
        raise ValueError(f"{op}: cannot reshape a tensor of {size} elements into shape {shape}")
    return shape


class Reshape(Function):
    int_inputs = (0,)

    def forward(self, K, a):
        self.src = a.shape
        return K.reshape(a, _resolve_shape(self.shape, a.size, "reshape"))

    def backward(self, g):
        return (self.K.reshape(g, self.src),)


class Transpose(Function):
    int_inputs = (0,)

    def forward(self, K, a):
        axes = self.axes
        if axes is None:
            axes = tuple(range(a.ndim - 1, -1, -1))
        axes = tuple(int(x) % a.ndim if a.ndim else 0 for x in axes)
        if sorted(axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of {a.ndim} dimensions")
        self.perm = axes
        return K.transpose(a, axes)

    def backward(self, g):
        inv = tuple(np.argsort(self.perm))
        return (self.K.transpose(g, inv),)


def _index_key(index):
    """Turn tensors inside an index into host integer arrays; report advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    out, advanced = [], False
    for it in items:
        if isinstance(it, Tensor):
            it = it.numpy()
        if isinstance(it, (list, np.ndarray)):
            it = np.asarray(it)
            if it.dtype.kind == "f":
                raise TypeError("getitem: float arrays cannot index a tensor")
            advanced = True
        out.append(it)
    return (tuple(out) if isinstance(index, tuple) else out[0]), advanced


class GetItem(Function):
    int_inputs = (0,)

    def forward(self, K, a):
        self.shape = a.shape
        try:
            return K.getitem(a, self.index)
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None

    def backward(self, g):
        # The tape adds g into one gradient buffer of the input, shared by all its slices.
        return (SliceGrad(g, self.index, self.advanced),)


class Concat(Function):
    def forward(self, K, *arrays):
        nd = arrays[0].ndim
        ax = self.axis % nd if nd else 0
        for i, a in enumerate(arrays[1:], 1):
            if a.ndim != nd or any(a.shape[d] != arrays[0].shape[d] for d in range(nd) if d != ax):
                raise ValueError(f"concat: input {i} has shape {a.shape}, incompatible with input 0 "
                                 f"shape {arrays[0].shape} along axis {self.axis}")
        self.ax = ax
        self.bounds = np.cumsum([0] + [a.shape[ax] for a in arrays])
        return K.concat(arrays, ax)

    def backward(self, g):
        K = self.K
        out = []
        for i, t in enumerate(self.inputs):
            if not t.requires_grad:
                out.append(None)
                continue
            idx = [slice(None)] * g.ndim
            idx[self.ax] = slice(int(self.bounds[i]), int(self.bounds[i + 1]))
            out.append(K.getitem(g, tuple(idx)))
        return out


def reshape(a, shape):
    if isinstance(shape, int):
        shape = (shape,)
    return Reshape.apply(a, shape=tuple(shape))


def transpose(a, axes=None):
    """numpy semantics: reverse the axes, or permute them by `axes`."""
    return Transpose.apply(a, axes=None if axes is None else tuple(axes))


def getitem(a, index):
    key, advanced = _index_key(index)
    return GetItem.apply(a, index=key, advanced=advanced)


def concat(tensors, axis=0):
    if not tensors:
        raise ValueError("concat: needs at least one tensor")
    ts = [t if isinstance(t, Tensor) else as_tensor(t) for t in tensors]
    return Concat.apply(*ts, axis=int(axis))
