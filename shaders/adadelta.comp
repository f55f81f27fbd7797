// Fused Adadelta step over a flat parameter buffer, in place:
// g += wd * p; sq = rho sq + (1 - rho) g^2; d = sqrt(ad + eps) / sqrt(sq + eps) * g;
// ad = rho ad + (1 - rho) d^2; p -= lr * d.
// Push: n, offsets of p, g, sq, ad, lr, rho, eps, weight decay.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, SQ, )
FBUF(3, AD, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint osq; uint oad; float lr; float rho; float eps; float wd;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    if (p.wd != 0.0) g += p.wd * w;
    float sq = p.rho * LD(SQ, p.osq + i) + (1.0 - p.rho) * g * g;
    float ad = LD(AD, p.oad + i);
    float d = sqrt(ad + p.eps) / sqrt(sq + p.eps) * g;
    ST(SQ, p.osq + i, sq);
    ST(AD, p.oad + i, p.rho * ad + (1.0 - p.rho) * d * d);
    ST(P, p.op + i, w - p.lr * d);
}
