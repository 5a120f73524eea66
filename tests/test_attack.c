// test_attack.c: the attack library: exact pixels each trigger changes, poisoning plans (exact count and
// indices for a seed), label rules, bad specs, the manifest, trigger pictures and the exported files.
#include <dirent.h>
#include <math.h>
#include <png.h>
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

#include "attack/attack.h"
#include "attack/export.h"
#include "attack/plan.h"
#include "attack/registry.h"
#include "attack/trigger.h"
#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/pngdir.h"
#include "io/png.h"
#include "data/idx.h"
#include "data/split.h"
#include "run/experiment.h"

static char g_dir[256]; // per-test temp folder


static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_attack_XXXXXX");
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

static AttackSpec spec(const char *type) {
    AttackSpec a;
    attack_spec_defaults(&a, type);
    a.enabled = 1;
    return a;
}

// n samples (c,h,w), pixel values in 1..100 (never 255, so a patch is recognisable), labels i % classes.
static Dataset make_ds(int n, int c, int h, int w, int classes) {
    Dataset d;
    assert_int_equal(ds_alloc(&d, n, c, h, w, classes), BL_OK);
    size_t ss = (size_t)ds_sample_size(&d);
    for (size_t i = 0; i < (size_t)n * ss; i++) d.images[i] = (uint8_t)(1 + (i * 7 + i / ss) % 100);
    for (int i = 0; i < n; i++) d.labels[i] = (uint8_t)(i % classes);
    return d;
}

// n images of one constant value.
static Dataset const_ds(int n, int c, int h, int w, int classes, uint8_t v) {
    Dataset d;
    assert_int_equal(ds_alloc(&d, n, c, h, w, classes), BL_OK);
    memset(d.images, v, (size_t)n * ds_sample_size(&d));
    for (int i = 0; i < n; i++) d.labels[i] = (uint8_t)(i % classes);
    return d;
}

static void assert_msg_has(const char *needle) {
    if (!strstr(bl_errmsg(), needle)) fail_msg("error message '%s' lacks '%s'", bl_errmsg(), needle);
}

// The test-time trigger on one constant image (value v, 1 x h x w): returns the triggered pixels (malloc'd).
static uint8_t *trigger_one(const AttackSpec *a, int h, int w, uint8_t v, uint64_t seed) {
    Dataset d = const_ds(1, 1, h, w, 10, v), t;
    Status st = attack_apply_test(a, &d, seed, &t);
    if (st) fail_msg("attack_apply_test: %s", bl_errmsg());
    uint8_t *out = malloc((size_t)h * w);
    memcpy(out, t.images, (size_t)h * w);
    ds_free(&t);
    ds_free(&d);
    return out;
}

// Assert img (h x w) is `v` everywhere except the listed (row, col) pixels, which hold want[i].
static void assert_pixels(const uint8_t *img, int h, int w, uint8_t v, const int (*rc)[2], const uint8_t *want,
                          int n) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int expect = v;
            for (int i = 0; i < n; i++)
                if (rc[i][0] == y && rc[i][1] == x) expect = want[i];
            if (img[y * w + x] != expect) fail_msg("pixel (row %d, col %d) is %d, expected %d", y, x, img[y * w + x], expect);
        }
}

// ---------------------------------------------------------------------------------------------- triggers

static void test_patch_pixels(void **state) {
    (void)state;
    AttackSpec a = spec("badnets");
    // square 3x3 at bottom-right of 28x28: rows/cols 25..27 become 255.
    uint8_t *img = trigger_one(&a, 28, 28, 0, 1);
    int sq[9][2];
    uint8_t w255[16];
    memset(w255, 255, sizeof w255);
    for (int i = 0; i < 9; i++) sq[i][0] = 25 + i / 3, sq[i][1] = 25 + i % 3;
    assert_pixels(img, 28, 28, 0, sq, w255, 9);
    free(img);
    // pixel at bottom-right: (27, 27) only.
    strcpy(a.trigger, "pixel");
    img = trigger_one(&a, 28, 28, 10, 1);
    assert_pixels(img, 28, 28, 10, (const int[][2]){{27, 27}}, w255, 1);
    free(img);
    // pattern at 24,24 = ART's add_pattern_bd(distance=2) on 28x28: (26,26), (25,25), (26,24), (24,26).
    strcpy(a.trigger, "pattern");
    a.position_test = POS_XY, a.pos_test_x = 24, a.pos_test_y = 24;
    img = trigger_one(&a, 28, 28, 10, 1);
    assert_pixels(img, 28, 28, 10, (const int[][2]){{26, 26}, {25, 25}, {26, 24}, {24, 26}}, w255, 4);
    free(img);
    // checkerboard 4x4 at top-left, value 0.5: 128 where row+col is even, 0 where odd (16 pixels change).
    a = spec("badnets");
    strcpy(a.trigger, "checkerboard");
    a.trigger_size = 4, a.trigger_value = 0.5f, a.position_test = POS_TOP_LEFT;
    img = trigger_one(&a, 10, 12, 50, 1);
    int cb[16][2];
    uint8_t cbv[16];
    for (int i = 0; i < 16; i++) cb[i][0] = i / 4, cb[i][1] = i % 4, cbv[i] = (i / 4 + i % 4) % 2 ? 0 : 128;
    assert_pixels(img, 10, 12, 50, cb, cbv, 16);
    free(img);
    // square 2x2 at centre of a 7x9 image (x = 3, y = 2), blended at alpha_test 0.5: 0.5*100 + 0.5*255 = 177.5 -> 178.
    a = spec("badnets");
    a.trigger_size = 2, a.position_test = POS_CENTER, a.alpha_test = 0.5f;
    img = trigger_one(&a, 7, 9, 100, 1);
    assert_pixels(img, 7, 9, 100, (const int[][2]){{2, 3}, {2, 4}, {3, 3}, {3, 4}},
                  (const uint8_t[]){178, 178, 178, 178}, 4);
    free(img);
    // trigger_value is scaled and rounded: 0.3 -> 77 (as BadNets always did).
    a = spec("badnets");
    a.trigger_size = 1, a.trigger_value = 0.3f, a.position_test = POS_XY, a.pos_test_x = 1, a.pos_test_y = 0;
    img = trigger_one(&a, 3, 3, 5, 1);
    assert_pixels(img, 3, 3, 5, (const int[][2]){{0, 1}}, (const uint8_t[]){77}, 1);
    free(img);
}

