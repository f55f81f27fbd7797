"""Keras 3 layers: activation_layers family (being filled in)."""
from __future__ import annotations

__all__: list[str] = []
