// dataset.c: Dataset lifetime (alloc, copy, select, free), schemas, the dataset hash and known dataset folders.
#include "data/dataset.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "data/text/lexicon.h"

const char *ds_kind_name(DsKind k) {
    switch (k) {
    case DS_IMAGES: return "images";
    case DS_RECORDS: return "records";
    case DS_TOKENS: return "tokens";
    }
    return "unknown";
}

void ds_free(Dataset *d) {
    if (!d) return;
    bl_free(d->images);
    bl_free(d->features);
    bl_free(d->missing);
    bl_free(d->labels);
    bl_free(d->orig_index);
    bl_free(d->tokens);
    bl_free(d->tok_offset);
    memset(d, 0, sizeof *d); // lexicon and class_names are the pair's
}

void ds_pair_free(DatasetPair *p) {
    if (!p) return;
    ds_free(&p->train);
    ds_free(&p->test);
    ds_schema_free(p->schema);
    lex_free(p->lexicon);
    bl_free(p->class_names);
    memset(p, 0, sizeof *p);
}

Status ds_schema_new(int nfeatures, int num_classes, DsSchema **out) {
    *out = NULL;
    if (nfeatures < 1 || num_classes < 1 || nfeatures > (1 << 24) || num_classes > 256)
        return bl_fail(BL_ERR_USAGE, "ds_schema_new: bad sizes (%d features, %d classes)", nfeatures,
                       num_classes);
    DsSchema *s = bl_alloc(sizeof *s);
    if (!s) return BL_ERR_RUN;
    memset(s, 0, sizeof *s);
    s->feature_names = bl_alloc((size_t)nfeatures * DS_NAME_MAX);
    s->class_names = bl_alloc((size_t)num_classes * DS_NAME_MAX);
    if (!s->feature_names || !s->class_names) {
        ds_schema_free(s);
        return BL_ERR_RUN;
    }
    memset(s->feature_names, 0, (size_t)nfeatures * DS_NAME_MAX);
    memset(s->class_names, 0, (size_t)num_classes * DS_NAME_MAX);
    s->nfeatures = nfeatures;
    s->num_classes = num_classes;
    *out = s;
    return BL_OK;
}

