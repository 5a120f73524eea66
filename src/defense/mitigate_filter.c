// mitigate_filter.c: filter-and-retrain. Run a sample-level detector (spectral, ac or loss-isolation, looked up
// in the registry with its default parameters) on the training set, drop what it flags, and retrain from
// scratch with the run's seed and options, so the only difference from the run's model is the data.
// The detector's scores and flags are passed on in the result, so the evaluator can score the detection too.
#include "defense/mitigate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/results.h"

// The detectors `detector` indexes, in order.
static const char *const fr_detectors[] = {"spectral", "ac", "loss-isolation"};

static const DefenseParamSpec fr_params[] = {
    {"detector", DEF_INT, 0, 0, 2, "sample-level detector whose flags are dropped: 0 spectral, 1 ac, 2 loss-isolation"},
    {"eps", DEF_REAL, 0, 0, 0.5, "spectral only: its expected poison fraction per label (0 = spectral's "
                                 "default); all2one puts far more than 10% into the target label"},
};

static Status fr_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps filter_retrain_defense = {
    .name = "filter-retrain",
    .level = DEF_MITIGATION,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .params = fr_params,
    .nparams = (int)BL_ARRAY_LEN(fr_params),
    .summary = "drop the training samples a detector flags (spectral/ac/loss-isolation), retrain from scratch",
    .run = fr_run,
};

static Status fr_run(const DefenseContext *ctx, DefenseResult *out) {
    const int di = (int)defense_param(&filter_retrain_defense, ctx->params, "detector");
    if (di < 0 || di >= (int)BL_ARRAY_LEN(fr_detectors))
        return bl_fail(BL_ERR_USAGE, "filter-retrain: detector = %d is not 0 (spectral), 1 (ac) or 2 "
                                     "(loss-isolation)", di);
    const char *name = fr_detectors[di];
    const DefenseOps *det = defense_find(name);
    if (!det) return bl_fail(BL_ERR_USAGE, "filter-retrain: detector '%s' is not registered (known: %s)", name,
                             defense_known_names());
    if (det->level != DEF_SAMPLES)
        return bl_fail(BL_ERR_USAGE, "filter-retrain: '%s' does not flag training samples", name);
    const double eps = defense_param(&filter_retrain_defense, ctx->params, "eps");
    if (eps > 0 && strcmp(name, "spectral"))
        return bl_fail(BL_ERR_USAGE, "filter-retrain: eps applies to detector = 0 (spectral) only");
    char eps_setting[64];
    snprintf(eps_setting, sizeof eps_setting, "eps=%.17g", eps);
    const char *settings[] = {eps_setting, NULL};
    DefenseParams dp;
    Status st = defense_params_resolve(det, eps > 0 ? settings : NULL, &dp);
    if (st) return bl_fail_ctx(st, "filter-retrain: parameters of '%s'", name);

    // The detector writes its own files into a subfolder.
    char sub[4200];
    DefenseContext dctx = *ctx;
    dctx.params = &dp;
    if (ctx->out_dir) {
        snprintf(sub, sizeof sub, "%s/%s", ctx->out_dir, name);
        dctx.out_dir = ensure_dir(sub) ? ctx->out_dir : sub;
    }
    DefenseResult dr;
    memset(&dr, 0, sizeof dr);
    double t0 = bl_now();
    st = det->run(&dctx, &dr);
    double det_seconds = bl_now() - t0;
    if (st) {
        defense_result_free(&dr);
        return bl_fail_ctx(st, "filter-retrain: running %s", name);
    }
    if (!dr.sample_flag) {
        defense_result_free(&dr);
        return bl_fail(BL_ERR_RUN, "filter-retrain: detector '%s' returned no flags", name);
    }
    int nflag = 0;
    for (int i = 0; i < ctx->train->n; i++) nflag += dr.sample_flag[i] != 0;
    int nkept = 0;
    Model *m = NULL;
    st = mit_retrain_without(ctx, dr.sample_flag, &m, &nkept);
    if (st) {
        defense_result_free(&dr);
        return bl_fail_ctx(st, "filter-retrain");
    }
    out->repaired = m;
    out->sample_flag = dr.sample_flag; // hand the detection on for scoring
    out->sample_score = dr.sample_score;
    dr.sample_flag = NULL;
    dr.sample_score = NULL;
    snprintf(out->notes, sizeof out->notes, "%s flagged %d of %d training samples; retrained on %d%s%.900s", name, nflag,
             ctx->train->n, nkept, dr.notes[0] ? ". detector: " : "", dr.notes);
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "detector", name);
        cJSON_AddNumberToObject(j, "flagged", nflag);
        cJSON_AddNumberToObject(j, "retrained_on", nkept);
        cJSON_AddNumberToObject(j, "detector_seconds", det_seconds);
        cJSON_AddNumberToObject(j, "ca_defender_before", mit_accuracy(ctx->model, ctx->clean));
        cJSON_AddNumberToObject(j, "ca_defender_after", mit_accuracy(m, ctx->clean));
    }
    out->extra_json = j;
    defense_result_free(&dr);
    return BL_OK;
}
