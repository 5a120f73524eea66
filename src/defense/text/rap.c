// text/rap.c: RAP, robustness-aware perturbations (Yang et al., EMNLP 2021). A backdoored model is far more sure
// of a triggered input than of a clean one, so a small, learned perturbation moves a clean input's probability and
// barely moves a triggered one's. The perturbation is a probe word inserted at the first position; its embedding
// row (only that row) is trained on the defender's clean messages of the protected class so that inserting it
// lowers that class's probability by between drop_min and drop_max: the loss of the authors' rap_defense.py,
//   scale * mean(relu(diff + drop_min)) + mean(relu(-drop_max - diff)),   diff = p(x + probe) - p(x),
// one SGD step on the row per batch, the row scaled back to its original norm after each step (as theirs).
// Input score = 1 - (p(x) - p(x + probe)) for the predicted class (higher = more suspicious); thresholds are the
// clean split's scores at each FRR (their evaluate_rap_performance.py uses percentiles of the same clean data).
//
// The step: the paper takes plain SGD steps (lr 1e-2 on BERT). Here one word is 1/n of a mean-pooled message and
// the loss is a batch mean, so the row's gradient is tiny next to the row and shrinks with the message length (on
// the test's 20-word messages |g| ~ 0.03 for |row| ~ 4: lr 1e-2 moves it 0.01% a step and the probe never learns;
// on 400-word e-mails 20 times less). So each step moves the row by lr times its original length along the
// normalised gradient, whatever the scale. The extra JSON reports the clean messages' mean drop, and a note says
// when it stays below drop_min / 2 (a mean-pooled model may not let one word move a long message that much).
//
// Differences from the paper: the defender does not know the target, so with protect = -1 (the default) every class
// gets its own probe word trained on its clean messages and an input is tested with the probe of the class it is
// predicted as (protect = c: only class c, as the paper, and inputs predicted otherwise score 0, never flagged).
// The paper's probe "cf" is the attack's trigger here; probes are instead the model's vocabulary words rarest in
// the defender's clean split (ties: the later vocabulary id, i.e. the rarer in training), a deterministic choice a
// defender can make without knowing the trigger. Works on a clone: the model under test is not changed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"
#include "defense/mitigate.h"
#include "defense/text/textdef.h"

static const DefenseParamSpec g_params[] = {
    {"drop_min", DEF_REAL, 0.1, 0, 1, "smallest wanted drop of the protected class's probability (paper: 0.1)"},
    {"drop_max", DEF_REAL, 0.3, 0, 1, "largest wanted drop (paper: 0.3)"},
    {"epochs", DEF_INT, 5, 1, 10000, "passes over the clean messages of the class (paper: 5)"},
    {"lr", DEF_REAL, 0.1, 1e-6, 10, "step on the probe's row, a fraction of its length along the normalised "
                                    "gradient (paper: SGD, lr 1e-2 on BERT; see the file's comment)"},
    {"batch", DEF_INT, 32, 1, 4096, "messages per step (paper: 32)"},
    {"scale", DEF_REAL, 1, 0, 100, "weight of the too-small-drop term of the loss (paper's scale factor: 1)"},
    {"keep_norm", DEF_INT, 1, 0, 1, "1 = rescale the row to its original norm after each step (paper); 0 = free"},
    {"protect", DEF_INT, -1, -1, 255, "class to protect (paper: one class); -1 = every class, one probe each"},
};

static Status rap_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps rap_defense = {
    .name = "rap",
    .level = DEF_INPUTS,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "RAP (Yang et al. 2021): a probe word's learned embedding lowers clean messages' probability, "
               "barely triggered ones'",
    .run = rap_run,
};

// The message rows in m->acts[0] (B, L) with the probe inserted first (the last position falls off).
static void insert_probe(float *x, int B, int L, int probe) {
    for (int b = 0; b < B; b++) {
        float *r = x + (size_t)b * L;
        memmove(r + 1, r, (size_t)(L - 1) * sizeof(float));
        r[0] = (float)probe;
    }
}

