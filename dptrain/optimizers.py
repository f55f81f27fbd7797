"""Keras 3 optimisers (`learning_rate=`, `beta_1=`, ...) over the engine's flat-buffer optimisers.

`build(params)` creates the engine optimiser, which moves every param and its gradient into
one contiguous buffer per dtype; an update is then one fused kernel over that buffer. One
update runs as Keras 3's `apply`: gradient clipping (`clipnorm` per weight, `global_clipnorm`,
or `clipvalue`), decoupled weight decay (p -= lr * weight_decay * p), the optimiser's step at
the learning rate of the current iteration (a float, a `schedules` object or a callable), then
the EMA of the weights (`use_ema`). The numerics are Keras 3's, with the epsilon where Keras
puts it (Adam's is rescaled each step so that the fused kernel computes Keras' formula).
"""
from __future__ import annotations

import math
import numbers
import re
import warnings

import numpy as np

from engine import backend as _backend
from engine import optim as _optim
from engine.tensor import Tensor

from . import schedules
from .schedules import LearningRateSchedule
from .suggest import did_you_mean

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Lion", "Nadam", "Optimizer", "RMSprop",
           "deserialize", "get", "schedules", "serialize"]


def _snake(name):
    """Keras' automatic optimiser names: "SGD" -> "sgd", "AdamW" -> "adam_w", "RMSprop" -> "rm_sprop"."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _number(v, name, who, lo=0.0, hi=None, open_hi=False, open_lo=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (v > lo if open_lo else v >= lo) or \
            (hi is not None and (v >= hi if open_hi else v > hi)):
        rng = f"{'(' if open_lo else '['}{lo}, {hi}{')' if open_hi else ']'}" if hi is not None else \
            f"{'>' if open_lo else '>='} {lo}"
        raise ValueError(f"{who}: {name} must be a number {rng}, got {v!r}")
    return float(v)


def _optional(v, name, who, positive=False):
    if v is None:
        return None
    return _number(v, name, who, open_lo=positive)


# Set by fit while a user's train_step runs under data parallelism (dptrain/models/custom_step.py):
# called as hook(optimizer) by apply(grads, variables) once the gradients are in the flat buffer, it
# all-reduces them; False skips the update.
_gradient_hook = None


class Optimizer:
    """Base of the Keras-facing optimisers; a subclass names its engine class and arguments."""
    _engine_cls = None
    _decay_outside = True     # weight decay as a separate pass (False: the engine kernel decays)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        who = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=3)
        if kwargs:
            raise ValueError(f"{who}: Argument(s) not recognized: {kwargs}")
        self._schedule = None
        self._lr = None
        self._set_lr(learning_rate, who)
        self.weight_decay = None if weight_decay is None else _number(weight_decay, "weight_decay", who)
        self.clipnorm = _optional(clipnorm, "clipnorm", who, positive=True)
        self.clipvalue = _optional(clipvalue, "clipvalue", who, positive=True)
        self.global_clipnorm = _optional(global_clipnorm, "global_clipnorm", who, positive=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{who}: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                             f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.use_ema = bool(use_ema)
        self.ema_momentum = _number(ema_momentum, "ema_momentum", who, 0.0, 1.0)
        if ema_overwrite_frequency is not None and (isinstance(ema_overwrite_frequency, bool) or not isinstance(
                ema_overwrite_frequency, (int, np.integer)) or ema_overwrite_frequency < 1):
            raise ValueError(f"{who}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if loss_scale_factor is not None:
            raise NotImplementedError(f"{who}: loss_scale_factor is not supported by dptrain (it trains in "
                                      f"float32, where loss scaling changes nothing); leave it None")
        self.loss_scale_factor = None
        if gradient_accumulation_steps is not None:
            raise NotImplementedError(f"{who}: gradient_accumulation_steps is not supported by dptrain yet; "
                                      f"use a larger batch_size instead")
        self.gradient_accumulation_steps = None
        self.name = name or _snake(who)
        self.engine = None          # the engine optimiser, once built
        self._params = None
        self._ema = None

    # --- building --------------------------------------------------------------------
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
        self.engine = self._engine_cls(keyed, lr=self._engine_lr(self._current_lr(0)), **self._engine_kwargs())
        self._params, self._keyed = params, keyed
        K = _backend.current
        # per-weight views of the flat grad buffers, for clipnorm and apply(grads): the engine's own,
        # which it bound to each param's .grad (so apply([v.grad ...]) finds its gradients in place)
        self._grad_views = {id(p): p.grad for p in params}
        self._ema = {dt: K.copy(self.engine.flat_params(dt)) for dt in self.engine.dtypes} if self.use_ema else None
        self._on_build()
        return self

    def _on_build(self):
        pass

    def _engine_lr(self, lr):
        return lr

    @property
    def built(self):
        return self.engine is not None

    def built_for(self, params):
        return self._params is not None and len(self._params) == len(params) and \
            all(a is b for a, b in zip(self._params, params))

    # --- the learning rate ----------------------------------------------------------------
    def _set_lr(self, value, who):
        if isinstance(value, LearningRateSchedule) or (callable(value) and not isinstance(value, numbers.Real)):
            self._schedule = value
            return
        if isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
            value = float(value)
        self._lr = _number(value, "learning_rate", who)

    def _current_lr(self, iterations=None):
        s = self._schedule
        if s is None:
            return self._lr
        if isinstance(s, LearningRateSchedule):
            value = s(self.iterations if iterations is None else iterations)
        else:
            value = s()
        value = float(value.item() if hasattr(value, "item") else value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{type(self).__name__}: the learning-rate schedule gave {value!r}; it must give "
                             f"a finite number >= 0")
        return value

    @property
    def learning_rate(self):
        """The learning rate of the next update (a schedule evaluated at `iterations`)."""
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._schedule, LearningRateSchedule) and not (
                isinstance(value, LearningRateSchedule) or callable(value)):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If you "
                            "need the learning rate to be settable, you should instantiate the optimizer with a "
                            "float `learning_rate` argument.")
        self._schedule = None
        self._set_lr(value, type(self).__name__)
        if self.engine is not None and self._schedule is None:
            self.engine.lr = self._engine_lr(self._lr)

    lr = learning_rate

    @property
    def iterations(self):
        """How many updates have been applied."""
        return self.engine.steps if self.engine is not None else 0

    # --- the update (the seam a data-parallel strategy hooks into) --------------------------
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
        """Clip the gradients in the flat buffers as Keras does (clipnorm, global_clipnorm or clipvalue)."""
        K = _backend.current
        eng = self.engine
        if self.clipnorm is not None:
            c = self.clipnorm
            for g in self._grad_views.values():
                norm = math.sqrt(K.sum_squares(g))
                if norm > c:          # g * c / max(norm, c); a NaN norm leaves g as it is (NaN)
                    K.copy_into(g, K.scale(g, c / norm))
        elif self.global_clipnorm is not None:
            c = self.global_clipnorm
            norm = math.sqrt(math.fsum(K.sum_squares(eng.flat_grads(dt)) for dt in eng.dtypes))
            if not math.isfinite(norm) or norm > c:   # Keras: a non-finite norm makes every gradient NaN
                f = c / norm if math.isfinite(norm) else math.nan
                for dt in eng.dtypes:
                    g = eng.flat_grads(dt)
                    K.copy_into(g, K.scale(g, f))
        elif self.clipvalue is not None:
            v = self.clipvalue
            for dt in eng.dtypes:
                g = eng.flat_grads(dt)
                K.copy_into(g, K.clip(g, -v, v))

    def apply(self, grads=None, trainable_variables=None):
        """One update.

        With no arguments (fit's train step): from the gradients already in the flat grad
        buffer, clipped by `clip()` before. As Keras' `apply(grads, trainable_variables)`: the
        gradients (arrays or tensors, one per variable, None for none) are written into the
        buffer and clipped first; the optimiser is built on `trainable_variables` if needed.
        """
        if grads is not None:
            self._take_grads(list(grads), trainable_variables)
            if _gradient_hook is not None and not _gradient_hook(self):
                return      # data-parallel fit (a custom train_step): the strategy skips this update
            self.clip()
        eng = self.engine
        lr = self._current_lr()
        K = _backend.current
        if self.weight_decay and self._decay_outside:
            f = 1.0 - lr * self.weight_decay
            for dt in eng.dtypes:
                p = eng.flat_params(dt)
                K.copy_into(p, K.scale(p, f))
        eng.lr = self._engine_lr(lr)
        self._before_step(lr)
        step = eng.steps
        eng.step()
        if self._ema is not None:
            self._update_ema(step)

    def apply_gradients(self, grads_and_vars):
        """Keras' `apply_gradients(zip(grads, vars))`; returns the iteration count."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self.iterations

    def _take_grads(self, grads, variables):
        who = type(self).__name__
        if variables is None:
            if not self.built:
                raise ValueError(f"{who}: When passing `grads` without `variables`, the optimizer must already be "
                                 f"built on a list of variables. Call `optimizer.build(trainable_variables)` first.")
            variables = self._params
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{who}.apply: got {len(grads)} gradients for {len(variables)} variables")
        if not self.built:
            self.build(variables)
        views = self._grad_views
        unknown = [getattr(v, "name", v) for v in variables if id(v) not in views]
        if unknown:
            raise ValueError(f"{who}: Unknown variable(s) {unknown}. This optimizer can only be called for the "
                             f"variables it was originally built with. When working with a new set of variables, "
                             f"you should recreate a new optimizer instance.")
        if all(g is None for g in grads):
            raise ValueError(f"{who}: No gradients provided for any variable.")
        K = _backend.current
        grads = [g.data if isinstance(g, Tensor) else g for g in grads]
        # a gradient that is its variable's .grad (loss.backward() wrote it into the flat buffer) stays
        # where it is; every other slot is cleared before the given gradients are copied in
        in_place = {id(v) for g, v in zip(grads, variables) if g is not None and g is views[id(v)]}
        if in_place:
            for p in self._params:
                if id(p) not in in_place:
                    K.copy_into(views[id(p)], K.zeros(views[id(p)].shape, views[id(p)].dtype))
        else:
            self.engine.zero_grad()
        for g, v in zip(grads, variables):
            if g is None:
                continue
            view = views[id(v)]
            if g is view:
                continue
            if tuple(g.shape) != tuple(view.shape):
                raise ValueError(f"{who}.apply: the gradient for {v.name!r} has shape {tuple(g.shape)}, the "
                                 f"variable {tuple(view.shape)}")
            K.copy_into(view, K.asarray(g, view.dtype) if isinstance(g, np.ndarray) else g)

    def _before_step(self, lr):
        pass

    # --- EMA of the weights -------------------------------------------------------------
    def _update_ema(self, step):
        K = _backend.current
        eng = self.engine
        m = self.ema_momentum if step else 0.0      # the first update copies the weights
        for dt, avg in self._ema.items():
            p = eng.flat_params(dt)
            K.copy_into(avg, K.add(K.scale(avg, m), K.scale(p, 1.0 - m)) if m else p)
        f = self.ema_overwrite_frequency
        if f and (step + 1) % f == 0:
            self._overwrite_with_ema()

    def _overwrite_with_ema(self):
        K = _backend.current
        for dt, avg in self._ema.items():
            K.copy_into(self.engine.flat_params(dt), avg)

    def finalize_variable_values(self, var_list=None):
        """At the end of training: with use_ema, the weights become their moving average (as Keras' fit does)."""
        if self.use_ema and self._ema is not None:
            self._overwrite_with_ema()

    def scale_loss(self, loss):
        return loss

    # --- checkpoints --------------------------------------------------------------------
    def get_config(self):
        lr = schedules.serialize(self._schedule) if isinstance(self._schedule, LearningRateSchedule) else \
            self.learning_rate
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum, "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": None, "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def _extra_state(self):
        return {}

    def _load_extra_state(self, extra):
        pass

    def state_dict(self):
        if self.engine is None:
            return None
        state = self.engine.state_dict()
        K = _backend.current
        state["keras"] = {"lr": self._lr, **self._extra_state(),
                          "ema": None if self._ema is None else
                          {str(dt): np.array(K.to_numpy(a), copy=True) for dt, a in self._ema.items()}}
        return state

    def load_state_dict(self, state):
        if self.engine is None:
            raise ValueError(f"{type(self).__name__}: build the optimiser before loading its state")
        # Params are matched by position (the model's weight order) and shape, not by name:
        # a model rebuilt from scratch has other automatic layer names.
        self.engine.load_state_dict({**state, "keyed": False} if isinstance(state, dict) else state)
        extra = state.get("keras") or {}
        if self._schedule is None:
            self._lr = float(extra["lr"]) if extra.get("lr") is not None else self.engine.lr
        self._load_extra_state(extra)
        if self._ema is not None and extra.get("ema"):
            K = _backend.current
            for dt, avg in self._ema.items():
                K.copy_into(avg, K.asarray(np.asarray(extra["ema"][str(dt)]), dt))

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """m = momentum * m - lr * g; p += m (nesterov: p += momentum * m - lr * g); plain p -= lr * g."""
    _engine_cls = _optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.momentum = _number(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _engine_kwargs(self):
        # nesterov without momentum is plain SGD in Keras; the engine refuses the combination
        return {"momentum": self.momentum, "nesterov": self.nesterov and bool(self.momentum)}

    # The engine keeps torch's buffer b = momentum * b + g and steps p -= lr * b, which is Keras'
    # update while lr stays constant. When lr changes, the buffer switches once to Keras' own form
    # (b = -m: the engine steps with lr 1 on lr-scaled gradients), so the numbers stay Keras'.
    def _on_build(self):
        self._keras_form = False
        self._form_lr = self.engine.lr

    def _engine_lr(self, lr):
        return 1.0 if getattr(self, "_keras_form", False) and self.momentum else lr

    def _before_step(self, lr):
        if not self.momentum or (not self._keras_form and lr == self._form_lr):
            return
        if not self._keras_form and self.engine.steps == 0:    # the buffer is still zero
            self._form_lr = lr
            return
        eng = self.engine
        if not self._keras_form:
            state = eng.state_dict()
            for arrays in state["state"].values():
                arrays["momentum_buffer"] = arrays["momentum_buffer"] * arrays["momentum_buffer"].dtype.type(
                    self._form_lr)
            eng.load_state_dict(state)
            self._keras_form = True
        eng.lr = 1.0
        K = _backend.current
        for dt in eng.dtypes:
            g = eng.flat_grads(dt)
            K.copy_into(g, K.scale(g, lr))

    def _extra_state(self):
        return {"sgd_keras_form": self._keras_form, "sgd_form_lr": self._form_lr}

    def _load_extra_state(self, extra):
        if "sgd_keras_form" in extra:
            self._keras_form = bool(extra["sgd_keras_form"])
            self._form_lr = float(extra["sgd_form_lr"])

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


def _beta(v, name, who):
    return _number(v, name, who, 0.0, 1.0, open_hi=True)


class Adam(Optimizer):
    """m, v as Adam; p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)."""
    _engine_cls = _optim.AdamW     # AdamW with weight_decay 0 is Adam; Keras' decay is decoupled
    _decay_outside = False

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        who = type(self).__name__
        self.beta_1 = _beta(beta_1, "beta_1", who)
        self.beta_2 = _beta(beta_2, "beta_2", who)
        self.epsilon = _number(epsilon, "epsilon", who)
        if amsgrad:
            raise NotImplementedError(f"{who}: amsgrad=True is not supported by dptrain yet")
        self.amsgrad = False

    def _engine_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "weight_decay": self.weight_decay or 0.0}

    def _before_step(self, lr):
        # the kernel divides by sqrt(v / (1 - b2^t)) + eps'; Keras by (sqrt(v) + eps) / sqrt(1 - b2^t)
        self.engine.eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** (self.engine.steps + 1))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004), as Keras 3's AdamW."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2 (centered: minus E[g]^2); step = lr g / sqrt(v + epsilon), with momentum
    accumulated as m = momentum * m + step; p -= step (or m)."""
    _engine_cls = _optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.rho = _beta(rho, "rho", "RMSprop")
        self.momentum = _beta(momentum, "momentum", "RMSprop")
        self.epsilon = _number(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)

    def _engine_kwargs(self):
        return {"alpha": self.rho, "eps": self.epsilon, "momentum": self.momentum, "centered": self.centered,
                "eps_inside": True}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer):
    """acc += g^2 (acc starts at initial_accumulator_value); p -= lr * g / sqrt(acc + epsilon)."""
    _engine_cls = _optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.initial_accumulator_value = _number(initial_accumulator_value, "initial_accumulator_value", "Adagrad")
        self.epsilon = _number(epsilon, "epsilon", "Adagrad")

    def _engine_kwargs(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "eps": self.epsilon, "eps_inside": True}

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """acc_g = rho acc_g + (1 - rho) g^2; d = -sqrt(acc_d + epsilon) / sqrt(acc_g + epsilon) * g;
    acc_d = rho acc_d + (1 - rho) d^2; p += lr * d."""
    _engine_cls = _optim.Adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.rho = _number(rho, "rho", "Adadelta", 0.0, 1.0)
        self.epsilon = _number(epsilon, "epsilon", "Adadelta")

    def _engine_kwargs(self):
        return {"rho": self.rho, "eps": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adamax(Optimizer):
    """m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= lr * m / ((1 - b1^t) * (u + epsilon))."""
    _engine_cls = _optim.Adamax

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.beta_1 = _beta(beta_1, "beta_1", "Adamax")
        self.beta_2 = _beta(beta_2, "beta_2", "Adamax")
        self.epsilon = _number(epsilon, "epsilon", "Adamax")

    def _engine_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "eps_in_max": False}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras' momentum schedule u_t = b1 (1 - 0.5 * 0.96^t):
    p -= lr * (u_t+1 m / (1 - prod u_1..t+1) + (1 - u_t) g / (1 - prod u_1..t)) / (sqrt(v / (1 - b2^t)) + epsilon)."""
    _engine_cls = _optim.NAdam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        self.beta_1 = _beta(beta_1, "beta_1", "Nadam")
        self.beta_2 = _beta(beta_2, "beta_2", "Nadam")
        self.epsilon = _number(epsilon, "epsilon", "Nadam")

    def _engine_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "momentum_decay": 1.0}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Lion(Optimizer):
    """p -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g."""
    _engine_cls = _optim.Lion
    _decay_outside = False         # the kernel's decoupled decay is Keras' p -= lr * wd * p

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
                         ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, **kwargs)
        if isinstance(beta_1, bool) or not isinstance(beta_1, numbers.Real) or beta_1 <= 0 or beta_1 > 1:
            raise ValueError(f"Lion: Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
                             f"degenerates to SignSGD. Received: beta_1={beta_1}.")
        self.beta_1 = float(beta_1)
        self.beta_2 = _number(beta_2, "beta_2", "Lion", 0.0, 1.0)

    def _engine_kwargs(self):
        return {"betas": (self.beta_1, self.beta_2), "weight_decay": self.weight_decay or 0.0}

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta,
            "adamax": Adamax, "nadam": Nadam, "lion": Lion}