void ds_schema_free(DsSchema *s) {
    if (!s) return;
    bl_free(s->feature_names);
    bl_free(s->class_names);
    bl_free(s->train_sorted);
    bl_free(s->train_offset);
    bl_free(s);
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

Status ds_schema_fit(DsSchema *s, const Dataset *train) {
    if (!s || train->kind != DS_RECORDS || train->c != s->nfeatures)
        return bl_fail(BL_ERR_USAGE, "ds_schema_fit: needs a records training set shaped like the schema");
    const int F = s->nfeatures;
    bl_free(s->train_sorted);
    bl_free(s->train_offset);
    s->train_offset = bl_alloc((size_t)(F + 1) * sizeof(long));
    s->train_sorted = bl_alloc(((size_t)train->n * F + 1) * sizeof(float));
    if (!s->train_offset || !s->train_sorted) return BL_ERR_RUN;
    long pos = 0;
    for (int j = 0; j < F; j++) {
        s->train_offset[j] = pos;
        for (int i = 0; i < train->n; i++)
            if (!train->missing[(size_t)i * F + j]) s->train_sorted[pos++] = train->features[(size_t)i * F + j];
        qsort(s->train_sorted + s->train_offset[j], (size_t)(pos - s->train_offset[j]), sizeof(float), cmp_float);
    }
    s->train_offset[F] = pos;
    return BL_OK;
}

double ds_schema_quantile(const DsSchema *s, int j, double q) {
    if (!s || !s->train_offset || j < 0 || j >= s->nfeatures) return NAN;
    const long lo = s->train_offset[j], n = s->train_offset[j + 1] - lo;
    if (n <= 0) return NAN;
    const double r = (q <= 0 ? 0.0 : q >= 1 ? 1.0 : q) * (double)(n - 1);
    const long k = (long)r;
    const double frac = r - (double)k;
    const double a = s->train_sorted[lo + k], b = s->train_sorted[lo + (k + 1 < n ? k + 1 : k)];
    return a + frac * (b - a);
}

Status ds_alloc_records(Dataset *d, int n, int nfeatures, int num_classes, const DsSchema *schema) {
    memset(d, 0, sizeof *d);
    if (n < 0 || nfeatures < 1 || nfeatures > (1 << 24))
        return bl_fail(BL_ERR_USAGE, "ds_alloc_records: bad shape n=%d features=%d", n, nfeatures);
    size_t nn = (size_t)(n ? n : 1);
    d->features = bl_alloc(nn * (size_t)nfeatures * sizeof(float));
    d->missing = bl_alloc(nn * (size_t)nfeatures);
    d->labels = bl_alloc(nn);
    d->orig_index = bl_alloc(nn * sizeof(int));
    if (!d->features || !d->missing || !d->labels || !d->orig_index) {
        ds_free(d);
        return BL_ERR_RUN;
    }
    memset(d->features, 0, nn * (size_t)nfeatures * sizeof(float));
    memset(d->missing, 0, nn * (size_t)nfeatures);
    d->kind = DS_RECORDS;
    d->n = n;
    d->c = nfeatures;
    d->h = d->w = 1;
    d->num_classes = num_classes;
    d->schema = schema;
    for (int i = 0; i < n; i++) d->orig_index[i] = i;
    return BL_OK;
}

Status ds_alloc_tokens(Dataset *d, int n, long ntokens, int max_tokens, int num_classes, DsLexicon *lexicon,
                       char (*class_names)[DS_NAME_MAX]) {
    memset(d, 0, sizeof *d);
    if (n < 0 || ntokens < 0 || max_tokens < 1 || num_classes < 1 || num_classes > 256)
        return bl_fail(BL_ERR_USAGE, "ds_alloc_tokens: bad shape n=%d tokens=%ld max_tokens=%d classes=%d", n, ntokens,
                       max_tokens, num_classes);
    size_t nn = (size_t)(n ? n : 1);
    d->tokens = bl_alloc(((size_t)ntokens + 1) * sizeof(int32_t));
    d->tok_offset = bl_alloc(((size_t)n + 1) * sizeof(long));
    d->labels = bl_alloc(nn);
    d->orig_index = bl_alloc(nn * sizeof(int));
    if (!d->tokens || !d->tok_offset || !d->labels || !d->orig_index) {
        ds_free(d);
        return BL_ERR_RUN;
    }
    d->kind = DS_TOKENS;
    d->n = n;
    d->c = max_tokens;
    d->h = d->w = 1;
    d->num_classes = num_classes;
    d->lexicon = lexicon;
    d->class_names = class_names;
    for (int i = 0; i < n; i++) d->orig_index[i] = i;
    return BL_OK;
}

// Tokens: the samples idx[0..k) of src (k of them, in that order) into a new dataset *dst (same lexicon, classes,
// max length and subject flag).
static Status ds_select_tokens(const Dataset *src, const int *idx, int k, Dataset *dst) {
    long total = 0;
    for (int i = 0; i < k; i++) total += src->tok_offset[idx[i] + 1] - src->tok_offset[idx[i]];
    Dataset d;
    Status st = ds_alloc_tokens(&d, k, total, src->c, src->num_classes, src->lexicon, src->class_names);
    if (st) return st;
    d.text_subject = src->text_subject;
    long w = 0;
    for (int i = 0; i < k; i++) {
        const long a = src->tok_offset[idx[i]], len = src->tok_offset[idx[i] + 1] - a;
        d.tok_offset[i] = w;
        memcpy(d.tokens + w, src->tokens + a, (size_t)len * sizeof(int32_t));
        w += len;
        d.labels[i] = src->labels[idx[i]];
        d.orig_index[i] = src->orig_index[idx[i]];
    }
    d.tok_offset[k] = w;
    *dst = d;
    return BL_OK;
}

// Tokens: the first k samples of src, or all of them (k = src->n).
static Status ds_first_tokens(const Dataset *src, int k, Dataset *dst) {
    int *idx = malloc((size_t)BL_MAX(k, 1) * sizeof *idx);
    if (!idx) return bl_fail(BL_ERR_RUN, "dataset: out of memory");
    for (int i = 0; i < k; i++) idx[i] = i;
    Status st = ds_select_tokens(src, idx, k, dst);
    free(idx);
    return st;
}

// An empty dataset shaped like src (same kind, shape, classes and schema); not for tokens (ds_select_tokens).
static Status ds_alloc_like(const Dataset *src, int n, Dataset *dst) {
    if (src->kind == DS_RECORDS) return ds_alloc_records(dst, n, src->c, src->num_classes, src->schema);
    return ds_alloc(dst, n, src->c, src->h, src->w, src->num_classes);
}

// Copy sample i of src into slot j of dst (same kind and shape).
static void ds_copy_sample(const Dataset *src, int i, Dataset *dst, int j) {
    const size_t ss = (size_t)ds_sample_size(src);
    if (src->kind == DS_RECORDS) {
        memcpy(dst->features + (size_t)j * ss, src->features + (size_t)i * ss, ss * sizeof(float));
        memcpy(dst->missing + (size_t)j * ss, src->missing + (size_t)i * ss, ss);
    } else {
        memcpy(dst->images + (size_t)j * ss, src->images + (size_t)i * ss, ss);
    }
    dst->labels[j] = src->labels[i];
    dst->orig_index[j] = src->orig_index[i];
}

Status ds_alloc(Dataset *d, int n, int c, int h, int w, int num_classes) {
    memset(d, 0, sizeof *d);
    if (n < 0 || c < 1 || h < 1 || w < 1 || (long long)c * h * w > (1 << 28)) // sample size must fit an int
        return bl_fail(BL_ERR_USAGE, "ds_alloc: bad shape n=%d c=%d h=%d w=%d", n, c, h, w);
    size_t nn = (size_t)(n ? n : 1); // bl_alloc(0) is fine, but keep every pointer non-NULL and distinct
    d->images = bl_alloc(nn * (size_t)c * h * w);
    d->labels = bl_alloc(nn);
    d->orig_index = bl_alloc(nn * sizeof(int));
    if (!d->images || !d->labels || !d->orig_index) {
        ds_free(d);
        return BL_ERR_RUN;
    }
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->num_classes = num_classes;
    for (int i = 0; i < n; i++) d->orig_index[i] = i;
    return BL_OK;
}

Status ds_select(const Dataset *src, const int *idx, int k, Dataset *dst) {
    if (k < 0) return bl_fail(BL_ERR_USAGE, "ds_select: negative count %d", k);
    for (int i = 0; i < k; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return bl_fail(BL_ERR_USAGE, "ds_select: index %d at position %d is outside 0..%d", idx[i], i,
                           src->n - 1);
    if (src->kind == DS_TOKENS) return ds_select_tokens(src, idx, k, dst);
    Dataset d;
    Status st = ds_alloc_like(src, k, &d);
    if (st) return st;
    for (int i = 0; i < k; i++) ds_copy_sample(src, idx[i], &d, i);
    *dst = d;
    return BL_OK;
}

Status ds_copy(const Dataset *src, Dataset *dst) {
    if (src->kind == DS_TOKENS) return ds_first_tokens(src, src->n, dst);
    Dataset d;
    Status st = ds_alloc_like(src, src->n, &d);
    if (st) return st;
    for (int i = 0; i < src->n; i++) ds_copy_sample(src, i, &d, i);
    *dst = d;
    return BL_OK;
}

// mnist10k's folder is relative to the repository root, where every make target (and the CLI in the demos) runs;
// scripts/fetch-mnist10k.sh creates it there.
const char *dataset_default_dir(const char *name) {
    if (name && strcmp(name, "fashion-mnist") == 0) return "/usr/share/datasets/fashion-mnist";
    if (name && strcmp(name, "mnist10k") == 0) return "datasets/mnist10k";
    if (name && strcmp(name, "spamassassin") == 0) return "datasets/spamassassin"; // scripts/fetch-spam.sh
    return NULL;
}

Status ds_take_first(Dataset *d, int subset) {
    if (subset <= 0 || subset >= d->n) return BL_OK;
    Dataset s;
    Status st = d->kind == DS_TOKENS ? ds_first_tokens(d, subset, &s) : ds_alloc_like(d, subset, &s);
    if (st) return st;
    for (int i = 0; d->kind != DS_TOKENS && i < subset; i++) ds_copy_sample(d, i, &s, i);
    ds_free(d);
    *d = s;
    return BL_OK;
}

// Tokens: per message its length in words (4 bytes, little-endian) and its words, each NUL-terminated. Words, not
// ids: the same messages give the same hash whatever order their words were interned in (an attack or another
// reading order interns differently). The maximum length (c) is a reading setting and is not hashed.
static void hash_tokens(crypto_hash_sha256_state *h, const Dataset *d) {
    unsigned char buf[1 << 16];
    size_t used = 0;
    for (int i = 0; i < d->n; i++) {
        const long a = d->tok_offset[i], e = d->tok_offset[i + 1];
        const uint32_t len = (uint32_t)(e - a);
        if (used + 4 > sizeof buf) crypto_hash_sha256_update(h, buf, used), used = 0;
        for (int k = 0; k < 4; k++) buf[used++] = (unsigned char)(len >> (8 * k));
        for (long t = a; t < e; t++) {
            const char *w = lex_word(d->lexicon, d->tokens[t]);
            const size_t wl = w ? strlen(w) + 1 : 1;
            if (used + wl > sizeof buf) crypto_hash_sha256_update(h, buf, used), used = 0;
            if (w) memcpy(buf + used, w, wl);
            else buf[used] = 0; // an id outside the lexicon (cannot happen with our loaders): an empty word
            used += wl;
        }
    }
    crypto_hash_sha256_update(h, buf, used);
}

// Images: the bytes. Records: the float values (little-endian on every host we run), then the missing mask.
// Tokens: hash_tokens. Then the labels.
static void hash_ds(crypto_hash_sha256_state *h, const Dataset *d) {
    const unsigned long long vals = (unsigned long long)d->n * (unsigned long long)ds_sample_size(d);
    if (d->kind == DS_TOKENS) {
        hash_tokens(h, d);
    } else if (d->kind == DS_RECORDS) {
        crypto_hash_sha256_update(h, (const unsigned char *)d->features, vals * sizeof(float));
        crypto_hash_sha256_update(h, d->missing, vals);
    } else {
        crypto_hash_sha256_update(h, d->images, vals);
    }
    crypto_hash_sha256_update(h, d->labels, (unsigned long long)d->n);
}

Status ds_pair_hash(DatasetPair *p) {
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "libsodium failed to initialise");
    crypto_hash_sha256_state h;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    hash_ds(&h, &p->train);
    hash_ds(&h, &p->test);
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(p->sha256_hex, sizeof p->sha256_hex, digest, sizeof digest);
    return BL_OK;
}
