// Fused SGD step over a flat parameter buffer, in place:
// d = g + wd * p; with momentum: buf = momentum * buf + d, d = nesterov ? d + momentum * buf : buf;
// p -= lr * d. flags: 1 = momentum (buf is bound), 2 = nesterov.
// Push: n, offsets of p, g, buf, lr, momentum, weight decay, flags.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, BUF, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint ob; float lr; float momentum; float wd; uint flags;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float d = LD(G, p.og + i);
    if (p.wd != 0.0) d += p.wd * w;
    if ((p.flags & 1u) != 0u) {
        float b = p.momentum * LD(BUF, p.ob + i) + d;
        ST(BUF, p.ob + i, b);
        d = (p.flags & 2u) != 0u ? d + p.momentum * b : b;
    }
    ST(P, p.op + i, w - p.lr * d);
}
