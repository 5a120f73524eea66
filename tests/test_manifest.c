// test_manifest.c: dataset manifests: round trip, determinism, and exact reports of added, removed and changed
// samples (by content alignment, by position beyond the budget), plus hostile manifest files; the same for a
// small synthetic mnist10k folder (10 JSON digit files), and manifests of one kind refused for the other.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/manifest.h"
#include "data/mnist10k.h"

static char g_dir[64];     // mkdtemp root
static Dataset g_train;    // the reference training split (TRAIN_N samples of 1x4x4)
static Dataset g_test;     // the reference test split (TEST_N samples)
#define TRAIN_N 60
#define TEST_N 25
#define MN_PER 203 // mnist10k images per digit: 3 train + the 200 test images its split takes from each digit
static uint8_t *g_mn[MNIST10K_CLASSES]; // per digit (MN_PER, 28, 28): mostly 0, 8 random pixels per image

static void free_mnist(void) {
    for (int k = 0; k < MNIST10K_CLASSES; k++) free(g_mn[k]), g_mn[k] = NULL;
}

// ---- helpers ----


// Random distinct-looking samples; labels cycle through 10 classes.
static void make_split(Dataset *d, int n, uint64_t seed) {
    assert_int_equal(ds_alloc(d, n, 1, 4, 4, 10), BL_OK);
    Rng r = rng_stream(seed, "test");
    for (int i = 0; i < n * 16; i++) d->images[i] = (uint8_t)rng_below(&r, 256);
    for (int i = 0; i < n; i++) d->labels[i] = (uint8_t)(i % 10);
}

// A fresh folder holding the four IDX files of train/test.
static void write_dataset(const char *dir, const Dataset *train, const Dataset *test) {
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char p[512];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    assert_int_equal(idx_write_images(p, train), BL_OK);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    assert_int_equal(idx_write_labels(p, train), BL_OK);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    assert_int_equal(idx_write_images(p, test), BL_OK);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    assert_int_equal(idx_write_labels(p, test), BL_OK);
}

static void path_in(char *out, size_t n, const char *leaf) { snprintf(out, n, "%s/%s", g_dir, leaf); }

// The reference manifest, built from the reference folder.
static void reference_manifest(DsmManifest *m) {
    char dir[128];
    path_in(dir, sizeof dir, "ref");
    write_dataset(dir, &g_train, &g_test);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, m), BL_OK);
}

// Compare the reference with a folder made from (train, test).
static void compare_with(const Dataset *train, const Dataset *test, DsmReport *r) {
    DsmManifest want, have;
    reference_manifest(&want);
    char dir[128];
    path_in(dir, sizeof dir, "copy");
    write_dataset(dir, train, test);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, &have), BL_OK);
    assert_int_equal(dsm_compare(&want, &have, r), BL_OK);
    dsm_free(&want);
    dsm_free(&have);
}

// Copy of src with sample `at` removed / a new random sample inserted at `at` / appended.
static void without(const Dataset *src, int at, Dataset *dst) {
    int idx[TRAIN_N + TEST_N], k = 0;
    for (int i = 0; i < src->n; i++)
        if (i != at) idx[k++] = i;
    assert_int_equal(ds_select(src, idx, k, dst), BL_OK);
}
static void with_new(const Dataset *src, int at, uint8_t label, uint64_t seed, Dataset *dst) {
    assert_int_equal(ds_alloc(dst, src->n + 1, src->c, src->h, src->w, src->num_classes), BL_OK);
    size_t ss = (size_t)ds_sample_size(src);
    Rng r = rng_stream(seed, "new sample");
    for (int i = 0, j = 0; i <= src->n; i++) {
        if (i == at) {
            for (size_t b = 0; b < ss; b++) dst->images[(size_t)i * ss + b] = (uint8_t)rng_below(&r, 256);
            dst->labels[i] = label;
            continue;
        }
        memcpy(dst->images + (size_t)i * ss, src->images + (size_t)j * ss, ss);
        dst->labels[i] = src->labels[j++];
    }
}

static void expect_change(const DsmReport *r, int i, int split, DsmChangeKind kind, int old_index, int new_index) {
    assert_true(i < r->nchanges);
    const DsmChange *c = &r->changes[i];
    if (c->split != split || c->kind != kind || c->old_index != old_index || c->new_index != new_index)
        fail_msg("change %d: split %d kind %d old %d new %d; expected split %d kind %d old %d new %d", i, c->split,
                 (int)c->kind, c->old_index, c->new_index, split, (int)kind, old_index, new_index);
}

