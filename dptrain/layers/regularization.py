"""Keras 3 layers: regularization family (being filled in)."""
from __future__ import annotations

__all__: list[str] = []
