"""Layout kernels: reshape (a view), transpose, indexing and its gradient, concat, one_hot."""
from __future__ import annotations

import numpy as np

from ..interfaces import GATHER, ONE_HOT, SEGSUM, STRIDED, S_SCATTER
from ...numpy_backend import NumpyBackend
from ..array import VkArray
from .base import coalesce, contiguous_strides, pad6, prod

_HOST = NumpyBackend()


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for it in items:
        if it is None or it is Ellipsis or isinstance(it, (slice, int, np.integer)):
            if isinstance(it, (bool, np.bool_)):
                return False
            continue
        if isinstance(it, np.ndarray) and it.ndim == 0 and it.dtype.kind in "iu":
            continue
        return False
    return True


def basic_view(shape, index):
    """(shape, element strides, element offset) of `x[index]` for basic indexing, x C-contiguous.

    Evaluated by numpy on a zero-copy strided fake over one byte: basic indexing only
    computes the view's geometry and never reads the (nonexistent) elements.
    """
    base = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape, contiguous_strides(shape),
                                           writeable=False)
    v = base[index]
    offset = v.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return tuple(v.shape), tuple(v.strides), offset


def _is_contiguous(shape, strides):
    expect = contiguous_strides(shape)
    return all(s == e for n, s, e in zip(shape, strides, expect) if n != 1)


def segments(dest):
    """Host CSR of a scatter: unique destinations, segment starts and the source order."""
    dest = np.asarray(dest, dtype=np.int64).ravel()
    order = np.argsort(dest, kind="stable")
    uniq, starts = np.unique(dest[order], return_index=True)
    return uniq, np.append(starts, dest.size), order


