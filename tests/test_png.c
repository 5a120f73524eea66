// test_png.c: PNG write/read round trip, hostile input (truncated, garbage, corrupt CRC), the samples grid.
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
// cmocka needs the above first.
#include <cmocka.h>
#include <zlib.h>

#include "core/core.h"
#include "data/dataset.h"
#include "io/png.h"

static char g_dir[256]; // per-test temp folder

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_png_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            char p[600];
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_dir);
    return 0;
}

static const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
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

static int count_files(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_gray_roundtrip(void **state) {
    (void)state;
    const int w = 37, h = 23;
    uint8_t *pix = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) pix[i] = (uint8_t)(i * 13 + i / w);
    assert_int_equal(png_write_gray(tpath("a.png"), pix, w, h), BL_OK);
    assert_int_equal(count_files(), 1); // no temp file left
    uint8_t *back = NULL;
    int bw = 0, bh = 0;
    assert_int_equal(png_read(tpath("a.png"), 1, &back, NULL, &bw, &bh), BL_OK);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    assert_memory_equal(back, pix, (size_t)w * h);
    bl_free(back);
    // Overwriting an existing file works (rename over it).
    pix[0] ^= 0xff;
    assert_int_equal(png_write_gray(tpath("a.png"), pix, w, h), BL_OK);
    assert_int_equal(png_read(tpath("a.png"), 1, &back, NULL, &bw, &bh), BL_OK);
    assert_int_equal(back[0], pix[0]);
    bl_free(back);
    free(pix);
}

static void test_rgb_write_reads_back(void **state) {
    (void)state;
    const int w = 9, h = 4;
    uint8_t rgb[9 * 4 * 3];
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 7 + i / 3);
    assert_int_equal(png_write_rgb(tpath("c.png"), rgb, w, h), BL_OK);
    size_t len;
    uint8_t *b = slurp(tpath("c.png"), &len);
    assert_int_equal(b[25], 2); // IHDR colour type: RGB
    free(b);
    PngInfo info;
    assert_int_equal(png_probe(tpath("c.png"), &info), BL_OK);
    assert_int_equal(info.color, 1);
    assert_int_equal(info.alpha, 0);
    uint8_t *back = NULL, *alpha = NULL;
    int bw, bh;
    assert_int_equal(png_read(tpath("c.png"), 3, &back, &alpha, &bw, &bh), BL_OK);
    assert_int_equal(bw, w);
    assert_int_equal(bh, h);
    for (int i = 0; i < w * h; i++) // interleaved in the file, planar (c, h, w) back
        for (int c = 0; c < 3; c++) assert_int_equal(back[c * w * h + i], rgb[3 * i + c]);
    for (int i = 0; i < w * h; i++) assert_int_equal(alpha[i], 255);
    bl_free(back);
    bl_free(alpha);
    // Asked for one channel, a colour file is refused with advice, not averaged behind the caller's back.
    assert_int_equal(png_read(tpath("c.png"), 1, &back, NULL, &bw, &bh), BL_ERR_DATA);
    assert_null(back);
    assert_non_null(strstr(bl_errmsg(), "convert it to grayscale"));
}

static void test_bad_args(void **state) {
    (void)state;
    uint8_t p[4] = {0};
    assert_int_equal(png_write_gray(tpath("x.png"), p, 0, 2), BL_ERR_USAGE);
    assert_int_equal(png_write_gray(tpath("x.png"), p, 2, -1), BL_ERR_USAGE);
    assert_int_equal(png_write_gray("/nonexistent-bl-dir/x.png", p, 2, 2), BL_ERR_RUN);
    uint8_t *back = (uint8_t *)p;
    int w = 5, h = 5;
    assert_int_equal(png_read(tpath("missing.png"), 1, &back, NULL, &w, &h), BL_ERR_DATA);
    assert_null(back);
    assert_int_equal(w, 0);
    assert_int_equal(count_files(), 0);
}

static void test_truncated_refused(void **state) {
    (void)state;
    const int w = 40, h = 30;
    uint8_t *pix = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) pix[i] = (uint8_t)((i * 2654435761u) >> 13); // poorly compressible
    assert_int_equal(png_write_gray(tpath("full.png"), pix, w, h), BL_OK);
    size_t len;
    uint8_t *b = slurp(tpath("full.png"), &len);
    assert_true(len > 100);
    // Cuts: empty, inside the signature, inside IHDR, inside IDAT, inside IEND, one byte short.
    const size_t cuts[] = {0, 4, 8, 20, 33, 40, len / 2, len - 20, len - 12, len - 5, len - 1};
    for (size_t i = 0; i < BL_ARRAY_LEN(cuts); i++) {
        spit(tpath("cut.png"), b, cuts[i]);
        uint8_t *back = NULL;
        int bw = 1, bh = 1;
        Status st = png_read(tpath("cut.png"), 1, &back, NULL, &bw, &bh);
        if (st != BL_ERR_DATA) fail_msg("cut at %zu of %zu: status %d", cuts[i], len, st);
        assert_null(back);
        assert_int_equal(bw, 0);
        assert_true(strlen(bl_errmsg()) > 0);
    }
    free(b);
    free(pix);
}