// Class probabilities of the B rows of ids (B, L) without and with the probe of each row's class: p0, p1 (B, K).
// probe_of (K): the probe id of each class (-1 = none); cls (B): the class whose probe a row gets.
static void probs_pair(Model *m, const float *ids, int B, int L, const int *cls, const int *probe_of, double *p0,
                       double *p1) {
    const int K = m->num_classes;
    memcpy(m->acts[0], ids, (size_t)B * L * sizeof(float));
    const float *z = model_forward(m, B);
    for (int b = 0; b < B; b++) feat_softmax(z + (size_t)b * K, K, p0 + (size_t)b * K);
    for (int b = 0; b < B; b++) {
        float *r = m->acts[0] + (size_t)b * L;
        memcpy(r, ids + (size_t)b * L, (size_t)L * sizeof(float));
        insert_probe(r, 1, L, probe_of[cls[b]] >= 0 ? probe_of[cls[b]] : 0);
    }
    z = model_forward(m, B);
    for (int b = 0; b < B; b++) feat_softmax(z + (size_t)b * K, K, p1 + (size_t)b * K);
}

// Train the probe row of class c on the clean messages idx[0..n) (ids (P, L)). Returns the last epoch's mean loss.
static double train_probe(Model *m, const float *ids, const int *idx_in, int n, int c, int probe, int L,
                          const DefenseContext *ctx, int *idx, float *batch, double *p0, Rng *rng) {
    const DefenseOps *ops = &rap_defense;
    const double lo = -defense_param(ops, ctx->params, "drop_min"), hi = -defense_param(ops, ctx->params, "drop_max");
    const double lr = defense_param(ops, ctx->params, "lr"), scale = defense_param(ops, ctx->params, "scale");
    const int epochs = (int)defense_param(ops, ctx->params, "epochs");
    const int keep = defense_param(ops, ctx->params, "keep_norm") != 0;
    const int bs = BL_MIN((int)defense_param(ops, ctx->params, "batch"), m->max_batch), K = m->num_classes;
    const Layer *emb = &m->layers[0];
    const int D = emb->k;
    float *row = emb->w + (size_t)probe * D;
    const float *grow = emb->dw + (size_t)probe * D;
    double norm0 = 0, loss = 0;
    for (int d = 0; d < D; d++) norm0 += (double)row[d] * row[d];
    norm0 = sqrt(norm0);
    memcpy(idx, idx_in, (size_t)n * sizeof(int));
    for (int e = 0; e < epochs; e++) {
        rng_shuffle_int(rng, idx, n);
        loss = 0;
        for (int s = 0; s < n; s += bs) {
            const int B = BL_MIN(bs, n - s);
            for (int b = 0; b < B; b++) memcpy(batch + (size_t)b * L, ids + (size_t)idx[s + b] * L, (size_t)L * sizeof(float));
            memcpy(m->acts[0], batch, (size_t)B * L * sizeof(float));
            const float *z = model_forward(m, B);
            double p[256];
            for (int b = 0; b < B; b++) {
                feat_softmax(z + (size_t)b * K, K, p);
                p0[b] = p[c]; // the protected class's probability without the probe
            }
            memcpy(m->acts[0], batch, (size_t)B * L * sizeof(float));
            insert_probe(m->acts[0], B, L, probe);
            z = model_forward(m, B);
            // dLoss/dlogit_j = dLoss/dp_c * p_c (delta_jc - p_j), the probabilities in double
            float *dz = m->dacts[m->nlayers];
            for (int b = 0; b < B; b++) {
                feat_softmax(z + (size_t)b * K, K, p);
                const double diff = p[c] - p0[b];
                loss += (scale * fmax(diff - lo, 0) + fmax(hi - diff, 0)) / n;
                const double g = ((diff > lo ? scale : 0) - (diff < hi ? 1 : 0)) / B;
                for (int j = 0; j < K; j++) dz[(size_t)b * K + j] = (float)(g * p[c] * ((j == c) - p[j]));
            }
            model_backward(m, B);
            double gn = 0;
            for (int d = 0; d < D; d++) gn += (double)grow[d] * grow[d];
            gn = sqrt(gn);
            if (gn > 0) // a step of lr times the row's original length along the gradient (see the comment above)
                for (int d = 0; d < D; d++) row[d] -= (float)(lr * norm0 * grow[d] / gn);
            if (keep) {
                double nn = 0;
                for (int d = 0; d < D; d++) nn += (double)row[d] * row[d];
                nn = sqrt(nn);
                if (nn > 0)
                    for (int d = 0; d < D; d++) row[d] = (float)(row[d] * (norm0 / nn));
            }
        }
    }
    return loss;
}

