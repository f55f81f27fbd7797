"""dt.ops (keras.ops): values against float64 numpy references, gradients against finite
differences (engine.gradcheck), dtypes and no-gradient results, ops inside custom layers and
on symbolic tensors, and the same ops on Vulkan where a device is present."""
import math
import os

import numpy as np
import pytest

import dptrain as dt
import engine as ag
from dptrain import ops

R = np.random.default_rng(11)


def rn(*shape):
    return R.standard_normal(shape)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def away(*shape, lo=0.2):
    """Away from 0 (the kinks of abs, relu, ...)."""
    return R.uniform(lo, 1.5, shape) * R.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """Values with no ties and gaps well above the finite-difference step."""
    n = int(np.prod(shape))
    return (R.permutation(n) * 0.37 - n * 0.15).reshape(shape)


verf = np.vectorize(math.erf)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_conv(x, w, stride=(1, 1), padding="valid", dilation=(1, 1), groups=1):
    """Direct 2-D convolution, channels last, Keras' 'same' (extra padding at the end)."""
    kh, kw = w.shape[:2]
    eh, ew = (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1
    if padding == "same":
        pads = []
        for n, k, s in zip(x.shape[1:3], (eh, ew), stride):
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    ho = (x.shape[1] - eh) // stride[0] + 1
    wo = (x.shape[2] - ew) // stride[1] + 1
    cin_g, cout = w.shape[2], w.shape[3]
    per = cout // groups
    y = np.zeros((x.shape[0], ho, wo, cout))
    for o in range(cout):
        g = o // per
        for i in range(ho):
            for j in range(wo):
                for a in range(kh):
                    for b in range(kw):
                        pix = x[:, i * stride[0] + a * dilation[0], j * stride[1] + b * dilation[1],
                                g * cin_g:(g + 1) * cin_g]
                        y[:, i, j, o] += pix @ w[a, b, :, o]
    return y


def np_bilinear_axis(x, axis, n_out):
    n_in = x.shape[axis]
    out = []
    for d in range(n_out):
        src = max((d + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = min(int(math.floor(src)), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        w = src - lo
        out.append(np.take(x, lo, axis) * (1 - w) + np.take(x, hi, axis) * w)
    return np.stack(out, axis=axis)


# (id, fn over ops, float64 numpy reference, inputs)
CASES = [
    # arithmetic, with broadcasting
    ("add", ops.add, np.add, [rn(3, 4), rn(4)]),
    ("subtract", ops.subtract, np.subtract, [rn(3, 1), rn(1, 4)]),
    ("multiply", ops.multiply, np.multiply, [rn(3, 4), rn(3, 1)]),
    ("divide", ops.divide, np.divide, [rn(3, 4), pos(4)]),
    ("power_tensor", ops.power, np.power, [pos(3, 4), rn(4)]),
    ("power_number", lambda a: ops.power(a, 3), lambda a: a ** 3, [rn(5)]),
    ("square", ops.square, np.square, [rn(2, 3)]),
    ("negative", ops.negative, np.negative, [rn(4)]),
    ("abs", ops.abs, np.abs, [away(2, 3)]),
    ("sqrt", ops.sqrt, np.sqrt, [pos(5)]),
    ("exp", ops.exp, np.exp, [rn(5)]),
    ("log", ops.log, np.log, [pos(5)]),
    ("log2", ops.log2, np.log2, [pos(4)]),
    ("log10", ops.log10, np.log10, [pos(4)]),
    ("log1p", ops.log1p, np.log1p, [pos(4) - 0.4]),
    ("expm1", ops.expm1, np.expm1, [rn(4)]),
    ("reciprocal", ops.reciprocal, np.reciprocal, [pos(4)]),
    ("sin", ops.sin, np.sin, [rn(4)]),
    ("cos", ops.cos, np.cos, [rn(4)]),
    ("tan", ops.tan, np.tan, [rn(4) * 0.5]),
    ("arctan", ops.arctan, np.arctan, [rn(4)]),
    ("arcsin", ops.arcsin, np.arcsin, [R.uniform(-0.8, 0.8, 4)]),
    ("sinh", ops.sinh, np.sinh, [rn(4)]),
    ("cosh", ops.cosh, np.cosh, [rn(4)]),
    ("arcsinh", ops.arcsinh, np.arcsinh, [rn(4)]),
    ("arctanh", ops.arctanh, np.arctanh, [R.uniform(-0.8, 0.8, 4)]),
    ("arctan2", ops.arctan2, np.arctan2, [rn(4), away(4)]),
    ("tanh", ops.tanh, np.tanh, [rn(2, 3)]),
    ("mod", lambda a, b: ops.mod(a, b), np.mod, [rn(6) * 3, pos(6)]),
    ("logaddexp", ops.logaddexp, np.logaddexp, [rn(3, 4), rn(4)]),
    ("maximum", ops.maximum, np.maximum, [distinct(3, 4), distinct(4)]),
    ("minimum", ops.minimum, np.minimum, [distinct(3, 4), distinct(3, 4)]),
    ("maximum_number", lambda a: ops.maximum(a, 0.1), lambda a: np.maximum(a, 0.1), [away(6, lo=0.3)]),
    ("clip", lambda a: ops.clip(a, -0.5, 0.6), lambda a: np.clip(a, -0.5, 0.6), [away(8) * 1.7]),
    ("clip_tensor_bounds", ops.clip, np.clip, [distinct(2, 3), distinct(2, 3) - 1, distinct(2, 3) + 1]),
    ("where", lambda a, b: ops.where(ops.greater(a, 0), a, b),
     lambda a, b: np.where(a > 0, a, b), [rn(3, 4), rn(4)]),
    ("where_constant", lambda a: ops.where(np.arange(4) % 2 == 0, a, -7.0),
     lambda a: np.where(np.arange(4) % 2 == 0, a, -7.0), [rn(2, 4)]),
    ("nan_to_num", lambda a: ops.nan_to_num(ops.concatenate([a, np.array([np.nan, np.inf, -np.inf])]), posinf=9.0,
                                           neginf=-9.0),
     lambda a: np.nan_to_num(np.concatenate([a, [np.nan, np.inf, -np.inf]]), posinf=9.0, neginf=-9.0), [rn(3)]),
    # linear algebra
    ("matmul", ops.matmul, np.matmul, [rn(2, 3, 4), rn(4, 5)]),
    ("matmul_vector", ops.matmul, np.matmul, [rn(3, 4), rn(4)]),
    ("dot_matrix", ops.dot, np.dot, [rn(3, 4), rn(4, 2)]),
    ("dot_nd", ops.dot, np.dot, [rn(2, 3, 4), rn(5, 4, 2)]),
    ("dot_vectors", ops.dot, np.dot, [rn(4), rn(4)]),
    ("dot_scalar", ops.dot, np.dot, [rn(3, 2), np.array(1.5)]),
    ("tensordot", lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 1])),
     lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1])), [rn(2, 3, 4), rn(3, 4, 5)]),
    ("inner", ops.inner, np.inner, [rn(2, 4), rn(3, 4)]),
    ("outer", ops.outer, np.outer, [rn(3), rn(4)]),
    ("vdot", ops.vdot, np.vdot, [rn(2, 3), rn(2, 3)]),
    ("cross", ops.cross, np.cross, [rn(4, 3), rn(4, 3)]),
    ("einsum_matmul", lambda a, b: ops.einsum("ij,jk->ik", a, b), lambda a, b: np.einsum("ij,jk->ik", a, b),
     [rn(3, 4), rn(4, 2)]),
    ("einsum_batched", lambda a, b: ops.einsum("bij,bjk->bik", a, b), lambda a, b: np.einsum("bij,bjk->bik", a, b),
     [rn(2, 3, 4), rn(2, 4, 5)]),
    ("einsum_attention", lambda a, b: ops.einsum("bqhd,bkhd->bhqk", a, b),
     lambda a, b: np.einsum("bqhd,bkhd->bhqk", a, b), [rn(2, 3, 2, 4), rn(2, 5, 2, 4)]),
    ("einsum_rowdot", lambda a, b: ops.einsum("ij,ij->i", a, b), lambda a, b: np.einsum("ij,ij->i", a, b),
     [rn(3, 4), rn(3, 4)]),
    ("einsum_outer", lambda a, b: ops.einsum("i,j->ij", a, b), lambda a, b: np.einsum("i,j->ij", a, b),
     [rn(3), rn(4)]),
    ("einsum_implicit", lambda a, b: ops.einsum("ij,kj", a, b), lambda a, b: np.einsum("ij,kj", a, b),
     [rn(3, 4), rn(2, 4)]),
    ("einsum_ellipsis", lambda a, b: ops.einsum("...ij,jk->...ik", a, b),
     lambda a, b: np.einsum("...ij,jk->...ik", a, b), [rn(2, 2, 3, 4), rn(4, 2)]),
    ("einsum_broadcast_batch", lambda a, b: ops.einsum("bij,bjk->bik", a, b),
     lambda a, b: np.einsum("bij,bjk->bik", a, b), [rn(1, 3, 4), rn(2, 4, 5)]),
    ("einsum_trace", lambda a: ops.einsum("ii", a), lambda a: np.einsum("ii", a), [rn(3, 3)]),
    ("einsum_diagonal", lambda a: ops.einsum("ii->i", a), lambda a: np.einsum("ii->i", a), [rn(3, 3)]),
    ("einsum_sum_and_transpose", lambda a: ops.einsum("ijk->kj", a), lambda a: np.einsum("ijk->kj", a),
     [rn(2, 3, 4)]),
    ("einsum_three", lambda a, b, c: ops.einsum("ij,jk,kl->il", a, b, c),
     lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c), [rn(2, 3), rn(3, 4), rn(4, 2)]),
    # reductions
    ("sum_axis", lambda a: ops.sum(a, axis=1), lambda a: a.sum(1), [rn(3, 4)]),
    ("sum_keepdims", lambda a: ops.sum(a, axis=(0, 2), keepdims=True),
     lambda a: a.sum((0, 2), keepdims=True), [rn(2, 3, 4)]),
    ("mean", ops.mean, np.mean, [rn(3, 4)]),
    ("mean_axis", lambda a: ops.mean(a, axis=-1, keepdims=True), lambda a: a.mean(-1, keepdims=True), [rn(3, 4)]),
    ("max", lambda a: ops.max(a, axis=0), lambda a: a.max(0), [distinct(3, 4)]),
    ("max_all_initial", lambda a: ops.max(a, initial=-100.0), lambda a: np.max(a, initial=-100.0), [distinct(3)]),
    ("min", lambda a: ops.min(a, axis=1, keepdims=True), lambda a: a.min(1, keepdims=True), [distinct(3, 4)]),
    ("prod", lambda a: ops.prod(a, axis=1), lambda a: a.prod(1), [rn(3, 5)]),
    ("prod_with_zero", ops.prod, np.prod, [np.array([2.0, 0.0, -1.5, 3.0])]),
    ("std", lambda a: ops.std(a, axis=0), lambda a: a.std(0), [rn(4, 3)]),
    ("var", ops.var, np.var, [rn(4, 3)]),
    ("average_weights", lambda a: ops.average(a, axis=1, weights=np.array([1.0, 2.0, 0.5, 1.5])),
     lambda a: np.average(a, axis=1, weights=[1.0, 2.0, 0.5, 1.5]), [rn(3, 4)]),
    ("median_odd", lambda a: ops.median(a, axis=1), lambda a: np.median(a, 1), [distinct(2, 5)]),
    ("median_even", ops.median, np.median, [distinct(2, 3)]),
    ("cumsum", lambda a: ops.cumsum(a, axis=1), lambda a: np.cumsum(a, 1), [rn(3, 7)]),
    ("cumsum_flat", ops.cumsum, np.cumsum, [rn(2, 5)]),
    ("cumprod", lambda a: ops.cumprod(a, axis=0), lambda a: np.cumprod(a, 0), [rn(5, 2)]),
    ("logsumexp", lambda a: ops.logsumexp(a, axis=1), lambda a: np_logsumexp(a, 1), [rn(3, 4) * 5]),
    ("logsumexp_all", ops.logsumexp, np_logsumexp, [rn(3, 4)]),
    ("norm", ops.norm, np.linalg.norm, [rn(3, 4)]),
    ("norm_axis", lambda a: ops.norm(a, axis=-1, keepdims=True),
     lambda a: np.linalg.norm(a, axis=-1, keepdims=True), [rn(3, 4)]),
    ("norm_l1", lambda a: ops.norm(a, ord=1, axis=0), lambda a: np.linalg.norm(a, 1, axis=0), [away(3, 4)]),
    ("norm_inf", lambda a: ops.norm(a, ord=np.inf, axis=1), lambda a: np.linalg.norm(a, np.inf, axis=1),
     [distinct(3, 4)]),
    ("norm_p3", lambda a: ops.norm(a, ord=3, axis=1), lambda a: np.linalg.norm(a, 3, axis=1), [away(3, 4)]),
    ("norm_fro", lambda a: ops.norm(a, ord="fro"), lambda a: np.linalg.norm(a, "fro"), [rn(3, 4)]),
    ("norm_matrix_1", lambda a: ops.norm(a, ord=1), lambda a: np.linalg.norm(a, 1), [distinct(3, 4)]),
    ("norm_matrix_inf", lambda a: ops.norm(a, ord=np.inf, axis=(1, 2)),
     lambda a: np.linalg.norm(a, np.inf, axis=(1, 2)), [distinct(2, 3, 4)]),
    # shapes and layout
    ("reshape", lambda a: ops.reshape(a, (4, -1)), lambda a: a.reshape(4, -1), [rn(2, 6)]),
    ("transpose", lambda a: ops.transpose(a, (2, 0, 1)), lambda a: a.transpose(2, 0, 1), [rn(2, 3, 4)]),
    ("transpose_default", ops.transpose, np.transpose, [rn(2, 3, 4)]),
    ("swapaxes", lambda a: ops.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2), [rn(2, 3, 4)]),
    ("moveaxis", lambda a: ops.moveaxis(a, 0, -1), lambda a: np.moveaxis(a, 0, -1), [rn(2, 3, 4)]),
    ("expand_dims", lambda a: ops.expand_dims(a, (0, -1)), lambda a: np.expand_dims(a, (0, -1)), [rn(2, 3)]),
    ("squeeze", ops.squeeze, np.squeeze, [rn(1, 3, 1)]),
    ("squeeze_axis", lambda a: ops.squeeze(a, axis=-1), lambda a: np.squeeze(a, -1), [rn(1, 3, 1)]),
    ("broadcast_to", lambda a: ops.broadcast_to(a, (2, 3, 4)), lambda a: np.broadcast_to(a, (2, 3, 4)), [rn(3, 1)]),
    ("concatenate", lambda a, b: ops.concatenate([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1),
     [rn(2, 3), rn(2, 2)]),
    ("stack", lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1), [rn(2, 3), rn(2, 3)]),
    ("split_sections", lambda a: ops.split(a, 2, axis=1)[1], lambda a: np.split(a, 2, 1)[1], [rn(3, 4)]),
    ("split_indices", lambda a: ops.concatenate(ops.split(a, [1, 3], axis=1)[::-1], axis=1),
     lambda a: np.concatenate(np.split(a, [1, 3], 1)[::-1], 1), [rn(2, 5)]),
    ("take", lambda a: ops.take(a, np.array([[0, -1], [2, 0]]), axis=1),
     lambda a: np.take(a, [[0, 3], [2, 0]], axis=1), [rn(3, 4)]),
    ("take_flat", lambda a: ops.take(a, np.array([5, 0, 5])), lambda a: np.take(a, [5, 0, 5]), [rn(2, 3)]),
    ("take_along_axis", lambda a: ops.take_along_axis(a, np.array([[0, 2], [1, 1], [3, 0]]), axis=1),
     lambda a: np.take_along_axis(a, np.array([[0, 2], [1, 1], [3, 0]]), 1), [rn(3, 4)]),
    ("tile", lambda a: ops.tile(a, (2, 3)), lambda a: np.tile(a, (2, 3)), [rn(2, 2)]),
    ("repeat", lambda a: ops.repeat(a, 2, axis=0), lambda a: np.repeat(a, 2, 0), [rn(2, 3)]),
    ("repeat_counts", lambda a: ops.repeat(a, [1, 0, 3], axis=1), lambda a: np.repeat(a, [1, 0, 3], 1), [rn(2, 3)]),
    ("flip", lambda a: ops.flip(a, axis=1), lambda a: np.flip(a, 1), [rn(2, 3)]),
    ("flip_all", ops.flip, np.flip, [rn(2, 3)]),
    ("roll", lambda a: ops.roll(a, 2, axis=1), lambda a: np.roll(a, 2, 1), [rn(2, 5)]),
    ("roll_flat", lambda a: ops.roll(a, -3), lambda a: np.roll(a, -3), [rn(2, 5)]),
    ("pad_constant", lambda a: ops.pad(a, ((1, 0), (2, 1)), constant_values=0.5),
     lambda a: np.pad(a, ((1, 0), (2, 1)), constant_values=0.5), [rn(2, 3)]),
    ("pad_edge", lambda a: ops.pad(a, 2, mode="edge"), lambda a: np.pad(a, 2, mode="edge"), [rn(2, 3)]),
    ("pad_reflect", lambda a: ops.pad(a, ((1, 1), (2, 2)), mode="reflect"),
     lambda a: np.pad(a, ((1, 1), (2, 2)), mode="reflect"), [rn(3, 4)]),
    ("pad_symmetric", lambda a: ops.pad(a, ((0, 2), (1, 0)), mode="symmetric"),
     lambda a: np.pad(a, ((0, 2), (1, 0)), mode="symmetric"), [rn(3, 4)]),
    ("pad_wrap", lambda a: ops.pad(a, ((1, 1), (1, 1)), mode="wrap"),
     lambda a: np.pad(a, ((1, 1), (1, 1)), mode="wrap"), [rn(3, 4)]),
    ("triu", lambda a: ops.triu(a, 1), lambda a: np.triu(a, 1), [rn(2, 3, 4)]),
    ("tril", lambda a: ops.tril(a, -1), lambda a: np.tril(a, -1), [rn(4, 3)]),
    ("diag_vector", ops.diag, np.diag, [rn(3)]),
    ("diag_matrix", lambda a: ops.diag(a, 1), lambda a: np.diag(a, 1), [rn(3, 4)]),
    ("diagonal", lambda a: ops.diagonal(a, 0, 1, 2), lambda a: np.diagonal(a, 0, 1, 2), [rn(2, 3, 3)]),
    ("trace", ops.trace, np.trace, [rn(3, 3)]),
    ("slice", lambda a: ops.slice(a, (1, 0), (2, 3)), lambda a: a[1:3, 0:3], [rn(3, 4)]),
    ("slice_update", lambda a, b: ops.slice_update(a, (1, 1), b),
     lambda a, b: np.concatenate([a[:1], np.concatenate([a[1:, :1], b, a[1:, 3:]], 1)], 0), [rn(3, 4), rn(2, 2)]),
    ("meshgrid", lambda a, b: ops.meshgrid(a, b)[0] * ops.meshgrid(a, b)[1],
     lambda a, b: np.meshgrid(a, b)[0] * np.meshgrid(a, b)[1], [rn(3), rn(2)]),
    ("unstack", lambda a: ops.unstack(a, axis=1)[2], lambda a: a[:, 2], [rn(2, 3)]),
    # sorting
    ("sort", ops.sort, np.sort, [distinct(3, 4)]),
    ("sort_axis0", lambda a: ops.sort(a, axis=0), lambda a: np.sort(a, 0), [distinct(3, 4)]),
    ("top_k_values", lambda a: ops.top_k(a, 2)[0], lambda a: -np.sort(-a, -1)[..., :2], [distinct(3, 5)]),
    # activations and nn
    ("relu", ops.relu, lambda a: np.maximum(a, 0), [away(3, 4)]),
    ("relu6", ops.relu6, lambda a: np.clip(a, 0, 6), [away(8) * 5]),
    ("sigmoid", ops.sigmoid, lambda a: 1 / (1 + np.exp(-a)), [rn(5)]),
    ("softplus", ops.softplus, lambda a: np.log1p(np.exp(a)), [rn(5) * 3]),
    ("softsign", ops.softsign, lambda a: a / (1 + np.abs(a)), [away(5)]),
    ("silu", ops.silu, lambda a: a / (1 + np.exp(-a)), [rn(5)]),
    ("log_sigmoid", ops.log_sigmoid, lambda a: -np.log1p(np.exp(-a)), [rn(5)]),
    ("leaky_relu", ops.leaky_relu, lambda a: np.where(a > 0, a, 0.2 * a), [away(6)]),
    ("hard_sigmoid", ops.hard_sigmoid, lambda a: np.clip(a / 6 + 0.5, 0, 1), [away(6) * 4]),
    ("hard_silu", ops.hard_silu, lambda a: a * np.clip(a / 6 + 0.5, 0, 1), [away(6) * 4]),
    ("elu", lambda a: ops.elu(a, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)), [away(6)]),
    ("selu", ops.selu, lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(a)),
     [away(6)]),
    ("celu", lambda a: ops.celu(a, 2.0), lambda a: np.maximum(a, 0) + np.minimum(0, 2 * np.expm1(a / 2)), [away(6)]),
    ("gelu_tanh", ops.gelu,
     lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))), [rn(6)]),
    ("gelu_erf", lambda a: ops.gelu(a, approximate=False), lambda a: 0.5 * a * (1 + verf(a / math.sqrt(2))), [rn(6)]),
    ("erf", ops.erf, verf, [rn(6) * 1.5]),
    ("glu", ops.glu, lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:])), [rn(3, 4)]),
    ("hard_tanh", ops.hard_tanh, lambda a: np.clip(a, -1, 1), [away(6) * 2]),
    ("tanh_shrink", ops.tanh_shrink, lambda a: a - np.tanh(a), [rn(5)]),
    ("soft_shrink", ops.soft_shrink, lambda a: np.where(a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0.0)),
     [away(6) * 1.3]),
    ("squareplus", ops.squareplus, lambda a: (a + np.sqrt(a * a + 4)) / 2, [rn(5)]),
    ("softmax", ops.softmax, np_softmax, [rn(3, 4)]),
    ("softmax_axis0", lambda a: ops.softmax(a, axis=0), lambda a: np_softmax(a, 0), [rn(3, 4)]),
    ("softmax_axes", lambda a: ops.softmax(a, axis=(1, 2)),
     lambda a: np_softmax(a.reshape(2, -1), -1).reshape(a.shape), [rn(2, 3, 4)]),
    ("log_softmax", lambda a: ops.log_softmax(a, axis=-1), lambda a: np.log(np_softmax(a)), [rn(3, 4)]),
    ("normalize", ops.normalize, lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True), [rn(3, 4)]),
    ("normalize_l1", lambda a: ops.normalize(a, axis=0, order=1),
     lambda a: a / np.abs(a).sum(0, keepdims=True), [away(3, 4)]),
    ("moments_variance", lambda a: ops.moments(a, axes=[0, 1])[1], lambda a: a.var((0, 1)), [rn(3, 4, 2)]),
    ("batch_normalization", lambda x, m, v, b, s: ops.batch_normalization(x, m, v, axis=-1, offset=b, scale=s),
     lambda x, m, v, b, s: (x - m) / np.sqrt(v + 1e-3) * s + b, [rn(3, 4), rn(4), pos(4), rn(4), rn(4)]),
    ("categorical_crossentropy_logits",
     lambda t, o: ops.categorical_crossentropy(t, o, from_logits=True),
     lambda t, o: -(t * np.log(np_softmax(o))).sum(-1), [np_softmax(rn(3, 4)), rn(3, 4)]),
    ("categorical_crossentropy_probs", ops.categorical_crossentropy,
     lambda t, o: -(t * np.log(o / o.sum(-1, keepdims=True))).sum(-1), [np_softmax(rn(3, 4)), pos(3, 4)]),
    ("sparse_categorical_crossentropy_logits",
     lambda o: ops.sparse_categorical_crossentropy(np.array([2, 0, 3]), o, from_logits=True),
     lambda o: -np.log(np_softmax(o))[np.arange(3), [2, 0, 3]], [rn(3, 4)]),
    ("sparse_categorical_crossentropy_probs",
     lambda o: ops.sparse_categorical_crossentropy(np.array([[1], [0]]), o),
     lambda o: -np.log(o / o.sum(-1, keepdims=True))[np.arange(2), [1, 0]], [pos(2, 3)]),
    ("binary_crossentropy", ops.binary_crossentropy,
     lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)), [R.uniform(0, 1, (3, 2)), R.uniform(0.1, 0.9, (3, 2))]),
    ("binary_crossentropy_logits", lambda t, o: ops.binary_crossentropy(t, o, from_logits=True),
     lambda t, o: -(t * np.log(1 / (1 + np.exp(-o))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-o)))),
     [R.uniform(0, 1, (3, 2)), rn(3, 2) * 3]),
    ("conv2d", ops.conv, np_conv, [rn(2, 5, 5, 3), rn(3, 3, 3, 2)]),
    ("conv2d_same_stride", lambda x, w: ops.conv(x, w, strides=2, padding="same"),
     lambda x, w: np_conv(x, w, (2, 2), "same"), [rn(1, 6, 5, 2), rn(2, 2, 2, 3)]),
    ("conv2d_dilated", lambda x, w: ops.conv(x, w, padding="same", dilation_rate=2),
     lambda x, w: np_conv(x, w, padding="same", dilation=(2, 2)), [rn(1, 6, 6, 2), rn(3, 3, 2, 2)]),
    ("conv2d_groups", ops.conv, lambda x, w: np_conv(x, w, groups=2), [rn(1, 4, 4, 4), rn(2, 2, 2, 4)]),
    ("conv2d_channels_first", lambda x, w: ops.conv(x, w, data_format="channels_first"),
     lambda x, w: np_conv(x.transpose(0, 2, 3, 1), w).transpose(0, 3, 1, 2), [rn(1, 2, 4, 4), rn(2, 2, 2, 3)]),
    ("conv1d", lambda x, w: ops.conv(x, w, strides=2, padding="same"),
     lambda x, w: np_conv(x[:, None], w[None], (1, 2), "same")[:, 0], [rn(2, 7, 3), rn(3, 3, 2)]),
    ("depthwise_conv", ops.depthwise_conv,
     lambda x, w: np_conv(x, w.reshape(2, 2, 1, 6), groups=3), [rn(1, 4, 4, 3), rn(2, 2, 3, 2)]),
    ("separable_conv", lambda x, d, p: ops.separable_conv(x, d, p, padding="same"),
     lambda x, d, p: np_conv(np_conv(x, d.reshape(3, 3, 1, 2), padding="same", groups=2), p),
     [rn(1, 4, 4, 2), rn(3, 3, 2, 1), rn(1, 1, 2, 3)]),
    ("max_pool", lambda x: ops.max_pool(x, 2), lambda x: x.reshape(1, 2, 2, 2, 2, 2).max((2, 4)),
     [distinct(1, 4, 4, 2)]),
    ("max_pool1d_same", lambda x: ops.max_pool(x, 2, padding="same"),
     lambda x: np.stack([x[:, 0:2].max(1), x[:, 2:4].max(1), x[:, 4:5].max(1)], 1), [distinct(2, 5, 3)]),
    ("average_pool", lambda x: ops.average_pool(x, (2, 2), strides=1),
     lambda x: (x[:, :-1, :-1] + x[:, 1:, :-1] + x[:, :-1, 1:] + x[:, 1:, 1:]) / 4, [rn(1, 3, 3, 2)]),
    ("average_pool_same_odd_split", lambda x: ops.average_pool(x, 2, strides=1, padding="same"),
     lambda x: ops_avg_same_reference(x), [rn(1, 3, 3, 1)]),
    ("depth_to_space", lambda x: ops.depth_to_space(x, 2),
     lambda x: x.reshape(1, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 4, 4, 1), [rn(1, 2, 2, 4)]),
    ("space_to_depth", lambda x: ops.space_to_depth(x, 2),
     lambda x: x.reshape(1, 1, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(1, 1, 2, 4), [rn(1, 2, 4, 1)]),
    ("resize_bilinear_up", lambda x: ops.image.resize(x, (5, 7)),
     lambda x: np_bilinear_axis(np_bilinear_axis(x, 1, 5), 2, 7), [rn(2, 3, 4, 2)]),
    ("resize_bilinear_down", lambda x: ops.image.resize(x, (2, 3)),
     lambda x: np_bilinear_axis(np_bilinear_axis(x, 1, 2), 2, 3), [rn(1, 5, 6, 1)]),
    ("resize_nearest", lambda x: ops.image.resize(x, (6, 3), interpolation="nearest"),
     lambda x: x[:, [0, 0, 1, 1, 2, 2]][:, :, [0, 2, 3]], [rn(1, 3, 4, 2)]),
    # the rest of keras.ops
    ("fmax", ops.fmax, np.fmax, [distinct(3, 4), np.where(R.random(4) > 0.5, np.nan, distinct(4))]),
    ("fmod", ops.fmod, np.fmod, [rn(6) * 3, pos(6)]),
    ("hypot", ops.hypot, np.hypot, [rn(4), away(4)]),
    ("cbrt", ops.cbrt, np.cbrt, [away(5)]),
    ("sinc", ops.sinc, np.sinc, [away(5)]),
    ("deg2rad", ops.deg2rad, np.deg2rad, [rn(4) * 90]),
    ("logaddexp2", ops.logaddexp2, np.logaddexp2, [rn(4), rn(4)]),
    ("divide_no_nan", lambda a: ops.divide_no_nan(a, np.array([1.5, 0.0, -2.0])),
     lambda a: np.where(np.array([1.5, 0.0, -2.0]) == 0, 0.0, a / np.where([True, False, True], [1.5, 1, -2.0], 1)),
     [rn(3)]),
    ("kron", ops.kron, np.kron, [rn(2, 3), rn(3, 2)]),
    ("nansum", lambda a: ops.nansum(ops.concatenate([a, np.full((2, 1), np.nan)], axis=1), axis=1),
     lambda a: np.nansum(np.concatenate([a, np.full((2, 1), np.nan)], 1), 1), [rn(2, 3)]),
    ("nanmean", lambda a: ops.nanmean(ops.where(np.array([[True, False, True]]), a, np.nan), axis=1),
     lambda a: np.nanmean(np.where([[True, False, True]], a, np.nan), 1), [rn(2, 3)]),
    ("nanvar", lambda a: ops.nanvar(ops.where(np.array([[True, False, True, True]]), a, np.nan), axis=1),
     lambda a: np.nanvar(np.where([[True, False, True, True]], a, np.nan), 1), [rn(2, 4)]),
    ("nanmax", lambda a: ops.nanmax(ops.where(np.array([True, False, True]), a, np.nan)),
     lambda a: np.nanmax(np.where([True, False, True], a, np.nan)), [distinct(3)]),
    ("ptp", lambda a: ops.ptp(a, axis=0), lambda a: np.ptp(a, 0), [distinct(3, 4)]),
    ("rot90", ops.rot90, np.rot90, [rn(2, 3)]),
    ("diff", lambda a: ops.diff(a, 2), lambda a: np.diff(a, 2), [rn(2, 5)]),
    ("select", lambda a, b: ops.select([np.array([True, False, False]), np.array([True, True, False])], [a, b], -1.0),
     lambda a, b: np.select([[True, False, False], [True, True, False]], [a, b], -1.0), [rn(3), rn(3)]),
    ("trapezoid", ops.trapezoid, np.trapezoid, [rn(2, 5)]),
    ("trapezoid_x", lambda y: ops.trapezoid(y, x=np.array([0.0, 0.5, 2.0, 2.5])),
     lambda y: np.trapezoid(y, x=[0.0, 0.5, 2.0, 2.5]), [rn(3, 4)]),
    ("vander", lambda a: ops.vander(a, 3), lambda a: np.vander(a, 3), [rn(4)]),
    ("array_split", lambda a: ops.array_split(a, 3, axis=1)[0], lambda a: np.array_split(a, 3, 1)[0], [rn(2, 5)]),
    ("dstack", lambda a, b: ops.dstack([a, b]), lambda a, b: np.dstack([a, b]), [rn(2, 3), rn(2, 3)]),
    ("erfc", ops.erfc, np.vectorize(math.erfc), [rn(5) * 2]),
    ("layer_normalization", lambda x, g, b: ops.layer_normalization(x, g, b, epsilon=1e-3),
     lambda x, g, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * g + b,
     [rn(3, 4), rn(4), rn(4)]),
    ("layer_normalization_axes", lambda x: ops.layer_normalization(x, axis=(1, 2)),
     lambda x: (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-7), [rn(2, 3, 4)]),
    ("rms_normalization", lambda x, s: ops.rms_normalization(x, s, epsilon=1e-3),
     lambda x, s: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-3) * s, [rn(3, 4), rn(4)]),
    ("adaptive_average_pool", lambda x: ops.adaptive_average_pool(x, (2, 3)),
     lambda x: np.stack([np.stack([x[:, lo_h:hi_h, lo_w:hi_w].mean((1, 2))
                                   for lo_w, hi_w in ((0, 2), (1, 4), (3, 5))], 1)
                         for lo_h, hi_h in ((0, 3), (2, 5))], 1), [rn(1, 5, 5, 2)]),
    ("quantile_linear", lambda a: ops.quantile(a, [0.1, 0.5, 0.95], axis=1),
     lambda a: np.quantile(a, [0.1, 0.5, 0.95], 1), [distinct(3, 7)]),
    ("quantile_midpoint", lambda a: ops.quantile(a, 0.3, method="midpoint", keepdims=True),
     lambda a: np.quantile(a, 0.3, method="midpoint", keepdims=True), [distinct(2, 4)]),
    ("percentile_nearest", lambda a: ops.percentile(a, 40, axis=0, method="nearest"),
     lambda a: np.percentile(a, 40, axis=0, method="nearest"), [distinct(5, 2)]),
    ("bincount_weights", lambda w: ops.bincount(np.array([0, 2, 2, 4]), weights=w, minlength=6),
     lambda w: np.bincount([0, 2, 2, 4], weights=w, minlength=6), [rn(4)]),
    ("rgb_to_grayscale", ops.image.rgb_to_grayscale, lambda x: (x * [0.2989, 0.587, 0.114]).sum(-1, keepdims=True),
     [rn(2, 2, 3)]),
]


