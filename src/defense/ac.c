// ac.c: Activation Clustering (Chen et al. 2018). Per label, the penultimate activations of poisoned samples
// form their own cluster: reduce them to a few principal components, split them in two with k-means, and flag
// the smaller cluster when its share is below a threshold (ART's "relative size" rule; optionally also require
// the silhouette to exceed a threshold, ART's "silhouette" rule).
//
// Score for one AUROC over the training set: 1 - (share of the sample's own cluster), so members of small
// clusters rank high, plus a tie-breaker in (-0.001, 0.001): how much closer the sample is to its own centroid
// than to the other one. The flag rule is the paper's; the score only orders samples for the AUROC.
//
// Exclusionary reclassification (ExRe, `exre = 1`; the paper's third rule, ART `exclusionary_reclassification`):
// the candidate of each label is its smaller cluster, whatever its share (ART's `smaller` analysis). Retrain a
// model from scratch, with the run's own seed and training options, on the training set WITHOUT the candidates,
// and classify each candidate's samples with it. own = how many it gives their training label, other = the
// count of the most common other label (ties: the lowest). The cluster is legitimate when other == 0 or
// own/other > exre_threshold (T), else poison, and its samples are predicted to belong to that other label (the
// suspected source). Flags then come from ExRe alone; scores are unchanged. Deviation from the paper's
// description (a model trained without the cluster in question): to save K-1 retrains we retrain ONCE without
// the union of every label's candidate (as ART's code also does: one retrain on everything its analysis did not
// mark suspicious), so a label's verdict is taken on a model that also lacks the other labels' smaller
// clusters, up to ~40% of the data on Fashion-MNIST. `exre_per_label = 1` is closer to the paper: one retrain
// per label, each without that label's candidate only (K retrains instead of one). ART has no default T
// (`ex_re_threshold = None` turns ExRe off); T = 1 is our choice. The larger cluster is never checked: with
// one retrain, excluding it too would remove the whole label.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"
#include "defense/mitigate.h"

static const DefenseParamSpec g_params[] = {
    {"dims", DEF_INT, 10, 1, 64, "principal components kept per label (the paper: 10)"},
    {"restarts", DEF_INT, 10, 1, 1000, "k-means++ restarts (the lowest inertia wins)"},
    {"iters", DEF_INT, 300, 1, 100000, "Lloyd iterations per restart (at most)"},
    {"size_threshold", DEF_REAL, 0.35, 0, 0.5, "flag the smaller cluster when its share of the label is below this"},
    {"rule", DEF_INT, 0, 0, 1, "0 = relative size only; 1 = size AND silhouette > silhouette_threshold"},
    {"silhouette_threshold", DEF_REAL, 0.10, -1, 1, "rule 1: the clustering's mean silhouette must exceed this"},
    {"min_class", DEF_INT, 10, 2, 1000000, "labels with fewer samples are skipped (noted)"},
    {"exre", DEF_INT, 0, 0, 1, "1 = exclusionary reclassification decides the flags (ONE retrain without every "
                               "label's smaller cluster, not one per cluster as in the paper)"},
    {"exre_threshold", DEF_REAL, 1, 0, 1e6, "ExRe T > 0: legitimate if other = 0 or own/other > T "
                                            "(ART: no default; 1 is ours)"},
    {"exre_per_label", DEF_INT, 0, 0, 1, "ExRe: 1 = retrain once per label without its smaller cluster only "
                                         "(K retrains)"},
};

static Status ac_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps ac_defense = {
    .name = "ac",
    .level = DEF_SAMPLES,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "Activation Clustering (Chen et al. 2018): per label PCA + 2-means, flag a small cluster",
    .run = ac_run,
};

static double sqdist(const float *a, const double *c, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (a[j] - c[j]) * (a[j] - c[j]);
    return s;
}

// One label's ExRe candidate: its smaller cluster.
typedef struct {
    int label;     // training label
    long size;     // samples in the smaller cluster
    int size_flag; // what the size (and silhouette) rule said about it
    cJSON *entry;  // the label's entry in the "labels" array (gets the ExRe verdict)
} AcCandidate;

