// Input gradient of a convolution from the column gradient, as a gather (no atomics):
// gx[n, h, w, c] = sum of dcols[(n, ho, wo), (i, j, c)] over every window tap that read
// x[n, h, w, c], i.e. ho*SH + i*DH = h + PT and wo*SW + j*DW = w + PL. Offsets: o0 = dcols, o1 = gx.
// Also the forward of a transposed convolution (dcols = x @ w^T).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#define CONV_DILATION
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
    for (uint i = 0u; i < p.KH && i * p.DH <= hp; ++i) {
        uint hq = hp - i * p.DH;
        uint ho = hq / p.SH;
        if (ho * p.SH != hq || ho >= p.HO) continue;
        for (uint j = 0u; j < p.KW && j * p.DW <= wp; ++j) {
            uint wq = wp - j * p.DW;
            uint wo = wq / p.SW;
            if (wo * p.SW != wq || wo >= p.WO) continue;
            acc += LD(dcols, p.o0 + ((n * p.HO + ho) * p.WO + wo) * row_len + (i * p.KW + j) * p.C + c);
        }
    }
    ST(gx, p.o1 + idx, acc);
}
