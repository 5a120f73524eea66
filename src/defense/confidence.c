// confidence.c: the baseline input-level detector from the seed document: a triggered input tends to be
// classified with very high confidence, so flag inputs whose top softmax probability exceeds a threshold set on
// the defender's clean split (the empirical quantile giving the wanted false-rejection rate).
//
// Score: the log-odds of the top class, log p_top - log(1 - p_top) = logit_top - logsumexp(other logits),
// computed from the logits. It orders inputs exactly as p_top does, without p_top's saturation at 1.0 in float
// (which would tie most confident inputs). raw_prob = 1 uses p_top itself.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "defense/defense.h"
#include "defense/features.h"

static const DefenseParamSpec g_params[] = {
    {"raw_prob", DEF_INT, 0, 0, 1, "1 = score by the top softmax probability itself instead of its log-odds"},
    {"calib", DEF_INT, 0, 0, 10000000, "defender-split images used for the threshold (0 = all)"},
};

static Status confidence_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps confidence_defense = {
    .name = "confidence",
    .level = DEF_INPUTS,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "baseline: flag inputs classified with a confidence above a threshold calibrated on clean data",
    .run = confidence_run,
};

// Log-odds of the top class (or its probability) from one row of logits.
static float top_score(const float *z, int K, int raw) {
    int top = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[top]) top = k;
    double mx = -INFINITY;
    for (int k = 0; k < K; k++)
        if (k != top) mx = fmax(mx, z[k]);
    double s = 0;
    for (int k = 0; k < K; k++)
        if (k != top) s += exp(z[k] - mx);
    double lse_other = mx + log(s); // log sum_{k != top} exp(z_k)
    double logodds = z[top] - lse_other;
    if (raw) return (float)(1 / (1 + exp(-logodds)));
    return (float)logodds;
}

static Status scores_of(Model *m, const Dataset *d, int n, int raw, float *score) {
    const int K = m->num_classes;
    float *logits = malloc((size_t)BL_MAX(n, 1) * K * sizeof(float));
    if (!logits) return bl_fail(BL_ERR_RUN, "confidence: out of memory");
    Status st = feat_logits(m, d, NULL, n, logits);
    for (int i = 0; !st && i < n; i++) score[i] = top_score(logits + (size_t)i * K, K, raw);
    free(logits);
    return st;
}

static Status confidence_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &confidence_defense;
    const Dataset *in = ctx->inputs, *clean = ctx->clean;
    const int raw = defense_param(ops, ctx->params, "raw_prob") != 0;
    const int calib = (int)defense_param(ops, ctx->params, "calib");
    if (!in) return bl_fail(BL_ERR_USAGE, "confidence: no inputs to screen");
    if (!clean || clean->n < 1)
        return bl_fail(BL_ERR_DATA, "confidence: the defender's clean split is empty (raise [data] "
                                    "defender_clean_fraction)");
    if (ctx->model->num_classes < 2) return bl_fail(BL_ERR_USAGE, "confidence: the model has fewer than 2 classes");
    int ncal = calib > 0 ? BL_MIN(calib, clean->n) : clean->n;
    float *cs = malloc((size_t)ncal * sizeof(float));
    out->input_score = malloc((size_t)BL_MAX(in->n, 1) * sizeof(float));
    if (!cs || !out->input_score) {
        free(cs);
        return bl_fail(BL_ERR_RUN, "confidence: out of memory");
    }
    Status st = scores_of(ctx->model, clean, ncal, raw, cs);
    if (!st) st = scores_of(ctx->model, in, in->n, raw, out->input_score);
    if (!st) {
        long bad = 0;
        for (int i = 0; i < ncal; i++) bad += isnan(cs[i]);
        if (bad) defense_note(out, "%ld clean calibration score(s) are NaN", bad);
        cJSON *ex = cJSON_CreateObject(), *tj = cJSON_AddObjectToObject(ex, "top_probability_threshold");
        for (int f = 0; f < DEFENSE_NFRR; f++) {
            out->thresholds[f] = feat_upper_threshold(cs, ncal, defense_frr_targets[f]);
            char key[16];
            snprintf(key, sizeof key, "%g", defense_frr_targets[f]);
            double t = out->thresholds[f];
            cJSON_AddNumberToObject(tj, key, raw ? t : 1 / (1 + exp(-t)));
        }
        cJSON_AddNumberToObject(ex, "calibration_images", ncal);
        out->extra_json = ex;
    }
    free(cs);
    return st;
}
