"""Adadelta (PyTorch's and Keras 3's form: eps inside both square roots)."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class Adadelta(Optimizer):
    """sq = rho sq + (1 - rho) g^2; d = sqrt(acc_delta + eps) / sqrt(sq + eps) g;
    acc_delta = rho acc_delta + (1 - rho) d^2; p -= lr d. L2 weight decay (g += wd p)."""
    state_names = ("square_avg", "acc_delta")
    hyper_names = ("rho", "eps", "weight_decay")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: rho must lie in [0, 1], got {rho!r}")
        self.rho = float(rho)
        self.eps = check_nonneg(eps, "eps", "Adadelta")
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "Adadelta")
        super().__init__(params, lr)

    def _update(self, grp):
        st = grp.state
        self.K.adadelta_update(grp.params, grp.grads, st["square_avg"], st["acc_delta"], self.lr, rho=self.rho,
                               eps=self.eps, weight_decay=self.weight_decay)
