// test_data.c: IDX reading/writing (plain and gzip, hostile input), folder loading, subsets, dataset hash,
// defender split. Fixtures are made with the IDX writer under a mkdtemp() folder.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
// cmocka needs the above first.
#include <cmocka.h>

#include "test_util.h"
#include <sodium.h>
#include <zlib.h>

#include "core/core.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/load.h"
#include "data/pngdir.h"
#include "io/png.h"
#include "io/results.h"
#include "data/split.h"

// ---- helpers ----

static char g_dir[256]; // per-test temp folder


static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_data_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

// n samples of (c,h,w) with a deterministic pattern; labels cycle through `classes`.
static Dataset make_ds(int n, int c, int h, int w, int classes, int salt) {
    Dataset d;
    assert_int_equal(ds_alloc(&d, n, c, h, w, classes), BL_OK);
    size_t ss = (size_t)ds_sample_size(&d);
    for (size_t i = 0; i < (size_t)n * ss; i++) d.images[i] = (uint8_t)(i * 31 + (size_t)salt * 7 + i / ss);
    for (int i = 0; i < n; i++) d.labels[i] = (uint8_t)(i % classes);
    return d;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void spit_gz(const char *path, const uint8_t *b, size_t len) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(gzwrite(f, b, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
}

static void gzip_file(const char *src, const char *dst) {
    size_t len;
    uint8_t *b = slurp(src, &len);
    spit_gz(dst, b, len);
    free(b);
}

static void assert_ds_equal(const Dataset *a, const Dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->c, b->c);
    assert_int_equal(a->h, b->h);
    assert_int_equal(a->w, b->w);
    assert_memory_equal(a->images, b->images, (size_t)a->n * (size_t)ds_sample_size(a));
    assert_memory_equal(a->labels, b->labels, (size_t)a->n);
}

static void assert_msg_has(const char *needle) {
    if (!strstr(bl_errmsg(), needle)) fail_msg("error message '%s' lacks '%s'", bl_errmsg(), needle);
}

static void write_pair(const char *images, const char *labels, const Dataset *d) {
    assert_int_equal(idx_write_images(images, d), BL_OK);
    assert_int_equal(idx_write_labels(labels, d), BL_OK);
}

// Write the four standard files into folder `dir` (created); gz selects which get gzipped.
static void write_dir(const char *dir, const Dataset *train, const Dataset *test, int gz_train, int gz_test) {
    mkdir(dir, 0755);
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char p[600], pg[610];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        snprintf(pg, sizeof pg, "%s.gz", p);
        const Dataset *d = i < 2 ? train : test;
        assert_int_equal((i % 2 ? idx_write_labels : idx_write_images)(p, d), BL_OK);
        if (i < 2 ? gz_train : gz_test) {
            gzip_file(p, pg);
            unlink(p);
        }
    }
}

// ---- IDX ----

static void test_idx_roundtrip_plain(void **state) {
    (void)state;
    Dataset d = make_ds(37, 1, 7, 5, 4, 1), r;
    write_pair(tpath("img"), tpath("lab"), &d);
    assert_int_equal(idx_read_dataset(tpath("img"), tpath("lab"), &r), BL_OK);
    assert_ds_equal(&d, &r);
    assert_int_equal(r.num_classes, 4);
    for (int i = 0; i < r.n; i++) assert_int_equal(r.orig_index[i], i);
    // The file is exactly header + payload, in the standard 3-dim layout.
    size_t len;
    uint8_t *b = slurp(tpath("img"), &len);
    assert_int_equal(len, 16 + 37 * 7 * 5);
    const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, 37, 0, 0, 0, 7, 0, 0, 0, 5};
    assert_memory_equal(b, hdr, 16);
    free(b);
    // No temp file left behind by the atomic writer.
    DIR *dd = opendir(g_dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(dd));) files += e->d_name[0] != '.';
    closedir(dd);
    assert_int_equal(files, 2);
    ds_free(&d);
    ds_free(&r);
}