static void test_noise_patch_and_random_position(void **state) {
    (void)state;
    AttackSpec a = spec("badnets");
    strcpy(a.trigger, "noise");
    a.trigger_size = 3;
    a.position_test = POS_TOP_RIGHT;
    // The 9 values are the first 9 of rng_stream(seed, "trigger"), placed row by row at columns 7..9 of 10.
    uint8_t *img = trigger_one(&a, 6, 10, 0, 42);
    Rng r = rng_stream(42, "trigger");
    int rc[9][2];
    uint8_t want[9];
    for (int i = 0; i < 9; i++) rc[i][0] = i / 3, rc[i][1] = 7 + i % 3, want[i] = (uint8_t)rng_below(&r, 256);
    assert_pixels(img, 6, 10, 0, rc, want, 9);
    uint8_t *again = trigger_one(&a, 6, 10, 0, 42), *other = trigger_one(&a, 6, 10, 0, 43);
    assert_memory_equal(img, again, 60);
    assert_memory_not_equal(img, other, 60);
    free(img), free(again), free(other);

    // Random position per image: always the whole 3x3 square, positions vary, fixed by the seed.
    a = spec("badnets");
    a.position_test = POS_RANDOM;
    Dataset d = const_ds(200, 1, 8, 8, 2, 0), t1, t2;
    assert_int_equal(attack_apply_test(&a, &d, 7, &t1), BL_OK);
    assert_int_equal(attack_apply_test(&a, &d, 7, &t2), BL_OK);
    assert_memory_equal(t1.images, t2.images, 200 * 64);
    int corners[36] = {0}, distinct = 0;
    Rng pr = rng_stream(7, "trigger-pos-test"); // documented draw order: row, then column
    for (int i = 0; i < 200; i++) {
        int y0 = (int)rng_below(&pr, 6), x0 = (int)rng_below(&pr, 6), set = 0;
        for (int p = 0; p < 64; p++) {
            int y = p / 8, x = p % 8, in = y >= y0 && y < y0 + 3 && x >= x0 && x < x0 + 3;
            assert_int_equal(t1.images[i * 64 + p], in ? 255 : 0);
            set += in;
        }
        assert_int_equal(set, 9);
        distinct += !corners[y0 * 6 + x0]++;
    }
    assert_true(distinct > 30); // 36 possible corners, 200 draws
    ds_free(&t1), ds_free(&t2), ds_free(&d);
}

static void test_position_test_differs(void **state) {
    (void)state;
    Dataset d = const_ds(40, 1, 6, 6, 2, 20), p, t;
    AttackSpec a = spec("badnets");
    a.trigger_size = 2;
    a.position = POS_BOTTOM_RIGHT;
    a.position_test = POS_TOP_LEFT;
    a.poison_rate = 0.5f;
    a.target = 1;
    PoisonManifest m;
    assert_int_equal(attack_poison(&a, &d, 3, NULL, &p, &m), BL_OK);
    assert_int_equal(attack_apply_test(&a, &d, 3, &t), BL_OK);
    int pos = m.positions[0];
    assert_int_equal(p.images[pos * 36 + 5 * 6 + 5], 255); // training: bottom-right
    assert_int_equal(p.images[pos * 36 + 0], 20);
    assert_int_equal(t.images[0], 255); // test: top-left
    assert_int_equal(t.images[5 * 6 + 5], 20);
    ds_free(&p), ds_free(&t), ds_free(&d);
    poison_manifest_free(&m);
}

// Write a w x h gray+alpha PNG (pixels gray[i], alpha[i]) with libpng's simplified API.
static void write_ga_png(const char *path, int w, int h, const uint8_t *gray, const uint8_t *alpha) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w, im.height = (png_uint_32)h, im.format = PNG_FORMAT_GA;
    uint8_t *buf = malloc((size_t)w * h * 2);
    for (int i = 0; i < w * h; i++) buf[2 * i] = gray[i], buf[2 * i + 1] = alpha[i];
    assert_true(png_image_write_to_file(&im, path, 0, buf, 0, NULL));
    free(buf);
}

static void write_png_format(const char *path, int w, int h, png_uint_32 format, uint8_t value) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w, im.height = (png_uint_32)h, im.format = format;
    size_t n = PNG_IMAGE_SIZE(im);
    uint8_t *buf = malloc(n);
    memset(buf, value, n);
    if (format & PNG_FORMAT_FLAG_COLOR)
        for (size_t i = 0; i < n; i += 3) buf[i] = 0; // make it really colour (R != G)
    assert_true(png_image_write_to_file(&im, path, 0, buf, 0, NULL));
    free(buf);
}

