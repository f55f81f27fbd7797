// Layer norm over the last axis, one invocation per row of C values:
// y = xhat * gamma + beta with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps).
// Also writes xhat and rstd for the backward pass. flags: 1 = gamma given, 2 = beta given
// (unused bindings are bound to another array and never read).
// Push: rows, C, eps, flags, offsets of x, gamma, beta, y, xhat, rstd.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, x, readonly)
FBUF(1, gamma, readonly)
FBUF(2, beta, readonly)
FBUF(3, y, )
FBUF(4, xhat, )
FBUF(5, rstd, )

layout(push_constant) uniform Push {
    uint rows; uint C; float eps; uint flags; uint ox; uint og; uint ob; uint oy; uint oh; uint orr;
} p;

void main() {
    uint row = linear_id();
    if (row >= p.rows) return;
    uint base = row * p.C;
    float mean = 0.0;
    for (uint c = 0u; c < p.C; ++c) mean += LD(x, p.ox + base + c);
    mean /= float(p.C);
    float var = 0.0;
    for (uint c = 0u; c < p.C; ++c) {
        float d = LD(x, p.ox + base + c) - mean;
        var += d * d;
    }
    var /= float(p.C);
    float rs = 1.0 / sqrt(var + p.eps);
    ST(rstd, p.orr + row, rs);
    for (uint c = 0u; c < p.C; ++c) {
        float h = (LD(x, p.ox + base + c) - mean) * rs;
        ST(xhat, p.oh + base + c, h);
        float v = h;
        if ((p.flags & 1u) != 0u) v *= LD(gamma, p.og + c);
        if ((p.flags & 2u) != 0u) v += LD(beta, p.ob + c);
        ST(y, p.oy + base + c, v);
    }
}
