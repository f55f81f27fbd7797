"""Optimizer base: params and grads live in one flat buffer per dtype.

On construction the params are copied into a contiguous buffer per dtype and
each `param.data` is rebound to a view of it (`backend.current.split_views`);
likewise each `param.grad` becomes a view of a flat grad buffer, so backward
writes gradients straight into it. `step()` is then one fused backend kernel
per dtype over the whole buffer, and a data-parallel layer can all-reduce
`flat_grads()` as a single message.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend as _backend
from ..tensor import Tensor


def check_nonneg(value, name, who, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{who}: {name} must be a finite {kind} number, got {value!r}")
    return float(value)


def named_params(params, who):
    """(names, tensors) from a dict name -> param, a Module, or a list of params."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, dict):
        items = [(str(k), v) for k, v in params.items()]
    elif isinstance(params, Tensor):
        raise TypeError(f"{who}: params must be a dict or a list of params, not a single Tensor (wrap it in a list)")
    else:
        try:
            items = [(getattr(p, "name", None), p) for p in params]
        except TypeError:
            raise TypeError(f"{who}: params must be a dict name -> param or a list of params, "
                            f"got {type(params).__name__}") from None
    if not items:
        raise ValueError(f"{who}: got an empty parameter list")
    seen_ids, seen_names = {}, set()
    for name, p in items:
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise TypeError(f"{who}: parameter {name!r} is a {type(p).__name__}"
                            f"{'' if not isinstance(p, Tensor) else ' without requires_grad'}; expected an ag.param")
        if p.data.dtype.kind != "f":
            raise TypeError(f"{who}: parameter {name!r} has dtype {p.data.dtype}; expected floating point")
        if id(p) in seen_ids:
            raise ValueError(f"{who}: the same parameter appears twice, as {seen_ids[id(p)]!r} and {name!r}")
        if name in seen_names:
            raise ValueError(f"{who}: two parameters are both named {name!r}")
        seen_ids[id(p)] = name
        seen_names.add(name)
    return [n for n, _ in items], [p for _, p in items]


class _Group:
    """The params of one dtype: flat data and grad buffers and the optimiser state over them."""

    def __init__(self, K, dtype, index, params):
        self.dtype = dtype
        self.index = index                      # positions in the optimiser's param list
        shapes = [p.shape for p in params]
        n = sum(p.size for p in params)
        self.params = K.zeros((n,), dtype)
        self.grads = K.zeros((n,), dtype)
        self.param_views = K.split_views(self.params, shapes)
        self.grad_views = K.split_views(self.grads, shapes)
        self.state = {}


