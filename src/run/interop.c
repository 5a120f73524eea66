// interop.c: safetensors and .npy out, safetensors back in (see interop.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/keys.h"
#include "io/modelfile.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "run/interop.h"
#include "train/train.h"

const char *interop_input_kind(const Model *m) {
    if (m->vocab) return "tokens";
    if (m->nlayers > 0 && !strcmp(m->layers[0].ops->name, "standardize")) return "records";
    return "images";
}

// One tensor per parameter view, under its Sequential name, in the shape PyTorch gives it.
static int model_tensors(const Model *m, StTensor *t, int max) {
    ParamView v[2 * MODEL_MAX_LAYERS];
    int nv = model_param_views(m, v, (int)BL_ARRAY_LEN(v)), n = 0;
    for (int i = 0; i < nv && n < max; i++, n++) {
        int layer = atoi(v[i].name);
        const Layer *l = &m->layers[layer];
        int is_bias = strstr(v[i].name, ".bias") != NULL, is_std = !strcmp(l->ops->name, "standardize");
        memset(&t[n], 0, sizeof t[n]);
        snprintf(t[n].name, sizeof t[n].name, "%d.%s", layer,
                 is_std ? (is_bias ? "scale" : "mean") : (is_bias ? "bias" : "weight"));
        t[n].data = v[i].data, t[n].count = v[i].count;
        if (is_std || is_bias) t[n].ndim = 1, t[n].shape[0] = (int64_t)v[i].count;
        else {
            t[n].ndim = v[i].ndim;
            for (int d = 0; d < v[i].ndim; d++) t[n].shape[d] = v[i].dims[d];
        }
    }
    return n;
}

static cJSON *shape_json(Shape s) {
    int v[3] = {s.c, s.h, s.w};
    return cJSON_CreateIntArray(v, 3);
}

// The "layers" metadata: one object per network item, enough to rebuild the nn.Sequential.
static char *layers_json(const Model *m) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < m->nlayers; i++) {
        const Layer *l = &m->layers[i];
        const char *k = l->ops->name;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "kind", k);
        cJSON_AddItemToObject(o, "in", shape_json(l->in));
        cJSON_AddItemToObject(o, "out", shape_json(l->out));
        if (!strcmp(k, "conv")) {
            cJSON_AddNumberToObject(o, "in_channels", l->in.c);
            cJSON_AddNumberToObject(o, "out_channels", l->units);
            cJSON_AddNumberToObject(o, "kernel_size", l->k);
            cJSON_AddNumberToObject(o, "stride", l->stride);
            cJSON_AddNumberToObject(o, "padding", l->pad);
        } else if (!strcmp(k, "dense")) {
            cJSON_AddNumberToObject(o, "in_features", (double)shape_size(l->in));
            cJSON_AddNumberToObject(o, "out_features", l->units);
        } else if (!strcmp(k, "maxpool") || !strcmp(k, "avgpool")) {
            cJSON_AddNumberToObject(o, "kernel_size", l->k);
            cJSON_AddNumberToObject(o, "stride", l->stride);
        } else if (!strcmp(k, "embed")) {
            cJSON_AddNumberToObject(o, "num_embeddings", l->units);
            cJSON_AddNumberToObject(o, "embedding_dim", l->k);
        } else if (!strcmp(k, "conv1d")) {
            cJSON_AddNumberToObject(o, "out_channels", l->units);
            cJSON_AddItemToObject(o, "widths", cJSON_CreateIntArray(l->ks, l->nk));
        } else if (!strcmp(k, "standardize")) {
            cJSON_AddNumberToObject(o, "features", l->units);
        }
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static const char *preprocessing(const char *kind) {
    if (!strcmp(kind, "records"))
        return "per sample 2F float32 values: F raw feature values in the file's units (0 where missing), then F "
               "missing flags (1 = missing); item 0 (standardize) maps value j to (x - mean[j]) * scale[j] and "
               "passes the flags through";
    if (!strcmp(kind, "tokens"))
        return "per sample L token ids of the model's vocabulary (text_vocab: id = line + 2; 0 = padding, 1 = out "
               "of vocabulary), from the tokenizer text_tokenizer, at most text_max_tokens ids";
    return "per sample (C,H,W) float32 pixels in [0,1] (byte / 255), no mean or std normalisation";
}

