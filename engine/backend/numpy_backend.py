"""The numpy backend: the reference implementation of every kernel."""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager

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


def _windows(xp, kh, kw, sh, sw, ho, wo, dh=1, dw=1):
    """A strided view [N, Ho, Wo, kh, kw, C] of the padded input (no copy), taps dh, dw apart."""
    n, _, _, c = xp.shape
    s0, s1, s2, s3 = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (n, ho, wo, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)


def _conv_out(x_shape, w_shape, stride, pads, dilation):
    """Output height and width of a convolution (kernel taps `dilation` apart)."""
    return tuple((x_shape[1 + a] + pads[2 * a] + pads[2 * a + 1] - (w_shape[a] - 1) * dilation[a] - 1)
                 // stride[a] + 1 for a in (0, 1))


def _window_slices(xp_shape, pool, stride):
    """For each offset (i, j) inside a pooling window, the slice of the padded input
    holding that element of every window, in row-major window order."""
    (ph, pw), (sh, sw) = pool, stride
    ho = (xp_shape[1] - ph) // sh + 1
    wo = (xp_shape[2] - pw) // sw + 1
    return [(slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw), slice(None))
            for i in range(ph) for j in range(pw)]


def cores_for_this_process() -> int:
    """The cores this process should keep busy: OMP_NUM_THREADS when set (dptrain-launch sets
    each worker's share there), else the CPUs in its affinity mask (what taskset, cgroups'
    cpusets or a container allow; os.cpu_count() would count the whole machine)."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class BlasThreads:
    """numpy's BLAS threads, as the numpy backend sets them (through threadpoolctl):

    - on first use, at most `cores_for_this_process()`: BLAS libraries default to every core
      of the machine, which oversubscribes a process pinned to fewer or a launcher worker
      given its share; a lower limit set before (OPENBLAS_NUM_THREADS, threadpool_limits)
      is kept, and a limit set later is respected;
    - inside `single()` one thread: for GEMMs of fewer than `small()` multiply-adds and the
      step loops of the recurrent kernels, waking a second thread costs more than it saves.
      small() is SMALL, or BUSY while the machine is oversubscribed (1-minute load average
      above its CPU count, checked at most once a second), where a helper thread waits for
      a core. (OpenBLAS itself keeps products under TINY multiply-adds on one thread.)
    Without threadpoolctl (an optional dependency) the BLAS keeps its own settings.
    """
    TINY, SMALL, BUSY = 1 << 18, 1 << 20, 1 << 24

    def __init__(self):
        self._libs = None
        self._small, self._checked = self.SMALL, -1.0

    def small(self):
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            try:
                busy = os.getloadavg()[0] > (os.cpu_count() or 1)
            except OSError:
                busy = False
            self._small = self.BUSY if busy else self.SMALL
        return self._small

    def libs(self):
        if self._libs is None:
            self._libs = []
            try:
                from threadpoolctl import ThreadpoolController
                self._libs = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception:   # not installed, or a BLAS it cannot drive
                pass
            budget = cores_for_this_process()
            for lib in self._libs:
                if lib.get_num_threads() > budget:
                    lib.set_num_threads(budget)
        return self._libs

    @contextmanager
    def single(self):
        saved = [(lib, lib.get_num_threads()) for lib in self.libs()]
        saved = [(lib, n) for lib, n in saved if n > 1]
        for lib, _ in saved:
            lib.set_num_threads(1)
        try:
            yield
        finally:
            for lib, n in saved:
                lib.set_num_threads(n)


class NumpyBackend:
    name = "numpy"

    def __init__(self):
        self._scratch = {}
        self.blas = BlasThreads()

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
        return np.multiply(g, x > 0, dtype=g.dtype)

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

    def getitem_grad_into(self, out, g, index, advanced):
        """out[index] += g in place (repeated advanced indices accumulate)."""
        if advanced:
            np.add.at(out, index, g)
        else:
            out[index] += g

    def concat(self, arrays, axis):
        return np.concatenate(arrays, axis=axis)

    def one_hot(self, labels, n, dtype):
        out = np.zeros(labels.shape + (n,), dtype)
        np.put_along_axis(out, labels[..., None].astype(np.intp), 1, axis=-1)
        return out

    # linear algebra -------------------------------------------------------
    def matmul(self, a, b, ta=False, tb=False):
        if a.ndim > 2 and b.ndim == 2 and not ta:   # [..., K] @ [K, N] as one GEMM over the rows
            b = b.T if tb else b
            return self._gemm(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
        if ta:
            a = np.swapaxes(a, -1, -2)
        if tb:
            b = np.swapaxes(b, -1, -2)
        return self._gemm(a, b)

    def _gemm(self, a, b, out=None):
        """np.matmul on the thread count BlasThreads decides (one thread for small products)."""
        if a.ndim == 2 and b.ndim == 2:
            mnk = a.shape[0] * a.shape[1] * b.shape[1]
            if mnk < BlasThreads.TINY:
                return np.matmul(a, b, out=out)
            if mnk < self.blas.small():
                with self.blas.single():
                    return np.matmul(a, b, out=out)
        self.blas.libs()
        return np.matmul(a, b, out=out)

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
    # Kernel [kh, kw, C_in / groups, C_out]; output channels g * C_out / groups + f read input
    # channels g * C_in / groups ... (g + 1) * C_in / groups (Keras' grouped layout). Taps are
    # `dilation` apart. The bottom/right padding may be negative (a transposed convolution's
    # crop): only the cells the windows read are ever touched.
    def conv2d(self, x, w, stride, pads, dilation=(1, 1), groups=1):
        """NHWC convolution as one GEMM per group: rows are output pixels, columns taps x channels."""
        kh, kw, cg, cout = w.shape
        n = x.shape[0]
        ho, wo = _conv_out(x.shape, w.shape, stride, pads, dilation)
        ctx = {"x": x, "w": w, "stride": stride, "pads": pads, "dilation": dilation, "groups": groups}
        if cg == 1 and groups > 1:
            return self._depthwise(x, w, ctx, ho, wo), ctx
        cols = self._im2col(x, kh, kw, stride, pads, ho, wo, dilation)
        ctx["cols"] = cols
        return self._conv_gemm(cols, w, groups).reshape(n, ho, wo, cout), ctx

    @staticmethod
    def _taps(xp_shape, kh, kw, stride, dilation, ho, wo):
        """For each kernel tap (i, j): the slice of the padded input it reads for every output pixel."""
        (sh, sw), (dh, dw) = stride, dilation
        return [((i, j), (slice(None), slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                          slice(j * dw, j * dw + sw * (wo - 1) + 1, sw), slice(None)))
                for i in range(kh) for j in range(kw)]

    def _depthwise(self, x, w, ctx, ho, wo):
        """One input channel per group (depthwise): a multiply-add per kernel tap, no columns.
        y[..., c, m] += xpad[taps (i, j), c] * w[i, j, 0, c * M + m]."""
        kh, kw, _, cout = w.shape
        n, c = x.shape[0], x.shape[3]
        m = cout // c
        pads = ctx["pads"]
        xp = _pad_nhwc(x, (pads[0], max(pads[1], 0), pads[2], max(pads[3], 0)))
        ctx["xp"] = xp
        y = np.zeros((n, ho, wo, c, m), np.result_type(x.dtype, w.dtype))
        for (i, j), sl in self._taps(xp.shape, kh, kw, ctx["stride"], ctx["dilation"], ho, wo):
            y += xp[sl][..., None] * w[i, j, 0].reshape(c, m)
        return y.reshape(n, ho, wo, cout)

    def _depthwise_backward(self, ctx, g, need_x, need_w):
        x, w, xp = ctx["x"], ctx["w"], ctx["xp"]
        kh, kw, _, cout = w.shape
        n, ho, wo, _ = g.shape
        c = x.shape[3]
        m = cout // c
        g5 = g.reshape(n, ho, wo, c, m)
        gw = np.empty(w.shape, g.dtype) if need_w else None
        gxp = np.zeros(xp.shape, g.dtype) if need_x else None
        for (i, j), sl in self._taps(xp.shape, kh, kw, ctx["stride"], ctx["dilation"], ho, wo):
            if need_w:
                gw[i, j, 0] = np.einsum("nhwc,nhwcm->cm", xp[sl], g5).reshape(cout)
            if need_x:
                gxp[sl] += g5[..., 0] * w[i, j, 0] if m == 1 else np.einsum("nhwcm,cm->nhwc", g5,
                                                                             w[i, j, 0].reshape(c, m))
        pt, pl = ctx["pads"][0], ctx["pads"][2]
        gx = gxp[:, pt:pt + x.shape[1], pl:pl + x.shape[2], :] if need_x else None
        return gx, gw

    def _im2col(self, x, kh, kw, stride, pads, ho, wo, dilation=(1, 1)):
        """[N * Ho * Wo, kh * kw * C] patches; a 1x1 stride-1 convolution uses x itself."""
        n, c = x.shape[0], x.shape[3]
        sh, sw = stride
        dh, dw = dilation
        if kh == kw == 1 and not any(pads):
            xs = x[:, :sh * (ho - 1) + 1:sh, :sw * (wo - 1) + 1:sw]
            return np.ascontiguousarray(xs).reshape(n * ho * wo, c)
        xp = _pad_nhwc(x, (pads[0], max(pads[1], 0), pads[2], max(pads[3], 0)))
        if c * kw >= 32:
            # each patch row is kw * C values of the input (contiguous when undilated): one strided copy
            return _windows(xp, kh, kw, sh, sw, ho, wo, dh, dw).reshape(n * ho * wo, kh * kw * c)
        # few channels: one copy per kernel tap keeps numpy's inner loop long (a row of pixels)
        cols = np.empty((n, ho, wo, kh, kw, c), x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j, :] = xp[:, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                                            j * dw:j * dw + sw * (wo - 1) + 1:sw, :]
        return cols.reshape(n * ho * wo, kh * kw * c)

    @staticmethod
    def _group_cols(cols, w_shape, groups):
        """[R, T * C] columns -> [G, R, T * C / G], each group's taps x channels."""
        kh, kw, cg, _ = w_shape
        r = cols.shape[0]
        return np.ascontiguousarray(cols.reshape(r, kh * kw, groups, cg).transpose(2, 0, 1, 3)).reshape(
            groups, r, kh * kw * cg)

    @staticmethod
    def _group_w(w, groups):
        """[kh, kw, Cg, F] -> [G, kh * kw * Cg, F / G]."""
        kh, kw, cg, f = w.shape
        return np.ascontiguousarray(w.reshape(kh * kw * cg, groups, f // groups).transpose(1, 0, 2))

    def _conv_gemm(self, cols, w, groups):
        kh, kw, cg, f = w.shape
        if groups == 1:
            return self._gemm(cols, w.reshape(kh * kw * cg, f))
        y = np.matmul(self._group_cols(cols, w.shape, groups), self._group_w(w, groups))   # [G, R, F / G]
        return y.transpose(1, 0, 2).reshape(cols.shape[0], f)

    def _conv_weight_grad(self, cols, g2, w_shape, groups):
        kh, kw, cg, f = w_shape
        if groups == 1:
            return self._gemm(cols.T, g2).reshape(w_shape)
        gg = np.ascontiguousarray(g2.reshape(-1, groups, f // groups).transpose(1, 0, 2))
        gw = np.matmul(self._group_cols(cols, w_shape, groups).transpose(0, 2, 1), gg)   # [G, T * Cg, F / G]
        return gw.transpose(1, 0, 2).reshape(w_shape)

    def _conv_input_grad(self, g2, w, x_shape, stride, pads, dilation, groups, ho, wo):
        """The input gradient from the output gradient g2 [N * Ho * Wo, C_out] (col2im tap by tap)."""
        kh, kw, cg, cout = w.shape
        n, h, wd, cin = x_shape
        (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pads
        if kh == kw == 1 and not any(pads) and sh == sw == 1 and groups == 1 and (ho, wo) == (h, wd):
            return self._gemm(g2, w.reshape(cin, cout).T).reshape(x_shape)
        if groups > 1:
            gg = np.ascontiguousarray(g2.reshape(-1, groups, cout // groups).transpose(1, 0, 2))
            dcols = np.matmul(gg, self._group_w(w, groups).transpose(0, 2, 1))     # [G, R, T * Cg]
            dcols = dcols.reshape(groups, -1, kh, kw, cg).transpose(1, 2, 3, 0, 4)    # [R, kh, kw, G, Cg]
        gxp = np.zeros((n, h + pt + max(pb, 0), wd + pl + max(pr, 0), cin), g2.dtype)
        part = np.empty((n * ho * wo, cin), g2.dtype) if groups == 1 else None
        for i in range(kh):
            for j in range(kw):
                if groups == 1:
                    # each partial product is contiguous and stays in cache
                    self._gemm(g2, w[i, j].T, out=part)
                    tap = part
                else:
                    tap = dcols[:, i, j]
                gxp[:, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw, :] += \
                    tap.reshape(n, ho, wo, cin)
        return gxp[:, pt:pt + h, pl:pl + wd, :]

    def conv2d_backward(self, ctx, g, need_x=True, need_w=True):
        x, w, groups = ctx["x"], ctx["w"], ctx["groups"]
        if "xp" in ctx:
            return self._depthwise_backward(ctx, g, need_x, need_w)
        n, ho, wo, cout = g.shape
        g2 = g.reshape(n * ho * wo, cout)
        gw = self._conv_weight_grad(ctx["cols"], g2, w.shape, groups) if need_w else None
        gx = self._conv_input_grad(g2, w, x.shape, ctx["stride"], ctx["pads"], ctx["dilation"], groups,
                                   ho, wo) if need_x else None
        return gx, gw

    def conv2d_transpose(self, x, w, stride, pads, dilation, out_hw):
        """The transposed convolution: the input gradient of conv2d(y, w, stride, pads, dilation)
        for the output gradient x. x [N, h, w, C_in], w [kh, kw, F, C_in] -> [N, *out_hw, F]."""
        n, hi, wi, cin = x.shape
        y = self._conv_input_grad(x.reshape(n * hi * wi, cin), w, (n,) + tuple(out_hw) + (w.shape[2],),
                                  stride, pads, dilation, 1, hi, wi)
        return y, {"x": x, "w": w, "stride": stride, "pads": pads, "dilation": dilation}

    def conv2d_transpose_backward(self, ctx, g, need_x=True, need_w=True):
        """x's gradient is the convolution of g with w; w's is conv2d's weight gradient with g as
        the input and x as the output gradient."""
        x, w = ctx["x"], ctx["w"]
        kh, kw, f, cin = w.shape
        n, hi, wi, _ = x.shape
        cols = self._im2col(g, kh, kw, ctx["stride"], ctx["pads"], hi, wi, ctx["dilation"])
        gx = self._gemm(cols, w.reshape(kh * kw * f, cin)).reshape(x.shape) if need_x else None
        gw = self._gemm(cols.T, x.reshape(n * hi * wi, cin)).reshape(w.shape) if need_w else None
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
        # on [M, C] rows: few full passes and allocations (the centred input is kept for backward)
        x2 = x.reshape(-1, x.shape[-1])
        mu = x2.mean(axis=0)
        xc = x2 - mu
        var = np.einsum("ij,ij->j", xc, xc) / x2.shape[0]
        rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        scale = rstd if gamma is None else rstd * gamma
        y = np.multiply(xc, scale)
        if beta is not None:
            y += beta
        return y.reshape(x.shape), (xc, rstd, gamma), mu, var.astype(x.dtype, copy=False)

    def batch_norm_backward(self, ctx, g):
        """dx = gamma rstd (g - mean(g) - xhat mean(g xhat)), xhat = xc rstd; as gx = g k1 + xc k2 + k3."""
        xc, rstd, gamma = ctx
        g2 = g.reshape(xc.shape)
        m = xc.shape[0]
        gb = g2.sum(axis=0)
        s = np.einsum("ij,ij->j", g2, xc)              # sum(g * xc)
        k1 = rstd if gamma is None else rstd * gamma
        gx = np.multiply(xc, -k1 * rstd * rstd * s / m)
        gx += -k1 * gb / m
        gx += np.multiply(g2, k1, out=self.scratch(g2.shape, g2.dtype, "batch_norm"))
        if gamma is None:
            return gx.reshape(g.shape), None, None
        return gx.reshape(g.shape), s * rstd, gb

    # recurrent layers (engine/ops/recurrent.py) ---------------------------------------------
    # Feature-major inside: a step's states are [H, B] and its gates [G * H, B], so each gate
    # block, and each run of blocks, is one contiguous range (numpy's fastest case). A step's
    # input is [h_{t-1}; x_t; 1], so one GEMM per step does both projections and the bias.
    # sigmoid(z) = 0.5 tanh(z / 2) + 0.5 (the sigmoid kernel's formula), with the halving
    # folded into the weights (exact in floating point), so one tanh activates every gate.
    # Backward walks the steps in chunks: the factors that do not depend on the incoming
    # gradient are computed for a whole chunk at once, and the chunk's weight gradient is
    # one GEMM.
    _RNN_CHUNK = 16

    @staticmethod
    def _rnn_xh(x, h0, H, dt):
        """[h_{t-1}; x_t; 1] of every step as [T + 1, H + F + 1, B]; the loop writes h_t into t + 1."""
        b, t_len, f = x.shape
        XH = np.empty((t_len + 1, H + f + 1, b), dt)
        XH[:t_len, H:H + f] = x.transpose(1, 2, 0)
        XH[t_len, H:H + f] = 0
        XH[:, H + f] = 1
        XH[0, :H] = 0 if h0 is None else h0.T
        return XH

    @staticmethod
    def _rnn_dh(g, gc, DXH, t, j, t_len, H, out):
        """dL/dh_t: the output's gradient at step t plus what step t + 1 sends back."""
        if t == t_len - 1:
            return gc[j] if gc is not None else np.ascontiguousarray(g.T)
        if gc is None:
            return DXH[t + 1, :H]
        return np.add(DXH[t + 1, :H], gc[j], out=out)

    @staticmethod
    def _rnn_chunk_grad(g, t0, t1):
        return None if g.ndim == 2 else np.ascontiguousarray(g[:, t0:t1].transpose(1, 2, 0))

    @staticmethod
    def _rnn_weight_grad(gw, dz, xh):
        """gw += sum over the chunk's steps of dz_t @ xh_t^T, as one GEMM."""
        k, rows, b = dz.shape
        gw += dz.transpose(1, 0, 2).reshape(rows, k * b) @ xh.transpose(1, 0, 2).reshape(xh.shape[1], k * b).T

    def lstm_seq(self, x, w_ih, w_hh, bias, h0, c0, return_sequences=True):
        b, t_len, f = x.shape
        H = w_hh.shape[0]
        dt = np.result_type(x.dtype, w_ih.dtype, w_hh.dtype)
        perm = np.r_[3 * H:4 * H, 0:2 * H, 2 * H:3 * H]            # internal gate order [o, i, f, g]
        w = np.zeros((H + f + 1, 4 * H), dt)                       # [w_hh; w_ih; bias], unscaled
        w[:H], w[H:H + f] = w_hh[:, perm], w_ih[:, perm]
        if bias is not None:
            w[H + f] = bias[perm]
        ws = np.ascontiguousarray((w * np.where(np.arange(4 * H) < 3 * H, 0.5, 1.0).astype(dt)).T)
        XH = self._rnn_xh(x, h0, H, dt)
        E = np.empty((t_len + 1, 5 * H, b), dt)    # step t: gates [o, i, f, g] activated, then c_{t-1}
        E[0, 4 * H:] = 0 if c0 is None else c0.T
        TC = np.empty((t_len, H, b), dt)           # tanh(c_t)
        P = np.empty((2 * H, b), dt)
        with self.blas.single():
            self._lstm_steps(ws, XH, E, TC, P, H)
        y = XH[1:, :H].transpose(2, 0, 1) if return_sequences else XH[t_len, :H].T
        return y, (XH, E, TC, w, perm, f, h0 is not None, c0 is not None, bias is not None)

    @staticmethod
    def _lstm_steps(ws, XH, E, TC, P, H):
        for t in range(TC.shape[0]):
            e = E[t]
            a = e[:4 * H]
            np.matmul(ws, XH[t], out=a)
            np.tanh(a, out=a)
            sig = e[:3 * H]
            sig *= 0.5
            sig += 0.5
            np.multiply(e[H:3 * H], e[3 * H:], out=P)             # [i * g; f * c_{t-1}]
            c = E[t + 1, 4 * H:]
            np.add(P[:H], P[H:], out=c)
            np.tanh(c, out=TC[t])
            np.multiply(e[:H], TC[t], out=XH[t + 1, :H])          # h_t = o * tanh(c_t)

    def lstm_seq_backward(self, ctx, g, need_x=True):
        """(dx, dw_ih, dw_hh, dbias, dh0, dc0); None for inputs that were not given."""
        XH, E, TC, w, perm, f, has_h0, has_c0, has_bias = ctx
        t_len, H, b = TC.shape
        dt = TC.dtype
        one = dt.type(1)
        n = min(self._RNN_CHUNK, t_len)
        DXH = np.empty((t_len, H + f + 1, b), dt)                  # d[h_{t-1}; x_t; 1]
        wb = w[:H + f] if need_x else w[:H]                        # the rows whose gradient is needed
        gw = np.zeros((4 * H, H + f + 1), dt)
        dZ = np.empty((n, 4 * H, b), dt)
        D = np.empty((n, 5 * H, b), dt)                            # per step factors, see below
        dh_buf, dc, dcn = np.empty((H, b), dt), np.empty((H, b), dt), np.empty((H, b), dt)
        for t1 in range(t_len, 0, -n):
            t0 = max(0, t1 - n)
            k = t1 - t0
            e, tc, d = E[t0:t1], TC[t0:t1], D[:k]
            o, i, fg, gg, cp = (e[:, j * H:(j + 1) * H] for j in range(5))
            # dz_o = dh * tanh(c) o (1 - o);  dc = dh * o (1 - tanh(c)^2) + dc_next
            # dz_i = dc * g i (1 - i);  dz_f = dc * c_{t-1} f (1 - f);  dz_g = dc * i (1 - g^2)
            dP, dQ, dMi, dMf, dMg = (d[:, j * H:(j + 1) * H] for j in range(5))
            sd = np.subtract(one, e[:, :3 * H])
            sd *= e[:, :3 * H]                                     # sigmoid' of o, i, f
            np.multiply(tc, sd[:, :H], out=dQ)
            np.multiply(tc, tc, out=dP)
            np.subtract(one, dP, out=dP)
            dP *= o
            np.multiply(gg, sd[:, H:2 * H], out=dMi)
            np.multiply(cp, sd[:, 2 * H:], out=dMf)
            np.multiply(gg, gg, out=dMg)
            np.subtract(one, dMg, out=dMg)
            dMg *= i
            gc = self._rnn_chunk_grad(g, t0, t1)
            with self.blas.single():     # the steps' small GEMMs on one thread
                for t in range(t1 - 1, t0 - 1, -1):
                    j = t - t0
                    dh = self._rnn_dh(g, gc, DXH, t, j, t_len, H, dh_buf)
                    dz = dZ[j]
                    np.multiply(dh, dP[j], out=dc)
                    if t < t_len - 1:
                        dc += dcn
                    np.multiply(dh, dQ[j], out=dz[:H])
                    np.multiply(dc, dMi[j], out=dz[H:2 * H])
                    np.multiply(dc, dMf[j], out=dz[2 * H:3 * H])
                    np.multiply(dc, dMg[j], out=dz[3 * H:])
                    np.multiply(dc, fg[j], out=dcn)                    # dc_{t-1}
                    np.matmul(wb, dz, out=DXH[t, :wb.shape[0]])        # d[h_{t-1}; x_t]
            self._rnn_weight_grad(gw, dZ[:k], XH[t0:t1])
        gwk = gw.T[:, np.argsort(perm)]                            # [w_hh; w_ih; bias] in the caller's order
        gx = DXH[:, H:H + f].transpose(2, 0, 1) if need_x else None
        return (gx, gwk[H:H + f], gwk[:H], gwk[H + f] if has_bias else None,
                DXH[0, :H].T if has_h0 else None, dcn.T if has_c0 else None)

    def gru_seq(self, x, w_ih, w_hh, b_ih, b_hh, h0, order="rzn", return_sequences=True):
        b, t_len, f = x.shape
        H = w_hh.shape[0]
        dt = np.result_type(x.dtype, w_ih.dtype, w_hh.dtype)
        r, z = (slice(0, H), slice(H, 2 * H)) if order == "rzn" else (slice(H, 2 * H), slice(0, H))
        n = slice(2 * H, 3 * H)
        # internal rows [r; z; h @ w_hn + b_hn; x @ w_in + b_in]: r * (.) needs the last two apart
        w = np.zeros((H + f + 1, 4 * H), dt)
        for j, blk in enumerate((r, z)):
            w[:H, j * H:(j + 1) * H] = w_hh[:, blk]
            w[H:H + f, j * H:(j + 1) * H] = w_ih[:, blk]
            for bias in (b_ih, b_hh):
                if bias is not None:
                    w[H + f, j * H:(j + 1) * H] += bias[blk]
        w[:H, 2 * H:3 * H], w[H:H + f, 3 * H:] = w_hh[:, n], w_ih[:, n]
        if b_hh is not None:
            w[H + f, 2 * H:3 * H] = b_hh[n]
        if b_ih is not None:
            w[H + f, 3 * H:] = b_ih[n]
        ws = np.ascontiguousarray((w * np.where(np.arange(4 * H) < 2 * H, 0.5, 1.0).astype(dt)).T)
        XH = self._rnn_xh(x, h0, H, dt)
        Z = np.empty((t_len, 4 * H, b), dt)        # step t: r, z activated; h @ w_hn + b_hn; x @ w_in + b_in
        N = np.empty((t_len, H, b), dt)
        with self.blas.single():
            self._gru_steps(ws, XH, Z, N, H)
        y = XH[1:, :H].transpose(2, 0, 1) if return_sequences else XH[t_len, :H].T
        return y, (XH, Z, N, f, order, h0 is not None, b_ih is not None, b_hh is not None, w)

    @staticmethod
    def _gru_steps(ws, XH, Z, N, H):
        tmp = np.empty(N.shape[1:], N.dtype)
        for t in range(N.shape[0]):
            zt, nt = Z[t], N[t]
            np.matmul(ws, XH[t], out=zt)
            rz = zt[:2 * H]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            np.multiply(zt[:H], zt[2 * H:3 * H], out=nt)          # n = tanh(x_n + r * (h_n))
            nt += zt[3 * H:]
            np.tanh(nt, out=nt)
            np.subtract(XH[t, :H], nt, out=tmp)                   # h_t = n + z * (h_{t-1} - n)
            tmp *= zt[H:2 * H]
            np.add(nt, tmp, out=XH[t + 1, :H])

    def gru_seq_backward(self, ctx, g, need_x=True):
        """(dx, dw_ih, dw_hh, db_ih, db_hh, dh0); None for inputs that were not given."""
        XH, Z, N, f, order, has_h0, has_bi, has_bh, w = ctx
        t_len, H, b = N.shape
        dt = N.dtype
        one = dt.type(1)
        n = min(self._RNN_CHUNK, t_len)
        DXH = np.empty((t_len, H + f + 1, b), dt)
        wb = w[:H + f] if need_x else w[:H]
        gw = np.zeros((4 * H, H + f + 1), dt)
        dZ = np.empty((n, 4 * H, b), dt)
        D = np.empty((n, 3 * H, b), dt)
        dh_buf, tmp = np.empty((H, b), dt), np.empty((H, b), dt)
        for t1 in range(t_len, 0, -n):
            t0 = max(0, t1 - n)
            k = t1 - t0
            zc, nc, d = Z[t0:t1], N[t0:t1], D[:k]
            rg, zg, ghn = zc[:, :H], zc[:, H:2 * H], zc[:, 2 * H:3 * H]
            # d(x_n) = dh * (1 - z)(1 - n^2) =: dan;  d(h_n) = dan * r
            # dz_r = dan * h_n r (1 - r);  dz_z = dh * (h_{t-1} - n) z (1 - z)
            Pn, Qr, Qz = d[:, :H], d[:, H:2 * H], d[:, 2 * H:]
            np.multiply(nc, nc, out=Pn)
            np.subtract(one, Pn, out=Pn)
            Pn *= np.subtract(one, zg)
            sd = np.subtract(one, zc[:, :2 * H])
            sd *= zc[:, :2 * H]                                    # sigmoid' of r, z
            np.multiply(ghn, sd[:, :H], out=Qr)
            np.subtract(XH[t0:t1, :H], nc, out=Qz)
            Qz *= sd[:, H:]
            gc = self._rnn_chunk_grad(g, t0, t1)
            with self.blas.single():     # the steps' small GEMMs on one thread
                for t in range(t1 - 1, t0 - 1, -1):
                    j = t - t0
                    dh = self._rnn_dh(g, gc, DXH, t, j, t_len, H, dh_buf)
                    dz = dZ[j]
                    np.multiply(dh, Pn[j], out=dz[3 * H:])
                    np.multiply(dz[3 * H:], Qr[j], out=dz[:H])
                    np.multiply(dh, Qz[j], out=dz[H:2 * H])
                    np.multiply(dz[3 * H:], rg[j], out=dz[2 * H:3 * H])
                    np.multiply(dh, zg[j], out=tmp)                   # the direct path h_{t-1} -> h_t
                    np.matmul(wb, dz, out=DXH[t, :wb.shape[0]])
                    DXH[t, :H] += tmp
            self._rnn_weight_grad(gw, dZ[:k], XH[t0:t1])
        gwk = gw.T                                                 # rows [h; x; 1], cols [r, z, h_n, x_n]
        r, z = (slice(0, H), slice(H, 2 * H)) if order == "rzn" else (slice(H, 2 * H), slice(0, H))
        blocks = {"r": slice(0, H), "z": slice(H, 2 * H)}
        gw_hh, gw_ih = np.empty((H, 3 * H), dt), np.empty((f, 3 * H), dt)
        gb = np.empty(3 * H, dt)
        for name, dst in (("r", r), ("z", z)):
            gw_hh[:, dst] = gwk[:H, blocks[name]]
            gw_ih[:, dst] = gwk[H:H + f, blocks[name]]
            gb[dst] = gwk[H + f, blocks[name]]
        gw_hh[:, 2 * H:], gw_ih[:, 2 * H:] = gwk[:H, 2 * H:3 * H], gwk[H:H + f, 3 * H:]
        gb_ih = gb_hh = None
        if has_bi:
            gb_ih = gb.copy()
            gb_ih[2 * H:] = gwk[H + f, 3 * H:]
        if has_bh:
            gb_hh = gb
            gb_hh[2 * H:] = gwk[H + f, 2 * H:3 * H]
        gx = DXH[:, H:H + f].transpose(2, 0, 1) if need_x else None
        return gx, gw_ih, gw_hh, gb_ih, gb_hh, (DXH[0, :H].T if has_h0 else None)

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
