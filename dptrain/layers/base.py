"""Layer: build / call / compute_output_shape, lazily created weights, configs.

A layer is called either on KerasTensors (symbolic: it builds its weights from
the input shape, checks the shape and records a graph node, no data runs) or on
arrays/Tensors (eager: it runs `call`). Shapes always include the batch axis,
as None in symbolic shapes.
"""
from __future__ import annotations

import collections
import functools
import itertools
import re
import warnings
import weakref

import numpy as np

from engine import backend as _backend
from engine.tensor import Tensor, as_tensor, param as _param
from ..suggest import did_you_mean

_name_counters = collections.defaultdict(itertools.count)
_call_depth = [0]      # nesting of eager Layer.__call__s (single-threaded, as the tape is)
_training_context = []  # `training` of the calls running now: a sublayer called without it inherits it (Keras)
_REGISTRY = {}


def register(cls):
    """Make a layer class loadable by `load_model` (configs name classes; nothing else is executed)."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"register: another class is already registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


def lookup(class_name, custom_objects=None):
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    cls = _REGISTRY.get(class_name)
    if cls is None:
        raise ValueError(f"unknown layer class {class_name!r} in the model config; known classes: "
                         f"{', '.join(sorted(_REGISTRY))} (register your own with dptrain.layers.register "
                         f"or pass custom_objects=)")
    return cls


def _snake(name):
    s = re.sub(r"(?<=[a-z])([A-Z])", r"_\1", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()


def unique_name(prefix):
    n = next(_name_counters[prefix])
    return prefix if n == 0 else f"{prefix}_{n}"


def check_shape_arg(shape, who, what="input_shape"):
    """A shape tuple of positive ints or None (batch excluded)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who}: {what} must be a tuple of ints, got {shape!r}") from None
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0:
            out.append(int(s))
        else:
            raise ValueError(f"{who}: {what} must hold positive ints (or None), got {shape!r}")
    return tuple(out)


def positive_int(v, name, who):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {v!r}")
    return int(v)


def int_tuple(v, n, name, who):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (int(v),) * n
    try:
        v = tuple(int(i) for i in v)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(v) != n or any(i <= 0 for i in v):
        raise ValueError(f"{who}: {name} must be a positive int or a tuple of {n} positive ints, got {v!r}")
    return v


def _init_keywords(cls):
    """Every keyword the constructors of `cls` and its bases accept."""
    import inspect
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            try:
                names.update(p for p in inspect.signature(init).parameters if p not in ("self", "kwargs"))
            except (TypeError, ValueError):
                pass
    return sorted(names)


def _resolve_initializer(initializer, dtype, who):
    """An initializer name, object or callable -> a callable (shape, dtype) -> numpy array."""
    if initializer is None:
        initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
    if isinstance(initializer, (str, dict)) or hasattr(initializer, "get_config"):
        from .. import initializers
        if hasattr(initializers, "get"):
            return initializers.get(initializer)
        from engine.modules import init
        simple = {"zeros": init.zeros, "ones": init.ones, "glorot_uniform": init.glorot_uniform,
                  "glorot_normal": init.glorot_normal, "he_uniform": init.he_uniform, "he_normal": init.he_normal,
                  "orthogonal": init.orthogonal}
        key = initializer.lower() if isinstance(initializer, str) else None
        if key not in simple:
            raise ValueError(f"{who}: unknown initializer {initializer!r}")
        return simple[key]
    if not callable(initializer):
        raise TypeError(f"{who}: initializer must be a name, an initializer object or a callable, got {initializer!r}")
    return initializer


