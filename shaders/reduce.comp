// Reduce the middle axis of an [outer, R, inner] view, optionally in chunks of R so a
// long reduction is split over many workgroups (the host then reduces the partials):
//   y[o, c, i] = reduce over r in [c*chunk, min(R, (c+1)*chunk)) of x[o, r, i].
// OP: 0 sum, 1 max (NaN propagates), 2 sum of squares, 3 count of non-finite values.
// GROUP = false: one invocation per output; true: one workgroup per output, the
// invocations stride over r and combine through shared memory.
// Push: outer, R, inner, chunk, nchunks, x offset, y offset.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;
layout(constant_id = 3) const bool GROUP = false;

const uint OP_SUM = 0, OP_MAX = 1, OP_SUMSQ = 2, OP_NONFINITE = 3;

FBUF(0, x, readonly)
FBUF(1, y, )

layout(push_constant) uniform Push {
    uint outer; uint R; uint inner; uint chunk; uint nchunks; uint ox; uint oy;
} p;

shared float partial[256];

float identity() { return OP == OP_MAX ? -INF_F : 0.0; }

float prep(float v) {
    if (OP == OP_SUMSQ) return v * v;
    if (OP == OP_NONFINITE) return (isnan(v) || isinf(v)) ? 1.0 : 0.0;
    return v;
}

float combine(float acc, float v) {
    if (OP == OP_MAX) return (isnan(acc) || v <= acc) ? acc : v;
    return acc + v;
}

void main() {
    uint nout = p.outer * p.nchunks * p.inner;
    uint j = GROUP ? linear_group() : linear_id();
    if (j >= nout) return;
    uint i = j % p.inner;
    uint t = j / p.inner;
    uint c = t % p.nchunks;
    uint o = t / p.nchunks;
    uint r0 = c * p.chunk;
    uint r1 = min(p.R, r0 + p.chunk);
    uint base = p.ox + o * p.R * p.inner + i;
    float acc = identity();
    if (!GROUP) {
        for (uint r = r0; r < r1; ++r) acc = combine(acc, prep(LD(x, base + r * p.inner)));
        ST(y, p.oy + j, acc);
        return;
    }
    uint lid = gl_LocalInvocationID.x;
    for (uint r = r0 + lid; r < r1; r += WG_X) acc = combine(acc, prep(LD(x, base + r * p.inner)));
    partial[lid] = acc;
    barrier();
    for (uint s = WG_X / 2u; s > 0u; s >>= 1) {
        if (lid < s) partial[lid] = combine(partial[lid], partial[lid + s]);
        barrier();
    }
    if (lid == 0u) ST(y, p.oy + j, partial[0]);
}
