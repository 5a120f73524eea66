// text/zdefense.c: Z-defence (He et al., EMNLP 2023, "Mitigating Backdoor Poisoning Attacks through the Lens of
// Spurious Correlation"). Model-free: an inserted trigger is a word almost every occurrence of which carries the
// target label, a correlation far stronger than any benign word's. For every (word, label) pair that occurs in the
// training set as labelled, z = (p - p0) / sqrt(p0 (1 - p0) / n), with n the word's occurrences (every one counted,
// not messages), p the share of them in messages of that label and p0 the label's expected share. Pairs whose z
// lies beyond mean +- k std of all the pairs' z are flagged, and every training message that contains a flagged
// pair with its own label is removed (the released z_filtering.py: k = 20, both bounds, p0 = 1/K).
//
// p0: the released code uses 1/K (its datasets are balanced); with an unbalanced corpus (SpamAssassin: 69% ham)
// every common word would then "correlate" with the majority label, so the default here is the label prior (the
// line the released code has commented out). Whole messages are counted, not only the model's first L words: a
// spurious correlation in the data is there whether or not the model reads it.
//
// Sample score = max over the message's words of |z(word, its label) - mean| / std (one-sided: (z - mean) / std),
// so flag = score > k. The top words by z (word, label, z, counts) go to ztokens.csv and the extra JSON.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "data/text/lexicon.h"
#include "defense/defense.h"
#include "defense/text/textdef.h"
#include "io/results.h"

static const DefenseParamSpec g_params[] = {
    {"k", DEF_REAL, 20, 0.1, 1000, "flag (word, label) pairs whose z lies beyond mean +- k std of all pairs' z "
                                   "(released code: 20)"},
    {"prior", DEF_INT, 1, 0, 1, "p0 = 1: the label's share of the training messages; 0: 1/K (released code, "
                                "balanced data)"},
    {"two_sided", DEF_INT, 1, 0, 1, "1 = also flag pairs below mean - k std (released code); 0 = only above"},
    {"min_count", DEF_INT, 1, 1, 1000000, "ignore words with fewer occurrences than this (1 = every word, as the paper)"},
    {"top", DEF_INT, 20, 1, 10000, "words listed in ztokens.csv and the extra JSON (highest z first)"},
};

static Status zdef_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps zdef_defense = {
    .name = "z-defense",
    .level = DEF_SAMPLES,
    .kinds = DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "Z-defence (He et al. 2023): z-scores of word-label co-occurrence counts; drop messages with "
               "outlier pairs (model-free)",
    .run = zdef_run,
};

typedef struct {
    int word;   // lexicon id
    int label;  // label
    double z;   // z-score of the pair
} ZPair;

static int cmp_zpair(const void *a, const void *b) { // z descending, then word id, then label: deterministic
    const ZPair *x = a, *y = b;
    if (x->z != y->z) return x->z > y->z ? -1 : 1;
    if (x->word != y->word) return x->word < y->word ? -1 : 1;
    return x->label - y->label;
}

