// Fused Adagrad step over a flat parameter buffer, in place:
// g += wd * p; acc += g^2; p -= lr * g / (sqrt(acc) + eps) (PyTorch) or / sqrt(acc + eps) (flag 1: Keras 3).
// Push: n, offsets of p, g, acc, flags, lr, eps, weight decay.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, ACC, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint oacc; uint flags; float lr; float eps; float wd;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    if (p.wd != 0.0) g += p.wd * w;
    float acc = LD(ACC, p.oacc + i) + g * g;
    ST(ACC, p.oacc + i, acc);
    float den = (p.flags & 1u) != 0u ? sqrt(acc + p.eps) : sqrt(acc) + p.eps;
    ST(P, p.op + i, w - p.lr * g / den);
}