static int setup(void **state) {
    (void)state;
    strcpy(g_dir, "/tmp/bl_test_manifest_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    make_split(&g_train, TRAIN_N, 1);
    make_split(&g_test, TEST_N, 2);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(g_dir);
    free_mnist();
    ds_free(&g_train);
    ds_free(&g_test);
    return 0;
}

// ---- tests ----

static void test_round_trip(void **state) {
    (void)state;
    DsmManifest m, back;
    reference_manifest(&m);
    assert_int_equal(m.kind, DSM_KIND_IDX);
    assert_int_equal(m.nfiles, 4);
    assert_int_equal(m.split[0].n, TRAIN_N);
    assert_int_equal(m.split[1].n, TEST_N);
    assert_int_equal(m.split[0].h, 4);
    assert_string_equal(m.files[0].name, "train-images-idx3-ubyte");
    assert_string_equal(m.files[0].file, "train-images-idx3-ubyte");
    assert_int_equal(m.files[0].bytes, 16 + TRAIN_N * 16);
    assert_memory_equal(m.split[0].labels, g_train.labels, TRAIN_N);

    // The dataset hash is the one dataset_load_dir reports (and runs record in model provenance).
    char dir[128];
    path_in(dir, sizeof dir, "ref");
    DatasetPair pair;
    assert_int_equal(dataset_load_dir(dir, 0, 0, &pair), BL_OK);
    assert_string_equal(m.dataset_sha256, pair.sha256_hex);
    ds_pair_free(&pair);

    // Write, read back, write again: same bytes.
    char p1[128], p2[128];
    path_in(p1, sizeof p1, "m1.json");
    path_in(p2, sizeof p2, "m2.json");
    assert_int_equal(dsm_write(&m, p1), BL_OK);
    assert_int_equal(dsm_read(p1, &back), BL_OK);
    assert_int_equal(dsm_write(&back, p2), BL_OK);
    FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
    char a[65536], b[65536];
    size_t na = fread(a, 1, sizeof a, f1), nb = fread(b, 1, sizeof b, f2);
    fclose(f1);
    fclose(f2);
    assert_true(na > 1000 && na < sizeof a);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_memory_equal(back.split[0].image_sha256, m.split[0].image_sha256, 32 * TRAIN_N);
    assert_memory_equal(back.split[1].labels, m.split[1].labels, TEST_N);
    assert_string_equal(back.files[3].sha256, m.files[3].sha256);

    DsmReport r;
    assert_int_equal(dsm_compare(&m, &back, &r), BL_OK);
    assert_true(dsm_report_ok(&r));
    assert_int_equal(r.nchanges, 0);
    dsm_report_free(&r);
    assert_int_equal(dsm_require(dir, DSM_KIND_AUTO, p1), BL_OK);
    dsm_free(&m);
    dsm_free(&back);
    unlink(p1);
    unlink(p2);
}

static void test_changed_image_and_label(void **state) {
    (void)state;
    Dataset tr;
    assert_int_equal(ds_copy(&g_train, &tr), BL_OK);
    tr.images[7 * 16 + 15] ^= 0xff; // a BadNets-style pixel patch on train[7], label kept
    tr.labels[9] = 3;               // a label flip on train[9] (was 9)
    tr.images[30 * 16] ^= 1;        // both on train[30]
    tr.labels[30] = 7;
    DsmReport r;
    compare_with(&tr, &g_test, &r);
    assert_false(dsm_report_ok(&r));
    assert_int_equal(r.nchanges, 3);
    assert_int_equal(r.changed[0], 3);
    assert_int_equal(r.added[0] + r.removed[0] + r.changed[1], 0);
    expect_change(&r, 0, 0, DSM_CHANGED, 7, 7);
    assert_int_equal(r.changes[0].image_changed, 1);
    assert_int_equal(r.changes[0].old_label, r.changes[0].new_label);
    expect_change(&r, 1, 0, DSM_CHANGED, 9, 9);
    assert_int_equal(r.changes[1].image_changed, 0);
    assert_int_equal(r.changes[1].old_label, 9);
    assert_int_equal(r.changes[1].new_label, 3);
    expect_change(&r, 2, 0, DSM_CHANGED, 30, 30);
    assert_int_equal(r.changes[2].image_changed, 1);
    assert_int_equal(r.changes[2].new_label, 7);
    dsm_report_free(&r);
    ds_free(&tr);
}

static void test_removed_and_added(void **state) {
    (void)state;
    Dataset tr, te, tmp;
    DsmReport r;
    // One removal in the middle: exactly that sample, not a shift of everything after it.
    without(&g_train, 20, &tr);
    compare_with(&tr, &g_test, &r);
    assert_int_equal(r.nchanges, 1);
    expect_change(&r, 0, 0, DSM_REMOVED, 20, -1);
    assert_int_equal(r.changes[0].old_label, 0);
    dsm_report_free(&r);
    ds_free(&tr);

    // Insertions at the front, in the middle and at the end (of the test split).
    with_new(&g_test, 0, 5, 1, &tmp);
    with_new(&tmp, 12, 6, 2, &te);
    ds_free(&tmp);
    with_new(&te, te.n, 7, 3, &tmp);
    ds_free(&te);
    compare_with(&g_train, &tmp, &r);
    assert_int_equal(r.nchanges, 3);
    assert_int_equal(r.added[1], 3);
    expect_change(&r, 0, 1, DSM_ADDED, -1, 0);
    expect_change(&r, 1, 1, DSM_ADDED, -1, 12);
    expect_change(&r, 2, 1, DSM_ADDED, -1, TEST_N + 2);
    assert_int_equal(r.changes[2].new_label, 7);
    dsm_report_free(&r);
    ds_free(&tmp);

    // Removing the first and the last sample.
    without(&g_train, TRAIN_N - 1, &tmp);
    without(&tmp, 0, &tr);
    ds_free(&tmp);
    compare_with(&tr, &g_test, &r);
    assert_int_equal(r.nchanges, 2);
    expect_change(&r, 0, 0, DSM_REMOVED, 0, -1);
    expect_change(&r, 1, 0, DSM_REMOVED, TRAIN_N - 1, -1);
    dsm_report_free(&r);
    ds_free(&tr);
}

// Everything at once, in both splits, separated by unchanged samples.
static void test_mixed_edits_exact(void **state) {
    (void)state;
    Dataset tr, te, tmp;
    assert_int_equal(ds_copy(&g_train, &tmp), BL_OK);
    tmp.images[3 * 16 + 2] ^= 0x40;           // train[3] changed
    without(&tmp, 20, &tr);                   // train[20] removed
    ds_free(&tmp);
    with_new(&tr, 39, 1, 9, &tmp);            // new sample at new index 39 (old 40 follows it)
    ds_free(&tr);
    tmp.labels[50] = (uint8_t)(tmp.labels[50] + 1) % 10; // new index 50 = old 50 (one removal, one insertion)
    without(&g_test, 24, &te);                // test[24] (the last) removed
    te.labels[5] = 9;                         // test[5] label flipped (was 5)
    DsmReport r;
    compare_with(&tmp, &te, &r);
    assert_int_equal(r.nchanges, 6);
    expect_change(&r, 0, 0, DSM_CHANGED, 3, 3);
    expect_change(&r, 1, 0, DSM_REMOVED, 20, -1);
    expect_change(&r, 2, 0, DSM_ADDED, -1, 39);
    expect_change(&r, 3, 0, DSM_CHANGED, 50, 50);
    assert_int_equal(r.changes[3].image_changed, 0);
    expect_change(&r, 4, 1, DSM_CHANGED, 5, 5);
    assert_int_equal(r.changes[4].new_label, 9);
    expect_change(&r, 5, 1, DSM_REMOVED, 24, -1);
    assert_int_equal(r.changed[0], 2);
    assert_int_equal(r.removed[0], 1);
    assert_int_equal(r.added[0], 1);
    assert_int_equal(r.changed[1], 1);
    assert_int_equal(r.removed[1], 1);
    assert_int_equal(r.by_position[0] + r.by_position[1], 0);
    dsm_report_free(&r);
    ds_free(&tmp);
    ds_free(&te);
}

// Poisoning many samples in place is reported exactly, sample by sample.
static void test_many_in_place(void **state) {
    (void)state;
    Dataset tr;
    assert_int_equal(ds_copy(&g_train, &tr), BL_OK);
    for (int i = 0; i < TRAIN_N; i += 2) tr.images[(size_t)i * 16 + 15] = 255; // every other sample
    tr.images[15] = g_train.images[15] == 255 ? 0 : 255; // make sure sample 0 really changes
    DsmReport r;
    compare_with(&tr, &g_test, &r);
    int want = 0;
    for (int i = 0; i < TRAIN_N; i++)
        if (memcmp(tr.images + i * 16, g_train.images + i * 16, 16)) {
            expect_change(&r, want, 0, DSM_CHANGED, i, i);
            want++;
        }
    assert_true(want >= TRAIN_N / 2 - 1);
    assert_int_equal(r.nchanges, want);
    dsm_report_free(&r);
    ds_free(&tr);
}

// Beyond the alignment budget (a reversed copy needs ~2n edits) the split is compared by position and says so.
static void test_beyond_budget(void **state) {
    (void)state;
    Dataset big, rev;
    const int n = 1200;
    make_split(&big, n, 5);
    int idx[1200];
    for (int i = 0; i < n; i++) idx[i] = n - 1 - i;
    assert_int_equal(ds_select(&big, idx, n, &rev), BL_OK);
    char d1[128], d2[128];
    path_in(d1, sizeof d1, "big");
    path_in(d2, sizeof d2, "rev");
    write_dataset(d1, &big, &g_test);
    write_dataset(d2, &rev, &g_test);
    DsmManifest a, b;
    assert_int_equal(dsm_build(d1, DSM_KIND_AUTO, &a), BL_OK);
    assert_int_equal(dsm_build(d2, DSM_KIND_AUTO, &b), BL_OK);
    DsmReport r;
    assert_int_equal(dsm_compare(&a, &b, &r), BL_OK);
    assert_int_equal(r.by_position[0], 1);
    assert_int_equal(r.by_position[1], 0);
    assert_int_equal(r.nchanges, n);
    assert_int_equal(r.changed[0], n);
    dsm_report_free(&r);
    dsm_free(&a);
    dsm_free(&b);
    ds_free(&big);
    ds_free(&rev);
    rm_rf(d1);
    rm_rf(d2);
}

// Re-compressing a file changes its bytes but no sample: reported, still a match. A different sample shape
// is a mismatch.
static void test_file_bytes_and_shape(void **state) {
    (void)state;
    DsmManifest want, have;
    reference_manifest(&want);
    char dir[128], plain[256], gz[256];
    path_in(dir, sizeof dir, "copy");
    write_dataset(dir, &g_train, &g_test);
    snprintf(plain, sizeof plain, "%s/train-labels-idx1-ubyte", dir);
    snprintf(gz, sizeof gz, "%s/train-labels-idx1-ubyte.gz", dir);
    FILE *f = fopen(plain, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    gzFile g = gzopen(gz, "wb");
    assert_int_equal(gzwrite(g, buf, (unsigned)n), (int)n);
    gzclose(g);
    unlink(plain);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, &have), BL_OK);
    assert_string_equal(have.files[1].file, "train-labels-idx1-ubyte.gz");
    DsmReport r;
    assert_int_equal(dsm_compare(&want, &have, &r), BL_OK);
    assert_int_equal(r.file_changed[1], 1);
    assert_int_equal(r.file_changed[0] + r.file_changed[2] + r.file_changed[3], 0);
    assert_true(dsm_report_ok(&r));
    dsm_report_free(&r);
    dsm_free(&have);

    Dataset te;
    assert_int_equal(ds_alloc(&te, TEST_N, 1, 2, 8, 10), BL_OK); // same bytes per sample, other shape
    memcpy(te.images, g_test.images, TEST_N * 16);
    memcpy(te.labels, g_test.labels, TEST_N);
    write_dataset(dir, &g_train, &te);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, &have), BL_OK);
    assert_int_equal(dsm_compare(&want, &have, &r), BL_OK);
    assert_int_equal(r.shape_changed[1], 1);
    assert_false(dsm_report_ok(&r));
    dsm_report_free(&r);
    dsm_free(&have);
    dsm_free(&want);
    ds_free(&te);
}