static void test_png_trigger(void **state) {
    (void)state;
    // A 3x2 trigger: alpha 255 replaces, 0 leaves alone, 128 blends (128/255 of 200 over 100 -> 150).
    const uint8_t gray[6] = {200, 200, 200, 0, 10, 200}, alpha[6] = {255, 0, 128, 255, 255, 0};
    write_ga_png(tpath("t.png"), 3, 2, gray, alpha);
    AttackSpec a = spec("badnets");
    strcpy(a.trigger, "png");
    strcpy(a.trigger_png, tpath("t.png"));
    a.position_test = POS_XY, a.pos_test_x = 1, a.pos_test_y = 2;
    uint8_t *img = trigger_one(&a, 5, 6, 100, 1);
    assert_pixels(img, 5, 6, 100, (const int[][2]){{2, 1}, {2, 3}, {3, 1}, {3, 2}},
                  (const uint8_t[]){200, 150, 0, 10}, 4);
    free(img);
    // Bad PNGs: larger than the image, 16-bit, colour on gray data, missing: each refused with the reason.
    Dataset d = const_ds(2, 1, 5, 6, 2, 0), t;
    write_png_format(tpath("big.png"), 7, 2, PNG_FORMAT_GRAY, 9);
    strcpy(a.trigger_png, tpath("big.png"));
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("larger than the 6x5 images");
    write_png_format(tpath("deep.png"), 2, 2, PNG_FORMAT_LINEAR_Y, 9);
    strcpy(a.trigger_png, tpath("deep.png"));
    assert_int_equal(attack_check(&a, &d), BL_ERR_DATA);
    assert_msg_has("16-bit");
    write_png_format(tpath("rgb.png"), 2, 2, PNG_FORMAT_RGB, 9);
    strcpy(a.trigger_png, tpath("rgb.png"));
    assert_int_equal(attack_check(&a, &d), BL_ERR_DATA);
    assert_msg_has("colour PNG but the images here are gray");
    strcpy(a.trigger_png, tpath("none.png"));
    assert_int_equal(attack_check(&a, &d), BL_ERR_DATA);
    assert_int_equal(attack_apply_test(&a, &d, 1, &t), BL_ERR_DATA);
    assert_null(t.images);
    // A gray PNG on colour images is used on every channel.
    Dataset rgb = const_ds(1, 3, 4, 4, 2, 30);
    strcpy(a.trigger_png, tpath("t.png"));
    a.position_test = POS_TOP_LEFT;
    assert_int_equal(attack_apply_test(&a, &rgb, 1, &t), BL_OK);
    for (int ch = 0; ch < 3; ch++) assert_int_equal(t.images[ch * 16 + 0], 200);
    ds_free(&t), ds_free(&rgb), ds_free(&d);
}

static void test_blended_pixels(void **state) {
    (void)state;
    AttackSpec a = spec("blended");
    assert_true(a.alpha_train == 0.2f && a.alpha_test == 0.2f);
    a.alpha_test = 0.25f;
    // Every pixel: 0.75 * 100 + 0.25 * k with k the seeded key bytes, rounded half away from zero.
    uint8_t *img = trigger_one(&a, 5, 4, 100, 9);
    Rng r = rng_stream(9, "trigger");
    for (int i = 0; i < 20; i++) {
        float k = (float)rng_below(&r, 256);
        assert_int_equal(img[i], (int)lroundf(0.75f * 100.0f + 0.25f * k));
    }
    free(img);
    // A PNG key must have the image's size: refused otherwise.
    write_png_format(tpath("key.png"), 5, 4, PNG_FORMAT_GRAY, 200);
    a.key = KEY_PNG;
    strcpy(a.trigger_png, tpath("key.png"));
    img = trigger_one(&a, 4, 5, 100, 9); // 0.75 * 100 + 0.25 * 200 = 125 everywhere
    for (int i = 0; i < 20; i++) assert_int_equal(img[i], 125);
    free(img);
    Dataset d = const_ds(1, 1, 5, 5, 2, 0);
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("resize it to 5x5");
    a.alpha_test = 0.0f;
    a.key = KEY_NOISE;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("alpha_test");
    ds_free(&d);
}

