// Layer norm input gradient, one invocation per row:
// gx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)) with gh = g * gamma (or g).
// flags: 1 = gamma given. Push: rows, C, flags, offsets of g, xhat, rstd, gamma, gx.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, g, readonly)
FBUF(1, xhat, readonly)
FBUF(2, rstd, readonly)
FBUF(3, gamma, readonly)
FBUF(4, gx, )

layout(push_constant) uniform Push {
    uint rows; uint C; uint flags; uint og; uint oh; uint orr; uint ogam; uint ogx;
} p;

void main() {
    uint row = linear_id();
    if (row >= p.rows) return;
    uint base = row * p.C;
    bool has_gamma = (p.flags & 1u) != 0u;
    float m1 = 0.0, m2 = 0.0;
    for (uint c = 0u; c < p.C; ++c) {
        float gh = LD(g, p.og + base + c);
        if (has_gamma) gh *= LD(gamma, p.ogam + c);
        m1 += gh;
        m2 += gh * LD(xhat, p.oh + base + c);
    }
    m1 /= float(p.C);
    m2 /= float(p.C);
    float rs = LD(rstd, p.orr + row);
    for (uint c = 0u; c < p.C; ++c) {
        float gh = LD(g, p.og + base + c);
        if (has_gamma) gh *= LD(gamma, p.ogam + c);
        ST(gx, p.ogx + base + c, rs * (gh - m1 - LD(xhat, p.oh + base + c) * m2));
    }
}