static void test_require(void **state) {
    (void)state;
    DsmManifest m;
    reference_manifest(&m);
    char mp[128], dir[128];
    path_in(mp, sizeof mp, "req.json");
    assert_int_equal(dsm_write(&m, mp), BL_OK);
    dsm_free(&m);
    Dataset tr;
    assert_int_equal(ds_copy(&g_train, &tr), BL_OK);
    tr.labels[17] = 2;
    path_in(dir, sizeof dir, "copy");
    write_dataset(dir, &tr, &g_test);
    assert_int_equal(dsm_require(dir, DSM_KIND_AUTO, mp), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "does NOT match"));
    assert_non_null(strstr(bl_errmsg(), "train 1 changed"));
    assert_non_null(strstr(bl_errmsg(), "train[17] changed"));
    ds_free(&tr);
    // A folder missing a file.
    char p[256];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    unlink(p);
    assert_int_equal(dsm_require(dir, DSM_KIND_AUTO, mp), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "t10k-labels-idx1-ubyte"));
    unlink(mp);
}

// Malformed manifests are refused with a message naming the field; nothing leaks (ASan).
static void test_hostile_manifests(void **state) {
    (void)state;
    DsmManifest m;
    reference_manifest(&m);
    char p[128];
    path_in(p, sizeof p, "m.json");
    assert_int_equal(dsm_write(&m, p), BL_OK);
    dsm_free(&m);
    FILE *f = fopen(p, "rb");
    static char good[65536];
    size_t n = fread(good, 1, sizeof good - 1, f);
    fclose(f);
    good[n] = 0;

    // cJSON writes "key":<TAB>value.
    struct { const char *from, *to, *expect; } cases[] = {
        {"\"version\":\t2", "\"version\":\t3", "version must be 1..2"},
        {"\"version\":\t2", "\"version\":\t1", "a version 1 manifest has no \"kind\""},
        {"\"kind\":\t\"idx\"", "\"kind\":\t\"png\"", "kind must be \"idx\" or \"mnist10k\""},
        {"\"kind\":\t\"idx\"", "\"kind\":\t\"mnist10k\"", "must list 0.json .. 9.json"},
        {"backdoorlab-dataset-manifest", "something-else", "not a backdoorlab dataset manifest"},
        {"\"n\":\t60", "\"n\":\t61", "train.labels must be an array of 61 labels"},
        {"\"n\":\t60", "\"n\":\t1e12", "train.n must be an integer"},
        {"\"n\":\t60", "\"n\":\t-1", "train.n must be an integer"},
        {"\"n\":\t25", "\"n\":\t2.5", "test.n must be an integer"},
        {"\"shape\":\t[1, 4, 4]", "\"shape\":\t[1, 4, 0]", "shape[2] must be an integer in 1..4096"},
        {"\"shape\":\t[1, 4, 4]", "\"shape\":\t[1, 4]", "shape must be [C, H, W]"},
        {"\"labels\":\t[0, ", "\"labels\":\t[300, ", "train.labels[0] must be an integer in 0..255"},
        {"\"labels\":\t[0, ", "\"labels\":\t[\"0\", ", "train.labels[0]"},
        {"\"image_sha256\":\t[\"", "\"image_sha256\":\t[\"zz", "train.image_sha256[0] must be 64 hex digits"},
        {"\"dataset_sha256\":\t\"", "\"dataset_sha256\":\t\"x", "dataset_sha256 must be 64 hex digits"},
        {"\"name\":\t\"train-images-idx3-ubyte\"", "\"name\":\t\"evil\"", "files[0] must be"},
        {"\"train\":", "\"training\":", "no \"train\" object"},
    };
    char q[128];
    path_in(q, sizeof q, "bad.json");
    static char bad[65536 + 64];
    for (size_t i = 0; i < BL_ARRAY_LEN(cases); i++) {
        const char *at = strstr(good, cases[i].from);
        if (!at) fail_msg("case %zu: '%s' not in the manifest", i, cases[i].from);
        size_t pre = (size_t)(at - good);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)pre, good, cases[i].to, at + strlen(cases[i].from));
        f = fopen(q, "wb");
        fputs(bad, f);
        fclose(f);
        memset(&m, 0xAB, sizeof m);
        Status st = dsm_read(q, &m);
        if (st != BL_ERR_DATA || !strstr(bl_errmsg(), cases[i].expect) || !strstr(bl_errmsg(), q))
            fail_msg("case %zu: status %d, message \"%s\", expected \"%s\"", i, (int)st, bl_errmsg(),
                     cases[i].expect);
        assert_null(m.split[0].labels);
    }
    // Truncated JSON at a few lengths, and not JSON at all.
    for (size_t len = 0; len < n; len += n / 7 + 1) {
        f = fopen(q, "wb");
        fwrite(good, 1, len, f);
        fclose(f);
        assert_int_equal(dsm_read(q, &m), BL_ERR_DATA);
    }
    // A version 1 manifest (before kinds: no "kind", always IDX) still reads, as IDX, and matches.
    const char *v2 = "\"version\":\t2,\n\t\"kind\":\t\"idx\",";
    const char *at = strstr(good, v2);
    assert_non_null(at);
    snprintf(bad, sizeof bad, "%.*s\"version\":\t1,%s", (int)(at - good), good, at + strlen(v2));
    f = fopen(q, "wb");
    fputs(bad, f);
    fclose(f);
    assert_int_equal(dsm_read(q, &m), BL_OK);
    assert_int_equal(m.kind, DSM_KIND_IDX);
    dsm_free(&m);
    char ref[128];
    path_in(ref, sizeof ref, "ref");
    assert_int_equal(dsm_require(ref, DSM_KIND_AUTO, q), BL_OK);

    assert_int_equal(dsm_read("/nonexistent/m.json", &m), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "cannot open manifest"));
    unlink(p);
    unlink(q);
}

