// embed.c: token ids to vectors, "embed V D" (PyTorch's nn.Embedding(V, D, padding_idx=0)).
// Input (L,1,1): token ids stored as floats (exact up to 2^24): 0 = padding, 1 = out of vocabulary, 2.. = the
// model's vocabulary words (nn/vocab.h). Output (D,1,L): channel-major, so conv1d reads D channels of length L
// and meanpool/maxtime reduce over the last axis. Weights (V, D); row 0 (padding) is zero and never trained.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status embed_parse(Layer *l, char **args, int nargs) {
    if (nargs != 2) return bl_fail(BL_ERR_USAGE, "embed needs V (vocabulary size) and D (vector size)");
    if (layer_parse_int(args[0], "vocabulary size", 3, 1 << 22, &l->units)) return BL_ERR_USAGE;
    return layer_parse_int(args[1], "vector size", 1, 4096, &l->k);
}

static Status embed_plan(Layer *l, int max_batch) {
    (void)max_batch;
    if (l->in.h != 1 || l->in.w != 1)
        return bl_fail(BL_ERR_USAGE, "embed reads token ids (L,1,1), got %dx%dx%d", l->in.c, l->in.h, l->in.w);
    l->out = (Shape){l->k, 1, l->in.c};
    l->nweight = (size_t)l->units * l->k;
    return BL_OK;
}

// nn.Embedding's init: N(0, 1), the padding row zero.
static void embed_init(Layer *l, Rng *rng) {
    for (size_t i = 0; i < l->nweight; i++) l->w[i] = (float)rng_normal(rng);
    memset(l->w, 0, (size_t)l->k * sizeof(float));
}

// A token id as an index; anything outside [0, V) reads as out of vocabulary (ids come from batch_load, which
// never produces one, but a hostile caller must not index out of bounds).
static inline int embed_id(const Layer *l, float v) {
    if (!(v >= 0.0f && v < (float)l->units)) return 1;
    return (int)v;
}

static void embed_forward(Layer *l, const float *x, float *y, int B) {
    const int L = l->in.c, D = l->k;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * L;
        float *yb = y + (size_t)b * D * L; // (D, L)
        for (int t = 0; t < L; t++) {
            const int id = embed_id(l, xb[t]);
            const float *row = l->w + (size_t)id * D;
            for (int d = 0; d < D; d++) yb[(size_t)d * L + t] = id ? row[d] : 0.0f; // padding is zero whatever row 0 holds
        }
    }
}

// dW[id] += dy[:, t] for every (sample, position) using id, in sample then position order. Threads own fixed
// blocks of the D columns, so each weight sees the same additions in the same order at any thread count; only
// the rows of tokens in the batch are touched, and the padding row never.
static void embed_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)y;
    const int L = l->in.c, D = l->k, nblk = (D + LAYER_ROW_BLOCK - 1) / LAYER_ROW_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        const int d0 = blk * LAYER_ROW_BLOCK, d1 = BL_MIN(D, d0 + LAYER_ROW_BLOCK);
        for (int b = 0; b < B; b++) {
            const float *xb = x + (size_t)b * L, *dyb = dy + (size_t)b * D * L;
            for (int t = 0; t < L; t++) {
                const int id = embed_id(l, xb[t]);
                if (id == 0) continue;
                float *g = l->dw + (size_t)id * D;
                for (int d = d0; d < d1; d++) g[d] += dyb[(size_t)d * L + t];
            }
        }
    }
    if (dx) memset(dx, 0, (size_t)B * L * sizeof(float)); // ids are not differentiable
}

static void embed_describe(const Layer *l, char *buf, size_t n) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "embed %d %d", l->units, l->k);
}

const LayerOps embed_ops = {"embed", embed_parse, embed_plan, embed_init, embed_forward, embed_backward,
                            embed_describe, 0};
