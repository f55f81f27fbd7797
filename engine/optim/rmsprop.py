"""RMSprop, in PyTorch's form (eps added outside the square root) by default, with torch's
`momentum` and `centered`; `eps_inside=True` gives Keras 3's form (denominator sqrt(v + eps),
momentum accumulating lr-scaled steps), which dptrain.optimizers.RMSprop uses."""
from __future__ import annotations

from .optimizer import Optimizer, check_nonneg


class RMSprop(Optimizer):
    hyper_names = ("alpha", "eps", "weight_decay", "momentum", "centered", "eps_inside")

    def __init__(self, params, lr=1e-3, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 eps_inside=False):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"RMSprop: alpha must lie in [0, 1), got {alpha!r}")
        self.alpha = float(alpha)
        self.eps = check_nonneg(eps, "eps", "RMSprop")
        self.weight_decay = check_nonneg(weight_decay, "weight_decay", "RMSprop")
        self.momentum = check_nonneg(momentum, "momentum", "RMSprop")
        self.centered = bool(centered)
        self.eps_inside = bool(eps_inside)
        self.state_names = ("square_avg",) + (("momentum_buffer",) if self.momentum else ()) + \
            (("grad_avg",) if self.centered else ())
        super().__init__(params, lr)

    def _update(self, grp):
        st = grp.state
        self.K.rmsprop_update(grp.params, grp.grads, st["square_avg"], self.lr, rho=self.alpha, eps=self.eps,
                              weight_decay=self.weight_decay, momentum=self.momentum,
                              buf=st.get("momentum_buffer"), grad_avg=st.get("grad_avg"),
                              eps_inside=self.eps_inside)
