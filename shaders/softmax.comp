// Softmax family along the middle axis of an [outer, R, inner] view, one invocation
// per (outer, inner) line. OP 0 softmax(x), 1 log_softmax(x),
// 2 softmax backward (x = y, g), 3 log_softmax backward (x = y, g).
// Push: outer, R, inner, x/g/out offsets.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;

FBUF(0, x, readonly)
FBUF(1, g, readonly)
FBUF(2, dst, )

layout(push_constant) uniform Push { uint outer; uint R; uint inner; uint ox; uint og; uint od; } p;

void main() {
    uint line = linear_id();
    if (line >= p.outer * p.inner) return;
    uint o = line / p.inner, i = line - o * p.inner;
    uint base = o * p.R * p.inner + i;
    uint st = p.inner;
    if (OP <= 1u) {
        float m = -INF_F;
        for (uint r = 0u; r < p.R; ++r) m = max(m, LD(x, p.ox + base + r * st));
        float s = 0.0;
        for (uint r = 0u; r < p.R; ++r) s += exp(LD(x, p.ox + base + r * st) - m);
        if (OP == 0u) {
            float inv = 1.0 / s;
            for (uint r = 0u; r < p.R; ++r) ST(dst, p.od + base + r * st, exp(LD(x, p.ox + base + r * st) - m) * inv);
        } else {
            // (x - m) - log(s), not x - (m + log(s)): m + log(s) would round away log(s) for large m
            float ls = log(s);
            for (uint r = 0u; r < p.R; ++r) ST(dst, p.od + base + r * st, (LD(x, p.ox + base + r * st) - m) - ls);
        }
    } else if (OP == 2u) {
        float s = 0.0;
        for (uint r = 0u; r < p.R; ++r) s += LD(g, p.og + base + r * st) * LD(x, p.ox + base + r * st);
        for (uint r = 0u; r < p.R; ++r) {
            float y = LD(x, p.ox + base + r * st);
            ST(dst, p.od + base + r * st, y * (LD(g, p.og + base + r * st) - s));
        }
    } else {
        float s = 0.0;
        for (uint r = 0u; r < p.R; ++r) s += LD(g, p.og + base + r * st);
        for (uint r = 0u; r < p.R; ++r)
            ST(dst, p.od + base + r * st, LD(g, p.og + base + r * st) - exp(LD(x, p.ox + base + r * st)) * s);
    }
}
