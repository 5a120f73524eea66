// im2col.h: unfold an NCHW image into convolution patches (im2col) and fold gradients back (col2im_add).
//
// For one image x (C,H,W), kernel K x K, stride and zero padding pad, the column matrix is
//   col (C*K*K, OH*OW), row r = (c*K + ki)*K + kj, column oh*OW + ow,
//   col[r][oh*OW + ow] = x[c][oh*stride - pad + ki][ow*stride - pad + kj]   (0 outside the image)
// so a convolution is one GEMM: y (O, OH*OW) = w (O, C*K*K) * col.
#ifndef BL_IM2COL_H
#define BL_IM2COL_H

// Output size of a convolution or pooling window along one axis; 0 when the window does not fit or the
// arguments are invalid (k <= 0, stride <= 0, pad < 0).
static inline int conv_out_size(int in, int k, int stride, int pad) {
    if (in <= 0 || k <= 0 || stride <= 0 || pad < 0 || in + 2 * pad < k) return 0;
    return (in + 2 * pad - k) / stride + 1;
}

// col (C*K*K, OH*OW) = patches of x (C,H,W). Does nothing when the output size is 0.
void im2col(const float *x, int C, int H, int W, int K, int stride, int pad, float *col);

// dx (C,H,W) += fold of col (C*K*K, OH*OW): the adjoint of im2col (overlapping patches add up, padding drops).
void col2im_add(const float *col, int C, int H, int W, int K, int stride, int pad, float *dx);

#endif
