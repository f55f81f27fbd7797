// Fused Lion step over a flat parameter buffer, in place (decoupled weight decay):
// p *= 1 - lr * wd; p -= lr * sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g.
// Push: n, offsets of p, g, m, lr, b1, b2, wd.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, M, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint om; float lr; float b1; float b2; float wd;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    float m = LD(M, p.om + i);
    if (p.wd != 0.0) w *= 1.0 - p.lr * p.wd;
    ST(P, p.op + i, w - p.lr * sign(p.b1 * m + (1.0 - p.b1) * g));
    ST(M, p.om + i, p.b2 * m + (1.0 - p.b2) * g);
}
