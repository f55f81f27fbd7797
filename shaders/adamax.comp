// Fused Adamax step over a flat parameter buffer, in place:
// g += wd * p; m = b1 m + (1 - b1) g;
// PyTorch (flag 1): u = max(b2 u, |g| + eps), p -= step_size * m / u;
// Keras 3 (flag clear): u = max(b2 u, |g|), p -= step_size * m / (u + eps); step_size = lr / (1 - b1^t).
// Push: n, offsets of p, g, m, u, flags, b1, b2, eps, wd, step_size.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, M, )
FBUF(3, U, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint om; uint ou; uint flags; float b1; float b2; float eps; float wd; float step_size;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    if (p.wd != 0.0) g += p.wd * w;
    float m = p.b1 * LD(M, p.om + i) + (1.0 - p.b1) * g;
    bool in_max = (p.flags & 1u) != 0u;
    float u = max(p.b2 * LD(U, p.ou + i), in_max ? abs(g) + p.eps : abs(g));
    ST(M, p.om + i, m);
    ST(U, p.ou + i, u);
    ST(P, p.op + i, w - p.step_size * m / (in_max ? u : u + p.eps));
}
