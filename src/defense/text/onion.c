// text/onion.c: ONION (Qi et al., EMNLP 2021) with a bigram language model instead of GPT-2 (our variant). An
// inserted trigger word is an outlier for a language model: removing it lowers the message's perplexity far more
// than removing any ordinary word. Suspicion of word i: f_i = PPL(message) - PPL(message without word i), over the
// first L words (what the model reads); the input's score is max_i f_i (higher = more suspicious). ONION deletes
// the words with f_i above a bar; as a detector, a message is flagged when its most suspicious word passes the
// threshold, calibrated on clean messages (as the RAP authors' onion.py does with percentiles of clean data).
//
// The language model: words as the data's lexicon holds them, <s> and </s> around each message, interpolated
// absolute discounting (Ney et al. 1994; Kneser-Ney without the continuation counts), discount d:
//   P(w|v) = max(c(v,w) - d, 0) / c(v) + d N1+(v.) / c(v) * Pu(w),   Pu(w) = (c(w) + 1) / (N + V + 1)
// (Pu is add-one over the V words seen plus one unseen class; P(w|v) = Pu(w) for a context never seen). It is
// trained on a seeded share of the defender's clean split (rng_stream(seed, "onion")); the rest, unseen by the
// model, calibrates the thresholds. Leave-one-out needs only the three bigram terms around word i: O(n) a message.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "data/text/lexicon.h"
#include "defense/defense.h"
#include "defense/text/textdef.h"

static const DefenseParamSpec g_params[] = {
    {"discount", DEF_REAL, 0.75, 0.01, 0.99, "absolute discount d of the bigram model (the usual 0.75)"},
    {"calib_fraction", DEF_REAL, 0.3, 0.05, 0.9, "share of the defender's split held out from the language model to "
                                                 "set the thresholds"},
    {"boundary", DEF_INT, 1, 0, 1, "0 = normal fit of clean scores; 1 = empirical quantile (the RAP authors' onion.py)"},
};

static Status onion_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps onion_defense = {
    .name = "onion",
    .level = DEF_INPUTS,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "ONION (Qi et al. 2021) with a bigram LM on the defender's clean split: the perplexity drop when "
               "the most suspicious word is left out",
    .run = onion_run,
};

// The bigram model. Word ids are the clean split's lexicon ids; BOS = W, EOS = W + 1; an id outside the lexicon
// or a word never seen is "unseen" (count 0).
typedef struct {
    int W;             // lexicon size
    long *uni;         // (W + 2) c(w) as a predicted word (BOS never predicted)
    long *ctx;         // (W + 2) c(v) as a context
    long *succ;        // (W + 2) N1+(v.): distinct words seen after v
    uint64_t *keys;    // (cap) bigram hash keys (v << 32 | w) + 1; 0 = empty slot
    long *cnt;         // (cap) c(v, w)
    size_t cap, used;  // slots (a power of two) and slots in use
    long N;            // predicted tokens in total
    long V;            // distinct words seen (EOS included)
    double d;          // discount
} Bigram;

