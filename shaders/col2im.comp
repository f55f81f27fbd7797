// Input gradient of a convolution from the column gradient, as a gather (no atomics):
// gx[n, h, w, c] = sum of dcols[(n, ho, wo), (i, j, c)] over every window tap that read
// x[n, h, w, c]. Offsets: o0 = dcols, o1 = gx.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv_geometry.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, dcols, readonly)
FBUF(1, gx, )

void main() {
    uint idx = linear_id();
    if (idx >= p.N * p.H * p.W * p.C) return;
    uint t = idx;
    uint c = t % p.C; t /= p.C;
    uint w = t % p.W; t /= p.W;
    uint h = t % p.H;
    uint n = t / p.H;
    uint hp = h + p.PT, wp = w + p.PL;
    uint row_len = p.KH * p.KW * p.C;
    float acc = 0.0;
    uint ho_hi = min(p.HO - 1u, hp / p.SH), wo_hi = min(p.WO - 1u, wp / p.SW);
    for (uint ho = first_window(hp, p.KH, p.SH); ho <= ho_hi; ++ho) {
        uint i = hp - ho * p.SH;
        for (uint wo = first_window(wp, p.KW, p.SW); wo <= wo_hi; ++wo) {
            uint j = wp - wo * p.SW;
            acc += LD(dcols, p.o0 + ((n * p.HO + ho) * p.WO + wo) * row_len + (i * p.KW + j) * p.C + c);
        }
    }
    ST(gx, p.o1 + idx, acc);
}
