"""Fused optimiser updates over whole flat buffers, in place (one dispatch per step)."""
from __future__ import annotations

import math

from ..array import VkArray
from ..interfaces import ADADELTA, ADAGRAD, ADAM, ADAMAX, LION, NADAM, RMSPROP, SGD


def _check(p, *others):
    for name, a in others:
        if a is not None and a.size != p.size:
            raise ValueError(f"optimizer update: {name} has {a.size} elements, the parameters {p.size}")


def _foreign(self, p):
    """p lives on another Vulkan device: that backend must run the update."""
    return p.backend is not self


class OptimKernels:
    def sgd_update(self, p, g, buf, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        if type(p) is not VkArray:
            return self._host_inplace("sgd_update", p, g, buf, lr, momentum, nesterov, weight_decay)
        if _foreign(self, p):
            return p.backend.sgd_update(p, g, buf, lr, momentum, nesterov, weight_decay)
        g = self._dev(g)
        use_buf = bool(momentum)
        b = buf if use_buf else p
        _check(p, ("g", g), ("buf", buf if use_buf else None))
        flags = int(use_buf) | (int(bool(nesterov)) << 1)
        push = (p.size, p.off, g.off, b.off, float(lr), float(momentum), float(weight_decay), flags)
        self._launch(SGD, (), (p, g, b), push, p.size)

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, step, weight_decay=0.0, decoupled=False):
        if type(p) is not VkArray:
            return self._host_inplace("adam_update", p, g, m, v, lr, beta1, beta2, eps, step,
                                      weight_decay, decoupled)
        if _foreign(self, p):
            return p.backend.adam_update(p, g, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled)
        g = self._dev(g)
        _check(p, ("g", g), ("m", m), ("v", v))
        bc1 = 1.0 - beta1 ** step
        bc2 = 1.0 - beta2 ** step
        push = (p.size, p.off, g.off, m.off, v.off, float(lr), float(beta1), float(beta2), float(eps),
                float(weight_decay), lr / bc1, 1.0 / math.sqrt(bc2), int(bool(decoupled)))
        self._launch(ADAM, (), (p, g, m, v), push, p.size)

    def rmsprop_update(self, p, g, sq, lr, rho=0.9, eps=1e-7, weight_decay=0.0, momentum=0.0, buf=None,
                       grad_avg=None, eps_inside=False):
        args = (lr, rho, eps, weight_decay, momentum, buf, grad_avg, eps_inside)
        if type(p) is not VkArray:
            return self._host_inplace("rmsprop_update", p, g, sq, *args)
        if _foreign(self, p):
            return p.backend.rmsprop_update(p, g, sq, *args)
        g = self._dev(g)
        use_mb, centered = bool(momentum), grad_avg is not None
        mb = buf if use_mb else p
        ga = grad_avg if centered else p
        _check(p, ("g", g), ("sq", sq), ("buf", buf if use_mb else None), ("grad_avg", grad_avg))
        flags = int(use_mb) | (int(centered) << 1) | (int(bool(eps_inside)) << 2)
        push = (p.size, p.off, g.off, sq.off, mb.off, ga.off, flags, float(lr), float(rho), float(eps),
                float(weight_decay), float(momentum))
        self._launch(RMSPROP, (), (p, g, sq, mb, ga), push, p.size)

    def adagrad_update(self, p, g, acc, lr, eps=1e-10, weight_decay=0.0, eps_inside=False):
        if type(p) is not VkArray:
            return self._host_inplace("adagrad_update", p, g, acc, lr, eps, weight_decay, eps_inside)
        if _foreign(self, p):
            return p.backend.adagrad_update(p, g, acc, lr, eps, weight_decay, eps_inside)
        g = self._dev(g)
        _check(p, ("g", g), ("acc", acc))
        push = (p.size, p.off, g.off, acc.off, int(bool(eps_inside)), float(lr), float(eps), float(weight_decay))
        self._launch(ADAGRAD, (), (p, g, acc), push, p.size)

    def adadelta_update(self, p, g, sq, acc_delta, lr, rho=0.9, eps=1e-6, weight_decay=0.0):
        if type(p) is not VkArray:
            return self._host_inplace("adadelta_update", p, g, sq, acc_delta, lr, rho, eps, weight_decay)
        if _foreign(self, p):
            return p.backend.adadelta_update(p, g, sq, acc_delta, lr, rho, eps, weight_decay)
        g = self._dev(g)
        _check(p, ("g", g), ("sq", sq), ("acc_delta", acc_delta))
        push = (p.size, p.off, g.off, sq.off, acc_delta.off, float(lr), float(rho), float(eps), float(weight_decay))
        self._launch(ADADELTA, (), (p, g, sq, acc_delta), push, p.size)

    def adamax_update(self, p, g, m, u, lr, beta1, beta2, eps, step, weight_decay=0.0, eps_in_max=True):
        if type(p) is not VkArray:
            return self._host_inplace("adamax_update", p, g, m, u, lr, beta1, beta2, eps, step, weight_decay,
                                      eps_in_max)
        if _foreign(self, p):
            return p.backend.adamax_update(p, g, m, u, lr, beta1, beta2, eps, step, weight_decay, eps_in_max)
        g = self._dev(g)
        _check(p, ("g", g), ("m", m), ("u", u))
        push = (p.size, p.off, g.off, m.off, u.off, int(bool(eps_in_max)), float(beta1), float(beta2), float(eps),
                float(weight_decay), lr / (1.0 - beta1 ** step))
        self._launch(ADAMAX, (), (p, g, m, u), push, p.size)

    def nadam_update(self, p, g, m, v, beta1, beta2, eps, coef_g, coef_m, bc2, weight_decay=0.0):
        if type(p) is not VkArray:
            return self._host_inplace("nadam_update", p, g, m, v, beta1, beta2, eps, coef_g, coef_m, bc2,
                                      weight_decay)
        if _foreign(self, p):
            return p.backend.nadam_update(p, g, m, v, beta1, beta2, eps, coef_g, coef_m, bc2, weight_decay)
        g = self._dev(g)
        _check(p, ("g", g), ("m", m), ("v", v))
        push = (p.size, p.off, g.off, m.off, v.off, float(beta1), float(beta2), float(eps), float(weight_decay),
                float(coef_g), float(coef_m), 1.0 / math.sqrt(bc2))
        self._launch(NADAM, (), (p, g, m, v), push, p.size)

    def lion_update(self, p, g, m, lr, beta1=0.9, beta2=0.99, weight_decay=0.0):
        if type(p) is not VkArray:
            return self._host_inplace("lion_update", p, g, m, lr, beta1, beta2, weight_decay)
        if _foreign(self, p):
            return p.backend.lion_update(p, g, m, lr, beta1, beta2, weight_decay)
        g = self._dev(g)
        _check(p, ("g", g), ("m", m))
        push = (p.size, p.off, g.off, m.off, float(lr), float(beta1), float(beta2), float(weight_decay))
        self._launch(LION, (), (p, g, m), push, p.size)
