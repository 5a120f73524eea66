// conv1d.c: 1-D convolution over time with one filter bank per kernel width, "conv1d N K1 [K2 K3 K4]" (Kim's
// 2014 text CNN uses widths 3 4 5 side by side). Input (C,1,L); output (N*nk,1,L): bank i's N channels follow
// bank i-1's. "Same" zero padding ((K-1)/2 before, the rest after) keeps every bank L long so they stack; zero
// vectors are what padding tokens embed to, so this equals padding the message. Weights: bank after bank,
// (N, C, K_i) each as in nn.Conv1d; biases (N*nk). im2col + sgemm; the column matrices are kept for backward.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"
#include "tensor/sgemm.h"

// Fixed batch chunks for the weight-gradient reduction (a constant, never the thread count; see conv.c).
#define CONV1D_CHUNKS 4

static Status conv1d_parse(Layer *l, char **args, int nargs) {
    if (nargs < 2 || nargs > 5) return bl_fail(BL_ERR_USAGE, "conv1d needs N and one to four widths (conv1d N K1 [K2 K3 K4])");
    if (layer_parse_int(args[0], "filters per width", 1, 4096, &l->units)) return BL_ERR_USAGE;
    l->nk = nargs - 1;
    for (int i = 0; i < l->nk; i++)
        if (layer_parse_int(args[i + 1], "kernel width", 1, 64, &l->ks[i])) return BL_ERR_USAGE;
    return BL_OK;
}

static int conv1d_ksum(const Layer *l) {
    int s = 0;
    for (int i = 0; i < l->nk; i++) s += l->ks[i];
    return s;
}

static Status conv1d_plan(Layer *l, int max_batch) {
    if (l->in.h != 1) return bl_fail(BL_ERR_USAGE, "conv1d needs (C,1,L) sequences, got %dx%dx%d", l->in.c, l->in.h, l->in.w);
    const int ksum = conv1d_ksum(l);
    l->out = (Shape){l->units * l->nk, 1, l->in.w};
    l->nweight = (size_t)l->units * l->in.c * ksum;
    l->nbias = (size_t)l->units * l->nk;
    // cols (B, C*ksum, L), then CONV1D_CHUNKS partial gradients (nweight + nbias each)
    l->scratch_floats = (size_t)max_batch * l->in.c * ksum * l->in.w + CONV1D_CHUNKS * (l->nweight + l->nbias);
    return BL_OK;
}

// Each bank's fan-in is C*K_i (PyTorch's default init per nn.Conv1d).
static void conv1d_init(Layer *l, Rng *rng) {
    float *w = l->w;
    for (int i = 0; i < l->nk; i++) {
        Layer bank = *l;
        bank.w = w, bank.b = l->b + (size_t)i * l->units;
        bank.nweight = (size_t)l->units * l->in.c * l->ks[i], bank.nbias = (size_t)l->units;
        layer_init_uniform_fan_in(&bank, l->in.c * l->ks[i], rng);
        w += bank.nweight;
    }
}

// col (C*K, L): col[(c*K + k)*L + t] = x[c, t + k - (K-1)/2], zero outside the sequence.
static void im2col1d(const float *x, int C, int L, int K, float *col) {
    const int left = (K - 1) / 2;
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++) {
            float *row = col + ((size_t)c * K + k) * L;
            const int s = k - left;
            for (int t = 0; t < L; t++) row[t] = (t + s >= 0 && t + s < L) ? x[(size_t)c * L + t + s] : 0.0f;
        }
}

// The adjoint of im2col1d: dx[c, t + k - left] += dcol[(c*K + k)*L + t].
static void col2im1d_add(const float *dcol, int C, int L, int K, float *dx) {
    const int left = (K - 1) / 2;
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++) {
            const float *row = dcol + ((size_t)c * K + k) * L;
            const int s = k - left;
            for (int t = 0; t < L; t++)
                if (t + s >= 0 && t + s < L) dx[(size_t)c * L + t + s] += row[t];
        }
}