static void test_sig_pixels(void **state) {
    (void)state;
    AttackSpec a = spec("sig");
    // delta 40/255, frequency 6 on a 28-wide image of 100s: one row, period 14, the same on every row.
    const uint8_t row[14] = {100, 139, 117, 69, 69, 117, 139, 100, 61, 83, 131, 131, 83, 61};
    uint8_t *img = trigger_one(&a, 3, 28, 100, 1);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 28; x++) assert_int_equal(img[y * 28 + x], row[x % 14]);
    free(img);
    // Clipped at both ends.
    img = trigger_one(&a, 1, 28, 250, 1);
    assert_int_equal(img[1], 255);
    assert_int_equal(img[8], 211);
    free(img);
    img = trigger_one(&a, 1, 28, 5, 1);
    assert_int_equal(img[8], 0);
    free(img);
    // Only target-class samples are poisoned, labels unchanged; base = target counts the target class.
    Dataset d = make_ds(100, 1, 4, 28, 5), p;
    a.target = 3;
    a.poison_rate = 0.5f;
    PoisonManifest m;
    assert_int_equal(attack_poison(&a, &d, 1, NULL, &p, &m), BL_OK);
    assert_int_equal(m.count, 10); // half of the 20 class-3 samples
    for (int i = 0; i < m.count; i++) {
        assert_int_equal(m.records[i].orig_label, 3);
        assert_int_equal(m.records[i].new_label, 3);
    }
    assert_memory_equal(p.labels, d.labels, 100);
    ds_free(&p);
    poison_manifest_free(&m);
    // base = all: 10% of all 100 samples, still drawn from class 3.
    a.poison_base = BASE_ALL;
    a.poison_rate = 0.1f;
    assert_int_equal(attack_poison(&a, &d, 1, NULL, &p, &m), BL_OK);
    assert_int_equal(m.count, 10);
    assert_true(fabs(m.rate - 0.1) < 1e-12);
    for (int i = 0; i < m.count; i++) assert_int_equal(m.records[i].orig_label, 3);
    ds_free(&p);
    poison_manifest_free(&m);
    a.poison_rate = 0.3f; // 30 samples but the target class has only 20
    assert_int_equal(attack_poison(&a, &d, 1, NULL, &p, &m), BL_ERR_USAGE);
    assert_msg_has("only 20 are eligible");
    a.poison_base = BASE_NONTARGET;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("poison_rate_base must be target or all");
    a.poison_base = BASE_TARGET;
    a.label_mode = LABEL_ALL2ALL;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("clean-label");
    ds_free(&d);
}

// 32-bit FNV-1a, to pin a larger output compactly.
static uint32_t fnv(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void test_wanet(void **state) {
    (void)state;
    AttackSpec a = spec("wanet");
    // A constant image stays constant (the sampling grid never leaves the image; weights sum to one).
    uint8_t *img = trigger_one(&a, 28, 28, 77, 5);
    for (int i = 0; i < 28 * 28; i++) assert_int_equal(img[i], 77);
    free(img);
    // A ramp is moved by under a pixel or so: every pixel within the ramp's local range, many changed.
    Dataset d;
    assert_int_equal(ds_alloc(&d, 1, 1, 28, 28, 10), BL_OK);
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) d.images[y * 28 + x] = (uint8_t)(x * 9);
    Dataset t, t2;
    assert_int_equal(attack_apply_test(&a, &d, 5, &t), BL_OK);
    int changed = 0;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            int v = t.images[y * 28 + x];
            changed += v != x * 9;
            assert_true(abs(v - x * 9) <= 2 * 9); // s = 0.5 moves a pixel by at most ~1
        }
    assert_true(changed > 200);
    // Pinned output for seed 5 (a regression pin: the field, bicubic upsampling and bilinear sampling together).
    assert_int_equal(fnv(t.images, 784), 2460163732u);
    assert_int_equal(t.images[1], 8); // top row, second column: 9 sampled slightly to the left
    a.s = 2.0f; // stronger field, bigger moves, different image
    assert_int_equal(attack_apply_test(&a, &d, 5, &t2), BL_OK);
    assert_memory_not_equal(t.images, t2.images, 784);
    ds_free(&t2);
    a.s = 0.5f;
    assert_int_equal(attack_apply_test(&a, &d, 6, &t2), BL_OK); // another seed, another field
    assert_memory_not_equal(t.images, t2.images, 784);
    ds_free(&t2), ds_free(&t), ds_free(&d);
    // Poisoning: 10% of the non-target samples relabelled, cross_ratio 2 -> twice as many noise samples, label
    // kept, disjoint from the poisoned ones, and every other sample untouched.
    d = make_ds(300, 1, 8, 8, 3);
    for (int i = 0; i < 300; i++)
        for (int p = 0; p < 64; p++) d.images[i * 64 + p] = (uint8_t)((p % 8) * 30 + i % 7);
    a.k = 3;
    a.target = 0;
    PoisonManifest m;
    Dataset p;
    assert_int_equal(attack_poison(&a, &d, 11, NULL, &p, &m), BL_OK);
    assert_int_equal(m.count, 20);
    assert_int_equal(m.noise_count, 40);
    char *kind = calloc(300, 1);
    for (int i = 0; i < m.count; i++) kind[m.positions[i]] = 1;
    for (int i = 0; i < m.noise_count; i++) {
        assert_int_equal(kind[m.noise_orig_index[i]], 0);
        kind[m.noise_orig_index[i]] = 2;
        if (i) assert_true(m.noise_orig_index[i - 1] < m.noise_orig_index[i]);
    }
    int warped = 0;
    for (int i = 0; i < 300; i++) {
        int same = !memcmp(p.images + i * 64, d.images + i * 64, 64);
        if (kind[i] == 0) assert_true(same);
        warped += !same;
        assert_int_equal(p.labels[i], kind[i] == 1 ? 0 : d.labels[i]);
    }
    assert_true(warped > 50);
    free(kind);
    ds_free(&p);
    poison_manifest_free(&m);
    a.k = 9; // larger than the 8x8 image
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("k 9 must be in 2..8");
    ds_free(&d);
}

// ---------------------------------------------------------------------------------------------- plans

