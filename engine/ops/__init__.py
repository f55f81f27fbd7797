"""Every differentiable op, each built on the backend's kernels."""
from .conv import (avg_pool2d, conv1d, conv1d_transpose, conv2d, conv2d_transpose, depthwise_conv1d,
                   depthwise_conv2d, max_pool2d)
from .elementwise import (abs, add, cast, clamp, div, exp, gelu, log, mul, neg, pow, relu, scale,
                          sigmoid, silu, sqrt, sub, tanh)
from .layout import concat, getitem, reshape, transpose
from .linalg import matmul
from .losses import binary_cross_entropy, cross_entropy_loss, mse_loss, softmax_cross_entropy_loss
from .nn import batch_norm, dropout, embedding, layer_norm, log_softmax, softmax
from .recurrent import gru, lstm
from .reduce import max, mean, sum



def primitive_names():
    """Names of every primitive Function defined in engine.ops (for parity tests)."""
    from ..autograd import Function
    seen, stack = set(), list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            stack.extend(cls.__subclasses__())
    return {c.__name__ for c in seen if c.__module__.startswith(__name__)}


_DOCS = {
    "abs": "|a|, elementwise.", "add": "a + b, elementwise, with numpy broadcasting.",
    "sub": "a - b, elementwise, with broadcasting.", "mul": "a * b, elementwise, with broadcasting.",
    "div": "a / b, elementwise, with broadcasting.", "neg": "-a, elementwise.", "exp": "e ** a, elementwise.",
    "log": "The natural logarithm, elementwise.", "sqrt": "The square root, elementwise.",
    "relu": "max(a, 0), elementwise.", "sigmoid": "1 / (1 + exp(-a)), elementwise.",
    "tanh": "The hyperbolic tangent, elementwise.", "silu": "a * sigmoid(a) (swish), elementwise.",
    "clamp": "a clipped to [min, max] (either bound may be None); the gradient passes inside the bounds.",
    "cast": "a converted to `dtype` (float32, float16, float64 or an integer type; integers carry no gradient).",
    "concat": "The tensors joined along `axis` (every other axis must match).",
    "getitem": "a[index] with numpy's basic indexing (ints, slices, None, ...) and integer arrays.",
    "reshape": "a with a new shape of the same size (one -1 allowed).",
    "matmul": "a @ b: matrix product over the last two axes, batched over the leading ones.",
    "sum": "The sum over `axis` (all axes when None), keeping reduced axes with keepdims.",
    "mean": "The mean over `axis` (all axes when None), keeping reduced axes with keepdims.",
    "max": "The maximum over `axis` (all axes when None); the gradient goes to the first maximum.",
    "softmax": "exp(a) / sum(exp(a)) along `axis`, computed stably.",
    "log_softmax": "log(softmax(a)) along `axis`, computed stably.",
    "mse_loss": "mean((pred - target) ** 2): the mean squared error over every element.",
    "max_pool2d": "Max pooling of [N, H, W, C] inputs over `pool_size` windows (padding 'valid' or 'same').",
    "avg_pool2d": "Average pooling of [N, H, W, C] inputs over `pool_size` windows (padding 'valid' or 'same').",
}
for _name, _doc in _DOCS.items():
    _fn = globals()[_name]
    if not (_fn.__doc__ or "").strip():
        _fn.__doc__ = _doc

__all__ = [
    "abs", "add", "avg_pool2d", "batch_norm", "binary_cross_entropy", "cast", "clamp", "concat",
    "conv1d", "conv1d_transpose", "conv2d", "conv2d_transpose", "cross_entropy_loss", "depthwise_conv1d",
    "depthwise_conv2d", "div", "dropout", "embedding", "exp", "gelu", "getitem",
    "gru", "layer_norm", "log", "log_softmax", "lstm", "matmul", "max", "max_pool2d", "mean", "mse_loss", "mul", "neg",
    "pow", "relu", "reshape", "scale", "sigmoid", "silu", "softmax", "softmax_cross_entropy_loss",
    "sqrt", "sub", "sum", "tanh", "transpose",
]