Status interop_model_write(const Model *m, const char *source_sha256, const char *signer, const char *path) {
    StTensor t[2 * MODEL_MAX_LAYERS];
    int n = model_tensors(m, t, (int)BL_ARRAY_LEN(t));
    char *layers = layers_json(m), classes[16], shape[64];
    if (!layers) return bl_fail(BL_ERR_RUN, "out of memory");
    snprintf(classes, sizeof classes, "%d", m->num_classes);
    snprintf(shape, sizeof shape, "%d,%d,%d", m->input.c, m->input.h, m->input.w);
    const char *kind = interop_input_kind(m);
    const char *meta[32] = {"format", "backdoorlab-model/1", "architecture", m->desc, "layers", layers,
                            "num_classes", classes, "input_shape", shape, "input_kind", kind,
                            "preprocessing", preprocessing(kind)};
    int nm = 14;
    if (source_sha256 && *source_sha256) meta[nm++] = "source_sha256", meta[nm++] = source_sha256;
    if (signer && *signer) meta[nm++] = "signer", meta[nm++] = signer;
    char *vocab = NULL, tok_max[16], tok_subj[8];
    if (m->vocab) { // the words one per line, id = line + 2 (vocab_append_lines writes the same list)
        const Vocab *v = m->vocab;
        size_t len = 1;
        for (int i = 2; i < v->size; i++) len += strlen(v->words[i]) + 1;
        if (!(vocab = malloc(len))) {
            free(layers);
            return bl_fail(BL_ERR_RUN, "out of memory");
        }
        size_t p = 0;
        for (int i = 2; i < v->size; i++) p += (size_t)sprintf(vocab + p, "%s\n", v->words[i]);
        vocab[p] = 0;
        snprintf(tok_max, sizeof tok_max, "%d", v->max_tokens);
        snprintf(tok_subj, sizeof tok_subj, "%d", v->subject);
        meta[nm++] = "text_tokenizer", meta[nm++] = v->tokenizer;
        meta[nm++] = "text_max_tokens", meta[nm++] = tok_max;
        meta[nm++] = "text_subject", meta[nm++] = tok_subj;
        meta[nm++] = "text_vocab", meta[nm++] = vocab;
    }
    meta[nm] = NULL;
    Status st = st_write(path, t, n, meta);
    free(layers);
    free(vocab);
    return st;
}

Status interop_model_read(const char *path, Model *m) {
    StFile f;
    Status st = st_read(path, (size_t)64 << 20 | (m->nparams * sizeof(float) + (32u << 20)), &f);
    if (st) return st;
    StTensor want[2 * MODEL_MAX_LAYERS];
    int n = model_tensors(m, want, (int)BL_ARRAY_LEN(want));
    if (f.ntensors != n) st = bl_fail(BL_ERR_DATA, "%s: %d tensors, the model has %d", path, f.ntensors, n);
    for (int i = 0; i < n && !st; i++) {
        const StTensor *g = st_find(&f, want[i].name);
        int same = g && g->ndim == want[i].ndim;
        for (int d = 0; same && d < g->ndim; d++) same = g->shape[d] == want[i].shape[d];
        if (!same) {
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' is %s the model's", path, want[i].name,
                         g ? "not the shape of" : "missing from the file, which does not fit");
            break;
        }
        for (size_t k = 0; k < g->count && !st; k++)
            if (!isfinite(g->data[k])) st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' holds a non-finite value", path, g->name);
    }
    if (!st) // all checked: now copy (m is unchanged on any error above)
        for (int i = 0; i < n; i++)
            memcpy((float *)want[i].data, st_find(&f, want[i].name)->data, want[i].count * sizeof(float));
    st_free(&f);
    return st;
}

// The model's input shape and class count from its provenance ("input=1x28x28", "classes=10").
static Status prov_shape(const char *prov, Shape *in, int *classes) {
    const char *p = prov ? strstr(prov, "input=") : NULL, *c = prov ? strstr(prov, "classes=") : NULL;
    if (!p || (p != prov && p[-1] != '\n') || sscanf(p, "input=%dx%dx%d", &in->c, &in->h, &in->w) != 3 || !c ||
        (c != prov && c[-1] != '\n') || sscanf(c, "classes=%d", classes) != 1 || *classes < 2)
        return bl_fail(BL_ERR_DATA, "the model's provenance does not give input=CxHxW and classes=K");
    return BL_OK;
}

// Load a .bdm with the shape its provenance gives, for max_batch samples; bm receives the file's header.
static Status load_bdm(const char *bdm_path, const char *trusted_key, int max_batch, Model *m, BdmModel *bm) {
    uint8_t pk[32];
    Status st = BL_OK;
    if (trusted_key && *trusted_key && (st = keys_load_public(trusted_key, pk))) return st;
    memset(m, 0, sizeof *m);
    if ((st = bdm_read_trusted(bdm_path, trusted_key && *trusted_key ? pk : NULL, bm))) return st;
    Shape in;
    int classes = 0;
    st = prov_shape(bm->provenance, &in, &classes);
    if (st) bl_fail_ctx(st, "%s", bdm_path);
    // provenance names the data's shape; a records model reads each value and its missing flag (train_input_shape)
    if (!st && !strncmp(bm->desc, "standardize", 11)) in.c *= 2;
    if (!st) st = model_load_trusted(bdm_path, trusted_key, in, classes, max_batch, NULL, m, NULL);
    if (st) bdm_free(bm);
    return st;
}

