// safetensors.c: safetensors writer and strict reader, float32 only (see safetensors.h).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/atomic.h"
#include "io/safetensors.h"

Status st_write(const char *path, const StTensor *t, int n, const char *const *meta) {
    cJSON *h = cJSON_CreateObject();
    if (!h) return bl_fail(BL_ERR_RUN, "out of memory");
    if (meta) {
        cJSON *m = cJSON_AddObjectToObject(h, "__metadata__");
        for (int i = 0; meta[i] && meta[i + 1]; i += 2) cJSON_AddStringToObject(m, meta[i], meta[i + 1]);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_AddObjectToObject(h, t[i].name);
        cJSON_AddStringToObject(o, "dtype", "F32");
        cJSON *s = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < t[i].ndim; d++) cJSON_AddItemToArray(s, cJSON_CreateNumber((double)t[i].shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += t[i].count * sizeof(float);
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    char *js = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!js) return bl_fail(BL_ERR_RUN, "out of memory");
    size_t len = strlen(js), padded = (len + 7) / 8 * 8;
    uint8_t pre[8];
    for (int b = 0; b < 8; b++) pre[b] = (uint8_t)((uint64_t)padded >> (8 * b));
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) {
        free(js);
        return st;
    }
    int ok = fwrite(pre, 1, 8, af.f) == 8 && fwrite(js, 1, len, af.f) == len;
    for (size_t p = len; ok && p < padded; p++) ok = fputc(' ', af.f) != EOF;
    for (int i = 0; ok && i < n; i++)
        ok = t[i].count == 0 || fwrite(t[i].data, sizeof(float), t[i].count, af.f) == t[i].count;
    free(js);
    return atomic_commit(&af, ok);
}

static int cmp_tensor_off(const void *a, const void *b) {
    const StTensor *x = a, *y = b; // data holds the begin offset (as an integer) while sorting
    uintptr_t u = (uintptr_t)x->data, v = (uintptr_t)y->data;
    return u < v ? -1 : u > v;
}

// A JSON number that is a whole number in [0, max].
static int json_index(const cJSON *v, double max, uint64_t *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max || v->valuedouble != (double)(uint64_t)v->valuedouble)
        return 0;
    *out = (uint64_t)v->valuedouble;
    return 1;
}

