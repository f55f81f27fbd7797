// Row gather: out[r, c] = src[idx[r], c] for r < rows, c < C (embedding lookup,
// integer-array indexing with C = 1). Push: n = rows * C, C, src/idx/out offsets.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, src, readonly)
UBUF(1, idx, readonly)
FBUF(2, dst, )

layout(push_constant) uniform Push { uint n; uint cols; uint osrc; uint oidx; uint odst; } p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    uint r = i / p.cols, c = i - r * p.cols;
    ST(dst, p.odst + i, LD(src, p.osrc + idx[p.oidx + r] * p.cols + c));
}
