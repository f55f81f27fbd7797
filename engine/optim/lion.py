"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as Keras 3 has it."""
from __future__ import annotations

from .adamax import check_betas
from .optimizer import Optimizer, check_nonneg


class Lion(Optimizer):
    """p *= 1 - lr wd; p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g (decoupled weight decay)."""
    state_names = ("exp_avg",)
    hyper_names = ("betas", "weight_decay")

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        self.betas = check_betas(betas, "Lion", closed=True)
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "Lion")
        super().__init__(params, lr)

    def _update(self, grp):
        b1, b2 = self.betas
        self.K.lion_update(grp.params, grp.grads, grp.state["exp_avg"], self.lr, b1, b2,
                           weight_decay=self.weight_decay)