Status interop_export_model_file(const char *bdm_path, const char *trusted_key, const char *out_path) {
    Model m;
    BdmModel bm;
    Status st = load_bdm(bdm_path, trusted_key, 1, &m, &bm);
    if (st) return st;
    st = interop_model_write(&m, bm.sha256_hex, bm.signer_fingerprint, out_path);
    model_free(&m);
    bdm_free(&bm);
    return st;
}

Status interop_logits(const char *bdm_path, const char *trusted_key, const char *x_path, const char *out_path) {
    enum { B = 256 };
    Model m;
    BdmModel bm;
    Status st = load_bdm(bdm_path, trusted_key, B, &m, &bm);
    if (st) return st;
    bdm_free(&bm);
    const size_t sz = shape_size(m.input), K = (size_t)m.num_classes;
    const int tokens = m.vocab != NULL;
    NpyArray x;
    memset(&x, 0, sizeof x);
    float *logits = NULL;
    if ((st = npy_read(x_path, (size_t)16 << 30, &x))) goto done;
    size_t per = 1;
    for (int d = 1; d < x.ndim; d++) per *= (size_t)x.shape[d];
    if (x.ndim < 2 || per != sz || x.type != (tokens ? NPY_I32 : NPY_F32)) {
        st = bl_fail(BL_ERR_DATA, "%s: expected %s inputs of %zu values each (N,%d,%d,%d), as `export --what data` "
                     "writes", x_path, tokens ? "int32" : "float32", sz, m.input.c, m.input.h, m.input.w);
        goto done;
    }
    size_t n = (size_t)x.shape[0];
    if (!(logits = malloc((n ? n : 1) * K * sizeof(float)))) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    for (size_t s = 0; s < n; s += B) {
        int nb = (int)BL_MIN((size_t)B, n - s);
        float *in = m.acts[0];
        for (size_t k = 0; k < (size_t)nb * sz; k++)
            in[k] = tokens ? (float)((const int32_t *)x.data)[s * sz + k] : ((const float *)x.data)[s * sz + k];
        if (tokens) // ids outside the vocabulary would index past the embedding: refuse, do not clamp
            for (size_t k = 0; k < (size_t)nb * sz; k++)
                if (in[k] < 0 || in[k] >= (float)m.layers[0].units) {
                    st = bl_fail(BL_ERR_DATA, "%s: token id %.0f outside the model's vocabulary", x_path, in[k]);
                    goto done;
                }
        memcpy(logits + s * K, model_forward(&m, nb), (size_t)nb * K * sizeof(float));
    }
    int64_t shape[2] = {(int64_t)n, (int64_t)K};
    st = npy_write(out_path, NPY_F32, 2, shape, logits);
done:
    npy_free(&x);
    free(logits);
    model_free(&m);
    return st;
}

Status interop_dataset_write(const Model *m, const Dataset *d, const char *dir, const char *prefix, int labels) {
    const int B = 256, sz = (int)shape_size(m->input), tokens = d->kind == DS_TOKENS;
    size_t n = (size_t)d->n, esz = tokens ? sizeof(int32_t) : sizeof(float);
    void *x = malloc((n ? n : 1) * (size_t)sz * esz);
    int64_t *y = malloc((n ? n : 1) * sizeof(int64_t));
    float *buf = malloc((size_t)B * sz * sizeof(float));
    uint8_t yb[256];
    int idx[256];
    if (!x || !y || !buf) {
        free(x), free(y), free(buf);
        return bl_fail(BL_ERR_RUN, "out of memory writing %s", prefix);
    }
    for (int s = 0; s < d->n; s += B) {
        int nb = BL_MIN(B, d->n - s);
        for (int b = 0; b < nb; b++) idx[b] = s + b;
        batch_load(m, d, idx, nb, buf, yb);
        size_t base = (size_t)s * sz;
        for (size_t k = 0; k < (size_t)nb * sz; k++) {
            if (tokens) ((int32_t *)x)[base + k] = (int32_t)buf[k];
            else ((float *)x)[base + k] = buf[k];
        }
        for (int b = 0; b < nb; b++) y[s + b] = yb[b];
    }
    free(buf);
    int64_t shape[4] = {(int64_t)n, m->input.c, m->input.h, m->input.w};
    int ndim = !strcmp(interop_input_kind(m), "images") ? 4 : 2;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s_x.npy", dir, prefix);
    Status st = npy_write(path, tokens ? NPY_I32 : NPY_F32, ndim, shape, x);
    if (!st && labels) {
        snprintf(path, sizeof path, "%s/%s_y.npy", dir, prefix);
        st = npy_write(path, NPY_I64, 1, shape, y);
    }
    free(x);
    free(y);
    return st;
}
