"""The numpy backend: the reference implementation of every kernel."""
from __future__ import annotations

import math

import numpy as np

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _erf(x: np.ndarray) -> np.ndarray:
    # numpy has no erf; math.erf per element is exact and only used by gelu(approximate=False).
    return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)


def _pad_nhwc(x, pads, value=0.0):
    pt, pb, pl, pr = pads
    if pt == pb == pl == pr == 0:
        return x
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def _windows(xp, kh, kw, sh, sw, ho, wo):
    """A strided view [N, Ho, Wo, kh, kw, C] of the padded input (no copy)."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (n, ho, wo, kh, kw, c), (s0, s1 * sh, s2 * sw, s1, s2, s3), writeable=False)


def _window_slices(xp_shape, pool, stride):
    """For each offset (i, j) inside a pooling window, the slice of the padded input
    holding that element of every window, in row-major window order."""
    (ph, pw), (sh, sw) = pool, stride
    ho = (xp_shape[1] - ph) // sh + 1
    wo = (xp_shape[2] - pw) // sw + 1
    return [(slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw), slice(None))
            for i in range(ph) for j in range(pw)]


class NumpyBackend:
    name = "numpy"

    def __init__(self):
        self._scratch = {}

    def scratch(self, shape, dtype, slot=0):
        """A reusable work array, so hot loops (optimiser steps) do not allocate."""
        key = (shape, np.dtype(dtype), slot)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty(shape, dtype)
        return buf

    # host <-> device, allocation ---------------------------------------
    def asarray(self, a, dtype=None):
        return np.asarray(a, dtype=dtype)

    def to_numpy(self, a):
        return a

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype)

    def copy(self, a):
        return np.array(a, copy=True)

    def split_views(self, flat, shapes):
        """Views of consecutive pieces of a 1-D buffer, one per shape (no copies)."""
        out, off = [], 0
        for s in shapes:
            n = int(np.prod(s, dtype=np.int64))
            out.append(flat[off:off + n].reshape(s))
            off += n
        return out

    def astype(self, a, dtype):
        return a.astype(dtype)

    def copy_into(self, dst, src):
        np.copyto(dst, src)

    def add_into(self, dst, src):
        np.add(dst, src, out=dst)

    # elementwise binary -------------------------------------------------
    add = staticmethod(np.add)
    sub = staticmethod(np.subtract)
    mul = staticmethod(np.multiply)
    div = staticmethod(np.divide)
    pow = staticmethod(np.power)

    def pow_scalar(self, a, p):
        if p == 2:
            return a * a
        return np.power(a, a.dtype.type(p))

    # elementwise unary ----------------------------------------------------
    neg = staticmethod(np.negative)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)

    def scale(self, a, s):
        return a * a.dtype.type(s)

    def clip(self, a, lo, hi):
        return np.clip(a, lo, hi)

    def clip_grad(self, x, g, lo, hi):
        mask = np.ones(x.shape, bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        return g * mask

    def relu(self, x):
        return np.maximum(x, 0)

    def relu_grad(self, x, g):
        return g * (x > 0)

    def sigmoid(self, x):
        y = np.tanh(x * x.dtype.type(0.5))
        y *= 0.5
        y += 0.5
        return y

    def sigmoid_grad(self, y, g):
        return g * y * (1 - y)

    tanh = staticmethod(np.tanh)

    def tanh_grad(self, y, g):
        return g * (1 - y * y)

    def gelu(self, x, approximate=True):
        if approximate:
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
            return 0.5 * x * (1 + t)
        return 0.5 * x * (1 + _erf(x / math.sqrt(2.0)))

    def gelu_grad(self, x, g, approximate=True):
        if approximate:
            t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_C * x * x * x))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * x * x)
        else:
            d = 0.5 * (1 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return g * d.astype(x.dtype, copy=False)

    def silu(self, x):
        return x * self.sigmoid(x)

    def silu_grad(self, x, g):
        s = self.sigmoid(x)
        return g * s * (1 + x * (1 - s))

    # reductions ---------------------------------------------------------
    def sum(self, a, axis=None, keepdims=False):
        return np.sum(a, axis=axis, keepdims=keepdims)

    def max(self, a, axis=None, keepdims=False):
        return np.max(a, axis=axis, keepdims=keepdims)

    def max_grad(self, x, y_keep, g_keep, axis):
        """Gradient of max: split equally between tied maxima."""
        mask = (x == y_keep).astype(x.dtype)
        mask /= mask.sum(axis=axis, keepdims=True)
        return mask * g_keep

    def sum_to(self, g, shape):
        """Reduce a broadcast gradient back to `shape` (numpy broadcasting rules)."""
        if g.shape == shape:
            return g
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
        out = g.sum(axis=axes, keepdims=True) if axes else g
        if lead:
            out = out.reshape(out.shape[lead:])
        return out

    def broadcast_to(self, a, shape):
        return np.broadcast_to(a, shape)

    def sum_squares(self, a):
        a = a.ravel()
        return float(np.dot(a, a))

    def all_finite(self, a):
        return bool(np.isfinite(a).all())

    # layout ---------------------------------------------------------------
    def reshape(self, a, shape):
        return a.reshape(shape)

    def transpose(self, a, axes):
        return a.transpose(axes)

    def getitem(self, a, index):
        return a[index]

    def getitem_grad(self, g, shape, index, advanced):
        out = np.zeros(shape, g.dtype)
        if advanced:
            np.add.at(out, index, g)
        else:
            out[index] += g
        return out

    def concat(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def one_hot(self, labels, n, dtype):
        out = np.zeros(labels.shape + (n,), dtype)
        np.put_along_axis(out, labels[..., None].astype(np.intp), 1, axis=-1)
        return out

    # linear algebra -------------------------------------------------------
    def matmul(self, a, b, ta=False, tb=False):
        if ta:
            a = np.swapaxes(a, -1, -2)
        if tb:
            b = np.swapaxes(b, -1, -2)
        return np.matmul(a, b)

    # softmax family -------------------------------------------------------
    def softmax(self, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def softmax_grad(self, y, g, axis):
        gy = g * y
        return gy - y * gy.sum(axis=axis, keepdims=True)

    def log_softmax(self, x, axis):
        z = x - x.max(axis=axis, keepdims=True)
        z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
        return z

    def log_softmax_grad(self, y, g, axis):
        return g - np.exp(y) * g.sum(axis=axis, keepdims=True)

    # convolution and pooling (NHWC) ---------------------------------------
    def conv2d(self, x, w, stride, pads):
        kh, kw, cin, cout = w.shape
        sh, sw = stride
        xp = _pad_nhwc(x, pads)
        ho = (xp.shape[1] - kh) // sh + 1
        wo = (xp.shape[2] - kw) // sw + 1
        n = x.shape[0]
        cols = _windows(xp, kh, kw, sh, sw, ho, wo).reshape(n * ho * wo, kh * kw * cin)
        y = (cols @ w.reshape(kh * kw * cin, cout)).reshape(n, ho, wo, cout)
        return y, (cols, x.shape, xp.shape, w, stride, pads)

    def conv2d_backward(self, ctx, g, need_x=True, need_w=True):
        cols, x_shape, xp_shape, w, (sh, sw), (pt, pb, pl, pr) = ctx
        kh, kw, cin, cout = w.shape
        n, ho, wo, _ = g.shape
        g2 = g.reshape(n * ho * wo, cout)
        gw = (cols.T @ g2).reshape(w.shape) if need_w else None
        gx = None
        if need_x:
            # col2im one kernel offset at a time: each partial product is contiguous
            gxp = np.zeros(xp_shape, g.dtype)
            part = np.empty((n * ho * wo, cin), g.dtype)
            for i in range(kh):
                for j in range(kw):
                    np.matmul(g2, w[i, j].T, out=part)
                    gxp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :] += part.reshape(n, ho, wo, cin)
            gx = gxp[:, pt:pt + x_shape[1], pl:pl + x_shape[2], :]
        return gx, gw

    def max_pool2d(self, x, pool, stride, pads):
        # One strided slice per window offset: no window copies, no argmax, no scatter.
        xp = _pad_nhwc(x, pads, -np.inf)
        slices = _window_slices(xp.shape, pool, stride)
        y = xp[slices[0]].copy()
        for sl in slices[1:]:
            np.maximum(y, xp[sl], out=y)
        disjoint = all(s >= p for s, p in zip(stride, pool))
        return y, (xp, y, slices, disjoint, x.shape, pads)

    def max_pool2d_backward(self, ctx, g):
        """Each window's gradient goes to its first maximum (row-major), as argmax would."""
        xp, y, slices, disjoint, x_shape, (pt, pb, pl, pr) = ctx
        gxp = np.zeros(xp.shape, g.dtype)
        taken = None
        for sl in slices:
            hit = np.equal(xp[sl], y)
            if taken is None:
                taken = hit.copy()
            else:
                np.greater(hit, taken, out=hit)   # hit and not yet taken
                taken |= hit
            if disjoint:
                np.multiply(g, hit, out=gxp[sl])
            else:
                gxp[sl] += g * hit
        return gxp[:, pt:pt + x_shape[1], pl:pl + x_shape[2], :]

    def avg_pool2d(self, x, pool, stride, pads):
        ph, pw = pool
        sh, sw = stride
        xp = _pad_nhwc(x, pads)
        ho = (xp.shape[1] - ph) // sh + 1
        wo = (xp.shape[2] - pw) // sw + 1
        total = _windows(xp, ph, pw, sh, sw, ho, wo).sum(axis=(3, 4))
        # padded cells are not counted (Keras/TF "same" convention)
        ones = _pad_nhwc(np.ones((1,) + x.shape[1:3] + (1,), x.dtype), pads)
        count = _windows(ones, ph, pw, sh, sw, ho, wo).sum(axis=(3, 4))
        y = total / count
        return y.astype(x.dtype, copy=False), (count, x.shape, xp.shape, pool, stride, pads)

    def avg_pool2d_backward(self, ctx, g):
        count, x_shape, xp_shape, (ph, pw), (sh, sw), (pt, pb, pl, pr) = ctx
        n, ho, wo, c = g.shape
        gc = g / count
        gxp = np.zeros(xp_shape, g.dtype)
        for i in range(ph):
            for j in range(pw):
                gxp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :] += gc
        return gxp[:, pt:pt + x_shape[1], pl:pl + x_shape[2], :]

    # embedding, dropout ---------------------------------------------------
    def embedding(self, weight, idx):
        return weight[idx]

    def embedding_grad(self, idx, g, num, dtype):
        out = np.zeros((num, g.shape[-1]), dtype)
        np.add.at(out, idx.ravel(), g.reshape(-1, g.shape[-1]))
        return out

    def dropout_mask(self, shape, p, dtype, rng):
        keep = rng.random(shape, dtype=np.float32) >= p
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))

    # normalisation (statistics over all axes but the last for batch norm,
    # over the last axis for layer norm) ------------------------------------
    def layer_norm(self, x, gamma, beta, eps):
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        var = (xc * xc).mean(axis=-1, keepdims=True)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat = xc * rstd
        y = xhat
        if gamma is not None:
            y = y * gamma
        if beta is not None:
            y = y + beta
        return y, (xhat, rstd, gamma)

    def layer_norm_backward(self, ctx, g):
        xhat, rstd, gamma = ctx
        lead = tuple(range(g.ndim - 1))
        gg = (g * xhat).sum(axis=lead) if gamma is not None else None
        gb = g.sum(axis=lead)
        gxhat = g * gamma if gamma is not None else g
        gx = rstd * (gxhat - gxhat.mean(axis=-1, keepdims=True)
                     - xhat * (gxhat * xhat).mean(axis=-1, keepdims=True))
        return gx, gg, gb

    def batch_norm(self, x, gamma, beta, eps):
        axes = tuple(range(x.ndim - 1))
        mu = x.mean(axis=axes)
        xc = x - mu
        var = (xc * xc).mean(axis=axes)
        rstd = 1.0 / np.sqrt(var + eps)
        xhat = xc * rstd
        y = xhat * gamma + beta if gamma is not None else xhat
        return y, (xhat, rstd, gamma), mu, var

    def batch_norm_backward(self, ctx, g):
        xhat, rstd, gamma = ctx
        axes = tuple(range(g.ndim - 1))
        gb = g.sum(axis=axes)
        gg = (g * xhat).sum(axis=axes)
        gxhat = g * gamma if gamma is not None else g
        m = g.size // g.shape[-1]
        gx = (rstd / m) * (m * gxhat - gxhat.sum(axis=axes) - xhat * (gxhat * xhat).sum(axis=axes))
        return gx, (gg if gamma is not None else None), (gb if gamma is not None else None)

    # fused optimiser updates over one flat buffer (in place) ------------------
    def sgd_update(self, p, g, buf, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        t = p.dtype.type
        if weight_decay:
            d = self.scratch(g.shape, g.dtype)
            np.multiply(p, t(weight_decay), out=d)
            d += g
        else:
            d = g
        if momentum:
            buf *= t(momentum)
            buf += d
            if nesterov:
                upd = self.scratch(g.shape, g.dtype, 1)
                np.multiply(buf, t(momentum), out=upd)
                upd += d
                d = upd
            else:
                d = buf
        upd = self.scratch(g.shape, g.dtype, 2)
        np.multiply(d, t(lr), out=upd)
        p -= upd

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        if weight_decay and decoupled:
            p *= t(1.0 - lr * weight_decay)
        elif weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        m *= t(beta1)
        np.multiply(g, t(1.0 - beta1), out=tmp)
        m += tmp
        v *= t(beta2)
        np.multiply(g, g, out=tmp)
        tmp *= t(1.0 - beta2)
        v += tmp
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        # p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps), as torch computes it
        np.sqrt(v, out=tmp)
        tmp *= t(1.0 / math.sqrt(bc2))
        tmp += t(eps)
        np.divide(m, tmp, out=tmp)
        tmp *= t(lr / bc1)
        p -= tmp

    def rmsprop_update(self, p, g, sq, lr, rho=0.9, eps=1e-7, weight_decay=0.0, momentum=0.0, buf=None,
                       grad_avg=None, eps_inside=False):
        """PyTorch's RMSprop (eps outside the square root, momentum buffer of g / denominator) or,
        with eps_inside, Keras 3's (denominator sqrt(v + eps), momentum buffer of lr * g / it);
        centered when `grad_avg` is given."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        if weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        sq *= t(rho)
        np.multiply(g, g, out=tmp)
        tmp *= t(1.0 - rho)
        sq += tmp
        if grad_avg is not None:       # centered: the variance estimate sq - E[g]^2
            grad_avg *= t(rho)
            grad_avg += t(1.0 - rho) * g
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(sq, tmp, out=tmp)
        else:
            np.copyto(tmp, sq)
        if eps_inside:
            tmp += t(eps)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(tmp, out=tmp)
            tmp += t(eps)
        np.divide(g, tmp, out=tmp)
        if momentum:
            buf *= t(momentum)
            if eps_inside:
                tmp *= t(lr)
                buf += tmp
                p -= buf
            else:
                buf += tmp
                p -= t(lr) * buf
            return
        tmp *= t(lr)
        p -= tmp

    def adagrad_update(self, p, g, acc, lr, eps=1e-10, weight_decay=0.0, eps_inside=False):
        """acc += g^2; p -= lr g / (sqrt(acc) + eps) (PyTorch) or lr g / sqrt(acc + eps) (Keras 3)."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        if weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        np.multiply(g, g, out=tmp)
        acc += tmp
        if eps_inside:
            np.add(acc, t(eps), out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(acc, out=tmp)
            tmp += t(eps)
        np.divide(g, tmp, out=tmp)
        tmp *= t(lr)
        p -= tmp

    def adadelta_update(self, p, g, sq, acc_delta, lr, rho=0.9, eps=1e-6, weight_decay=0.0):
        """sq = rho sq + (1 - rho) g^2; d = sqrt(acc_delta + eps) / sqrt(sq + eps) g;
        acc_delta = rho acc_delta + (1 - rho) d^2; p -= lr d (PyTorch's and Keras 3's form)."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        d = self.scratch(g.shape, g.dtype, 2)
        if weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        sq *= t(rho)
        np.multiply(g, g, out=tmp)
        tmp *= t(1.0 - rho)
        sq += tmp
        np.add(acc_delta, t(eps), out=d)
        np.sqrt(d, out=d)
        np.add(sq, t(eps), out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(d, tmp, out=d)
        d *= g
        acc_delta *= t(rho)
        np.multiply(d, d, out=tmp)
        tmp *= t(1.0 - rho)
        acc_delta += tmp
        d *= t(lr)
        p -= d

    def adamax_update(self, p, g, m, u, lr, beta1, beta2, eps, step, weight_decay=0.0, eps_in_max=True):
        """m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps), p -= lr / (1 - b1^t) m / u (PyTorch);
        without eps_in_max u = max(b2 u, |g|), p -= lr / (1 - b1^t) m / (u + eps) (Keras 3)."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        if weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        m *= t(beta1)
        np.multiply(g, t(1.0 - beta1), out=tmp)
        m += tmp
        u *= t(beta2)
        np.abs(g, out=tmp)
        if eps_in_max:
            tmp += t(eps)
        np.maximum(u, tmp, out=u)
        if eps_in_max:
            np.divide(m, u, out=tmp)
        else:
            np.add(u, t(eps), out=tmp)
            np.divide(m, tmp, out=tmp)
        tmp *= t(lr / (1.0 - beta1 ** step))
        p -= tmp

    def nadam_update(self, p, g, m, v, beta1, beta2, eps, coef_g, coef_m, bc2, weight_decay=0.0):
        """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
        p -= (coef_g g + coef_m m) / (sqrt(v / bc2) + eps), the host giving
        coef_g = lr (1 - mu_t) / (1 - prod mu_1..t), coef_m = lr mu_t+1 / (1 - prod mu_1..t+1)."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        num = self.scratch(g.shape, g.dtype, 2)
        if weight_decay:
            gd = self.scratch(g.shape, g.dtype, 1)
            np.multiply(p, t(weight_decay), out=gd)
            gd += g
            g = gd
        m *= t(beta1)
        np.multiply(g, t(1.0 - beta1), out=tmp)
        m += tmp
        v *= t(beta2)
        np.multiply(g, g, out=tmp)
        tmp *= t(1.0 - beta2)
        v += tmp
        np.multiply(g, t(coef_g), out=num)
        np.multiply(m, t(coef_m), out=tmp)
        num += tmp
        np.sqrt(v, out=tmp)
        tmp *= t(1.0 / math.sqrt(bc2))
        tmp += t(eps)
        np.divide(num, tmp, out=num)
        p -= num

    def lion_update(self, p, g, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
        """p *= 1 - lr wd; p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g (decoupled decay)."""
        t = p.dtype.type
        tmp = self.scratch(g.shape, g.dtype)
        if weight_decay:
            p *= t(1.0 - lr * weight_decay)
        np.multiply(m, t(beta1), out=tmp)
        tmp += t(1.0 - beta1) * g
        np.sign(tmp, out=tmp)
        tmp *= t(lr)
        p -= tmp
        m *= t(beta2)
        np.multiply(g, t(1.0 - beta2), out=tmp)
        m += tmp
