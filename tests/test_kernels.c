// test_kernels.c: every GEMM kernel this host can run (avx512, avx2, neon, generic; see src/tensor/sgemm.c)
// gives the same bits: sgemm products over many shapes (edge tiles, K-blocking, transposes, alpha/beta) and a
// short training run of the reference CNN whose weights must match byte for byte across kernels and thread
// counts. Also: a kernel the CPU lacks, or an unknown name, is refused with a message.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"
#include "core/rng.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "tensor/sgemm.h"
#include "train/train.h"

#define MAX_KERNELS 8

// The kernels this host can run, parsed from sgemm_kernels_available() ("avx2,generic").
static int available(char names[MAX_KERNELS][16]) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", sgemm_kernels_available());
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < MAX_KERNELS; t = strtok_r(NULL, ",", &save))
        snprintf(names[n++], 16, "%s", t);
    return n;
}

static void test_generic_always_available(void **state) {
    (void)state;
    char names[MAX_KERNELS][16];
    int n = available(names);
    assert_true(n >= 1);
    assert_string_equal(names[n - 1], "generic"); // the fallback is last (best first)
    print_message("kernels on this host: %s (default %s)\n", sgemm_kernels_available(), sgemm_kernel_name());
}

static void test_bad_kernel_refused(void **state) {
    (void)state;
    const char *before = sgemm_kernel_name();
    assert_int_equal(sgemm_use_kernel("sse9"), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "unknown GEMM kernel 'sse9'"));
    assert_string_equal(sgemm_kernel_name(), before);
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("avx512f")) {
        assert_int_equal(sgemm_use_kernel("avx512"), BL_ERR_USAGE);
        assert_non_null(strstr(bl_errmsg(), "cannot run on this CPU"));
    }
#endif
}

// One product under kernel `k`: C starts as a fixed pattern (beta != 0 reads it).
static void product(const char *k, int ta, int tb, int M, int N, int K, float alpha, float beta, const float *a,
                    const float *b, float *c) {
    assert_int_equal(sgemm_use_kernel(k), BL_OK);
    for (int i = 0; i < M * N; i++) c[i] = (float)((i * 37) % 11) * 0.125f - 0.5f;
    sgemm(ta, tb, M, N, K, alpha, a, ta ? M : K, b, tb ? K : N, beta, c, N);
}

// Shapes chosen to hit every path: 1..MR rows (edge tiles of every kernel), N around each NR (12, 16, 32),
// narrow N that takes the C^T orientation, K = 1, K across the K-block (512), and the CNN's shapes.
static void test_products_identical(void **state) {
    (void)state;
    char names[MAX_KERNELS][16];
    const int nk = available(names);
    static const int shapes[][3] = {{1, 1, 1},    {5, 7, 3},     {6, 16, 9},   {7, 17, 33},  {8, 32, 64},
                                    {9, 33, 100}, {13, 12, 25},  {16, 576, 25}, {32, 64, 400}, {25, 576, 16},
                                    {64, 10, 128}, {10, 128, 64}, {3, 700, 5},  {70, 70, 600}, {33, 95, 1100},
                                    {128, 512, 64}};
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    Rng r = rng_stream(5, "kernels");
    static float a[200000], b[800000], c0[400000], c1[400000];
    for (int s = 0; s < ns; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int i = 0; i < M * K; i++) a[i] = 2.0f * rng_uniform(&r) - 1.0f;
        for (int i = 0; i < K * N; i++) b[i] = 2.0f * rng_uniform(&r) - 1.0f;
        for (int t = 0; t < 4; t++) {
            const int ta = t & 1, tb = t >> 1;
            const float alpha = t == 3 ? 0.75f : 1.0f, beta = t == 2 ? 0.0f : 0.5f;
            product("generic", ta, tb, M, N, K, alpha, beta, a, b, c0);
            for (int k = 0; k < nk; k++) {
                product(names[k], ta, tb, M, N, K, alpha, beta, a, b, c1);
                if (memcmp(c0, c1, (size_t)M * N * sizeof(float)) != 0) {
                    print_error("kernel %s differs from generic on %dx%dx%d ta=%d tb=%d\n", names[k], M, N, K, ta,
                                tb);
                    fail();
                }
            }
        }
    }
    assert_int_equal(sgemm_use_kernel(names[0]), BL_OK);
}

// Train the reference CNN for a few steps on random data under kernel k at `threads` threads; params to out.
static size_t train_under(const char *k, int threads, float *out) {
    assert_int_equal(sgemm_use_kernel(k), BL_OK);
    bl_set_threads(threads);
    Model m;
    assert_int_equal(model_build(&m, "reference-cnn", (Shape){1, 28, 28}, 10, 32), BL_OK);
    model_init_params(&m, 3);
    OptConfig c = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9};
    Optimizer o;
    assert_int_equal(opt_init(&o, &c, m.nparams), BL_OK);
    Rng r = rng_stream(3, "kernel-train");
    uint8_t y[32];
    for (int s = 0; s < 6; s++) {
        for (int i = 0; i < 32 * 784; i++) m.acts[0][i] = rng_uniform(&r);
        for (int b = 0; b < 32; b++) y[b] = (uint8_t)rng_below(&r, 10);
        assert_true(isfinite(train_step(&m, &o, y, s == 5 ? 19 : 32, c.lr)));
    }
    const size_t n = m.nparams;
    memcpy(out, m.params, n * sizeof(float));
    opt_free(&o);
    model_free(&m);
    return n;
}

static void test_training_identical(void **state) {
    (void)state;
    char names[MAX_KERNELS][16];
    const int nk = available(names);
    static float ref[80202], got[80202];
    const size_t n = train_under("generic", 1, ref);
    assert_true(n <= 80202);
    for (int k = 0; k < nk; k++)
        for (int threads = 1; threads <= 2; threads++) {
            assert_int_equal(train_under(names[k], threads, got), n);
            if (memcmp(ref, got, n * sizeof(float)) != 0) {
                print_error("training under kernel %s at %d thread(s) differs from generic\n", names[k], threads);
                fail();
            }
        }
    bl_set_threads(bl_max_threads());
    assert_int_equal(sgemm_use_kernel(names[0]), BL_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generic_always_available),
        cmocka_unit_test(test_bad_kernel_refused),
        cmocka_unit_test(test_products_identical),
        cmocka_unit_test(test_training_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
