// maxtime.c: global max over time, "maxtime": (C,1,L) -> (C,1,1), as in Kim's (2014) text CNN. Every position
// counts, padding included (its embedding is zero, as when a PyTorch batch is padded). The first maximum wins a
// tie; its position per (sample, channel) lives in aux for the backward pass.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status maxtime_parse(Layer *l, char **args, int nargs) {
    (void)l;
    (void)args;
    return nargs ? bl_fail(BL_ERR_USAGE, "maxtime takes no arguments") : BL_OK;
}

static Status maxtime_plan(Layer *l, int max_batch) {
    if (l->in.h != 1) return bl_fail(BL_ERR_USAGE, "maxtime needs (C,1,L) sequences");
    l->out = (Shape){l->in.c, 1, 1};
    l->aux_ints = (size_t)max_batch * l->in.c;
    return BL_OK;
}

static void maxtime_forward(Layer *l, const float *x, float *y, int B) {
    const int C = l->in.c, L = l->in.w;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *xc = x + ((size_t)b * C + c) * L;
            int best = 0;
            for (int t = 1; t < L; t++)
                if (xc[t] > xc[best]) best = t;
            l->aux[(size_t)b * C + c] = best;
            y[(size_t)b * C + c] = xc[best];
        }
}

static void maxtime_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    if (!dx) return;
    const int C = l->in.c, L = l->in.w;
    memset(dx, 0, (size_t)B * C * L * sizeof(float));
    for (int i = 0; i < B * C; i++) dx[(size_t)i * L + l->aux[i]] = dy[i];
}

static void maxtime_describe(const Layer *l, char *buf, size_t n) {
    (void)l;
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "maxtime");
}

const LayerOps maxtime_ops = {"maxtime", maxtime_parse, maxtime_plan, NULL, maxtime_forward, maxtime_backward,
                              maxtime_describe, 0};
