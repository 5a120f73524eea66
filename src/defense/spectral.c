// spectral.c: Spectral Signatures (Tran, Li, Madry 2018). Per label, poisoned samples leave a trace along the
// top singular direction of the (centred) penultimate representations; score each sample by its squared
// projection on that direction and remove the top 1.5*eps of every label.
//
// The flag rule is per label. For one AUROC over the whole training set the scores must be compared across
// labels: by default each is divided by its label's mean score (= the top eigenvalue), which makes labels
// comparable but hides a label whose top eigenvalue stands out; normalise = 0 keeps the raw squared projections
// (a large eigenvalue then ranks the whole label high).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/features.h"

static const DefenseParamSpec g_params[] = {
    {"eps", DEF_REAL, 0.1, 0.0, 0.5, "expected poison fraction per label; the top ceil(1.5*eps*n) of each "
                                     "label are removed"},
    {"uncentred", DEF_INT, 0, 0, 1, "1 = score |v.R_i| on uncentred representations, as the official and ART code"},
    {"iters", DEF_INT, 100, 1, 10000, "power iterations for the top singular vector"},
    {"min_class", DEF_INT, 3, 2, 1000000, "labels with fewer samples are skipped (noted)"},
    {"normalise", DEF_INT, 1, 0, 1, "1 = divide scores by their label's mean before the global ranking; "
                                    "0 = raw scores"},
};

typedef struct {
    float s; // score
    int i;   // sample position
} Ranked;

static int cmp_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i); // ties: lower position first, so the order is reproducible
}

static Status spectral_run(const DefenseContext *ctx, DefenseResult *out);

const DefenseOps spectral_defense = {
    .name = "spectral",
    .level = DEF_SAMPLES,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "Spectral Signatures (Tran et al. 2018): per label, squared projection on the top singular vector",
    .run = spectral_run,
};

static Status spectral_run(const DefenseContext *ctx, DefenseResult *out) {
    const DefenseOps *ops = &spectral_defense;
    const Dataset *tr = ctx->train;
    const double eps = defense_param(ops, ctx->params, "eps");
    const int uncentred = defense_param(ops, ctx->params, "uncentred") != 0;
    const int iters = (int)defense_param(ops, ctx->params, "iters");
    const int min_class = (int)defense_param(ops, ctx->params, "min_class");
    const int normalise = defense_param(ops, ctx->params, "normalise") != 0;
    const int n = tr->n, D = feat_dim(ctx->model), K = tr->num_classes;
    if (D < 1) return bl_fail(BL_ERR_USAGE, "spectral: the model has no penultimate layer");
    out->sample_score = calloc((size_t)BL_MAX(n, 1), sizeof(float));
    out->sample_flag = calloc((size_t)BL_MAX(n, 1), 1);
    float *R = malloc((size_t)BL_MAX(n, 1) * D * sizeof(float)), *Rc = NULL;
    int *idx = malloc((size_t)BL_MAX(n, 1) * sizeof(int));
    double *mean = malloc((size_t)D * sizeof(double)), *v = malloc((size_t)D * sizeof(double));
    Ranked *rk = malloc((size_t)BL_MAX(n, 1) * sizeof(Ranked));
    Status st = BL_OK;
    if (!out->sample_score || !out->sample_flag || !R || !idx || !mean || !v || !rk) {
        st = bl_fail(BL_ERR_RUN, "spectral: out of memory");
        goto done;
    }
    if ((st = feat_penultimate(ctx->model, tr, NULL, n, R))) goto done;
    Rc = malloc((size_t)BL_MAX(n, 1) * D * sizeof(float)); // one label's rows, contiguous
    if (!Rc) {
        st = bl_fail(BL_ERR_RUN, "spectral: out of memory");
        goto done;
    }
    Rng rng = rng_stream(ctx->seed, "spectral");
    cJSON *labels = cJSON_CreateArray();
    for (int c = 0; c < K; c++) {
        cJSON *lj;
        int nc = feat_label_rows(tr, c, R, D, min_class, idx, Rc, out, labels, &lj);
        if (!nc) continue;
        for (int j = 0; j < D; j++) mean[j] = 0;
        for (int k = 0; k < nc; k++)
            for (int j = 0; j < D; j++) mean[j] += Rc[(size_t)k * D + j];
        for (int j = 0; j < D; j++) mean[j] /= nc;
        double sigma2 = 0;
        if ((st = feat_top_singular(Rc, nc, D, mean, iters, &rng, v, &sigma2))) {
            cJSON_Delete(labels);
            goto done;
        }
        cJSON_AddNumberToObject(lj, "top_eigenvalue", sigma2);
        if (!(sigma2 > 0)) {
            defense_note(out, "label %d: all representations identical, nothing to rank", c);
            cJSON_AddStringToObject(lj, "skipped", "zero variance");
            continue;
        }
        double total = 0;
        for (int k = 0; k < nc; k++) {
            const float *x = Rc + (size_t)k * D;
            double p = 0;
            for (int j = 0; j < D; j++) p += (x[j] - (uncentred ? 0 : mean[j])) * v[j];
            double s = uncentred ? fabs(p) : p * p;
            rk[k].s = (float)s, rk[k].i = idx[k];
            total += s;
        }
        double norm = normalise && total > 0 ? nc / total : 1; // score / (label mean score)
        for (int k = 0; k < nc; k++) out->sample_score[rk[k].i] = (float)(rk[k].s * norm);
        int remove = (int)ceil(1.5 * eps * nc - 1e-9);
        if (remove > nc) remove = nc;
        qsort(rk, (size_t)nc, sizeof *rk, cmp_desc);
        for (int k = 0; k < remove; k++) out->sample_flag[rk[k].i] = 1;
        cJSON_AddNumberToObject(lj, "removed", remove);
    }
    out->extra_json = cJSON_CreateObject();
    cJSON_AddItemToObject(out->extra_json, "labels", labels);
done:
    free(R);
    free(Rc);
    free(idx);
    free(mean);
    free(v);
    free(rk);
    return st;
}
