// dataset.c: Dataset lifetime (alloc, copy, select, free) and loading a train/test pair from a folder.
#include "data/dataset.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/idx.h"

void ds_free(Dataset *d) {
    if (!d) return;
    bl_free(d->images);
    bl_free(d->labels);
    bl_free(d->orig_index);
    memset(d, 0, sizeof *d);
}

void ds_pair_free(DatasetPair *p) {
    if (!p) return;
    ds_free(&p->train);
    ds_free(&p->test);
    memset(p, 0, sizeof *p);
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
    Dataset d;
    Status st = ds_alloc(&d, k, src->c, src->h, src->w, src->num_classes);
    if (st) return st;
    size_t ss = (size_t)ds_sample_size(src);
    for (int i = 0; i < k; i++) {
        memcpy(d.images + (size_t)i * ss, src->images + (size_t)idx[i] * ss, ss);
        d.labels[i] = src->labels[idx[i]];
        d.orig_index[i] = src->orig_index[idx[i]];
    }
    *dst = d;
    return BL_OK;
}

Status ds_copy(const Dataset *src, Dataset *dst) {
    Dataset d;
    Status st = ds_alloc(&d, src->n, src->c, src->h, src->w, src->num_classes);
    if (st) return st;
    size_t n = (size_t)src->n;
    if (n) {
        memcpy(d.images, src->images, n * (size_t)ds_sample_size(src));
        memcpy(d.labels, src->labels, n);
        memcpy(d.orig_index, src->orig_index, n * sizeof(int));
    }
    *dst = d;
    return BL_OK;
}

// mnist10k's folder is relative to the repository root, where every make target (and the CLI in the demos) runs;
// scripts/fetch-mnist10k.sh creates it there.
const char *dataset_default_dir(const char *name) {
    if (name && strcmp(name, "fashion-mnist") == 0) return "/usr/share/datasets/fashion-mnist";
    if (name && strcmp(name, "mnist10k") == 0) return "datasets/mnist10k";
    return NULL;
}

// Find dir/base or dir/base.gz (the plain file wins when both exist, it is faster to read).
static Status find_file(const char *dir, const char *base, char *out, size_t outsz) {
    if ((size_t)snprintf(out, outsz, "%s/%s", dir, base) >= outsz)
        return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
    if (access(out, F_OK) == 0) return BL_OK;
    if ((size_t)snprintf(out, outsz, "%s/%s.gz", dir, base) >= outsz)
        return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
    if (access(out, F_OK) == 0) return BL_OK;
    return bl_fail(BL_ERR_DATA,
                   "dataset folder %s has no %s (nor %s.gz); it needs train-images-idx3-ubyte, "
                   "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz)",
                   dir, base, base);
}

Status ds_take_first(Dataset *d, int subset) {
    if (subset <= 0 || subset >= d->n) return BL_OK;
    Dataset s;
    Status st = ds_alloc(&s, subset, d->c, d->h, d->w, d->num_classes);
    if (st) return st;
    memcpy(s.images, d->images, (size_t)subset * (size_t)ds_sample_size(d));
    memcpy(s.labels, d->labels, (size_t)subset);
    memcpy(s.orig_index, d->orig_index, (size_t)subset * sizeof(int));
    ds_free(d);
    *d = s;
    return BL_OK;
}

static void hash_ds(crypto_hash_sha256_state *h, const Dataset *d) {
    crypto_hash_sha256_update(h, d->images, (unsigned long long)d->n * (unsigned long long)ds_sample_size(d));
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

Status dataset_load_dir(const char *dir, int train_subset, int test_subset, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "dataset folder not given");
    if (train_subset < 0 || test_subset < 0)
        return bl_fail(BL_ERR_USAGE, "dataset subset sizes must be >= 0 (got %d and %d)", train_subset, test_subset);
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    char paths[4][4096];
    for (int i = 0; i < 4; i++) {
        Status st = find_file(dir, names[i], paths[i], sizeof paths[i]);
        if (st) return st;
    }
    DatasetPair p;
    memset(&p, 0, sizeof p);
    Status st = idx_read_dataset(paths[0], paths[1], &p.train);
    if (st) goto fail;
    st = idx_read_dataset(paths[2], paths[3], &p.test);
    if (st) goto fail;
    if (p.train.n == 0 || p.test.n == 0) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s is empty (%d training, %d test samples)", dir, p.train.n, p.test.n);
        goto fail;
    }
    if (p.train.c != p.test.c || p.train.h != p.test.h || p.train.w != p.test.w) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s: training images are %dx%dx%d but test images are %dx%dx%d", dir,
                     p.train.c, p.train.h, p.train.w, p.test.c, p.test.h, p.test.w);
        goto fail;
    }
    // One class count for both halves, from the full files, so a small subset still knows every class.
    int k = BL_MAX(p.train.num_classes, p.test.num_classes);
    if (k < 2) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s has only %d class(es); classification needs at least 2", dir, k);
        goto fail;
    }
    p.train.num_classes = p.test.num_classes = k;
    if ((st = ds_take_first(&p.train, train_subset)) || (st = ds_take_first(&p.test, test_subset)) ||
        (st = ds_pair_hash(&p)))
        goto fail;
    snprintf(p.source, sizeof p.source, "%s", dir);
    *out = p;
    return BL_OK;
fail:
    ds_pair_free(&p);
    return st;
}
