"""Module: the base class of every layer. Tracks params, buffers and submodules.

Params (tensors with requires_grad), buffers (registered with `register_buffer`)
and submodules are discovered when they are assigned as attributes, and kept in
assignment order. `parameters()` walks the tree depth-first (own params before
children's), giving dotted names such as "0.weight" or "encoder.bias".
"""
from __future__ import annotations

import collections
import itertools

import numpy as np

from .. import backend as _backend
from ..tensor import Tensor, param as _param

_instance_counters = collections.defaultdict(itertools.count)

LoadResult = collections.namedtuple("LoadResult", ["missing_keys", "unexpected_keys"])


class StateDictKeyError(KeyError):
    """Missing or unexpected keys in load_state_dict (printed without KeyError's quotes)."""
    def __str__(self):
        return str(self.args[0])


class Module:
    """Base class of the PyTorch-like modules (`ag.Linear`, `ag.LSTM`, ...).

    Parameters (`ag.param`) and sub-modules assigned as attributes are registered;
    `parameters()` returns a dict name -> param (what optimisers take), `state_dict()` /
    `load_state_dict()` save and restore them, `train()` / `eval()` switch the mode, and
    calling the module runs `forward`.
    """

    def __init__(self):
        d = self.__dict__
        d["_param_names"] = []
        d["_buffer_names"] = []
        d["_module_names"] = []
        d["training"] = True
        cls = type(self).__name__.lower()
        # Instance prefix of param names, so that ag.backward's {name: grad} never collides.
        d["_uid"] = f"{cls}{next(_instance_counters[cls])}"

    # --- registration ------------------------------------------------------
    def _registries(self):
        d = self.__dict__
        if "_param_names" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() at the start of __init__ "
                                 "before assigning attributes")
        return d["_param_names"], d["_buffer_names"], d["_module_names"]

    def __setattr__(self, name, value):
        params, buffers, modules = self._registries()
        for reg in (params, buffers, modules):
            if name in reg:
                reg.remove(name)
        if isinstance(value, Module):
            modules.append(name)
        elif isinstance(value, Tensor) and value.requires_grad:
            params.append(name)
        elif isinstance(value, Tensor) and name in self.__dict__.get("_buffer_slots", ()):
            buffers.append(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for reg in self._registries():
            if name in reg:
                reg.remove(name)
        object.__delattr__(self, name)

    def new_param(self, name, array):
        """A param named '<instance>.<name>' (e.g. 'linear3.weight'), assigned as attribute `name`."""
        p = _param(array, name=f"{self._uid}.{name}")
        setattr(self, name, p)
        return p

    def register_buffer(self, name, value):
        """Non-trainable state saved in state_dict (e.g. running statistics), kept as a Tensor."""
        self.__dict__.setdefault("_buffer_slots", set()).add(name)
        if not isinstance(value, Tensor):
            K = _backend.current
            value = Tensor(K.copy(K.asarray(np.asarray(value))))
        setattr(self, name, value)
        return value

    # --- traversal ---------------------------------------------------------
    def named_modules(self, prefix=""):
        """(dotted prefix, module) pairs, depth first, this module first; each module once."""
        out, seen = [], set()
        stack = [(prefix, self)]
        while stack:
            pre, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            out.append((pre, mod))
            names = mod._registries()[2]
            for n in reversed(names):
                stack.append((f"{pre}{n}.", mod.__dict__[n]))
        return out

    def children(self):
        return [self.__dict__[n] for n in self._registries()[2]]

    def parameters(self):
        """{dotted name: param Tensor}, in definition order; a shared param appears once."""
        out, seen = {}, set()
        for pre, mod in self.named_modules():
            for n in mod._registries()[0]:
                p = mod.__dict__[n]
                if id(p) not in seen:
                    seen.add(id(p))
                    out[pre + n] = p
        return out

    def buffers(self):
        out = {}
        for pre, mod in self.named_modules():
            for n in mod._registries()[1]:
                out[pre + n] = mod.__dict__[n]
        return out

    def num_parameters(self):
        return sum(p.size for p in self.parameters().values())

    # --- modes -------------------------------------------------------------
    def train(self, mode=True):
        for _, mod in self.named_modules():
            mod.__dict__["training"] = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        """Zero every param's gradient in place (keeping an optimiser's flat-buffer views)."""
        K = _backend.current
        for p in self.parameters().values():
            if p.grad is not None:
                K.copy_into(p.grad, K.zeros(p.grad.shape, p.grad.dtype))

    # --- calling -----------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # --- state -------------------------------------------------------------
    def _state_tensors(self):
        out = {}
        for pre, mod in self.named_modules():
            params, buffers, _ = mod._registries()
            for n in params + buffers:
                out.setdefault(pre + n, mod.__dict__[n])
        return out

    def state_dict(self):
        """{dotted name: numpy array copy} of every param and buffer."""
        return {k: np.array(t.numpy(), copy=True) for k, t in self._state_tensors().items()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays into the params and buffers in place (their storage is kept).

        strict: missing or unexpected keys are an error. Shapes must always match.
        Nothing is modified unless every check passes. Returns (missing_keys, unexpected_keys).
        """
        if not isinstance(state, dict):
            raise TypeError(f"{self._label()}.load_state_dict: expected a dict, got {type(state).__name__}")
        own = self._state_tensors()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise StateDictKeyError(f"{self._label()}.load_state_dict: " + "; ".join(parts))
        arrays, bad = {}, []
        for k, t in own.items():
            if k not in state:
                continue
            v = state[k]
            a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
            if a.shape != t.shape:
                bad.append(f"{k}: checkpoint {a.shape} vs module {t.shape}")
            elif a.dtype.kind not in "biuf":
                bad.append(f"{k}: dtype {a.dtype} is not numeric")
            arrays[k] = a
        if bad:
            raise ValueError(f"{self._label()}.load_state_dict: shape mismatch for " + "; ".join(bad))
        K = _backend.current
        for k, a in arrays.items():
            t = own[k]
            K.copy_into(t.data, K.asarray(a, t.data.dtype))
        return LoadResult(missing, unexpected)

    # --- printing ----------------------------------------------------------
    def _label(self):
        return f"{type(self).__name__} '{self._uid}'"

    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        kids = self._registries()[2]
        if not kids:
            return head + ")"
        lines = [head]
        for n in kids:
            sub = repr(self.__dict__[n]).replace("\n", "\n  ")
            lines.append(f"  ({n}): {sub}")
        return "\n".join(lines) + "\n)"


def input_features(module, x, n, what="features"):
    """Raise a ValueError naming `module` unless the last axis of `x` has size n."""
    shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
    if not shape or shape[-1] != n:
        raise ValueError(f"{module._label()}: expected input with {n} {what} on the last axis, "
                         f"got shape {tuple(shape)}")