Status st_read(const char *path, size_t max_bytes, StFile *out) {
    memset(out, 0, sizeof *out);
    FILE *f;
    size_t flen;
    Status st = file_open_capped(path, max_bytes, &f, &flen);
    if (st) return st;
    char *hj = NULL;
    cJSON *h = NULL;
    uint8_t pre[8];
    if (flen < 8 || fread(pre, 1, 8, f) != 8) {
        st = bl_fail(BL_ERR_DATA, "%s: too short for a safetensors file", path);
        goto done;
    }
    uint64_t hlen = 0;
    for (int b = 0; b < 8; b++) hlen |= (uint64_t)pre[b] << (8 * b);
    if (hlen < 2 || hlen > (uint64_t)flen - 8 || hlen > (100u << 20)) {
        st = bl_fail(BL_ERR_DATA, "%s: header length %llu does not fit the file (%zu bytes)", path,
                     (unsigned long long)hlen, flen);
        goto done;
    }
    if (!(hj = malloc(hlen + 1)) || fread(hj, 1, hlen, f) != hlen) {
        st = bl_fail(hj ? BL_ERR_DATA : BL_ERR_RUN, "%s: %s", path, hj ? "truncated header" : "out of memory");
        goto done;
    }
    hj[hlen] = 0;
    if (strlen(hj) != hlen || !(h = cJSON_Parse(hj)) || !cJSON_IsObject(h)) {
        st = bl_fail(BL_ERR_DATA, "%s: the header is not a JSON object", path);
        goto done;
    }
    size_t dlen = flen - 8 - hlen;
    int n = 0;
    for (cJSON *e = h->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    out->tensors = calloc((size_t)(n ? n : 1), sizeof(StTensor));
    if (!out->tensors) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    for (cJSON *e = h->child; e && !st; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) st = bl_fail(BL_ERR_DATA, "%s: __metadata__ is not an object", path);
            for (cJSON *m = e->child; m && !st; m = m->next)
                if (!cJSON_IsString(m)) st = bl_fail(BL_ERR_DATA, "%s: metadata '%s' is not a string", path, m->string);
            continue;
        }
        StTensor *t = &out->tensors[out->ntensors++];
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(e, "shape"),
                    *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (strlen(e->string) >= sizeof t->name || !e->string[0]) {
            st = bl_fail(BL_ERR_DATA, "%s: a tensor name is empty or longer than %zu bytes", path, sizeof t->name - 1);
            break;
        }
        snprintf(t->name, sizeof t->name, "%s", e->string);
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32")) {
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' is not F32 (only float32 tensors are read)", path, t->name);
            break;
        }
        int nd = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
        if (nd < 0 || nd > ST_MAX_DIMS || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2) {
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' needs a shape (up to %d dims) and two data_offsets", path,
                         t->name, ST_MAX_DIMS);
            break;
        }
        t->ndim = nd, t->count = 1;
        for (int d = 0; d < nd && !st; d++) {
            uint64_t v;
            if (!json_index(cJSON_GetArrayItem(sh, d), (double)dlen, &v)) {
                st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' has a bad dimension", path, t->name);
                break;
            }
            t->shape[d] = (int64_t)v;
            if (v && t->count > dlen / v) st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' is larger than the file", path, t->name);
            else t->count *= (size_t)v;
        }
        uint64_t b = 0, en = 0;
        if (!st && (!json_index(cJSON_GetArrayItem(of, 0), (double)dlen, &b) ||
                    !json_index(cJSON_GetArrayItem(of, 1), (double)dlen, &en) || en < b ||
                    en - b != t->count * sizeof(float)))
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s': data_offsets do not hold its %zu floats inside the data", path,
                         t->name, t->count);
        t->data = (const float *)(uintptr_t)b; // begin offset, until the data is read
    }
    if (st) goto done;
    // contiguous, no overlap, everything covered (the spec forbids holes: a hole could hide bytes)
    qsort(out->tensors, (size_t)out->ntensors, sizeof(StTensor), cmp_tensor_off);
    size_t pos = 0;
    for (int i = 0; i < out->ntensors && !st; i++) {
        if ((size_t)(uintptr_t)out->tensors[i].data != pos)
            st = bl_fail(BL_ERR_DATA, "%s: tensor '%s' leaves a hole or overlaps another", path, out->tensors[i].name);
        pos += out->tensors[i].count * sizeof(float);
    }
    if (!st && pos != dlen)
        st = bl_fail(BL_ERR_DATA, "%s: the tensors hold %zu bytes but the file has %zu after the header", path, pos, dlen);
    if (st) goto done;
    if (!(out->data = malloc(dlen ? dlen : 1))) {
        st = bl_fail(BL_ERR_RUN, "out of memory");
        goto done;
    }
    if (dlen && fread(out->data, 1, dlen, f) != dlen) {
        st = bl_fail(BL_ERR_DATA, "%s: truncated data", path);
        goto done;
    }
    for (int i = 0; i < out->ntensors; i++)
        out->tensors[i].data = out->data + (size_t)(uintptr_t)out->tensors[i].data / sizeof(float);
    cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(h, "__metadata__");
    out->meta = meta;
done:
    fclose(f);
    free(hj);
    cJSON_Delete(h);
    if (st) st_free(out);
    return st;
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    const cJSON *v = f->meta ? cJSON_GetObjectItemCaseSensitive((const cJSON *)f->meta, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void st_free(StFile *f) {
    if (!f) return;
    free(f->tensors);
    free(f->data);
    cJSON_Delete((cJSON *)f->meta);
    memset(f, 0, sizeof *f);
}