def ops_avg_same_reference(x):
    """Keras on torch: an odd 'same' split pads by repeating the edge, and the copies count."""
    p = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge")
    return (p[:, :-1, :-1] + p[:, 1:, :-1] + p[:, :-1, 1:] + p[:, 1:, 1:]) / 4


@pytest.mark.parametrize("name,fn,ref,inputs", CASES, ids=[c[0] for c in CASES])
def test_value_matches_numpy(name, fn, ref, inputs):
    got = ops.convert_to_numpy(fn(*inputs))
    want = np.asarray(ref(*inputs), dtype=np.float64)
    assert got.dtype == np.float64, f"{name}: float64 inputs gave {got.dtype}"
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name,fn,ref,inputs", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_finite_differences(name, fn, ref, inputs):
    assert ag.gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
    params = [ag.param(np.asarray(x, np.float64), name=f"in{i}") for i, x in enumerate(inputs)]
    with ag.grad_tape():
        out = fn(*params)
        loss = ops.sum(ops.multiply(out, np.random.default_rng(3).standard_normal(out.shape)))
    for g in ag.backward(loss).values():       # gradcheck cannot see NaN (NaN compares false)
        assert np.isfinite(g).all()


def test_gradients_inside_a_tape_with_named_params():
    w = ag.param(rn(4, 3), name="w")
    x = rn(5, 4)
    with ag.grad_tape():
        loss = ops.mean(ops.square(ops.relu(ops.matmul(x, w))))
    grads = ag.backward(loss)
    h = x @ w.numpy()
    want = x.T @ (2 * np.maximum(h, 0) * (h > 0) / h.size)
    np.testing.assert_allclose(grads["w"], want, rtol=1e-6)