def _trackables(value, depth=0):
    """Layers and trainable Tensors in an attribute value (also inside lists, tuples and dicts)."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, Tensor):
        return [value] if value.requires_grad else []
    if depth < 3 and isinstance(value, (list, tuple)):
        return [t for v in value for t in _trackables(v, depth + 1)]
    if depth < 3 and isinstance(value, dict):
        return [t for v in value.values() for t in _trackables(v, depth + 1)]
    return []


def flatten(struct):
    return list(struct) if isinstance(struct, (list, tuple)) else [struct]


# --- Keras masks: a boolean tensor attached to a tensor (Keras' backend.get/set_keras_mask) --------
# Tensor has __slots__, so (as Keras does for tensors that take no attributes) the masks live in a
# table keyed weakly by the tensor: a mask goes with its tensor. `tensor._keras_mask` reads/writes it.
_MASKS = weakref.WeakKeyDictionary()


def get_keras_mask(x):
    """The mask attached to `x` (a Tensor, or a KerasTensor's symbolic mask), or None."""
    if isinstance(x, Tensor):
        return _MASKS.get(x)
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask):
    """Attach `mask` to `x` (None removes it), as Keras' `backend.set_keras_mask`."""
    if isinstance(x, Tensor):
        if mask is None:
            _MASKS.pop(x, None)
        else:
            _MASKS[x] = mask
        return
    try:
        x._keras_mask = mask
    except AttributeError:
        pass


Tensor._keras_mask = property(get_keras_mask, set_keras_mask)


def _masks_of(struct):
    """The masks of a call's first argument, in its structure (a list of masks for a list)."""
    if isinstance(struct, (list, tuple)):
        return [get_keras_mask(x) for x in struct]
    return get_keras_mask(struct)


def _any_mask(masks):
    return any(m is not None for m in flatten(masks))


def _is_tensor_arg(v):
    """A call argument Keras counts as a tensor argument: a tensor, or a non-empty list/tuple of them."""
    if isinstance(v, (list, tuple)):
        return bool(v) and all(isinstance(t, (Tensor, np.ndarray)) or t is None for t in v) and \
            any(t is not None for t in v)
    return isinstance(v, (Tensor, np.ndarray))


def warn_mask_dropped(layer):
    warnings.warn(f"Layer '{layer.name}' (of type {type(layer).__name__}) was passed an input with a mask "
                  f"attached to it. However, this layer does not support masking and will therefore destroy "
                  f"the mask information. Downstream layers will not see the mask.", stacklevel=3)


def _symbolic_leaves(struct):
    from .input import KerasTensor, map_structure
    found = []
    map_structure(lambda v: found.append(v) if isinstance(v, KerasTensor) else None, struct)
    return found


def call_tensor(a):
    """A layer call's data as a Tensor: tensors as they are, numpy floats other than float32 as float32."""
    if isinstance(a, Tensor):
        return a
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32)
    return as_tensor(a)


def _marking_built(build):
    """`build` that marks the layer built when it returns, as Keras wraps it: a layer built by
    hand (`layer.build(shape)`) is not built again, with a second set of weights, when called."""
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        build(self, *args, **kwargs)
        if not self.built:
            self.built = True
            if self.build_input_shape is None:
                self.build_input_shape = args[0] if args else kwargs.get("input_shape")
    wrapper._marks_built = True
    return wrapper


