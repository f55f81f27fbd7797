"""ops called on KerasTensors (the functional API: `y = ops.relu(dense(x))`): the call
becomes a graph node of an `OpLayer` that runs the op on real tensors later, as Keras 3
records an Operation."""
from __future__ import annotations

import functools

import numpy as np

from ..layers.base import Layer, register, unique_name
from ..layers.input import KerasTensor

_SLOT = "__keras_tensor__"
_NOT_SYMBOLIC = frozenset({"shape", "ndim", "dtype", "is_tensor", "size"})


def _symbolic_in(v):
    if isinstance(v, KerasTensor):
        return True
    return isinstance(v, (list, tuple)) and any(isinstance(e, KerasTensor) for e in v)


def _template(v, found):
    """v with every KerasTensor replaced by a numbered slot (and arrays made JSON data)."""
    if isinstance(v, KerasTensor):
        found.append(v)
        return {_SLOT: len(found) - 1}
    if isinstance(v, (list, tuple)):
        return [_template(e, found) for e in v] if isinstance(v, list) else \
            {"__tuple__": [_template(e, found) for e in v]}
    if isinstance(v, dict):
        return {k: _template(e, found) for k, e in v.items()}
    if isinstance(v, np.ndarray):
        return {"__array__": v.tolist(), "dtype": v.dtype.name}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _fill(v, tensors):
    if isinstance(v, dict):
        if _SLOT in v:
            return tensors[v[_SLOT]]
        if "__tuple__" in v:
            return tuple(_fill(e, tensors) for e in v["__tuple__"])
        if "__array__" in v:
            return np.asarray(v["__array__"], dtype=v["dtype"])
        return {k: _fill(e, tensors) for k, e in v.items()}
    if isinstance(v, list):
        return [_fill(e, tensors) for e in v]
    return v


def _resolve(path):
    from dptrain import ops
    fn = ops
    for part in path.split("."):
        fn = getattr(fn, part)
    return getattr(fn, "__wrapped__", fn)


@register
class OpLayer(Layer):
    """One `keras.ops` call inside a functional graph: `op` (e.g. "relu", "nn.softmax") applied
    to the layer's inputs, placed in `args` / `kwargs` where the KerasTensors were."""
    _op_node = True     # a Keras operation, not a layer: masks neither pass through it nor warn

    def __init__(self, op, args=(), kwargs=None, **layer_kwargs):
        super().__init__(**layer_kwargs)
        self.op = str(op)
        self.args = list(args)
        self.kwargs = dict(kwargs or {})
        self._fn = _resolve(self.op)
        self._dtypes = None

    def call(self, inputs):
        tensors = inputs if isinstance(inputs, list) else [inputs]
        out = self._fn(*_fill(self.args, tensors), **_fill(self.kwargs, tensors))
        outs = out if isinstance(out, (list, tuple)) else [out]
        self._dtypes = [np.dtype(getattr(o, "dtype", "float32")).name for o in outs]
        return list(out) if isinstance(out, tuple) else out

    def compute_output_dtype(self, input_dtype):
        if not self._dtypes:
            return "float32"
        return self._dtypes if len(self._dtypes) > 1 else self._dtypes[0]

    def get_config(self):
        return {**super().get_config(), "op": self.op, "args": self.args, "kwargs": self.kwargs}


def symbolic_aware(fn, path):
    """fn, recording an OpLayer node when an argument is a KerasTensor."""
    if path.split(".")[-1] in _NOT_SYMBOLIC:
        return fn

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if any(_symbolic_in(a) for a in args) or any(_symbolic_in(v) for v in kwargs.values()):
            found = []
            a, kw = _template(list(args), found), _template(dict(kwargs), found)
            layer = OpLayer(path, a, kw, name=unique_name(path.split(".")[-1]))
            return layer(found if len(found) > 1 else found[0])
        return fn(*args, **kwargs)
    return op
