// neural_cleanse.c: Neural Cleanse (Wang et al., IEEE S&P 2019). For every label t, find the smallest trigger
// (mask m (H,W) and pattern p (C,H,W)) that sends clean inputs to t:
//     minimise  CE(f((1 - m) * x + m * p), t) + λ ||m||_1
// A backdoor target needs a far smaller mask than the other labels, so labels whose mask L1 norm is an outlier
// on the low side (MAD anomaly index > 2) are flagged.
//
// Follows the authors' code (bolunwang/backdoor, visualizer.py): m = tanh(a)/2 + 1/2 and p = tanh(b)/2 + 1/2,
// random init, Adam (lr 0.1, betas 0.5/0.9), λ starts at 0 and is set to init_cost once the attack succeeds
// `patience` steps in a row, then ×2 after `patience` steps with ASR >= 0.99 and ÷2^1.5 after `patience` steps
// below; early stop after 25 steps without an L1 improvement once λ has moved both ways; the result is the
// smallest mask seen on a step whose ASR reached 0.99. One "step" is batches_per_step mini-batches.
// Inputs are in [0,1] here (the official code works on 0..255; the mask is scale-free, the pattern is not).
// The schedule constants are those of the authors' gtsrb_visualize_example.py (patience 5, multiplier 2, early
// stop after 5 * patience steps with threshold 1.0); the Visualizer class defaults (10, 1.5) are overridden there.
// Two deliberate differences: the loss is the paper's cross-entropy (visualizer.py passes the model output and
// the one-hot target to categorical_crossentropy in swapped order, bolunwang/backdoor issue #11, which makes
// its loss ~16 (1 - p_t)), and tanh(a)/2 + 1/2 omits the official (2 - 1e-7) divisor (no effect at float
// precision). Anomaly index as mad_outlier_detection.py: median and MAD (x 1.4826) over ALL labels' norms,
// index = (median - L1) / MAD, and only labels below the median can be flagged (a positive index).
// `runs` > 1 repeats each label's optimisation from independent random inits and averages the L1 norms, as the
// authors advise ("results vary run to run; report averages over several runs"): one run's norm scatters by
// several percent, which moves a borderline label across the index-2 line.
//
// Records (issue 14): the mask is one entry per feature, m in [0,1]^F (the same tanh squash), and the pattern is
// in the file's raw units, p_j = lo_j + (hi_j - lo_j) * (tanh(b_j)/2 + 1/2) with lo/hi the training split's
// minimum and maximum of feature j (the dataset schema, fitted before any poisoning; the defender's clean split
// when there is no schema). x' = (1 - m) x + m p is applied to the F values of the model input; the F missing
// flags are copied unchanged, so a missing value stays missing (standardize ignores its slot, and its mask entry
// gets no gradient but the L1 pull). The trigger size is sum_j m_j, and the MAD test is the images' one. Note
// the box: an out-of-bounds trigger (beyond the training maximum) cannot be reproduced exactly, only approached
// from inside the range. With K = 2 labels the test cannot fire: the MAD of two norms is 1.4826 |l1_0 - l1_1| / 2,
// so the indices are always +-0.6745 (< 2); the result says so. reversed_triggers.csv replaces the PNGs.
#include "defense/mitigate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "io/png.h"
#include "nn/optim.h"

#define NC_MAD_K 1.4826 // consistency constant: MAD * 1.4826 estimates sigma for normal data

static const DefenseParamSpec nc_params[] = {NC_PARAM_SPECS};

void nc_settings_from_params(const DefenseOps *ops, const DefenseParams *p, NcSettings *s) {
    memset(s, 0, sizeof *s);
    s->steps = (int)defense_param(ops, p, "steps");
    s->batches_per_step = (int)defense_param(ops, p, "batches_per_step");
    s->batch = (int)defense_param(ops, p, "batch");
    s->lr = defense_param(ops, p, "lr");
    s->init_cost = defense_param(ops, p, "init_cost");
    s->succ_threshold = defense_param(ops, p, "succ_threshold");
    s->patience = (int)defense_param(ops, p, "patience");
    s->cost_multiplier = defense_param(ops, p, "cost_multiplier");
    s->early_stop_patience = (int)defense_param(ops, p, "early_stop_patience");
    s->runs = (int)defense_param(ops, p, "runs");
    if (defense_param(ops, p, "full") >= 0.5) {
        s->steps = 1000;
        s->batches_per_step = 31;
        s->batch = 32;
    }
}

