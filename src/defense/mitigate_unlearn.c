// mitigate_unlearn.c: Neural Cleanse unlearning (Wang et al. 2019, §VI-C). Reverse the triggers, and for the
// flagged labels stamp the reversed trigger on 20% of the defender's clean data while keeping the TRUE labels,
// then fine-tune: the model learns that the trigger means nothing. Unlearning can wreck the model (ART's MNIST
// notebook: CA 96% -> 54%), so the result is refused, not reported as a success, when the clean accuracy on the
// held-out part of the defender's split falls by more than max_ca_drop.
#include "defense/mitigate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"

static const DefenseParamSpec nu_params[] = {
    NC_PARAM_SPECS, // Neural Cleanse's own settings, shared with the neural-cleanse detector
    // Unlearning.
    {"ratio", DEF_REAL, 0.2, 0.01, 1, "share of the tuning data stamped with a reversed trigger (true labels kept)"},
    {"epochs", DEF_INT, 1, 1, 1000, "fine-tuning passes (paper: 1)"},
    {"ft_lr", DEF_REAL, 0.01, 1e-6, 1, "fine-tuning SGD learning rate (momentum 0.9)"},
    {"max_ca_drop", DEF_REAL, 0.05, 0, 1, "refuse the result if held-out defender CA falls by more than this "
                                          "(absolute)"},
    {"val_fraction", DEF_REAL, 0.2, 0.01, 0.9, "share of the defender's split held out to measure CA"},
    {"when_none", DEF_INT, 0, 0, 1, "no label flagged: 0 = return the model unchanged, 1 = unlearn the "
                                    "smallest trigger"},
};

static Status nu_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps nc_unlearn_defense = {
    .name = "nc-unlearn",
    .level = DEF_MITIGATION,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .params = nu_params,
    .nparams = (int)BL_ARRAY_LEN(nu_params),
    .summary = "Neural Cleanse, then fine-tune with the reversed trigger stamped on 20% of clean data (true labels)",
    .run = nu_run,
};

