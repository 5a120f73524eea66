// evaluate.c: the evaluator. Runs a defence with a DefenseContext that holds no ground truth, then scores its
// output against poison.csv and the triggered test set. See evaluate.h for the metrics.
#include "defense/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/registry.h"
#include "core/rng.h"
#include "data/gather.h"
#include "defense/mitigate.h"
#include "eval/metrics.h"
#include "io/plot.h"
#include "io/results.h"

// ---------------------------------------------------------------------------------------------------------
// Metrics

typedef struct {
    float s;   // score (NaN mapped to -inf)
    uint8_t y; // positive?
} ScoredItem;

static int cmp_scored(const void *a, const void *b) {
    float x = ((const ScoredItem *)a)->s, y = ((const ScoredItem *)b)->s;
    return (x > y) - (x < y);
}

double eval_auroc(const float *score, const uint8_t *positive, int n) {
    long npos = 0, nneg = 0;
    for (int i = 0; i < n; i++) positive[i] ? npos++ : nneg++;
    if (npos == 0 || nneg == 0) return NAN;
    ScoredItem *it = malloc((size_t)n * sizeof *it);
    if (!it) return NAN;
    for (int i = 0; i < n; i++) {
        it[i].s = isnan(score[i]) ? -INFINITY : score[i];
        it[i].y = positive[i] != 0;
    }
    qsort(it, (size_t)n, sizeof *it, cmp_scored);
    // sum of the positives' ranks, tied groups sharing their mean rank (1-based)
    double rank_sum = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && it[j + 1].s == it[i].s) j++;
        double mid = 0.5 * ((i + 1) + (j + 1));
        for (int t = i; t <= j; t++)
            if (it[t].y) rank_sum += mid;
        i = j + 1;
    }
    free(it);
    return (rank_sum - 0.5 * (double)npos * (npos + 1)) / ((double)npos * nneg);
}

DetectionCounts eval_detection(const uint8_t *flag, const uint8_t *truth, int n) {
    DetectionCounts c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++) {
        if (truth[i]) flag[i] ? c.tp++ : c.fn++;
        else flag[i] ? c.fp++ : c.tn++;
    }
    Proportion tpr = proportion_make(c.tp, c.tp + c.fn), fpr = proportion_make(c.fp, c.fp + c.tn);
    c.tpr = tpr.p, c.tpr_lo = tpr.lo, c.tpr_hi = tpr.hi;
    c.fpr = fpr.p, c.fpr_lo = fpr.lo, c.fpr_hi = fpr.hi;
    c.precision = c.tp + c.fp ? (double)c.tp / (double)(c.tp + c.fp) : 0;
    c.f1 = c.precision + c.tpr > 0 ? 2 * c.precision * c.tpr / (c.precision + c.tpr) : 0;
    return c;
}

double eval_der(double ca_before, double ca_after, double asr_before, double asr_after) {
    return (fmax(0, asr_before - asr_after) - fmax(0, ca_before - ca_after) + 1) / 2;
}

Status eval_read_poison_csv(const char *path, const Dataset *train, uint8_t *is_poison, int *count) {
    *count = 0;
    memset(is_poison, 0, (size_t)train->n);
    FILE *f = fopen(path, "r");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: cannot open the poison manifest: %s", path, strerror(errno));
    int max_orig = -1;
    for (int i = 0; i < train->n; i++) max_orig = BL_MAX(max_orig, train->orig_index[i]);
    int *where = malloc((size_t)(max_orig + 2) * sizeof(int));
    if (!where) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    for (int i = 0; i <= max_orig; i++) where[i] = -1;
    for (int i = 0; i < train->n; i++) where[train->orig_index[i]] = i;
    char line[256];
    Status st = BL_OK;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "index,", 6) != 0) {
                st = bl_fail(BL_ERR_DATA, "%s:1: expected the header 'index,original_label,new_label'", path);
                break;
            }
            continue;
        }
        if (line[0] == '\n' || line[0] == 0) continue;
        char *end;
        errno = 0;
        long idx = strtol(line, &end, 10);
        if (end == line || *end != ',' || errno || idx < 0 || idx > max_orig || where[idx] < 0) {
            st = bl_fail(BL_ERR_DATA, "%s:%d: index '%.*s' is not a sample of this run's training set", path,
                         lineno, (int)strcspn(line, ",\n"), line);
            break;
        }
        is_poison[where[idx]] = 1;
        (*count)++;
    }
    free(where);
    fclose(f);
    return st;
}

int eval_mask_len(const Dataset *d) { return d->kind == DS_RECORDS ? d->c : d->h * d->w; }

int eval_trigger_mask(const Dataset *test, const Dataset *triggered, uint8_t *mask) {
    if (!test || !triggered || test->n != triggered->n || test->n < 1 || test->kind != triggered->kind ||
        test->c != triggered->c || test->h != triggered->h || test->w != triggered->w)
        return 0;
    const int L = eval_mask_len(test), sz = ds_sample_size(test);
    int *cnt = calloc((size_t)L, sizeof(int));
    if (!cnt) return 0;
    for (int i = 0; i < test->n; i++) {
        if (test->kind == DS_RECORDS) { // a feature is in the footprint when its value or its missing flag changed
            const size_t o = (size_t)i * sz;
            for (int j = 0; j < L; j++)
                cnt[j] += test->features[o + j] != triggered->features[o + j] ||
                          test->missing[o + j] != triggered->missing[o + j];
            continue;
        }
        const uint8_t *a = test->images + (size_t)i * sz, *b = triggered->images + (size_t)i * sz;
        for (int p = 0; p < L; p++) {
            int diff = 0;
            for (int ch = 0; ch < test->c; ch++) diff |= a[ch * L + p] != b[ch * L + p];
            cnt[p] += diff;
        }
    }
    int set = 0;
    for (int p = 0; p < L; p++) set += mask[p] = 2 * cnt[p] >= test->n;
    free(cnt);
    return set;
}

// ---------------------------------------------------------------------------------------------------------
// A growing text buffer for the CSV files.

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Text;

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(Text *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (t->s && t->len + (size_t)k < t->cap) {
            t->len += (size_t)k;
            return;
        }
        size_t cap = (t->cap + (size_t)k + 1) * 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->s = p, t->cap = cap;
    }
}

static Status text_write(Text *t, const char *dir, const char *file) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    Status st = t->oom ? bl_fail(BL_ERR_RUN, "%s: out of memory", path) : write_file_atomic(path, t->s ? t->s : "", t->len);
    free(t->s);
    memset(t, 0, sizeof *t);
    return st;
}

// ---------------------------------------------------------------------------------------------------------
// JSON helpers

// A number, or null when it is not finite (an undefined rate, an AUROC without positives).
static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void frr_key(double frr, char *buf, size_t n) { snprintf(buf, n, "%g", frr); }

// ---------------------------------------------------------------------------------------------------------
// The inputs an input-level detector screens: clean test images and triggered ones (for all2one, of classes
// other than the target: those are the attack's inputs), picked with a seeded stream, shuffled together, labels
// zeroed.

void eval_inputs_free(EvalInputs *s) {
    ds_free(&s->set);
    free(s->triggered);
    free(s->test_index);
    memset(s, 0, sizeof *s);
}