static void test_plan_exact_indices(void **state) {
    (void)state;
    Dataset d = make_ds(200, 1, 4, 4, 10); // 20 per class
    AttackSpec a = spec("badnets");
    a.target = 2;
    PoisonPlan plan;
    assert_int_equal(plan_select(&a, &d, 5, 0, &plan), BL_OK);
    // round(0.1 * 180) = 18 samples; pinned for seed 5 (a change here changes every published number).
    const int want[18] = {0, 6, 14, 15, 20, 21, 25, 31, 41, 44, 47, 79, 88, 95, 127, 167, 180, 186};
    assert_int_equal(plan.count, 18);
    assert_int_equal(plan.base_size, 180);
    assert_memory_equal(plan.positions, want, sizeof want);
    // The same draw, computed independently: the first 18 of a shuffle of the non-target positions.
    int pool[180], np = 0;
    for (int i = 0; i < 200; i++)
        if (d.labels[i] != 2) pool[np++] = i;
    Rng r = rng_stream(5, "poison");
    rng_shuffle_int(&r, pool, np);
    for (int i = 0; i < 18; i++) {
        int found = 0;
        for (int j = 0; j < 18; j++) found |= want[j] == pool[i];
        assert_true(found);
    }
    plan_free(&plan);
    ds_free(&d);
}

static void test_plan_bases_counts_sources(void **state) {
    (void)state;
    Dataset d = make_ds(200, 1, 4, 4, 10);
    AttackSpec a = spec("badnets");
    a.target = 2;
    PoisonPlan p;
    const float rates[] = {0.0f, 0.1f, 0.25f, 0.33f, 1.0f};
    const int want_nt[] = {0, 18, 45, 59, 180}, want_all[] = {0, 20, 50, 66, 200};
    for (size_t i = 0; i < BL_ARRAY_LEN(rates); i++) {
        a.poison_rate = rates[i];
        a.poison_base = BASE_NONTARGET;
        assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_OK);
        assert_int_equal(p.count, want_nt[i]);
        for (int j = 0; j < p.count; j++) assert_int_not_equal(d.labels[p.positions[j]], 2);
        plan_free(&p);
        a.poison_base = BASE_ALL;
        assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_OK);
        assert_int_equal(p.count, want_all[i]);
        plan_free(&p);
    }
    // poison_count: exactly that many, from the same permutation (so 25 extends 10).
    a.poison_base = BASE_NONTARGET;
    a.use_count = 1;
    a.poison_count = 25;
    assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_OK);
    assert_int_equal(p.count, 25);
    assert_true(p.base_size == 180);
    plan_free(&p);
    a.poison_count = 181;
    assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_ERR_USAGE);
    assert_msg_has("poison_count 181: only 180");
    // source_classes: only classes 4 and 7 (40 samples), rate counts the whole nontarget base.
    a.use_count = 0;
    a.source_count = 2;
    a.source_classes[0] = 4, a.source_classes[1] = 7;
    a.poison_rate = 0.2f; // 36 of 180
    assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_OK);
    assert_int_equal(p.count, 36);
    for (int j = 0; j < p.count; j++) assert_true(d.labels[p.positions[j]] == 4 || d.labels[p.positions[j]] == 7);
    plan_free(&p);
    a.poison_rate = 0.25f; // 45 > 40 eligible
    assert_int_equal(plan_select(&a, &d, 5, 0, &p), BL_ERR_USAGE);
    assert_msg_has("only 40 are eligible");
    ds_free(&d);
}

// Full consistency of a BadNets poisoning result with its input.
static void check_poison(const AttackSpec *a, const Dataset *rest, const Dataset *p, const PoisonManifest *m) {
    assert_int_equal(p->n, rest->n);
    size_t ss = (size_t)ds_sample_size(rest);
    char *chosen = calloc((size_t)rest->n, 1);
    for (int i = 0; i < m->count; i++) {
        int pos = m->positions[i];
        assert_in_range(pos, 0, rest->n - 1);
        assert_int_equal(chosen[pos], 0);
        chosen[pos] = 1;
        if (i > 0) assert_true(m->records[i - 1].orig_index < m->records[i].orig_index);
        assert_int_equal(m->records[i].orig_index, rest->orig_index[pos]);
        assert_int_equal(m->records[i].orig_label, rest->labels[pos]);
        int want = attack_target_label(a, rest->labels[pos], rest->num_classes);
        assert_int_equal(m->records[i].new_label, want);
        assert_int_equal(p->labels[pos], want);
        assert_memory_not_equal(p->images + (size_t)pos * ss, rest->images + (size_t)pos * ss, ss);
    }
    for (int i = 0; i < rest->n; i++)
        if (!chosen[i]) {
            assert_memory_equal(p->images + (size_t)i * ss, rest->images + (size_t)i * ss, ss);
            assert_int_equal(p->labels[i], rest->labels[i]);
        }
    free(chosen);
}

static void test_poison_all2all_and_determinism(void **state) {
    (void)state;
    Dataset full = make_ds(300, 3, 6, 6, 5), def, rest;
    assert_int_equal(split_defender(&full, 0.2, 11, &def, &rest), BL_OK);
    AttackSpec a = spec("badnets");
    a.label_mode = LABEL_ALL2ALL;
    a.poison_base = BASE_ALL;
    a.poison_rate = 0.5f;
    Dataset p1, p2, p3;
    PoisonManifest m1, m2, m3;
    assert_int_equal(attack_poison(&a, &rest, 77, NULL, &p1, &m1), BL_OK);
    assert_int_equal(attack_poison(&a, &rest, 77, NULL, &p2, &m2), BL_OK);
    assert_int_equal(attack_poison(&a, &rest, 78, NULL, &p3, &m3), BL_OK);
    assert_int_equal(m1.count, 120);
    check_poison(&a, &rest, &p1, &m1);
    for (int i = 0; i < m1.count; i++) assert_int_equal(m1.records[i].new_label, (m1.records[i].orig_label + 1) % 5);
    assert_memory_equal(m1.records, m2.records, (size_t)m1.count * sizeof *m1.records);
    assert_memory_equal(p1.images, p2.images, (size_t)p1.n * 108);
    assert_memory_not_equal(m1.positions, m3.positions, (size_t)m1.count * sizeof(int));
    // orig_index in the manifest refers to the original file; the defender split is never poisoned.
    int differs = 0;
    for (int i = 0; i < m1.count; i++) differs |= m1.records[i].orig_index != m1.positions[i];
    assert_true(differs);
    for (int i = 0; i < m1.count; i++)
        for (int j = 0; j < def.n; j++) assert_int_not_equal(def.orig_index[j], m1.records[i].orig_index);
    ds_free(&p1), ds_free(&p2), ds_free(&p3);
    poison_manifest_free(&m1), poison_manifest_free(&m2), poison_manifest_free(&m3);
    ds_free(&def), ds_free(&rest), ds_free(&full);
}

