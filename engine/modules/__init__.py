"""Layers as modules: params discovered by attribute assignment, dotted names, state dicts."""
from . import init
from .attention import MultiheadAttention
from .container import Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .module import Module
from .norm import BatchNorm, LayerNorm
from .recurrent import GRU, LSTM

__all__ = ["BatchNorm", "Dropout", "Embedding", "GRU", "LSTM", "LayerNorm", "Linear", "Module",
           "MultiheadAttention", "Sequential", "init"]
