"""NAdam: Adam with Nesterov momentum and a momentum schedule (PyTorch's form;
`momentum_decay=1.0` gives Keras 3's schedule mu_t = b1 (1 - 0.5 * 0.96^t))."""
from __future__ import annotations

from .adamax import check_betas
from .optimizer import Optimizer, check_nonneg


class NAdam(Optimizer):
    """mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay)); m, v as Adam;
    p -= lr ((1 - mu_t) / (1 - prod mu_1..t) g + mu_t+1 / (1 - prod mu_1..t+1) m) / (sqrt(v / (1 - b2^t)) + eps).
    L2 weight decay. The product of the mu is a function of the step count, so it needs no state."""
    state_names = ("exp_avg", "exp_avg_sq")
    hyper_names = ("betas", "eps", "weight_decay", "momentum_decay")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3):
        self.betas = check_betas(betas, "NAdam")
        self.eps = check_nonneg(eps, "eps", "NAdam")
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "NAdam")
        self.momentum_decay = check_nonneg(momentum_decay, "momentum_decay", "NAdam")
        self._mu_cache = (0, 1.0)           # (t, prod mu_1..t)
        super().__init__(params, lr)

    def _mu(self, t):
        return self.betas[0] * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def _mu_product(self, t):
        t0, prod = self._mu_cache
        if t0 > t:
            t0, prod = 0, 1.0
        for i in range(t0 + 1, t + 1):
            prod *= self._mu(i)
        self._mu_cache = (t, prod)
        return prod

    def _coefficients(self, t):
        mu, mu_next = self._mu(t), self._mu(t + 1)
        prod = self._mu_product(t)
        coef_g = self.lr * (1.0 - mu) / (1.0 - prod)
        coef_m = self.lr * mu_next / (1.0 - prod * mu_next)
        return coef_g, coef_m, 1.0 - self.betas[1] ** t

    def _update(self, grp):
        b1, b2 = self.betas
        coef_g, coef_m, bc2 = self._coefficients(self.steps)
        self.K.nadam_update(grp.params, grp.grads, grp.state["exp_avg"], grp.state["exp_avg_sq"], b1, b2, self.eps,
                            coef_g, coef_m, bc2, weight_decay=self.weight_decay)