// ---------------------------------------------------------------------------------------------- bad input

static void test_bad_specs(void **state) {
    (void)state;
    Dataset d = make_ds(20, 1, 10, 12, 10), p, t;
    PoisonManifest m;
    AttackSpec a = spec("badnets");
    assert_int_equal(attack_check(&a, &d), BL_OK);
    strcpy(a.type, "blend");
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("type 'blend' is unknown; known: badnets, blended, sig, wanet, label-consistent");
    a = spec("badnets");
    strcpy(a.trigger, "star");
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("trigger 'star' is unknown");
    a = spec("badnets");
    a.trigger_size = 11; // taller than the 10-row image
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("[attack] trigger_size: a 11x11 square trigger does not fit 12x10 images");
    a = spec("badnets");
    a.position = POS_XY, a.pos_x = 10, a.pos_y = 0; // 10 + 3 > 12
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("position: a 3x3 trigger at column 10, row 0 falls outside");
    a.pos_x = 9, a.pos_y = 7; // exactly fits
    assert_int_equal(attack_check(&a, &d), BL_OK);
    a.position_test = POS_XY, a.pos_test_x = 0, a.pos_test_y = 8;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("position_test");
    a = spec("badnets");
    a.target = 10;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("target 10 is outside 0..9");
    a = spec("badnets");
    a.poison_rate = 1.01f;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("poison_rate 1.01 is outside [0, 1]");
    a.poison_rate = -0.1f;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    a = spec("badnets");
    a.trigger_value = 1.5f;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    a = spec("badnets");
    a.source_count = 1, a.source_classes[0] = 0; // the target
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    assert_msg_has("source class 0 is the target");
    a.source_classes[0] = 12;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    a = spec("badnets");
    a.poison_base = BASE_TARGET;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    a = spec("sig");
    a.delta = 0.0f;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    a = spec("label-consistent");
    a.eps = 0.0f;
    assert_int_equal(attack_check(&a, &d), BL_ERR_USAGE);
    // Failing calls leave their outputs empty.
    a = spec("badnets");
    a.target = 12;
    assert_int_equal(attack_poison(&a, &d, 1, NULL, &p, &m), BL_ERR_USAGE);
    assert_null(p.images);
    assert_null(m.records);
    assert_int_equal(attack_apply_test(&a, &d, 1, &t), BL_ERR_USAGE);
    assert_null(t.images);
    ds_free(&d);
}

static void test_registry_and_names(void **state) {
    (void)state;
    const char *names[] = {"badnets", "blended", "sig", "wanet", "label-consistent"};
    for (size_t i = 0; i < BL_ARRAY_LEN(names); i++) {
        const AttackOps *ops = attack_find(names[i]);
        assert_non_null(ops);
        assert_string_equal(ops->name, names[i]);
        assert_non_null(ops->check);
        assert_non_null(ops->poison);
        assert_non_null(ops->apply_test);
        assert_non_null(ops->view);
    }
    assert_null(attack_find("badnet"));
    assert_null(attack_find(NULL));
    assert_int_equal(attack_find("sig")->clean_label, 1);
    assert_int_equal(attack_find("badnets")->clean_label, 0);
    assert_string_equal(attack_position_name(POS_RANDOM), "random");
    assert_string_equal(attack_base_name(BASE_TARGET), "target");
    char buf[256];
    AttackSpec a = spec("badnets");
    attack_describe(&a, buf, sizeof buf);
    assert_string_equal(buf, "badnets square 3x3 at bottom-right -> class 0 (all2one)");
    a.label_mode = LABEL_ALL2ALL;
    attack_describe(&a, buf, sizeof buf);
    assert_string_equal(buf, "badnets square 3x3 at bottom-right -> class y+1 (all2all)");
}

// ---------------------------------------------------------------------------------------------- files

static void test_manifest_csv(void **state) {
    (void)state;
    PoisonRecord recs[3] = {{4, 1, 0}, {17, 9, 0}, {1203, 2, 0}};
    int pos[3] = {0, 1, 2};
    PoisonManifest m = {.count = 3, .records = recs, .positions = pos, .rate = 0.5};
    assert_int_equal(poison_manifest_write_csv(&m, tpath("poison.csv")), BL_OK);
    FILE *f = fopen(tpath("poison.csv"), "r");
    assert_non_null(f);
    char buf[256] = {0};
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_int_equal(len, strlen(buf));
    assert_string_equal(buf, "index,original_label,new_label\n4,1,0\n17,9,0\n1203,2,0\n");
    DIR *dd = opendir(g_dir); // no temp file left behind
    int files = 0;
    for (struct dirent *e; (e = readdir(dd));) files += e->d_name[0] != '.';
    closedir(dd);
    assert_int_equal(files, 1);
    assert_int_equal(poison_manifest_write_csv(&m, "/nonexistent-bl-dir/poison.csv"), BL_ERR_RUN);
}