def test_maximum_splits_the_gradient_at_ties_as_torch():
    a, b = ag.param(np.array([1.0, 2.0, 3.0]), name="a"), ag.param(np.array([1.0, 0.0, 3.0]), name="b")
    with ag.grad_tape():
        y = ops.sum(ops.maximum(a, b))
    g = ag.backward(y)
    np.testing.assert_array_equal(g["a"], [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(g["b"], [0.5, 0.0, 0.5])


def test_kink_gradients_follow_torch():
    x = ag.param(np.array([0.0, 6.0, -1.0, 1.0]), name="x")
    with ag.grad_tape():
        y = ops.sum(ops.relu6(x)) + ops.sum(ops.leaky_relu(x, 0.1)) + ops.sum(ops.elu(x, 0.5)) \
            + ops.sum(ops.hard_tanh(x))
    g = ag.backward(y)["x"]
    relu6 = [0, 0, 0, 1]
    leaky = [0.1, 1, 0.1, 1]
    elu = [0.5, 1, 0.5 * math.exp(-1), 1]
    hard_tanh = [1, 0, 0, 0]
    np.testing.assert_allclose(g, np.add(np.add(relu6, leaky), np.add(elu, hard_tanh)))


def test_norm_gradient_at_zero_is_zero_not_nan():
    x = ag.param(np.zeros(3), name="x")
    with ag.grad_tape():
        y = ops.norm(x)
    assert float(y) == 0.0
    np.testing.assert_array_equal(ag.backward(y)["x"], np.zeros(3))


def test_where_keeps_infinities_out_of_the_gradient():
    x = ag.param(np.array([1.0, -2.0, 3.0]), name="x")
    with ag.grad_tape():
        y = ops.softmax(ops.where(np.array([True, False, True]), x, -np.inf))
        loss = ops.sum(y * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(y.numpy()[1], 0.0)
    g = ag.backward(loss)["x"]
    assert np.isfinite(g).all() and g[1] == 0.0


def test_logsumexp_of_all_minus_inf_is_minus_inf():
    out = ops.logsumexp(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), axis=1)
    np.testing.assert_array_equal(ops.convert_to_numpy(out), [-np.inf, 0.0])


def test_stop_gradient_cuts_the_tape():
    x = ag.param(np.array([1.0, 2.0]), name="x")
    with ag.grad_tape():
        y = ops.sum(ops.multiply(x, ops.stop_gradient(x)))
    np.testing.assert_allclose(ag.backward(y)["x"], [1.0, 2.0])


@pytest.mark.parametrize("fn", [
    lambda x: ops.argmax(x, axis=1), lambda x: ops.argmin(x), lambda x: ops.argsort(x),
    lambda x: ops.top_k(x, 2)[1], lambda x: ops.greater(x, 0), lambda x: ops.equal(x, x),
    lambda x: ops.one_hot(ops.argmax(x, axis=1), 4), lambda x: ops.isnan(x), lambda x: ops.sign(x),
    lambda x: ops.floor(x), lambda x: ops.round(x), lambda x: ops.count_nonzero(x),
    lambda x: ops.cast(x, "int32"), lambda x: ops.shape(x), lambda x: ops.where(ops.greater(x, 0)),
], ids=["argmax", "argmin", "argsort", "top_k_indices", "greater", "equal", "one_hot", "isnan", "sign", "floor",
        "round", "count_nonzero", "cast_int", "shape", "where_indices"])
def test_non_differentiable_ops_return_tensors_without_gradient(fn):
    x = ag.param(rn(3, 4), name="x")
    with ag.grad_tape():
        out = fn(x)
    if isinstance(out, tuple):
        assert out == (3, 4)
        return
    assert isinstance(out, ag.Tensor) and not out.requires_grad


def test_dtypes_follow_keras():
    i32, i64 = np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(6).reshape(2, 3)
    f32 = np.ones((2, 3), np.float32)
    d = lambda t: ops.convert_to_numpy(t).dtype.name  # noqa: E731
    assert d(ops.add(i32, i32)) == "int32" and d(ops.add(i64, i32)) == "int64"
    assert d(ops.add(i32, f32)) == "float32" and d(ops.add(i32, 1.5)) == "float32" and d(ops.add(i32, 2)) == "int32"
    assert d(ops.divide(i32, i32 + 1)) == "float32" and d(ops.mean(i32)) == "float32" and d(ops.sum(i32 > 2)) == "int32"
    assert d(ops.exp(i64)) == "float32" and d(ops.relu(i32)) == "int32" and d(ops.square(i32)) == "int32"
    assert d(ops.argmax(f32)) == "int32" and d(ops.top_k(f32, 2)[1]) == "int32" and d(ops.one_hot([0, 1], 2)) == \
        "float32"
    assert d(ops.arange(5)) == "int32" and d(ops.arange(0, 1, 0.5)) == "float32" and d(ops.zeros(2)) == "float32"
    assert d(ops.convert_to_tensor([1, 2])) == "int32" and d(ops.convert_to_tensor([1.0])) == "float32"
    assert d(ops.convert_to_tensor(i64)) == "int64" and d(ops.greater(f32, 0)) == "bool"
    assert d(ops.where(i32 > 2, i32, 0.5)) == "float32" and d(ops.clip(i32, 1, 3)) == "int32"
    assert d(ops.cumsum(i32 > 1)) == "int32" and d(ops.full((2,), 3)) == "float32"


def test_integer_and_bool_values():
    i = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.matmul(i, i.T)), i @ i.T)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.cumsum(i, axis=1)), np.cumsum(i, 1))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.take(i, [2, -1], axis=1)), i[:, [2, 3]])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.pad(i, 1)), np.pad(i, 1))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.floor_divide(i, 5)), i // 5)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.logical_and(i > 2, i < 8)), (i > 2) & (i < 8))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.one_hot(np.array([0, 2, -1]), 3)),
                                  [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.multi_hot(np.array([[0, 2], [1, 1]]), 3)),
                                  [[1, 0, 1], [0, 1, 0]])
    values, idx = ops.top_k(np.array([[1.0, 3.0, 2.0]]), 2)
    np.testing.assert_array_equal(ops.convert_to_numpy(idx), [[1, 2]])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.eye(2, 3, 1)), np.eye(2, 3, 1))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.tri(3)), np.tri(3))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.bincount(np.array([[0, 1], [1, 1]]), minlength=3)),
                                  [[1, 1, 0], [0, 2, 0]])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.bitwise_xor(np.array([3, 5]), 1)), [2, 4])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.searchsorted(np.array([1.0, 2.0, 3.0]), [2.5, 0.0],
                                                                        side="right")), [2, 0])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.digitize(np.array([0.5, 1.5]), np.array([1.0, 2.0]))),
                                  [0, 1])
    vals, inverse, counts = ops.unique(np.array([3, 1, 1, 2]), sorted=False, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(vals), [3, 1, 2])
    np.testing.assert_array_equal(ops.convert_to_numpy(inverse), [0, 1, 1, 2])
    np.testing.assert_array_equal(ops.convert_to_numpy(counts), [1, 2, 1])
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.unique(np.array([2, 2, 5]), size=4, fill_value=-1)),
                                  [2, 5, -1, -1])
    np.testing.assert_allclose(ops.convert_to_numpy(ops.hamming(5)), np.hamming(5), rtol=1e-6)
    counts, edges = ops.histogram(np.array([0.0, 0.1, 0.9, 1.0]), bins=2)
    np.testing.assert_array_equal(ops.convert_to_numpy(counts), [2, 2])
    assert bool(ops.convert_to_numpy(ops.in_top_k(np.array([1]), np.array([[0.1, 0.5, 0.4]]), 1))[0])


