"""The engine's random state: one numpy Generator, reseedable for reproducible runs."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed parameter initialisation, dropout masks and data shuffling."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    return _rng