void nc_reversal_free(NcReversal *r) {
    free(r->mask);
    free(r->pattern);
    free(r->l1);
    free(r->l1_sd);
    free(r->asr);
    free(r->reached);
    free(r->steps_run);
    free(r->final_cost);
    memset(r, 0, sizeof *r);
}

// Scratch for one label's optimisation, allocated once for all labels.
typedef struct {
    int n;          // number of optimised values: HW (mask) + CHW (pattern)
    float *raw;     // (n) the tanh-space variables: mask first, then pattern
    float *grad;    // (n) their gradient
    float *mask;    // (H,W) current mask
    float *pattern; // (C,H,W) current pattern
    float *dmask;   // (H,W) d mask / d raw
    float *dpat;    // (C,H,W) d pattern / d raw
    float *x;       // (B,C,H,W) the clean batch
    float *dx;      // (B,C,H,W) loss gradient w.r.t. the stamped input
    uint8_t *y;     // (B) target labels
    int *order;     // (clean->n) sampling order, reshuffled at every wrap
    float *run_mask;    // (H,W) best mask of the current run
    float *run_pattern; // (C,H,W) and its pattern
    // Records (rec = 1): C = 1, H = 1, W = F; x and dx hold the model input (B, 2F: values, then missing flags);
    // the pattern variables squash to [0,1] and map to raw units lo + span * s.
    int rec;
    float *lo, *span; // (F) the pattern's box per feature, raw units
} NcWork;

// What one run for one label found.
typedef struct {
    double l1, asr, final_cost;
    int reached, steps_run;
} NcRunOutcome;

static void work_free(NcWork *w) {
    bl_free(w->raw);
    bl_free(w->grad);
    bl_free(w->mask);
    bl_free(w->pattern);
    bl_free(w->dmask);
    bl_free(w->dpat);
    bl_free(w->x);
    bl_free(w->dx);
    bl_free(w->y);
    bl_free(w->order);
    bl_free(w->run_mask);
    bl_free(w->run_pattern);
    bl_free(w->lo);
    bl_free(w->span);
}

// m = tanh(a)/2 + 1/2 (and its derivative) for the n values of raw.
static void squash(const float *raw, int n, float *out, float *deriv) {
    for (int i = 0; i < n; i++) {
        float t = tanhf(raw[i]);
        out[i] = 0.5f * t + 0.5f;
        deriv[i] = 0.5f * (1.0f - t * t);
    }
}

static float unsquash(float v) {
    double u = 2.0 * (double)v - 1.0;
    if (u > 0.999999) u = 0.999999;
    if (u < -0.999999) u = -0.999999;
    return (float)atanh(u);
}