Status eval_make_inputs(const DefenseRunData *rd, EvalInputs *out) {
    memset(out, 0, sizeof *out);
    const Dataset *test = rd->test, *trig = rd->triggered_test;
    if (!test || !trig || test->n != trig->n)
        return bl_fail(BL_ERR_USAGE, "input-level evaluation needs the clean and the triggered test sets");
    int n = test->n, *cl = malloc((size_t)n * sizeof(int)), *tr = malloc((size_t)n * sizeof(int)), ntr = 0;
    if (!cl || !tr) {
        free(cl);
        free(tr);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        cl[i] = i;
        if (!(rd->attack && rd->attack->label_mode == LABEL_ALL2ONE && test->labels[i] == rd->attack->target))
            tr[ntr++] = i;
    }
    Rng r = rng_stream(rd->seed, "detect-inputs");
    rng_shuffle_int(&r, cl, n);
    rng_shuffle_int(&r, tr, ntr);
    int nc = rd->max_inputs > 0 ? BL_MIN(rd->max_inputs, n) : n;
    int nt = rd->max_inputs > 0 ? BL_MIN(rd->max_inputs, ntr) : ntr;
    int total = nc + nt, *order = malloc((size_t)total * sizeof(int)), *pick = malloc((size_t)(total + 1) * sizeof(int));
    out->triggered = malloc((size_t)total + 1);
    out->test_index = malloc((size_t)(total + 1) * sizeof(int));
    Status st = !order || !pick || !out->triggered || !out->test_index ? bl_fail(BL_ERR_RUN, "out of memory") : BL_OK;
    if (!st) {
        for (int i = 0; i < total; i++) order[i] = i;
        rng_shuffle_int(&r, order, total); // position says nothing about which inputs are triggered
        for (int k = 0; k < total; k++) {
            int is_trig = order[k] >= nc, ti = is_trig ? tr[order[k] - nc] : cl[order[k]];
            out->triggered[k] = (uint8_t)is_trig;
            out->test_index[k] = pick[k] = ti;
        }
        st = ds_gather(test, trig, out->triggered, pick, total, &out->set);
    }
    if (!st) {
        for (int k = 0; k < total; k++) {
            out->set.labels[k] = 0;     // the defender does not know the labels
            out->set.orig_index[k] = k; // nor where the input came from
        }
        out->n_clean = nc, out->n_trig = nt;
    }
    free(cl);
    free(tr);
    free(order);
    free(pick);
    if (st) eval_inputs_free(out);
    return st;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation of one DefenseResult. Each writes its keys into o and its rows into csv.

static void eval_samples(const DefenseResult *r, const Dataset *train, const uint8_t *is_poison, cJSON *o,
                         Text *csv) {
    const int n = train->n;
    const uint8_t *flag = r->sample_flag; // NULL: scores only (an external defence may return no flags)
    long nan_scores = 0, npois = 0;
    for (int i = 0; i < n; i++) nan_scores += isnan(r->sample_score[i]), npois += is_poison[i];
    if (flag) {
        DetectionCounts c = eval_detection(flag, is_poison, n);
        cJSON_AddNumberToObject(o, "tp", (double)c.tp);
        cJSON_AddNumberToObject(o, "fp", (double)c.fp);
        cJSON_AddNumberToObject(o, "tn", (double)c.tn);
        cJSON_AddNumberToObject(o, "fn", (double)c.fn);
        add_num(o, "tpr", npois ? c.tpr : NAN);
        add_num(o, "fpr", c.fp + c.tn ? c.fpr : NAN);
        add_num(o, "precision", c.tp + c.fp ? c.precision : NAN);
        add_num(o, "f1", npois ? c.f1 : NAN);
        cJSON_AddNumberToObject(o, "flagged", (double)(c.tp + c.fp));
        if (npois) {
            cJSON *ci = cJSON_AddArrayToObject(o, "tpr_wilson95");
            cJSON_AddItemToArray(ci, cJSON_CreateNumber(c.tpr_lo));
            cJSON_AddItemToArray(ci, cJSON_CreateNumber(c.tpr_hi));
        }
        if (c.fp + c.tn) {
            cJSON *ci = cJSON_AddArrayToObject(o, "fpr_wilson95");
            cJSON_AddItemToArray(ci, cJSON_CreateNumber(c.fpr_lo));
            cJSON_AddItemToArray(ci, cJSON_CreateNumber(c.fpr_hi));
        }
    } else {
        cJSON_AddNullToObject(o, "flagged");
    }
    add_num(o, "auroc", eval_auroc(r->sample_score, is_poison, n));
    cJSON_AddNumberToObject(o, "poisoned", (double)npois);
    cJSON_AddNumberToObject(o, "samples", n);
    if (nan_scores) cJSON_AddNumberToObject(o, "nan_scores", (double)nan_scores);
    // per label as the defender sees it (the poisoned label)
    int K = BL_MAX(1, BL_MIN(train->num_classes, 256));
    long cnt[256] = {0}, pois[256] = {0}, flg[256] = {0}, tp[256] = {0};
    for (int i = 0; i < n; i++) {
        int y = train->labels[i] < K ? train->labels[i] : K - 1, f = flag && flag[i];
        cnt[y]++, pois[y] += is_poison[i], flg[y] += f, tp[y] += is_poison[i] && f;
    }
    cJSON *pl = cJSON_AddArrayToObject(o, "per_label");
    float *ls = malloc((size_t)BL_MAX(n, 1) * sizeof(float));
    uint8_t *ly = malloc((size_t)BL_MAX(n, 1));
    for (int k = 0; k < K; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "label", k);
        cJSON_AddNumberToObject(e, "n", (double)cnt[k]);
        cJSON_AddNumberToObject(e, "poisoned", (double)pois[k]);
        if (flag) {
            cJSON_AddNumberToObject(e, "flagged", (double)flg[k]);
            cJSON_AddNumberToObject(e, "true_positives", (double)tp[k]);
        }
        if (ls && ly && pois[k] && pois[k] < cnt[k]) { // the ranking inside the label (what per-label rules use)
            int m = 0;
            for (int i = 0; i < n; i++)
                if (train->labels[i] == k) ls[m] = r->sample_score[i], ly[m++] = is_poison[i];
            add_num(e, "auroc", eval_auroc(ls, ly, m));
        }
        cJSON_AddItemToArray(pl, e);
    }
    free(ls);
    free(ly);
    text_printf(csv, "position,orig_index,label,score,flag,poisoned\n");
    for (int i = 0; i < n; i++) {
        text_printf(csv, "%d,%d,%d,%.9g,", i, train->orig_index[i], train->labels[i], r->sample_score[i]);
        if (flag) text_printf(csv, "%d", flag[i] != 0);
        text_printf(csv, ",%d\n", is_poison[i]);
    }
}

static void eval_inputs(const DefenseResult *r, const EvalInputs *in, cJSON *o, Text *csv) {
    const int n = in->set.n;
    cJSON_AddNumberToObject(o, "clean_inputs", in->n_clean);
    cJSON_AddNumberToObject(o, "triggered_inputs", in->n_trig);
    add_num(o, "auroc", eval_auroc(r->input_score, in->triggered, n));
    cJSON *far = cJSON_AddObjectToObject(o, "far_at_frr"), *frr = cJSON_AddObjectToObject(o, "frr_actual");
    cJSON *thr = cJSON_AddObjectToObject(o, "thresholds");
    cJSON *tpr = cJSON_AddObjectToObject(o, "tpr_at_frr");
    for (int f = 0; f < DEFENSE_NFRR; f++) {
        long acc_trig = 0, rej_clean = 0;
        for (int i = 0; i < n; i++) {
            int flagged = r->input_score[i] > r->thresholds[f]; // NaN scores are never flagged
            if (in->triggered[i]) acc_trig += !flagged;
            else rej_clean += flagged;
        }
        char key[32];
        frr_key(defense_frr_targets[f], key, sizeof key);
        if (isnan(r->thresholds[f])) { // no calibration returned (external defences): no operating point
            cJSON_AddNullToObject(far, key), cJSON_AddNullToObject(tpr, key), cJSON_AddNullToObject(frr, key);
            cJSON_AddNullToObject(thr, key);
            continue;
        }
        add_num(far, key, in->n_trig ? (double)acc_trig / in->n_trig : NAN);
        add_num(tpr, key, in->n_trig ? 1 - (double)acc_trig / in->n_trig : NAN);
        add_num(frr, key, in->n_clean ? (double)rej_clean / in->n_clean : NAN);
        add_num(thr, key, r->thresholds[f]);
    }
    text_printf(csv, "input,test_index,triggered,score");
    for (int f = 0; f < DEFENSE_NFRR; f++) text_printf(csv, ",flag_frr_%g", defense_frr_targets[f]);
    text_printf(csv, "\n");
    for (int i = 0; i < n; i++) {
        text_printf(csv, "%d,%d,%d,%.9g", i, in->test_index[i], in->triggered[i], r->input_score[i]);
        for (int f = 0; f < DEFENSE_NFRR; f++) text_printf(csv, ",%d", r->input_score[i] > r->thresholds[f]);
        text_printf(csv, "\n");
    }
}

