// checkpoint.c: glue between Model (flat parameter buffer with named views) and the .bdm format.
#include "nn/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/keys.h"
#include "io/modelfile.h"

Status model_save(const Model *m, const char *path, const char *provenance, char hex_out[65]) {
    ParamView views[2 * MODEL_MAX_LAYERS];
    BdmTensor t[2 * MODEL_MAX_LAYERS];
    int n = model_param_views(m, views, (int)BL_ARRAY_LEN(views));
    for (int i = 0; i < n; i++) {
        memset(&t[i], 0, sizeof t[i]);
        memcpy(t[i].name, views[i].name, sizeof t[i].name);
        t[i].ndim = views[i].ndim;
        memcpy(t[i].dims, views[i].dims, sizeof t[i].dims);
        t[i].count = views[i].count;
        t[i].data = views[i].data;
    }
    if (!m->vocab) return bdm_write(path, 0, m->desc, provenance, t, n, hex_out);
    // A text model's preprocessing goes with it, as provenance lines (nn/vocab.h).
    char *prov = NULL;
    if (provenance && *provenance) {
        size_t len = strlen(provenance);
        if (!(prov = malloc(len + 2))) return bl_fail(BL_ERR_RUN, "out of memory");
        memcpy(prov, provenance, len + 1);
        if (provenance[len - 1] != '\n') strcat(prov, "\n");
    }
    Status st = vocab_append_lines(m->vocab, &prov);
    if (!st) st = bdm_write(path, 0, m->desc, prov, t, n, hex_out);
    free(prov);
    return st;
}

Status model_load(const char *path, Shape input, int num_classes, int max_batch, const char *expected_desc,
                  Model *m, char hex_out[65]) {
    return model_load_trusted(path, NULL, input, num_classes, max_batch, expected_desc, m, hex_out);
}

Status model_load_trusted(const char *path, const char *trusted_key, Shape input, int num_classes, int max_batch,
                          const char *expected_desc, Model *m, char hex_out[65]) {
    uint8_t pk[KEYS_PUBLIC_BYTES];
    int have_key = trusted_key && trusted_key[0];
    if (have_key) {
        Status kst = keys_load_public(trusted_key, pk);
        if (kst) return bl_fail_ctx(kst, "--trusted-key");
    }
    BdmModel f;
    Status st = bdm_read_trusted(path, have_key ? pk : NULL, &f);
    if (st) return st;
    if (expected_desc) {
        // compare canonical forms, so "reference-cnn" matches its expansion
        Model want;
        st = model_build(&want, expected_desc, input, num_classes, 1);
        if (st) goto done;
        int same = strcmp(want.desc, f.desc) == 0;
        if (!same) {
            st = bl_fail(BL_ERR_DATA, "%s: the model's network '%s' differs from the config's '%s'", path, f.desc,
                         want.desc);
            model_free(&want);
            goto done;
        }
        model_free(&want);
    }
    // The description sizes every allocation below: a few hundred bytes naming "dense 1048576" would otherwise
    // cost gigabytes before the tensors are compared. Its parameters must be exactly the ones the file holds
    // (payload_count was checked against the file's length), so a hostile description cannot ask for more.
    size_t nparams = 0;
    st = model_count_params(f.desc, input, num_classes, &nparams);
    if (!st && nparams != f.payload_count) {
        st = bl_fail(BL_ERR_DATA, "%s: its network '%s' has %zu parameters but the file holds %zu values", path,
                     f.desc, nparams, f.payload_count);
        goto done;
    }
    if (!st) st = model_build(m, f.desc, input, num_classes, max_batch);
    if (st) {
        st = bl_fail_ctx(BL_ERR_DATA, "%s: its network does not fit %dx%dx%d inputs with %d classes", path,
                         input.c, input.h, input.w, num_classes);
        goto done;
    }
    ParamView views[2 * MODEL_MAX_LAYERS];
    int n = model_param_views(m, views, (int)BL_ARRAY_LEN(views));
    if (n != f.ntensors) {
        st = bl_fail(BL_ERR_DATA, "%s: has %d tensors, its network needs %d", path, f.ntensors, n);
        goto fail_model;
    }
    for (int i = 0; i < n; i++) {
        const BdmTensor *t = bdm_find(&f, views[i].name);
        if (!t || t->count != views[i].count || t->ndim != views[i].ndim ||
            memcmp(t->dims, views[i].dims, (size_t)t->ndim * sizeof(int)) != 0) {
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' is missing or has the wrong shape", path, views[i].name);
            goto fail_model;
        }
        memcpy(views[i].data, t->data, t->count * sizeof(float));
    }
    if ((st = vocab_from_provenance(f.provenance, &m->vocab))) {
        st = bl_fail_ctx(st, "%s", path);
        goto fail_model;
    }
    if (m->nlayers && strcmp(m->layers[0].ops->name, "embed") == 0) {
        if (!m->vocab || m->vocab->size > m->layers[0].units || m->vocab->max_tokens != input.c) {
            st = bl_fail(BL_ERR_DATA, "%s: a text model without a vocabulary that fits its embed layer and %d-token "
                         "inputs", path, input.c);
            goto fail_model;
        }
    }
    if (hex_out) memcpy(hex_out, f.sha256_hex, 65);
    goto done;
fail_model:
    model_free(m);
done:
    bdm_free(&f);
    return st;
}