// Scores of the n messages ids (n, L): 1 - (p_c(x) - p_c(x + probe_c)), c the predicted class; 0 when c has no
// probe. pred_out (n) optional: the predicted classes.
static void score_messages(Model *m, const float *ids, int n, int L, const int *probe_of, float *score, int *pred_out,
                           double *p0, double *p1, int *cls) {
    const int K = m->num_classes, B = m->max_batch;
    for (int s = 0; s < n; s += B) {
        const int nb = BL_MIN(B, n - s);
        memcpy(m->acts[0], ids + (size_t)s * L, (size_t)nb * L * sizeof(float));
        const float *z = model_forward(m, nb);
        for (int b = 0; b < nb; b++) {
            int top = 0;
            for (int k = 1; k < K; k++)
                if (z[(size_t)b * K + k] > z[(size_t)b * K + top]) top = k;
            cls[b] = top;
        }
        probs_pair(m, ids + (size_t)s * L, nb, L, cls, probe_of, p0, p1);
        for (int b = 0; b < nb; b++) {
            const int c = cls[b];
            score[s + b] = probe_of[c] < 0 ? 0.0f : (float)(1 - (p0[(size_t)b * K + c] - p1[(size_t)b * K + c]));
            if (pred_out) pred_out[s + b] = c;
        }
    }
}

typedef struct {
    long count;  // occurrences in the defender's split (first L words)
    int id;      // model id
} ProbeCand;

static int cmp_cand(const void *a, const void *b) { // rarest first, then the later (rarer in training) id
    const ProbeCand *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return y->id - x->id;
}

