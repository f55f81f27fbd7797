// out[i, k] = (labels[i] == k) for k < classes. Push: n = items * classes, classes, offsets.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

UBUF(0, labels, readonly)
FBUF(1, dst, )

layout(push_constant) uniform Push { uint n; uint classes; uint olab; uint odst; } p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    uint r = i / p.classes, k = i - r * p.classes;
    ST(dst, p.odst + i, labels[p.olab + r] == k ? 1.0 : 0.0);
}