static Status nu_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &nc_unlearn_defense;
    const DefenseParams *p = ctx->params;
    NcSettings s;
    nc_settings_from_params(ops, p, &s);
    s.progress = ctx->progress;
    const double threshold = defense_param(ops, p, "threshold"), ratio = defense_param(ops, p, "ratio");
    const double max_drop = defense_param(ops, p, "max_ca_drop"), ft_lr = defense_param(ops, p, "ft_lr");
    const int epochs = (int)defense_param(ops, p, "epochs");
    const int when_none = defense_param(ops, p, "when_none") >= 0.5;

    NcReversal r;
    Status st = nc_reverse_all(ctx->model, ctx->clean, &s, ctx->seed, &r);
    if (st) return bl_fail_ctx(st, "nc-unlearn");
    const int K = r.K, HW = r.h * r.w, CHW = r.c * HW;
    double ai[256], median = 0;
    nc_anomaly_index(r.l1, K, ai, &median);
    int flagged[256], nf = 0, fallback = 0;
    for (int k = 0; k < K; k++)
        if (ai[k] > threshold) flagged[nf++] = k;
    if (nf == 0 && when_none) { // unlearn the smallest trigger anyway
        int best = 0;
        for (int k = 1; k < K; k++)
            if (r.l1[k] < r.l1[best]) best = k;
        flagged[nf++] = best;
        fallback = 1;
    }
    if (ctx->out_dir) nc_write_pngs(ctx->out_dir, &r, 4); // courtesy files: a failure does not void the result

    Dataset tune = {0}, val = {0};
    Model *m = NULL;
    double ca_before = 0, ca_after = 0;
    int nstamped = 0, refused = 0;
    st = mit_split(ctx->clean, defense_param(ops, p, "val_fraction"), ctx->seed, "nc-unlearn/split", &tune, &val);
    if (!st) st = mit_clone(ctx->model, ctx->model->max_batch, &m);
    if (!st) ca_before = ca_after = mit_accuracy(m, &val);
    if (!st && nf > 0) {
        // Stamp round(ratio * n) randomly chosen tuning images, cycling through the flagged labels' triggers.
        int *idx = malloc((size_t)tune.n * sizeof(int));
        if (!idx) st = bl_fail(BL_ERR_RUN, "nc-unlearn: out of memory");
        if (!st) {
            for (int i = 0; i < tune.n; i++) idx[i] = i;
            Rng rng = rng_stream(ctx->seed, "nc-unlearn/stamp");
            rng_shuffle_int(&rng, idx, tune.n);
            nstamped = (int)(ratio * tune.n + 0.5);
            for (int i = 0; i < nstamped; i++) {
                int k = flagged[i % nf];
                nc_stamp(tune.images + (size_t)idx[i] * CHW, r.c, r.h, r.w, r.mask + (size_t)k * HW,
                         r.pattern + (size_t)k * CHW);
            }
            free(idx);
            st = mit_finetune(m, &tune, ctx, epochs, ft_lr, "nc-unlearn", NULL, NULL);
        }
        if (!st) ca_after = mit_accuracy(m, &val);
        refused = ca_before - ca_after > max_drop;
    }
    if (!st) {
        out->repaired = m;
        m = NULL;
        size_t nl = 0;
        char labels[256 * 4 + 1] = "";
        for (int i = 0, o = 0; i < nf && o < (int)sizeof labels - 5; i++)
            o += snprintf(labels + o, sizeof labels - (size_t)o, i ? ",%d" : "%d", flagged[i]);
        if (nf == 0)
            nl += (size_t)snprintf(out->notes, sizeof out->notes,
                                   "Neural Cleanse flagged no label (anomaly index > %.3g): nothing to unlearn, the "
                                   "model is returned unchanged. ", threshold);
        else
            nl += (size_t)snprintf(out->notes, sizeof out->notes,
                                   "unlearned the reversed trigger of label(s) %s%s on %d of %d tuning samples; CA on "
                                   "%d held-out defender samples %.2f%% -> %.2f%%. ", labels,
                                   fallback ? " (none flagged: smallest trigger, when_none = 1)" : "", nstamped,
                                   tune.n, val.n, 100 * ca_before, 100 * ca_after);
        if (refused && nl < sizeof out->notes)
            snprintf(out->notes + nl, sizeof out->notes - nl,
                     "REFUSED: clean accuracy on the defender's held-out split fell by %.2f points (limit %.2f); do "
                     "not count this as a successful repair.", 100 * (ca_before - ca_after), 100 * max_drop);
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddBoolToObject(j, "success", nf > 0 && !refused);
            cJSON_AddBoolToObject(j, "refused", refused);
            cJSON_AddBoolToObject(j, "unlearned", nf > 0);
            cJSON_AddItemToObject(j, "unlearned_labels", cJSON_CreateIntArray(flagged, nf));
            cJSON_AddBoolToObject(j, "fallback_smallest", fallback);
            cJSON_AddItemToObject(j, "nc_l1", cJSON_CreateDoubleArray(r.l1, K));
            cJSON_AddItemToObject(j, "nc_anomaly_index", cJSON_CreateDoubleArray(ai, K));
            cJSON_AddNumberToObject(j, "stamped", nstamped);
            cJSON_AddNumberToObject(j, "tune_samples", tune.n);
            cJSON_AddNumberToObject(j, "val_samples", val.n);
            cJSON_AddNumberToObject(j, "ca_val_before", ca_before);
            cJSON_AddNumberToObject(j, "ca_val_after", ca_after);
            cJSON_AddNumberToObject(j, "ca_drop_limit", max_drop);
        }
        out->extra_json = j;
    }
    mit_destroy(m);
    ds_free(&tune);
    ds_free(&val);
    nc_reversal_free(&r);
    return st;
}
