// npy.c: NumPy .npy writer and strict reader (see npy.h).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/atomic.h"
#include "io/npy.h"

static const struct {
    NpyType t;
    const char *descr; // as written; the reader also accepts '|u1'/'<u1', '|b1'
    size_t size;
} g_types[] = {
    {NPY_F32, "<f4", 4}, {NPY_F64, "<f8", 8}, {NPY_U8, "|u1", 1},
    {NPY_BOOL, "|b1", 1}, {NPY_I32, "<i4", 4}, {NPY_I64, "<i8", 8},
};

size_t npy_type_size(NpyType t) {
    for (size_t i = 0; i < BL_ARRAY_LEN(g_types); i++)
        if (g_types[i].t == t) return g_types[i].size;
    return 0;
}

Status npy_write(const char *path, NpyType t, int ndim, const int64_t *shape, const void *data) {
    const char *descr = NULL;
    for (size_t i = 0; i < BL_ARRAY_LEN(g_types); i++)
        if (g_types[i].t == t) descr = g_types[i].descr;
    if (!descr || ndim < 0 || ndim > NPY_MAX_DIMS) return bl_fail(BL_ERR_USAGE, "%s: bad array type or rank", path);
    char head[512];
    int len = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += snprintf(head + len, sizeof head - (size_t)len, "%lld%s", (long long)shape[i],
                        ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
        count *= (size_t)shape[i];
    }
    len += snprintf(head + len, sizeof head - (size_t)len, "), }");
    // pad with spaces and a final '\n' so that 10 + header length is a multiple of 64
    int total = (10 + len + 1 + 63) / 64 * 64, hlen = total - 10;
    if (hlen >= (int)sizeof head) return bl_fail(BL_ERR_USAGE, "%s: header too long", path);
    memset(head + len, ' ', (size_t)(hlen - 1 - len));
    head[hlen - 1] = '\n';
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    int ok = fwrite(pre, 1, 10, af.f) == 10 && fwrite(head, 1, (size_t)hlen, af.f) == (size_t)hlen &&
             (count == 0 || fwrite(data, npy_type_size(t), count, af.f) == count); // x86/aarch64: little-endian
    return atomic_commit(&af, ok);
}

// The value of `key` in the header dict: the text after "'key':", spaces skipped.
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p || strstr(p + 1, pat)) return NULL; // missing or repeated
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
}