// Optimise mask and pattern for label t (run `run`). Leaves the best (or last) mask/pattern in w->run_mask and
// w->run_pattern and its statistics in *o.
static Status reverse_label(Model *m, const Dataset *clean, int t, int run, const NcSettings *s, uint64_t seed,
                            NcWork *w, NcRunOutcome *o) {
    // records: one "channel" of F features (w->rec); images: (C, H, W)
    const int C = w->rec ? 1 : clean->c, HW = w->rec ? clean->c : clean->h * clean->w, CHW = C * HW;
    const int B = BL_MIN(s->batch, clean->n);
    char purpose[64];
    if (run == 0) snprintf(purpose, sizeof purpose, "neural-cleanse/%d", t);
    else snprintf(purpose, sizeof purpose, "neural-cleanse/%d/run%d", t, run);
    Rng rng = rng_stream(seed, purpose);
    for (int i = 0; i < w->n; i++) w->raw[i] = unsquash(rng_uniform(&rng)); // random init, as the official code
    for (int i = 0; i < clean->n; i++) w->order[i] = i;
    rng_shuffle_int(&rng, w->order, clean->n);
    int pos = 0;

    Optimizer opt;
    OptConfig oc = {.kind = OPT_ADAM, .lr = s->lr, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-7};
    if (opt_init(&opt, &oc, (size_t)w->n)) return bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory");

    float *best_mask = w->run_mask, *best_pat = w->run_pattern;
    memset(o, 0, sizeof *o);
    double cost = 0.0, reg_best = INFINITY, es_reg_best = INFINITY, last_acc = 0.0;
    int set_counter = 0, up_counter = 0, down_counter = 0, up_flag = 0, down_flag = 0, es_counter = 0;
    int step = 0, nonfinite = 0;
    for (step = 0; step < s->steps && !nonfinite; step++) {
        double sum_acc = 0.0, sum_reg = 0.0;
        for (int bi = 0; bi < s->batches_per_step; bi++) {
            if (pos + B > clean->n) { // wrap: a fresh permutation, as a shuffling generator would
                rng_shuffle_int(&rng, w->order, clean->n);
                pos = 0;
            }
            batch_load(NULL, clean, w->order + pos, B, w->x, w->y); // true labels are not used: every target is t
            for (int b = 0; b < B; b++) w->y[b] = (uint8_t)t;
            pos += B;
            squash(w->raw, HW, w->mask, w->dmask);
            squash(w->raw + HW, CHW, w->pattern, w->dpat);
            // x' = (1 - m) x + m p, into the model's input buffer. x (B,C,H,W)
            float *xin = m->acts[0];
            if (w->rec) { // records: the F values mixed (p in raw units), the F missing flags copied unchanged
                const int F = HW;
#pragma omp parallel for schedule(static)
                for (int b = 0; b < B; b++) {
                    const float *xs = w->x + (size_t)b * 2 * F;
                    float *xd = xin + (size_t)b * 2 * F;
                    for (int j = 0; j < F; j++) {
                        const float pv = w->lo[j] + w->span[j] * w->pattern[j];
                        xd[j] = (1.0f - w->mask[j]) * xs[j] + w->mask[j] * pv;
                        xd[F + j] = xs[F + j];
                    }
                }
            } else {
#pragma omp parallel for schedule(static)
                for (int bc = 0; bc < B * C; bc++) {
                    const float *xs = w->x + (size_t)bc * HW, *pp = w->pattern + (size_t)(bc % C) * HW;
                    float *xd = xin + (size_t)bc * HW;
                    for (int i = 0; i < HW; i++) xd[i] = (1.0f - w->mask[i]) * xs[i] + w->mask[i] * pp[i];
                }
            }
            const float *z = model_forward(m, B);
            double ce = model_loss(m, w->y, B);
            if (!isfinite(ce)) {
                nonfinite = 1;
                break;
            }
            int hit = 0;
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int k = 1; k < m->num_classes; k++)
                    if (z[b * m->num_classes + k] > z[b * m->num_classes + best]) best = k;
                hit += best == t;
            }
            model_backward_input(m, B, w->dx);
            double reg = 0.0;
            for (int i = 0; i < HW; i++) reg += w->mask[i];
            sum_acc += (double)hit / B;
            sum_reg += reg;
            // d/dm = sum_b,c dx (p - x) + λ (|m| = m, as m > 0); d/dp = sum_b dx m. Each i is owned by one
            // thread and sums over b in a fixed order, so the result is the same at any thread count.
            const float lam = (float)cost;
            if (w->rec) { // records: a missing value's slot gets dx = 0 from standardize, so its flag blocks the mix
                const int F = HW;
#pragma omp parallel for schedule(static)
                for (int j = 0; j < F; j++) {
                    float gm = 0.0f, gp = 0.0f;
                    const float pv = w->lo[j] + w->span[j] * w->pattern[j];
                    for (int b = 0; b < B; b++) {
                        size_t o = (size_t)b * 2 * F + j;
                        gm += w->dx[o] * (pv - w->x[o]);
                        gp += w->dx[o];
                    }
                    w->grad[F + j] = gp * w->mask[j] * w->span[j] * w->dpat[j];
                    w->grad[j] = (gm + lam) * w->dmask[j];
                }
            } else {
#pragma omp parallel for schedule(static)
                for (int i = 0; i < HW; i++) {
                    float gm = 0.0f;
                    for (int c = 0; c < C; c++) {
                        float gp = 0.0f, pv = w->pattern[c * HW + i];
                        for (int b = 0; b < B; b++) {
                            size_t o = ((size_t)b * C + c) * HW + i;
                            gm += w->dx[o] * (pv - w->x[o]);
                            gp += w->dx[o];
                        }
                        w->grad[HW + c * HW + i] = gp * w->mask[i] * w->dpat[c * HW + i];
                    }
                    w->grad[i] = (gm + lam) * w->dmask[i];
                }
            }
            opt_step(&opt, w->raw, w->grad, s->lr);
        }
        if (nonfinite) break;
        double acc = sum_acc / s->batches_per_step, reg = sum_reg / s->batches_per_step;
        last_acc = acc;
        if (acc >= s->succ_threshold && reg < reg_best) { // keep the smallest successful mask
            squash(w->raw, HW, best_mask, w->dmask);
            squash(w->raw + HW, CHW, best_pat, w->dpat);
            reg_best = reg;
            o->asr = acc;
        }
        if (s->early_stop_patience > 0) {
            if (isfinite(reg_best)) es_counter = reg_best >= es_reg_best ? es_counter + 1 : 0;
            if (reg_best < es_reg_best) es_reg_best = reg_best;
            if (up_flag && down_flag && es_counter >= s->early_stop_patience) {
                step++;
                break;
            }
        }
        // λ schedule (official): start at 0; set to init_cost after `patience` successful steps; then move it.
        if (cost == 0.0 && acc >= s->succ_threshold) {
            if (++set_counter >= s->patience) {
                cost = s->init_cost;
                up_counter = down_counter = up_flag = down_flag = 0;
            }
        } else {
            set_counter = 0;
        }
        if (acc >= s->succ_threshold) up_counter++, down_counter = 0;
        else up_counter = 0, down_counter++;
        if (up_counter >= s->patience) {
            up_counter = 0;
            cost *= s->cost_multiplier;
            up_flag = 1;
        } else if (down_counter >= s->patience) {
            down_counter = 0;
            cost /= pow(s->cost_multiplier, 1.5);
            down_flag = 1;
        }
        if (s->progress && (step % 10 == 9 || step == s->steps - 1)) {
            fprintf(stderr, "\rneural-cleanse label %d: step %d/%d asr %.3f l1 %.1f cost %.2g   ", t, step + 1,
                    s->steps, acc, reg, cost);
            fflush(stderr);
        }
    }
    opt_free(&opt);
    o->reached = isfinite(reg_best);
    if (!o->reached) { // never succeeded: report the last mask, so the label gets a (large) norm all the same
        squash(w->raw, HW, best_mask, w->dmask);
        squash(w->raw + HW, CHW, best_pat, w->dpat);
        o->asr = last_acc;
    }
    double l1 = 0.0;
    for (int i = 0; i < HW; i++) l1 += best_mask[i];
    o->l1 = l1;
    o->steps_run = step;
    o->final_cost = cost;
    if (nonfinite)
        return bl_fail(BL_ERR_RUN, "neural-cleanse: the loss became NaN/inf while reversing label %d at step %d "
                                   "(try a smaller lr)", t, step + 1);
    return BL_OK;
}

