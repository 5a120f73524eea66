// text/strip_text.c: STRIP for messages (STRIP-ViTA, Gao et al., IEEE TDSC 2022). A triggered message keeps the
// target class when most of its words are swapped out, as long as the trigger survives; a clean message's class
// drifts with the borrowed words. Each of N perturbed copies of an input replaces round(ratio * n) of its n words
// (of the first L, the words the model reads; at least one) at distinct random positions with words at random
// positions of one random message of the defender's clean split; the score is minus the mean prediction entropy
// over the copies (higher = more suspicious). Thresholds from the entropies of clean messages perturbed the same
// way: a normal fit (STRIP's boundary) or the empirical quantile.
//
// Differences from the paper's text setup, as the reference code (lancopku/RAP strip_vita.py: N = 20, replace
// ratio 0.7) does it: replacement words there are the top TF-IDF words of held-out messages of the other label;
// here they are drawn uniformly from the positions of a random clean message of any label (the defender's labels
// are not needed). Draws come from rng_stream(seed, "strip-text"). Copies are built in model-id space (the input's
// ids, as batch_load lays them out, with positions overwritten), so nothing is allocated per input.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"
#include "defense/text/textdef.h"

static const DefenseParamSpec g_params[] = {
    {"n", DEF_INT, 20, 1, 10000, "perturbed copies per message (reference code: 20)"},
    {"ratio", DEF_REAL, 0.7, 0, 1, "share of a message's words replaced in each copy, at least one (reference code: 0.7)"},
    {"calib", DEF_INT, 2000, 2, 1000000, "defender-split messages whose entropies set the thresholds"},
    {"boundary", DEF_INT, 0, 0, 1, "0 = normal fit of clean entropies (STRIP); 1 = empirical quantile"},
};

static Status strip_text_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps strip_text_defense = {
    .name = "strip-text",
    .level = DEF_INPUTS,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "STRIP-ViTA for text (Gao et al. 2022): entropy of predictions when most words are swapped for "
               "clean messages' words",
    .run = strip_text_run,
};

// Scratch shared by the calls below, allocated once.
typedef struct {
    const float *pool;   // (P, L) model ids of the clean messages
    const int *pool_len; // (P) their word counts (>= 1)
    int P, L, N;         // clean messages, positions, copies per message
    double ratio;        // share of words replaced
    int *pos;            // (L) positions, shuffled per copy
    int *job;            // (max_batch) which message each row of the batch belongs to
    double *p;           // (K) softmax of one row
} StripText;

// Mean entropy (bits) over N perturbed copies of each message: src ids (n, L), len (n); entropy (n).
static void entropies(Model *m, StripText *s, const float *ids, const int *len, int n, Rng *rng, int progress,
                      const char *what, double *entropy) {
    const int L = s->L, K = m->num_classes, B = m->max_batch;
    int rows = 0;
    double last = 0;
    for (int i = 0; i < n; i++) entropy[i] = 0;
    for (int i = 0; i < n; i++) {
        const int nw = BL_MAX(len[i], 1), k = BL_MAX(1, (int)lround(s->ratio * nw));
        for (int c = 0; c < s->N; c++) {
            float *dst = m->acts[0] + (size_t)rows * L;
            memcpy(dst, ids + (size_t)i * L, (size_t)L * sizeof(float));
            const int donor = (int)rng_below(rng, (uint64_t)s->P);
            const float *dw = s->pool + (size_t)donor * L;
            for (int t = 0; t < nw; t++) s->pos[t] = t;
            for (int t = 0; t < k; t++) { // partial Fisher-Yates: k distinct positions
                int r = t + (int)rng_below(rng, (uint64_t)(nw - t)), q = s->pos[r];
                s->pos[r] = s->pos[t], s->pos[t] = q;
                dst[q] = dw[rng_below(rng, (uint64_t)s->pool_len[donor])];
            }
            s->job[rows++] = i;
            if (rows == B || (i == n - 1 && c == s->N - 1)) {
                const float *logits = model_forward(m, rows);
                for (int r = 0; r < rows; r++) { // rows of one message are summed in order: thread-independent
                    feat_softmax(logits + (size_t)r * K, K, s->p);
                    entropy[s->job[r]] += feat_entropy_bits(s->p, K);
                }
                rows = 0;
            }
        }
        if (progress && (bl_now() - last > 0.2 || i == n - 1)) {
            fprintf(stderr, "\rstrip-text %-12s %6d/%d", what, i + 1, n);
            if (i == n - 1) fprintf(stderr, "\n");
            last = bl_now();
        }
    }
    for (int i = 0; i < n; i++) entropy[i] /= s->N;
}