static void test_views(void **state) {
    (void)state;
    Dataset d = const_ds(4, 1, 12, 28, 3, 0); // 28 wide: sig's 6 cycles on 12 columns would be all zeros
    const char *types[] = {"badnets", "blended", "sig", "wanet", "label-consistent"};
    for (size_t i = 0; i < BL_ARRAY_LEN(types); i++) {
        AttackSpec a = spec(types[i]);
        TriggerView v;
        assert_int_equal(attack_view(&a, &d, 1, &v), BL_OK);
        assert_int_equal(v.h, 12);
        assert_int_equal(v.w, 28);
        int any = 0;
        for (int p = 0; p < 12 * 28; p++) any |= v.mask[p];
        assert_true(any);
        if (!strcmp(types[i], "badnets")) { // the 3x3 patch at bottom-right, nothing else
            for (int p = 0; p < 12 * 28; p++) {
                int in = p / 28 >= 9 && p % 28 >= 25;
                assert_int_equal(v.mask[p], in ? 255 : 0);
                assert_int_equal(v.pattern[p], in ? 255 : 0);
            }
        }
        trigger_view_free(&v);
    }
    ds_free(&d);
}

static void test_export_roundtrip(void **state) {
    (void)state;
    Dataset train = make_ds(60, 1, 6, 7, 3), test = make_ds(12, 1, 6, 7, 3), poisoned, trig;
    AttackSpec a = spec("badnets");
    a.poison_rate = 0.25f;
    PoisonManifest m;
    assert_int_equal(attack_poison(&a, &train, 2, NULL, &poisoned, &m), BL_OK);
    assert_int_equal(attack_apply_test(&a, &test, 2, &trig), BL_OK);
    // IDX: the standard names read back as a dataset folder.
    char dir[600];
    snprintf(dir, sizeof dir, "%s/idx", g_dir);
    mkdir(dir, 0755);
    assert_int_equal(attack_export(dir, EXPORT_IDX, &a, 2, &poisoned, &test, &trig, &m), BL_OK);
    DatasetPair back;
    assert_int_equal(dataset_load_dir(dir, 0, 0, &back), BL_OK);
    assert_int_equal(back.train.n, 60);
    assert_memory_equal(back.train.images, poisoned.images, 60 * 42);
    assert_memory_equal(back.train.labels, poisoned.labels, 60);
    assert_memory_equal(back.test.images, test.images, 12 * 42);
    ds_pair_free(&back);
    const char *files[] = {"poison.csv", "trigger.png", "gallery.png", "triggered-images-idx3-ubyte",
                           "triggered-labels-idx1-ubyte"};
    for (size_t i = 0; i < BL_ARRAY_LEN(files); i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_int_equal(access(p, R_OK), 0);
    }
    char p[700];
    snprintf(p, sizeof p, "%s/trigger.png", dir);
    PngInfo info;
    assert_int_equal(png_probe(p, &info), BL_OK);
    assert_int_equal(info.h, 6 * 16); // upscaled so the longer side is >= 112 pixels: 16x
    assert_int_equal(info.w, 2 * 7 * 16 + 4);
    snprintf(p, sizeof p, "%s/gallery.png", dir);
    assert_int_equal(png_probe(p, &info), BL_OK);
    assert_int_equal(info.w, 6 * (7 * 3 + 2) - 2); // 2 per class, 3 classes
    assert_int_equal(info.h, 3 * 6 * 3 + 4);
    // PNG trees read back in the original order (file names are the original indices).
    snprintf(dir, sizeof dir, "%s/png", g_dir);
    mkdir(dir, 0755);
    assert_int_equal(attack_export(dir, EXPORT_PNG, &a, 2, &poisoned, &test, &trig, &m), BL_OK);
    assert_int_equal(dataset_load_png_dir(dir, 0, 0, &back), BL_OK);
    assert_int_equal(back.train.n, 60);
    assert_int_equal(back.train.c, 1);
    assert_memory_equal(back.train.images, poisoned.images, 60 * 42);
    assert_memory_equal(back.train.labels, poisoned.labels, 60);
    assert_memory_equal(back.test.images, test.images, 12 * 42);
    ds_pair_free(&back);
    ds_free(&train), ds_free(&test), ds_free(&poisoned), ds_free(&trig);
    poison_manifest_free(&m);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

// `backdoorlab poison` end to end on a small IDX folder: the written training file is the input with exactly the
// rows poison.csv lists changed, the test files read back, and a png: dataset poisons the same way.
static void test_poison_command(void **state) {
    (void)state;
    char data[600], out[600], cfg[600], text[2000];
    snprintf(data, sizeof data, "%s/data", g_dir);
    mkdir(data, 0755);
    Dataset train = make_ds(200, 1, 28, 28, 10), test = make_ds(30, 1, 28, 28, 10);
    char p[700];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", data);
    assert_int_equal(idx_write_images(p, &train), BL_OK);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", data);
    assert_int_equal(idx_write_labels(p, &train), BL_OK);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", data);
    assert_int_equal(idx_write_images(p, &test), BL_OK);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", data);
    assert_int_equal(idx_write_labels(p, &test), BL_OK);
    snprintf(cfg, sizeof cfg, "%s/p.ini", g_dir);
    snprintf(text, sizeof text, "[experiment]\nseed = 4\n[data]\npath = %s\ndefender_clean_fraction = 0.1\n"
             "[attack]\ntype = badnets\ntarget = 3\npoison_rate = 0.2\n", data);
    FILE *f = fopen(cfg, "w");
    fputs(text, f);
    fclose(f);
    snprintf(out, sizeof out, "%s/out", g_dir);
    assert_int_equal(experiment_poison(cfg, out, 0, 1, 0, 1), BL_OK);
    DatasetPair back;
    assert_int_equal(dataset_load_dir(out, 0, 0, &back), BL_OK);
    assert_int_equal(back.train.n, 200);
    assert_memory_equal(back.test.images, test.images, 30 * 784);
    snprintf(p, sizeof p, "%s/poison.csv", out);
    char *csv = slurp(p);
    assert_non_null(csv);
    char *changed = calloc(200, 1);
    int rows = 0;
    for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        int idx, ol, nl;
        assert_int_equal(sscanf(line, "%d,%d,%d", &idx, &ol, &nl), 3);
        assert_int_equal(ol, train.labels[idx]);
        assert_int_equal(nl, 3);
        assert_int_equal(back.train.labels[idx], 3);
        assert_int_equal(back.train.images[idx * 784 + 27 * 28 + 27], 255);
        changed[idx] = 1;
        rows++;
    }
    assert_int_equal(rows, 32); // 180 non-defender samples, ~162 non-target: round(0.2 * |base|)
    for (int i = 0; i < 200; i++)
        if (!changed[i]) {
            assert_memory_equal(back.train.images + i * 784, train.images + i * 784, 784);
            assert_int_equal(back.train.labels[i], train.labels[i]);
        }
    ds_pair_free(&back);
    const char *files[] = {"trigger.png", "gallery.png", "config.resolved.ini", "triggered-images-idx3-ubyte"};
    for (size_t i = 0; i < BL_ARRAY_LEN(files); i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        assert_int_equal(access(p, R_OK), 0);
    }
    // The same config reading a PNG tree of the same data poisons the same rows.
    char pngdata[600], out2[600], cfg2[600];
    snprintf(pngdata, sizeof pngdata, "%s/pngdata", g_dir);
    assert_int_equal(dataset_write_png_dir(pngdata, "train", &train), BL_OK);
    assert_int_equal(dataset_write_png_dir(pngdata, "test", &test), BL_OK);
    snprintf(cfg2, sizeof cfg2, "%s/q.ini", g_dir);
    snprintf(text, sizeof text, "[experiment]\nseed = 4\n[data]\ndataset = png:%s\ndefender_clean_fraction = 0.1\n"
             "[attack]\ntype = badnets\ntarget = 3\npoison_rate = 0.2\n", pngdata);
    f = fopen(cfg2, "w");
    fputs(text, f);
    fclose(f);
    snprintf(out2, sizeof out2, "%s/out2", g_dir);
    assert_int_equal(experiment_poison(cfg2, out2, 1, 1, 0, 1), BL_OK);
    snprintf(p, sizeof p, "%s/poison.csv", out2);
    char *csv2 = slurp(p);
    assert_string_equal(csv, csv2);
    assert_int_equal(dataset_load_png_dir(out2, 0, 0, &back), BL_OK);
    assert_int_equal(back.train.n, 200);
    ds_pair_free(&back);
    // No [attack]: nothing to poison. A bad attack: the config's name in the message.
    f = fopen(cfg, "w");
    snprintf(text, sizeof text, "[data]\npath = %s\n", data);
    fputs(text, f);
    fclose(f);
    assert_int_equal(experiment_poison(cfg, out, 0, 1, 0, 1), BL_ERR_USAGE);
    assert_msg_has("no [attack] section");
    f = fopen(cfg2, "w");
    snprintf(text, sizeof text, "[data]\ndataset = png:%s\n[attack]\n\ntarget = 10\n", pngdata);
    fputs(text, f);
    fclose(f);
    assert_int_equal(experiment_poison(cfg2, out2, 0, 1, 0, 1), BL_ERR_USAGE);
    assert_msg_has("q.ini:5: [attack] target 10 is outside 0..9"); // known only once the PNG tree is read
    f = fopen(cfg2, "w");
    snprintf(text, sizeof text, "[data]\ndataset = png:%s\n[attack]\ntrigger_size = 29\n", pngdata);
    fputs(text, f);
    fclose(f);
    assert_int_equal(experiment_poison(cfg2, out2, 0, 1, 0, 1), BL_ERR_USAGE);
    assert_msg_has("q.ini:4: [attack] trigger_size: a 29x29 square trigger does not fit 28x28 images");
    free(csv), free(csv2), free(changed);
    ds_free(&train), ds_free(&test);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
    const struct CMUnitTest tests[] = {
        T(test_patch_pixels),
        T(test_noise_patch_and_random_position),
        T(test_position_test_differs),
        T(test_png_trigger),
        T(test_blended_pixels),
        T(test_sig_pixels),
        T(test_wanet),
        T(test_plan_exact_indices),
        T(test_plan_bases_counts_sources),
        T(test_poison_all2all_and_determinism),
        T(test_bad_specs),
        T(test_registry_and_names),
        T(test_manifest_csv),
        T(test_views),
        T(test_export_roundtrip),
        T(test_poison_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
