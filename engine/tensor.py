"""Tensor: backend storage plus what autograd needs (requires_grad, grad, name, node)."""
from __future__ import annotations

import itertools

import numpy as np

from . import backend as _backend
from .autograd import run_backward

_param_ids = itertools.count()


class Tensor:
    """An n-dimensional array on the current device, recorded for autograd when `requires_grad`.

    Create them with `ag.tensor(data)` (no gradient) or `ag.param(data)` (a trainable
    leaf). Operators (`+ - * / @ ** []`, comparisons) and `ag` functions build new tensors;
    inside `ag.grad_tape()` they are recorded and `ag.backward(loss)` fills `.grad`.
    `numpy()` copies the values to the host; `float(t)`, `int(t)`, `bool(t)` work on one
    element; `shape`, `dtype`, `size`, `T`, `reshape`, `detach` and `item` are as in numpy / torch.
    """
    __slots__ = ("data", "requires_grad", "grad", "name", "_node", "__weakref__")
    # Make numpy defer to our reflected operators: ndarray + Tensor -> Tensor.__radd__.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False, name=None):
        self.data = data
        self.requires_grad = requires_grad
        self.grad = None
        self.name = name
        self._node = None

    @classmethod
    def _from_node(cls, data, node):
        if data.__class__ is not np.ndarray and isinstance(data, np.generic):
            data = np.asarray(data)
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.name = None
        t._node = node
        t.requires_grad = node is not None
        return t

    # --- basic properties -------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return len(self.data.shape)

    @property
    def size(self):
        return int(np.prod(self.data.shape, dtype=np.int64))

    def __len__(self):
        return self.data.shape[0]

    def numpy(self) -> np.ndarray:
        return np.asarray(_backend.current.to_numpy(self.data))

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self) -> float:
        a = self.numpy()
        if a.size != 1:
            raise ValueError(f"item(): tensor has {a.size} elements, not 1")
        return a.reshape(()).item()

    def _scalar(self, what):
        a = self.numpy()
        if a.size != 1:
            raise TypeError(f"{what}() of a tensor needs exactly one element; this one has shape {tuple(a.shape)}")
        return a.reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __bool__(self) -> bool:
        return bool(self._scalar("bool"))

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    @property
    def value(self) -> "Tensor":
        """The tensor itself (Keras' `Variable.value`), so that `[v.value.grad for v in
        model.trainable_weights]` of Keras' torch-backend train_step reads the gradients."""
        return self

    def _assign_src(self, value):
        K = _backend.current
        src = value.data if isinstance(value, Tensor) else K.asarray(np.asarray(value, dtype=self.data.dtype))
        if src.dtype != self.data.dtype:
            src = K.astype(src, self.data.dtype)
        if tuple(src.shape) != self.shape:
            try:
                fits = np.broadcast_shapes(tuple(src.shape), self.shape) == self.shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"assign: a value of shape {tuple(src.shape)} does not fit a tensor of shape "
                                 f"{self.shape}")
            src = K.broadcast_to(src, self.shape)
        return K, src

    def assign(self, value) -> "Tensor":
        """Keras' `Variable.assign`: overwrite the values in place (never recorded for autograd;
        views of this tensor, such as an optimiser's flat buffer, see the new values)."""
        K, src = self._assign_src(value)
        K.copy_into(self.data, src)
        return self

    def assign_add(self, delta) -> "Tensor":
        """Keras' `Variable.assign_add`: add `delta` in place."""
        K, src = self._assign_src(delta)
        K.add_into(self.data, src)
        return self

    def assign_sub(self, delta) -> "Tensor":
        """Keras' `Variable.assign_sub`: subtract `delta` in place."""
        K, src = self._assign_src(delta)
        K.add_into(self.data, K.scale(src, -1.0))
        return self

    def astype(self, dtype) -> "Tensor":
        from .ops import cast
        return cast(self, dtype)

    def backward(self, grad=None):
        """Add this tensor's gradient to `.grad` of every param it depends on (PyTorch semantics)."""
        run_backward(self, grad, accumulate=True)

    def zero_grad(self):
        self.grad = None

    def __repr__(self):
        head = f"name={self.name!r}, " if self.name else ""
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({head}shape={self.shape}, dtype={self.dtype}{flag})\n{self.numpy()!r}"

    # --- operators (defined in engine.ops, bound below) ----------------------
    def __add__(self, o): return _ops.add(self, o)
    def __radd__(self, o): return _ops.add(o, self)
    def __sub__(self, o): return _ops.sub(self, o)
    def __rsub__(self, o): return _ops.sub(o, self)
    def __mul__(self, o): return _ops.mul(self, o)
    def __rmul__(self, o): return _ops.mul(o, self)
    def __truediv__(self, o): return _ops.div(self, o)
    def __rtruediv__(self, o): return _ops.div(o, self)
    def __matmul__(self, o): return _ops.matmul(self, o)
    def __rmatmul__(self, o): return _ops.matmul(o, self)
    def __pow__(self, o): return _ops.pow(self, o)
    def __rpow__(self, o): return _ops.pow(o, self)
    def __neg__(self): return _ops.neg(self)
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    # comparisons give boolean masks, computed on the host, without gradient (as torch's do).
    # == stays identity: tensors live in lists and dicts, whose lookups use it.
    def _compare(self, o, fn):
        other = o.numpy() if isinstance(o, Tensor) else np.asarray(o)
        return Tensor(np.asarray(fn(self.numpy(), other)))

    def __lt__(self, o): return self._compare(o, np.less)
    def __le__(self, o): return self._compare(o, np.less_equal)
    def __gt__(self, o): return self._compare(o, np.greater)
    def __ge__(self, o): return self._compare(o, np.greater_equal)

    @property
    def T(self): return _ops.transpose(self)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, axes=None): return _ops.transpose(self, axes)
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)
    def relu(self): return _ops.relu(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def tanh(self): return _ops.tanh(self)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def softmax(self, axis=-1): return _ops.softmax(self, axis)
    def log_softmax(self, axis=-1): return _ops.log_softmax(self, axis)


def _check_dtype(dtype):
    if dtype is None:
        return None
    return np.dtype(dtype)


def _host_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.numpy()
    a = np.asarray(data)
    if dtype is not None:
        return a.astype(dtype, copy=False)
    if a.dtype == np.float64 and not isinstance(data, np.ndarray):
        return a.astype(np.float32)  # Python lists and scalars give float32
    if a.dtype.kind == "b":
        return a.astype(np.float32)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"tensor: cannot make a tensor of dtype {a.dtype}")
    return a


