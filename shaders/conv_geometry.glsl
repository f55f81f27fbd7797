// Push constants shared by the NHWC convolution and pooling shaders:
// input [N, H, W, C], window KH x KW, strides SH, SW, top/left padding PT, PL,
// output spatial size HO x WO, then three buffer offsets; with CONV_DILATION (im2col, col2im)
// also the kernel dilation DH, DW (taps DH rows, DW columns apart).
layout(push_constant) uniform Push {
    uint N; uint H; uint W; uint C; uint KH; uint KW; uint SH; uint SW; uint PT; uint PL;
    uint HO; uint WO; uint o0; uint o1; uint o2;
#ifdef CONV_DILATION
    uint DH; uint DW;
#endif
} p;

// First output index whose window (start o*S - P, length K) covers padded coordinate q.
uint first_window(uint q, uint K, uint S) { return q >= K ? (q - K) / S + 1u : 0u; }
