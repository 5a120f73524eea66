// ac.c: Activation Clustering (Chen et al. 2018). Per label, the penultimate activations of poisoned samples
// form their own cluster: reduce them to a few principal components, split them in two with k-means, and flag
// the smaller cluster when its share is below a threshold (ART's "relative size" rule; optionally also require
// the silhouette to exceed a threshold, ART's "silhouette" rule).
//
// Score for one AUROC over the training set: 1 - (share of the sample's own cluster), so members of small
// clusters rank high, plus a tie-breaker in (-0.001, 0.001): how much closer the sample is to its own centroid
// than to the other one. The flag rule is the paper's; the score only orders samples for the AUROC.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"

static const DefenseParamSpec g_params[] = {
    {"dims", 10, 1, 64, "principal components kept per label (the paper: 10)"},
    {"restarts", 10, 1, 1000, "k-means++ restarts (the lowest inertia wins)"},
    {"iters", 300, 1, 100000, "Lloyd iterations per restart (at most)"},
    {"size_threshold", 0.35, 0, 0.5, "flag the smaller cluster when its share of the label is below this"},
    {"rule", 0, 0, 1, "0 = relative size only; 1 = size AND silhouette > silhouette_threshold"},
    {"silhouette_threshold", 0.10, -1, 1, "rule 1: the clustering's mean silhouette must exceed this"},
    {"min_class", 10, 2, 1000000, "labels with fewer samples are skipped (noted)"},
};

static Status ac_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps ac_defense = {
    .name = "ac",
    .level = DEF_SAMPLES,
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
    const int n = tr->n, D = feat_dim(ctx->model), K = tr->num_classes;
    if (D < 1) return bl_fail(BL_ERR_USAGE, "ac: the model has no penultimate layer");
    const int k_dims = BL_MIN(dims, D);
    if (k_dims < dims) defense_note(out, "dims %d > representation size %d: using %d", dims, D, k_dims);
    const size_t nn = (size_t)BL_MAX(n, 1);
    out->sample_score = calloc(nn, sizeof(float));
    out->sample_flag = calloc(nn, 1);
    float *R = malloc(nn * D * sizeof(float)), *Rc = malloc(nn * D * sizeof(float)), *P = malloc(nn * k_dims * sizeof(float));
    int *idx = malloc(nn * sizeof(int)), *assign = malloc(nn * sizeof(int));
    double cent[2 * 64];
    Status st = BL_OK;
    cJSON *labels = cJSON_CreateArray();
    if (!out->sample_score || !out->sample_flag || !R || !Rc || !P || !idx || !assign || !labels) {
        st = bl_fail(BL_ERR_RUN, "ac: out of memory");
        goto done;
    }
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
        cJSON_AddBoolToObject(lj, "flagged", flag);
        for (int k = 0; k < nc; k++) {
            int own = assign[k];
            double d_own = sqrt(sqdist(P + (size_t)k * k_dims, cent + own * k_dims, k_dims));
            double d_oth = sqrt(sqdist(P + (size_t)k * k_dims, cent + (1 - own) * k_dims, k_dims));
            double margin = d_own + d_oth > 0 ? (d_oth - d_own) / (d_own + d_oth) : 0;
            double own_share = (double)size[own] / nc;
            out->sample_score[idx[k]] = (float)(1 - own_share + 0.001 * margin * (own == small ? 1 : -1));
            if (flag && own == small) out->sample_flag[idx[k]] = 1;
        }
    }
done:
    if (!st) {
        out->extra_json = cJSON_CreateObject();
        cJSON_AddItemToObject(out->extra_json, "labels", labels);
    } else {
        cJSON_Delete(labels);
    }
    free(R);
    free(Rc);
    free(P);
    free(idx);
    free(assign);
    return st;
}
