"""SGD with optional (Nesterov) momentum and L2 weight decay (PyTorch semantics, dampening 0)."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class SGD(Optimizer):
    hyper_names = ("momentum", "nesterov", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.momentum = check_nonneg(momentum, "momentum", "SGD")
        self.nesterov = bool(nesterov)
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "SGD")
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        if self.momentum:
            self.state_names = ("momentum_buffer",)
        super().__init__(params, lr)

    def _update(self, grp):
        self.K.sgd_update(grp.params, grp.grads, grp.state.get("momentum_buffer"), self.lr,
                          momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.weight_decay)