class LayoutKernels:
    def reshape(self, a, shape):
        if type(shape) is int:
            shape = (shape,)
        shape = tuple(int(s) for s in shape)
        a = self._dev(a)
        if -1 in shape:
            known = prod(s for s in shape if s != -1)
            shape = tuple(a.size // known if s == -1 and known else s for s in shape)
        if prod(shape) != a.size:
            raise ValueError(f"cannot reshape array of size {a.size} into shape {shape}")
        return self.view(a, shape)

    def transpose(self, a, axes):
        a = self._dev(a)
        axes = tuple(range(a.ndim - 1, -1, -1)) if axes is None else tuple(int(x) % max(a.ndim, 1) for x in axes)
        if axes == tuple(range(a.ndim)):
            return a
        src = contiguous_strides(a.shape)
        shape = tuple(a.shape[p] for p in axes)
        out = self._empty(shape, a.dtype)
        return self._gather_into(a, out, shape, [src[p] for p in axes], 0)

    # -- indexing ------------------------------------------------------------------------------
    def getitem(self, a, index):
        a = self._dev(a)
        if _is_basic(index):
            shape, strides, offset = basic_view(a.shape, index)
            if _is_contiguous(shape, strides):
                return self.view(a, shape, offset)
            out = self._empty(shape, a.dtype)
            return self._gather_into(a, out, shape, strides, offset)
        rows = self._row_index(index, a.shape)
        if rows is not None:
            cols = prod(a.shape[1:])
            return self._gather_rows(a, rows, cols, rows.shape + a.shape[1:])
        flat = np.arange(a.size, dtype=np.int64).reshape(a.shape)[index]
        return self._gather_rows(a, flat, 1, flat.shape)

    @staticmethod
    def _row_index(index, shape):
        """The integer array when `index` picks whole rows (x[ints] or x[ints, :, ...])."""
        items = index if isinstance(index, tuple) else (index,)
        first = items[0] if items else None
        if not isinstance(first, (list, np.ndarray)) or not shape:
            return None
        first = np.asarray(first)
        if first.dtype.kind not in "iu":
            return None
        if any(not (isinstance(it, slice) and it == slice(None)) for it in items[1:]):
            return None
        n = shape[0]
        if first.size and (first.min() < -n or first.max() >= n):
            bad = int(first.min()) if first.min() < -n else int(first.max())
            raise IndexError(f"index {bad} is out of bounds for axis 0 with size {n}")
        return np.where(first < 0, first + n, first)

    def _gather_rows(self, a, rows, cols, shape):
        out = self._empty(shape, a.dtype)
        idx = self._index_buffer(rows)
        n = rows.size * cols
        self._launch(GATHER, (), (a, idx, out), (n, cols, a.off, idx.off, out.off), n)
        return out

    def getitem_grad(self, g, shape, index, advanced):
        g = self._dev(g)
        shape = tuple(shape)
        out = self._zeros_result(shape, g.dtype)
        if not advanced and _is_basic(index):
            vshape, strides, offset = basic_view(shape, index)
            if vshape != g.shape:
                g = self.broadcast_to(g, vshape)
            dims, (st,) = coalesce(vshape, strides)
            n = prod(vshape)
            push = (n, g.off, out.off + offset, *pad6(dims, 1), *pad6(st))
            self._launch(STRIDED, (S_SCATTER, len(dims)), (g, out), push, n)
            return out
        dest = np.arange(prod(shape), dtype=np.int64).reshape(shape)[index]
        if dest.shape != g.shape:
            g = self.broadcast_to(g, dest.shape)
        return self._segment_sum(g, dest, 1, out)

    def getitem_grad_into(self, out, g, index, advanced):
        """out[index] += g in place (the tape's accumulation of slice gradients)."""
        if type(out) is not VkArray:
            return _HOST.getitem_grad_into(out, self.to_numpy(g), index, advanced)
        g = self._dev(g)
        if advanced or not _is_basic(index):
            self.add_into(out, self.getitem_grad(g, out.shape, index, advanced))
            return
        vshape, strides, offset = basic_view(out.shape, index)
        if vshape != g.shape:
            g = self.broadcast_to(g, vshape)
        if _is_contiguous(vshape, strides):
            self.add_into(self.view(out, vshape, offset), g)
            return
        # a strided slice: gather it, add, scatter it back (no cell repeats in a basic view)
        part = self._gather_into(out, self._empty(vshape, out.dtype), vshape, strides, offset)
        self.add_into(part, g)
        dims, (st,) = coalesce(vshape, strides)
        n = prod(vshape)
        push = (n, part.off, out.off + offset, *pad6(dims, 1), *pad6(st))
        self._launch(STRIDED, (S_SCATTER, len(dims)), (part, out), push, n)

    def _zeros_result(self, shape, dtype):
        out = self._empty(shape, dtype)
        self._fill(out, 0.0)
        return out

    def _segment_sum(self, src, dest, cols, out):
        """out[dest[r], :] += src[r, :] for every source row r (out holds zeros elsewhere)."""
        uniq, starts, order = segments(dest)
        if uniq.size == 0:
            return out
        meta = self._index_buffer(np.concatenate([uniq, starts, order]))
        u = uniq.size
        push = (u * cols, cols, src.off, meta.off, meta.off + u, meta.off + 2 * u + 1, out.off)
        self._launch(SEGSUM, (), (src, meta, out), push, u * cols)
        return out

    # -- concat, one_hot ---------------------------------------------------------------------------
    def concat(self, arrays, axis):
        arrays = [self._dev(a) for a in arrays]
        first = arrays[0]
        nd = first.ndim
        if nd == 0:
            raise ValueError("zero-dimensional arrays cannot be concatenated")
        ax = axis % nd
        for a in arrays[1:]:
            if a.ndim != nd or any(a.shape[d] != first.shape[d] for d in range(nd) if d != ax):
                raise ValueError(f"all the input array dimensions except for the concatenation axis must match "
                                 f"exactly, got {first.shape} and {a.shape}")
        dtype = np.result_type(*[a.dtype for a in arrays])
        shape = first.shape[:ax] + (sum(a.shape[ax] for a in arrays),) + first.shape[ax + 1:]
        out = self._empty(shape, dtype)
        ostrides = contiguous_strides(shape)
        pos = 0
        for a in arrays:
            if a.size:
                dims, (st,) = coalesce(a.shape, ostrides)
                push = (a.size, a.off, out.off + pos * ostrides[ax], *pad6(dims, 1), *pad6(st))
                self._launch(STRIDED, (S_SCATTER, len(dims)), (a, out), push, a.size)
            pos += a.shape[ax]
        return out

    def one_hot(self, labels, n, dtype):
        dtype = np.dtype(dtype)
        labels = np.asarray(self.to_numpy(labels))
        if dtype.kind != "f" or dtype.itemsize > 4:
            from ...numpy_backend import NumpyBackend
            return NumpyBackend().one_hot(labels, n, dtype)
        out = self._empty(labels.shape + (int(n),), dtype)
        lab = self._index_buffer(labels)
        total = labels.size * int(n)
        self._launch(ONE_HOT, (), (lab, out), (total, int(n), lab.off, out.off), total)
        return out