// Records: the pattern's box per feature, in raw units: the training split's minimum and maximum from the dataset
// schema (ds_schema_fit on the training split as loaded, before any poisoning); where the schema is absent or a
// feature was never present there, the defender's clean split's present values.
static Status record_bounds(const Dataset *clean, NcWork *w) {
    const int F = clean->c;
    w->lo = bl_alloc((size_t)F * sizeof(float));
    w->span = bl_alloc((size_t)F * sizeof(float));
    if (!w->lo || !w->span) return bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory");
    for (int j = 0; j < F; j++) {
        double lo = NAN, hi = NAN;
        if (clean->schema && clean->schema->nfeatures == F) {
            lo = ds_schema_quantile(clean->schema, j, 0.0);
            hi = ds_schema_quantile(clean->schema, j, 1.0);
        }
        if (!isfinite(lo) || !isfinite(hi)) {
            lo = INFINITY, hi = -INFINITY;
            for (int i = 0; i < clean->n; i++) {
                if (clean->missing && clean->missing[(size_t)i * F + j]) continue;
                const double v = clean->features[(size_t)i * F + j];
                lo = fmin(lo, v), hi = fmax(hi, v);
            }
            if (!isfinite(lo) || !isfinite(hi)) lo = hi = 0.0; // never present: the pattern is the placeholder 0
        }
        w->lo[j] = (float)lo;
        w->span[j] = (float)(hi - lo);
    }
    return BL_OK;
}

