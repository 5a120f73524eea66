// mitigate_finetune.c: fine-tuning, the baseline every other mitigation must beat: continue training the model
// on the defender's clean data (BackdoorBench `ft`: lr 0.01, cosine). A part of the clean split is held out
// to report the clean accuracy before and after honestly.
#include "defense/mitigate.h"

#include <stdio.h>

#include <cjson/cJSON.h>

static const DefenseParamSpec ft_params[] = {
    {"epochs", DEF_INT, 5, 1, 1000, "passes over the tuning part of the defender's split"},
    {"lr", DEF_REAL, 0.01, 1e-6, 1, "SGD learning rate (momentum 0.9, cosine schedule)"},
    {"val_fraction", DEF_REAL, 0.2, 0.01, 0.9, "share of the defender's split held out to measure clean accuracy"},
};

static Status ft_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps fine_tune_defense = {
    .name = "fine-tune",
    .level = DEF_MITIGATION,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = ft_params,
    .nparams = (int)BL_ARRAY_LEN(ft_params),
    .summary = "continue training on the defender's clean split (the baseline mitigation)",
    .run = ft_run,
};

static Status ft_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &fine_tune_defense;
    const int epochs = (int)defense_param(ops, ctx->params, "epochs");
    const double lr = defense_param(ops, ctx->params, "lr");
    Dataset tune, val;
    Status st = mit_split(ctx->clean, defense_param(ops, ctx->params, "val_fraction"), ctx->seed, "fine-tune/split",
                          &tune, &val);
    if (st) return bl_fail_ctx(st, "fine-tune");
    Model *m = NULL;
    st = mit_clone(ctx->model, ctx->model->max_batch, &m);
    double ca_before = 0, ca_after = 0;
    if (!st) {
        ca_before = mit_accuracy(m, &val);
        st = mit_finetune(m, &tune, ctx, epochs, lr, "fine-tune", NULL, NULL);
    }
    if (!st) ca_after = mit_accuracy(m, &val);
    if (st) {
        mit_destroy(m);
    } else {
        out->repaired = m;
        snprintf(out->notes, sizeof out->notes,
                 "fine-tuned %d epochs on %d clean samples; CA on %d held-out defender samples %.2f%% -> %.2f%%",
                 epochs, tune.n, val.n, 100 * ca_before, 100 * ca_after);
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddNumberToObject(j, "tune_samples", tune.n);
            cJSON_AddNumberToObject(j, "val_samples", val.n);
            cJSON_AddNumberToObject(j, "ca_val_before", ca_before);
            cJSON_AddNumberToObject(j, "ca_val_after", ca_after);
        }
        out->extra_json = j;
    }
    ds_free(&tune);
    ds_free(&val);
    return st;
}
