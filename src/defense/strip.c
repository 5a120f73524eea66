// strip.c: STRIP (Gao et al. 2019). Superimpose N clean images on an input and look at how the predictions
// spread: a clean input's class is easily disturbed (high mean entropy), a triggered input keeps the target
// class whatever is overlaid (low entropy). The decision boundary is fitted on the defender's clean split: a
// normal distribution of clean entropies, cut at the quantile equal to the false-rejection rate wanted.
//
// Overlay: the official code's additive overlay (cv2.addWeighted(x, 1, x_bg, 1, 0): sum, saturated at white)
// or, with overlay = 1, the alpha blend alpha*x + (1 - alpha)*x_bg used by ART and TrojanZoo. Additive overlays
// saturate bright regions, so a trigger sitting on a bright part of the image is partly erased by them.
//
// Records (feature vectors) have nothing to add pixel by pixel, so an overlay there is feature mixing: each
// overlay copies the input and replaces a random subset of round(mix * F) of its features (at least one) with
// the same features of a random clean record from the defender's split, value and missing flag together; the
// subsets come from the same seeded "strip" stream as the overlay draws. A trigger on a few features survives
// about (1 - mix)^t of the overlays (t trigger features), so its prediction stays put while a clean record's
// class drifts with the borrowed features. overlay and alpha do not apply to records.
//
// Score = -H (higher = more suspicious), H = (1/N) sum_n sum_c -p_nc log2 p_nc.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"

static const DefenseParamSpec g_params[] = {
    {"n", DEF_INT, 100, 1, 10000, "clean images overlaid on each input (the paper: 100; 10 already works, §5.4)"},
    {"calib", DEF_INT, 2000, 2, 1000000, "defender-split images whose entropies fit the boundary (the paper: 2000)"},
    {"overlay", DEF_INT, 0, 0, 1, "0 = additive, saturated (official code); 1 = alpha blend"},
    {"alpha", DEF_REAL, 0.5, 0, 1, "overlay 1: weight of the input in the blend"},
    {"boundary", DEF_INT, 0, 0, 1, "0 = normal fit of clean entropies (the paper); 1 = empirical quantile"},
    {"mix", DEF_REAL, 0.5, 0, 1, "records: fraction of the input's features (values and missing flags) each overlay "
                                 "replaces with a clean record's (at least one)"},
};

static Status strip_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps strip_defense = {
    .name = "strip",
    .level = DEF_INPUTS,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "STRIP (Gao et al. 2019): entropy of predictions under clean overlays, boundary from clean data",
    .run = strip_run,
};

