"""Dropout: inverted dropout with a fresh mask per call; the identity in eval mode."""
from __future__ import annotations

import numbers

from .. import ops
from .module import Module


class Dropout(Module):
    """Zeroes each element with probability `p` in training (`module.train()`), scaling the rest by
    1 / (1 - p); the identity in `eval()` mode. Masks come from the engine generator (`manual_seed`)."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return ops.dropout(x, self.p, training=self.training)

    def extra_repr(self):
        return f"p={self.p}"