// ExRe on the candidates: cand_of (n) holds each sample's label when it is in its label's candidate cluster,
// else -1. Retrains once without all of them (per_label: once per candidate, without that one only; see the top
// of the file), sets out->sample_flag for the clusters judged poison, and returns the decisions in *json_out.
static Status ac_exre(const DefenseContext *ctx, double T, int per_label, const AcCandidate *cand, int ncand,
                      const int *cand_of, DefenseResult *out, cJSON **json_out) {
    const Dataset *tr = ctx->train;
    const int n = tr->n, K2 = ctx->model->num_classes;
    Status st = BL_OK;
    Model *m2 = NULL;
    uint8_t *excl = calloc((size_t)BL_MAX(n, 1), 1);
    int *ids = malloc((size_t)BL_MAX(n, 1) * sizeof(int));
    int *kept = calloc((size_t)BL_MAX(ncand, 1), sizeof(int)); // (ncand) size of the set each verdict's model saw
    float *logits = NULL;                                       // (nexcl, K2)
    long *count = calloc((size_t)BL_MAX(ncand, 1) * BL_MAX(K2, 1), sizeof(long)); // (ncand, K2) predictions
    cJSON *j = cJSON_CreateObject(), *clusters = cJSON_CreateArray();
    int lab2cand[256];
    for (int c = 0; c < 256; c++) lab2cand[c] = -1;
    for (int k = 0; k < ncand; k++) lab2cand[cand[k].label] = k;
    if (!excl || !ids || !kept || !count || !j || !clusters) {
        st = bl_fail(BL_ERR_RUN, "ac (exre): out of memory");
        goto done;
    }
    cJSON_AddNumberToObject(j, "threshold", T);
    cJSON_AddStringToObject(j, "retrain", per_label ? "once per label" : "once, without every candidate");
    int nexcl = 0;
    for (int i = 0; i < n; i++) nexcl += cand_of[i] >= 0;
    cJSON_AddNumberToObject(j, "excluded", nexcl);
    if (!nexcl) {
        defense_note(out, "exre: no label had a cluster to check, nothing flagged");
        goto done;
    }
    logits = malloc((size_t)nexcl * K2 * sizeof(float));
    if (!logits) {
        st = bl_fail(BL_ERR_RUN, "ac (exre): out of memory");
        goto done;
    }
    double t0 = bl_now();
    for (int g = 0; g < (per_label ? ncand : 1); g++) {
        const int only = per_label ? cand[g].label : -1; // exclude this label's candidate, or all (-1)
        int nex = 0, nkept = 0;
        for (int i = 0; i < n; i++) {
            excl[i] = cand_of[i] >= 0 && (only < 0 || cand_of[i] == only);
            if (excl[i]) ids[nex++] = i;
        }
        if ((st = mit_retrain_without(ctx, excl, &m2, &nkept))) {
            st = bl_fail_ctx(st, "ac (exre): retraining without the %d samples of the smaller cluster(s)", nex);
            goto done;
        }
        if ((st = feat_logits(m2, tr, ids, nex, logits))) goto done;
        mit_destroy(m2);
        m2 = NULL;
        for (int e = 0; e < nex; e++) {
            const float *row = logits + (size_t)e * K2;
            int pred = 0;
            for (int k = 1; k < K2; k++)
                if (row[k] > row[pred]) pred = k; // first maximum, as np.argmax
            count[(size_t)lab2cand[cand_of[ids[e]]] * K2 + pred]++;
        }
        for (int k = 0; k < ncand; k++)
            if (only < 0 || cand[k].label == only) kept[k] = nkept;
    }
    cJSON_AddNumberToObject(j, "retrain_seconds", bl_now() - t0);
    if (!per_label) cJSON_AddNumberToObject(j, "retrained_on", kept[0]);
    if (per_label)
        defense_note(out, "exre (T = %g): one model retrained per label without its smaller cluster; per cluster: "
                          "label size own other_label(count) verdict", T);
    else
        defense_note(out, "exre (T = %g): ONE model retrained on %d samples without the %d in every label's "
                          "smaller cluster; per cluster: label size own other_label(count) verdict", T, kept[0], nexcl);
    // the flags of each cluster judged poison, by label
    uint8_t poison_label[256] = {0};
    for (int k = 0; k < ncand; k++) {
        const AcCandidate *a = &cand[k];
        const long *cnt = count + (size_t)k * K2;
        const long own = a->label < K2 ? cnt[a->label] : 0;
        int other = -1;
        for (int o = 0; o < K2; o++)
            if (o != a->label && (other < 0 || cnt[o] > cnt[other])) other = o;
        const long oc = other >= 0 ? cnt[other] : 0;
        const int legit = oc == 0 || (double)own / (double)oc > T;
        cJSON *cj = cJSON_CreateObject();
        if (cj) {
            cJSON_AddNumberToObject(cj, "label", a->label);
            cJSON_AddNumberToObject(cj, "size", (double)a->size);
            cJSON_AddNumberToObject(cj, "own", (double)own);
            cJSON_AddNumberToObject(cj, "other_label", other);
            cJSON_AddNumberToObject(cj, "other_count", (double)oc);
            if (oc > 0) cJSON_AddNumberToObject(cj, "ratio", (double)own / (double)oc);
            cJSON_AddStringToObject(cj, "verdict", legit ? "legitimate" : "poison");
            if (!legit) cJSON_AddNumberToObject(cj, "suspected_source", other);
            cJSON_AddBoolToObject(cj, "size_rule_flagged", a->size_flag);
            cJSON_AddNumberToObject(cj, "retrained_on", kept[k]);
            cJSON_AddItemToArray(clusters, cj);
        }
        if (a->entry) {
            cJSON_AddBoolToObject(a->entry, "size_rule_flagged", a->size_flag);
            cJSON_AddBoolToObject(a->entry, "flagged", !legit);
        }
        defense_note(out, "%d %ld %ld %d(%ld) %s", a->label, a->size, own, other, oc, legit ? "legit" : "POISON");
        poison_label[a->label] = !legit;
    }
    for (int i = 0; i < n; i++)
        if (cand_of[i] >= 0 && poison_label[cand_of[i]]) out->sample_flag[i] = 1;
done:
    if (!st) {
        cJSON_AddItemToObject(j, "clusters", clusters);
        *json_out = j;
    } else {
        cJSON_Delete(clusters);
        cJSON_Delete(j);
    }
    mit_destroy(m2);
    free(excl);
    free(ids);
    free(kept);
    free(logits);
    free(count);
    return st;
}