Status nc_reverse_all(Model *m, const Dataset *clean, const NcSettings *s, uint64_t seed, NcReversal *out) {
    memset(out, 0, sizeof *out);
    if (!clean || clean->n < 1)
        return bl_fail(BL_ERR_DATA, "neural-cleanse: the defender's clean split is empty; it needs clean images "
                                    "to reverse triggers from (set [data] defender_clean_fraction > 0)");
    const int rec = clean->kind == DS_RECORDS;
    if (rec) {
        const Shape in = train_input_shape(clean);
        if (in.c != m->input.c || in.h != m->input.h || in.w != m->input.w)
            return bl_fail(BL_ERR_DATA, "neural-cleanse: clean records have %d features (model input %d values) but "
                                        "the model takes %dx%dx%d", clean->c, in.c, m->input.c, m->input.h,
                           m->input.w);
    } else if (clean->c != m->input.c || clean->h != m->input.h || clean->w != m->input.w)
        return bl_fail(BL_ERR_DATA, "neural-cleanse: clean images are %dx%dx%d but the model takes %dx%dx%d",
                       clean->c, clean->h, clean->w, m->input.c, m->input.h, m->input.w);
    if (m->num_classes < 2 || m->num_classes > 256)
        return bl_fail(BL_ERR_DATA, "neural-cleanse: the model has %d classes; it needs 2..256", m->num_classes);
    if (s->steps < 1 || s->batches_per_step < 1 || s->batch < 1 || s->runs < 1)
        return bl_fail(BL_ERR_USAGE, "neural-cleanse: steps, batches_per_step, batch and runs must be >= 1");
    const int B = BL_MIN(s->batch, clean->n);
    if (B > m->max_batch)
        return bl_fail(BL_ERR_USAGE, "neural-cleanse: batch %d exceeds the model's plan of %d samples", B,
                       m->max_batch);
    // records: mask and pattern are (1, 1, F): one entry per feature
    const int K = m->num_classes, C = rec ? 1 : clean->c, HW = rec ? clean->c : clean->h * clean->w, CHW = C * HW;
    const int IN = rec ? 2 * clean->c : CHW; // model input values per sample
    out->K = K, out->c = C, out->h = rec ? 1 : clean->h, out->w = rec ? clean->c : clean->w;
    out->mask = calloc((size_t)K * HW, sizeof(float));
    out->pattern = calloc((size_t)K * CHW, sizeof(float));
    out->l1 = calloc((size_t)K, sizeof(double));
    out->l1_sd = calloc((size_t)K, sizeof(double));
    out->asr = calloc((size_t)K, sizeof(double));
    out->reached = calloc((size_t)K, sizeof(int));
    out->steps_run = calloc((size_t)K, sizeof(int));
    out->final_cost = calloc((size_t)K, sizeof(double));
    NcWork w = {.n = HW + CHW, .rec = rec};
    w.raw = bl_alloc((size_t)w.n * sizeof(float));
    w.grad = bl_alloc((size_t)w.n * sizeof(float));
    w.mask = bl_alloc((size_t)HW * sizeof(float));
    w.dmask = bl_alloc((size_t)HW * sizeof(float));
    w.pattern = bl_alloc((size_t)CHW * sizeof(float));
    w.dpat = bl_alloc((size_t)CHW * sizeof(float));
    w.x = bl_alloc((size_t)B * IN * sizeof(float));
    w.dx = bl_alloc((size_t)B * IN * sizeof(float));
    w.y = bl_alloc((size_t)B);
    w.order = bl_alloc((size_t)clean->n * sizeof(int));
    w.run_mask = bl_alloc((size_t)HW * sizeof(float));
    w.run_pattern = bl_alloc((size_t)CHW * sizeof(float));
    Status st = BL_OK;
    if (!out->mask || !out->pattern || !out->l1 || !out->l1_sd || !out->asr || !out->reached || !out->steps_run ||
        !out->final_cost || !w.raw || !w.grad || !w.mask || !w.dmask || !w.pattern || !w.dpat || !w.x || !w.dx ||
        !w.y || !w.order || !w.run_mask || !w.run_pattern)
        st = bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory");
    if (!st && rec) st = record_bounds(clean, &w);
    // The model's own parameter gradients are scratch here: model_backward_input overwrites m->grads, never
    // m->params.
    for (int t = 0; t < K && !st; t++) {
        // Several runs: the label's L1 is the mean over runs (the authors: results vary run to run, average
        // several); the mask and pattern kept are the smallest successful run's (the best trigger found).
        double sum = 0.0, sumsq = 0.0, kept = INFINITY;
        for (int run = 0; run < s->runs && !st; run++) {
            NcRunOutcome o;
            st = reverse_label(m, clean, t, run, s, seed, &w, &o);
            if (st) break;
            sum += o.l1, sumsq += o.l1 * o.l1;
            out->steps_run[t] += o.steps_run;
            // a successful run beats any unsuccessful one; among equals, the smaller mask wins
            double rank = o.l1 + (o.reached ? 0.0 : 1e30);
            if (run == 0 || rank < kept) {
                kept = rank;
                memcpy(out->mask + (size_t)t * HW, w.run_mask, (size_t)HW * sizeof(float));
                memcpy(out->pattern + (size_t)t * CHW, w.run_pattern, (size_t)CHW * sizeof(float));
                if (rec) // records: the pattern in raw feature units
                    for (int j = 0; j < HW; j++)
                        out->pattern[(size_t)t * HW + j] = w.lo[j] + w.span[j] * w.run_pattern[j];
                out->asr[t] = o.asr, out->reached[t] = o.reached, out->final_cost[t] = o.final_cost;
            }
        }
        const int R = s->runs;
        out->l1[t] = sum / R;
        out->l1_sd[t] = R > 1 ? sqrt(fmax(0.0, (sumsq - sum * sum / R) / (R - 1))) : 0.0;
    }
    if (s->progress) fputc('\n', stderr);
    work_free(&w);
    if (st) nc_reversal_free(out);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *v, int n, double *tmp) {
    memcpy(tmp, v, (size_t)n * sizeof(double));
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

double nc_anomaly_index(const double *l1, int K, double *ai, double *median_out) {
    double tmp[256], dev[256];
    if (K < 1 || K > 256) return 0.0;
    double med = median_of(l1, K, tmp);
    for (int k = 0; k < K; k++) dev[k] = fabs(l1[k] - med);
    double mad = NC_MAD_K * median_of(dev, K, tmp);
    if (median_out) *median_out = med;
    for (int k = 0; k < K; k++) ai[k] = mad > 0 && isfinite(mad) ? (med - l1[k]) / mad : 0.0;
    return mad > 0 && isfinite(mad) ? mad : 0.0;
}

void nc_stamp(uint8_t *img, int c, int h, int w, const float *mask, const float *pattern) {
    const int HW = h * w;
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < HW; i++) {
            float x = img[ch * HW + i] / 255.0f;
            float v = (1.0f - mask[i]) * x + mask[i] * pattern[ch * HW + i];
            long q = lrintf(v * 255.0f);
            img[ch * HW + i] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
}

// One (C,H,W) float image in [0,1] (or a (H,W) mask when c == 1) as an upscaled gray or RGB PNG.
static Status write_plane(const char *path, const float *v, int c, int h, int w, int scale) {
    const int W = w * scale, H = h * scale, ch = c == 3 ? 3 : 1;
    uint8_t *pix = malloc((size_t)W * H * ch);
    if (!pix) return bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory writing %s", path);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < ch; k++) {
                float f = v[(size_t)k * h * w + (size_t)(y / scale) * w + x / scale];
                long q = lrintf(f * 255.0f);
                pix[((size_t)y * W + x) * ch + k] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
            }
    Status st = ch == 3 ? png_write_rgb(path, pix, W, H) : png_write_gray(path, pix, W, H);
    free(pix);
    return st;
}