class Layer:
    """Base class. Subclasses implement `build(input_shape)`, `call(inputs, training)` and
    `compute_output_shape(input_shape)`, and extend `get_config()` with their arguments."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            cls.build = _marking_built(build)

    def __init__(self, name=None, trainable=True, input_shape=None, dtype=None, **kwargs):
        who = type(self).__name__
        if dtype is not None and str(getattr(dtype, "name", dtype)) not in ("float32", "float64"):
            raise NotImplementedError(f"{who}: dtype={dtype!r} (mixed precision / other dtype policies) is not "
                                      f"supported; dptrain layers compute in float32")
        if kwargs:
            hints = "".join(did_you_mean(k, _init_keywords(type(self))) for k in sorted(kwargs))
            raise TypeError(f"{who}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}.{hints}")
        if name is None:
            name = unique_name(_snake(who))
        elif not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"{who}: name must be a non-empty string without '/', got {name!r}")
        self.name = name
        self._trainable = bool(trainable)
        self._input_shape_arg = None if input_shape is None else check_shape_arg(input_shape, self._who())
        self.built = False
        self._weights = []            # Tensors, in creation (Keras) order
        self._weight_trainable = []   # per weight: a trainable variable (BN moving stats are not)
        self._inbound_nodes = []
        self.build_input_shape = None
        self.__dict__.setdefault("_tracked", {})

    def _who(self):
        return f"{type(self).__name__} layer '{self.name}'"

    # --- attribute tracking (as Keras: layers and weights assigned as attributes belong to the layer) ---
    _UNTRACKED = frozenset({"_weights", "_weight_trainable", "_inbound_nodes", "_tracked", "_graph", "_stack",
                            "_input", "_last", "_heads", "_steps_cache", "optimizer", "history",
                            "_activity_penalty"})

    def __setattr__(self, name, value):
        if name not in Layer._UNTRACKED:
            tracked = self.__dict__.setdefault("_tracked", {})
            found = _trackables(value)
            if found:
                tracked[name] = found
            elif name in tracked:
                del tracked[name]
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self.__dict__.get("_tracked", {}).pop(name, None)
        object.__delattr__(self, name)

    def _tracked_layers(self):
        out, seen = [], set()
        for items in self.__dict__.get("_tracked", {}).values():
            for v in items:
                if isinstance(v, Layer) and v is not self and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def _tracked_variables(self):
        own = {id(w) for w in self._weights}
        out = []
        for items in self.__dict__.get("_tracked", {}).values():
            for v in items:
                if isinstance(v, Tensor) and id(v) not in own:
                    own.add(id(v))
                    out.append(v)
        return out

    # --- weights -------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                   constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):
        """Create a weight, as Keras 3's `add_weight` (an ag.param when trainable), named '<layer>/<name>'.

        `initializer`: a name ("glorot_uniform", "zeros", "ones", ...), an initializer object or
        a callable `(shape, dtype) -> array`; None means "glorot_uniform" for floats, "zeros"
        otherwise. dptrain's own layers also call it as `add_weight(name, shape, initializer)`.
        """
        if isinstance(shape, str):      # the house order: add_weight(name, shape, initializer, ...)
            name, shape, initializer, dtype = shape, initializer, dtype, None
        if shape is None:
            raise ValueError(f"{self._who()}: add_weight needs a shape")
        if regularizer is not None or constraint is not None:
            raise NotImplementedError(f"{self._who()}: add_weight(regularizer=/constraint=) is not supported yet")
        if overwrite_with_gradient or aggregation not in ("none", "mean", "sum", None):
            raise NotImplementedError(f"{self._who()}: add_weight(aggregation={aggregation!r}, "
                                      f"overwrite_with_gradient=...) is not supported")
        dtype = np.dtype(dtype or np.float32)
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(int(s) for s in shape)
        if name is None:
            name = "variable" if not any(w.name.endswith("/variable") for w in self._weights) \
                else f"variable_{len(self._weights)}"
        value = np.asarray(_resolve_initializer(initializer, dtype, self._who())(shape, dtype), dtype=dtype)
        full = f"{self.name}/{name}"
        if trainable:
            w = _param(value, name=full)
            w.requires_grad = self._trainable
        else:
            K = _backend.current
            w = Tensor(K.copy(K.asarray(value)), name=full)
        self._weights.append(w)
        self._weight_trainable.append(bool(trainable))
        return w

    def _sublayers(self):
        return self._tracked_layers()

    @property
    def weights(self):
        out, seen = [], set()
        for w in self._weights + self._tracked_variables():
            out.append(w)
            seen.add(id(w))
        for layer in self._sublayers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def _weight_flags(self):
        """(weight, trainable now) pairs, sublayers included, without duplicates."""
        out, seen = [], set()
        own = list(zip(self._weights, self._weight_trainable))
        own += [(w, bool(w.requires_grad)) for w in self._tracked_variables()]
        for w, t in own:
            out.append((w, t and self._trainable))
            seen.add(id(w))
        for layer in self._sublayers():
            for w, t in layer._weight_flags():
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((w, t and self._trainable))
        return out

    @property
    def trainable_weights(self):
        return [w for w, t in self._weight_flags() if t]

    @property
    def non_trainable_weights(self):
        return [w for w, t in self._weight_flags() if not t]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value
        for w, t in zip(self._weights, self._weight_trainable):
            if t:
                w.requires_grad = self._trainable

    def count_params(self):
        if not self.built:
            raise ValueError(f"{self._who()}: not built yet, so it has no weights to count; call it on an "
                             f"input (or give the first layer input_shape=) first")
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [np.array(w.numpy(), copy=True) for w in self.weights]

    def set_weights(self, weights):
        own = self.weights
        weights = list(weights)
        if not self.built and not own:
            raise ValueError(f"{self._who()}: not built yet; build it (call it on an input) before set_weights")
        if len(weights) != len(own):
            raise ValueError(f"{self._who()}: set_weights got {len(weights)} arrays, the layer has "
                             f"{len(own)} weights ({', '.join(w.name for w in own)})")
        arrays = []
        for w, a in zip(own, weights):
            a = np.asarray(a.numpy() if isinstance(a, Tensor) else a)
            if a.shape != w.shape:
                raise ValueError(f"{self._who()}: weight '{w.name}' has shape {w.shape}, "
                                 f"set_weights got shape {a.shape}")
            arrays.append(a)
        K = _backend.current
        for w, a in zip(own, arrays):
            K.copy_into(w.data, K.asarray(a.astype(w.dtype, copy=False)))

    # --- additional losses (Keras' add_loss / layer.losses) -----------------------------
    def add_loss(self, loss):
        """Add a scalar loss to the training loss, as Keras' `add_loss`: a scalar Tensor computed in
        `call` (it counts for that forward pass; fit's step collects and then clears them), or a
        zero-argument callable (evaluated at every step, e.g. a penalty on a weight); or a list of them.
        Stored outside attribute tracking, so a loss Tensor never becomes a weight."""
        for value in (loss if isinstance(loss, (list, tuple)) else [loss]):
            if isinstance(value, Tensor):
                if value.size != 1:
                    raise ValueError(f"{self._who()}: add_loss takes a scalar, got a tensor of shape {value.shape}; "
                                     f"reduce it first (e.g. ops.sum / ops.mean)")
                self.__dict__.setdefault("_added_losses", []).append(value)
            elif callable(value) and not isinstance(value, type):
                self.__dict__.setdefault("_loss_callables", []).append(value)
            elif type(value).__name__ == "KerasTensor":
                raise NotImplementedError(f"{self._who()}: add_loss of a symbolic tensor (a dt.Input / layer "
                                          f"output) is not supported (nor in Keras 3); call add_loss inside a "
                                          f"layer's call() on the real tensor")
            else:
                raise ValueError(f"{self._who()}: add_loss can only be called from inside build() or call(), "
                                 f"on a tensor computed there (or with a zero-argument callable); got "
                                 f"{type(value).__name__}")

    @property
    def losses(self):
        """Keras' `layer.losses`: the add_loss values of the last call and the add_loss callables of
        this layer and of every layer inside it, then their regularization penalties (layers with a
        `regularization_losses()` method)."""
        layers, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
                stack.extend(reversed(layer._sublayers()))
        added, penalties = [], []
        for layer in layers:
            added.extend(layer.__dict__.get("_added_losses") or ())
            added.extend(fn() for fn in layer.__dict__.get("_loss_callables") or ())
            regularization = getattr(layer, "regularization_losses", None)
            if callable(regularization):
                penalties.extend(regularization())
        return added + penalties

    def _clear_losses(self):
        """Drop the add_loss values of the last call, in this layer and below (Keras does this
        when an outermost call starts)."""
        added = self.__dict__.get("_added_losses")
        if added:
            added.clear()
        for layer in self._sublayers():
            layer._clear_losses()

    # --- building ---------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for `input_shape` (batch axis included, as None)."""

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape`. By default, as Keras' compute_output_spec, it is
        found by running `call` once on zeros of that shape (no gradient, training=False)."""
        return self._infer_output_shape(input_shape)

    def compute_output_dtype(self, input_dtype):
        return "float32"

    def call(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def ensure_built(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.build_input_shape = input_shape

    def shape_error(self, input_shape, expected, why=""):
        why = f": {why}" if why else ""
        return ValueError(f"{self._who()}: incompatible input shape {_fmt(input_shape)}, expected "
                          f"{_fmt(expected)}{why}")

    def _infer_output_shape(self, input_shape, dtypes=None, args=(), kwargs=None):
        from engine.autograd import no_grad
        multi = isinstance(input_shape, list)
        shapes = input_shape if multi else [input_shape]
        dtypes = dtypes if isinstance(dtypes, list) else [dtypes or "float32"] * len(shapes)
        unknown = any(d is None for shp in shapes for d in shp[1:])
        from .input import KerasTensor, has_symbolic, map_structure
        unknown = unknown or any(d is None for t in _symbolic_leaves((args, kwargs)) for d in t.shape[1:])
        runs = []
        for size in ((2, 3) if unknown else (2,)):
            def zeros(shp, dt):
                return np.zeros(tuple(2 if i == 0 else (size if d is None else d) for i, d in enumerate(shp)),
                                np.dtype(dt if str(dt).startswith(("int", "float")) else "float32"))
            xs = [zeros(shp, dt) for shp, dt in zip(shapes, dtypes)]
            a, kw = args, kwargs
            if has_symbolic((args, kwargs)):    # KerasTensors passed beyond the first argument: zeros too
                a, kw = map_structure(lambda v: as_tensor(zeros(v.shape, v.dtype)) if isinstance(v, KerasTensor)
                                      else v, (tuple(args), dict(kwargs or {})))
            with no_grad(), np.errstate(all="ignore"):     # zeros: a fully masked mean is 0 / 0
                out = self._invoke([as_tensor(x) for x in xs] if multi else as_tensor(xs[0]), False, a, kw)
            outs = out if isinstance(out, (list, tuple)) else [out]
            runs.append([tuple(o.shape) for o in outs])
        result = []
        for k, shp in enumerate(runs[0]):
            dims = [None] + [None if any(r[k][i] != d for r in runs) else int(d) for i, d in enumerate(shp) if i > 0]
            result.append(tuple(dims))
        return result if isinstance(out, (list, tuple)) else result[0]

    # --- calling ----------------------------------------------------------------
    def __call__(self, inputs, *args, **kwargs):
        """Call on KerasTensors (records a graph node) or on data (runs `call`).

        As in Keras, extra positional and keyword arguments go to `call`; `training` and `mask`
        reach `call` only when its signature declares them (or takes **kwargs).
        """
        from .input import KerasTensor, has_symbolic, make_node
        flat = flatten(inputs)
        symbolic = [isinstance(t, KerasTensor) for t in flat]
        extra_symbolic = has_symbolic((args, kwargs))    # e.g. mha(query, value): they become node inputs too
        if any(symbolic) or extra_symbolic:
            if not all(symbolic):
                raise TypeError(f"{self._who()}: called on a mix of symbolic inputs (dt.Input / layer outputs) "
                                f"and data; use one or the other")
            kwargs.pop("training", None)
            return make_node(self, inputs, args, kwargs)
        training = kwargs.pop("training", None)
        if training is None and _training_context:
            training = _training_context[-1]
        if _call_depth[0] == 0:        # an outermost call: the add_loss values of the last one go (Keras)
            self._clear_losses()
        _call_depth[0] += 1
        try:
            return self._call_eager(inputs, training, args, kwargs)
        finally:
            _call_depth[0] -= 1

    def _call_conventions(self):
        """(call takes `training`, takes `mask`, takes **kwargs, `training` is call's second
        positional parameter), cached per class."""
        cls = type(self)
        cached = cls.__dict__.get("_call_conv_cache")
        if cached is None:
            import inspect
            params = inspect.signature(cls.call).parameters
            var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
            names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            cached = ("training" in params or var_kw, "mask" in params or var_kw, var_kw,
                      names[2:3] == ["training"])
            type.__setattr__(cls, "_call_conv_cache", cached)
        return cached

    def _invoke(self, xs, training, args=(), kwargs=None):
        """`call(xs, *args, **kwargs)`, with `training` only where call declares it; None (neither
        given nor inherited from an outer call) leaves call's own default, as Keras."""
        kw = dict(kwargs) if kwargs else {}
        takes_training = self._call_conventions()[0]
        if takes_training and training is not None:
            kw["training"] = bool(training)
        _training_context.append(None if training is None else bool(training))
        try:
            return self.call(xs, *args, **kw)
        finally:
            _training_context.pop()

    # --- masking (Keras 3's Layer.__call__ steps 6 and "set mask metadata") ----------------------------
    @property
    def supports_masking(self):
        """Whether the layer passes on (or computes) a mask with `compute_mask`. As Keras: True when
        the class overrides `compute_mask`, else False unless the layer sets it."""
        value = self.__dict__.get("_supports_masking")
        return type(self).compute_mask is not Layer.compute_mask if value is None else value

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs, given the inputs and their mask: by default the input mask."""
        return previous_mask

    def _may_produce_mask(self):
        """Whether outputs may carry a mask though no input does (a symbolic call then works it out)."""
        return self.supports_masking and type(self).compute_mask is not Layer.compute_mask

    def _mask_conventions(self):
        """(call declares `mask`, call's `<arg>_mask` parameters, call's signature), cached per class."""
        cls = type(self)
        cached = cls.__dict__.get("_mask_conv_cache")
        if cached is None:
            import inspect
            sig = inspect.signature(cls.call)
            names = list(sig.parameters)
            named = tuple(n for n in names if n.endswith("_mask") and n[:-5] in names)
            cached = ("mask" in sig.parameters, named, sig)
            type.__setattr__(cls, "_mask_conv_cache", cached)
        return cached

    def _invoke_masked(self, xs, training, args=(), kwargs=None, call=None, warn=True):
        """`_invoke` with Keras' masks: the inputs' masks reach `call` as `mask=` (when it declares
        `mask` and the caller gave none; with several tensor arguments, as `<arg>_mask=` for each
        `<arg>` that has such a parameter), and `compute_mask(inputs, previous_mask)` is attached
        to the outputs that carry no mask yet, when the layer supports masking. A layer that does
        not support masking drops the mask (with Keras' warning). `call(xs, training)`: run
        instead of `call` (a fused pre-activation step)."""
        kw = dict(kwargs) if kwargs else {}
        in_masks = _masks_of(xs)
        if call is None:
            takes_mask, named, sig = self._mask_conventions()
            extra = [v for v in list(args) + list(kw.values()) if _is_tensor_arg(v)]
            if not extra:
                if takes_mask and kw.get("mask") is None and _any_mask(in_masks):
                    kw["mask"] = in_masks
            elif named:
                bound = sig.bind_partial(self, xs, *args, **kw).arguments
                for name in named:
                    value = bound.get(name[:-5])
                    if bound.get(name) is None and _is_tensor_arg(value) and _any_mask(_masks_of(value)):
                        kw[name] = _masks_of(value)
            outputs = self._invoke(xs, training, args, kw)
        else:
            outputs = call(xs, training)
        previous = kw["mask"] if kw.get("mask") is not None else in_masks
        if not _any_mask(previous) and not self._may_produce_mask():
            return outputs
        if self.supports_masking:
            flat_out = flatten(outputs)
            if not all(get_keras_mask(o) is not None for o in flat_out):
                out_masks = self.compute_mask(xs, previous)
                if out_masks is not None:
                    for o, m in zip(flat_out, flatten(out_masks)):
                        if m is not None and get_keras_mask(o) is None:
                            set_keras_mask(o, m)
        elif warn and _any_mask(previous) and not getattr(self, "_op_node", False) \
                and not getattr(self, "_masks_inside", False):
            warn_mask_dropped(self)
        return outputs

    def _call_eager(self, inputs, training, args=(), kwargs=None):
        to_tensor = call_tensor
        if isinstance(inputs, (list, tuple)):
            xs = [to_tensor(a) for a in inputs]
            shapes = [(None,) + tuple(x.shape[1:]) for x in xs]
        else:
            xs = to_tensor(inputs)
            shapes = (None,) + tuple(xs.shape[1:])
        self.ensure_built(shapes)
        if type(self).compute_output_shape is not Layer.compute_output_shape and not args and not kwargs:
            self.compute_output_shape(shapes)   # validates
        return self._invoke_masked(xs, training, args, kwargs)

    # --- graph helpers --------------------------------------------------------
    def _single_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"{self._who()} has not been called on a symbolic input, so it has no {what}")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"{self._who()} has been called {len(self._inbound_nodes)} times (shared); "
                                 f"its {what} is ambiguous")
        return self._inbound_nodes[0]

    @property
    def input(self):
        return self._single_node("input").inputs

    @property
    def output(self):
        outs = self._single_node("output").outputs
        return outs[0] if len(outs) == 1 else outs

    # --- configs ------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self._trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _fmt(shape):
    if isinstance(shape, str):
        return shape
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt(s) for s in shape) + "]"
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


format_shape = _fmt