// ---- mnist10k folders ----


// Write DIR/<k>.json holding images [0, n) of pix (n*784 bytes) as mnist10k's grey values in [0,1].
static void write_digit(const char *dir, int k, const uint8_t *pix, int n) {
    char p[256];
    snprintf(p, sizeof p, "%s/%d.json", dir, k);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("{\"data\":[", f);
    for (int i = 0; i < n * MNIST10K_PIXELS; i++) {
        if (pix[i]) fprintf(f, "%s%.3f", i ? "," : "", pix[i] / 255.0); // 3 decimals recover the byte exactly
        else fputs(i ? ",0" : "0", f);
    }
    fputs("]}", f);
    assert_int_equal(fclose(f), 0);
}

// A fresh mnist10k folder of the reference digits (with a LICENSE file).
static void write_mnist(const char *dir) {
    if (!g_mn[0]) {
        Rng r = rng_stream(7, "mnist10k test digits");
        for (int k = 0; k < MNIST10K_CLASSES; k++) {
            g_mn[k] = calloc((size_t)MN_PER * MNIST10K_PIXELS, 1);
            assert_non_null(g_mn[k]);
            for (int i = 0; i < MN_PER; i++)
                for (int j = 0; j < 8; j++)
                    g_mn[k][(size_t)i * MNIST10K_PIXELS + rng_below(&r, MNIST10K_PIXELS)] =
                        (uint8_t)(1 + rng_below(&r, 255));
        }
    }
    rm_rf(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int k = 0; k < MNIST10K_CLASSES; k++) write_digit(dir, k, g_mn[k], MN_PER);
    char p[256];
    snprintf(p, sizeof p, "%s/LICENSE", dir);
    FILE *f = fopen(p, "wb");
    fputs("MIT\n", f);
    fclose(f);
}