Status nc_write_pngs(const char *dir, const NcReversal *r, int scale) {
    const int HW = r->h * r->w, CHW = r->c * HW;
    // all labels' triggers side by side, 1-pixel mid-gray gaps: (C, H, K*(W+1)-1)
    const int SW = r->K * (r->w + 1) - 1;
    float *trig = malloc((size_t)CHW * sizeof(float)), *strip = malloc((size_t)r->c * r->h * SW * sizeof(float));
    if (!trig || !strip) {
        free(trig), free(strip);
        return bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory");
    }
    for (size_t i = 0; i < (size_t)r->c * r->h * SW; i++) strip[i] = 0.5f;
    Status st = BL_OK;
    char path[4200];
    for (int k = 0; k < r->K && !st; k++) {
        const float *mk = r->mask + (size_t)k * HW, *pk = r->pattern + (size_t)k * CHW;
        for (int c = 0; c < r->c; c++)
            for (int i = 0; i < HW; i++) {
                trig[c * HW + i] = mk[i] * pk[c * HW + i];
                strip[((size_t)c * r->h + i / r->w) * SW + k * (r->w + 1) + i % r->w] = trig[c * HW + i];
            }
        snprintf(path, sizeof path, "%s/label%d-mask.png", dir, k);
        st = write_plane(path, mk, 1, r->h, r->w, scale);
        if (!st) {
            snprintf(path, sizeof path, "%s/label%d-pattern.png", dir, k);
            st = write_plane(path, pk, r->c, r->h, r->w, scale);
        }
        if (!st) {
            snprintf(path, sizeof path, "%s/label%d-trigger.png", dir, k);
            st = write_plane(path, trig, r->c, r->h, r->w, scale);
        }
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/triggers.png", dir);
        st = write_plane(path, strip, r->c, r->h, SW, scale);
    }
    free(trig);
    free(strip);
    return st;
}