// Mean prediction entropy of each of the n images of `src` (positions src_idx, or 0..n-1 when NULL) under
// `N` overlays drawn from `pool` (all of it; when self_in_pool, src and pool are the same set and an image is
// never overlaid on itself). entropy (n). Records: mixk features of the input are replaced per overlay.
static Status strip_entropies(Model *m, const Dataset *src, const int *src_idx, int n, const Dataset *pool,
                              int self_in_pool, int N, int additive, float alpha, int mixk, Rng *rng, int progress,
                              const char *what, double *entropy) {
    const int sz = ds_sample_size(src), K = m->num_classes, B = m->max_batch, P = pool->n;
    const int isz = (int)shape_size(m->input); // records: 2F (values, then missing flags); images: sz
    const int records = src->kind == DS_RECORDS;
    int *fperm = records ? malloc((size_t)sz * sizeof(int)) : NULL; // records: which features an overlay replaces
    if (records && !fperm) return bl_fail(BL_ERR_RUN, "strip: out of memory");
    for (int j = 0; records && j < sz; j++) fperm[j] = j;
    int *perm = malloc((size_t)P * sizeof(int)), *draw = malloc((size_t)(N + 1) * sizeof(int));
    int *job_input = malloc((size_t)B * sizeof(int)); // which input each row of the batch belongs to
    double *p = malloc((size_t)K * sizeof(double));
    int *used = malloc((size_t)BL_MAX(n, 1) * sizeof(int)); // overlays actually drawn per input
    if (!perm || !draw || !job_input || !p || !used) {
        free(fperm);
        free(used);
        free(perm);
        free(draw);
        free(job_input);
        free(p);
        return bl_fail(BL_ERR_RUN, "strip: out of memory");
    }
    for (int j = 0; j < P; j++) perm[j] = j;
    for (int i = 0; i < n; i++) entropy[i] = 0;
    int rows = 0;
    double last = 0;
    for (int i = 0; i < n; i++) {
        int si = src_idx ? src_idx[i] : i;
        // N distinct overlay images (one spare, dropped if it is the input itself): partial Fisher-Yates
        int want = BL_MIN(P, N + (self_in_pool ? 1 : 0)), got = 0;
        for (int k = 0; k < want; k++) {
            int r = k + (int)rng_below(rng, (uint64_t)(P - k)), t = perm[k];
            perm[k] = perm[r], perm[r] = t;
        }
        for (int k = 0; k < want && got < N; k++)
            if (!(self_in_pool && perm[k] == si)) draw[got++] = perm[k];
        for (int k = 0; k < got; k++) {
            float *dst = m->acts[0] + (size_t)rows * isz;
            if (records) { // the input as batch_load lays it out, then mixk features from the clean record
                const float *xv = src->features + (size_t)si * sz, *bv = pool->features + (size_t)draw[k] * sz;
                const uint8_t *xm = src->missing + (size_t)si * sz, *bm = pool->missing + (size_t)draw[k] * sz;
                for (int j = 0; j < sz; j++) dst[j] = xm[j] ? 0.0f : xv[j], dst[sz + j] = xm[j];
                for (int t = 0; t < mixk; t++) { // partial Fisher-Yates over the features
                    int r = t + (int)rng_below(rng, (uint64_t)(sz - t)), j = fperm[r];
                    fperm[r] = fperm[t], fperm[t] = j;
                    dst[j] = bm[j] ? 0.0f : bv[j], dst[sz + j] = bm[j];
                }
            } else {
                const uint8_t *x = src->images + (size_t)si * sz, *bg = pool->images + (size_t)draw[k] * sz;
                for (int t = 0; t < sz; t++) {
                    float a = x[t] * (1.0f / 255), b = bg[t] * (1.0f / 255);
                    float v = additive ? a + b : alpha * a + (1 - alpha) * b;
                    dst[t] = v > 1 ? 1 : v;
                }
            }
            job_input[rows++] = i;
            if (rows == B || (i == n - 1 && k == got - 1)) {
                const float *logits = model_forward(m, rows);
                for (int r = 0; r < rows; r++) { // rows of one input are summed in order: thread-independent
                    feat_softmax(logits + (size_t)r * K, K, p);
                    entropy[job_input[r]] += feat_entropy_bits(p, K);
                }
                rows = 0;
            }
        }
        used[i] = got;
        if (progress && (bl_now() - last > 0.2 || i == n - 1)) {
            fprintf(stderr, "\rstrip %-12s %6d/%d", what, i + 1, n);
            if (i == n - 1) fprintf(stderr, "\n");
            last = bl_now();
        }
    }
    for (int i = 0; i < n; i++) entropy[i] /= BL_MAX(used[i], 1); // every batch has been flushed by now
    free(fperm);
    free(used);
    free(perm);
    free(draw);
    free(job_input);
    free(p);
    return BL_OK;
}