static void test_garbage_refused(void **state) {
    (void)state;
    uint8_t junk[500];
    for (int i = 0; i < 500; i++) junk[i] = (uint8_t)(i * 37 + 11);
    spit(tpath("junk.png"), junk, sizeof junk);
    uint8_t *back = NULL;
    int w, h;
    assert_int_equal(png_read(tpath("junk.png"), 1, &back, NULL, &w, &h), BL_ERR_DATA);
    assert_null(back);
    // A valid signature followed by garbage.
    const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(junk, sig, 8);
    spit(tpath("junk.png"), junk, sizeof junk);
    assert_int_equal(png_read(tpath("junk.png"), 1, &back, NULL, &w, &h), BL_ERR_DATA);
    assert_null(back);
    // A real PNG with flipped bytes in the image data (IDAT CRC no longer matches) and in IHDR.
    uint8_t pix[16 * 16];
    for (int i = 0; i < 256; i++) pix[i] = (uint8_t)i;
    assert_int_equal(png_write_gray(tpath("ok.png"), pix, 16, 16), BL_OK);
    size_t len;
    uint8_t *b = slurp(tpath("ok.png"), &len);
    const size_t at[] = {18, 29, 45, len - 20};
    for (size_t i = 0; i < BL_ARRAY_LEN(at); i++) {
        uint8_t *bad = malloc(len);
        memcpy(bad, b, len);
        bad[at[i]] ^= 0x40;
        spit(tpath("bad.png"), bad, len);
        free(bad);
        Status st = png_read(tpath("bad.png"), 1, &back, NULL, &w, &h);
        if (st != BL_ERR_DATA) fail_msg("flip at %zu of %zu: status %d", at[i], len, st);
        assert_null(back);
    }
    // Huge claimed sizes in IHDR (with a matching CRC) are refused by the size limits, not allocated.
    const uint32_t dims[3][2] = {{100000, 1}, {1, 100000}, {16000, 16000}};
    for (int i = 0; i < 3; i++) {
        uint8_t *big = malloc(len);
        memcpy(big, b, len);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) big[16 + 4 * k + j] = (uint8_t)(dims[i][k] >> (24 - 8 * j));
        uLong crc = crc32(0L, big + 12, 17); // chunk type + IHDR data
        for (int j = 0; j < 4; j++) big[29 + j] = (uint8_t)(crc >> (24 - 8 * j));
        spit(tpath("big.png"), big, len);
        free(big);
        assert_int_equal(png_read(tpath("big.png"), 1, &back, NULL, &w, &h), BL_ERR_DATA);
        assert_null(back);
    }
    free(b);
}

static void test_samples_grid(void **state) {
    (void)state;
    Dataset clean, trig;
    assert_int_equal(ds_alloc(&clean, 6, 1, 4, 5, 2), BL_OK); // h=4, w=5
    assert_int_equal(ds_alloc(&trig, 6, 1, 4, 5, 2), BL_OK);
    for (int i = 0; i < 6 * 20; i++) {
        clean.images[i] = (uint8_t)(i / 20 * 10); // sample i is uniformly 10*i
        trig.images[i] = (uint8_t)(i / 20 * 10);
    }
    for (int i = 0; i < 6; i++) trig.images[i * 20 + 19] = 255; // bottom-right pixel of each triggered image
    const int idx[3] = {4, 1, 5};
    const int scale = 2;
    assert_int_equal(png_write_samples(tpath("grid.png"), &clean, &trig, idx, 3, scale), BL_OK);
    uint8_t *g = NULL;
    int gw, gh;
    assert_int_equal(png_read(tpath("grid.png"), 1, &g, NULL, &gw, &gh), BL_OK);
    assert_int_equal(gw, 3 * 5 * scale + 2 * 2); // 34
    assert_int_equal(gh, 2 * 4 * scale + 2);     // 18
    // Tile (row 0, col 1) shows clean sample 1 (value 10); its bottom-right 2x2 block is not the trigger.
    int x0 = 1 * (10 + 2);
    assert_int_equal(g[0 * gw + x0], 10);
    assert_int_equal(g[7 * gw + x0 + 9], 10);
    // Tile (row 1, col 1) shows triggered sample 1: its bottom-right upscaled pixel is a 2x2 block of 255.
    int y1 = 8 + 2;
    assert_int_equal(g[(y1 + 0) * gw + x0], 10);
    assert_int_equal(g[(y1 + 6) * gw + x0 + 8], 255);
    assert_int_equal(g[(y1 + 7) * gw + x0 + 9], 255);
    assert_int_equal(g[(y1 + 5) * gw + x0 + 9], 10);
    // Tile (0, 0) is sample 4, tile (0, 2) sample 5; gaps are mid-gray.
    assert_int_equal(g[0], 40);
    assert_int_equal(g[2 * 12], 50);
    assert_int_equal(g[10], 128);
    assert_int_equal(g[8 * gw], 128);
    bl_free(g);
    // Bad arguments.
    const int bad[1] = {6};
    assert_int_equal(png_write_samples(tpath("g2.png"), &clean, &trig, bad, 1, 2), BL_ERR_USAGE);
    assert_int_equal(png_write_samples(tpath("g2.png"), &clean, &trig, idx, 0, 2), BL_ERR_USAGE);
    assert_int_equal(png_write_samples(tpath("g2.png"), &clean, &trig, idx, 3, 0), BL_ERR_USAGE);
    Dataset rgb;
    assert_int_equal(ds_alloc(&rgb, 6, 3, 4, 5, 2), BL_OK);
    assert_int_equal(png_write_samples(tpath("g2.png"), &rgb, &rgb, idx, 3, 2), BL_ERR_USAGE);
    ds_free(&rgb), ds_free(&clean), ds_free(&trig);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_gray_roundtrip), T(test_rgb_write_reads_back), T(test_bad_args),
        T(test_truncated_refused), T(test_garbage_refused), T(test_samples_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
