"""Symbolic tensors and graph nodes: Input, InputLayer, KerasTensor, Node."""
from __future__ import annotations

import itertools

import numpy as np

from .base import Layer, check_shape_arg, flatten, format_shape, register

_node_ids = itertools.count()
_DTYPES = ("float32", "float64", "int32", "int64")


class KerasTensor:
    """A placeholder in a functional graph: shape (batch axis None), dtype, and the node that made it."""

    __slots__ = ("shape", "dtype", "node", "index", "name", "_keras_mask")

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name
        self._keras_mask = None     # a symbolic mask (a KerasTensor of dtype bool), as Keras

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        src = f", from {self.node.layer.name!r}" if self.node is not None else ""
        return f"<KerasTensor shape={format_shape(self.shape)} dtype={self.dtype}{src}>"


class Node:
    """One call of a layer on KerasTensors. `id` orders nodes by creation, a valid topological order."""

    __slots__ = ("layer", "inputs", "outputs", "id", "as_list", "args", "kwargs", "n_main")

    def __init__(self, layer, inputs, as_list, args=(), kwargs=None, n_main=None):
        self.layer = layer
        self.inputs = inputs          # list of KerasTensors: the call's first argument, then `extra` ones
        self.as_list = as_list        # the layer was called with a list
        self.args = tuple(args)       # further arguments of the call; a KerasTensor among them is an
        self.kwargs = dict(kwargs or {})  # InputRef(k) to inputs[k] (k >= n_main)
        self.n_main = len(inputs) if n_main is None else n_main   # how many inputs the first argument holds
        self.outputs = []
        self.id = next(_node_ids)

    @property
    def index(self):
        return self.layer._inbound_nodes.index(self)


class InputRef:
    """In a node's args/kwargs: the place of a KerasTensor passed beyond the first argument (as
    `mha(query, value)`), standing for `node.inputs[index]`."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"InputRef({self.index})"


def map_structure(fn, struct):
    """`fn` applied to every leaf of nested lists, tuples and dicts (the structure kept)."""
    if isinstance(struct, (list, tuple)):
        return type(struct)(map_structure(fn, v) for v in struct)
    if isinstance(struct, dict):
        return {k: map_structure(fn, v) for k, v in struct.items()}
    return fn(struct)


def has_symbolic(struct):
    """Whether a KerasTensor is among the leaves of `struct` (nested lists, tuples, dicts)."""
    found = []
    map_structure(lambda v: found.append(v) if isinstance(v, KerasTensor) else None, struct)
    return bool(found)


def bind_inputs(args, kwargs, values):
    """A node's args/kwargs with every InputRef(k) replaced by values[k]."""
    def fill(v):
        return values[v.index] if isinstance(v, InputRef) else v
    return map_structure(fill, tuple(args)), map_structure(fill, dict(kwargs or {}))


def make_node(layer, inputs, args=(), kwargs=None):
    """Record a call of `layer` on KerasTensors: build, check shapes, return output KerasTensor(s).
    KerasTensors among `args`/`kwargs` (as Keras' `mha(query, value, key=k)`) become inputs of
    the node too, after those of `inputs`."""
    as_list = isinstance(inputs, (list, tuple))
    flat = flatten(inputs)
    extra = []

    def ref(v):
        if not isinstance(v, KerasTensor):
            return v
        extra.append(v)
        return InputRef(len(flat) + len(extra) - 1)
    node_args, node_kwargs = map_structure(ref, tuple(args)), map_structure(ref, dict(kwargs or {}))
    shapes = [t.shape for t in flat] if as_list else flat[0].shape
    dtypes = [t.dtype for t in flat] if as_list else flat[0].dtype
    layer.ensure_built(shapes)
    if args or kwargs or type(layer).compute_output_shape is Layer.compute_output_shape:
        out_shape = layer._infer_output_shape(shapes, dtypes, args, kwargs)   # Keras' compute_output_spec
    else:
        out_shape = layer.compute_output_shape(shapes)
    out_dtype = layer.compute_output_dtype(dtypes)
    node = Node(layer, flat + extra, as_list, node_args, node_kwargs, len(flat))
    multi = isinstance(out_shape, list)
    shapes_out = out_shape if multi else [out_shape]
    dtypes_out = out_dtype if isinstance(out_dtype, list) else [out_dtype] * len(shapes_out)
    node.outputs = [KerasTensor(s, d, node, i) for i, (s, d) in enumerate(zip(shapes_out, dtypes_out))]
    for out, mask in zip(node.outputs, _output_masks(layer, inputs, args, kwargs, len(node.outputs))):
        out._keras_mask = mask
    layer._inbound_nodes.append(node)
    return node.outputs if multi else node.outputs[0]


def _output_masks(layer, inputs, args, kwargs, n_out):
    """The symbolic masks of a node's outputs (KerasTensors of dtype bool, or None), as Keras'
    `compute_mask` on KerasTensors: found by running the layer, masks included, on zeros (the
    input masks all True), with two sizes for unknown axes (the axes that differ become None)."""
    from .base import get_keras_mask, set_keras_mask, warn_mask_dropped
    leaves = []
    map_structure(lambda v: leaves.append(v) if isinstance(v, KerasTensor) else None, (inputs, args, kwargs))
    in_masks = [t._keras_mask for t in leaves]
    masked = any(m is not None for m in in_masks)
    if not masked and not layer._may_produce_mask():
        return [None] * n_out
    if masked and not layer.supports_masking and not getattr(layer, "_masks_inside", False) \
            and not getattr(layer, "_op_node", False):
        warn_mask_dropped(layer)
    from engine.autograd import no_grad
    from engine.tensor import as_tensor
    from ..ops._base import from_host
    shapes = [t.shape for t in leaves] + [m.shape for m in in_masks if m is not None]
    unknown = any(d is None for shp in shapes for d in shp[1:])
    runs = []
    for size in ((2, 3) if unknown else (2,)):
        def dims(shape):
            return tuple(2 if i == 0 else (size if d is None else d) for i, d in enumerate(shape))

        def dummy(v):
            if not isinstance(v, KerasTensor):
                return v
            if str(v.dtype) == "bool":      # a mask passed as an argument: all True
                return from_host(np.ones(dims(v.shape), bool))
            dt = v.dtype if str(v.dtype).startswith(("int", "float")) else "float32"
            t = as_tensor(np.zeros(dims(v.shape), np.dtype(dt)))
            if v._keras_mask is not None:
                set_keras_mask(t, from_host(np.ones(dims(v._keras_mask.shape), bool)))
            return t
        xs, a, kw = map_structure(dummy, (inputs, tuple(args), dict(kwargs or {})))
        with no_grad(), np.errstate(all="ignore"):
            out = layer._invoke_masked(xs, False, a, kw, warn=False)
        if isinstance(out, dict):
            out = layer._unpack_outputs(out)
        outs = flatten(out)
        runs.append([get_keras_mask(o) for o in outs])
    layer._clear_losses()      # add_loss values of the dummy run
    result = []
    for k in range(n_out):
        ms = [r[k] if k < len(r) else None for r in runs]
        if ms[0] is None:
            result.append(None)
            continue
        shp = [tuple(np.shape(m)) for m in ms]
        shape = (None,) + tuple(None if any(s[i] != d for s in shp) else int(d)
                                for i, d in enumerate(shp[0]) if i > 0)
        result.append(KerasTensor(shape, "bool"))
    return result


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
