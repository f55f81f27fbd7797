"""Models: the functional Model, Sequential, training, saving."""
from .functional import Model
from .saving import load_model
from .sequential import Sequential
from .strategy import SingleProcessStrategy, current_strategy, set_strategy

__all__ = ["Model", "Sequential", "SingleProcessStrategy", "current_strategy", "load_model", "set_strategy"]