// The reference mnist10k folder "mref", its manifest (*m) and that manifest written to mref.json (path in mp).
static void mnist_reference(DsmManifest *m, char *mp, size_t n) {
    char dir[128];
    path_in(dir, sizeof dir, "mref");
    write_mnist(dir);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, m), BL_OK);
    path_in(mp, n, "mref.json");
    assert_int_equal(dsm_write(m, mp), BL_OK);
}

// Build the manifest of the folder "mcopy" (made by the caller) and compare the reference with it.
static void mnist_compare(const DsmManifest *want, DsmManifest *have, DsmReport *r) {
    char dir[128];
    path_in(dir, sizeof dir, "mcopy");
    assert_int_equal(dsm_build(dir, DSM_KIND_MNIST10K, have), BL_OK);
    assert_int_equal(dsm_compare(want, have, r), BL_OK);
}

static void expect_source(const DsmManifest *m, int split, int index, const char *want) {
    char src[48];
    assert_string_equal(dsm_sample_source(m, split, index, src, sizeof src), want);
}

static void test_mnist10k_round_trip(void **state) {
    (void)state;
    DsmManifest m, back;
    char mp[128], dir[128];
    mnist_reference(&m, mp, sizeof mp);
    assert_int_equal(m.kind, DSM_KIND_MNIST10K);
    assert_int_equal(m.nfiles, 11);
    assert_string_equal(m.files[3].name, "3.json");
    assert_string_equal(m.files[10].file, "LICENSE");
    assert_int_equal(m.split[0].n, 3 * MNIST10K_CLASSES);
    assert_int_equal(m.split[1].n, MNIST10K_TEST_PER_CLASS * MNIST10K_CLASSES);
    assert_int_equal(m.split[0].h, 28);
    // Source order: digit by digit, so the labels are sorted; images are hashed byte for byte.
    assert_int_equal(m.split[0].labels[3], 1);
    assert_int_equal(m.split[1].labels[MNIST10K_TEST_PER_CLASS], 1);
    uint8_t h[32];
    crypto_hash_sha256(h, g_mn[3] + (size_t)4 * MNIST10K_PIXELS, MNIST10K_PIXELS); // 3.json image 4 = test[601]
    assert_memory_equal(m.split[1].image_sha256 + 32 * 601, h, 32);
    expect_source(&m, 1, 601, "3.json image 4");
    expect_source(&m, 0, 11, "3.json image 2");
    expect_source(&m, 1, 0, "0.json image 3");

    // The dataset hash is the one mnist10k_load reports (and runs record).
    path_in(dir, sizeof dir, "mref");
    DatasetPair pair;
    assert_int_equal(mnist10k_load(dir, 0, 0, &pair), BL_OK);
    assert_string_equal(m.dataset_sha256, pair.sha256_hex);
    ds_pair_free(&pair);

    // Read back: same manifest; the folder matches it, also without LICENSE (reported as a file difference).
    assert_int_equal(dsm_read(mp, &back), BL_OK);
    assert_int_equal(back.kind, DSM_KIND_MNIST10K);
    assert_int_equal(back.nfiles, 11);
    assert_memory_equal(back.split[1].image_sha256, m.split[1].image_sha256, 32 * 2000);
    assert_int_equal(dsm_require(dir, DSM_KIND_AUTO, mp), BL_OK);
    assert_int_equal(dsm_require(dir, DSM_KIND_MNIST10K, mp), BL_OK);
    char lic[256];
    snprintf(lic, sizeof lic, "%s/LICENSE", dir);
    unlink(lic);
    DsmManifest have;
    DsmReport r;
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, &have), BL_OK);
    assert_int_equal(have.nfiles, 10);
    assert_int_equal(dsm_compare(&back, &have, &r), BL_OK);
    assert_true(dsm_report_ok(&r));
    assert_int_equal(r.nfiles, 11);
    for (int i = 0; i < 11; i++) assert_int_equal(r.file_changed[i], i == 10);
    dsm_report_free(&r);
    dsm_free(&have);
    dsm_free(&back);
    dsm_free(&m);
}