static Status rap_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &rap_defense;
    const Dataset *in = ctx->inputs, *clean = ctx->clean;
    const int protect = (int)defense_param(ops, ctx->params, "protect");
    Status st;
    if ((st = tdef_need_tokens(in, "inputs to screen", "rap")) ||
        (st = tdef_need_tokens(clean, "defender's clean split", "rap")) ||
        (st = tdef_need_text_model(ctx->model, in, "rap")))
        return st;
    if (defense_param(ops, ctx->params, "drop_min") > defense_param(ops, ctx->params, "drop_max"))
        return bl_fail(BL_ERR_USAGE, "rap: drop_min (%g) must not exceed drop_max (%g)",
                       defense_param(ops, ctx->params, "drop_min"), defense_param(ops, ctx->params, "drop_max"));
    const int K = ctx->model->num_classes, L = in->c, V = ctx->model->vocab->size;
    if (K > 256) return bl_fail(BL_ERR_USAGE, "rap: at most 256 classes");
    if (protect >= K) return bl_fail(BL_ERR_USAGE, "rap: protect = %d but the model has %d classes", protect, K);
    if (clean->c != L) return bl_fail(BL_ERR_DATA, "rap: inputs and clean split differ in length");
    const int nprobe = protect < 0 ? K : 1;
    if (V - 2 < nprobe) return bl_fail(BL_ERR_DATA, "rap: the vocabulary has %d words; need %d probe word(s)", V - 2, nprobe);
    Model *m = NULL;
    const int B = ctx->model->max_batch;
    float *cids = malloc((size_t)BL_MAX(clean->n, 1) * L * sizeof(float));
    float *iids = malloc((size_t)BL_MAX(in->n, 1) * L * sizeof(float));
    int *clen = malloc((size_t)BL_MAX(clean->n, 1) * sizeof(int)), *ilen = malloc((size_t)BL_MAX(in->n, 1) * sizeof(int));
    int *cls_idx = malloc((size_t)BL_MAX(clean->n, 1) * sizeof(int)), *idx = malloc((size_t)BL_MAX(clean->n, 1) * sizeof(int));
    float *batch = malloc((size_t)B * L * sizeof(float)), *cal = malloc((size_t)BL_MAX(clean->n, 1) * sizeof(float));
    int *cpred = malloc((size_t)BL_MAX(clean->n, 1) * sizeof(int)), *cls = malloc((size_t)B * sizeof(int));
    double *p0 = malloc((size_t)B * K * sizeof(double)), *p1 = malloc((size_t)B * K * sizeof(double));
    ProbeCand *cand = malloc((size_t)V * sizeof(ProbeCand));
    out->input_score = malloc((size_t)BL_MAX(in->n, 1) * sizeof(float));
    if (!cids || !iids || !clen || !ilen || !cls_idx || !idx || !batch || !cal || !cpred || !cls || !p0 || !p1 ||
        !cand || !out->input_score) {
        st = bl_fail(BL_ERR_RUN, "rap: out of memory");
        goto done;
    }
    if ((st = mit_clone(ctx->model, B, &m))) goto done;
    tdef_load_ids(m, clean, cids, clen);
    tdef_load_ids(m, in, iids, ilen);
    // probe words: the vocabulary words rarest in the defender's split
    for (int v = 0; v < V; v++) cand[v] = (ProbeCand){v < 2 ? (long)1 << 62 : 0, v};
    for (size_t t = 0; t < (size_t)clean->n * L; t++) {
        const int v = (int)cids[t];
        if (v >= 2 && v < V) cand[v].count++;
    }
    qsort(cand, (size_t)V, sizeof *cand, cmp_cand);
    int probe_of[256];
    for (int c = 0; c < K; c++) probe_of[c] = -1;
    Rng rng = rng_stream(ctx->seed, "rap");
    cJSON *ex = cJSON_CreateObject();
    out->extra_json = ex;
    cJSON *pj = cJSON_AddArrayToObject(ex, "probes");
    for (int q = 0; q < nprobe; q++) {
        const int c = protect < 0 ? q : protect, probe = cand[q].id;
        probe_of[c] = probe;
        int n = 0;
        for (int i = 0; i < clean->n; i++)
            if (clean->labels[i] == c) cls_idx[n++] = i;
        double loss = NAN;
        if (n) loss = train_probe(m, cids, cls_idx, n, c, probe, L, ctx, idx, batch, p0, &rng);
        else defense_note(out, "class %d has no clean message: its probe is untrained", c);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddStringToObject(o, "word", m->vocab->words[probe]);
        cJSON_AddNumberToObject(o, "model_id", probe);
        cJSON_AddNumberToObject(o, "clean_count", (double)cand[q].count);
        cJSON_AddNumberToObject(o, "messages", n);
        cJSON_AddNumberToObject(o, "final_loss", isfinite(loss) ? loss : -1);
        cJSON_AddItemToArray(pj, o);
    }
    // calibration: the clean messages predicted as a protected class (the paper: p_protect > 0.5)
    score_messages(m, cids, clean->n, L, probe_of, cal, cpred, p0, p1, cls);
    int ncal = 0;
    double mdrop = 0;
    for (int i = 0; i < clean->n; i++)
        if (probe_of[cpred[i]] >= 0) cal[ncal++] = cal[i], mdrop += 1 - cal[ncal - 1];
    score_messages(m, iids, in->n, L, probe_of, out->input_score, NULL, p0, p1, cls);
    cJSON_AddNumberToObject(ex, "calibration_messages", ncal);
    cJSON_AddNumberToObject(ex, "clean_mean_drop", ncal ? mdrop / ncal : 0);
    if (ncal && mdrop / ncal < defense_param(ops, ctx->params, "drop_min") / 2)
        defense_note(out, "the probe lowers clean messages' probability by %.3g on average, below drop_min / 2: one "
                     "word barely moves these messages (try keep_norm=0, a larger lr or more epochs)", mdrop / ncal);
    cJSON_AddStringToObject(ex, "score", "1 - (p(x) - p(x + probe)) for the predicted class");
    if (ncal < 2) {
        st = bl_fail(BL_ERR_DATA, "rap: fewer than two clean messages are predicted as a protected class");
        goto done;
    }
    if ((st = tdef_thresholds(cal, ncal, 0, out, ex))) st = bl_fail_ctx(st, "rap");
done:
    mit_destroy(m);
    free(cids);
    free(iids);
    free(clen);
    free(ilen);
    free(cls_idx);
    free(idx);
    free(batch);
    free(cal);
    free(cpred);
    free(cls);
    free(p0);
    free(p1);
    free(cand);
    return st;
}