static void test_idx_roundtrip_multichannel(void **state) {
    (void)state;
    Dataset d = make_ds(5, 3, 4, 6, 2, 2), r;
    write_pair(tpath("img"), tpath("lab"), &d);
    assert_int_equal(idx_read_dataset(tpath("img"), tpath("lab"), &r), BL_OK);
    assert_ds_equal(&d, &r);
    ds_free(&d);
    ds_free(&r);
}

static void test_idx_roundtrip_gz(void **state) {
    (void)state;
    Dataset d = make_ds(50, 1, 6, 6, 3, 3), r;
    write_pair(tpath("img"), tpath("lab"), &d);
    gzip_file(tpath("img"), tpath("img.gz"));
    gzip_file(tpath("lab"), tpath("lab.gz"));
    assert_int_equal(idx_read_dataset(tpath("img.gz"), tpath("lab.gz"), &r), BL_OK);
    assert_ds_equal(&d, &r);
    assert_int_equal(r.num_classes, 3);
    ds_free(&r);
    // Mixed: gzipped images, plain labels.
    assert_int_equal(idx_read_dataset(tpath("img.gz"), tpath("lab"), &r), BL_OK);
    assert_ds_equal(&d, &r);
    ds_free(&r);
    ds_free(&d);
}

static void test_idx_missing_file(void **state) {
    (void)state;
    uint8_t *p = (uint8_t *)1;
    int n = 1, c, h, w;
    assert_int_equal(idx_read_images(tpath("nope"), &p, &n, &c, &h, &w), BL_ERR_DATA);
    assert_null(p);
    assert_int_equal(n, 0);
    assert_msg_has("nope");
    assert_int_equal(idx_read_labels(tpath("nope2"), &p, &n), BL_ERR_DATA);
    assert_msg_has("nope2");
}