// One image changed in 3.json: exactly that sample, in the split it belongs to.
static void test_mnist10k_changed(void **state) {
    (void)state;
    DsmManifest want, have;
    char mp[128], dir[128];
    mnist_reference(&want, mp, sizeof mp);
    path_in(dir, sizeof dir, "mcopy");
    write_mnist(dir);
    uint8_t *d3 = malloc((size_t)MN_PER * MNIST10K_PIXELS);
    memcpy(d3, g_mn[3], (size_t)MN_PER * MNIST10K_PIXELS);
    d3[(size_t)100 * MNIST10K_PIXELS + 400] ^= 0x80; // image 100 of 3.json: a test image (test[600 + 97])
    write_digit(dir, 3, d3, MN_PER);
    DsmReport r;
    mnist_compare(&want, &have, &r);
    assert_false(dsm_report_ok(&r));
    assert_int_equal(r.nchanges, 1);
    expect_change(&r, 0, 1, DSM_CHANGED, 697, 697);
    assert_int_equal(r.changes[0].image_changed, 1);
    assert_int_equal(r.changes[0].new_label, 3);
    expect_source(&want, 1, 697, "3.json image 100");
    for (int i = 0; i < 11; i++) assert_int_equal(r.file_changed[i], i == 3);
    assert_int_equal(dsm_require(dir, DSM_KIND_MNIST10K, mp), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "test 1 changed"));
    assert_non_null(strstr(bl_errmsg(), "test[697] (3.json image 100) changed"));
    dsm_report_free(&r);
    dsm_free(&have);

    // And a training image (3.json image 1 = train[10]) as well.
    d3[(size_t)1 * MNIST10K_PIXELS] ^= 1;
    write_digit(dir, 3, d3, MN_PER);
    mnist_compare(&want, &have, &r);
    assert_int_equal(r.nchanges, 2);
    expect_change(&r, 0, 0, DSM_CHANGED, 10, 10);
    expect_change(&r, 1, 1, DSM_CHANGED, 697, 697);
    dsm_report_free(&r);
    dsm_free(&have);
    dsm_free(&want);
    free(d3);
}

