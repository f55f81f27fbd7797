"""The backend contract: a table from kernel name to implementation.

Autograd Functions (engine/ops) never touch numpy or Vulkan directly: they call
kernels on `backend.current`, an object with one method per name in KERNELS.
numpy is the reference and always present; the Vulkan backend implements the
same table with shaders.
"""
from __future__ import annotations

from .numpy_backend import NumpyBackend

# Every kernel a backend must provide (checked by tests/engine/test_parity.py).
KERNELS = (
    # host <-> device, allocation
    "asarray", "to_numpy", "zeros", "full", "copy", "astype", "copy_into", "add_into", "split_views",
    # elementwise binary (numpy broadcasting)
    "add", "sub", "mul", "div", "pow", "pow_scalar",
    # elementwise unary and what their backward needs
    "neg", "scale", "exp", "log", "sqrt", "abs", "sign", "clip", "clip_grad",
    "relu", "relu_grad", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad",
    "gelu", "gelu_grad", "silu", "silu_grad",
    # reductions
    "sum", "max", "max_grad", "sum_to", "broadcast_to", "sum_squares", "all_finite",
    # layout
    "reshape", "transpose", "getitem", "getitem_grad", "getitem_grad_into", "concat", "one_hot",
    # linear algebra
    "matmul",
    # fused neural-network kernels: forward returns (y, ctx), backward takes ctx
    "softmax", "softmax_grad", "log_softmax", "log_softmax_grad",
    "conv2d", "conv2d_backward", "conv2d_transpose", "conv2d_transpose_backward", "max_pool2d", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward", "embedding", "embedding_grad",
    "dropout_mask", "layer_norm", "layer_norm_backward", "batch_norm", "batch_norm_backward",
    "lstm_seq", "lstm_seq_backward", "gru_seq", "gru_seq_backward",
    # fused optimiser updates over flat buffers
    "sgd_update", "adam_update", "rmsprop_update", "adagrad_update", "adadelta_update", "adamax_update",
    "nadam_update", "lion_update",
)

numpy_backend = NumpyBackend()


def set_current(backend) -> None:
    global current
    current = backend


def __getattr__(name):
    # `current` is chosen lazily, at its first read, from DPTRAIN_BACKEND / DPTRAIN_DEVICE
    # (engine/device.py), so importing the engine never touches the Vulkan loader.
    if name == "current":
        from ..device import initial_backend
        chosen = initial_backend()
        if "current" not in globals():   # set_current() may have run meanwhile
            set_current(chosen)
        return globals()["current"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
