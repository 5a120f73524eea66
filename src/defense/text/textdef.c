// textdef.c: shared pieces of the text defences (see textdef.h).
#include "defense/text/textdef.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "defense/features.h"

Status tdef_need_tokens(const Dataset *d, const char *what, const char *defence) {
    if (!d) return bl_fail(BL_ERR_USAGE, "%s: no %s", defence, what);
    if (d->kind != DS_TOKENS || !d->lexicon || !d->tok_offset)
        return bl_fail(BL_ERR_USAGE, "%s: the %s holds %s, not messages (a text defence needs a tokens dataset)",
                       defence, what, ds_kind_name(d->kind));
    return BL_OK;
}

Status tdef_need_text_model(const Model *m, const Dataset *d, const char *defence) {
    if (!m || m->nlayers < 1 || strcmp(m->layers[0].ops->name, "embed") || !m->vocab)
        return bl_fail(BL_ERR_USAGE, "%s: the model does not read tokens (it needs a leading embed layer and a fitted "
                       "vocabulary: the fasttext or textcnn preset)", defence);
    if ((int)shape_size(m->input) != d->c)
        return bl_fail(BL_ERR_DATA, "%s: the model reads %d tokens but the messages are cut at %d", defence,
                       (int)shape_size(m->input), d->c);
    return BL_OK;
}

void tdef_load_ids(Model *m, const Dataset *d, float *ids, int *len) {
    enum { CHUNK = 256 };
    int idx[CHUNK];
    uint8_t y[CHUNK];
    const int L = d->c;
    for (int s = 0; s < d->n; s += CHUNK) {
        int B = BL_MIN(CHUNK, d->n - s);
        for (int b = 0; b < B; b++) idx[b] = s + b;
        batch_load(m, d, idx, B, ids + (size_t)s * L, y);
    }
    for (int i = 0; i < d->n; i++) {
        const float *r = ids + (size_t)i * L;
        int n = 0;
        while (n < L && r[n] != 0.0f) n++; // batch_load pads only at the end
        len[i] = n;
    }
}

Status tdef_thresholds(const float *cal, int n, int normal, DefenseResult *out, cJSON *ex) {
    if (n < 2) return bl_fail(BL_ERR_DATA, "too few clean messages (%d) to set thresholds", n);
    double mu = 0, var = 0;
    for (int i = 0; i < n; i++) mu += cal[i];
    mu /= n;
    for (int i = 0; i < n; i++) var += (cal[i] - mu) * (cal[i] - mu);
    const double sigma = sqrt(var / (n - 1));
    if (!isfinite(mu) || !isfinite(sigma))
        return bl_fail(BL_ERR_DATA, "the clean scores are not finite (the model outputs NaN?)");
    cJSON *tj = ex ? cJSON_AddObjectToObject(ex, "thresholds") : NULL;
    for (int f = 0; f < DEFENSE_NFRR; f++) {
        const double frr = defense_frr_targets[f];
        // flag when score > t: the normal fit puts t at the (1 - frr) quantile of the clean scores
        out->thresholds[f] = normal ? mu - sigma * feat_normal_quantile(frr) : feat_upper_threshold(cal, n, frr);
        char key[16];
        snprintf(key, sizeof key, "%g", frr);
        if (tj) cJSON_AddNumberToObject(tj, key, out->thresholds[f]);
    }
    if (ex) {
        cJSON_AddNumberToObject(ex, "clean_score_mean", mu);
        cJSON_AddNumberToObject(ex, "clean_score_std", sigma);
        cJSON_AddStringToObject(ex, "boundary", normal ? "normal-fit" : "empirical");
    }
    return BL_OK;
}
