// Fused NAdam step over a flat parameter buffer, in place:
// g += wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= (coef_g * g + coef_m * m) / (sqrt(v) * inv_sqrt_bc2 + eps), coefficients from the host's momentum schedule.
// Push: n, offsets of p, g, m, v, b1, b2, eps, wd, coef_g, coef_m, inv_sqrt_bc2.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, M, )
FBUF(3, V, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint om; uint ov;
    float b1; float b2; float eps; float wd; float coef_g; float coef_m; float inv_sqrt_bc2;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    if (p.wd != 0.0) g += p.wd * w;
    float m = p.b1 * LD(M, p.om + i) + (1.0 - p.b1) * g;
    float v = p.b2 * LD(V, p.ov + i) + (1.0 - p.b2) * g * g;
    ST(M, p.om + i, m);
    ST(V, p.ov + i, v);
    ST(P, p.op + i, w - (p.coef_g * g + p.coef_m * m) / (sqrt(v) * p.inv_sqrt_bc2 + p.eps));
}
