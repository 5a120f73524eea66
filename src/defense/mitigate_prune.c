// mitigate_prune.c: fine-pruning (Liu, Dolan-Gavitt, Garg, RAID 2018). Backdoor behaviour tends to live in
// channels that clean inputs barely activate, so: rank the last conv layer's channels by mean activation on
// the defender's clean data, prune them one at a time from the least active while the clean accuracy (again on
// the defender's data) stays within a set drop, then fine-tune with the pruned channels held at zero.
// The official code prunes a fixed 80% of conv3; the stop rule here is BackdoorBench's (CA-drop budget).
// A model without conv layers (the records presets: standardize, dense 64, relu, dense 64, relu, dense K) has
// its last hidden dense layer pruned instead: a unit is zeroed (weight row and bias), ranked by its mean
// post-ReLU activation on clean records, under the same CA budget. The textcnn preset has its conv1d filters
// (every width's bank: 3 x 32 channels) pruned, ranked by their max-over-time activation (the pooled output, as
// the official code taps the pooled conv output). fasttext (embed, meanpool, dense) has neither: an embedding is
// a width-1 convolution over one-hot words and the mean pool is its pooling, so its D dimensions play the channels'
// part (dimension d zeroed in every word's vector), ranked by the mean |pooled value| (an embedding has no ReLU, so
// a signed mean would rank strongly negative dimensions as the least active).
// Writes the whole prune curve (prune_curve.csv) and, when gnuplot is installed, prune_curve.png, and publishes
// the ranking and stopping point in its extra JSON (keys in mitigate.h) so that the evaluator, which alone may
// use the triggered test set, can add the test CA and ASR of each step (it then rewrites prune_curve.*).
#include "defense/mitigate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/plot.h"
#include "io/results.h"

static const DefenseParamSpec fp_params[] = {
    {"max_ca_drop", DEF_REAL, 0.1, 0, 1, "largest clean-accuracy drop pruning may cause (a fraction; see relative)"},
    {"relative", DEF_INT, 1, 0, 1, "1 = max_ca_drop is relative to the unpruned accuracy (BackdoorBench), "
                                   "0 = absolute"},
    {"epochs", DEF_INT, 5, 0, 1000, "fine-tuning passes over the tuning part of the defender's split (0 = prune only)"},
    {"lr", DEF_REAL, 0.01, 1e-6, 1, "fine-tuning SGD learning rate (momentum 0.9, cosine schedule)"},
    {"val_fraction", DEF_REAL, 0.2, 0.01, 0.9, "share of the defender's split held out from fine-tuning to measure CA"},
};

int fp_last_conv(const Model *m) {
    for (int i = m->nlayers - 1; i >= 0; i--)
        if (strcmp(m->layers[i].ops->name, "conv") == 0) return i;
    return -1;
}

int fp_prune_layer(const Model *m) {
    int conv = fp_last_conv(m);
    if (conv >= 0) return conv;
    for (int i = m->nlayers - 1; i >= 0; i--) // the textcnn preset: its conv1d filters are the channels
        if (strcmp(m->layers[i].ops->name, "conv1d") == 0) return i;
    for (int i = m->nlayers - 2; i >= 0; i--) // the output layer (the last one) is not a hidden layer
        if (strcmp(m->layers[i].ops->name, "dense") == 0) return i;
    if (m->nlayers > 1 && strcmp(m->layers[0].ops->name, "embed") == 0) return 0; // fasttext: embedding dimensions
    return -1;
}

int fp_units(const Model *m, int layer) {
    const Layer *l = &m->layers[layer];
    if (strcmp(l->ops->name, "embed") == 0) return l->k;                    // embed: its D dimensions
    return strcmp(l->ops->name, "conv1d") == 0 ? l->units * l->nk : l->units; // conv1d: every bank's filters
}

int fp_tap(const Model *m, int conv) {
    int a = conv + 1; // acts[conv + 1] is the conv's output
    while (a < m->nlayers) {
        const char *k = m->layers[a].ops->name;
        if (strcmp(k, "relu") && strcmp(k, "maxpool") && strcmp(k, "avgpool") && strcmp(k, "maxtime") &&
            strcmp(k, "meanpool"))
            break;
        a++;
    }
    return a;
}

