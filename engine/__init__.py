"""The engine: tensors, the autograd tape, primitive ops and their backends.

engine/ never imports dptrain/ or launcher/.
"""
from .autograd import Function, backward, grad_tape, is_recording, no_grad
from .gradcheck import GradcheckError, gradcheck
from .random import manual_seed
from .tensor import Tensor, as_tensor, param, tensor
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all

__all__ = ["Function", "GradcheckError", "Tensor", "as_tensor", "backward", "grad_tape", "gradcheck",
           "is_recording", "manual_seed", "no_grad", "param", "tensor"] + list(_ops_all)