static Status ac_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &ac_defense;
    const Dataset *tr = ctx->train;
    const int dims = (int)defense_param(ops, ctx->params, "dims");
    const int restarts = (int)defense_param(ops, ctx->params, "restarts");
    const int iters = (int)defense_param(ops, ctx->params, "iters");
    const double size_thr = defense_param(ops, ctx->params, "size_threshold");
    const int rule = (int)defense_param(ops, ctx->params, "rule");
    const double sil_thr = defense_param(ops, ctx->params, "silhouette_threshold");
    const int min_class = (int)defense_param(ops, ctx->params, "min_class");
    const int exre = (int)defense_param(ops, ctx->params, "exre");
    const double exre_thr = defense_param(ops, ctx->params, "exre_threshold");
    const int exre_per_label = (int)defense_param(ops, ctx->params, "exre_per_label");
    // checked before any work: the spec's range is inclusive and cannot say "> 0"
    if (!(exre_thr > 0))
        return bl_fail(BL_ERR_USAGE, "ac: exre_threshold = %g must be > 0 (a cluster is legitimate when "
                                     "own/other > exre_threshold; the default 1 is our choice)", exre_thr);
    if (exre && !ctx->train_opts)
        return bl_fail(BL_ERR_USAGE, "ac: exre = 1 retrains a model and needs the run's training options "
                                     "(run it with `detect` or a [defense.ac] section of an experiment)");
    const int n = tr->n, D = feat_dim(ctx->model), K = tr->num_classes;
    if (D < 1) return bl_fail(BL_ERR_USAGE, "ac: the model has no penultimate layer");
    if (K < 1 || K > 256) return bl_fail(BL_ERR_DATA, "ac: the training set has %d labels (1..256 supported)", K);
    const int k_dims = BL_MIN(dims, D);
    if (k_dims < dims) defense_note(out, "dims %d > representation size %d: using %d", dims, D, k_dims);
    const size_t nn = (size_t)BL_MAX(n, 1);
    out->sample_score = calloc(nn, sizeof(float));
    out->sample_flag = calloc(nn, 1);
    float *R = malloc(nn * D * sizeof(float)), *Rc = malloc(nn * D * sizeof(float)), *P = malloc(nn * k_dims * sizeof(float));
    int *idx = malloc(nn * sizeof(int)), *assign = malloc(nn * sizeof(int));
    int *cand_of = exre ? malloc(nn * sizeof(int)) : NULL; // (n) label when in its label's smaller cluster, else -1
    AcCandidate cand[256];
    int ncand = 0;
    double cent[2 * 64];
    Status st = BL_OK;
    cJSON *labels = cJSON_CreateArray(), *exre_json = NULL;
    if (!out->sample_score || !out->sample_flag || !R || !Rc || !P || !idx || !assign || !labels ||
        (exre && !cand_of)) {
        st = bl_fail(BL_ERR_RUN, "ac: out of memory");
        goto done;
    }
    if (cand_of)
        for (int i = 0; i < n; i++) cand_of[i] = -1;
    if ((st = feat_penultimate(ctx->model, tr, NULL, n, R))) goto done;
    Rng rng = rng_stream(ctx->seed, "ac");
    for (int c = 0; c < K; c++) {
        cJSON *lj;
        int nc = feat_label_rows(tr, c, R, D, min_class, idx, Rc, out, labels, &lj);
        if (!nc) continue;
        double explained = 0;
        if ((st = feat_pca(Rc, nc, D, k_dims, P, &explained))) goto done;
        double var = 0;
        for (size_t j = 0; j < (size_t)nc * k_dims; j++) var += (double)P[j] * P[j];
        if (!(var > 0)) {
            defense_note(out, "label %d: all activations identical, nothing to cluster", c);
            cJSON_AddStringToObject(lj, "skipped", "zero variance");
            continue;
        }
        cJSON_AddNumberToObject(lj, "explained_variance", explained);
        if (feat_kmeans(P, nc, k_dims, 2, restarts, iters, &rng, assign, cent) < 0) {
            st = BL_ERR_RUN;
            goto done;
        }
        long size[2] = {0, 0};
        for (int k = 0; k < nc; k++) size[assign[k]]++;
        int small = size[1] < size[0] ? 1 : 0;
        double share = (double)size[small] / nc;
        double sil = feat_silhouette(P, nc, k_dims, assign, 2);
        int flag = share < size_thr && (rule == 0 || sil > sil_thr);
        cJSON_AddNumberToObject(lj, "smaller_share", share);
        cJSON_AddNumberToObject(lj, "silhouette", sil);
        if (!exre) cJSON_AddBoolToObject(lj, "flagged", flag); // with ExRe: its verdict, added by ac_exre
        if (exre) cand[ncand++] = (AcCandidate){.label = c, .size = size[small], .size_flag = flag, .entry = lj};
        for (int k = 0; k < nc; k++) {
            int own = assign[k];
            double d_own = sqrt(sqdist(P + (size_t)k * k_dims, cent + own * k_dims, k_dims));
            double d_oth = sqrt(sqdist(P + (size_t)k * k_dims, cent + (1 - own) * k_dims, k_dims));
            double margin = d_own + d_oth > 0 ? (d_oth - d_own) / (d_own + d_oth) : 0;
            double own_share = (double)size[own] / nc;
            out->sample_score[idx[k]] = (float)(1 - own_share + 0.001 * margin * (own == small ? 1 : -1));
            if (own != small) continue;
            if (exre) cand_of[idx[k]] = c;
            else if (flag) out->sample_flag[idx[k]] = 1;
        }
    }
    if (exre && (st = ac_exre(ctx, exre_thr, exre_per_label, cand, ncand, cand_of, out, &exre_json))) goto done;
done:
    if (!st && (out->extra_json = cJSON_CreateObject())) {
        cJSON_AddItemToObject(out->extra_json, "labels", labels);
        if (exre_json) cJSON_AddItemToObject(out->extra_json, "exre", exre_json);
    } else {
        cJSON_Delete(labels);
        cJSON_Delete(exre_json);
    }
    free(R);
    free(Rc);
    free(P);
    free(idx);
    free(assign);
    free(cand_of);
    return st;
}
