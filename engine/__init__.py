"""The engine: tensors, the autograd tape, primitive ops and their backends.

engine/ never imports dptrain/ or launcher/.
"""
from .autograd import Function, backward, grad_tape, is_recording, no_grad
from .device import device, dtype, sync, vulkan_available, vulkan_status
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .tensor import Tensor, as_tensor, param, tensor
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all

__all__ = ["Function", "GradcheckError", "Tensor", "as_tensor", "backward", "device", "dtype", "grad_tape",
           "gradcheck", "is_recording", "manual_seed", "no_grad", "param", "sync", "tensor", "vulkan_available",
           "vulkan_status"] + list(_ops_all)

# Training kit: modules, optimisers, clipping, data loading, checkpoints.
from . import optim
from .clip import clip_grad_norm
from .data import DataLoader
from .modules import (GRU, LSTM, BatchNorm, Dropout, Embedding, LayerNorm, Linear, Module, MultiheadAttention,
                      Sequential)
from .serialize import CorruptFileError, load, save

__all__ += ["BatchNorm", "CorruptFileError", "DataLoader", "Dropout", "Embedding", "GRU", "LSTM", "LayerNorm",
            "Linear", "Module", "MultiheadAttention", "Sequential", "clip_grad_norm", "load", "optim", "save"]
