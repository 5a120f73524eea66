// loss_isolation.c: loss-based isolation in the spirit of Anti-Backdoor Learning (Li et al. 2021). A
// backdoor is a simpler task than the real one, so the network learns poisoned samples fast: train a fresh
// model for a short while on the (possibly poisoned) training set, measure every sample's loss at a few
// evenly spaced checkpoints, and isolate the samples whose loss fell fastest.
//
// Score (score = 0, the default): the drop of the sample's cross-entropy from the first checkpoint to the
// last. score = 1 is ABL's own isolation rule, minus the loss at the last checkpoint (lowest loss first); it
// needs the backdoor to be learnt before the clean task, which a BadNets patch on Fashion-MNIST is not in the
// first quarter epoch (poisoned samples start with a HIGH loss: their image says another class).
// Flag the top `ratio` of the training set (ABL's isolation ratio, 1%). As in ABL, batches whose mean loss is
// already below `gamma` are ascended instead of descended (local gradient ascent), which keeps clean samples
// from reaching the low loss that poisoned ones get for free. gamma = 0 turns this off.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"
#include "nn/optim.h"

static const DefenseParamSpec g_params[] = {
    {"epochs", DEF_INT, 1, 1, 100, "epochs of isolation training on the training set"},
    {"checks", DEF_INT, 4, 1, 100, "per-sample loss measurements per epoch (evenly spaced)"},
    {"ratio", DEF_REAL, 0.01, 0, 1, "fraction of the training set isolated (flagged); ABL: 0.01"},
    {"gamma", DEF_REAL, 0.5, 0, 10, "local gradient ascent: batches with mean loss below gamma are ascended (0 = off)"},
    {"lr", DEF_REAL, 0, 0, 10, "learning rate (0 = the run's own)"},
    {"score", DEF_INT, 0, 0, 1, "0 = loss drop from the first to the last checkpoint; 1 = minus the last loss (ABL)"},
};

static Status loss_isolation_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps loss_isolation_defense = {
    .name = "loss-isolation",
    .level = DEF_SAMPLES,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "loss-based isolation (after Anti-Backdoor Learning): samples learnt fastest by a fresh model",
    .run = loss_isolation_run,
};

typedef struct {
    float s;
    int i;
} Ranked;

static int cmp_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

// Every sample's cross-entropy under the current model into loss (n).
static void sample_losses(Model *m, const Dataset *d, int *tmp_idx, uint8_t *tmp_y, double *loss) {
    const int K = m->num_classes;
    double *p = malloc((size_t)K * sizeof(double));
    if (!p) return;
    for (int s = 0; s < d->n; s += m->max_batch) {
        int B = BL_MIN(m->max_batch, d->n - s);
        for (int b = 0; b < B; b++) tmp_idx[b] = s + b;
        batch_load(m, d, tmp_idx, B, m->acts[0], tmp_y);
        const float *z = model_forward(m, B);
        for (int b = 0; b < B; b++) {
            feat_softmax(z + (size_t)b * K, K, p);
            loss[s + b] = -log(fmax(p[tmp_y[b]], 1e-300));
        }
    }
    free(p);
}