static uint64_t mix64(uint64_t x) { // splitmix64 finaliser
    x ^= x >> 30, x *= 0xbf58476d1ce4e5b9ull, x ^= x >> 27, x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static long *bg_slot(Bigram *b, int v, int w, int insert) {
    const uint64_t key = (((uint64_t)(uint32_t)v << 32) | (uint32_t)w) + 1;
    size_t i = mix64(key) & (b->cap - 1);
    while (b->keys[i] && b->keys[i] != key) i = (i + 1) & (b->cap - 1);
    if (!b->keys[i]) {
        if (!insert) return NULL;
        b->keys[i] = key, b->cnt[i] = 0, b->used++;
    }
    return &b->cnt[i];
}

static Status bg_grow(Bigram *b) {
    Bigram nb = *b;
    nb.cap = b->cap * 2, nb.used = 0;
    nb.keys = calloc(nb.cap, sizeof *nb.keys), nb.cnt = calloc(nb.cap, sizeof *nb.cnt);
    if (!nb.keys || !nb.cnt) {
        free(nb.keys);
        free(nb.cnt);
        return bl_fail(BL_ERR_RUN, "onion: out of memory");
    }
    for (size_t i = 0; i < b->cap; i++)
        if (b->keys[i]) {
            uint64_t k = b->keys[i] - 1;
            *bg_slot(&nb, (int)(k >> 32), (int)(uint32_t)k, 1) = b->cnt[i];
        }
    free(b->keys);
    free(b->cnt);
    *b = nb;
    return BL_OK;
}

static Status bg_add(Bigram *b, int v, int w) {
    if (b->used * 2 >= b->cap) {
        Status st = bg_grow(b);
        if (st) return st;
    }
    long *c = bg_slot(b, v, w, 1);
    if (!*c) b->succ[v]++;
    (*c)++;
    b->ctx[v]++;
    if (!b->uni[w]) b->V++;
    b->uni[w]++;
    b->N++;
    return BL_OK;
}

static void bg_free(Bigram *b) {
    free(b->uni);
    free(b->ctx);
    free(b->succ);
    free(b->keys);
    free(b->cnt);
}

static int in_range(const Bigram *b, int w) { return w >= 0 && w < b->W + 2; }

// log P(w | v) under the smoothed model.
static double bg_logp(Bigram *b, int v, int w) {
    const long cw = in_range(b, w) ? b->uni[w] : 0;
    const double pu = (double)(cw + 1) / (double)(b->N + b->V + 1);
    const long cv = in_range(b, v) ? b->ctx[v] : 0;
    if (!cv) return log(pu);
    const long *c = in_range(b, w) ? bg_slot(b, v, w, 0) : NULL;
    const double cvw = c ? (double)*c : 0.0;
    const double p = fmax(cvw - b->d, 0.0) / cv + b->d * b->succ[v] / cv * pu;
    return log(p);
}

// The message's words (first L) as ids of the language model's lexicon, into w (L); returns the count.
static int message_words(const Dataset *d, int i, const DsLexicon *lm_lex, int32_t *w) {
    const long a = d->tok_offset[i], n = BL_MIN(d->tok_offset[i + 1] - a, (long)d->c);
    const int W = lex_size(lm_lex);
    for (long t = 0; t < n; t++) {
        const int32_t id = d->tokens[a + t];
        if (d->lexicon == lm_lex) w[t] = id;
        else { // another lexicon (not the pair's): look the word up by its string
            const char *s = lex_word(d->lexicon, id);
            w[t] = s ? lex_find(lm_lex, s, strlen(s)) : -1;
        }
        if (w[t] < 0 || w[t] >= W) w[t] = -1; // unseen
    }
    return (int)n;
}

// max_i [PPL(x) - PPL(x without word i)] for the n words w[0..n) (with BOS = W before, EOS = W + 1 after).
// lp (n + 1) is scratch: lp[j] = log P(w_j | w_{j-1}), j = n being the EOS term.
static double max_suspicion(Bigram *b, const int32_t *w, int n, double *lp) {
    const int BOS = b->W, EOS = b->W + 1;
    double sum = 0;
    for (int j = 0; j <= n; j++) {
        const int prev = j ? w[j - 1] : BOS, cur = j < n ? w[j] : EOS;
        lp[j] = bg_logp(b, prev, cur);
        sum += lp[j];
    }
    const double ppl = exp(-sum / (n + 1));
    double best = -INFINITY;
    for (int i = 0; i < n; i++) { // drop w_i: terms i and i+1 go, P(w_{i+1} | w_{i-1}) comes
        const int prev = i ? w[i - 1] : BOS, next = i + 1 < n ? w[i + 1] : EOS;
        const double s = sum - lp[i] - lp[i + 1] + bg_logp(b, prev, next);
        const double f = ppl - exp(-s / n);
        if (f > best) best = f;
    }
    return n ? best : 0.0; // an empty message has no word to suspect
}

static Status onion_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &onion_defense;
    const Dataset *in = ctx->inputs, *clean = ctx->clean;
    const double frac = defense_param(ops, ctx->params, "calib_fraction");
    const int empirical = defense_param(ops, ctx->params, "boundary") != 0;
    Status st;
    if ((st = tdef_need_tokens(in, "inputs to screen", "onion")) ||
        (st = tdef_need_tokens(clean, "defender's clean split", "onion")))
        return st;
    const int ncal = (int)lround(frac * clean->n), nlm = clean->n - ncal;
    if (ncal < 2 || nlm < 1)
        return bl_fail(BL_ERR_DATA, "onion: the defender's clean split (%d messages) is too small to train the "
                       "language model and hold %g of it out for thresholds", clean->n, frac);
    const int L = BL_MAX(in->c, clean->c), W = lex_size(clean->lexicon);
    Bigram b = {.W = W, .d = defense_param(ops, ctx->params, "discount"), .cap = 1 << 16};
    b.uni = calloc((size_t)W + 2, sizeof(long)), b.ctx = calloc((size_t)W + 2, sizeof(long));
    b.succ = calloc((size_t)W + 2, sizeof(long));
    b.keys = calloc(b.cap, sizeof *b.keys), b.cnt = calloc(b.cap, sizeof *b.cnt);
    int *perm = malloc((size_t)clean->n * sizeof(int));
    int32_t *w = malloc((size_t)L * sizeof(int32_t));
    double *lp = malloc(((size_t)L + 1) * sizeof(double));
    float *cal = malloc((size_t)ncal * sizeof(float));
    out->input_score = malloc((size_t)BL_MAX(in->n, 1) * sizeof(float));
    if (!b.uni || !b.ctx || !b.succ || !b.keys || !b.cnt || !perm || !w || !lp || !cal || !out->input_score) {
        st = bl_fail(BL_ERR_RUN, "onion: out of memory");
        goto done;
    }
    Rng rng = rng_stream(ctx->seed, "onion");
    for (int i = 0; i < clean->n; i++) perm[i] = i;
    rng_shuffle_int(&rng, perm, clean->n);
    for (int k = ncal; k < clean->n; k++) { // the language model's share
        const int n = message_words(clean, perm[k], clean->lexicon, w);
        for (int j = 0; j <= n && !st; j++) {
            int prev = j ? w[j - 1] : W, cur = j < n ? w[j] : W + 1;
            if (prev >= 0 && cur >= 0) st = bg_add(&b, prev, cur); // message_words gives only seen ids here
        }
        if (st) goto done;
    }
    for (int k = 0; k < ncal; k++) {
        const int n = message_words(clean, perm[k], clean->lexicon, w);
        cal[k] = (float)max_suspicion(&b, w, n, lp);
    }
    long bad = 0;
    for (int i = 0; i < in->n; i++) {
        const int n = message_words(in, i, clean->lexicon, w);
        const double s = max_suspicion(&b, w, n, lp);
        out->input_score[i] = (float)s;
        bad += !isfinite(s);
    }
    if (bad) defense_note(out, "%ld input(s) gave non-finite scores (never flagged)", bad);
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddStringToObject(ex, "language_model", "bigram, interpolated absolute discounting");
    cJSON_AddNumberToObject(ex, "lm_messages", nlm);
    cJSON_AddNumberToObject(ex, "lm_tokens", (double)b.N);
    cJSON_AddNumberToObject(ex, "lm_words", (double)b.V);
    cJSON_AddNumberToObject(ex, "lm_bigrams", (double)b.used);
    cJSON_AddNumberToObject(ex, "calibration_messages", ncal);
    out->extra_json = ex;
    if ((st = tdef_thresholds(cal, ncal, !empirical, out, ex))) st = bl_fail_ctx(st, "onion");
done:
    bg_free(&b);
    free(perm);
    free(w);
    free(lp);
    free(cal);
    return st;
}
