// flatten.c: (C,H,W) -> (C*H*W,1,1), "flatten". The memory layout is unchanged, so it is a copy.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status flatten_parse(Layer *l, char **args, int nargs) {
    (void)l;
    (void)args;
    return nargs ? bl_fail(BL_ERR_USAGE, "flatten takes no arguments") : BL_OK;
}

static Status flatten_plan(Layer *l, int max_batch) {
    (void)max_batch;
    l->out = (Shape){(int)shape_size(l->in), 1, 1};
    return BL_OK;
}

static void flatten_forward(Layer *l, const float *x, float *y, int B) {
    memcpy(y, x, (size_t)B * shape_size(l->in) * sizeof(float));
}

static void flatten_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)x;
    (void)y;
    if (dx) memcpy(dx, dy, (size_t)B * shape_size(l->in) * sizeof(float));
}

static void flatten_describe(const Layer *l, char *buf, size_t n) {
    (void)l;
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "flatten");
}

const LayerOps flatten_ops = {"flatten", flatten_parse, flatten_plan, NULL,
                              flatten_forward, flatten_backward, flatten_describe, 0};
