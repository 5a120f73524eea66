// conv.c: 2-D convolution, "conv OUT K [stride S] [pad P]", via im2col + sgemm.
// Weights (OUT, C, K, K), bias (OUT). The im2col matrices of the whole batch are kept from forward to
// backward (scratch), so backward does not recompute them; backward then reuses each sample's slot for the
// column gradient before col2im.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"
#include "tensor/im2col.h"
#include "tensor/sgemm.h"

// Fixed number of batch chunks for the weight-gradient reduction (>= the thread counts we run; a constant,
// never the thread count, so results do not depend on it).
#define CONV_CHUNKS 4

static Status conv_parse(Layer *l, char **args, int nargs) {
    if (nargs < 2) return bl_fail(BL_ERR_USAGE, "conv needs OUT and K (conv OUT K [stride S] [pad P])");
    if (layer_parse_int(args[0], "output channels", 1, 4096, &l->units)) return BL_ERR_USAGE;
    if (layer_parse_int(args[1], "kernel size", 1, 64, &l->k)) return BL_ERR_USAGE;
    l->stride = 1;
    l->pad = 0;
    for (int i = 2; i < nargs; i += 2) {
        if (i + 1 >= nargs) return bl_fail(BL_ERR_USAGE, "'%s' needs a value", args[i]);
        if (strcmp(args[i], "stride") == 0) {
            if (layer_parse_int(args[i + 1], "stride", 1, 64, &l->stride)) return BL_ERR_USAGE;
        } else if (strcmp(args[i], "pad") == 0) {
            if (layer_parse_int(args[i + 1], "pad", 0, 64, &l->pad)) return BL_ERR_USAGE;
        } else {
            return bl_fail(BL_ERR_USAGE, "unknown conv option '%s' (expected stride or pad)", args[i]);
        }
    }
    return BL_OK;
}

static Status conv_plan(Layer *l, int max_batch) {
    int oh = conv_out_size(l->in.h, l->k, l->stride, l->pad);
    int ow = conv_out_size(l->in.w, l->k, l->stride, l->pad);
    if (l->in.h + 2 * l->pad < l->k || l->in.w + 2 * l->pad < l->k || oh < 1 || ow < 1)
        return bl_fail(BL_ERR_USAGE, "kernel %d does not fit input %dx%d with pad %d", l->k, l->in.h, l->in.w,
                       l->pad);
    l->out = (Shape){l->units, oh, ow};
    l->nweight = (size_t)l->units * l->in.c * l->k * l->k;
    l->nbias = (size_t)l->units;
    // col (B, C*K*K, OH*OW), then CONV_CHUNKS partial weight+bias gradients (OUT*(C*K*K) + OUT each)
    l->scratch_floats = (size_t)max_batch * l->in.c * l->k * l->k * oh * ow + CONV_CHUNKS * (l->nweight + l->nbias);
    return BL_OK;
}

static void conv_init(Layer *l, Rng *rng) { layer_init_uniform_fan_in(l, l->in.c * l->k * l->k, rng); }

static void conv_forward(Layer *l, const float *x, float *y, int B) {
    const int ckk = l->in.c * l->k * l->k, ohw = l->out.h * l->out.w, oc = l->units;
    const size_t in_sz = shape_size(l->in), out_sz = shape_size(l->out);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *col = l->scratch + (size_t)b * ckk * ohw; // (C*K*K, OH*OW)
        float *yb = y + b * out_sz;                      // (OC, OH*OW)
        im2col(x + b * in_sz, l->in.c, l->in.h, l->in.w, l->k, l->stride, l->pad, col);
        for (int o = 0; o < oc; o++)
            for (int p = 0; p < ohw; p++) yb[o * ohw + p] = l->b[o];
        sgemm(0, 0, oc, ohw, ckk, 1.0f, l->w, ckk, col, ohw, 1.0f, yb, ohw);
    }
}

static void conv_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    const int ckk = l->in.c * l->k * l->k, ohw = l->out.h * l->out.w, oc = l->units;
    const size_t in_sz = shape_size(l->in), out_sz = shape_size(l->out);
    // Weight and bias gradients: the batch is cut into CONV_CHUNKS fixed chunks (whatever the thread count);
    // each chunk sums its samples in order into its own partial buffer with full-height GEMMs, then the partials
    // are added in chunk order. Same arithmetic at any thread count, so bit-identical results.
    float *partial = l->scratch + (size_t)l->scratch_floats - CONV_CHUNKS * (l->nweight + l->nbias);
    const size_t pstride = l->nweight + l->nbias; // partial c: dW (OUT, C*K*K) then db (OUT)
#pragma omp parallel for schedule(static)
    for (int c = 0; c < CONV_CHUNKS; c++) {
        float *pw = partial + c * pstride, *pb = pw + l->nweight;
        memset(pw, 0, pstride * sizeof(float));
        int b0 = (int)((long)B * c / CONV_CHUNKS), b1 = (int)((long)B * (c + 1) / CONV_CHUNKS);
        for (int b = b0; b < b1; b++) {
            const float *dyb = dy + b * out_sz;                    // (OUT, OH*OW)
            const float *col = l->scratch + (size_t)b * ckk * ohw; // (C*K*K, OH*OW)
            sgemm(0, 1, oc, ckk, ohw, 1.0f, dyb, ohw, col, ohw, 1.0f, pw, ckk);
            for (int o = 0; o < oc; o++) {
                float s = 0.0f;
                for (int p = 0; p < ohw; p++) s += dyb[o * ohw + p];
                pb[o] += s;
            }
        }
    }
    const long nw = (long)pstride;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < nw; i++) {
        float s = 0.0f;
        for (int c = 0; c < CONV_CHUNKS; c++) s += partial[c * pstride + i];
        if (i < (long)l->nweight) l->dw[i] += s;
        else l->db[i - l->nweight] += s;
    }
    if (!dx) return;
    // Input gradient: per sample, dcol = W^T dy, written over that sample's (now used) col slot, then col2im.
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *dcol = l->scratch + (size_t)b * ckk * ohw;
        sgemm(1, 0, ckk, ohw, oc, 1.0f, l->w, ckk, dy + b * out_sz, ohw, 0.0f, dcol, ohw);
        float *dxb = dx + b * in_sz;
        memset(dxb, 0, in_sz * sizeof(float));
        col2im_add(dcol, l->in.c, l->in.h, l->in.w, l->k, l->stride, l->pad, dxb);
    }
}

static void conv_describe(const Layer *l, char *buf, size_t n) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "conv %d %d", l->units, l->k);
    len = strlen(buf);
    if (l->stride != 1) snprintf(buf + len, n - len, " stride %d", l->stride);
    len = strlen(buf);
    if (l->pad != 0) snprintf(buf + len, n - len, " pad %d", l->pad);
}

const LayerOps conv_ops = {"conv", conv_parse, conv_plan, conv_init, conv_forward, conv_backward, conv_describe, 0};
