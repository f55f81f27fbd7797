"""Learning-rate schedules (`dt.optimizers.schedules`), as Keras 3's `keras.optimizers.schedules`.

A schedule is a callable `schedule(step) -> learning rate` with `get_config()`; passed as an
optimiser's `learning_rate=`, it is evaluated at the optimiser's iteration count (0 for the first
update) before every update, as Keras does. Values are Python floats (Keras returns float32
tensors: the same numbers to float32 precision).
"""
from __future__ import annotations

import math
import numbers

__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule",
           "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "serialize"]


def _positive(v, name, who):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0:
        raise ValueError(f"{who}: Argument `{name}` must be > 0. Received: {name}={v!r}")
    return v


def _real(v, name, who):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{who}: {name} must be a finite number, got {v!r}")
    return v


def _step(step):
    return float(step.item() if hasattr(step, "item") else step)


class LearningRateSchedule:
    """Base class: override `__call__(self, step)` and `get_config()`."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
                                  f"in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            cfg = self.get_config()
        except NotImplementedError:
            return f"<{type(self).__name__}>"
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})"


class ExponentialDecay(LearningRateSchedule):
    """lr = initial_learning_rate * decay_rate ^ (step / decay_steps) (the exponent floored with staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        who = "ExponentialDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _positive(decay_steps, "decay_steps", who)
        self.decay_rate = _real(decay_rate, "decay_rate", who)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(f"PiecewiseConstantDecay: The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        for b in boundaries:
            _real(b, "each boundary", "PiecewiseConstantDecay")
        if any(b2 < b1 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must be increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        s = _step(step)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return float(v)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """lr = (initial - end) * (1 - step / decay_steps) ^ power + end, step capped at decay_steps;
    with cycle, decay_steps grows to the next multiple of itself instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        who = "PolynomialDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _positive(decay_steps, "decay_steps", who)
        self.end_learning_rate = _real(end_learning_rate, "end_learning_rate", who)
        self.power = _real(power, "power", who)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        s, decay_steps = _step(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, decay_steps)
        p = s / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """lr = initial_learning_rate / (1 + decay_rate * step / decay_steps) (the ratio floored with staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        who = "InverseTimeDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _positive(decay_steps, "decay_steps", who)
        self.decay_rate = _real(decay_rate, "decay_rate", who)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from initial_learning_rate to warmup_target over warmup_steps, then
    lr = peak * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2 + alpha), s capped at decay_steps;
    peak is warmup_target (initial_learning_rate without warmup)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        who = "CosineDecay"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", who)
        self.decay_steps = _positive(decay_steps, "decay_steps", who)
        self.alpha = _real(alpha, "alpha", who)
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = None if warmup_target is None else _real(warmup_target, "warmup_target", who)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Real) or warmup_steps < 0:
            raise ValueError(f"{who}: warmup_steps must be a number >= 0, got {warmup_steps!r}")

    def _decay(self, s, peak):
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return peak * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        s = _step(step)
        if self.warmup_target is None:
            return self._decay(min(s, self.decay_steps), self.initial_learning_rate)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            frac = s / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * frac + self.initial_learning_rate
        return self._decay(s - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """SGDR: cosine decay over first_decay_steps, then restarts; each period is t_mul times longer
    and each restart's peak m_mul times lower; alpha is the floor as a fraction of the peak."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        who = "CosineDecayRestarts"
        self.initial_learning_rate = _real(initial_learning_rate, "initial_learning_rate", who)
        self.first_decay_steps = _positive(first_decay_steps, "first_decay_steps", who)
        self._t_mul = _real(t_mul, "t_mul", who)
        self._m_mul = _real(m_mul, "m_mul", who)
        self.alpha = _real(alpha, "alpha", who)
        self.name = name

    def __call__(self, step):
        frac = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            i_restart = math.floor(frac)
            frac -= i_restart
        else:
            i_restart = math.floor(math.log(1.0 - frac * (1.0 - t_mul)) / math.log(t_mul))
            sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
            frac = (frac - sum_r) / t_mul ** i_restart
        cosine = 0.5 * self._m_mul ** i_restart * (1.0 + math.cos(math.pi * frac))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BY_NAME = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                                    CosineDecay, CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """{"class_name": ..., "config": ...} of a schedule (what an optimiser's get_config holds)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(f"schedules.serialize: expected a LearningRateSchedule, got "
                        f"{type(learning_rate_schedule).__name__}")
    return {"class_name": type(learning_rate_schedule).__name__, "config": learning_rate_schedule.get_config()}


def deserialize(config, custom_objects=None):
    """The schedule of a `serialize()` dict; custom schedule classes by name in `custom_objects`."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"schedules.deserialize: expected a dict with 'class_name' and 'config', got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name)
    if cls is None:
        from . import saving
        cls = saving.get_registered_object(name)
    if cls is None:
        raise ValueError(f"schedules.deserialize: unknown schedule {name!r}; known: {', '.join(sorted(_BY_NAME))} "
                         f"(pass custom_objects= for your own)")
    return cls.from_config(config.get("config", {}))
