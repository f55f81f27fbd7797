// Input gradient of 2-D pooling as a gather over the windows covering each input cell:
// OP 0 max (the cell receives g where it was the recorded argmax), OP 1 average
// (g / cells counted). Offsets: o0 = g, o1 = arg, o2 = gx.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv_geometry.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;

FBUF(0, g, readonly)
UBUF(1, arg, readonly)
FBUF(2, gx, )

uint cells(uint o, uint S, uint K, uint P, uint L) {
    int lo = int(o * S) - int(P);
    int hi = lo + int(K);
    return uint(min(hi, int(L)) - max(lo, 0));
}

void main() {
    uint idx = linear_id();
    if (idx >= p.N * p.H * p.W * p.C) return;
    uint t = idx;
    uint c = t % p.C; t /= p.C;
    uint w = t % p.W; t /= p.W;
    uint h = t % p.H;
    uint n = t / p.H;
    uint hp = h + p.PT, wp = w + p.PL;
    float acc = 0.0;
    uint ho_hi = min(p.HO - 1u, hp / p.SH), wo_hi = min(p.WO - 1u, wp / p.SW);
    for (uint ho = first_window(hp, p.KH, p.SH); ho <= ho_hi; ++ho) {
        uint i = hp - ho * p.SH;
        for (uint wo = first_window(wp, p.KW, p.SW); wo <= wo_hi; ++wo) {
            uint j = wp - wo * p.SW;
            uint o = ((n * p.HO + ho) * p.WO + wo) * p.C + c;
            if (OP == 0u) {
                if (arg[p.o1 + o] == i * p.KW + j) acc += LD(g, p.o0 + o);
            } else {
                float cnt = float(cells(ho, p.SH, p.KH, p.PT, p.H) * cells(wo, p.SW, p.KW, p.PL, p.W));
                acc += LD(g, p.o0 + o) / cnt;
            }
        }
    }
    ST(gx, p.o2 + idx, acc);
}
