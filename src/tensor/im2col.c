// im2col.c: im2col / col2im_add for single NCHW images.
//
// Both walk the column matrix row by row: for a fixed (c, ki, kj) and output row oh, the valid output columns
// form one contiguous range [ow_lo, ow_hi), computed once, so the inner loop has no bounds checks (a memcpy or
// a contiguous add when stride == 1) and the padding is a pair of short zero fills.
#include "tensor/im2col.h"

#include <string.h>

// ceil(n / d) for d > 0 and any sign of n.
static int ic_ceil_div(int n, int d) { return n >= 0 ? (n + d - 1) / d : -((-n) / d); }

// The output columns ow whose input column ow*stride - pad + kj lies inside [0, W): [*lo, *hi), possibly empty.
static void ic_valid_range(int W, int OW, int stride, int pad, int kj, int *lo, int *hi) {
    int a = ic_ceil_div(pad - kj, stride), b = ic_ceil_div(W + pad - kj, stride);
    a = a < 0 ? 0 : a > OW ? OW : a;
    b = b < a ? a : b > OW ? OW : b;
    *lo = a;
    *hi = b;
}

void im2col(const float *x, int C, int H, int W, int K, int stride, int pad, float *col) {
    const int OH = conv_out_size(H, K, stride, pad), OW = conv_out_size(W, K, stride, pad);
    if (C <= 0 || OH <= 0 || OW <= 0) return;
    const long plane = (long)OH * OW;
    for (int c = 0; c < C; c++) {
        const float *xc = x + (long)c * H * W; // x[c] (H,W)
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                float *out = col + ((long)(c * K + ki) * K + kj) * plane; // this col row, (OH,OW)
                int lo, hi;
                ic_valid_range(W, OW, stride, pad, kj, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    float *o = out + (long)oh * OW;
                    const int ih = oh * stride - pad + ki;
                    if (ih < 0 || ih >= H || lo >= hi) {
                        memset(o, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    // x[c][ih][iw] for the first valid column; later ones follow every `stride` floats.
                    const float *xr = xc + (long)ih * W + ((long)lo * stride - pad + kj);
                    for (int ow = 0; ow < lo; ow++) o[ow] = 0.0f;
                    if (stride == 1) {
                        memcpy(o + lo, xr, (size_t)(hi - lo) * sizeof(float));
                    } else {
                        for (int ow = lo; ow < hi; ow++) o[ow] = xr[(long)(ow - lo) * stride];
                    }
                    for (int ow = hi; ow < OW; ow++) o[ow] = 0.0f;
                }
            }
        }
    }
}

void col2im_add(const float *col, int C, int H, int W, int K, int stride, int pad, float *dx) {
    const int OH = conv_out_size(H, K, stride, pad), OW = conv_out_size(W, K, stride, pad);
    if (C <= 0 || OH <= 0 || OW <= 0) return;
    const long plane = (long)OH * OW;
    for (int c = 0; c < C; c++) {
        float *dc = dx + (long)c * H * W; // dx[c] (H,W)
        for (int ki = 0; ki < K; ki++) {
            for (int kj = 0; kj < K; kj++) {
                const float *in = col + ((long)(c * K + ki) * K + kj) * plane; // this col row, (OH,OW)
                int lo, hi;
                ic_valid_range(W, OW, stride, pad, kj, &lo, &hi);
                if (lo >= hi) continue;
                for (int oh = 0; oh < OH; oh++) {
                    const int ih = oh * stride - pad + ki;
                    if (ih < 0 || ih >= H) continue;
                    const float *s = in + (long)oh * OW + lo;
                    // dx[c][ih][iw] for the first valid column; later ones follow every `stride` floats.
                    float *dr = dc + (long)ih * W + ((long)lo * stride - pad + kj);
                    const int n = hi - lo;
                    if (stride == 1) {
                        for (int t = 0; t < n; t++) dr[t] += s[t];
                    } else {
                        for (int t = 0; t < n; t++) dr[(long)t * stride] += s[t];
                    }
                }
            }
        }
    }
}
