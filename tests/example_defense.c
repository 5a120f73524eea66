// example_defense.c: the README's worked example of adding a defence, compiled and run by tests/test_defense.c.
// In the tree it would be src/defense/act_norm.c plus the line `X(act_norm_defense)` in src/defense/registry.c.
//
// "act-norm": a poisoned sample often drives the penultimate layer harder than its label's clean samples, so
// score each training sample by the L2 norm of its penultimate representation divided by its label's median
// norm, and flag the top `ratio` of each label.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "defense/defense.h"
#include "defense/features.h"

static const DefenseParamSpec act_norm_params[] = {
    {"ratio", DEF_REAL, 0.05, 0, 1, "fraction of each label flagged"}, // key, type, default, min, max, help
};

static Status act_norm_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps act_norm_defense = {
    .name = "act-norm",
    .level = DEF_SAMPLES,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS), // feature taps work on any model input
    .params = act_norm_params,
    .nparams = 1,
    .summary = "example: penultimate-activation norm relative to the label's median",
    .run = act_norm_run,
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static Status act_norm_run(const DefenseContext *ctx, DefenseResult *out) {
    const double ratio = defense_param(&act_norm_defense, ctx->params, "ratio");
    const Dataset *tr = ctx->train;
    const int n = tr->n, D = feat_dim(ctx->model);
    float *R = malloc((size_t)(n ? n : 1) * D * sizeof(float));
    double *norm = malloc((size_t)(n ? n : 1) * sizeof(double)), *tmp = malloc((size_t)(n ? n : 1) * sizeof(double));
    out->sample_score = calloc((size_t)(n ? n : 1), sizeof(float));
    out->sample_flag = calloc((size_t)(n ? n : 1), 1);
    Status st = R && norm && tmp && out->sample_score && out->sample_flag ? BL_OK
                                                                          : bl_fail(BL_ERR_RUN, "act-norm: out of memory");
    if (!st) st = feat_penultimate(ctx->model, tr, NULL, n, R); // the model's forward pass, in batches
    for (int i = 0; !st && i < n; i++) {
        double s = 0;
        for (int j = 0; j < D; j++) s += (double)R[(size_t)i * D + j] * R[(size_t)i * D + j];
        norm[i] = sqrt(s);
    }
    for (int c = 0; !st && c < tr->num_classes; c++) {
        int nc = 0;
        for (int i = 0; i < n; i++)
            if (tr->labels[i] == c) tmp[nc++] = norm[i];
        if (nc == 0) continue;
        qsort(tmp, (size_t)nc, sizeof(double), cmp_double);
        double median = tmp[nc / 2], cut = tmp[nc - 1 - (int)floor(ratio * nc)];
        if (median <= 0) defense_note(out, "label %d: median norm 0", c);
        for (int i = 0; i < n; i++) {
            if (tr->labels[i] != c) continue;
            out->sample_score[i] = (float)(median > 0 ? norm[i] / median : norm[i]);
            out->sample_flag[i] = ratio > 0 && norm[i] > cut;
        }
    }
    free(R);
    free(norm);
    free(tmp);
    return st;
}
