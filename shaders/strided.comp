// Copy between a contiguous array and a strided view of another (up to 6 dims):
// MODE 0 gather   dst[i] = src[view(i)]      (transpose, broadcast_to, basic slicing)
// MODE 1 scatter  dst[view(i)] = src[i]      (concat, gradient of a basic slice: views never
//                                             repeat a cell)
// Strides are signed element strides of the view. Push: n, src offset, dst offset, shape[6], stride[6].
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint MODE = 0;
layout(constant_id = 3) const uint NDIM = 1;

FBUF(0, src, readonly)
FBUF(1, dst, )

layout(push_constant) uniform Push {
    uint n; uint osrc; uint odst; uint shape[6]; int stride[6];
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    int v = 0;
    uint rem = i;
    for (int d = int(NDIM) - 1; d >= 0; --d) {
        uint k = rem % p.shape[d];
        rem /= p.shape[d];
        v += int(k) * p.stride[d];
    }
    if (MODE == 0) {
        ST(dst, p.odst + i, LD(src, uint(int(p.osrc) + v)));
    } else {
        ST(dst, uint(int(p.odst) + v), LD(src, p.osrc + i));
    }
}
