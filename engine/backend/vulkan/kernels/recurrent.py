"""Recurrent layers (engine/ops/recurrent.py) composed from this backend's own kernels.

No shader of their own: every step records a handful of existing dispatches (matmul,
elementwise, column gathers) into the command buffer, so a whole sequence, forward or
backward, needs no host round trip. The input projection of all steps and the weight
gradients are single matmuls over every step's rows.
"""
from __future__ import annotations


class _Ctx:
    """What backward needs from forward (an object, so the kernel router looks only at g)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _cols(K, a, lo, hi):
    return K.getitem(a, (slice(None), slice(lo, hi)))


class RecurrentKernels:
    def _rnn_project(self, x, w_ih, bias):
        """x @ w_ih + bias for every step, time-major [T, B, G]."""
        b, t_len, f = x.shape
        xw = self.matmul(self.reshape(x, (b * t_len, f)), w_ih)
        if bias is not None:
            xw = self.add(xw, bias)
        return self.transpose(self.reshape(xw, (b, t_len, -1)), (1, 0, 2))

    def _rnn_output(self, hs, return_sequences):
        if not return_sequences:
            return hs[-1]
        b, h = hs[0].shape
        return self.concat([self.reshape(ht, (b, 1, h)) for ht in hs], 1)

    def _rnn_step_grads(self, g, t_len):
        """The output gradient of each step ([B, H]), None where the output was only the last."""
        if g.ndim == 2:
            return [None] * (t_len - 1) + [g]
        gt = self.transpose(g, (1, 0, 2))
        return [self.getitem(gt, t) for t in range(t_len)]

    def _rnn_input_grads(self, ctx, dzs, need_x):
        """(dx, dw_ih, dbias) from the per-step pre-activation gradients [B, G]."""
        b, t_len, f = ctx.x.shape
        dz = self.reshape(self.transpose(self.concat([self.reshape(d, (1, b, -1)) for d in dzs], 0), (1, 0, 2)),
                          (b * t_len, -1))
        gw_ih = self.matmul(self.reshape(ctx.x, (b * t_len, f)), dz, ta=True)
        gx = self.reshape(self.matmul(dz, ctx.w_ih, tb=True), (b, t_len, f)) if need_x else None
        return gx, gw_ih, self.sum(dz, axis=0)

    def _rnn_hh_grad(self, ctx, dzs_hh):
        """sum_t h_{t-1}^T dz_t with h_{-1} = h0 (or zero)."""
        prev = [ctx.h0] + ctx.hs[:-1]
        gw = self.zeros(ctx.w_hh.shape, ctx.w_hh.dtype)
        for h, dz in zip(prev, dzs_hh):
            if h is not None:
                self.add_into(gw, self.matmul(h, dz, ta=True))
        return gw

    # -- LSTM: gate blocks [i, f, g, o] ------------------------------------------------------------
    def lstm_seq(self, x, w_ih, w_hh, bias, h0, c0, return_sequences=True):
        H = w_hh.shape[0]
        xw = self._rnn_project(x, w_ih, bias)
        h, c = h0, c0
        steps = []
        for t in range(x.shape[1]):
            z = self.getitem(xw, t)
            if h is not None:
                z = self.add(z, self.matmul(h, w_hh))
            s, th = self.sigmoid(z), self.tanh(z)
            i, f, o = _cols(self, s, 0, H), _cols(self, s, H, 2 * H), _cols(self, s, 3 * H, 4 * H)
            gg = _cols(self, th, 2 * H, 3 * H)
            c_prev = c
            c = self.mul(i, gg) if c is None else self.add(self.mul(f, c), self.mul(i, gg))
            tc = self.tanh(c)
            h = self.mul(o, tc)
            steps.append((i, f, gg, o, c_prev, tc, h))
        hs = [st[-1] for st in steps]
        ctx = _Ctx(x=x, w_ih=w_ih, w_hh=w_hh, h0=h0, c0=c0, hs=hs, steps=steps, has_bias=bias is not None)
        return self._rnn_output(hs, return_sequences), ctx

    def lstm_seq_backward(self, ctx, g, need_x=True):
        steps = ctx.steps
        grads = self._rnn_step_grads(g, len(steps))
        dh_next = dc_next = None
        dzs = [None] * len(steps)
        for t in range(len(steps) - 1, -1, -1):
            i, f, gg, o, c_prev, tc, _ = steps[t]
            dh = grads[t] if dh_next is None else (dh_next if grads[t] is None else self.add(grads[t], dh_next))
            dc = self.tanh_grad(tc, self.mul(dh, o))
            if dc_next is not None:
                dc = self.add(dc, dc_next)
            dzf = self.sigmoid_grad(f, self.mul(dc, c_prev)) if c_prev is not None else self.zeros(f.shape, f.dtype)
            dz = self.concat([self.sigmoid_grad(i, self.mul(dc, gg)), dzf, self.tanh_grad(gg, self.mul(dc, i)),
                              self.sigmoid_grad(o, self.mul(dh, tc))], 1)
            dzs[t] = dz
            dc_next = self.mul(dc, f)
            dh_next = self.matmul(dz, ctx.w_hh, tb=True)
        gx, gw_ih, gb = self._rnn_input_grads(ctx, dzs, need_x)
        gw_hh = self._rnn_hh_grad(ctx, dzs)
        return (gx, gw_ih, gw_hh, gb if ctx.has_bias else None, dh_next if ctx.h0 is not None else None,
                dc_next if ctx.c0 is not None else None)

    # -- GRU (reset after the matmul): blocks r, z, n in `order` -------------------------------------
    def gru_seq(self, x, w_ih, w_hh, b_ih, b_hh, h0, order="rzn", return_sequences=True):
        H = w_hh.shape[0]
        r0, z0 = (0, H) if order == "rzn" else (H, 0)
        xw = self._rnn_project(x, w_ih, b_ih)
        h = h0
        steps = []
        for t in range(x.shape[1]):
            xt = self.getitem(xw, t)
            if h is None:
                gh = None if b_hh is None else self.broadcast_to(b_hh, (x.shape[0], 3 * H))
            else:
                gh = self.matmul(h, w_hh)
                if b_hh is not None:
                    gh = self.add(gh, b_hh)
            pre = _cols(self, xt, 0, 2 * H)
            rz = self.sigmoid(pre if gh is None else self.add(pre, _cols(self, gh, 0, 2 * H)))
            r, z = _cols(self, rz, r0, r0 + H), _cols(self, rz, z0, z0 + H)
            ghn = None if gh is None else _cols(self, gh, 2 * H, 3 * H)
            xn = _cols(self, xt, 2 * H, 3 * H)
            n = self.tanh(xn if ghn is None else self.add(xn, self.mul(r, ghn)))
            h_prev = h
            h = self.sub(n, self.mul(z, n)) if h is None else self.add(n, self.mul(z, self.sub(h, n)))
            steps.append((r, z, n, ghn, h_prev, h))
        hs = [st[-1] for st in steps]
        ctx = _Ctx(x=x, w_ih=w_ih, w_hh=w_hh, h0=h0, hs=hs, steps=steps, order=order,
                   has_bi=b_ih is not None, has_bh=b_hh is not None)
        return self._rnn_output(hs, return_sequences), ctx

    def gru_seq_backward(self, ctx, g, need_x=True):
        steps = ctx.steps
        grads = self._rnn_step_grads(g, len(steps))
        dh_next = None
        dgis, dghs = [None] * len(steps), [None] * len(steps)
        for t in range(len(steps) - 1, -1, -1):
            r, z, n, ghn, h_prev, _ = steps[t]
            dh = grads[t] if dh_next is None else (dh_next if grads[t] is None else self.add(grads[t], dh_next))
            dan = self.tanh_grad(n, self.sub(dh, self.mul(dh, z)))          # d(x_n + r * gh_n)
            dz = self.mul(dh, self.neg(n) if h_prev is None else self.sub(h_prev, n))
            daz = self.sigmoid_grad(z, dz)
            dar = self.zeros(r.shape, r.dtype) if ghn is None else self.sigmoid_grad(r, self.mul(dan, ghn))
            blocks = [dar, daz] if ctx.order == "rzn" else [daz, dar]
            dgis[t] = self.concat(blocks + [dan], 1)
            dghs[t] = self.concat(blocks + [self.mul(dan, r)], 1)
            dh_next = self.matmul(dghs[t], ctx.w_hh, tb=True)
            if h_prev is not None:
                dh_next = self.add(dh_next, self.mul(dh, z))
        gx, gw_ih, gb_ih = self._rnn_input_grads(ctx, dgis, need_x)
        gw_hh = self._rnn_hh_grad(ctx, dghs)
        gb_hh = None
        if ctx.has_bh:
            b, h3 = dghs[0].shape
            gb_hh = self.sum(self.concat([self.reshape(d, (1, b, h3)) for d in dghs], 0), axis=(0, 1))
        return (gx, gw_ih, gw_hh, gb_ih if ctx.has_bi else None, gb_hh,
                dh_next if ctx.h0 is not None else None)