static Status loss_isolation_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &loss_isolation_defense;
    const Dataset *tr = ctx->train;
    const int epochs = (int)defense_param(ops, ctx->params, "epochs");
    const int checks = (int)defense_param(ops, ctx->params, "checks");
    const double ratio = defense_param(ops, ctx->params, "ratio");
    const double gamma = defense_param(ops, ctx->params, "gamma");
    double lr = defense_param(ops, ctx->params, "lr");
    const int score_kind = (int)defense_param(ops, ctx->params, "score");
    const int n = tr->n;
    if (n < 1) return bl_fail(BL_ERR_DATA, "loss-isolation: the training set is empty");
    if (!ctx->model_desc) return bl_fail(BL_ERR_USAGE, "loss-isolation: no network description to train");
    OptConfig oc = {.kind = OPT_SGD, .lr = 0.01, .momentum = 0.9, .epochs = epochs};
    int batch = 64;
    if (ctx->train_opts) oc = ctx->train_opts->opt, batch = ctx->train_opts->batch;
    oc.schedule = SCHED_CONSTANT; // a short run: no decay
    if (lr > 0) oc.lr = lr;
    lr = oc.lr;
    Model m;
    Status st = model_build(&m, ctx->model_desc, ctx->model->input, ctx->model->num_classes, BL_MAX(batch, 64));
    if (st) return bl_fail_ctx(st, "loss-isolation: building the fresh model");
    model_init_params(&m, ctx->seed);
    // records: the frozen standardize layer gets the statistics of the set it is trained on (a no-op for images)
    if ((st = train_fit_input(&m, tr))) {
        model_free(&m);
        return bl_fail_ctx(st, "loss-isolation: fitting the input layer");
    }
    Optimizer opt;
    memset(&opt, 0, sizeof opt);
    int *order = malloc((size_t)n * sizeof(int)), *tmp_idx = malloc((size_t)m.max_batch * sizeof(int));
    uint8_t *y = malloc((size_t)m.max_batch);
    double *first = calloc((size_t)n, sizeof(double)), *last = calloc((size_t)n, sizeof(double));
    Ranked *rk = malloc((size_t)n * sizeof(Ranked));
    out->sample_score = malloc((size_t)n * sizeof(float));
    out->sample_flag = calloc((size_t)n, 1);
    if (!order || !tmp_idx || !y || !first || !last || !rk || !out->sample_score || !out->sample_flag) {
        st = bl_fail(BL_ERR_RUN, "loss-isolation: out of memory");
        goto done;
    }
    if ((st = opt_init(&opt, &oc, m.nparams - m.nfrozen))) goto done;
    Rng rng = rng_stream(ctx->seed, "loss-isolation");
    const int nbatches = (n + batch - 1) / batch;
    int nchecks = 0, ascended = 0, steps = 0;
    for (int e = 0; e < epochs; e++) {
        for (int i = 0; i < n; i++) order[i] = i;
        rng_shuffle_int(&rng, order, n);
        int next_check = 1;
        for (int bi = 0; bi < nbatches; bi++) {
            int start = bi * batch, B = BL_MIN(batch, n - start);
            batch_load(&m, tr, order + start, B, m.acts[0], y);
            model_forward(&m, B);
            double loss = model_loss(&m, y, B);
            if (!isfinite(loss)) {
                st = bl_fail(BL_ERR_RUN, "loss-isolation: the loss became %f at epoch %d batch %d (try a smaller "
                             "lr)", loss, e + 1, bi + 1);
                goto done;
            }
            if (gamma > 0 && loss < gamma) { // local gradient ascent: flip the logits' gradient
                float *g = m.dacts[m.nlayers];
                for (size_t t = 0; t < (size_t)B * m.num_classes; t++) g[t] = -g[t];
                ascended++;
            }
            model_backward(&m, B);
            opt_step(&opt, m.params + m.nfrozen, m.grads + m.nfrozen, lr);
            steps++;
            // evenly spaced checkpoints: after batch ceil(k * nbatches / checks), k = 1..checks
            while (next_check <= checks && (long)(bi + 1) * checks >= (long)next_check * nbatches) {
                sample_losses(&m, tr, tmp_idx, y, nchecks == 0 ? first : last);
                nchecks++, next_check++;
            }
        }
        if (ctx->progress) fprintf(stderr, "\rloss-isolation epoch %d/%d\n", e + 1, epochs);
    }
    long bad = 0;
    for (int i = 0; i < n; i++) {
        double s = score_kind == 1 ? -(nchecks > 1 ? last[i] : first[i]) : nchecks > 1 ? first[i] - last[i] : 0;
        out->sample_score[i] = (float)s;
        bad += !isfinite(s);
        rk[i].s = isfinite(s) ? (float)s : -INFINITY, rk[i].i = i;
    }
    if (bad) defense_note(out, "%ld sample(s) had non-finite losses (ranked last)", bad);
    if (nchecks < 2 && score_kind == 0) defense_note(out, "one checkpoint only (epochs * checks = 1): no drop to rank");
    int isolate = (int)floor(ratio * n + 1e-9);
    qsort(rk, (size_t)n, sizeof *rk, cmp_desc);
    for (int k = 0; k < isolate; k++) out->sample_flag[rk[k].i] = 1;
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddNumberToObject(ex, "isolated", isolate);
    cJSON_AddNumberToObject(ex, "checkpoints", nchecks);
    cJSON_AddNumberToObject(ex, "steps", steps);
    cJSON_AddNumberToObject(ex, "ascended_steps", ascended);
    cJSON_AddNumberToObject(ex, "lr", lr);
    out->extra_json = ex;
done:
    opt_free(&opt);
    model_free(&m);
    free(order);
    free(tmp_idx);
    free(y);
    free(first);
    free(last);
    free(rk);
    return st;
}
