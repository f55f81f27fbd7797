"""Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay)."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class Adam(Optimizer):
    state_names = ("exp_avg", "exp_avg_sq")
    hyper_names = ("betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        who = type(self).__name__
        try:
            b1, b2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: betas must be a pair of numbers, got {betas!r}") from None
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{who}: betas must lie in [0, 1), got {betas!r}")
        self.betas = (b1, b2)
        self.eps = check_nonneg(eps, "eps", who)
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", who)
        super().__init__(params, lr)

    def _update(self, grp):
        b1, b2 = self.betas
        self.K.adam_update(grp.params, grp.grads, grp.state["exp_avg"], grp.state["exp_avg_sq"], self.lr,
                           b1, b2, self.eps, self.steps, weight_decay=self.weight_decay, decoupled=self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