static Status strip_text_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &strip_text_defense;
    const Dataset *in = ctx->inputs, *pool = ctx->clean;
    const int N = (int)defense_param(ops, ctx->params, "n");
    const double ratio = defense_param(ops, ctx->params, "ratio");
    const int calib_want = (int)defense_param(ops, ctx->params, "calib");
    const int empirical = defense_param(ops, ctx->params, "boundary") != 0;
    Status st;
    if ((st = tdef_need_tokens(in, "inputs to screen", "strip-text")) ||
        (st = tdef_need_tokens(pool, "defender's clean split", "strip-text")) ||
        (st = tdef_need_text_model(ctx->model, in, "strip-text")))
        return st;
    if (pool->n < 3)
        return bl_fail(BL_ERR_DATA, "strip-text: the defender's clean split has %d message(s); need at least 3 "
                       "(raise [data] defender_clean_fraction)", pool->n);
    if (pool->c != in->c) return bl_fail(BL_ERR_DATA, "strip-text: inputs and clean split differ in length");
    Model *m = ctx->model;
    const int L = in->c, ncal = BL_MIN(calib_want, pool->n);
    if (ncal < calib_want) defense_note(out, "calib = %d > defender split (%d messages): using all of it", calib_want, pool->n);
    float *pids = malloc((size_t)pool->n * L * sizeof(float)), *iids = malloc((size_t)BL_MAX(in->n, 1) * L * sizeof(float));
    float *cids = malloc((size_t)ncal * L * sizeof(float)), *cal = malloc((size_t)ncal * sizeof(float));
    int *plen = malloc((size_t)pool->n * sizeof(int)), *ilen = malloc((size_t)BL_MAX(in->n, 1) * sizeof(int));
    int *perm = malloc((size_t)pool->n * sizeof(int)), *clen = calloc((size_t)ncal, sizeof(int));
    double *hcal = malloc((size_t)ncal * sizeof(double)), *hin = malloc((size_t)BL_MAX(in->n, 1) * sizeof(double));
    StripText s = {.P = pool->n, .L = L, .N = N, .ratio = ratio};
    s.pos = malloc((size_t)L * sizeof(int)), s.job = malloc((size_t)m->max_batch * sizeof(int));
    s.p = malloc((size_t)m->num_classes * sizeof(double));
    out->input_score = malloc((size_t)BL_MAX(in->n, 1) * sizeof(float));
    if (!pids || !iids || !cids || !cal || !plen || !ilen || !perm || !clen || !hcal || !hin || !s.pos || !s.job ||
        !s.p || !out->input_score) {
        st = bl_fail(BL_ERR_RUN, "strip-text: out of memory");
        goto done;
    }
    tdef_load_ids(m, pool, pids, plen);
    tdef_load_ids(m, in, iids, ilen);
    for (int i = 0; i < pool->n; i++) plen[i] = BL_MAX(plen[i], 1); // an empty message reads as one OOV token
    s.pool = pids, s.pool_len = plen;
    // calibration messages: a seeded subset of the defender split (words may come from the message itself: one
    // donor in P, negligible)
    Rng rng = rng_stream(ctx->seed, "strip-text");
    for (int i = 0; i < pool->n; i++) perm[i] = i;
    rng_shuffle_int(&rng, perm, pool->n);
    for (int i = 0; i < ncal; i++) {
        memcpy(cids + (size_t)i * L, pids + (size_t)perm[i] * L, (size_t)L * sizeof(float));
        clen[i] = plen[perm[i]];
    }
    entropies(m, &s, cids, clen, ncal, &rng, ctx->progress, "calibration", hcal);
    entropies(m, &s, iids, ilen, in->n, &rng, ctx->progress, "inputs", hin);
    long bad = 0;
    for (int i = 0; i < ncal; i++) cal[i] = (float)-hcal[i];
    for (int i = 0; i < in->n; i++) {
        out->input_score[i] = (float)-hin[i];
        bad += !isfinite(hin[i]);
    }
    if (bad) defense_note(out, "%ld input(s) gave non-finite entropies (never flagged)", bad);
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddNumberToObject(ex, "copies", N);
    cJSON_AddNumberToObject(ex, "replace_ratio", ratio);
    cJSON_AddNumberToObject(ex, "calibration_messages", ncal);
    cJSON_AddStringToObject(ex, "score", "minus the mean entropy (bits) over the copies");
    out->extra_json = ex;
    st = tdef_thresholds(cal, ncal, !empirical, out, ex);
    if (st) st = bl_fail_ctx(st, "strip-text");
done:
    free(pids);
    free(iids);
    free(cids);
    free(cal);
    free(plen);
    free(ilen);
    free(perm);
    free(clen);
    free(hcal);
    free(hin);
    free(s.pos);
    free(s.job);
    free(s.p);
    return st;
}
