"""Adagrad: the sum of squared gradients scales each step (PyTorch's form by default; with
`eps_inside=True` Keras 3's, whose denominator is sqrt(acc + eps))."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class Adagrad(Optimizer):
    """acc += g^2; p -= lr_t g / (sqrt(acc) + eps), lr_t = lr / (1 + (t - 1) lr_decay); L2 weight decay."""
    state_names = ("sum",)
    hyper_names = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "eps_inside")

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 eps_inside=False):
        who = "Adagrad"
        self.lr_decay = check_nonneg(lr_decay, "lr_decay", who)
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", who)
        self.initial_accumulator_value = check_nonneg(initial_accumulator_value, "initial_accumulator_value", who)
        self.eps = check_nonneg(eps, "eps", who)
        self.eps_inside = bool(eps_inside)
        super().__init__(params, lr)
        if self.initial_accumulator_value:
            for grp in self._groups:
                acc = grp.state["sum"]
                self.K.copy_into(acc, self.K.full(acc.shape, self.initial_accumulator_value, grp.dtype))

    def _update(self, grp):
        lr = self.lr / (1.0 + (self.steps - 1) * self.lr_decay)
        self.K.adagrad_update(grp.params, grp.grads, grp.state["sum"], lr, eps=self.eps,
                              weight_decay=self.weight_decay, eps_inside=self.eps_inside)