Status npy_read(const char *path, size_t max_bytes, NpyArray *out) {
    memset(out, 0, sizeof *out);
    FILE *f;
    size_t flen;
    Status st = file_open_capped(path, max_bytes, &f, &flen);
    if (st) return st;
    uint8_t pre[12];
    char *head = NULL;
    if (flen < 10 || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || (pre[6] != 1 && pre[6] != 2)) {
        st = bl_fail(BL_ERR_DATA, "%s: not a .npy file (magic \\x93NUMPY, version 1 or 2)", path);
        goto done;
    }
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8, off = 10;
    if (pre[6] == 2) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = bl_fail(BL_ERR_DATA, "%s: truncated header", path);
            goto done;
        }
        hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24, off = 12;
    }
    if (hlen > 65536 || off + hlen > flen) {
        st = bl_fail(BL_ERR_DATA, "%s: header length %zu does not fit the file", path, hlen);
        goto done;
    }
    head = malloc(hlen + 1);
    if (!head || fread(head, 1, hlen, f) != hlen) {
        st = bl_fail(head ? BL_ERR_DATA : BL_ERR_RUN, "%s: %s", path, head ? "truncated header" : "out of memory");
        goto done;
    }
    head[hlen] = 0;
    if (strlen(head) != hlen) {
        st = bl_fail(BL_ERR_DATA, "%s: NUL byte in the header", path);
        goto done;
    }
    const char *d = dict_value(head, "descr"), *fo = dict_value(head, "fortran_order"), *sh = dict_value(head, "shape");
    if (!d || !fo || !sh || head[0] != '{') {
        st = bl_fail(BL_ERR_DATA, "%s: header is not a dict with descr, fortran_order and shape", path);
        goto done;
    }
    int found = 0; // descr is a quoted 3-character code: '<f4' (check the quotes before reading past them)
    for (size_t i = 0; i < BL_ARRAY_LEN(g_types) && !found && d[0] == '\'' && strnlen(d, 5) == 5; i++) {
        const char *g = g_types[i].descr;
        char alt[8];
        snprintf(alt, sizeof alt, "%c%s", g[0] == '|' ? '<' : '|', g + 1); // '<u1' == '|u1'
        if ((!strncmp(d + 1, g, 3) || (g_types[i].size == 1 && !strncmp(d + 1, alt, 3))) && d[4] == '\'')
            out->type = g_types[i].t, found = 1;
    }
    if (!found) {
        st = bl_fail(BL_ERR_DATA, "%s: dtype %.8s is not one of <f4 <f8 |u1 |b1 <i4 <i8 (little-endian)", path, d);
        goto done;
    }
    if (strncmp(fo, "False", 5)) {
        st = bl_fail(BL_ERR_DATA, "%s: fortran_order must be False", path);
        goto done;
    }
    if (*sh != '(') {
        st = bl_fail(BL_ERR_DATA, "%s: shape is not a tuple", path);
        goto done;
    }
    const char *p = sh + 1;
    size_t count = 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > (1LL << 40) || out->ndim == NPY_MAX_DIMS) {
            st = bl_fail(BL_ERR_DATA, "%s: bad shape tuple", path);
            goto done;
        }
        out->shape[out->ndim++] = v;
        count = v == 0 ? 0 : count > ((size_t)1 << 40) / (size_t)v ? ((size_t)1 << 41) : count * (size_t)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') {
            st = bl_fail(BL_ERR_DATA, "%s: bad shape tuple", path);
            goto done;
        }
    }
    size_t es = npy_type_size(out->type), have = flen - off - hlen;
    if (count > ((size_t)1 << 40) || count * es != have) {
        st = bl_fail(BL_ERR_DATA, "%s: the shape says %zu values (%zu bytes) but the file holds %zu data bytes", path,
                     count, count * es, have);
        goto done;
    }
    out->count = count;
    out->data = malloc(have ? have : 1);
    if (!out->data) {
        st = bl_fail(BL_ERR_RUN, "%s: out of memory", path);
        goto done;
    }
    if (have && fread(out->data, 1, have, f) != have) st = bl_fail(BL_ERR_DATA, "%s: truncated data", path);
done:
    fclose(f);
    free(head);
    if (st) npy_free(out);
    return st;
}

Status npy_read_vector(const char *path, size_t n, double **out) {
    *out = NULL;
    NpyArray a;
    Status st = npy_read(path, 64 + n * 8 + 65536 + 12, &a);
    if (st) return st;
    if (a.ndim != 1 || a.count != n) {
        char shp[128] = "";
        for (int i = 0, len = 0; i < a.ndim; i++)
            len += snprintf(shp + len, sizeof shp - (size_t)len, "%s%lld", i ? "," : "", (long long)a.shape[i]);
        npy_free(&a);
        return bl_fail(BL_ERR_DATA, "%s: expected %zu values in one dimension, got shape (%s)", path, n, shp);
    }
    double *v = malloc((n ? n : 1) * sizeof(double));
    if (!v) {
        npy_free(&a);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        switch (a.type) {
        case NPY_F32: v[i] = ((const float *)a.data)[i]; break;
        case NPY_F64: v[i] = ((const double *)a.data)[i]; break;
        case NPY_U8:
        case NPY_BOOL: v[i] = ((const uint8_t *)a.data)[i]; break;
        case NPY_I32: v[i] = ((const int32_t *)a.data)[i]; break;
        case NPY_I64: v[i] = (double)((const int64_t *)a.data)[i]; break;
        }
    }
    npy_free(&a);
    *out = v;
    return BL_OK;
}

void npy_free(NpyArray *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
