// Deterministic scatter-add through segments prepared on the host (no atomics):
// for each unique destination row u and column c,
//   dst[udst[u], c] = sum over j in [start[u], start[u+1]) of src[perm[j], c].
// udst, start and perm live in one uint buffer at the given offsets; dst rows not
// listed are left untouched (the host zero-fills dst first).
// Push: n = U * C, C, src offset, meta offsets (udst, start, perm), dst offset.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, src, readonly)
UBUF(1, meta, readonly)
FBUF(2, dst, )

layout(push_constant) uniform Push {
    uint n; uint cols; uint osrc; uint oudst; uint ostart; uint operm; uint odst;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    uint u = i / p.cols, c = i - u * p.cols;
    uint j0 = meta[p.ostart + u], j1 = meta[p.ostart + u + 1u];
    float acc = 0.0;
    for (uint j = j0; j < j1; ++j) acc += LD(src, p.osrc + meta[p.operm + j] * p.cols + c);
    ST(dst, p.odst + meta[p.oudst + u] * p.cols + c, acc);
}