static Status nc_run(const DefenseContext *ctx, DefenseResult *out);

// Records: reversed_triggers.csv, one row per label and feature (mask in [0,1], pattern in raw units).
static Status write_records_csv(const char *dir, const NcReversal *r, const DsSchema *schema) {
    char path[4200];
    snprintf(path, sizeof path, "%s/reversed_triggers.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return bl_fail(BL_ERR_RUN, "neural-cleanse: cannot write %s", path);
    const int F = r->w;
    fprintf(f, "label,feature_index,feature,mask,pattern\n");
    for (int k = 0; k < r->K; k++)
        for (int j = 0; j < F; j++) {
            const char *name = schema && schema->feature_names && schema->nfeatures == F ? schema->feature_names[j] : "";
            fprintf(f, "%d,%d,\"%s\",%.6g,%.9g\n", k, j, name, r->mask[(size_t)k * F + j],
                    r->pattern[(size_t)k * F + j]);
        }
    return fclose(f) ? bl_fail(BL_ERR_RUN, "neural-cleanse: cannot write %s", path) : BL_OK;
}

const DefenseOps neural_cleanse_defense = {
    .name = "neural-cleanse",
    .level = DEF_MODEL,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS),
    .params = nc_params,
    .nparams = (int)BL_ARRAY_LEN(nc_params),
    .summary = "reverse-engineer a minimal trigger per label; flag labels with MAD anomaly index > 2 (Wang 2019)",
    .run = nc_run,
};

