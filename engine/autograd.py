"""The tape: recording switches, the Function base class, and backward.

A Function instance is one node of the graph: `forward` computes the output
from backend arrays and keeps what `backward` needs on the instance. Nodes are
only created while a `grad_tape()` is open (and no `no_grad()` is), so outside a
tape nothing is recorded and nothing is retained.
"""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from heapq import heappop, heappush

import numpy as np

from . import backend as _backend


class _TapeState(threading.local):
    def __init__(self):
        self.depth = 0        # open grad_tape() blocks
        self.paused = 0       # open no_grad() blocks


_state = _TapeState()
_sequence = itertools.count()
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
# Bound by engine.tensor once Tensor exists (tensor.py imports this module).
_Tensor = _as_tensor = _from_node = None


def is_recording() -> bool:
    """True inside `grad_tape()` (and not inside `no_grad()`): ops are being recorded for backward."""
    return _state.depth > 0 and _state.paused == 0


@contextmanager
def grad_tape():
    """Record operations on tensors so that `backward` can differentiate them."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1


@contextmanager
def no_grad():
    """Stop recording, also inside a grad_tape()."""
    _state.paused += 1
    try:
        yield
    finally:
        _state.paused -= 1


class Function:
    """One primitive op: `forward(*arrays)` and `backward(grad)` side by side.

    Subclasses list which inputs may be integer arrays in `int_inputs`
    (e.g. embedding indices); every other input must be floating point.
    """
    int_inputs = ()
    inputs = ()

    @classmethod
    def apply(cls, *inputs, **attrs):
        ts = inputs if all(type(x) is _Tensor for x in inputs) else tuple(
            x if type(x) is _Tensor else _as_tensor(x) for x in inputs)
        node = cls.__new__(cls)
        if attrs:
            node.__dict__.update(attrs)
        arrays = [t.data for t in ts]
        for i, a in enumerate(arrays):
            dt = a.dtype
            if dt is not _F32 and dt is not _F64 and dt.kind != "f" and i not in cls.int_inputs:
                raise TypeError(f"{cls.__name__.lower()}: input {i} has integer dtype {dt}; "
                                f"a differentiable input must be floating point (cast it with .astype)")
        node.K = K = _backend.current
        try:
            out = node.forward(K, *arrays)
        except ValueError as e:
            op = cls.__name__.lower()
            if str(e).startswith(op):
                raise
            shapes = " and ".join(str(tuple(t.shape)) for t in ts)
            raise ValueError(f"{op}: {e} (input shapes {shapes})") from None
        if _state.depth and not _state.paused:
            for t in ts:
                if t.requires_grad:
                    node.inputs = ts
                    node.seq = next(_sequence)
                    return _from_node(out, node)
        return _from_node(out, None)

    def forward(self, K, *arrays):
        raise NotImplementedError

    def backward(self, g):
        """Return one gradient (or None) per input."""
        raise NotImplementedError


class SliceGrad:
    """A backward result that is zero outside `index` of its input (the gradient of a slice).

    The tape adds `grad` into the input's gradient in place, so many slices of one tensor
    (x[:, t] for every step t of a recurrence) cost one full-size buffer, not one per slice.
    """
    __slots__ = ("grad", "index", "advanced")

    def __init__(self, grad, index, advanced=False):
        self.grad, self.index, self.advanced = grad, index, advanced


def run_backward(loss, grad=None, accumulate=False):
    """Differentiate `loss`; set (or with accumulate, add to) `.grad` of every param reached.

    Nodes are numbered as they are recorded, so a node always comes after its
    inputs' nodes. Visiting the reachable nodes in decreasing number (a heap,
    no recursion) therefore finishes every tensor's gradient before it is
    propagated further. Returns the params reached.

    Contributions to one tensor's gradient are summed into a buffer the tape
    allocated itself ("owned": never an array a backward returned, which may
    alias another gradient), in place; a SliceGrad is added into its slice.
    """
    if not isinstance(loss, _Tensor):
        raise TypeError(f"backward: expected a Tensor, got {type(loss).__name__}")
    if loss._node is None and not loss.requires_grad:
        raise RuntimeError("backward: the loss has no recorded graph; compute it inside "
                           "`with ag.grad_tape():` from at least one ag.param")
    K = _backend.current
    if grad is None:
        if loss.size != 1:
            raise ValueError(f"backward: loss has shape {loss.shape}; pass grad= for a non-scalar output")
        grad = K.full(loss.shape, 1.0, loss.dtype)
    else:
        grad = K.asarray(grad.data if isinstance(grad, _Tensor) else grad, loss.dtype)
        if tuple(grad.shape) != loss.shape:
            raise ValueError(f"backward: grad shape {tuple(grad.shape)} does not match output shape {loss.shape}")

    grads = {id(loss): grad}
    leaves = {}
    heap = []
    if loss._node is None:
        leaves[id(loss)] = loss
    else:
        heap.append((-loss._node.seq, id(loss), loss))
    queued = set()
    owned = set()
    while heap:
        _, key, t = heappop(heap)
        node = t._node
        gins = node.backward(grads.pop(key))
        for inp, gi in zip(node.inputs, gins):
            if gi is None or not inp.requires_grad:
                continue
            k = id(inp)
            prev = grads.get(k)
            dt = inp.data.dtype
            if type(gi) is SliceGrad:
                part = gi.grad if gi.grad.dtype == dt else K.astype(gi.grad, dt)
                if k in owned:
                    K.getitem_grad_into(prev, part, gi.index, gi.advanced)
                else:
                    acc = K.getitem_grad(part, inp.shape, gi.index, gi.advanced)
                    if prev is not None:
                        K.add_into(acc, prev)
                    grads[k] = acc
                    owned.add(k)
            else:
                if gi.dtype != dt:
                    gi = K.astype(gi, dt)
                if prev is None:
                    grads[k] = gi
                elif k in owned:
                    K.add_into(prev, gi)
                else:
                    grads[k] = K.add(prev, gi)
                    owned.add(k)
            if inp._node is None:
                leaves[k] = inp
            elif k not in queued:
                queued.add(k)
                heappush(heap, (-inp._node.seq, k, inp))
    params = []
    for key, p in leaves.items():
        g = grads[key]
        if p.grad is None or tuple(p.grad.shape) != p.shape:
            p.grad = g if key in owned else K.copy(g)
        elif accumulate:
            K.add_into(p.grad, g)
        else:
            K.copy_into(p.grad, g)
        params.append(p)
    return params


def backward(loss, grad=None):
    """Gradients of `loss` as {param name: array}; also sets each param's `.grad`.

    Unlike `Tensor.backward()` (which adds to `.grad` as PyTorch does), this
    replaces `.grad`, so a loop of `grads = backward(loss); opt.step(grads)`
    needs no zero_grad().
    """
    out = {}
    for p in run_backward(loss, grad, accumulate=False):
        if p.name in out:
            raise ValueError(f"backward: two different params are both named {p.name!r}; give them unique names")
        out[p.name] = p.grad
    return out


def numpy_grads(grads):
    return {k: np.asarray(_backend.current.to_numpy(v)) for k, v in grads.items()}
