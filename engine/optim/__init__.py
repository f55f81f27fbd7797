"""Optimisers over flat parameter buffers, and learning-rate schedules (`ag.optim`)."""
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lion import Lion
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedulers import CosineLR, LRScheduler, StepLR
from .sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "CosineLR", "LRScheduler", "Lion", "NAdam", "Optimizer",
           "RMSprop", "SGD", "StepLR"]