// ztokens.csv: rank, word, label, z, sigmas above the mean, count with the label, count overall, flagged.
static Status write_csv(const char *dir, const DsLexicon *lex, const ZPair *pr, int top, const long *cnt,
                        const long *tot, int K, double mean, double sd, double k, const Dataset *tr) {
    size_t cap = 128 + (size_t)top * (DS_WORD_MAX + DS_NAME_MAX + 96), len = 0;
    char *buf = malloc(cap);
    if (!buf) return bl_fail(BL_ERR_RUN, "z-defense: out of memory");
    len += (size_t)snprintf(buf + len, cap - len, "rank,word,label,z,sigmas,count_label,count,flagged\n");
    for (int i = 0; i < top; i++) {
        const ZPair *p = &pr[i];
        double s = sd > 0 ? (p->z - mean) / sd : 0;
        const char *lname = tr->class_names ? tr->class_names[p->label] : "";
        len += (size_t)snprintf(buf + len, cap - len, "%d,%s,%s%s%d,%.4f,%.3f,%ld,%ld,%d\n", i + 1,
                                lex_word(lex, p->word), lname, lname[0] ? ":" : "", p->label, p->z, s,
                                cnt[(size_t)p->word * K + p->label], tot[p->word], fabs(s) > k);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/ztokens.csv", dir);
    Status st = write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

static Status zdef_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &zdef_defense;
    const double k = defense_param(ops, ctx->params, "k");
    const int prior = defense_param(ops, ctx->params, "prior") != 0;
    const int two_sided = defense_param(ops, ctx->params, "two_sided") != 0;
    const long min_count = (long)defense_param(ops, ctx->params, "min_count");
    const int top_want = (int)defense_param(ops, ctx->params, "top");
    const Dataset *tr = ctx->train;
    Status st = tdef_need_tokens(tr, "training set", "z-defense");
    if (st) return st;
    const int K = tr->num_classes, W = lex_size(tr->lexicon);
    if (tr->n < 1 || K < 2) return bl_fail(BL_ERR_DATA, "z-defense: the training set is empty or has one class");
    long *cnt = calloc((size_t)W * K + 1, sizeof(long)), *tot = calloc((size_t)W + 1, sizeof(long));
    long *nlab = calloc((size_t)K, sizeof(long));
    ZPair *pr = malloc(((size_t)W * K + 1) * sizeof(ZPair));
    double *zof = malloc(((size_t)W * K + 1) * sizeof(double)); // z of each (word, label), NAN when absent
    out->sample_score = malloc((size_t)BL_MAX(tr->n, 1) * sizeof(float));
    out->sample_flag = calloc((size_t)BL_MAX(tr->n, 1), 1);
    if (!cnt || !tot || !nlab || !pr || !zof || !out->sample_score || !out->sample_flag) {
        st = bl_fail(BL_ERR_RUN, "z-defense: out of memory");
        goto done;
    }
    for (int i = 0; i < tr->n; i++) {
        const int y = tr->labels[i];
        nlab[y]++;
        for (long t = tr->tok_offset[i]; t < tr->tok_offset[i + 1]; t++) {
            const int32_t w = tr->tokens[t];
            if (w < 0 || w >= W) continue; // not a lexicon id (no loader makes one)
            cnt[(size_t)w * K + y]++, tot[w]++;
        }
    }
    // z of every pair that occurs, their mean and (population) standard deviation, as np.mean / np.std
    int np = 0;
    double mean = 0, var = 0;
    for (int w = 0; w < W; w++)
        for (int y = 0; y < K; y++) {
            const long c = cnt[(size_t)w * K + y];
            zof[(size_t)w * K + y] = NAN;
            if (!c || tot[w] < min_count) continue;
            const double p0 = prior ? (double)nlab[y] / tr->n : 1.0 / K;
            if (p0 <= 0 || p0 >= 1) continue; // a label with every (or no) message: no correlation to measure
            const double z = ((double)c / tot[w] - p0) / sqrt(p0 * (1 - p0) / tot[w]);
            zof[(size_t)w * K + y] = z;
            pr[np++] = (ZPair){w, y, z};
            mean += z;
        }
    if (np < 2) {
        st = bl_fail(BL_ERR_DATA, "z-defense: fewer than two (word, label) pairs to compare");
        goto done;
    }
    mean /= np;
    for (int i = 0; i < np; i++) var += (pr[i].z - mean) * (pr[i].z - mean);
    const double sd = sqrt(var / np);
    long nflag = 0;
    for (int i = 0; i < tr->n; i++) {
        const int y = tr->labels[i];
        double best = 0;
        for (long t = tr->tok_offset[i]; t < tr->tok_offset[i + 1]; t++) {
            const int32_t w = tr->tokens[t];
            if (w < 0 || w >= W) continue;
            const double z = zof[(size_t)w * K + y];
            if (isnan(z)) continue;
            const double s = sd > 0 ? (two_sided ? fabs(z - mean) : z - mean) / sd : 0;
            if (s > best) best = s;
        }
        out->sample_score[i] = (float)best;
        out->sample_flag[i] = best > k;
        nflag += out->sample_flag[i];
    }
    qsort(pr, (size_t)np, sizeof *pr, cmp_zpair);
    int npos = 0, nneg = 0;
    for (int i = 0; i < np; i++) {
        const double s = sd > 0 ? (pr[i].z - mean) / sd : 0;
        npos += s > k, nneg += two_sided && -s > k;
    }
    if (sd == 0) defense_note(out, "every (word, label) pair has the same z: nothing stands out");
    if (!npos && !nneg) defense_note(out, "no (word, label) pair lies beyond %g std of the mean z: nothing removed", k);
    const int top = BL_MIN(top_want, np);
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddNumberToObject(ex, "pairs", np);
    cJSON_AddNumberToObject(ex, "z_mean", mean);
    cJSON_AddNumberToObject(ex, "z_std", sd);
    cJSON_AddNumberToObject(ex, "upper_bound", mean + k * sd);
    if (two_sided) cJSON_AddNumberToObject(ex, "lower_bound", mean - k * sd);
    cJSON_AddNumberToObject(ex, "flagged_pairs_above", npos);
    cJSON_AddNumberToObject(ex, "flagged_pairs_below", nneg);
    cJSON_AddNumberToObject(ex, "flagged_samples", (double)nflag);
    cJSON_AddStringToObject(ex, "p0", prior ? "label prior" : "1/K");
    cJSON *arr = cJSON_AddArrayToObject(ex, "top_words");
    for (int i = 0; i < top; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "word", lex_word(tr->lexicon, pr[i].word));
        cJSON_AddNumberToObject(o, "label", pr[i].label);
        if (tr->class_names) cJSON_AddStringToObject(o, "class", tr->class_names[pr[i].label]);
        cJSON_AddNumberToObject(o, "z", pr[i].z);
        cJSON_AddNumberToObject(o, "count_label", (double)cnt[(size_t)pr[i].word * K + pr[i].label]);
        cJSON_AddNumberToObject(o, "count", (double)tot[pr[i].word]);
        cJSON_AddItemToArray(arr, o);
    }
    out->extra_json = ex;
    if (ctx->out_dir) st = write_csv(ctx->out_dir, tr->lexicon, pr, top, cnt, tot, K, mean, sd, k, tr);
done:
    free(cnt);
    free(tot);
    free(nlab);
    free(pr);
    free(zof);
    return st;
}
