"""Optimisers over flat parameter buffers, and learning-rate schedules (`ag.optim`)."""
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedulers import CosineLR, LRScheduler, StepLR
from .sgd import SGD

__all__ = ["Adam", "AdamW", "CosineLR", "LRScheduler", "Optimizer", "RMSprop", "SGD", "StepLR"]
