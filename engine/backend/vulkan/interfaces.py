"""What the host must know about each shader in shaders/: its bindings, which of them
it writes, the push-constant layout and the specialization-constant ids.

Kept beside the .comp sources' own header comments; a mismatch shows up at once in
tests/engine/backend/test_vulkan_ops.py.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ShaderInterface:
    name: str
    bindings: int
    writes: tuple                    # binding indices the shader writes
    push: struct.Struct
    spec_ids: tuple = (0,)           # ids of the specialization constants passed, in order
    write_mask: tuple = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "write_mask", tuple(b in self.writes for b in range(self.bindings)))


def _iface(name, bindings, writes, push, spec_ids=(0,)):
    return ShaderInterface(name, bindings, tuple(writes), struct.Struct("<" + push), tuple(spec_ids))


UNARY = _iface("unary", 2, (1,), "IIIffI", (0, 2))
BINARY = _iface("binary", 3, (2,), "4I6I6I6IffI", (0, 2, 3))
STRIDED = _iface("strided", 2, (1,), "3I6I6i", (0, 2, 3))
GATHER = _iface("gather", 3, (2,), "5I")
SEGSUM = _iface("segsum", 3, (2,), "7I")
FILL = _iface("fill", 1, (0,), "IIf")
ONE_HOT = _iface("one_hot", 2, (1,), "4I")
REDUCE = _iface("reduce", 2, (1,), "7I", (0, 2, 3))
MATMUL = _iface("matmul", 3, (2,), "9I", (0, 1, 2, 3, 4, 5))
SOFTMAX = _iface("softmax", 3, (2,), "6I", (0, 2))
LAYER_NORM = _iface("layer_norm", 6, (3, 4, 5), "IIfI6I")
LAYER_NORM_GRAD = _iface("layer_norm_grad", 5, (4,), "8I")
IM2COL = _iface("im2col", 2, (1,), "17I")
COL2IM = _iface("col2im", 2, (1,), "17I")
POOL = _iface("pool", 3, (1, 2), "15I", (0, 2))
POOL_GRAD = _iface("pool_grad", 3, (2,), "15I", (0, 2))
SGD = _iface("sgd", 3, (0, 2), "4IfffI")
ADAM = _iface("adam", 4, (0, 2, 3), "5I7fI")
RMSPROP = _iface("rmsprop", 5, (0, 2, 3, 4), "7I5f")
ADAGRAD = _iface("adagrad", 3, (0, 2), "5I3f")
ADADELTA = _iface("adadelta", 4, (0, 2, 3), "5I4f")
ADAMAX = _iface("adamax", 4, (0, 2, 3), "6I5f")
NADAM = _iface("nadam", 4, (0, 2, 3), "5I7f")
LION = _iface("lion", 3, (0, 2), "4I4f")

ALL = (UNARY, BINARY, STRIDED, GATHER, SEGSUM, FILL, ONE_HOT, REDUCE, MATMUL, SOFTMAX, LAYER_NORM,
       LAYER_NORM_GRAD, IM2COL, COL2IM, POOL, POOL_GRAD, SGD, ADAM, RMSPROP, ADAGRAD, ADADELTA, ADAMAX, NADAM,
       LION)

# op codes (must match the constants in the .comp files)
U_COPY, U_NEG, U_SCALE, U_EXP, U_LOG, U_SQRT, U_ABS, U_SIGN, U_RELU, U_SIGMOID, U_TANH, U_GELU_TANH, \
    U_GELU_ERF, U_SILU, U_POW, U_CLIP, U_RECIP, U_ADD_SCALAR = range(18)
B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_EQ, B_COPY_B, B_RELU_GRAD, B_SIGMOID_GRAD, B_TANH_GRAD, \
    B_GELU_TANH_GRAD, B_GELU_ERF_GRAD, B_SILU_GRAD, B_CLIP_GRAD = range(14)
S_GATHER, S_SCATTER = range(2)
R_SUM, R_MAX, R_SUMSQ, R_NONFINITE = range(4)
SM_SOFTMAX, SM_LOG_SOFTMAX, SM_SOFTMAX_GRAD, SM_LOG_SOFTMAX_GRAD = range(4)
P_MAX, P_AVG = range(2)
