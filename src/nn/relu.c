// relu.c: y = max(x, 0), "relu".
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status relu_parse(Layer *l, char **args, int nargs) {
    (void)l;
    (void)args;
    return nargs ? bl_fail(BL_ERR_USAGE, "relu takes no arguments") : BL_OK;
}

static Status relu_plan(Layer *l, int max_batch) {
    (void)max_batch;
    l->out = l->in;
    return BL_OK;
}

static void relu_forward(Layer *l, const float *x, float *y, int B) {
    const long n = (long)B * (long)shape_size(l->in);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// The derivative at 0 is taken as 0 (as PyTorch does); y > 0 exactly when x > 0.
static void relu_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    if (!dx) return;
    const long n = (long)B * (long)shape_size(l->in);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static void relu_describe(const Layer *l, char *buf, size_t n) {
    (void)l;
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "relu");
}

const LayerOps relu_ops = {"relu", relu_parse, relu_plan, NULL, relu_forward, relu_backward, relu_describe, 0};
