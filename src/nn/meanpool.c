// meanpool.c: masked mean over time, "meanpool": (C,1,L) -> (C,1,1), averaging only the positions that hold a
// token (the model's input id is not 0, the padding id), so a short message is not diluted by its padding.
// Needs token ids as the model input (an embed layer in front). Per-sample token counts live in aux.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status meanpool_parse(Layer *l, char **args, int nargs) {
    (void)l;
    (void)args;
    return nargs ? bl_fail(BL_ERR_USAGE, "meanpool takes no arguments") : BL_OK;
}

static Status meanpool_plan(Layer *l, int max_batch) {
    if (l->in.h != 1 || l->model_in.c != l->in.w || l->model_in.h != 1 || l->model_in.w != 1)
        return bl_fail(BL_ERR_USAGE, "meanpool needs (C,1,L) vectors of a message of L token ids (an embed in front)");
    l->out = (Shape){l->in.c, 1, 1};
    l->aux_ints = (size_t)max_batch;
    return BL_OK;
}

static void meanpool_forward(Layer *l, const float *x, float *y, int B) {
    const int C = l->in.c, L = l->in.w;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *ids = l->tokens + (size_t)b * L, *xb = x + (size_t)b * C * L;
        int n = 0;
        for (int t = 0; t < L; t++) n += ids[t] != 0.0f;
        l->aux[b] = n;
        for (int c = 0; c < C; c++) {
            float s = 0.0f;
            for (int t = 0; t < L; t++)
                if (ids[t] != 0.0f) s += xb[(size_t)c * L + t];
            y[(size_t)b * C + c] = n ? s / (float)n : 0.0f;
        }
    }
}

static void meanpool_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    if (!dx) return;
    const int C = l->in.c, L = l->in.w;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *ids = l->tokens + (size_t)b * L;
        const int n = l->aux[b];
        for (int c = 0; c < C; c++) {
            const float g = n ? dy[(size_t)b * C + c] / (float)n : 0.0f;
            float *dxc = dx + (size_t)b * C * L + (size_t)c * L;
            for (int t = 0; t < L; t++) dxc[t] = ids[t] != 0.0f ? g : 0.0f;
        }
    }
}

static void meanpool_describe(const Layer *l, char *buf, size_t n) {
    (void)l;
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "meanpool");
}

const LayerOps meanpool_ops = {"meanpool", meanpool_parse, meanpool_plan, NULL, meanpool_forward, meanpool_backward,
                               meanpool_describe, 0};
