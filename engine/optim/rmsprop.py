"""RMSprop (PyTorch semantics: eps added outside the square root, no momentum)."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class RMSprop(Optimizer):
    state_names = ("square_avg",)
    hyper_names = ("alpha", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, alpha=0.99, eps=1e-8, weight_decay=0.0):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"RMSprop: alpha must lie in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)
        self.eps = check_nonneg(eps, "eps", "RMSprop")
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "RMSprop")
        super().__init__(params, lr)

    def _update(self, grp):
        self.K.rmsprop_update(grp.params, grp.grads, grp.state["square_avg"], self.lr,
                              rho=self.alpha, eps=self.eps, weight_decay=self.weight_decay)