class Optimizer:
    state_names = ()          # flat per-dtype state arrays, e.g. ("m", "v")
    hyper_names = ()          # hyperparameters restored by load_state_dict

    def __init__(self, params, lr):
        who = type(self).__name__
        self.lr = check_nonneg(lr, "lr", who)
        self.names, self.param_list = named_params(params, who)
        self._keyed = isinstance(params, dict) or hasattr(params, "parameters")
        self.steps = 0
        self.K = K = _backend.current
        by_dtype = {}
        for i, p in enumerate(self.param_list):
            by_dtype.setdefault(np.dtype(p.data.dtype), []).append(i)
        self._groups = []
        n = len(self.param_list)
        self._pviews, self._gviews = [None] * n, [None] * n
        for dtype, index in by_dtype.items():
            grp = _Group(K, dtype, index, [self.param_list[i] for i in index])
            for j, i in enumerate(index):
                p = self.param_list[i]
                K.copy_into(grp.param_views[j], p.data)
                p.data = self._pviews[i] = grp.param_views[j]
                if p.grad is not None and tuple(p.grad.shape) == p.shape:
                    K.copy_into(grp.grad_views[j], p.grad)
                p.grad = self._gviews[i] = grp.grad_views[j]
            for s in self.state_names:
                grp.state[s] = K.zeros((grp.params.shape[0],), dtype)
            self._groups.append(grp)

    # --- flat buffers ---------------------------------------------------------
    @property
    def dtypes(self):
        return [g.dtype for g in self._groups]

    def _group(self, dtype):
        if dtype is None:
            if len(self._groups) != 1:
                raise ValueError(f"{type(self).__name__}: params have several dtypes "
                                 f"{[str(d) for d in self.dtypes]}; pass dtype=")
            return self._groups[0]
        for g in self._groups:
            if g.dtype == np.dtype(dtype):
                return g
        raise ValueError(f"{type(self).__name__}: no params of dtype {np.dtype(dtype)} "
                         f"(have {[str(d) for d in self.dtypes]})")

    def flat_params(self, dtype=None):
        """The contiguous buffer holding every param of `dtype` (the only dtype when None)."""
        return self._group(dtype).params

    def flat_grads(self, dtype=None):
        """The contiguous buffer holding every gradient of `dtype`; write into it in place."""
        return self._group(dtype).grads

    def parameters(self):
        return dict(zip(self.names, self.param_list))

    # --- gradients ------------------------------------------------------------
    def _zero(self, view):
        self.K.copy_into(view, self.K.zeros(view.shape, view.dtype))

    def _put_grad(self, i, g):
        view = self._gviews[i]
        if g is None:
            self._zero(view)
            return
        if isinstance(g, Tensor):
            g = g.data
        if tuple(g.shape) != tuple(view.shape):
            raise ValueError(f"{type(self).__name__}.step: gradient for {self.names[i]!r} has shape "
                             f"{tuple(g.shape)}, the param has shape {tuple(view.shape)}")
        self.K.copy_into(view, self.K.asarray(g))

    def _collect(self, grads):
        """Make the flat grad buffers hold this step's gradients (usually they already do)."""
        params, pviews, gviews = self.param_list, self._pviews, self._gviews
        for i, p in enumerate(params):
            if p.data is not pviews[i]:   # someone rebound param.data: take the new values back in
                if tuple(p.data.shape) != tuple(pviews[i].shape):
                    raise ValueError(f"{type(self).__name__}: param {self.names[i]!r} now has shape "
                                     f"{tuple(p.data.shape)}, was {tuple(pviews[i].shape)}")
                self.K.copy_into(pviews[i], p.data)
                p.data = pviews[i]
        if grads is None:
            for i, p in enumerate(params):
                if p.grad is not gviews[i]:
                    self._put_grad(i, p.grad)
                    p.grad = gviews[i]
            return
        if not isinstance(grads, dict):
            raise TypeError(f"{type(self).__name__}.step: grads must be a dict name -> gradient "
                            f"(as ag.backward returns) or None, got {type(grads).__name__}")
        found = 0
        names = self.names
        for i, p in enumerate(params):
            g = grads.get(p.name)
            if g is None:
                g = grads.get(names[i])
            if g is not None:
                found += 1
            if g is not gviews[i]:
                self._put_grad(i, g)   # a param without a gradient gets zeros
            p.grad = gviews[i]
        if grads and not found:
            raise ValueError(f"{type(self).__name__}.step: none of the gradient names {sorted(grads)[:5]} "
                             f"match this optimiser's params {names[:5]}")

    def collect_grads(self, grads=None):
        """Put this step's gradients (None: each param's .grad) into the flat grad buffers."""
        self._collect(grads)

    def zero_grad(self):
        for grp in self._groups:
            self._zero(grp.grads)
        for i, p in enumerate(self.param_list):
            p.grad = self._gviews[i]

    # --- the update -----------------------------------------------------------
    def step(self, grads=None):
        """One update. grads: None (use each param's .grad) or {name: array} from ag.backward
        (keyed by param name or by the dict key given at construction).

        A param with no entry in `grads` is updated with a zero gradient (weight decay
        and momentum still act on it), since the update is one fused call over the buffer.
        """
        self._collect(grads)
        self.steps += 1
        for grp in self._groups:
            self._update(grp)

    def _update(self, grp):
        raise NotImplementedError

    # --- checkpoints ----------------------------------------------------------
    def _hyper(self):
        return {k: getattr(self, k) for k in self.hyper_names}

    def state_dict(self):
        """Everything needed to resume bit for bit: step count, lr, hyperparameters, flat state."""
        K = self.K
        return {
            "type": type(self).__name__,
            "steps": self.steps,
            "lr": self.lr,
            "hyper": {k: list(v) if isinstance(v, tuple) else v for k, v in self._hyper().items()},
            "params": [{"name": n, "shape": list(p.shape), "dtype": str(p.data.dtype)}
                       for n, p in zip(self.names, self.param_list)],
            "keyed": self._keyed,
            "state": {str(g.dtype): {s: np.array(K.to_numpy(a), copy=True) for s, a in g.state.items()}
                      for g in self._groups},
        }

    def load_state_dict(self, state):
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict) or "type" not in state:
            raise ValueError(f"{who}: not an optimiser state dict")
        if state["type"] != type(self).__name__:
            raise ValueError(f"{who}: the checkpoint is for {state['type']}, not {type(self).__name__}")
        saved = state["params"]
        if len(saved) != len(self.param_list):
            raise ValueError(f"{who}: the checkpoint has {len(saved)} params, this optimiser {len(self.param_list)}")
        check_names = self._keyed and state.get("keyed", True)
        for i, (s, p) in enumerate(zip(saved, self.param_list)):
            if tuple(s["shape"]) != p.shape or s["dtype"] != str(p.data.dtype) or \
                    (check_names and s["name"] != self.names[i]):
                raise ValueError(f"{who}: param {i} is {s['name']!r} {tuple(s['shape'])} {s['dtype']} in the "
                                 f"checkpoint but {self.names[i]!r} {p.shape} {p.data.dtype} here")
        arrays = state["state"]
        for g in self._groups:
            got = arrays.get(str(g.dtype), {})
            for s, a in g.state.items():
                src = got.get(s)
                if src is None or tuple(np.shape(src)) != tuple(a.shape):
                    raise ValueError(f"{who}: state {s!r} for {g.dtype} is missing or has the wrong shape")
        K = self.K
        for g in self._groups:
            for s, a in g.state.items():
                K.copy_into(a, K.asarray(np.asarray(arrays[str(g.dtype)][s]), g.dtype))
        self.steps = int(state["steps"])
        self.lr = float(state["lr"])
        for k, v in state["hyper"].items():
            if k in self.hyper_names:
                setattr(self, k, tuple(v) if isinstance(v, list) else v)

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self._hyper().items())
        return f"{type(self).__name__}(lr={self.lr}, {hyper}, params={len(self.param_list)})"