_COMMON = ("sgd", "adam", "adamw", "rmsprop")


def serialize(optimizer):
    """{"class_name": ..., "config": ...} of an optimiser."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """The optimizer a config made by `serialize` describes (custom_objects for your own classes)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"optimizers.deserialize: expected a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"optimizers.deserialize: unknown optimizer {name!r}.{did_you_mean(name, _BY_NAME)} "
                         f"Known: {', '.join(sorted(_BY_NAME))}")
    return cls.from_config(config.get("config", {}), custom_objects)


def get(identifier, where="compile: optimizer"):
    """A optimizer from a name, a config dict, an instance or a callable (as Keras' `get`)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            # the common optimisers first: "adma" means "adam" rather than "adamax"
            hint = did_you_mean(identifier, _COMMON) or did_you_mean(identifier, _BY_NAME)
            raise ValueError(f"{where}: unknown optimizer {identifier!r}.{hint} "
                             f"Known: {', '.join(sorted(_BY_NAME))}, or an optimizer object such as dt.optimizers.Adam(learning_rate=1e-3)")
        return cls()
    raise TypeError(f"{where}: expected an optimizer name or a dt.optimizers object, got "
                    f"{type(identifier).__name__}")


def from_config(class_name, config):
    cls = _BY_NAME.get(class_name.lower())
    if cls is None or cls.__name__ != class_name:
        raise ValueError(f"unknown optimizer class {class_name!r} in the saved model")
    return cls.from_config(config)