static Status strip_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &strip_defense;
    const Dataset *in = ctx->inputs, *pool = ctx->clean;
    int N = (int)defense_param(ops, ctx->params, "n");
    const int calib_want = (int)defense_param(ops, ctx->params, "calib");
    const int additive = defense_param(ops, ctx->params, "overlay") == 0;
    const float alpha = (float)defense_param(ops, ctx->params, "alpha");
    const int empirical = defense_param(ops, ctx->params, "boundary") != 0;
    const double mix = defense_param(ops, ctx->params, "mix");
    if (!in) return bl_fail(BL_ERR_USAGE, "strip: no inputs to screen");
    if (!pool || pool->n < 3)
        return bl_fail(BL_ERR_DATA, "strip: the defender's clean split has %d image(s); need at least 3 (raise "
                       "[data] defender_clean_fraction)", pool ? pool->n : 0);
    if (ds_sample_size(in) != ds_sample_size(pool) || in->kind != pool->kind)
        return bl_fail(BL_ERR_DATA, "strip: input and pool shapes differ");
    if ((size_t)ds_sample_size(in) * (in->kind == DS_RECORDS ? 2 : 1) != shape_size(ctx->model->input))
        return bl_fail(BL_ERR_DATA, "strip: the inputs do not match the model's input shape");
    // records: features replaced per overlay, at least one (mix = 0 would leave every overlay equal to the input)
    const int mixk = in->kind == DS_RECORDS ? BL_MAX(1, (int)lround(mix * in->c)) : 0;
    if (N > pool->n - 1) {
        defense_note(out, "n = %d overlays > defender split - 1; using %d", N, pool->n - 1);
        N = pool->n - 1;
    }
    int ncal = BL_MIN(calib_want, pool->n);
    if (ncal < calib_want) defense_note(out, "calib = %d > defender split (%d images): using all of it", calib_want, pool->n);
    Rng rng = rng_stream(ctx->seed, "strip");
    int *cal_idx = malloc((size_t)pool->n * sizeof(int));
    double *hcal = malloc((size_t)ncal * sizeof(double)), *hin = malloc((size_t)BL_MAX(in->n, 1) * sizeof(double));
    float *cal_score = malloc((size_t)ncal * sizeof(float));
    out->input_score = malloc((size_t)BL_MAX(in->n, 1) * sizeof(float));
    Status st = BL_OK;
    if (!cal_idx || !hcal || !hin || !cal_score || !out->input_score) {
        st = bl_fail(BL_ERR_RUN, "strip: out of memory");
        goto done;
    }
    // calibration images: a seeded subset of the defender split, overlays from the rest of it
    for (int i = 0; i < pool->n; i++) cal_idx[i] = i;
    rng_shuffle_int(&rng, cal_idx, pool->n);
    if ((st = strip_entropies(ctx->model, pool, cal_idx, ncal, pool, 1, N, additive, alpha, mixk, &rng, ctx->progress,
                              "calibration", hcal)))
        goto done;
    if ((st = strip_entropies(ctx->model, in, NULL, in->n, pool, 0, N, additive, alpha, mixk, &rng, ctx->progress,
                              "inputs", hin)))
        goto done;
    double mu = 0, var = 0;
    long bad = 0;
    for (int i = 0; i < ncal; i++) mu += hcal[i];
    mu /= ncal;
    for (int i = 0; i < ncal; i++) var += (hcal[i] - mu) * (hcal[i] - mu);
    double sigma = sqrt(var / (ncal - 1));
    for (int i = 0; i < ncal; i++) cal_score[i] = (float)-hcal[i];
    for (int i = 0; i < in->n; i++) {
        out->input_score[i] = (float)-hin[i];
        bad += !isfinite(hin[i]);
    }
    if (bad) defense_note(out, "%ld input(s) gave non-finite entropies (never flagged)", bad);
    if (!isfinite(mu) || !isfinite(sigma)) {
        st = bl_fail(BL_ERR_DATA, "strip: the clean entropies are not finite (the model outputs NaN?)");
        goto done;
    }
    if (sigma == 0) defense_note(out, "all clean entropies equal (%g): the boundary is that value", mu);
    cJSON *ex = cJSON_CreateObject();
    cJSON_AddNumberToObject(ex, "clean_entropy_mean", mu);
    cJSON_AddNumberToObject(ex, "clean_entropy_std", sigma);
    cJSON_AddNumberToObject(ex, "overlays", N);
    cJSON_AddNumberToObject(ex, "calibration_images", ncal);
    cJSON_AddStringToObject(ex, "overlay_kind", in->kind == DS_RECORDS ? "feature-mixing"
                                                : additive                  ? "additive"
                                                                            : "alpha-blend");
    if (in->kind == DS_RECORDS) cJSON_AddNumberToObject(ex, "features_replaced", mixk);
    cJSON *bj = cJSON_AddObjectToObject(ex, "entropy_boundary");
    for (int f = 0; f < DEFENSE_NFRR; f++) {
        double frr = defense_frr_targets[f];
        // flag when H <= boundary, i.e. when -H >= -boundary; the interface flags score > threshold, and the
        // entropies are continuous, so the difference at equality does not matter
        double boundary = empirical ? -feat_upper_threshold(cal_score, ncal, frr) : mu + sigma * feat_normal_quantile(frr);
        out->thresholds[f] = -boundary;
        char key[16];
        snprintf(key, sizeof key, "%g", frr);
        cJSON_AddNumberToObject(bj, key, boundary);
    }
    out->extra_json = ex;
done:
    free(cal_idx);
    free(hcal);
    free(hin);
    free(cal_score);
    return st;
}