void fp_channel_order(Model *m, int conv, const Dataset *d, double *mean, int *order) {
    const int U = fp_units(m, conv), tap = fp_tap(m, conv);
    const Shape s = tap == conv + 1 ? m->layers[conv].out : m->layers[tap - 1].out;
    const int HW = s.h * s.w;
    const int absval = strcmp(m->layers[conv].ops->name, "embed") == 0; // no ReLU after an embedding: |value|
    for (int u = 0; u < U; u++) mean[u] = 0.0;
    int idx[4096];
    uint8_t y[4096];
    const int step = BL_MIN(m->max_batch, 4096);
    for (int start = 0; start < d->n; start += step) {
        int B = BL_MIN(step, d->n - start);
        for (int b = 0; b < B; b++) idx[b] = start + b;
        batch_load(m, d, idx, B, m->acts[0], y);
        model_forward(m, B);
        const float *a = m->acts[tap]; // (B, U, h, w)
        for (int b = 0; b < B; b++)
            for (int u = 0; u < U; u++) {
                double sum = 0.0;
                for (int i = 0; i < HW; i++) {
                    const float v = a[((size_t)b * U + u) * HW + i];
                    sum += absval ? fabsf(v) : v;
                }
                mean[u] += sum;
            }
    }
    for (int u = 0; u < U; u++) mean[u] /= (double)BL_MAX(d->n, 1) * HW;
    for (int u = 0; u < U; u++) order[u] = u;
    for (int i = 1; i < U; i++) { // insertion sort: stable, so ties keep channel order
        int v = order[i], j = i - 1;
        while (j >= 0 && mean[order[j]] > mean[v]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
}

void fp_zero_channel(Model *m, int conv, int ch) {
    Layer *l = &m->layers[conv];
    if (strcmp(l->ops->name, "embed") == 0) { // dimension ch of every word's vector (weights (V, D), no bias)
        for (int v = 0; v < l->units; v++) l->w[(size_t)v * l->k + ch] = 0.0f;
        return;
    }
    if (strcmp(l->ops->name, "conv1d") == 0) { // bank i = ch / N holds (N, C, K_i) weights after banks 0..i-1
        const int N = l->units, bank = ch / N, o = ch % N, C = l->in.c;
        size_t off = 0;
        for (int i = 0; i < bank; i++) off += (size_t)N * C * l->ks[i];
        const size_t per = (size_t)C * l->ks[bank];
        memset(l->w + off + (size_t)o * per, 0, per * sizeof(float));
        l->b[ch] = 0.0f; // biases are bank after bank too
        return;
    }
    size_t per = l->nweight / (size_t)l->units; // weight (OUT, C, K, K) for conv, (OUT, IN) for dense
    memset(l->w + (size_t)ch * per, 0, per * sizeof(float));
    l->b[ch] = 0.0f;
}

// Holds the pruned channels at zero during fine-tuning (TrainOptions.after_step).
typedef struct {
    int conv;           // layer index
    int n;              // channels pruned
    const int *chans;   // (n) their indices
} PruneMask;

static void hold_pruned(void *vctx, Model *m) {
    const PruneMask *pm = vctx;
    for (int i = 0; i < pm->n; i++) fp_zero_channel(m, pm->conv, pm->chans[i]);
}

static Status write_curve(const char *dir, int U, const int *order, const double *mean, const double *ca, int chosen,
                          char *note, size_t note_n) {
    size_t cap = 128 + (size_t)(U + 1) * 96, len = 0;
    char *buf = malloc(cap);
    if (!buf) return bl_fail(BL_ERR_RUN, "fine-prune: out of memory");
    len += (size_t)snprintf(buf + len, cap - len, "pruned,channel,mean_activation,defender_ca,selected\n");
    len += (size_t)snprintf(buf + len, cap - len, "0,,,%.6f,%d\n", ca[0], chosen == 0);
    for (int n = 1; n <= U; n++)
        len += (size_t)snprintf(buf + len, cap - len, "%d,%d,%.6g,%.6f,%d\n", n, order[n - 1], mean[order[n - 1]],
                                ca[n], chosen == n);
    char path[4200];
    snprintf(path, sizeof path, "%s/prune_curve.csv", dir);
    Status st = write_file_atomic(path, buf, len);
    free(buf);
    if (st) return st;
    char gp[1024];
    int gl = snprintf(gp, sizeof gp,
                      "set terminal png size 800,500\nset output 'prune_curve.png'\nset datafile separator ','\n"
                      "set key autotitle columnhead bottom left\nset xlabel 'channels pruned (ascending mean clean "
                      "activation)'\nset ylabel 'clean accuracy (defender split)'\nset yrange [0:1]\nset grid\n"
                      "set arrow from %d, graph 0 to %d, graph 1 nohead dashtype 2\n"
                      "plot 'prune_curve.csv' using 1:4 with linespoints title 'defender CA'\n",
                      chosen, chosen);
    return plot_script(dir, "prune_curve.gp", gp, (size_t)gl, "prune_curve.png", note, note_n);
}

static Status fp_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps fine_prune_defense = {
    .name = "fine-prune",
    .level = DEF_MITIGATION,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = fp_params,
    .nparams = (int)BL_ARRAY_LEN(fp_params),
    .summary = "prune the last conv layer's least-active channels (no conv: the last hidden dense layer's units) "
               "within a CA budget, then fine-tune (Liu 2018)",
    .run = fp_run,
};

static Status fp_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &fine_prune_defense;
    const double max_drop = defense_param(ops, ctx->params, "max_ca_drop");
    const int relative = defense_param(ops, ctx->params, "relative") >= 0.5;
    const int epochs = (int)defense_param(ops, ctx->params, "epochs");
    const double lr = defense_param(ops, ctx->params, "lr");
    const int conv = fp_prune_layer(ctx->model); // the last conv layer, else the last hidden dense layer
    if (conv < 0)
        return bl_fail(BL_ERR_USAGE, "fine-prune: the model has neither a conv layer nor a hidden dense layer to "
                                     "prune (a logreg has none; use the mlp preset)");
    const char *kind = ctx->model->layers[conv].ops->name; // "conv", "conv1d", "dense" or "embed"
    if (!ctx->clean || ctx->clean->n < 2)
        return bl_fail(BL_ERR_DATA, "fine-prune: the defender's clean split is (nearly) empty");
    const int U = fp_units(ctx->model, conv);
    Dataset tune, val;
    Status st = mit_split(ctx->clean, defense_param(ops, ctx->params, "val_fraction"), ctx->seed,
                          "fine-prune/split", &tune, &val);
    if (st) return bl_fail_ctx(st, "fine-prune");
    Model *m = NULL;
    double *mean = malloc((size_t)U * sizeof(double)), *ca = malloc((size_t)(U + 1) * sizeof(double));
    int *order = malloc((size_t)U * sizeof(int));
    if (!mean || !ca || !order) st = bl_fail(BL_ERR_RUN, "fine-prune: out of memory");
    if (!st) st = mit_clone(ctx->model, ctx->model->max_batch, &m);
    int chosen = 0;
    double ca_val_pruned = 0, ca_val_after = 0, ca_val_before = 0;
    char note[256] = "";
    if (!st) {
        // The prune curve over the whole defender split (no training has touched it yet, so it is unbiased).
        fp_channel_order(m, conv, ctx->clean, mean, order);
        ca[0] = mit_accuracy(m, ctx->clean);
        ca_val_before = mit_accuracy(m, &val);
        const double limit = relative ? max_drop * ca[0] : max_drop;
        int stopped = 0;
        for (int n = 1; n <= U; n++) {
            fp_zero_channel(m, conv, order[n - 1]);
            ca[n] = mit_accuracy(m, ctx->clean);
            if (!stopped && ca[0] - ca[n] > limit) stopped = 1; // stop before the step that broke the budget
            if (!stopped) chosen = n;
        }
        // Start again from the original weights with the chosen channels pruned, then fine-tune.
        memcpy(m->params, ctx->model->params, m->nparams * sizeof(float));
        PruneMask pm = {conv, chosen, order};
        hold_pruned(&pm, m);
        ca_val_pruned = mit_accuracy(m, &val);
        if (epochs > 0) st = mit_finetune(m, &tune, ctx, epochs, lr, "fine-prune", hold_pruned, &pm);
        ca_val_after = mit_accuracy(m, &val);
    }
    if (!st && ctx->out_dir) st = write_curve(ctx->out_dir, U, order, mean, ca, chosen, note, sizeof note);
    if (!st) {
        out->repaired = m;
        m = NULL;
        snprintf(out->notes, sizeof out->notes,
                 "pruned %d of %d %s of layer %d (%s; defender CA %.2f%% -> %.2f%%, budget %.3g %s); after %d "
                 "fine-tuning epochs CA on %d held-out defender samples %.2f%% (before %.2f%%). %s",
                 chosen, U, !strcmp(kind, "dense") ? "units" : !strcmp(kind, "embed") ? "dimensions" : "channels", conv, kind, 100 * ca[0], 100 * ca[chosen], max_drop, relative ? "relative" : "absolute",
                 epochs, val.n, 100 * ca_val_after, 100 * ca_val_before, note);
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddNumberToObject(j, "conv_layer", conv); // the pruned layer (a dense one on records)
            cJSON_AddStringToObject(j, "layer_kind", kind);
            cJSON_AddNumberToObject(j, "channels", U);
            cJSON_AddNumberToObject(j, "pruned", chosen);
            // The whole ranking (all U channels, past the stopping point) and the defender-split curve: the
            // evaluator replays the ranking on the original model to add test CA and ASR (prune_curve.csv).
            cJSON_AddItemToObject(j, "prune_order", cJSON_CreateIntArray(order, U));
            cJSON_AddItemToObject(j, "mean_activation", cJSON_CreateDoubleArray(mean, U));
            cJSON_AddItemToObject(j, "defender_ca_curve", cJSON_CreateDoubleArray(ca, U + 1));
            cJSON_AddNumberToObject(j, "ca_val_before", ca_val_before);
            cJSON_AddNumberToObject(j, "ca_val_pruned", ca_val_pruned);
            cJSON_AddNumberToObject(j, "ca_val_after", ca_val_after);
            cJSON_AddNumberToObject(j, "tune_samples", tune.n);
            cJSON_AddNumberToObject(j, "val_samples", val.n);
        }
        out->extra_json = j;
    }
    mit_destroy(m);
    free(mean);
    free(ca);
    free(order);
    ds_free(&tune);
    ds_free(&val);
    return st;
}
