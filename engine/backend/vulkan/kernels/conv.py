"""NHWC convolution (im2col + register-blocked matmul) and 2-D pooling."""
from __future__ import annotations



from ..interfaces import COL2IM, IM2COL, POOL, POOL_GRAD, P_AVG, P_MAX
from .base import U32


def _geometry(x_shape, k, stride, pads, dilation=(1, 1)):
    n, h, w, c = x_shape
    kh, kw = k
    sh, sw = stride
    pt, pb, pl, pr = pads
    dh, dw = dilation
    ho = (h + pt + pb - (kh - 1) * dh - 1) // sh + 1
    wo = (w + pl + pr - (kw - 1) * dw - 1) // sw + 1
    return (n, h, w, c, kh, kw, sh, sw, pt, pl, ho, wo)


class ConvKernels:
    # Kernel [kh, kw, C_in / groups, C_out] (Keras' grouped layout); the bottom/right padding may
    # be negative (a transposed convolution's crop): the shaders only use the top/left ones.
    def conv2d(self, x, w, stride, pads, dilation=(1, 1), groups=1):
        x, w = self._dev(x), self._dev(w)
        kh, kw, _, cout = w.shape
        dilation = tuple(dilation)
        geo = _geometry(x.shape, (kh, kw), stride, pads, dilation)
        n, ho, wo = geo[0], geo[10], geo[11]
        cols = self._im2col(x, geo, dilation, (kh, kw) == (1, 1) and tuple(stride) == (1, 1) and not any(pads))
        y = self._conv_gemm(cols, w, groups)
        return self.view(y, (n, ho, wo, cout)), (cols, x.shape, w, tuple(stride), tuple(pads), geo, dilation, groups)

    def _im2col(self, x, geo, dilation, identity):
        n, _, _, c, kh, kw = geo[:6]
        rows, kk = n * geo[10] * geo[11], kh * kw * c
        if identity:
            return self.view(x, (rows, kk))
        cols = self._empty((rows, kk), x.dtype)
        self._launch(IM2COL, (), (x, cols), geo + (x.off, cols.off, 0) + dilation, cols.size)
        return cols

    def _col2im(self, dcols, x_shape, geo, dilation):
        gx = self._empty(x_shape, dcols.dtype)
        self._launch(COL2IM, (), (dcols, gx), geo + (dcols.off, gx.off, 0) + dilation, gx.size)
        return gx

    def _group_cols(self, cols, w_shape, groups):
        """[R, T * C] -> [G, R, T * C / G]."""
        kh, kw, cg, _ = w_shape
        r = cols.shape[0]
        t = self.transpose(self.view(cols, (r, kh * kw, groups, cg)), (2, 0, 1, 3))
        return self.view(t, (groups, r, kh * kw * cg))

    def _group_w(self, w, groups):
        """[kh, kw, Cg, F] -> [G, kh * kw * Cg, F / G]."""
        kh, kw, cg, f = w.shape
        return self.transpose(self.view(w, (kh * kw * cg, groups, f // groups)), (1, 0, 2))

    def _group_g(self, g2, groups):
        """[R, F] -> [G, R, F / G]."""
        r, f = g2.shape
        return self.transpose(self.view(g2, (r, groups, f // groups)), (1, 0, 2))

    def _conv_gemm(self, cols, w, groups):
        kh, kw, cg, f = w.shape
        if groups == 1:
            return self.matmul(cols, self.view(w, (kh * kw * cg, f)))
        y = self.matmul(self._group_cols(cols, w.shape, groups), self._group_w(w, groups))   # [G, R, F / G]
        return self.view(self.transpose(y, (1, 0, 2)), (cols.shape[0], f))

    def conv2d_backward(self, ctx, g, need_x=True, need_w=True):
        cols, x_shape, w, stride, pads, geo, dilation, groups = ctx
        g = self._dev(g)
        kh, kw, cg, cout = w.shape
        rows, kk = cols.shape
        g2 = self.view(g, (rows, cout))
        gw = gx = None
        if groups == 1:
            if need_w:
                gw = self.view(self.matmul(cols, g2, ta=True), w.shape)
            if need_x:
                dcols = self.matmul(g2, self.view(w, (kk, cout)), tb=True)
        else:
            gg = self._group_g(g2, groups)
            if need_w:
                gwg = self.matmul(self._group_cols(cols, w.shape, groups), gg, ta=True)   # [G, T * Cg, F / G]
                gw = self.view(self.transpose(gwg, (1, 0, 2)), w.shape)
            if need_x:
                dg = self.matmul(gg, self._group_w(w, groups), tb=True)                   # [G, R, T * Cg]
                dcols = self.view(self.transpose(self.view(dg, (groups, rows, kh * kw, cg)), (1, 2, 0, 3)),
                                  (rows, kk))
        if need_x:
            if (kh, kw) == (1, 1) and stride == (1, 1) and not any(pads):
                gx = self.view(dcols, x_shape)
            else:
                gx = self._col2im(dcols, x_shape, geo, dilation)
        return gx, gw

    def conv2d_transpose(self, x, w, stride, pads, dilation, out_hw):
        """The input gradient of conv2d(y, w, stride, pads, dilation) for the output gradient x:
        x [N, h, w, C_in], w [kh, kw, F, C_in] -> y [N, *out_hw, F]."""
        x, w = self._dev(x), self._dev(w)
        kh, kw, f, cin = w.shape
        n, hi, wi, _ = x.shape
        y_shape = (n,) + tuple(out_hw) + (f,)
        dilation = tuple(dilation)
        geo = _geometry(y_shape, (kh, kw), stride, pads, dilation)
        assert (geo[10], geo[11]) == (hi, wi), (geo, x.shape)
        dcols = self.matmul(self.view(x, (n * hi * wi, cin)), self.view(w, (kh * kw * f, cin)), tb=True)
        y = self._col2im(dcols, y_shape, geo, dilation)
        return y, (x, w, tuple(stride), tuple(pads), geo, dilation)

    def conv2d_transpose_backward(self, ctx, g, need_x=True, need_w=True):
        """x's gradient: the convolution of g with w; w's: conv2d's weight gradient for input g and
        output gradient x."""
        x, w, stride, pads, geo, dilation = ctx
        g = self._dev(g)
        kh, kw, f, cin = w.shape
        identity = (kh, kw) == (1, 1) and stride == (1, 1) and not any(pads)
        cols = self._im2col(g, geo, dilation, identity)
        x2 = self.view(x, (cols.shape[0], cin))
        gx = self.view(self.matmul(cols, self.view(w, (kh * kw * f, cin))), x.shape) if need_x else None
        gw = self.view(self.matmul(cols, x2, ta=True), w.shape) if need_w else None
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



