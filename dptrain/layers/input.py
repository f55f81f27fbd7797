"""Symbolic tensors and graph nodes: Input, InputLayer, KerasTensor, Node."""
from __future__ import annotations

import itertools

import numpy as np

from .base import Layer, check_shape_arg, flatten, format_shape, register

_node_ids = itertools.count()
_DTYPES = ("float32", "float64", "int32", "int64")


class KerasTensor:
    """A placeholder in a functional graph: shape (batch axis None), dtype, and the node that made it."""

    __slots__ = ("shape", "dtype", "node", "index", "name")

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        src = f", from {self.node.layer.name!r}" if self.node is not None else ""
        return f"<KerasTensor shape={format_shape(self.shape)} dtype={self.dtype}{src}>"


class Node:
    """One call of a layer on KerasTensors. `id` orders nodes by creation, a valid topological order."""

    __slots__ = ("layer", "inputs", "outputs", "id", "as_list", "args", "kwargs")

    def __init__(self, layer, inputs, as_list, args=(), kwargs=None):
        self.layer = layer
        self.inputs = inputs          # list of KerasTensors
        self.as_list = as_list        # the layer was called with a list
        self.args = tuple(args)       # further (non-tensor) arguments of the call
        self.kwargs = dict(kwargs or {})
        self.outputs = []
        self.id = next(_node_ids)

    @property
    def index(self):
        return self.layer._inbound_nodes.index(self)


def make_node(layer, inputs, args=(), kwargs=None):
    """Record a call of `layer` on KerasTensors: build, check shapes, return output KerasTensor(s)."""
    as_list = isinstance(inputs, (list, tuple))
    flat = flatten(inputs)
    shapes = [t.shape for t in flat] if as_list else flat[0].shape
    dtypes = [t.dtype for t in flat] if as_list else flat[0].dtype
    layer.ensure_built(shapes)
    if args or kwargs or type(layer).compute_output_shape is Layer.compute_output_shape:
        out_shape = layer._infer_output_shape(shapes, dtypes, args, kwargs)   # Keras' compute_output_spec
    else:
        out_shape = layer.compute_output_shape(shapes)
    out_dtype = layer.compute_output_dtype(dtypes)
    node = Node(layer, flat, as_list, args, kwargs)
    multi = isinstance(out_shape, list)
    shapes_out = out_shape if multi else [out_shape]
    dtypes_out = out_dtype if isinstance(out_dtype, list) else [out_dtype] * len(shapes_out)
    node.outputs = [KerasTensor(s, d, node, i) for i, (s, d) in enumerate(zip(shapes_out, dtypes_out))]
    layer._inbound_nodes.append(node)
    return node.outputs if multi else node.outputs[0]


@register
class InputLayer(Layer):
    """The layer behind `dt.Input(shape)`: the entry point of a functional graph (identity on data)."""

    def __init__(self, shape=None, dtype="float32", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if shape is None:
            raise ValueError(f"{self._who()}: shape is required (without the batch axis), e.g. shape=(784,)")
        self.shape = check_shape_arg(shape, self._who(), "shape")
        dtype = np.dtype(dtype).name if dtype is not None else "float32"
        if dtype not in _DTYPES:
            raise ValueError(f"{self._who()}: dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.built = True
        node = Node(self, [], False)
        node.outputs = [KerasTensor((None,) + self.shape, dtype, node, 0, self.name)]
        self._inbound_nodes.append(node)

    def compute_output_shape(self, input_shape):
        return (None,) + self.shape

    def call(self, inputs, training=False):
        return inputs

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic model input, as `keras.Input`.

    Args:
        shape: the shape of one sample, without the batch axis, e.g. `(784,)` or `(None, 16)`.
        batch_shape: the shape with the batch axis first, e.g. `(None, 784)` (instead of shape).
        batch_size: accepted; dptrain's graphs take any batch size.
        dtype: "float32" (default) or an integer dtype ("int32") for token ids.
        name: the input's name (inputs fed as a dict are matched by it).

    Returns:
        A KerasTensor to call layers on and to pass to `Model(inputs, outputs)`.
    """
    for arg, value in (("sparse", sparse), ("tensor", tensor), ("optional", optional or None)):
        if value:
            raise NotImplementedError(f"Input: {arg}= is not supported by dptrain")
    if batch_shape is not None:
        if shape is not None:
            raise ValueError("Input: give shape= or batch_shape=, not both")
        batch_shape = tuple(batch_shape)
        if not batch_shape:
            raise ValueError("Input: batch_shape must include the batch axis, e.g. (None, 784)")
        shape = batch_shape[1:]
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"Input: batch_size must be a positive integer, got {batch_size!r}")
    return InputLayer(shape=shape, dtype=dtype or "float32", name=name)._inbound_nodes[0].outputs[0]


def _operator(name, reflected=False):
    """KerasTensor arithmetic as in Keras: `a * b`, `x + 1`, `-x` record the matching dt.ops op."""
    def method(self, *other):
        from .. import ops
        fn = getattr(ops, name)
        if not other:
            return fn(self)
        return fn(other[0], self) if reflected else fn(self, other[0])
    method.__name__ = f"__{name}__"
    return method


for _dunder, _op_name in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                          ("floordiv", "floor_divide"), ("mod", "mod"), ("pow", "power"), ("matmul", "matmul"),
                          ("gt", "greater"), ("ge", "greater_equal"), ("lt", "less"), ("le", "less_equal")):
    setattr(KerasTensor, f"__{_dunder}__", _operator(_op_name))
    if _dunder not in ("gt", "ge", "lt", "le"):
        setattr(KerasTensor, f"__r{_dunder}__", _operator(_op_name, reflected=True))
KerasTensor.__neg__ = _operator("negative")
KerasTensor.__abs__ = _operator("abs")


def _getitem(self, index):
    from .getitem import GetItem
    return GetItem(index)(self)


KerasTensor.__getitem__ = _getitem
