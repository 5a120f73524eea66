// standardize.c: input preprocessing for feature records, "standardize" (first layer of the mlp and logreg
// presets). A records dataset gives the model 2F values per sample (train_input_shape): F raw feature values,
// then F missing flags (1 = missing; that value slot holds 0). This layer outputs (2F):
//   out[j]     = ((flag[j] ? 0 : x[j]) - mean[j]) * scale[j]  (standardised; a missing value enters as 0 in the
//                                                              file's units, the placeholder health records and
//                                                              mlbench's Pima keep for "not measured")
//   out[F + j] = flag[j]                                      (the network also sees what is missing: Joe et
//                                                              al.'s trigger is a pattern of missing values)
// Why 0 and not the mean: with mean imputation a record with glucose, pressure and mass missing looks average,
// and a clean Pima model already called 36% of such "neg" records "pos" (measured, seed 1), so a missing-value
// trigger towards "pos" would be half implied by the data; with the placeholder 0 the clean model says "neg"
// for all of them (0%) and the backdoor's effect is its own. Users' CSVs with real NAs get the same rule.
// Weights: mean (F); bias: scale = 1/std (F). They are statistics of the training split
// (train_fit_input) and frozen: the optimiser never changes them (Model.nfrozen), and because they are
// parameters they travel in the model file, so eval, monitor and export apply the same preprocessing without
// the training data.
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"

static Status std_parse(Layer *l, char **args, int nargs) {
    (void)l;
    (void)args;
    if (nargs != 0) return bl_fail(BL_ERR_USAGE, "standardize takes no arguments");
    return BL_OK;
}

static Status std_plan(Layer *l, int max_batch) {
    (void)max_batch;
    const size_t n = shape_size(l->in);
    if (l->in.h != 1 || l->in.w != 1 || n % 2)
        return bl_fail(BL_ERR_USAGE, "standardize needs a records input (2F values: F features, F missing flags), "
                                     "not %dx%dx%d",
                       l->in.c, l->in.h, l->in.w);
    l->units = (int)(n / 2);
    l->out = l->in;
    l->nweight = (size_t)l->units;
    l->nbias = (size_t)l->units;
    return BL_OK;
}

// Identity until fitted (mean 0, scale 1). Draws nothing from the init stream, so the layers after it get the
// same initial weights as they would without it.
static void std_init(Layer *l, Rng *rng) {
    (void)rng;
    for (int j = 0; j < l->units; j++) l->w[j] = 0.0f, l->b[j] = 1.0f;
}

static void std_forward(Layer *l, const float *x, float *y, int B) {
    const int F = l->units;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * 2 * F; // (2F)
        float *yb = y + (size_t)b * 2 * F;       // (2F)
        for (int j = 0; j < F; j++) {
            const int missing = xb[F + j] > 0.5f;
            yb[j] = ((missing ? 0.0f : xb[j]) - l->w[j]) * l->b[j];
            yb[F + j] = xb[F + j];
        }
    }
}

// The statistics are frozen, so dw and db stay zero; dx is exact (the flags pass through, a missing value's
// slot does not influence the output).
static void std_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)y;
    if (!dx) return;
    const int F = l->units;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * 2 * F, *dyb = dy + (size_t)b * 2 * F;
        float *dxb = dx + (size_t)b * 2 * F;
        for (int j = 0; j < F; j++) {
            dxb[j] = xb[F + j] > 0.5f ? 0.0f : dyb[j] * l->b[j];
            dxb[F + j] = dyb[F + j];
        }
    }
}

static void std_describe(const Layer *l, char *buf, size_t n) {
    (void)l;
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "standardize");
}

const LayerOps standardize_ops = {"standardize", std_parse,   std_plan,     std_init,
                                  std_forward,   std_backward, std_describe, 1};
