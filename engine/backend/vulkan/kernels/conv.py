"""NHWC convolution (im2col + register-blocked matmul) and 2-D pooling."""
from __future__ import annotations



from ..interfaces import COL2IM, IM2COL, POOL, POOL_GRAD, P_AVG, P_MAX
from .base import U32


def _geometry(x_shape, k, stride, pads):
    n, h, w, c = x_shape
    kh, kw = k
    sh, sw = stride
    pt, pb, pl, pr = pads
    ho = (h + pt + pb - kh) // sh + 1
    wo = (w + pl + pr - kw) // sw + 1
    return (n, h, w, c, kh, kw, sh, sw, pt, pl, ho, wo)


class ConvKernels:
    def conv2d(self, x, w, stride, pads):
        x, w = self._dev(x), self._dev(w)
        kh, kw, cin, cout = w.shape
        geo = _geometry(x.shape, (kh, kw), stride, pads)
        n, ho, wo = geo[0], geo[10], geo[11]
        rows, kk = n * ho * wo, kh * kw * cin
        if (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and not any(pads):
            cols = self.view(x, (rows, kk))
        else:
            cols = self._empty((rows, kk), x.dtype)
            self._launch(IM2COL, (), (x, cols), geo + (x.off, cols.off, 0), cols.size)
        y = self.matmul(cols, self.view(w, (kk, cout)))
        return self.view(y, (n, ho, wo, cout)), (cols, x.shape, w, tuple(stride), tuple(pads), geo)

    def conv2d_backward(self, ctx, g, need_x=True, need_w=True):
        cols, x_shape, w, stride, pads, geo = ctx
        g = self._dev(g)
        kh, kw, cin, cout = w.shape
        rows, kk = cols.shape
        g2 = self.view(g, (rows, cout))
        gw = self.view(self.matmul(cols, g2, ta=True), w.shape) if need_w else None
        gx = None
        if need_x:
            dcols = self.matmul(g2, self.view(w, (kk, cout)), tb=True)
            if (kh, kw) == (1, 1) and stride == (1, 1) and not any(pads):
                gx = self.view(dcols, x_shape)
            else:
                gx = self._empty(x_shape, g.dtype)
                self._launch(COL2IM, (), (dcols, gx), geo + (dcols.off, gx.off, 0), gx.size)
        return gx, gw

    def _pool(self, op, x, pool, stride, pads):
        x = self._dev(x)
        geo = _geometry(x.shape, pool, stride, pads)
        n, c, ho, wo = geo[0], geo[3], geo[10], geo[11]
        y = self._empty((n, ho, wo, c), x.dtype)
        arg = self._empty((n, ho, wo, c), U32) if op == P_MAX else y
        self._launch(POOL, (op,), (x, y, arg), geo + (x.off, y.off, arg.off), y.size)
        return y, (arg if op == P_MAX else None, x.shape, geo)

    def _pool_backward(self, op, ctx, g):
        arg, x_shape, geo = ctx
        g = self._dev(g)
        gx = self._empty(x_shape, g.dtype)
        a = arg if arg is not None else g
        self._launch(POOL_GRAD, (op,), (g, a, gx), geo + (g.off, a.off, gx.off), gx.size)
        return gx

    def max_pool2d(self, x, pool, stride, pads):
        return self._pool(P_MAX, x, pool, stride, pads)

    def max_pool2d_backward(self, ctx, g):
        return self._pool_backward(P_MAX, ctx, g)

    def avg_pool2d(self, x, pool, stride, pads):
        return self._pool(P_AVG, x, pool, stride, pads)

    def avg_pool2d_backward(self, ctx, g):
        return self._pool_backward(P_AVG, ctx, g)