def tensor(data, dtype=None) -> Tensor:
    """A tensor without gradient (data, targets, constants). Copies the input."""
    a = _host_array(data, _check_dtype(dtype))
    K = _backend.current
    return Tensor(K.copy(K.asarray(a)) if K is _backend.numpy_backend else K.asarray(a))


def param(data, name=None, dtype=None) -> Tensor:
    """A trainable tensor; gradients are keyed by `name` (unique automatic name when None)."""
    a = _host_array(data, _check_dtype(dtype))
    if a.dtype.kind != "f":
        raise TypeError(f"param: dtype {a.dtype} is not floating point; a trainable tensor must be float")
    if name is None:
        name = f"param_{next(_param_ids)}"
    K = _backend.current
    return Tensor(K.copy(K.asarray(a)), requires_grad=True, name=str(name))


def as_tensor(x, like=None) -> Tensor:
    """Wrap a constant (numpy array, Python number) for use as an op input."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        dt = like.data.dtype if like is not None and like.data.dtype.kind == "f" else np.float32
        return Tensor(_backend.current.asarray(np.asarray(x, dt)))
    a = np.asarray(x)
    if a.dtype == np.float64 and like is not None and like.data.dtype.kind == "f":
        a = a.astype(like.data.dtype)
    elif a.dtype.kind == "b":
        a = a.astype(np.float32)
    return Tensor(_backend.current.asarray(a))


from . import autograd as _autograd  # noqa: E402
_autograd._Tensor, _autograd._as_tensor, _autograd._from_node = Tensor, as_tensor, Tensor._from_node
from . import ops as _ops  # noqa: E402  (ops import Tensor from here)
