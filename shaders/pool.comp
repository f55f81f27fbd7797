// 2-D pooling over NHWC windows. OP 0 max (also writes the window-local index
// i * KW + j of the first maximum, padding counting as -inf), OP 1 average over the
// cells inside the input (padding not counted, as Keras/TF "same").
// Offsets: o0 = x, o1 = y, o2 = arg.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;

FBUF(0, x, readonly)
FBUF(1, y, )
UBUF(2, arg, )

void main() {
    uint idx = linear_id();
    if (idx >= p.N * p.HO * p.WO * p.C) return;
    uint t = idx;
    uint c = t % p.C; t /= p.C;
    uint wo = t % p.WO; t /= p.WO;
    uint ho = t % p.HO;
    uint n = t / p.HO;
    float best = -INF_F, total = 0.0;
    uint best_k = 0u, count = 0u;
    for (uint i = 0u; i < p.KH; ++i) {
        int h = int(ho * p.SH + i) - int(p.PT);
        for (uint j = 0u; j < p.KW; ++j) {
            int w = int(wo * p.SW + j) - int(p.PL);
            bool inside = h >= 0 && h < int(p.H) && w >= 0 && w < int(p.W);
            float v = inside ? LD(x, p.o0 + ((n * p.H + uint(h)) * p.W + uint(w)) * p.C + c) : -INF_F;
            if (OP == 0u) {
                if ((i == 0u && j == 0u) || v > best) { best = v; best_k = i * p.KW + j; }
            } else if (inside) {
                total += v;
                count += 1u;
            }
        }
    }
    if (OP == 0u) {
        ST(y, p.o1 + idx, best);
        arg[p.o2 + idx] = best_k;
    } else {
        ST(y, p.o1 + idx, total / float(count));
    }
}