static void test_idx_truncated(void **state) {
    (void)state;
    Dataset d = make_ds(20, 1, 5, 6, 3, 4);
    write_pair(tpath("img"), tpath("lab"), &d);
    size_t len, llen;
    uint8_t *b = slurp(tpath("img"), &len), *lb = slurp(tpath("lab"), &llen);
    const size_t cuts[] = {0, 1, 3, 4, 7, 12, 15, 16, 17, 100, len / 2, len - 1};
    for (size_t i = 0; i < BL_ARRAY_LEN(cuts); i++) {
        uint8_t *pix = NULL;
        int n, c, h, w;
        spit(tpath("cut"), b, cuts[i]);
        assert_int_equal(idx_read_images(tpath("cut"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
        assert_null(pix);
        assert_msg_has("truncated");
        spit_gz(tpath("cut.gz"), b, cuts[i]); // a valid gzip stream of a short file
        assert_int_equal(idx_read_images(tpath("cut.gz"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
        assert_msg_has("truncated");
        assert_null(pix);
    }
    // The documented message shape, with exact counts.
    uint8_t *pix = NULL;
    int n, c, h, w;
    spit(tpath("cut"), b, 16 + 100);
    assert_int_equal(idx_read_images(tpath("cut"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_msg_has("cut: truncated: expected 600 bytes of pixels, got 100");
    // Labels too.
    const size_t lcuts[] = {0, 5, 8, 9, llen - 1};
    for (size_t i = 0; i < BL_ARRAY_LEN(lcuts); i++) {
        uint8_t *lab = NULL;
        spit(tpath("lcut"), lb, lcuts[i]);
        assert_int_equal(idx_read_labels(tpath("lcut"), &lab, &n), BL_ERR_DATA);
        assert_null(lab);
    }
    // A gzip file cut short at several lengths (the compressed stream itself is incomplete).
    gzip_file(tpath("img"), tpath("full.gz"));
    size_t glen;
    uint8_t *g = slurp(tpath("full.gz"), &glen);
    const size_t gcuts[] = {2, 10, 11, glen / 3, glen / 2, glen - 8, glen - 4, glen - 1};
    for (size_t i = 0; i < BL_ARRAY_LEN(gcuts); i++) {
        spit(tpath("gcut.gz"), g, gcuts[i]);
        assert_int_equal(idx_read_images(tpath("gcut.gz"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
        assert_null(pix);
    }
    free(g);
    free(b);
    free(lb);
    ds_free(&d);
}

static void test_idx_corrupt_gz(void **state) {
    (void)state;
    Dataset d = make_ds(30, 1, 8, 8, 3, 5);
    assert_int_equal(idx_write_images(tpath("img"), &d), BL_OK);
    gzip_file(tpath("img"), tpath("img.gz"));
    size_t glen;
    uint8_t *g = slurp(tpath("img.gz"), &glen);
    // Flip a byte of the CRC-32 trailer: data decodes but fails the check. Then bytes in the deflate data.
    const size_t at[] = {glen - 6, glen / 2, 12, 20};
    for (size_t i = 0; i < BL_ARRAY_LEN(at); i++) {
        uint8_t *bad = malloc(glen);
        memcpy(bad, g, glen);
        bad[at[i]] ^= 0x5a;
        spit(tpath("bad.gz"), bad, glen);
        free(bad);
        uint8_t *pix = NULL;
        int n, c, h, w;
        assert_int_equal(idx_read_images(tpath("bad.gz"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
        assert_null(pix);
        assert_true(strlen(bl_errmsg()) > 0);
    }
    // The trailer case must say the gzip stream is corrupt.
    uint8_t *bad = malloc(glen);
    memcpy(bad, g, glen);
    bad[glen - 6] ^= 0xff;
    spit(tpath("bad.gz"), bad, glen);
    uint8_t *pix = NULL;
    int n, c, h, w;
    assert_int_equal(idx_read_images(tpath("bad.gz"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_msg_has("corrupt gzip");
    free(bad);
    free(g);
    ds_free(&d);
}

static void put_header(const char *path, const uint8_t *hdr, size_t hlen, size_t payload) {
    uint8_t *b = calloc(1, hlen + payload);
    memcpy(b, hdr, hlen);
    spit(path, b, hlen + payload);
    free(b);
}

static void test_idx_bad_headers(void **state) {
    (void)state;
    uint8_t *pix = NULL;
    int n, c, h, w;
    // Wrong magic: a label header read as images, and the reverse, and a float type.
    const uint8_t lab_hdr[8] = {0, 0, 8, 1, 0, 0, 0, 4};
    put_header(tpath("x"), lab_hdr, 8, 4);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_msg_has("magic");
    const uint8_t img_hdr[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2};
    put_header(tpath("x"), img_hdr, 16, 4);
    assert_int_equal(idx_read_labels(tpath("x"), &pix, &n), BL_ERR_DATA);
    assert_msg_has("magic");
    const uint8_t float_hdr[16] = {0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2};
    put_header(tpath("x"), float_hdr, 16, 16);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    const uint8_t junk[16] = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    put_header(tpath("x"), junk, 16, 100);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    // Dims over the caps are refused before allocating.
    const uint8_t big_n[16] = {0, 0, 8, 3, 0, 0x98, 0x96, 0x81, 0, 0, 0, 28, 0, 0, 0, 28}; // 10,000,001
    put_header(tpath("x"), big_n, 16, 0);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_msg_has("implausible");
    const uint8_t big_h[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0x13, 0x88, 0, 0, 0, 28}; // h = 5000
    put_header(tpath("x"), big_h, 16, 0);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    const uint8_t zero_w[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0};
    put_header(tpath("x"), zero_w, 16, 0);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    const uint8_t all_ff[16] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    put_header(tpath("x"), all_ff, 16, 0);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    const uint8_t big_labels[8] = {0, 0, 8, 1, 0x7f, 0xff, 0xff, 0xff};
    put_header(tpath("x"), big_labels, 8, 3);
    assert_int_equal(idx_read_labels(tpath("x"), &pix, &n), BL_ERR_DATA);
    // A header within the caps whose data is missing: fails as truncated, quickly (no giant allocation first).
    const uint8_t max_n[16] = {0, 0, 8, 3, 0, 0x98, 0x96, 0x80, 0, 0, 0x10, 0, 0, 0, 0, 0x40}; // 10M x 4096 x 64
    put_header(tpath("x"), max_n, 16, 1000);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    const uint8_t near_cap[16] = {0, 0, 8, 3, 0, 0x98, 0x96, 0x80, 0, 0, 0, 20, 0, 0, 0, 20}; // 4e9 bytes
    put_header(tpath("x"), near_cap, 16, 1000);
    assert_int_equal(idx_read_images(tpath("x"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_msg_has("truncated");
    assert_null(pix);
}

static void test_idx_trailing_bytes(void **state) {
    (void)state;
    Dataset d = make_ds(4, 1, 3, 3, 2, 6);
    assert_int_equal(idx_write_images(tpath("img"), &d), BL_OK);
    size_t len;
    uint8_t *b = slurp(tpath("img"), &len);
    uint8_t *more = malloc(len + 3);
    memcpy(more, b, len);
    memset(more + len, 0xee, 3);
    spit(tpath("more"), more, len + 3);
    uint8_t *pix = NULL;
    int n, c, h, w;
    assert_int_equal(idx_read_images(tpath("more"), &pix, &n, &c, &h, &w), BL_ERR_DATA);
    assert_null(pix);
    free(more);
    free(b);
    ds_free(&d);
}

static void test_idx_count_mismatch(void **state) {
    (void)state;
    Dataset a = make_ds(10, 1, 4, 4, 2, 7), b = make_ds(9, 1, 4, 4, 2, 7), r;
    assert_int_equal(idx_write_images(tpath("img"), &a), BL_OK);
    assert_int_equal(idx_write_labels(tpath("lab"), &b), BL_OK);
    assert_int_equal(idx_read_dataset(tpath("img"), tpath("lab"), &r), BL_ERR_DATA);
    assert_msg_has("9 labels");
    assert_null(r.images);
    ds_free(&a);
    ds_free(&b);
}

static void test_idx_write_bad_args(void **state) {
    (void)state;
    Dataset d = make_ds(2, 1, 2, 2, 2, 0);
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    assert_int_equal(idx_write_images(longp, &d), BL_ERR_USAGE);
    assert_int_equal(idx_write_images("/nonexistent-dir-bl/x", &d), BL_ERR_RUN);
    ds_free(&d);
}

// ---- folder loading ----

static void test_load_dir_and_subset(void **state) {
    (void)state;
    Dataset tr = make_ds(40, 1, 5, 4, 3, 8), te = make_ds(15, 1, 5, 4, 4, 9);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ds", g_dir);
    write_dir(dir, &tr, &te, 0, 1); // train plain, test gzipped
    DatasetPair p;
    assert_int_equal(dataset_load_dir(dir, 0, 0, &p), BL_OK);
    assert_ds_equal(&p.train, &tr);
    assert_ds_equal(&p.test, &te);
    assert_int_equal(p.train.num_classes, 4); // max over both files
    assert_int_equal(p.test.num_classes, 4);
    assert_string_equal(p.source, dir);
    assert_int_equal(strlen(p.sha256_hex), 64);
    // The hash is over train images, train labels, test images, test labels, in that order.
    crypto_hash_sha256_state hs;
    unsigned char dg[32];
    char hex[65];
    crypto_hash_sha256_init(&hs);
    crypto_hash_sha256_update(&hs, tr.images, 40 * 20);
    crypto_hash_sha256_update(&hs, tr.labels, 40);
    crypto_hash_sha256_update(&hs, te.images, 15 * 20);
    crypto_hash_sha256_update(&hs, te.labels, 15);
    crypto_hash_sha256_final(&hs, dg);
    sodium_bin2hex(hex, sizeof hex, dg, 32);
    assert_string_equal(p.sha256_hex, hex);
    char full_hash[65];
    memcpy(full_hash, p.sha256_hex, 65);
    ds_pair_free(&p);

    // Subsets keep the first N; N > size keeps all; the hash follows the subset.
    assert_int_equal(dataset_load_dir(dir, 7, 100, &p), BL_OK);
    assert_int_equal(p.train.n, 7);
    assert_int_equal(p.test.n, 15);
    assert_int_equal(p.train.num_classes, 4); // from the full files
    assert_memory_equal(p.train.images, tr.images, 7 * 20);
    assert_memory_equal(p.train.labels, tr.labels, 7);
    for (int i = 0; i < 7; i++) assert_int_equal(p.train.orig_index[i], i);
    assert_string_not_equal(p.sha256_hex, full_hash);
    ds_pair_free(&p);

    // Reloading gives the same hash; changing one pixel changes it.
    assert_int_equal(dataset_load_dir(dir, 0, 0, &p), BL_OK);
    assert_string_equal(p.sha256_hex, full_hash);
    ds_pair_free(&p);
    tr.images[123] ^= 1;
    write_dir(dir, &tr, &te, 0, 1);
    assert_int_equal(dataset_load_dir(dir, 0, 0, &p), BL_OK);
    assert_string_not_equal(p.sha256_hex, full_hash);
    ds_pair_free(&p);

    assert_int_equal(dataset_load_dir(dir, -1, 0, &p), BL_ERR_USAGE);
    ds_free(&tr);
    ds_free(&te);
}

static void test_load_dir_missing_file(void **state) {
    (void)state;
    Dataset tr = make_ds(10, 1, 3, 3, 2, 1), te = make_ds(5, 1, 3, 3, 2, 2);
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/ds", g_dir);
    write_dir(dir, &tr, &te, 1, 0);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    assert_int_equal(unlink(p), 0);
    DatasetPair pr;
    assert_int_equal(dataset_load_dir(dir, 0, 0, &pr), BL_ERR_DATA);
    assert_msg_has("t10k-labels-idx1-ubyte");
    assert_msg_has(dir);
    assert_null(pr.train.images);
    // A folder that does not exist at all.
    assert_int_equal(dataset_load_dir(tpath("no-such-folder"), 0, 0, &pr), BL_ERR_DATA);
    assert_msg_has("no-such-folder");
    ds_free(&tr);
    ds_free(&te);
}

static void test_load_dir_one_class_and_shape_mismatch(void **state) {
    (void)state;
    Dataset tr = make_ds(10, 1, 3, 3, 1, 1), te = make_ds(5, 1, 3, 3, 1, 2);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ds", g_dir);
    write_dir(dir, &tr, &te, 0, 0);
    DatasetPair p;
    assert_int_equal(dataset_load_dir(dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("class");
    Dataset te2 = make_ds(5, 1, 4, 3, 2, 2);
    write_dir(dir, &tr, &te2, 0, 0);
    assert_int_equal(dataset_load_dir(dir, 0, 0, &p), BL_ERR_DATA);
    ds_free(&tr);
    ds_free(&te);
    ds_free(&te2);
}

static void test_default_dir(void **state) {
    (void)state;
    assert_string_equal(dataset_default_dir("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
    assert_null(dataset_default_dir("imagenet"));
    assert_null(dataset_default_dir(NULL));
}

static void test_fashion_mnist(void **state) {
    (void)state;
    const char *dir = dataset_default_dir("fashion-mnist");
    if (access(dir, R_OK) != 0) skip();
    DatasetPair p;
    Status st = dataset_load_dir(dir, 0, 0, &p);
    if (st) fail_msg("%s", bl_errmsg());
    assert_int_equal(p.train.n, 60000);
    assert_int_equal(p.test.n, 10000);
    assert_int_equal(p.train.c, 1);
    assert_int_equal(p.train.h, 28);
    assert_int_equal(p.train.w, 28);
    assert_int_equal(p.test.h, 28);
    assert_int_equal(p.train.num_classes, 10);
    assert_int_equal(p.test.num_classes, 10);
    int counts[10] = {0};
    for (int i = 0; i < p.train.n; i++) counts[p.train.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(counts[k], 6000); // Fashion-MNIST is balanced
    assert_int_equal(strlen(p.sha256_hex), 64);
    ds_pair_free(&p);
}

// ---- defender split ----

static void check_split(const Dataset *tr, double frac, uint64_t seed, Dataset *def, Dataset *rest) {
    assert_int_equal(split_defender(tr, frac, seed, def, rest), BL_OK);
    int k = (int)(frac * tr->n + 0.5);
    assert_int_equal(def->n, k);
    assert_int_equal(rest->n, tr->n - k);
    // Disjoint, together everything, each in original order, sample contents intact.
    char *seen = calloc((size_t)tr->n, 1);
    const Dataset *parts[2] = {def, rest};
    size_t ss = (size_t)ds_sample_size(tr);
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < parts[p]->n; i++) {
            int o = parts[p]->orig_index[i];
            assert_in_range(o, 0, tr->n - 1);
            assert_int_equal(seen[o], 0);
            seen[o] = 1;
            if (i > 0) assert_true(parts[p]->orig_index[i - 1] < o);
            assert_memory_equal(parts[p]->images + (size_t)i * ss, tr->images + (size_t)o * ss, ss);
            assert_int_equal(parts[p]->labels[i], tr->labels[o]);
            assert_int_equal(parts[p]->num_classes, tr->num_classes);
        }
    for (int i = 0; i < tr->n; i++) assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_split(void **state) {
    (void)state;
    Dataset tr = make_ds(101, 1, 3, 3, 5, 3);
    Dataset d1, r1, d2, r2, d3, r3;
    check_split(&tr, 0.1, 42, &d1, &r1);
    assert_int_equal(d1.n, 10);
    check_split(&tr, 0.1, 42, &d2, &r2);
    assert_memory_equal(d1.orig_index, d2.orig_index, 10 * sizeof(int)); // same seed, same split
    check_split(&tr, 0.1, 43, &d3, &r3);
    assert_memory_not_equal(d1.orig_index, d3.orig_index, 10 * sizeof(int)); // different seed
    ds_free(&d1), ds_free(&r1), ds_free(&d2), ds_free(&r2), ds_free(&d3), ds_free(&r3);
    check_split(&tr, 0.255, 1, &d1, &r1); // round(25.755) = 26
    assert_int_equal(d1.n, 26);
    ds_free(&d1), ds_free(&r1);
    check_split(&tr, 0.0, 1, &d1, &r1);
    assert_int_equal(d1.n, 0);
    ds_free(&d1), ds_free(&r1);
    check_split(&tr, 1.0, 1, &d1, &r1);
    assert_int_equal(r1.n, 0);
    ds_free(&d1), ds_free(&r1);
    assert_int_equal(split_defender(&tr, 1.5, 1, &d1, &r1), BL_ERR_USAGE);
    assert_int_equal(split_defender(&tr, -0.1, 1, &d1, &r1), BL_ERR_USAGE);
    // Splitting a split keeps the original file indices.
    Dataset a, b, c, d;
    check_split(&tr, 0.5, 7, &a, &b);
    assert_int_equal(split_defender(&b, 0.5, 8, &c, &d), BL_OK);
    for (int i = 0; i < c.n; i++) {
        int found = 0;
        for (int j = 0; j < b.n; j++) found |= b.orig_index[j] == c.orig_index[i];
        assert_true(found);
    }
    ds_free(&a), ds_free(&b), ds_free(&c), ds_free(&d);
    ds_free(&tr);
}

static void test_ds_select_copy(void **state) {
    (void)state;
    Dataset d = make_ds(6, 2, 2, 3, 3, 4), s, cp;
    const int idx[3] = {5, 0, 5};
    assert_int_equal(ds_select(&d, idx, 3, &s), BL_OK);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.images, d.images + 5 * 12, 12);
    assert_memory_equal(s.images + 12, d.images, 12);
    assert_int_equal(s.orig_index[0], 5);
    assert_int_equal(s.labels[1], d.labels[0]);
    const int bad[1] = {6};
    Dataset z;
    assert_int_equal(ds_select(&d, bad, 1, &z), BL_ERR_USAGE);
    assert_int_equal(ds_copy(&s, &cp), BL_OK);
    assert_ds_equal(&s, &cp);
    assert_memory_equal(s.orig_index, cp.orig_index, 3 * sizeof(int));
    assert_ptr_not_equal(s.images, cp.images);
    ds_free(&d), ds_free(&s), ds_free(&cp);
    ds_free(&d); // double free is safe: ds_free zeroes
}

// ---- PNG folders ----

// Write a w x h PNG of constant value v into dir/split/cls/name (gray, or RGB with R = v, G = B = 0).
static void put_png(const char *split, const char *cls, const char *name, int w, int h, uint8_t v, int rgb) {
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/%s/%s", g_dir, split, cls);
    assert_int_equal(ensure_dir(dir), BL_OK);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *pix = calloc((size_t)w * h * 3, 1);
    for (int i = 0; i < w * h; i++) {
        if (rgb) pix[3 * i] = v;
        else pix[i] = v;
    }
    assert_int_equal(rgb ? png_write_rgb(path, pix, w, h) : png_write_gray(path, pix, w, h), BL_OK);
    free(pix);
}

static void test_pngdir_order_and_labels(void **state) {
    (void)state;
    // Numeric class folders (zero padding allowed); order = file name, then class.
    put_png("train", "0", "b.png", 3, 2, 10, 0);
    put_png("train", "02", "a.png", 3, 2, 20, 0);
    put_png("train", "1", "c.png", 3, 2, 30, 0);
    put_png("train", "1", "a.png", 3, 2, 40, 0);
    put_png("train", "1", "notes.txt", 3, 2, 1, 0); // not a .png: ignored
    put_png("test", "2", "x.PNG", 3, 2, 50, 0);
    put_png("test", "0", "y.png", 3, 2, 60, 0);
    DatasetPair p;
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_OK);
    assert_int_equal(p.train.n, 4);
    assert_int_equal(p.train.c, 1);
    assert_int_equal(p.train.h, 2);
    assert_int_equal(p.train.w, 3);
    assert_int_equal(p.train.num_classes, 3);
    const uint8_t want_labels[4] = {1, 2, 0, 1}, want_px[4] = {40, 20, 10, 30}; // a(1), a(02), b(0), c(1)
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p.train.labels[i], want_labels[i]);
        assert_int_equal(p.train.images[i * 6 + 5], want_px[i]);
        assert_int_equal(p.train.orig_index[i], i);
    }
    assert_int_equal(p.test.n, 2);
    assert_int_equal(p.test.labels[0], 2);
    assert_int_equal(p.test.labels[1], 0);
    assert_non_null(strstr(p.source, "png:"));
    assert_int_equal((int)strlen(p.sha256_hex), 64);
    ds_pair_free(&p);
    // Subsets keep the first N in that order; dataset_load("png") is the same reader.
    assert_int_equal(dataset_load("png", g_dir, 2, 1, &p), BL_OK);
    assert_int_equal(p.train.n, 2);
    assert_int_equal(p.train.labels[1], 2);
    assert_int_equal(p.test.n, 1);
    ds_pair_free(&p);
}

static void test_pngdir_named_classes_and_colour(void **state) {
    (void)state;
    put_png("train", "dog", "1.png", 2, 2, 10, 0);
    put_png("train", "cat", "2.png", 2, 2, 20, 1); // colour: the whole dataset becomes RGB
    put_png("test", "dog", "3.png", 2, 2, 30, 0);
    DatasetPair p;
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_OK);
    assert_int_equal(p.train.c, 3);
    assert_int_equal(p.test.c, 3);
    assert_int_equal(p.train.labels[0], 1); // "dog" sorts after "cat"
    assert_int_equal(p.train.labels[1], 0);
    assert_int_equal(p.train.images[0], 10); // gray replicated into every channel
    assert_int_equal(p.train.images[4], 10);
    assert_int_equal(p.train.images[8], 10);
    assert_int_equal(p.train.images[12 + 0], 20); // R
    assert_int_equal(p.train.images[12 + 4], 0);  // G
    ds_pair_free(&p);
    // Written back as a class-per-folder tree and read again: identical.
    char out[600];
    snprintf(out, sizeof out, "%s/copy", g_dir);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_OK);
    assert_int_equal(dataset_write_png_dir(out, "train", &p.train), BL_OK);
    assert_int_equal(dataset_write_png_dir(out, "test", &p.test), BL_OK);
    DatasetPair q;
    assert_int_equal(dataset_load_png_dir(out, 0, 0, &q), BL_OK);
    assert_ds_equal(&p.train, &q.train);
    assert_ds_equal(&p.test, &q.test);
    ds_pair_free(&p), ds_pair_free(&q);
    // A test folder name that train lacks.
    put_png("test", "bird", "4.png", 2, 2, 30, 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("test/bird has no matching");
}

static void test_pngdir_bad_input(void **state) {
    (void)state;
    DatasetPair p;
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA); // no train/
    assert_msg_has("has no train/ folder");
    put_png("train", "0", "a.png", 4, 4, 1, 0);
    put_png("train", "1", "b.png", 4, 4, 1, 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA); // no test/
    assert_msg_has("has no test/ folder");
    put_png("test", "0", "c.png", 4, 4, 1, 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_OK);
    ds_pair_free(&p);
    // Mixed sizes are refused, naming the file.
    put_png("train", "1", "d.png", 5, 4, 1, 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("d.png is 5x4 but the dataset's images are 4x4");
    assert_msg_has("resize them first");
    char path[700];
    snprintf(path, sizeof path, "%s/train/1/d.png", g_dir);
    unlink(path);
    // A truncated PNG, and a text file named .png.
    snprintf(path, sizeof path, "%s/train/1/b.png", g_dir);
    assert_int_equal(truncate(path, 40), 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("b.png");
    spit(path, (const uint8_t *)"hello", 5);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("not a PNG file");
    unlink(path);
    // One class only.
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_OK); // class folder 1 exists (empty), K = 2
    ds_pair_free(&p);
    char d1[700];
    snprintf(d1, sizeof d1, "%s/train/1", g_dir);
    rmdir(d1);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("only 1 class");
    // Two folders for the same class number.
    put_png("train", "01", "e.png", 4, 4, 1, 0);
    put_png("train", "1", "f.png", 4, 4, 1, 0);
    assert_int_equal(dataset_load_png_dir(g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_msg_has("are the same class 1");
    // A 16-bit PNG is refused by the single-file reader too.
    uint8_t *pix, *alpha;
    int w, h;
    assert_int_equal(png_read("/nonexistent.png", 1, &pix, &alpha, &w, &h), BL_ERR_DATA);
    assert_null(pix);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        T(test_idx_roundtrip_plain),
        T(test_idx_roundtrip_multichannel),
        T(test_idx_roundtrip_gz),
        T(test_idx_missing_file),
        T(test_idx_truncated),
        T(test_idx_corrupt_gz),
        T(test_idx_bad_headers),
        T(test_idx_trailing_bytes),
        T(test_idx_count_mismatch),
        T(test_idx_write_bad_args),
        T(test_load_dir_and_subset),
        T(test_load_dir_missing_file),
        T(test_load_dir_one_class_and_shape_mismatch),
        T(test_default_dir),
        T(test_fashion_mnist),
        T(test_split),
        T(test_ds_select_copy),
        T(test_pngdir_order_and_labels),
        T(test_pngdir_named_classes_and_colour),
        T(test_pngdir_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