static void conv1d_forward(Layer *l, const float *x, float *y, int B) {
    const int C = l->in.c, L = l->in.w, N = l->units, ksum = conv1d_ksum(l);
    const size_t in_sz = shape_size(l->in), out_sz = shape_size(l->out);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *col = l->scratch + (size_t)b * C * ksum * L; // banks' (C*K_i, L) back to back
        const float *w = l->w;
        for (int i = 0; i < l->nk; i++) {
            const int K = l->ks[i];
            float *yb = y + b * out_sz + (size_t)i * N * L; // (N, L)
            im2col1d(x + b * in_sz, C, L, K, col);
            for (int o = 0; o < N; o++)
                for (int t = 0; t < L; t++) yb[(size_t)o * L + t] = l->b[i * N + o];
            sgemm(0, 0, N, L, C * K, 1.0f, w, C * K, col, L, 1.0f, yb, L);
            col += (size_t)C * K * L, w += (size_t)N * C * K;
        }
    }
}

static void conv1d_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    const int C = l->in.c, L = l->in.w, N = l->units, ksum = conv1d_ksum(l);
    const size_t in_sz = shape_size(l->in), out_sz = shape_size(l->out);
    // Weight and bias gradients: fixed batch chunks sum their samples in order into partials, added in chunk
    // order: the same arithmetic at any thread count.
    float *partial = l->scratch + (size_t)l->scratch_floats - CONV1D_CHUNKS * (l->nweight + l->nbias);
    const size_t pstride = l->nweight + l->nbias;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < CONV1D_CHUNKS; ch++) {
        float *pw = partial + ch * pstride, *pb = pw + l->nweight;
        memset(pw, 0, pstride * sizeof(float));
        int b0 = (int)((long)B * ch / CONV1D_CHUNKS), b1 = (int)((long)B * (ch + 1) / CONV1D_CHUNKS);
        for (int b = b0; b < b1; b++) {
            const float *col = l->scratch + (size_t)b * C * ksum * L;
            float *gw = pw;
            for (int i = 0; i < l->nk; i++) {
                const int K = l->ks[i];
                const float *dyb = dy + b * out_sz + (size_t)i * N * L; // (N, L)
                sgemm(0, 1, N, C * K, L, 1.0f, dyb, L, col, L, 1.0f, gw, C * K);
                for (int o = 0; o < N; o++) {
                    float s = 0.0f;
                    for (int t = 0; t < L; t++) s += dyb[(size_t)o * L + t];
                    pb[i * N + o] += s;
                }
                col += (size_t)C * K * L, gw += (size_t)N * C * K;
            }
        }
    }
    const long nw = (long)pstride;
#pragma omp parallel for schedule(static)
    for (long j = 0; j < nw; j++) {
        float s = 0.0f;
        for (int ch = 0; ch < CONV1D_CHUNKS; ch++) s += partial[ch * pstride + j];
        if (j < (long)l->nweight) l->dw[j] += s;
        else l->db[j - l->nweight] += s;
    }
    if (!dx) return;
    // Input gradient per sample: dcol = W_i^T dy_i over each bank's (used) column slot, then col2im.
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *dcol = l->scratch + (size_t)b * C * ksum * L, *dxb = dx + b * in_sz;
        const float *w = l->w;
        memset(dxb, 0, in_sz * sizeof(float));
        for (int i = 0; i < l->nk; i++) {
            const int K = l->ks[i];
            sgemm(1, 0, C * K, L, N, 1.0f, w, C * K, dy + b * out_sz + (size_t)i * N * L, L, 0.0f, dcol, L);
            col2im1d_add(dcol, C, L, K, dxb);
            dcol += (size_t)C * K * L, w += (size_t)N * C * K;
        }
    }
}

static void conv1d_describe(const Layer *l, char *buf, size_t n) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "conv1d %d", l->units);
    for (int i = 0; i < l->nk; i++) {
        len = strlen(buf);
        snprintf(buf + len, n - len, " %d", l->ks[i]);
    }
}

const LayerOps conv1d_ops = {"conv1d", conv1d_parse, conv1d_plan, conv1d_init, conv1d_forward, conv1d_backward,
                             conv1d_describe, 0};
