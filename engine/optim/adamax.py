"""Adamax: Adam with the infinity norm (PyTorch's form by default; `eps_in_max=False` is
Keras 3's, which adds eps to the norm in the denominator instead of to |g| inside the max)."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


def check_betas(betas, who, closed=False):
    """(b1, b2) as floats in [0, 1) ([0, 1] with closed=True)."""
    try:
        b1, b2 = (float(b) for b in betas)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: betas must be a pair of numbers, got {betas!r}") from None
    ok = (lambda b: 0.0 <= b <= 1.0) if closed else (lambda b: 0.0 <= b < 1.0)
    if not (ok(b1) and ok(b2)):
        raise ValueError(f"{who}: betas must lie in [0, {'1]' if closed else '1)'}, got {betas!r}")
    return b1, b2


class Adamax(Optimizer):
    """m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) m / u. L2 weight decay."""
    state_names = ("exp_avg", "exp_inf")
    hyper_names = ("betas", "eps", "weight_decay", "eps_in_max")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, eps_in_max=True):
        self.betas = check_betas(betas, "Adamax")
        self.eps = check_nonneg(eps, "eps", "Adamax")
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "Adamax")
        self.eps_in_max = bool(eps_in_max)
        super().__init__(params, lr)

    def _update(self, grp):
        b1, b2 = self.betas
        self.K.adamax_update(grp.params, grp.grads, grp.state["exp_avg"], grp.state["exp_inf"], self.lr, b1, b2,
                             self.eps, self.steps, weight_decay=self.weight_decay, eps_in_max=self.eps_in_max)