static void eval_model_level(const DefenseResult *r, const DefenseRunData *rd, cJSON *o, Text *csv) {
    const int K = r->num_labels;
    cJSON *fl = cJSON_AddArrayToObject(o, "flagged_labels");
    for (int i = 0; i < r->nflagged && i < 256; i++) cJSON_AddItemToArray(fl, cJSON_CreateNumber(r->flagged[i]));
    cJSON *ai = cJSON_AddArrayToObject(o, "anomaly_index"), *ls = cJSON_AddArrayToObject(o, "label_stat");
    double max_ai = -INFINITY;
    for (int k = 0; k < K; k++) {
        double a = r->anomaly_index ? r->anomaly_index[k] : NAN, s = r->label_stat ? r->label_stat[k] : NAN;
        cJSON_AddItemToArray(ai, isfinite(a) ? cJSON_CreateNumber(a) : cJSON_CreateNull());
        cJSON_AddItemToArray(ls, isfinite(s) ? cJSON_CreateNumber(s) : cJSON_CreateNull());
        if (isfinite(a)) max_ai = fmax(max_ai, a);
    }
    add_num(o, "max_anomaly_index", max_ai);
    const AttackSpec *a = rd->attack;
    if (a && a->enabled && a->label_mode == LABEL_ALL2ONE) {
        int t = a->target, found = 0;
        for (int i = 0; i < r->nflagged && i < 256; i++) found |= r->flagged[i] == t;
        cJSON_AddNumberToObject(o, "target", t);
        // on the clean model there is no backdoor to find: "found" there is a false alarm on the target label
        cJSON_AddBoolToObject(o, "target_found", found);
        if (r->reversed_mask && t < K && rd->test) {
            int hw = eval_mask_len(rd->test); // pixels, or features for records
            uint8_t *tm = malloc((size_t)hw);
            if (tm && eval_trigger_mask(rd->test, rd->triggered_test, tm) > 0) {
                const float *m = r->reversed_mask + (size_t)t * hw;
                long inter = 0, uni = 0;
                double smin = 0, smax = 0;
                for (int p = 0; p < hw; p++) {
                    int b = m[p] >= 0.5f;
                    inter += b && tm[p], uni += b || tm[p];
                    smin += fmin(m[p], tm[p]), smax += fmax(m[p], tm[p]);
                }
                add_num(o, "trigger_jaccard", uni ? (double)inter / uni : 0);
                add_num(o, "trigger_soft_jaccard", smax > 0 ? smin / smax : 0);
            }
            free(tm);
        }
    } else {
        cJSON_AddNullToObject(o, "target_found"); // all2all has no single target label
    }
    text_printf(csv, "label,stat,anomaly_index,flagged\n");
    for (int k = 0; k < K; k++) {
        int f = 0;
        for (int i = 0; i < r->nflagged && i < 256; i++) f |= r->flagged[i] == k;
        text_printf(csv, "%d,%.9g,%.9g,%d\n", k, r->label_stat ? r->label_stat[k] : NAN,
                    r->anomaly_index ? r->anomaly_index[k] : NAN, f);
    }
}

