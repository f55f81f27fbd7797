"""Keras-style optimisers (`learning_rate=`, `beta_1=`, ...) over the engine's flat-buffer optimisers.

`build(params)` creates the engine optimiser, which moves every param and its
gradient into one contiguous buffer per dtype; `apply()` is then one fused
update over that buffer. `weight_decay` is decoupled, as in Keras 3
(p -= lr * weight_decay * p before each update), for every optimiser.
Differences from Keras: the epsilon of Adam/RMSprop is added to sqrt(v) (the
PyTorch placement), and RMSprop has no momentum/centered variant.
"""
from __future__ import annotations

import numbers

from engine import backend as _backend
from engine import optim as _optim
from .suggest import did_you_mean


def _number(v, name, who, lo=0.0, hi=None, open_hi=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= lo or \
            (hi is not None and (v >= hi if open_hi else v > hi)):
        rng = f"[{lo}, {hi}{')' if open_hi else ']'}" if hi is not None else f">= {lo}"
        raise ValueError(f"{who}: {name} must be a number {rng}, got {v!r}")
    return float(v)


class Optimizer:
    _engine_cls = None

    def __init__(self, learning_rate, weight_decay=None, global_clipnorm=None, name=None):
        who = type(self).__name__
        self._lr = _number(learning_rate, "learning_rate", who)
        self.weight_decay = None if weight_decay in (None, 0, 0.0) else _number(weight_decay, "weight_decay", who)
        self.global_clipnorm = None if global_clipnorm is None else _number(global_clipnorm, "global_clipnorm", who)
        if self.global_clipnorm == 0.0:
            raise ValueError(f"{who}: global_clipnorm must be positive")
        self.name = name or who.lower()
        self.engine = None          # the engine optimiser, once built
        self._params = None

    # --- building --------------------------------------------------------------
    def _engine_kwargs(self):
        return {}

    def build(self, params):
        """(Re)create the engine optimiser over `params` (a list of ag params); state starts fresh."""
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: the model has no trainable weights to optimise")
        keyed, seen = {}, {}
        for p in params:   # unique keys even if two layers in different sub-models share a name
            k = p.name
            seen[k] = seen.get(k, 0) + 1
            keyed[k if seen[k] == 1 else f"{k}#{seen[k] - 1}"] = p
        self.engine = self._engine_cls(keyed, lr=self._lr, **self._engine_kwargs())
        self._params, self._keyed = params, keyed
        return self

    @property
    def built(self):
        return self.engine is not None

    def built_for(self, params):
        return self._params is not None and len(self._params) == len(params) and \
            all(a is b for a, b in zip(self._params, params))

    # --- hyperparameters ------------------------------------------------------------
    @property
    def learning_rate(self):
        return self.engine.lr if self.engine is not None else self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = _number(float(value), "learning_rate", type(self).__name__)
        if self.engine is not None:
            self.engine.lr = self._lr

    lr = learning_rate

    @property
    def iterations(self):
        return self.engine.steps if self.engine is not None else 0

    # --- the update (the seam a data-parallel strategy hooks into) --------------------
    def flat_grads(self, dtype=None):
        return self.engine.flat_grads(dtype)

    def flat_params(self, dtype=None):
        return self.engine.flat_params(dtype)

    @property
    def dtypes(self):
        return self.engine.dtypes

    def zero_grad(self):
        self.engine.zero_grad()

    def clip(self):
        if self.global_clipnorm is not None:
            from engine.clip import clip_grad_norm
            clip_grad_norm(self._keyed, None, self.global_clipnorm)

    def apply(self):
        """One update from the gradients in the flat grad buffer."""
        eng = self.engine
        if self.weight_decay and self._decay_outside:
            K = _backend.current
            f = 1.0 - eng.lr * self.weight_decay
            for dt in eng.dtypes:
                p = eng.flat_params(dt)
                K.copy_into(p, K.scale(p, f))
        eng.step()

    _decay_outside = True

    # --- checkpoints ------------------------------------------------------------------
    def get_config(self):
        cfg = {"name": self.name, "learning_rate": self.learning_rate}
        if self.weight_decay is not None:
            cfg["weight_decay"] = self.weight_decay
        if self.global_clipnorm is not None:
            cfg["global_clipnorm"] = self.global_clipnorm
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def state_dict(self):
        return None if self.engine is None else self.engine.state_dict()

    def load_state_dict(self, state):
        if self.engine is None:
            raise ValueError(f"{type(self).__name__}: build the optimiser before loading its state")
        # Params are matched by position (the model's weight order) and shape, not by name:
        # a model rebuilt from scratch has other automatic layer names.
        self.engine.load_state_dict({**state, "keyed": False} if isinstance(state, dict) else state)
        self._lr = self.engine.lr

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    _engine_cls = _optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        self.momentum = _number(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and not self.momentum:
            raise ValueError("SGD: nesterov=True needs momentum > 0")

    def _engine_kwargs(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    _engine_cls = _optim.AdamW     # AdamW with weight_decay 0 is Adam; Keras' decay is decoupled
    _decay_outside = False

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        who = type(self).__name__
        self.beta_1 = _number(beta_1, "beta_1", who, 0.0, 1.0, open_hi=True)
        self.beta_2 = _number(beta_2, "beta_2", who, 0.0, 1.0, open_hi=True)
        self.epsilon = _number(epsilon, "epsilon", who)

    def _engine_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "weight_decay": self.weight_decay or 0.0}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kwargs)

    def get_config(self):
        cfg = super().get_config()
        cfg.setdefault("weight_decay", 0.0)
        return cfg


class RMSprop(Optimizer):
    _engine_cls = _optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, **kwargs):
        super().__init__(learning_rate, weight_decay, **kwargs)
        self.rho = _number(rho, "rho", "RMSprop", 0.0, 1.0, open_hi=True)
        self.momentum = _number(momentum, "momentum", "RMSprop", 0.0, 1.0, open_hi=True)
        self.epsilon = _number(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)

    def _engine_kwargs(self):
        # Keras 3's update: v = rho v + (1 - rho) g^2; step = lr g / sqrt(v (- E[g]^2) + epsilon)
        return {"alpha": self.rho, "eps": self.epsilon, "momentum": self.momentum, "centered": self.centered,
                "eps_inside": True}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier, where="compile: optimizer"):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"{where}: unknown optimizer {identifier!r}.{did_you_mean(identifier, _BY_NAME)} "
                             f"Known: {', '.join(sorted(_BY_NAME))}, or an optimizer object such as dt.optimizers.Adam(learning_rate=1e-3)")
        return cls()
    raise TypeError(f"{where}: expected an optimizer name or a dt.optimizers object, got "
                    f"{type(identifier).__name__}")


def from_config(class_name, config):
    cls = _BY_NAME.get(class_name.lower())
    if cls is None or cls.__name__ != class_name:
        raise ValueError(f"unknown optimizer class {class_name!r} in the saved model")
    return cls.from_config(config)
