// pool.c: max and average pooling, "maxpool K [stride S]" / "avgpool K [stride S]" (stride defaults to K,
// no padding, windows that would overhang the edge are dropped, as in PyTorch's default floor mode).
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status pool_parse(Layer *l, char **args, int nargs) {
    if (nargs != 1 && nargs != 3) return bl_fail(BL_ERR_USAGE, "expected 'K' or 'K stride S'");
    if (layer_parse_int(args[0], "pool size", 1, 64, &l->k)) return BL_ERR_USAGE;
    l->stride = l->k;
    if (nargs == 3) {
        if (strcmp(args[1], "stride") != 0)
            return bl_fail(BL_ERR_USAGE, "unknown pool option '%s' (expected stride)", args[1]);
        if (layer_parse_int(args[2], "stride", 1, 64, &l->stride)) return BL_ERR_USAGE;
    }
    return BL_OK;
}

static Status pool_plan(Layer *l, int max_batch) {
    (void)max_batch;
    if (l->in.h < l->k || l->in.w < l->k)
        return bl_fail(BL_ERR_USAGE, "pool size %d is larger than the input %dx%d", l->k, l->in.h, l->in.w);
    l->out = (Shape){l->in.c, (l->in.h - l->k) / l->stride + 1, (l->in.w - l->k) / l->stride + 1};
    return BL_OK;
}

static Status maxpool_plan(Layer *l, int max_batch) {
    Status st = pool_plan(l, max_batch);
    l->aux_ints = (size_t)max_batch * shape_size(l->out); // argmax (B, C, OH, OW): index into the input plane
    return st;
}

static void maxpool_forward(Layer *l, const float *x, float *y, int B) {
    const int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w, K = l->k, S = l->stride;
    const int planes = B * l->in.c;
    if (K == 2 && S == 2) {
        // The common case, written so gcc vectorises it: the first maximum of each row pair, then of the two
        // winners (strict >, so the same element wins as in the general loop). aux keeps the winner's position
        // in the window as a code 0..3 (row-major).
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            const float *xp = x + (size_t)pl * H * W;
            float *yp = y + (size_t)pl * OH * OW;
            int *code = l->aux + (size_t)pl * OH * OW;
            for (int oy = 0; oy < OH; oy++) {
                const float *r0 = xp + 2 * oy * W, *r1 = r0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                    int top_right = b > a, bottom_right = d > c;
                    float mt = top_right ? b : a, mb = bottom_right ? d : c;
                    int bottom = mb > mt;
                    yp[oy * OW + ox] = bottom ? mb : mt;
                    code[oy * OW + ox] = bottom ? 2 + bottom_right : top_right;
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W; // (H, W)
        float *yp = y + (size_t)pl * OH * OW;     // (OH, OW)
        int *arg = l->aux + (size_t)pl * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int best = (oy * S) * W + ox * S;
                float m = xp[best];
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) {
                        int i = (oy * S + ky) * W + ox * S + kx;
                        if (xp[i] > m) m = xp[i], best = i; // first maximum wins, as in PyTorch
                    }
                yp[oy * OW + ox] = m;
                arg[oy * OW + ox] = best;
            }
    }
}

// g when keep is 1, +0.0f when keep is 0, without a branch (gcc turns `keep ? g : 0` into an unpredictable jump).
static inline float masked(float g, int keep) {
    uint32_t bits;
    memcpy(&bits, &g, sizeof bits);
    bits &= 0u - (uint32_t)keep;
    memcpy(&g, &bits, sizeof g);
    return g;
}

// One input row of a 2x2 max pool's gradient: out[2i] = g[i] where code[i] == first, out[2i+1] = g[i] where
// code[i] == first + 1, else +0. (restrict and two plain stores per i: gcc vectorises it.)
static void unpool_row(const float *restrict g, const int *restrict code, float *restrict out, int OW, int first) {
    for (int i = 0; i < OW; i++) {
        out[2 * i] = masked(g[i], code[i] == first);
        out[2 * i + 1] = masked(g[i], code[i] == first + 1);
    }
}

static void maxpool_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    if (!dx) return;
    const int HW = l->in.h * l->in.w, OHW = l->out.h * l->out.w, planes = B * l->in.c;
    if (l->k == 2 && l->stride == 2) {
        const int W = l->in.w, OW = l->out.w, OH = l->out.h;
#pragma omp parallel for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            const float *dyp = dy + (size_t)pl * OHW;
            const int *code = l->aux + (size_t)pl * OHW;
            float *dxp = dx + (size_t)pl * HW;
            if ((l->in.h & 1) | (l->in.w & 1)) memset(dxp, 0, HW * sizeof(float)); // uncovered last row/col
            // Windows do not overlap, so each input is written once, branch-free: the window's top row takes
            // codes 0 and 1, its bottom row codes 2 and 3.
            for (int oy = 0; oy < OH; oy++) {
                unpool_row(dyp + (size_t)oy * OW, code + (size_t)oy * OW, dxp + (size_t)2 * oy * W, OW, 0);
                unpool_row(dyp + (size_t)oy * OW, code + (size_t)oy * OW, dxp + (size_t)(2 * oy + 1) * W, OW, 2);
            }
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * HW;
        const float *dyp = dy + (size_t)pl * OHW;
        const int *arg = l->aux + (size_t)pl * OHW;
        memset(dxp, 0, HW * sizeof(float));
        for (int i = 0; i < OHW; i++) dxp[arg[i]] += dyp[i];
    }
}

static void avgpool_forward(Layer *l, const float *x, float *y, int B) {
    const int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w, K = l->k, S = l->stride;
    const int planes = B * l->in.c;
    const float inv = 1.0f / (float)(K * K);
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float s = 0.0f;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) s += xp[(oy * S + ky) * W + ox * S + kx];
                yp[oy * OW + ox] = s * inv;
            }
    }
}

static void avgpool_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    if (!dx) return;
    const int H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w, K = l->k, S = l->stride;
    const int planes = B * l->in.c;
    const float inv = 1.0f / (float)(K * K);
#pragma omp parallel for schedule(static)
    for (int pl = 0; pl < planes; pl++) {
        float *dxp = dx + (size_t)pl * H * W;
        const float *dyp = dy + (size_t)pl * OH * OW;
        memset(dxp, 0, (size_t)H * W * sizeof(float));
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float g = dyp[oy * OW + ox] * inv;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++) dxp[(oy * S + ky) * W + ox * S + kx] += g;
            }
    }
}

static void pool_describe_as(const Layer *l, const char *name, char *buf, size_t n) {
    size_t len = strlen(buf);
    if (l->stride == l->k) snprintf(buf + len, n - len, "%s %d", name, l->k);
    else snprintf(buf + len, n - len, "%s %d stride %d", name, l->k, l->stride);
}
static void maxpool_describe(const Layer *l, char *buf, size_t n) { pool_describe_as(l, "maxpool", buf, n); }
static void avgpool_describe(const Layer *l, char *buf, size_t n) { pool_describe_as(l, "avgpool", buf, n); }

const LayerOps maxpool_ops = {"maxpool", pool_parse, maxpool_plan, NULL,
                              maxpool_forward, maxpool_backward, maxpool_describe, 0};
const LayerOps avgpool_ops = {"avgpool", pool_parse, pool_plan, NULL,
                              avgpool_forward, avgpool_backward, avgpool_describe, 0};
