// mitigate.c: what the mitigations share: copying a model, accuracy on a split, the defender's tune/validation
// split, fine-tuning, and retraining from scratch without flagged samples.
#include "defense/mitigate.h"

#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/split.h"

Status mit_clone(const Model *src, int max_batch, Model **out) {
    *out = NULL;
    Model *m = calloc(1, sizeof *m);
    if (!m) return bl_fail(BL_ERR_RUN, "out of memory copying the model");
    Status st = model_build(m, src->desc, src->input, src->num_classes, BL_MAX(max_batch, 1));
    if (st) {
        free(m);
        return bl_fail_ctx(st, "rebuilding the model to repair it");
    }
    if (m->nparams != src->nparams) { // cannot happen for a canonical description; guard the memcpy anyway
        size_t got = m->nparams;
        mit_destroy(m);
        return bl_fail(BL_ERR_RUN, "rebuilt model has %zu parameters, the original %zu", got, src->nparams);
    }
    memcpy(m->params, src->params, src->nparams * sizeof(float));
    if ((st = vocab_clone(src->vocab, &m->vocab))) { // a text model's embedding rows mean its own words
        mit_destroy(m);
        return st;
    }
    *out = m;
    return BL_OK;
}

void mit_destroy(Model *m) {
    if (!m) return;
    model_free(m);
    free(m);
}

double mit_accuracy(Model *m, const Dataset *d) {
    if (!d || d->n < 1) return 0.0;
    uint8_t *pred = malloc((size_t)d->n);
    if (!pred) return 0.0;
    predict(m, d, pred, NULL);
    long ok = 0;
    for (int i = 0; i < d->n; i++) ok += pred[i] == d->labels[i];
    free(pred);
    return (double)ok / d->n;
}

Status mit_split(const Dataset *clean, double val_fraction, uint64_t seed, const char *purpose, Dataset *tune,
                 Dataset *val) {
    memset(tune, 0, sizeof *tune);
    memset(val, 0, sizeof *val);
    if (!clean || clean->n < 2)
        return bl_fail(BL_ERR_DATA, "the defender's clean split has %d samples; a mitigation needs at least 2 (one "
                                    "to tune on, one to validate); raise [data] defender_clean_fraction",
                       clean ? clean->n : 0);
    Rng r = rng_stream(seed, purpose);
    Status st = split_defender(clean, val_fraction, rng_u64(&r), val, tune);
    if (st) return st;
    if (val->n < 1 || tune->n < 1) {
        int nv = val->n, nt = tune->n;
        ds_free(val);
        ds_free(tune);
        return bl_fail(BL_ERR_USAGE, "val_fraction %.3g leaves %d samples to tune on and %d to validate on; both "
                                     "need at least one", val_fraction, nt, nv);
    }
    return BL_OK;
}

Status mit_finetune(Model *m, const Dataset *d, const DefenseContext *ctx, int epochs, double lr, const char *label,
                    void (*after_step)(void *, Model *), void *step_ctx) {
    if (d->n < 1) return bl_fail(BL_ERR_DATA, "%s: nothing to fine-tune on", label);
    int batch = ctx->train_opts && ctx->train_opts->batch > 0 ? ctx->train_opts->batch : 64;
    batch = BL_MIN(batch, m->max_batch);
    Rng r = rng_stream(ctx->seed, label);
    TrainOptions o = {.epochs = epochs,
                      .batch = batch,
                      .opt = {.kind = OPT_SGD,
                              .lr = lr,
                              .momentum = 0.9,
                              .weight_decay = ctx->train_opts ? ctx->train_opts->opt.weight_decay : 0.0,
                              .schedule = SCHED_COSINE,
                              .epochs = epochs},
                      .seed = rng_u64(&r),
                      .progress = ctx->progress,
                      .label = label,
                      .after_step = after_step,
                      .step_ctx = step_ctx};
    Status st = train_model(m, d, &o);
    return st ? bl_fail_ctx(st, "%s", label) : BL_OK;
}

Status mit_retrain_without(const DefenseContext *ctx, const uint8_t *flag, Model **out, int *nkept) {
    *out = NULL;
    *nkept = 0;
    if (!ctx->train_opts)
        return bl_fail(BL_ERR_USAGE, "retraining needs the run's training options");
    const Dataset *tr = ctx->train;
    int *keep = malloc((size_t)BL_MAX(tr->n, 1) * sizeof(int));
    if (!keep) return bl_fail(BL_ERR_RUN, "out of memory");
    int k = 0;
    for (int i = 0; i < tr->n; i++)
        if (!flag[i]) keep[k++] = i;
    if (k < 1) {
        free(keep);
        return bl_fail(BL_ERR_DATA, "the detector flagged all %d training samples: nothing left to retrain on",
                       tr->n);
    }
    Dataset kept;
    Status st = ds_select(tr, keep, k, &kept);
    free(keep);
    if (st) return st;
    Model *m = calloc(1, sizeof *m);
    if (!m) {
        ds_free(&kept);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    TrainOptions o = *ctx->train_opts;
    o.on_epoch = NULL; // the run's epoch hook evaluates on the test set: the defence must not
    o.hook_ctx = NULL;
    o.after_step = NULL;
    o.progress = ctx->progress;
    o.label = "retrain";
    const char *desc = ctx->model_desc ? ctx->model_desc : ctx->model->desc;
    st = model_build(m, desc, train_input_shape(tr), ctx->model->num_classes, BL_MAX(o.batch, 64));
    if (st) {
        free(m);
        ds_free(&kept);
        return bl_fail_ctx(st, "retraining: building the model");
    }
    model_init_params(m, o.seed); // the same init as the run's model: only the data differ
    st = train_fit_input(m, &kept);
    if (!st) st = train_model(m, &kept, &o);
    ds_free(&kept);
    if (st) {
        mit_destroy(m);
        return bl_fail_ctx(st, "retraining");
    }
    *out = m;
    *nkept = k;
    return BL_OK;
}