def test_shapes_errors_and_conversions():
    x = ops.convert_to_tensor(np.ones((2, 3)))
    assert ops.shape(x) == (2, 3) and ops.ndim(x) == 2 and ops.size(x) == 6 and ops.is_tensor(x)
    assert not ops.is_tensor(np.ones(2))
    assert isinstance(ops.convert_to_numpy(x), np.ndarray)
    with pytest.raises(ValueError, match="split"):
        ops.split(x, 2, axis=1)
    with pytest.raises(ValueError, match="squeeze"):
        ops.squeeze(x, axis=0)
    with pytest.raises(IndexError, match="take"):
        ops.take(x, [3], axis=1)
    with pytest.raises(ValueError, match="max"):
        ops.max(np.zeros((0, 2)))
    assert float(ops.max(np.zeros((0,)), initial=2.0)) == 2.0
    assert len(ops.split(np.arange(10.0), [3, 7])) == 3
    assert ops.cond(ops.greater(1, 0), lambda: "yes", lambda: "no") == "yes"
    assert int(ops.fori_loop(0, 4, lambda i, v: v + i, 0)) == 6
    assert ops.while_loop(lambda v: v < 5, lambda v: v + 2, 0) == 6


@pytest.mark.parametrize("call", [
    lambda: ops.svd(np.eye(2)), lambda: ops.linalg.inv(np.eye(2)), lambda: ops.fft((np.ones(2), np.ones(2))),
    lambda: ops.conv_transpose(np.ones((1, 2, 2, 1)), np.ones((1, 1, 1, 1))), lambda: ops.norm(np.eye(2), ord="nuc"),
    lambda: ops.norm(np.eye(2), ord=2), lambda: ops.conv(np.ones((1, 2, 2, 2, 1)), np.ones((1, 1, 1, 1, 1))),
    lambda: ops.pad(np.ones(3), 1, mode="mean"), lambda: ops.image.resize(np.ones((4, 4, 1)), (2, 2), "bicubic"),
    lambda: ops.scatter(np.array([[0]]), np.ones(1), (2,)), lambda: ops.one_hot([1], 2, sparse=True),
], ids=["svd", "inv", "fft", "conv_transpose", "norm_nuc", "norm_spectral", "conv3d", "pad_mean", "bicubic",
        "scatter", "sparse_one_hot"])