static Status nc_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &neural_cleanse_defense;
    NcSettings s;
    nc_settings_from_params(ops, ctx->params, &s);
    s.progress = ctx->progress;
    const double threshold = defense_param(ops, ctx->params, "threshold");
    NcReversal r;
    Status st = nc_reverse_all(ctx->model, ctx->clean, &s, ctx->seed, &r);
    if (st) return st;
    const int K = r.K, HW = r.h * r.w;
    out->num_labels = K;
    out->label_stat = malloc((size_t)K * sizeof(double));
    out->anomaly_index = malloc((size_t)K * sizeof(double));
    out->reversed_mask = malloc((size_t)K * HW * sizeof(float));
    if (!out->label_stat || !out->anomaly_index || !out->reversed_mask) {
        nc_reversal_free(&r);
        return bl_fail(BL_ERR_RUN, "neural-cleanse: out of memory");
    }
    memcpy(out->label_stat, r.l1, (size_t)K * sizeof(double));
    memcpy(out->reversed_mask, r.mask, (size_t)K * HW * sizeof(float));
    double median = 0.0;
    double mad = nc_anomaly_index(r.l1, K, out->anomaly_index, &median);
    out->nflagged = 0;
    for (int k = 0; k < K; k++)
        if (out->anomaly_index[k] > threshold) out->flagged[out->nflagged++] = k;

    size_t nl = 0;
    if (K == 2)
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl,
                               "with 2 labels the MAD anomaly index is always 0.674: the test cannot fire; compare "
                               "the two L1 norms instead. ");
    if (mad == 0.0 && nl < sizeof out->notes)
        nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl,
                               "the median absolute deviation of the L1 norms is 0: anomaly indices set to 0. ");
    for (int k = 0; k < K && nl < sizeof out->notes; k++)
        if (!r.reached[k])
            nl += (size_t)snprintf(out->notes + nl, sizeof out->notes - nl,
                                   "label %d: no mask reached ASR %.2f (best %.3f); its L1 is the last mask's. ", k,
                                   s.succ_threshold, r.asr[k]);
    const int rec = ctx->clean->kind == DS_RECORDS;
    if (ctx->out_dir) {
        st = rec ? write_records_csv(ctx->out_dir, &r, ctx->clean->schema) : nc_write_pngs(ctx->out_dir, &r, 4);
        if (st && nl < sizeof out->notes) { // the PNGs are a courtesy: a write failure does not void the result
            snprintf(out->notes + nl, sizeof out->notes - nl, "reversed-trigger %s not written: %s. ",
                     rec ? "CSV" : "PNGs", bl_errmsg());
            st = BL_OK;
        }
    }

    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddNumberToObject(j, "steps", s.steps);
        cJSON_AddNumberToObject(j, "batches_per_step", s.batches_per_step);
        cJSON_AddNumberToObject(j, "batch", s.batch);
        cJSON_AddNumberToObject(j, "runs", s.runs);
        cJSON_AddNumberToObject(j, "median_l1", median);
        cJSON_AddNumberToObject(j, "mad", mad);
        double max_ai = -INFINITY;
        for (int k = 0; k < K; k++) max_ai = fmax(max_ai, out->anomaly_index[k]);
        cJSON_AddNumberToObject(j, "max_anomaly_index", max_ai);
        if (K == 2)
            cJSON_AddStringToObject(j, "caveat", "K = 2: the MAD of two L1 norms makes both anomaly indices +-0.6745 "
                                                 "whatever the norms, so the index can never exceed 2 and no label "
                                                 "is ever flagged; compare the two L1 norms instead");
        if (rec) {
            cJSON_AddStringToObject(j, "sample_kind", "records");
            cJSON_AddStringToObject(j, "trigger_model", "x' = (1 - m) x + m p on the F values (raw units, p within "
                                                        "each feature's training min..max), missing flags unchanged; "
                                                        "l1 = sum of the F mask entries");
            cJSON_AddNumberToObject(j, "features", HW);
        }
        cJSON *labels = cJSON_AddArrayToObject(j, "labels");
        for (int k = 0; labels && k < K; k++) {
            cJSON *o = cJSON_CreateObject();
            if (!o) break;
            cJSON_AddNumberToObject(o, "label", k);
            cJSON_AddNumberToObject(o, "l1", r.l1[k]);
            if (s.runs > 1) cJSON_AddNumberToObject(o, "l1_sd", r.l1_sd[k]);
            cJSON_AddNumberToObject(o, "anomaly_index", out->anomaly_index[k]);
            cJSON_AddNumberToObject(o, "asr", r.asr[k]);
            cJSON_AddBoolToObject(o, "reached", r.reached[k]);
            cJSON_AddNumberToObject(o, "steps_run", r.steps_run[k]);
            cJSON_AddNumberToObject(o, "final_cost", r.final_cost[k]);
            if (rec) { // the three features with the largest mask entries
                cJSON *top = cJSON_AddArrayToObject(o, "top_features");
                const float *mk = r.mask + (size_t)k * HW;
                int used[3] = {-1, -1, -1};
                for (int q = 0; top && q < 3 && q < HW; q++) {
                    int best = -1;
                    for (int f = 0; f < HW; f++)
                        if (f != used[0] && f != used[1] && (best < 0 || mk[f] > mk[best])) best = f;
                    used[q] = best;
                    cJSON *fo = cJSON_CreateObject();
                    if (!fo) break;
                    const DsSchema *sc = ctx->clean->schema;
                    if (sc && sc->feature_names && sc->nfeatures == HW)
                        cJSON_AddStringToObject(fo, "feature", sc->feature_names[best]);
                    cJSON_AddNumberToObject(fo, "index", best);
                    cJSON_AddNumberToObject(fo, "mask", mk[best]);
                    cJSON_AddNumberToObject(fo, "pattern", r.pattern[(size_t)k * HW + best]);
                    cJSON_AddItemToArray(top, fo);
                }
            }
            cJSON_AddItemToArray(labels, o);
        }
    }
    out->extra_json = j;
    nc_reversal_free(&r);
    return st;
}