// One image removed from 3.json: that sample reported removed, nothing shifted. A removed test image also moves
// digit 3's last training image into the test set (the split takes each digit's last 200).
static void test_mnist10k_removed(void **state) {
    (void)state;
    DsmManifest want, have;
    char mp[128], dir[128];
    mnist_reference(&want, mp, sizeof mp);
    path_in(dir, sizeof dir, "mcopy");
    write_mnist(dir);
    size_t ip = MNIST10K_PIXELS;
    uint8_t *d3 = malloc((size_t)MN_PER * ip);
    // Without image 1 (a training image: train[3*3 + 1]).
    memcpy(d3, g_mn[3], ip);
    memcpy(d3 + ip, g_mn[3] + 2 * ip, (MN_PER - 2) * ip);
    write_digit(dir, 3, d3, MN_PER - 1);
    DsmReport r;
    mnist_compare(&want, &have, &r);
    assert_int_equal(r.nchanges, 1);
    expect_change(&r, 0, 0, DSM_REMOVED, 10, -1);
    assert_int_equal(r.changes[0].old_label, 3);
    expect_source(&want, 0, 10, "3.json image 1");
    assert_int_equal(r.by_position[0] + r.by_position[1], 0);
    dsm_report_free(&r);
    dsm_free(&have);

    // Without image 150 (a test image): test[600 + 147] removed; image 2 moves from train[11] to test[600].
    memcpy(d3, g_mn[3], 150 * ip);
    memcpy(d3 + 150 * ip, g_mn[3] + 151 * ip, (MN_PER - 151) * ip);
    write_digit(dir, 3, d3, MN_PER - 1);
    mnist_compare(&want, &have, &r);
    assert_int_equal(r.nchanges, 3);
    expect_change(&r, 0, 0, DSM_REMOVED, 11, -1);
    expect_change(&r, 1, 1, DSM_ADDED, -1, 600);
    expect_change(&r, 2, 1, DSM_REMOVED, 747, -1);
    expect_source(&have, 1, 600, "3.json image 2");
    expect_source(&want, 1, 747, "3.json image 150");
    dsm_report_free(&r);
    dsm_free(&have);
    dsm_free(&want);
    free(d3);
}

// A manifest of one kind checked against a folder (or a configured kind) of the other: a clear error.
static void test_kind_mismatch(void **state) {
    (void)state;
    DsmManifest m, idx;
    char mp[128], ip[128], mdir[128], idir[128];
    mnist_reference(&m, mp, sizeof mp);
    reference_manifest(&idx);
    path_in(ip, sizeof ip, "idx.json");
    assert_int_equal(dsm_write(&idx, ip), BL_OK);
    path_in(mdir, sizeof mdir, "mref");
    path_in(idir, sizeof idir, "ref");

    assert_int_equal(dsm_require(mdir, DSM_KIND_AUTO, ip), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "describes an IDX dataset"));
    assert_non_null(strstr(bl_errmsg(), "is an mnist10k dataset"));
    assert_int_equal(dsm_require(idir, DSM_KIND_AUTO, mp), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "describes an mnist10k dataset"));
    assert_non_null(strstr(bl_errmsg(), "is an IDX dataset"));
    // A run configured as mnist10k with an IDX manifest, whatever the folder holds.
    assert_int_equal(dsm_require(idir, DSM_KIND_MNIST10K, ip), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "is to be read as an mnist10k dataset"));
    DsmReport r;
    assert_int_equal(dsm_compare(&idx, &m, &r), BL_ERR_DATA);
    assert_int_equal(r.nchanges, 0);
    // Forcing the kind on a folder of the other kind fails in the loader, naming the missing file.
    DsmManifest x;
    assert_int_equal(dsm_build(idir, DSM_KIND_MNIST10K, &x), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "0.json"));
    // A folder of neither kind.
    char empty[128];
    path_in(empty, sizeof empty, "empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(dsm_build(empty, DSM_KIND_AUTO, &x), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "is not a dataset folder"));
    rmdir(empty);
    // Too few images for mnist10k's split: refused as the loader refuses it.
    char dir[128];
    path_in(dir, sizeof dir, "mcopy");
    write_mnist(dir);
    write_digit(dir, 5, g_mn[5], MNIST10K_TEST_PER_CLASS);
    assert_int_equal(dsm_build(dir, DSM_KIND_AUTO, &x), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "5.json has 200 images"));
    dsm_free(&m);
    dsm_free(&idx);
}