// CA / ASR / RA of a model on the test set and its triggered copy.
static Status model_metrics(Model *m, const DefenseRunData *rd, Metrics *mt) {
    const Dataset *test = rd->test;
    int attack = rd->attack && rd->attack->enabled && rd->triggered_test;
    uint8_t *pred = malloc((size_t)test->n), *tpred = attack ? malloc((size_t)test->n) : NULL;
    if (!pred || (attack && !tpred)) {
        free(pred);
        free(tpred);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    predict(m, test, pred, NULL);
    if (attack) predict(m, rd->triggered_test, tpred, NULL);
    Status st = metrics_compute(test->labels, pred, tpred, test->n, test->num_classes, attack ? rd->attack : NULL, mt);
    free(pred);
    free(tpred);
    return st;
}

static void eval_mitigation(const DefenseResult *r, const DefenseRunData *rd, const Metrics *before, cJSON *o,
                            Text *csv) {
    cJSON_AddNumberToObject(o, "ca_before", before->ca.p);
    add_num(o, "asr_before", before->has_attack ? before->asr.p : NAN);
    add_num(o, "ra_before", before->has_attack ? before->ra.p : NAN);
    text_printf(csv, "stage,ca,asr,ra\nbefore,%.6f,%.6f,%.6f\n", before->ca.p, before->asr.p, before->ra.p);
    if (!r->repaired) {
        cJSON_AddNullToObject(o, "ca_after");
        cJSON_AddNullToObject(o, "asr_after");
        cJSON_AddNullToObject(o, "ra_after");
        cJSON_AddNullToObject(o, "der");
        return;
    }
    Metrics after;
    if (model_metrics(r->repaired, rd, &after)) {
        cJSON_AddStringToObject(o, "error", bl_errmsg());
        return;
    }
    cJSON_AddNumberToObject(o, "ca_after", after.ca.p);
    add_num(o, "asr_after", after.has_attack ? after.asr.p : NAN);
    add_num(o, "ra_after", after.has_attack ? after.ra.p : NAN);
    add_num(o, "der", after.has_attack ? eval_der(before->ca.p, after.ca.p, before->asr.p, after.asr.p) : NAN);
    cJSON *iv = cJSON_AddObjectToObject(o, "ca_after_wilson95");
    cJSON_AddNumberToObject(iv, "lo", after.ca.lo);
    cJSON_AddNumberToObject(iv, "hi", after.ca.hi);
    if (after.has_attack) {
        iv = cJSON_AddObjectToObject(o, "asr_after_wilson95");
        cJSON_AddNumberToObject(iv, "lo", after.asr.lo);
        cJSON_AddNumberToObject(iv, "hi", after.asr.hi);
    }
    text_printf(csv, "after,%.6f,%.6f,%.6f\n", after.ca.p, after.asr.p, after.ra.p);
    metrics_free(&after);
}

// ---------------------------------------------------------------------------------------------------------
// One side (backdoored or clean model): run the defence, evaluate, write its CSV.

typedef struct {
    const DefenseOps *ops;
    const DefenseParams *params;
    const DefenseRunData *rd;
    const EvalInputs *inputs; // DEF_INPUTS only
    const char *out_dir;
} Side;

// What one side's result leaves behind for the evaluation plots, drawn once both sides have run.
typedef struct {
    float *input_score;         // (inputs n) DEF_INPUTS: the defence's scores; NULL otherwise
    double thresholds[8];       // DEF_INPUTS: its thresholds, one per defense_frr_targets
    double *label_stat;         // (K) DEF_MODEL: per-label statistic; NULL otherwise
    double *anomaly_index;      // (K) DEF_MODEL: per-label anomaly index; NULL otherwise
    int K;                      // DEF_MODEL: number of labels
} SideKeep;

static void side_keep_free(SideKeep *k) {
    free(k->input_score);
    free(k->label_stat);
    free(k->anomaly_index);
    memset(k, 0, sizeof *k);
}

static Status run_side(const Side *sd, Model *m, const Dataset *train, const uint8_t *is_poison, int backdoored,
                       const char *own_dir, const char *csv_name, cJSON *o, SideKeep *keep) {
    const DefenseRunData *rd = sd->rd;
    Metrics before;
    int have_before = 0, any = sd->ops->level == DEF_ANY;
    Status st = BL_OK;
    if (sd->ops->level == DEF_MITIGATION || any) { // measured before the defence touches anything
        if ((st = model_metrics(m, rd, &before))) return st;
        have_before = 1;
    }
    // The defence gets a model it may run but must not change: keep a copy of the weights to check.
    float *saved = malloc(m->nparams * sizeof(float));
    if (!saved) {
        if (have_before) metrics_free(&before);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    memcpy(saved, m->params, m->nparams * sizeof(float));
    DefenseContext ctx = {.model = m, .train = train, .clean = rd->defender,
                          .inputs = sd->ops->level == DEF_INPUTS || any ? &sd->inputs->set : NULL,
                          .train_opts = rd->train_opts, .model_desc = rd->model_desc, .seed = rd->seed,
                          .params = sd->params, .out_dir = own_dir, .progress = rd->progress};
    DefenseResult res;
    memset(&res, 0, sizeof res);
    double t0 = bl_now();
    st = sd->ops->run(&ctx, &res);
    double secs = bl_now() - t0;
    if (memcmp(saved, m->params, m->nparams * sizeof(float))) {
        memcpy(m->params, saved, m->nparams * sizeof(float));
        defense_note(&res, "the defence changed the weights of the model it was given (restored; a mitigation "
                           "must repair a copy)");
    }
    free(saved);
    if (st) {
        bl_fail_ctx(st, "defence '%s' on the %s model", sd->ops->name, backdoored ? "backdoored" : "clean");
        goto done;
    }
    // check the result has what its level promises before reading it
    const char *missing = NULL;
    if (sd->ops->level == DEF_SAMPLES && (!res.sample_score || !res.sample_flag)) missing = "sample scores and flags";
    if (sd->ops->level == DEF_INPUTS && !res.input_score) missing = "input scores";
    if (sd->ops->level == DEF_MODEL &&
        (res.num_labels < 1 || res.num_labels > 256 || res.nflagged < 0 || res.nflagged > 256))
        missing = "per-label statistics";
    if (any && !res.sample_score && !res.input_score && !res.num_labels && !res.repaired && !res.has_model_score)
        missing = "result of any kind";
    if (missing) {
        st = bl_fail(BL_ERR_RUN, "defence '%s' returned no %s (a bug in the defence)", sd->ops->name, missing);
        goto done;
    }
    cJSON_AddNumberToObject(o, "seconds", secs);
    Text csv = {0}, icsv = {0}, mcsv = {0};
    int mitigation = sd->ops->level == DEF_MITIGATION || (any && res.repaired);
    if (any) { // say what came back, so a reader (and the table) knows which figures to look for
        cJSON *ret = cJSON_AddArrayToObject(o, "returned");
        if (res.sample_score) cJSON_AddItemToArray(ret, cJSON_CreateString("samples"));
        if (res.input_score) cJSON_AddItemToArray(ret, cJSON_CreateString("inputs"));
        if (res.num_labels) cJSON_AddItemToArray(ret, cJSON_CreateString("model"));
        if (res.has_model_score) cJSON_AddItemToArray(ret, cJSON_CreateString("score"));
        if (res.repaired) cJSON_AddItemToArray(ret, cJSON_CreateString("mitigation"));
        if (res.has_model_score) cJSON_AddNumberToObject(o, "model_score", res.model_score);
    }
    if (res.sample_score && (res.sample_flag || any)) eval_samples(&res, train, is_poison, o, &csv);
    if (sd->ops->level == DEF_INPUTS || (any && res.input_score)) eval_inputs(&res, sd->inputs, o, any ? &icsv : &csv);
    if (sd->ops->level == DEF_MODEL || (any && res.num_labels)) eval_model_level(&res, rd, o, any ? &mcsv : &csv);
    if (any) { // one CSV per kind of result: scores.csv (samples), inputs.csv, labels.csv
        char name[64];
        snprintf(name, sizeof name, "inputs%s.csv", backdoored ? "" : "-clean");
        if (!st && (icsv.len || icsv.oom)) st = text_write(&icsv, sd->out_dir, name);
        snprintf(name, sizeof name, "labels%s.csv", backdoored ? "" : "-clean");
        if (!st && (mcsv.len || mcsv.oom)) st = text_write(&mcsv, sd->out_dir, name);
        free(icsv.s);
        free(mcsv.s);
        if (st) {
            free(csv.s);
            goto done;
        }
    }
    if (mitigation) { // its own small table; scores.csv holds sample flags if any
        Text ba = {0};
        eval_mitigation(&res, rd, &before, o, &ba);
        char name[64];
        snprintf(name, sizeof name, "before-after%s.csv", backdoored ? "" : "-clean");
        if ((st = text_write(&ba, sd->out_dir, name))) {
            free(csv.s);
            goto done;
        }
    }
    cJSON_AddStringToObject(o, "notes", res.notes);
    if (res.extra_json) {
        cJSON_AddItemToObject(o, "extra", (cJSON *)res.extra_json);
        res.extra_json = NULL;
    }
    st = csv.len || csv.oom ? text_write(&csv, sd->out_dir, csv_name) : BL_OK;
    free(csv.s);
    if (!st && keep) { // hand the plot data over instead of freeing it
        memcpy(keep->thresholds, res.thresholds, sizeof keep->thresholds);
        keep->input_score = res.input_score, res.input_score = NULL;
        keep->label_stat = res.label_stat, res.label_stat = NULL;
        keep->anomaly_index = res.anomaly_index, res.anomaly_index = NULL;
        keep->K = res.num_labels;
    }
done:
    if (have_before) metrics_free(&before);
    defense_result_free(&res);
    return st;
}

// "badnets square 3x3 at bottom-right -> class 0 (all2one), 5130 poisoned"
static const char *attack_desc(const AttackSpec *a, int npois, char *buf, size_t n) {
    if (!a || !a->enabled) {
        snprintf(buf, n, "none");
        return buf;
    }
    char what[224];
    attack_describe(a, what, sizeof what);
    snprintf(buf, n, "%s, %d poisoned", what, npois);
    return buf;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation plots. They need the ground truth (which inputs carry the trigger, which label is the target), so
// they are drawn here and not by the defences. Data and gnuplot scripts are written atomically; the PNGs need
// gnuplot, and anything that goes wrong only adds to `note`.

static void note_append(char *note, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_append(char *note, size_t n, const char *fmt, ...) {
    size_t len = strlen(note);
    if (len + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + len, n - len, fmt, ap);
    va_end(ap);
}

// Draw a script whose data file is already written; failures become notes.
static void plot_draw(const char *dir, const char *gp_name, const Text *gp, const char *png, char *note, size_t n) {
    char pnote[320];
    if (gp->oom) {
        note_append(note, n, "%s skipped: out of memory. ", png);
        return;
    }
    if (plot_script(dir, gp_name, gp->s ? gp->s : "", gp->len, png, pnote, sizeof pnote))
        note_append(note, n, "%s skipped: %s. ", png, bl_errmsg());
    else
        note_append(note, n, "%s", pnote);
}

// Input-level detectors: histograms of the detector's statistic for the clean and the triggered inputs, on the
// backdoored model and (cl != NULL) on the clean model, with the boundary the defender chose for FRR 1% as a
// vertical line. STRIP's statistic is the mean entropy (its score is -H): <dir>/entropy_hist.{csv,gp,png};
// other input-level detectors plot their score: <dir>/score_hist.{csv,gp,png}.
static void plot_input_hist(const char *dir, const DefenseOps *ops, const EvalInputs *in, const SideKeep *bd,
                            const SideKeep *cl, char *note, size_t note_n) {
    enum { NB = 40 };
    const int strip = !strcmp(ops->name, "strip"), n = in->set.n, nsides = cl ? 2 : 1;
    const double sign = strip ? -1 : 1;
    const char *base = strip ? "entropy_hist" : "score_hist";
    const SideKeep *side[2] = {bd, cl};
    int f1 = -1; // the FRR 1% boundary
    for (int f = 0; f < DEFENSE_NFRR; f++)
        if (fabs(defense_frr_targets[f] - 0.01) < 1e-12) f1 = f;
    double lo = INFINITY, hi = -INFINITY, thr[2] = {NAN, NAN};
    for (int s = 0; s < nsides; s++) {
        for (int i = 0; i < n; i++) {
            double v = sign * side[s]->input_score[i];
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
        if (f1 >= 0) thr[s] = sign * side[s]->thresholds[f1];
    }
    if (!isfinite(lo)) {
        note_append(note, note_n, "%s.png skipped: no finite scores. ", base);
        return;
    }
    for (int s = 0; s < nsides; s++) // keep the boundary inside the plotted range
        if (isfinite(thr[s])) lo = fmin(lo, thr[s]), hi = fmax(hi, thr[s]);
    if (hi <= lo) hi = lo + 1;
    const double w = (hi - lo) / NB;
    long cnt[2][2][NB], tot[2][2];
    memset(cnt, 0, sizeof cnt);
    memset(tot, 0, sizeof tot);
    for (int s = 0; s < nsides; s++)
        for (int i = 0; i < n; i++) {
            double v = sign * side[s]->input_score[i];
            if (!isfinite(v)) continue;
            int b = (int)((v - lo) / w), t = in->triggered[i] != 0;
            b = b < 0 ? 0 : b >= NB ? NB - 1 : b;
            cnt[s][t][b]++, tot[s][t]++;
        }
    Text csv = {0}, gp = {0};
    text_printf(&csv, "bin_low,bin_high,bin_mid,backdoored_clean,backdoored_triggered%s\n",
                cl ? ",clean_model_clean,clean_model_triggered" : "");
    for (int b = 0; b < NB; b++) {
        text_printf(&csv, "%.6g,%.6g,%.6g", lo + b * w, lo + (b + 1) * w, lo + (b + 0.5) * w);
        for (int s = 0; s < nsides; s++)
            for (int t = 0; t < 2; t++) text_printf(&csv, ",%.6g", tot[s][t] ? (double)cnt[s][t][b] / tot[s][t] : 0.0);
        text_printf(&csv, "\n");
    }
    char name[64];
    snprintf(name, sizeof name, "%s.csv", base);
    if (text_write(&csv, dir, name)) {
        note_append(note, note_n, "%s not written: %s. ", name, bl_errmsg());
        return;
    }
    text_printf(&gp, "# %s: drawn by backdoorlab (defense/evaluate.c); run `gnuplot %s.gp` here to redraw.\n", base,
                base);
    text_printf(&gp, "set terminal png truecolor size %d,460\nset output '%s.png'\nset datafile separator ','\n",
                cl ? 1200 : 650, base);
    text_printf(&gp, "set style fill transparent solid 0.5 noborder\nset boxwidth %.9g absolute\nset grid\n"
                     "set key below horizontal\nset xrange [%.9g:%.9g]\nset yrange [0:*]\n", w, lo, hi);
    text_printf(&gp, "set xlabel '%s'\nset ylabel 'fraction of the inputs in each group'\n",
                strip ? "mean prediction entropy over the overlays (bits)"
                      : "detector score (higher = more suspicious)");
    if (cl)
        text_printf(&gp, "set multiplot layout 1,2 title '%s on %d clean and %d triggered test inputs'\n",
                    ops->name, in->n_clean, in->n_trig);
    for (int s = 0; s < nsides; s++) {
        text_printf(&gp, "set title '%s'\nunset arrow\n", s ? "clean model (control)" : "backdoored model");
        if (isfinite(thr[s]))
            text_printf(&gp, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dashtype 2 linewidth 2 "
                             "linecolor rgb 'black'\n", thr[s], thr[s]);
        text_printf(&gp, "plot '%s.csv' using 3:%d with boxes linecolor rgb '#1f77b4' title 'clean inputs', "
                         "'' using 3:%d with boxes linecolor rgb '#d62728' title 'triggered inputs'",
                    base, 4 + 2 * s, 5 + 2 * s);
        if (isfinite(thr[s]))
            text_printf(&gp, ", NaN with lines dashtype 2 linewidth 2 linecolor rgb 'black' title "
                             "'boundary at FRR 1%% (%.3g)'", thr[s]);
        text_printf(&gp, "\n");
    }
    if (cl) text_printf(&gp, "unset multiplot\n");
    char gpname[64], png[64];
    snprintf(gpname, sizeof gpname, "%s.gp", base);
    snprintf(png, sizeof png, "%s.png", base);
    plot_draw(dir, gpname, &gp, png, note, note_n);
    free(gp.s);
}

// Model-level detectors: the per-label statistic (Neural Cleanse: L1 norm of the reversed mask) as bars, the
// backdoored model and the clean model side by side, the attack's true target highlighted, the anomaly index
// above each bar and, for Neural Cleanse, the flag line median - threshold * MAD of each model.
// Writes <dir>/norms.{csv,gp,png}.
static void plot_label_stats(const char *dir, const DefenseOps *ops, const DefenseParams *params,
                             const DefenseRunData *rd, const SideKeep *bd, const SideKeep *cl, char *note,
                             size_t note_n) {
    const int K = bd->K, nc = !strcmp(ops->name, "neural-cleanse");
    if (K < 1 || K > 256) return;
    if (cl && cl->K != K) cl = NULL;
    const AttackSpec *a = rd->attack;
    const int target = a && a->enabled && a->label_mode == LABEL_ALL2ONE && a->target < K ? a->target : -1;
    const double thr = nc ? defense_param(ops, params, "threshold") : NAN;
    double line[2] = {NAN, NAN}, tmp[256];
    const SideKeep *side[2] = {bd, cl};
    for (int s = 0; s < 2 && isfinite(thr); s++) {
        double med = 0, mad = side[s] ? nc_anomaly_index(side[s]->label_stat, K, tmp, &med) : 0;
        if (mad > 0) line[s] = med - thr * mad;
    }
    Text csv = {0}, gp = {0};
    text_printf(&csv, "label,backdoored,clean,backdoored_anomaly_index,clean_anomaly_index,is_target\n");
    for (int k = 0; k < K; k++)
        text_printf(&csv, "%d,%.9g,%.9g,%.6g,%.6g,%d\n", k, bd->label_stat[k], cl ? cl->label_stat[k] : NAN,
                    bd->anomaly_index ? bd->anomaly_index[k] : NAN,
                    cl && cl->anomaly_index ? cl->anomaly_index[k] : NAN, k == target);
    if (text_write(&csv, dir, "norms.csv")) {
        note_append(note, note_n, "norms.csv not written: %s. ", bl_errmsg());
        return;
    }
    text_printf(&gp, "# norms: drawn by backdoorlab (defense/evaluate.c); run `gnuplot norms.gp` here to redraw.\n");
    text_printf(&gp, "set terminal png truecolor size 950,520\nset output 'norms.png'\nset datafile separator ','\n");
    text_printf(&gp, "set style fill solid 0.85 border rgb 'black'\nset boxwidth 0.38\nset grid ytics\n"
                     "set key below horizontal\nset xtics 1\nset xrange [-0.7:%g]\nset yrange [0:*]\n"
                     "set offsets 0,0,graph 0.08,0\n",
                K - 0.3);
    text_printf(&gp, "set xlabel 'label'\nset ylabel '%s'\n",
                nc ? "L1 norm of the reversed trigger mask (pixels)" : "per-label statistic");
    text_printf(&gp, "set title '%s per label (number above a bar: anomaly index)'\n", ops->name);
    for (int s = 0; s < 2; s++)
        if (isfinite(line[s]))
            text_printf(&gp, "set arrow from graph 0, first %.9g to graph 1, first %.9g nohead dashtype 2 "
                             "linewidth 2 linecolor rgb '%s'\n", line[s], line[s], s ? "#555555" : "#1f77b4");
    text_printf(&gp, "plot 'norms.csv' using ($1-0.2):($6==0?$2:NaN) with boxes linecolor rgb '#1f77b4' title "
                     "'backdoored model'");
    if (target >= 0)
        text_printf(&gp, ", '' using ($1-0.2):($6==1?$2:NaN) with boxes linecolor rgb '#d62728' title "
                         "'backdoored model, true target (label %d)'", target);
    if (cl)
        text_printf(&gp, ", '' using ($1+0.2):3 with boxes linecolor rgb '#aaaaaa' title 'clean model (control)'");
    if (bd->anomaly_index)
        text_printf(&gp, ", '' using ($1-0.2):2:(sprintf('%%.1f',abs($4)<0.05?0:$4)) with labels offset 0,0.8 "
                         "font ',8' notitle");
    if (cl && cl->anomaly_index)
        text_printf(&gp, ", '' using ($1+0.2):3:(sprintf('%%.1f',abs($5)<0.05?0:$5)) with labels offset 0,0.8 "
                         "font ',8' notitle");
    for (int s = 0; s < 2; s++)
        if (isfinite(line[s]))
            text_printf(&gp, ", NaN with lines dashtype 2 linewidth 2 linecolor rgb '%s' title '%s: flag line "
                             "(median - %g MAD)'", s ? "#555555" : "#1f77b4", s ? "clean" : "backdoored", thr);
    text_printf(&gp, "\n");
    plot_draw(dir, "norms.gp", &gp, "norms.png", note, note_n);
    free(gp.s);
}

// Pruning mitigations: the prune curve with the test-set CA and ASR the defence could not measure.
//
// fine-prune (any mitigation publishing the keys listed in mitigate.h) ranks the channels of one conv layer and
// records the whole ranking, its stopping point and its defender-split CA per step in its extra JSON. The
// defence never sees a triggered image, so the ASR half of the curve is computed here: the ranking is replayed on
// a copy of the ORIGINAL model (neither pruned nor fine-tuned), zeroing channels with the mitigation's own
// fp_zero_channel, and after each channel CA is measured on the first PRUNE_CURVE_SAMPLES test images and ASR on
// their triggered copies (metrics_compute's rule: for all2one, non-target images only). A fixed subset keeps 33
// steps x 2 sets cheap; with a test set no larger than the subset, row 0 equals ca_before / asr_before exactly.
// Writes <dir>/<base>.{csv,gp,png} and adds "prune_curve" to the side's summary object.

#define PRUNE_CURVE_SAMPLES 2000

// What a pruning mitigation published, checked against the model it pruned.
typedef struct {
    int conv;                  // index of the pruned conv layer
    int U;                     // its output channels
    int stop;                  // channels pruned in the repaired model
    int *order;                // (U) pruning order, a permutation of 0..U-1
    double *mean;              // (U) ranking statistic per channel (NaN when not published)
    double *defender_ca;       // (U + 1) defender-split CA with 0..U pruned (NaN when not published)
} PruneInfo;

static void prune_info_free(PruneInfo *p) {
    free(p->order);
    free(p->mean);
    free(p->defender_ca);
    memset(p, 0, sizeof *p);
}

// A number from a JSON array, NaN when absent or not a number.
static double json_num_at(const cJSON *arr, int i) {
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Read side object o's "extra" into *p. Returns 0 when o holds no prune ranking (not a pruning mitigation), 1
// when *p is filled, -1 when the ranking is malformed (why goes to note).
static int prune_info_read(const cJSON *o, const Model *m, PruneInfo *p, char *note, size_t note_n) {
    memset(p, 0, sizeof *p);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "extra");
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(ex, "prune_order");
    if (!cJSON_IsArray(ord)) return 0;
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(ex, "conv_layer");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(ex, "pruned");
    const int U = cJSON_GetArraySize(ord);
    const char *bad = NULL;
    if (!cJSON_IsNumber(cv) || !cJSON_IsNumber(st)) bad = "conv_layer or pruned missing";
    else if (cv->valueint < 0 || cv->valueint >= m->nlayers || fp_units(m, cv->valueint) < 1)
        bad = "conv_layer is not a layer fine-pruning prunes";
    else if (U < 1 || U != fp_units(m, cv->valueint)) bad = "prune_order does not list every channel";
    else if (st->valueint < 0 || st->valueint > U) bad = "pruned is out of range";
    if (bad) {
        note_append(note, note_n, "prune curve skipped: the mitigation's ranking is malformed (%s). ", bad);
        return -1;
    }
    p->conv = cv->valueint, p->U = U, p->stop = st->valueint;
    p->order = malloc((size_t)U * sizeof(int));
    p->mean = malloc((size_t)U * sizeof(double));
    p->defender_ca = malloc((size_t)(U + 1) * sizeof(double));
    uint8_t *seen = calloc((size_t)U, 1);
    if (!p->order || !p->mean || !p->defender_ca || !seen) bad = "out of memory";
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(ex, "mean_activation");
    const cJSON *dca = cJSON_GetObjectItemCaseSensitive(ex, "defender_ca_curve");
    for (int i = 0; !bad && i < U; i++) {
        const cJSON *v = cJSON_GetArrayItem(ord, i);
        int ch = cJSON_IsNumber(v) ? v->valueint : -1;
        if (ch < 0 || ch >= U || seen[ch]) bad = "prune_order is not a permutation of the channels";
        else seen[ch] = 1, p->order[i] = ch, p->mean[ch] = json_num_at(mean, ch);
    }
    for (int k = 0; !bad && k <= U; k++) p->defender_ca[k] = json_num_at(dca, k);
    free(seen);
    if (bad) {
        note_append(note, note_n, "prune curve skipped: %s. ", bad);
        prune_info_free(p);
        return -1;
    }
    return 1;
}

// Replay p's ranking on a copy of `orig`: ca[k] / asr[k] (k = 0..U) with the first k channels pruned, on the
// first *n_ca test images; *n_asr receives the number of triggered images ASR counts (0 without an attack: then
// asr is NaN).
static Status prune_replay(const Model *orig, const PruneInfo *p, const DefenseRunData *rd, double *ca,
                           double *asr, int *n_ca, int *n_asr) {
    const int attack = rd->attack && rd->attack->enabled && rd->triggered_test && rd->triggered_test->n == rd->test->n;
    Dataset tv = *rd->test, trv = attack ? *rd->triggered_test : tv; // views of the first n samples (not owned)
    tv.n = trv.n = BL_MIN(rd->test->n, PRUNE_CURVE_SAMPLES);
    *n_ca = tv.n, *n_asr = 0;
    Model *m = NULL;
    Status st = mit_clone(orig, orig->max_batch, &m); // same batch size, so row 0 repeats ca_before's predictions
    if (st) return bl_fail_ctx(st, "prune curve");
    uint8_t *pred = malloc((size_t)BL_MAX(tv.n, 1)), *tpred = malloc((size_t)BL_MAX(tv.n, 1));
    if (!pred || !tpred) st = bl_fail(BL_ERR_RUN, "prune curve: out of memory");
    for (int k = 0; !st && k <= p->U; k++) {
        if (k > 0) fp_zero_channel(m, p->conv, p->order[k - 1]);
        predict(m, &tv, pred, NULL);
        if (attack) predict(m, &trv, tpred, NULL);
        Metrics mt;
        if ((st = metrics_compute(tv.labels, pred, attack ? tpred : NULL, tv.n, tv.num_classes,
                                  attack ? rd->attack : NULL, &mt)))
            break;
        ca[k] = mt.ca.p;
        asr[k] = mt.has_attack ? mt.asr.p : NAN;
        if (mt.has_attack) *n_asr = (int)mt.asr.n;
        metrics_free(&mt);
    }
    free(pred);
    free(tpred);
    mit_destroy(m);
    return st;
}

// "%.6f", or an empty CSV field for NaN.
static void csv_num(Text *t, double v) {
    if (isfinite(v)) text_printf(t, ",%.6f", v);
    else text_printf(t, ",");
}

// The prune curve of one side (o: its summary object; orig: the model the mitigation was given).
static void plot_prune_curve(const char *dir, const char *base, const char *who, Model *orig, const DefenseRunData *rd,
                             cJSON *o, char *note, size_t note_n) {
    PruneInfo p;
    if (prune_info_read(o, orig, &p, note, note_n) != 1) return;
    const int U = p.U;
    double *ca = malloc((size_t)(U + 1) * sizeof(double)), *asr = malloc((size_t)(U + 1) * sizeof(double));
    int n_ca = 0, n_asr = 0;
    double t0 = bl_now();
    if (!ca || !asr) {
        note_append(note, note_n, "%s skipped: out of memory. ", base);
        goto done;
    }
    if (prune_replay(orig, &p, rd, ca, asr, &n_ca, &n_asr)) {
        note_append(note, note_n, "%s skipped: %s. ", base, bl_errmsg());
        goto done;
    }
    const double secs = bl_now() - t0;
    const cJSON *jca = cJSON_GetObjectItemCaseSensitive(o, "ca_after"),
                *jasr = cJSON_GetObjectItemCaseSensitive(o, "asr_after");
    const double ca_after = cJSON_IsNumber(jca) ? jca->valuedouble : NAN,
                 asr_after = cJSON_IsNumber(jasr) ? jasr->valuedouble : NAN;
    const int has_asr = n_asr > 0;

    // summary.json: the replayed curve, beside the mitigation's own "extra"
    char csvname[96], gpname[96], png[96];
    snprintf(csvname, sizeof csvname, "%s.csv", base);
    snprintf(gpname, sizeof gpname, "%s.gp", base);
    snprintf(png, sizeof png, "%s.png", base);
    cJSON *pc = cJSON_AddObjectToObject(o, "prune_curve");
    if (pc) {
        cJSON_AddStringToObject(pc, "file", csvname);
        cJSON_AddNumberToObject(pc, "conv_layer", p.conv);
        cJSON_AddNumberToObject(pc, "channels", U);
        cJSON_AddNumberToObject(pc, "stop", p.stop);
        cJSON_AddNumberToObject(pc, "test_samples", n_ca);
        cJSON_AddNumberToObject(pc, "asr_samples", n_asr);
        cJSON_AddItemToObject(pc, "test_ca", cJSON_CreateDoubleArray(ca, U + 1));
        if (has_asr) cJSON_AddItemToObject(pc, "test_asr", cJSON_CreateDoubleArray(asr, U + 1));
        else cJSON_AddNullToObject(pc, "test_asr");
        add_num(pc, "test_ca_at_stop", ca[p.stop]);
        add_num(pc, "test_asr_at_stop", has_asr ? asr[p.stop] : NAN);
        cJSON_AddNumberToObject(pc, "seconds", secs);
    }

    Text csv = {0}, gp = {0};
    text_printf(&csv, "pruned,channel,mean_activation,defender_ca,selected,test_ca,test_asr\n");
    for (int k = 0; k <= U; k++) {
        if (k) text_printf(&csv, "%d,%d,%.6g", k, p.order[k - 1], p.mean[p.order[k - 1]]);
        else text_printf(&csv, "0,,");
        csv_num(&csv, p.defender_ca[k]);
        text_printf(&csv, ",%d", k == p.stop);
        csv_num(&csv, ca[k]);
        csv_num(&csv, has_asr ? asr[k] : NAN);
        text_printf(&csv, "\n");
    }
    if (text_write(&csv, dir, csvname)) {
        note_append(note, note_n, "%s not written: %s. ", csvname, bl_errmsg());
        goto done;
    }
    text_printf(&gp, "# %s: drawn by backdoorlab (defense/evaluate.c); run `gnuplot %s` here to redraw.\n"
                     "# defender_ca: the mitigation's own curve (defender split); test_ca / test_asr: its ranking "
                     "replayed by the evaluator on the original model, first %d test images (ASR: %d triggered).\n",
                base, gpname, n_ca, n_asr);
    text_printf(&gp, "set terminal png truecolor size 960,580\nset output '%s'\nset datafile separator ','\n", png);
    text_printf(&gp, "set grid\nset key below horizontal maxcols 3\nset xrange [-0.5:%g]\nset yrange [0:1.05]\n"
                     "set xtics %d\nset ytics 0.1\n", U + 0.5, U >= 16 ? 4 : 1);
    const char *what = strcmp(orig->layers[p.conv].ops->name, "dense") ? "channels" : "units"; // records: dense
    text_printf(&gp, "set xlabel '%s of layer %d pruned (ascending mean clean activation)'\n"
                     "set ylabel 'accuracy / attack success rate'\n", what, p.conv);
    text_printf(&gp, "set title \"fine-pruning, %s: stops at %d of %d channels", who, p.stop, U);
    if (isfinite(ca_after)) text_printf(&gp, "\\nafter fine-tuning (full test set): CA %.2f%%", 100 * ca_after);
    if (isfinite(asr_after)) text_printf(&gp, ", ASR %.2f%%", 100 * asr_after);
    text_printf(&gp, "\\ncurves: CA on the first %d test images", n_ca);
    if (has_asr) text_printf(&gp, ", ASR on their %d triggered non-target copies", n_asr);
    text_printf(&gp, "\" noenhanced\n");
    text_printf(&gp, "set arrow from %d, graph 0 to %d, graph 1 nohead dashtype 2 linewidth 2 linecolor rgb "
                     "'black'\n", p.stop, p.stop);
    text_printf(&gp, "$after << EOD\n%d,%.6f,%.6f\nEOD\n", p.stop, isfinite(ca_after) ? ca_after : NAN,
                isfinite(asr_after) ? asr_after : NAN);
    text_printf(&gp, "plot '%s' using 1:4 with linespoints pointtype 7 pointsize 0.6 linecolor rgb '#2ca02c' "
                     "title 'CA, defender split', \\\n"
                     "  '' using 1:6 with linespoints pointtype 7 pointsize 0.6 linecolor rgb '#1f77b4' "
                     "title 'CA, test subset'", csvname);
    if (has_asr)
        text_printf(&gp, ", \\\n  '' using 1:7 with linespoints pointtype 7 pointsize 0.6 linecolor rgb '#d62728' "
                         "title 'ASR, triggered test subset'");
    if (isfinite(ca_after))
        text_printf(&gp, ", \\\n  $after using 1:2 with points pointtype 9 pointsize 2.2 linecolor rgb '#1f77b4' "
                         "title 'CA after fine-tuning'");
    if (isfinite(asr_after))
        text_printf(&gp, ", \\\n  $after using 1:3 with points pointtype 11 pointsize 2.2 linecolor rgb '#d62728' "
                         "title 'ASR after fine-tuning'");
    text_printf(&gp, ", \\\n  NaN with lines dashtype 2 linewidth 2 linecolor rgb 'black' title 'stop: %d "
                     "channels'\n", p.stop);
    plot_draw(dir, gpname, &gp, png, note, note_n);
    free(gp.s);
done:
    free(ca);
    free(asr);
    prune_info_free(&p);
}

Status defense_run_and_evaluate(const char *name, const char *const *settings, const DefenseRunData *rd,
                                const char *out_dir, cJSON *metrics_defenses, cJSON **summary_out) {
    if (summary_out) *summary_out = NULL;
    const DefenseOps *ops = defense_find(name);
    if (!ops) return bl_fail(BL_ERR_USAGE, "unknown defence '%s' (known: %s)", name ? name : "", defense_known_names());
    if (!rd || !rd->backdoor || !rd->train || !rd->defender || !rd->test)
        return bl_fail(BL_ERR_USAGE, "defence '%s': the run data is incomplete", name);
    if (!(ops->kinds & DS_KIND_BIT(rd->train->kind)))
        return bl_fail(BL_ERR_USAGE, "defence '%s' does not support %s, which this run holds; choose one that does "
                       "(detect --help)", name, ds_kind_name(rd->train->kind));
    DefenseParams params;
    Status st = defense_params_resolve(ops, settings, &params);
    if (st) return st;
    if ((st = ensure_dir(out_dir))) return st;
    char clean_dir[4400];
    snprintf(clean_dir, sizeof clean_dir, "%s/clean", out_dir);
    if (rd->clean && (st = ensure_dir(clean_dir))) return st;

    int ran = 0; // set once the defence itself runs
    uint8_t *is_poison = calloc((size_t)BL_MAX(1, rd->train->n), 1);
    uint8_t *no_poison = calloc((size_t)BL_MAX(1, rd->train_clean ? rd->train_clean->n : 1), 1);
    EvalInputs inputs;
    memset(&inputs, 0, sizeof inputs);
    SideKeep keep_bd = {0}, keep_cl = {0};
    cJSON *sum = cJSON_CreateObject();
    if (!is_poison || !no_poison || !sum) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    int npois = 0;
    if (rd->poison_csv && (st = eval_read_poison_csv(rd->poison_csv, rd->train, is_poison, &npois))) goto done;
    if ((ops->level == DEF_INPUTS || ops->level == DEF_ANY) && (st = eval_make_inputs(rd, &inputs))) goto done;

    char desc[320];
    cJSON_AddStringToObject(sum, "defense", ops->name);
    cJSON_AddStringToObject(sum, "level", defense_level_name(ops->level));
    cJSON_AddStringToObject(sum, "attack", attack_desc(rd->attack, npois, desc, sizeof desc));
    cJSON *pj = cJSON_AddObjectToObject(sum, "params");
    for (int i = 0; i < ops->nparams; i++)
        if (ops->params[i].type == DEF_TEXT) cJSON_AddStringToObject(pj, ops->params[i].key, params.text[i]);
        else cJSON_AddNumberToObject(pj, ops->params[i].key, params.value[i]);
    if (rd->backdoor_sha256) cJSON_AddStringToObject(sum, "model_sha256", rd->backdoor_sha256);
    Side sd = {ops, &params, rd, &inputs, out_dir};
    ran = 1; // from here a failure is the defence's: recorded in summary.json
    if ((st = run_side(&sd, rd->backdoor, rd->train, is_poison, 1, out_dir, "scores.csv", sum, &keep_bd))) goto done;
    if (rd->clean) {
        cJSON *cm = cJSON_AddObjectToObject(sum, "clean_model");
        if (rd->clean_sha256) cJSON_AddStringToObject(cm, "model_sha256", rd->clean_sha256);
        const Dataset *ctrain = rd->train_clean ? rd->train_clean : rd->train;
        if ((st = run_side(&sd, rd->clean, ctrain, rd->train_clean ? no_poison : is_poison, 0, clean_dir,
                           "scores-clean.csv", cm, &keep_cl)))
            goto done;
    } else {
        cJSON_AddNullToObject(sum, "clean_model");
    }
    // Evaluation plots (optional extras: a missing gnuplot or a failed write leaves a note, never an error).
    char plot_note[1024] = "";
    if ((ops->level == DEF_INPUTS || ops->level == DEF_ANY) && keep_bd.input_score)
        plot_input_hist(out_dir, ops, &inputs, &keep_bd, keep_cl.input_score ? &keep_cl : NULL, plot_note,
                        sizeof plot_note);
    if ((ops->level == DEF_MODEL || ops->level == DEF_ANY) && keep_bd.label_stat)
        plot_label_stats(out_dir, ops, &params, rd, &keep_bd, keep_cl.label_stat ? &keep_cl : NULL, plot_note,
                         sizeof plot_note);
    if (ops->level == DEF_MITIGATION) {
        plot_prune_curve(out_dir, "prune_curve", "backdoored model", rd->backdoor, rd, sum, plot_note,
                         sizeof plot_note);
        cJSON *cm = rd->clean ? cJSON_GetObjectItemCaseSensitive(sum, "clean_model") : NULL;
        if (cm) plot_prune_curve(out_dir, "prune_curve-clean", "clean model (control)", rd->clean, rd, cm, plot_note,
                                 sizeof plot_note);
    }
    if (plot_note[0]) cJSON_AddStringToObject(sum, "plot_notes", plot_note);
    char path[4400];
    snprintf(path, sizeof path, "%s/summary.json", out_dir);
    if ((st = json_write_atomic(path, sum))) goto done;
    if (metrics_defenses) {
        cJSON_DeleteItemFromObject(metrics_defenses, ops->name);
        cJSON_AddItemToObject(metrics_defenses, ops->name, cJSON_Duplicate(sum, 1));
    }
done:
    if (st && ran) { // a failed defence leaves a summary saying why, never a stale one from an earlier run
        char why[2048], path[4400];
        snprintf(why, sizeof why, "%s", bl_errmsg());
        cJSON_AddStringToObject(sum, "failed", why);
        snprintf(path, sizeof path, "%s/summary.json", out_dir);
        if (!json_write_atomic(path, sum) && metrics_defenses) {
            cJSON_DeleteItemFromObject(metrics_defenses, ops->name);
            cJSON_AddItemToObject(metrics_defenses, ops->name, cJSON_Duplicate(sum, 1));
        }
        st = bl_fail(st, "%s", why); // the defence's message, not the summary write's
    }
    free(is_poison);
    free(no_poison);
    eval_inputs_free(&inputs);
    side_keep_free(&keep_bd);
    side_keep_free(&keep_cl);
    if (!st && summary_out) *summary_out = sum;
    else cJSON_Delete(sum);
    return st;
}
