"""Learning-rate schedules: call `sched.step()` once per epoch; they set `optimizer.lr`."""
from __future__ import annotations

import math

from .optimizer import Optimizer, check_nonneg


class LRScheduler:
    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer) and not hasattr(optimizer, "lr"):
            raise TypeError(f"{type(self).__name__}: expected an optimiser with an `lr` attribute, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.epoch = 0

    def lr_at(self, epoch):
        raise NotImplementedError

    def step(self):
        """Advance one epoch; returns the new learning rate."""
        self.epoch += 1
        self.optimizer.lr = lr = self.lr_at(self.epoch)
        return lr

    def state_dict(self):
        return {"type": type(self).__name__, "epoch": self.epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state):
        if state.get("type") != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the checkpoint is for {state.get('type')}")
        self.epoch = int(state["epoch"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.epoch)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)"""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = check_nonneg(gamma, "gamma", "StepLR")
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRScheduler):
    """lr = lr_min + (base_lr - lr_min) * (1 + cos(pi * epoch / T_max)) / 2, then lr_min after T_max."""

    def __init__(self, optimizer, T_max, lr_min=0.0):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max <= 0:
            raise ValueError(f"CosineLR: T_max must be a positive integer, got {T_max!r}")
        self.T_max = T_max
        self.lr_min = check_nonneg(lr_min, "lr_min", "CosineLR")
        super().__init__(optimizer)

    def lr_at(self, epoch):
        e = min(epoch, self.T_max)
        return self.lr_min + (self.base_lr - self.lr_min) * (1.0 + math.cos(math.pi * e / self.T_max)) / 2.0