// Malformed mnist10k manifests: the checks dsm_sample_source relies on.
static void test_mnist10k_hostile(void **state) {
    (void)state;
    DsmManifest m;
    char mp[128], q[128];
    mnist_reference(&m, mp, sizeof mp);
    dsm_free(&m);
    FILE *f = fopen(mp, "rb");
    static char good[1 << 20], bad[(1 << 20) + 64];
    size_t n = fread(good, 1, sizeof good - 1, f);
    fclose(f);
    assert_true(n < sizeof good - 1);
    good[n] = 0;
    struct { const char *from, *to, *expect; } cases[] = {
        {"\"labels\":\t[0, 0, 0, 1", "\"labels\":\t[0, 0, 1, 0", "must be digits 0..9 in file order"},
        {"\"labels\":\t[0, 0, 0, 1", "\"labels\":\t[0, 0, 0, 10", "must be digits 0..9"},
        {"\"shape\":\t[1, 28, 28]", "\"shape\":\t[1, 28, 27]", "mnist10k train.shape must be [1, 28, 28]"},
        {"\"name\":\t\"3.json\"", "\"name\":\t\"x.json\"", "files[3] must be {\"name\": \"3.json\""},
        {"\"kind\":\t\"mnist10k\"", "\"kind\":\t\"idx\"", "must list the 4 IDX files"},
    };
    path_in(q, sizeof q, "mbad.json");
    for (size_t i = 0; i < BL_ARRAY_LEN(cases); i++) {
        const char *at = strstr(good, cases[i].from);
        if (!at) fail_msg("case %zu: '%s' not in the manifest", i, cases[i].from);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - good), good, cases[i].to, at + strlen(cases[i].from));
        f = fopen(q, "wb");
        fputs(bad, f);
        fclose(f);
        Status st = dsm_read(q, &m);
        if (st != BL_ERR_DATA || !strstr(bl_errmsg(), cases[i].expect))
            fail_msg("case %zu: status %d, message \"%s\", expected \"%s\"", i, (int)st, bl_errmsg(),
                     cases[i].expect);
        assert_null(m.split[0].labels);
    }
    // A test split with a digit's 200 images one short (the last test hash and label dropped).
    const char *tl = strstr(good, "\"test\":");
    assert_non_null(tl);
    snprintf(bad, sizeof bad, "%.*s\"test\":\t{\n\t\t\"n\":\t1999,%s", (int)(tl - good), good,
             strstr(tl, "\"n\":\t2000,") + strlen("\"n\":\t2000,"));
    char *lab = strstr(strstr(bad, "\"test\":"), ", 9]");
    assert_non_null(lab);
    memmove(lab, lab + 3, strlen(lab + 3) + 1); // drop the last label
    char *last = strrchr(bad, '"');             // end of the last hash string
    char *prev = last - 67;                     // `, "` + 64 hex digits before it
    assert_memory_equal(prev, ", \"", 3);
    memmove(prev, last + 1, strlen(last + 1) + 1);
    f = fopen(q, "wb");
    fputs(bad, f);
    fclose(f);
    assert_int_equal(dsm_read(q, &m), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "has 199 image(s) of digit 9, expected 200"));
    unlink(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_changed_image_and_label),
        cmocka_unit_test(test_removed_and_added),
        cmocka_unit_test(test_mixed_edits_exact),
        cmocka_unit_test(test_many_in_place),
        cmocka_unit_test(test_beyond_budget),
        cmocka_unit_test(test_file_bytes_and_shape),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_hostile_manifests),
        cmocka_unit_test(test_mnist10k_round_trip),
        cmocka_unit_test(test_mnist10k_changed),
        cmocka_unit_test(test_mnist10k_removed),
        cmocka_unit_test(test_kind_mismatch),
        cmocka_unit_test(test_mnist10k_hostile),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
