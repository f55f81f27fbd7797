// cols[(n, ho, wo), (i, j, c)] = x[n, ho*SH + i*DH - PT, wo*SW + j*DW - PL, c], 0 in the padding.
// The column order matches w.reshape(KH * KW * C, C_out). Offsets: o0 = x, o1 = cols.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#define CONV_DILATION
#include "conv_geometry.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, x, readonly)
FBUF(1, cols, )

void main() {
    uint idx = linear_id();
    uint total = p.N * p.HO * p.WO * p.KH * p.KW * p.C;
    if (idx >= total) return;
    uint t = idx;
    uint c = t % p.C; t /= p.C;
    uint j = t % p.KW; t /= p.KW;
    uint i = t % p.KH; t /= p.KH;
    uint wo = t % p.WO; t /= p.WO;
    uint ho = t % p.HO;
    uint n = t / p.HO;
    int h = int(ho * p.SH + i * p.DH) - int(p.PT);
    int w = int(wo * p.SW + j * p.DW) - int(p.PL);
    float v = 0.0;
    if (h >= 0 && h < int(p.H) && w >= 0 && w < int(p.W))
        v = LD(x, p.o0 + ((n * p.H + uint(h)) * p.W + uint(w)) * p.C + c);
    ST(cols, p.o1 + idx, v);
}