def test_unsupported_ops_raise_not_implemented_naming_them(call):
    with pytest.raises(NotImplementedError):
        call()


def test_dot_product_attention_matches_a_numpy_reference():
    q, k, v = rn(2, 3, 4, 5), rn(2, 6, 2, 5), rn(2, 6, 2, 5)
    mask = R.random((2, 4, 3, 6)) > 0.3
    mask[..., 0] = True

    def reference(q, k, v, mask, causal):
        k, v = np.repeat(k, 2, axis=2), np.repeat(v, 2, axis=2)
        logits = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(5)
        keep = mask.copy()
        if causal:
            keep &= np.tril(np.ones((3, 6), bool))
        w = np_softmax(np.where(keep, logits, -1e300), -1)
        return np.einsum("bnts,bsnh->btnh", w, v)
    for causal in (False, True):
        got = ops.dot_product_attention(q, k, v, mask=mask, is_causal=causal)
        np.testing.assert_allclose(ops.convert_to_numpy(got), reference(q, k, v, mask, causal), rtol=1e-9)
    assert ag.gradcheck(lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True),
                        [rn(1, 3, 2, 2), rn(1, 3, 2, 2), rn(1, 3, 2, 2)], atol=1e-6, rtol=1e-5)


def test_sparsemax_projects_onto_the_simplex():
    x = np.array([[1.0, 0.8, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(ops.convert_to_numpy(ops.sparsemax(x)), [[0.6, 0.4, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    assert ag.gradcheck(ops.sparsemax, [np.array([[1.0, 0.8, -1.0, 0.5]])], atol=1e-6)


# --- ops in layers and graphs --------------------------------------------------------------------------
class Linear(dt.layers.Layer):
    """A custom layer written with keras.ops only."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        return ops.relu(ops.add(ops.matmul(x, self.w), self.b))


def test_custom_layer_with_ops_trains_in_fit():
    model = dt.Sequential([dt.Input((4,)), Linear(8), dt.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=dt.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x, y = rn(32, 4).astype(np.float32), R.integers(0, 3, 32)
    before = [w.copy() for w in model.get_weights()]
    h = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert not np.allclose(before[0], model.get_weights()[0])


def test_custom_layer_gradient_matches_finite_differences():
    layer = Linear(3)
    x = rn(5, 4)
    layer(x.astype(np.float32))
    w0, b0 = rn(4, 3), rn(3)

    def fn(w, b):
        return ops.relu(ops.add(ops.matmul(x, w), b))
    assert ag.gradcheck(fn, [w0, b0])


def test_ops_on_symbolic_tensors_build_a_functional_model(tmp_path):
    inp = dt.Input((5,))
    h = dt.layers.Dense(4)(inp)
    h = ops.relu(h)
    h = ops.concatenate([h, ops.square(h)], axis=-1)
    out = ops.mean(h, axis=-1, keepdims=True)
    assert tuple(out.shape) == (None, 1)
    model = dt.Model(inp, out)
    x = rn(3, 5).astype(np.float32)
    w, b = model.get_weights()
    hh = np.maximum(x @ w + b, 0)
    want = np.concatenate([hh, hh ** 2], -1).mean(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = dt.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_symbolic_op_output_dtype_and_multiple_outputs():
    inp = dt.Input((6,))
    assert ops.argmax(inp, axis=-1).dtype == "int32"
    a, b = ops.split(inp, 2, axis=-1)
    assert tuple(a.shape) == (None, 3) and tuple(b.shape) == (None, 3)
    assert ops.shape(inp) == (None, 6)


# --- Vulkan ---------------------------------------------------------------------------------------------
VULKAN_CASES = [c for c in CASES if c[0] in {
    "add", "divide", "power_tensor", "maximum", "where", "matmul", "einsum_attention", "sum_keepdims", "max",
    "prod", "cumsum", "logsumexp", "norm_axis", "std", "take_along_axis", "pad_reflect", "tril", "sort",
    "top_k_values", "softplus", "elu", "gelu_tanh", "erf", "softmax_axes", "sparse_categorical_crossentropy_logits",
    "binary_crossentropy_logits", "conv2d_dilated", "conv2d_groups", "average_pool_same_odd_split",
    "resize_bilinear_up", "log1p", "batch_normalization"}]


def _vulkan_missing(reason):
    """Skip, or fail under DPTRAIN_REQUIRE_VULKAN=1 (CI), as the engine's Vulkan tests do."""
    if os.environ.get("DPTRAIN_REQUIRE_VULKAN", "") == "1":
        pytest.fail(f"Vulkan unavailable: {reason} (DPTRAIN_REQUIRE_VULKAN=1)", pytrace=False)
    pytest.skip(f"Vulkan unavailable: {reason}")


@pytest.fixture(scope="module")
def vulkan():
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason:
        _vulkan_missing(reason)
    from engine.backend.vulkan import VulkanUnavailable, open_backend
    try:
        return open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))
    except VulkanUnavailable as e:
        _vulkan_missing(str(e))


def _run(K, fn, inputs):
    from engine import backend
    prev = backend.current
    backend.set_current(K)
    try:
        params = [ag.param(np.asarray(x, np.float32), name=f"in{i}") for i, x in enumerate(inputs)]
        with ag.grad_tape():
            out = fn(*params)
            proj = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
            loss = ops.sum(ops.multiply(out, proj))
        grads = ag.backward(loss)
        return out.numpy(), [np.asarray(K.to_numpy(grads[p.name])) if p.name in grads else None for p in params]
    finally:
        backend.set_current(prev)


@pytest.mark.parametrize("name,fn,ref,inputs", VULKAN_CASES, ids=[c[0] for c in VULKAN_CASES])
def test_same_values_and_gradients_on_vulkan(vulkan, name, fn, ref, inputs):
    from engine import backend
    want, want_g = _run(backend.numpy_backend, fn, inputs)
    got, got_g = _run(vulkan, fn, inputs)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    for g, w in zip(got_g, want_g):
        assert (g is None) == (w is None)
        if g is not None:
            np.testing.assert_allclose(g, w, rtol=2e-3, atol=2e-4)


class DataDependent(dt.layers.Layer):
    """Ops whose host-side choices (masks, orders) depend on the batch: re-made every step."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 4), initializer="glorot_uniform", name="w")

    def call(self, x):
        h = ops.matmul(x, self.w)
        return ops.where(ops.greater(h, 0), h, 0.1 * h) + ops.sort(h) + ops.erf(h) \
            + ops.logsumexp(h, axis=-1, keepdims=True)


def _fit_on(K):
    from engine import backend
    prev = backend.current
    backend.set_current(K)
    try:
        ag.manual_seed(0)
        model = dt.Sequential([dt.Input((5,)), DataDependent(), dt.layers.Dense(2)])
        rng = np.random.default_rng(0)
        model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
        model.compile(optimizer=dt.optimizers.SGD(0.1), loss="mse")
        x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 2)).astype(np.float32)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        return model.get_weights() + [model.predict(x, verbose=0)]
    finally:
        backend.set_current(prev)


def test_custom_ops_layer_trains_the_same_on_vulkan(vulkan):
    from engine import backend
    for got, want in zip(_fit_on(vulkan), _fit_on(backend.numpy_backend)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
