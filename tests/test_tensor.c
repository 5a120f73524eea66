// test_tensor.c: sgemm against the double-precision reference (all transposes, strides, alpha/beta), the
// determinism contract (splitting rows or columns across calls is bit-identical), im2col against a direct
// definition, and col2im_add as the exact adjoint of im2col.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/rng.h"
#include "tensor/im2col.h"
#include "tensor/sgemm.h"

// ---------------------------------------------------------------------------------------------------------
// helpers

static void fill_uniform(Rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * rng_uniform(r) - 1.0f;
}

static void fill_nan(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

// Element (i,j) of op(X) where op(X) is (rows, cols) and X has row stride ld.
static float op_at(const float *X, int trans, int ld, int i, int j) {
    return trans ? X[(size_t)j * ld + i] : X[(size_t)i * ld + j];
}

// An operand plus its storage: op(X) is (rows, cols); stored (rows, ld) or, transposed, (cols, ld).
typedef struct {
    float *data; // storage, bl_alloc'd
    int ld;      // row stride of the storage
    size_t n;    // floats in the storage
} Operand;

static Operand operand_new(Rng *r, int trans, int rows, int cols, int extra_ld) {
    Operand o;
    const int srows = trans ? cols : rows, scols = trans ? rows : cols;
    o.ld = scols + extra_ld;
    o.n = (size_t)(srows > 0 ? srows : 1) * (size_t)(o.ld > 0 ? o.ld : 1);
    o.data = bl_alloc(o.n * sizeof(float));
    assert_non_null(o.data);
    fill_uniform(r, o.data, o.n);
    return o;
}

// Run sgemm and sgemm_ref on one configuration and check every element against a rigorous error bound
// (K+4 unit roundoffs of the magnitude |alpha| |op(A)| |op(B)| + |beta c|), and that C's row padding is
// untouched. beta == 0 starts from a NaN-filled C, which must not leak into the result.
static void check_gemm(Rng *r, int ta, int tb, int M, int N, int K, float alpha, float beta, int pad) {
    Operand a = operand_new(r, ta, M, K, pad);
    Operand b = operand_new(r, tb, K, N, pad);
    const int ldc = N + pad;
    const size_t nc = (size_t)M * ldc;
    float *c = bl_alloc(nc * sizeof(float));
    float *c0 = bl_alloc(nc * sizeof(float));
    float *cref = bl_alloc(nc * sizeof(float));
    assert_non_null(c);
    assert_non_null(c0);
    assert_non_null(cref);
    fill_uniform(r, c0, nc);
    if (beta == 0.0f) fill_nan(c0, nc);
    for (int i = 0; i < M; i++) // sentinel in the row padding
        for (int j = N; j < ldc; j++) c0[(size_t)i * ldc + j] = 12345.0f;
    memcpy(c, c0, nc * sizeof(float));
    memcpy(cref, c0, nc * sizeof(float));
    sgemm(ta, tb, M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, c, ldc);
    sgemm_ref(ta, tb, M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, cref, ldc);
    int bad = 0;
    for (int i = 0; i < M && bad < 5; i++) {
        for (int j = 0; j < ldc && bad < 5; j++) {
            const size_t at = (size_t)i * ldc + j;
            if (j >= N) {
                if (c[at] != 12345.0f) {
                    print_error("C padding (%d,%d) overwritten\n", i, j);
                    bad++;
                }
                continue;
            }
            double mag = 0.0;
            for (int k = 0; k < K; k++)
                mag += fabs((double)op_at(a.data, ta, a.ld, i, k) * (double)op_at(b.data, tb, b.ld, k, j));
            mag = fabs((double)alpha) * mag + (beta == 0.0f ? 0.0 : fabs((double)beta * c0[at]));
            const double tol = (K + 4) * 1.2e-7 * mag + 1e-30;
            const double err = fabs((double)c[at] - (double)cref[at]);
            if (!(err <= tol)) { // also catches NaN
                print_error("%c%c M=%d N=%d K=%d alpha=%g beta=%g pad=%d: C(%d,%d) = %.9g, ref %.9g, tol %.3g\n",
                            ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, beta, pad, i, j, c[at], cref[at], tol);
                bad++;
            }
        }
    }
    bl_free(a.data);
    bl_free(b.data);
    bl_free(c);
    bl_free(c0);
    bl_free(cref);
    assert_int_equal(bad, 0);
}

// Shapes: degenerate, odd, beyond one block in every dimension (MC = 64, KC = 512), and the CNN's GEMMs.
static const int gemm_shapes[][3] = {
    {1, 1, 1},     {7, 13, 5},      {33, 17, 65},   {1, 40, 3},     {40, 1, 3},     {9, 33, 1},
    {130, 70, 9},  {19, 300, 1100}, {16, 576, 25},  {32, 64, 400},  {25, 576, 16},  {16, 25, 576},
    {400, 64, 32}, {32, 400, 64},   {64, 128, 512}, {128, 512, 64}, {64, 512, 128}, {64, 10, 128},
    {10, 64, 128}, {64, 128, 10},   {576, 16, 25},  {576, 25, 16},
};

// ---------------------------------------------------------------------------------------------------------
// sgemm against the reference

static void test_sgemm_matches_reference(void **state) {
    (void)state;
    Rng r = rng_stream(11, "test");
    for (size_t s = 0; s < BL_ARRAY_LEN(gemm_shapes); s++)
        for (int t = 0; t < 4; t++)
            check_gemm(&r, t & 1, t >> 1, gemm_shapes[s][0], gemm_shapes[s][1], gemm_shapes[s][2], 1.0f, 0.0f, 0);
}

static void test_sgemm_strides_alpha_beta(void **state) {
    (void)state;
    Rng r = rng_stream(12, "test");
    const float ab[][2] = {{1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}, {1.0f, 0.25f}};
    const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {16, 25, 576}, {64, 10, 128}, {70, 45, 530}};
    for (size_t s = 0; s < BL_ARRAY_LEN(shapes); s++)
        for (int t = 0; t < 4; t++)
            for (size_t v = 0; v < BL_ARRAY_LEN(ab); v++)
                check_gemm(&r, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], ab[v][0], ab[v][1],
                           (int)(1 + 3 * v));
}

// alpha == 0 or K == 0: C = beta * C, and A/B are not read (NaN there must not leak); beta == 0 clears NaNs.
static void test_sgemm_degenerate(void **state) {
    (void)state;
    float a[6], b[6], c[6];
    fill_nan(a, 6);
    fill_nan(b, 6);
    for (int i = 0; i < 6; i++) c[i] = (float)i;
    sgemm(0, 0, 2, 3, 2, 0.0f, a, 2, b, 3, 2.0f, c, 3);
    for (int i = 0; i < 6; i++) assert_true(c[i] == 2.0f * (float)i);
    sgemm(1, 1, 2, 3, 0, 1.0f, a, 2, b, 1, 1.0f, c, 3);
    for (int i = 0; i < 6; i++) assert_true(c[i] == 2.0f * (float)i);
    fill_nan(c, 6);
    sgemm(0, 1, 2, 3, 0, 1.0f, a, 1, b, 1, 0.0f, c, 3);
    for (int i = 0; i < 6; i++) assert_true(c[i] == 0.0f);
    // M or N == 0: nothing is touched.
    c[0] = 7.0f;
    sgemm(0, 0, 0, 3, 2, 1.0f, a, 2, b, 3, 0.0f, c, 3);
    sgemm(0, 0, 2, 0, 2, 1.0f, a, 2, b, 3, 0.0f, c, 3);
    assert_true(c[0] == 7.0f);
}

// A small exact case: integers, so every path must give the exact answer.
static void test_sgemm_exact_small(void **state) {
    (void)state;
    const float A[2 * 3] = {1, 2, 3, 4, 5, 6};          // (2,3)
    const float B[3 * 2] = {7, 8, 9, 10, 11, 12};       // (3,2)
    float C[4] = {1, 1, 1, 1};                          // (2,2)
    sgemm(0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 2.0f, C, 2); // [[58,64],[139,154]] + 2
    assert_true(C[0] == 60.0f && C[1] == 66.0f && C[2] == 141.0f && C[3] == 156.0f);
}

// ---------------------------------------------------------------------------------------------------------
// determinism contract

// Full product vs. products over row blocks [0,s) + [s,M) and column blocks [0,s) + [s,N), memcmp-equal.
static void check_split_invariance(Rng *r, int ta, int tb, int M, int N, int K, float alpha, float beta) {
    Operand a = operand_new(r, ta, M, K, 0);
    Operand b = operand_new(r, tb, K, N, 0);
    const size_t nc = (size_t)M * N;
    float *c0 = bl_alloc(nc * sizeof(float));
    float *full = bl_alloc(nc * sizeof(float));
    float *part = bl_alloc(nc * sizeof(float));
    assert_non_null(c0);
    assert_non_null(full);
    assert_non_null(part);
    fill_uniform(r, c0, nc);
    memcpy(full, c0, nc * sizeof(float));
    sgemm(ta, tb, M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, full, N);

    const int cuts[] = {1, 2, 7, 8, 9, 13, 16, 25, 31, 32, 33, 63, 64, 65, 100};
    for (size_t u = 0; u < BL_ARRAY_LEN(cuts); u++) {
        const int s = cuts[u];
        if (s < M) { // rows [0,s) and [s,M): op(A) row i starts at A + i (TN) or A + i*lda (NN)
            memcpy(part, c0, nc * sizeof(float));
            const float *a2 = ta ? a.data + s : a.data + (size_t)s * a.ld;
            sgemm(ta, tb, s, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, part, N);
            sgemm(ta, tb, M - s, N, K, alpha, a2, a.ld, b.data, b.ld, beta, part + (size_t)s * N, N);
            if (memcmp(part, full, nc * sizeof(float)) != 0)
                fail_msg("%c%c %dx%dx%d: row split at %d changed bits", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K,
                         s);
        }
        if (s < N) { // columns [0,s) and [s,N): op(B) column j starts at B + j*ldb (NT) or B + j (NN)
            memcpy(part, c0, nc * sizeof(float));
            const float *b2 = tb ? b.data + (size_t)s * b.ld : b.data + s;
            sgemm(ta, tb, M, s, K, alpha, a.data, a.ld, b.data, b.ld, beta, part, N);
            sgemm(ta, tb, M, N - s, K, alpha, a.data, a.ld, b2, b.ld, beta, part + s, N);
            if (memcmp(part, full, nc * sizeof(float)) != 0)
                fail_msg("%c%c %dx%dx%d: column split at %d changed bits", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K,
                         s);
        }
    }
    // One call per element (1x1 products) must agree too: the value depends only on the row and column.
    if (M * N <= 4096) {
        memcpy(part, c0, nc * sizeof(float));
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                const float *ai = ta ? a.data + i : a.data + (size_t)i * a.ld;
                const float *bj = tb ? b.data + (size_t)j * b.ld : b.data + j;
                sgemm(ta, tb, 1, 1, K, alpha, ai, a.ld, bj, b.ld, beta, part + (size_t)i * N + j, N);
            }
        }
        if (memcmp(part, full, nc * sizeof(float)) != 0)
            fail_msg("%c%c %dx%dx%d: element-wise calls changed bits", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
    }
    // Row blocks computed by OpenMP threads (each with its own packing buffers) match as well.
    memcpy(part, c0, nc * sizeof(float));
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int i0 = 0; i0 < M; i0 += 5) {
        const int m = BL_MIN(5, M - i0);
        const float *ai = ta ? a.data + i0 : a.data + (size_t)i0 * a.ld;
        sgemm(ta, tb, m, N, K, alpha, ai, a.ld, b.data, b.ld, beta, part + (size_t)i0 * N, N);
    }
    if (memcmp(part, full, nc * sizeof(float)) != 0)
        fail_msg("%c%c %dx%dx%d: threaded row blocks changed bits", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K);
    bl_free(a.data);
    bl_free(b.data);
    bl_free(c0);
    bl_free(full);
    bl_free(part);
}

static void test_sgemm_split_invariance(void **state) {
    (void)state;
    Rng r = rng_stream(13, "test");
    const int shapes[][3] = {{16, 576, 25}, {25, 576, 16}, {16, 25, 576}, {64, 10, 128}, {10, 64, 128},
                             {33, 70, 600}, {70, 33, 7},   {130, 40, 64}, {576, 16, 25}};
    // alpha/beta per transpose case: the general write-back (alpha, beta not 0 or 1), beta == 0, and alpha == 1.
    const float ab[4][2] = {{0.7f, 1.3f}, {1.0f, 1.0f}, {-1.9f, 0.0f}, {0.3f, -0.6f}};
    for (size_t s = 0; s < BL_ARRAY_LEN(shapes); s++)
        for (int t = 0; t < 4; t++)
            check_split_invariance(&r, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], ab[t][0],
                                   ab[t][1]);
}

// The same product stored four ways (NN, NT, TN, TT) gives bit-identical C.
static void test_sgemm_transpose_invariance(void **state) {
    (void)state;
    Rng r = rng_stream(14, "test");
    const int shapes[][3] = {{16, 25, 576}, {64, 10, 128}, {33, 70, 600}, {25, 576, 16}};
    for (size_t s = 0; s < BL_ARRAY_LEN(shapes); s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = bl_alloc((size_t)M * K * sizeof(float)), *at = bl_alloc((size_t)M * K * sizeof(float));
        float *b = bl_alloc((size_t)K * N * sizeof(float)), *bt = bl_alloc((size_t)K * N * sizeof(float));
        float *c[4];
        for (int t = 0; t < 4; t++) c[t] = bl_alloc((size_t)M * N * sizeof(float));
        fill_uniform(&r, a, (size_t)M * K); // a (M,K), at (K,M)
        fill_uniform(&r, b, (size_t)K * N); // b (K,N), bt (N,K)
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++) at[(size_t)k * M + i] = a[(size_t)i * K + k];
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++) bt[(size_t)j * K + k] = b[(size_t)k * N + j];
        sgemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c[0], N);
        sgemm(0, 1, M, N, K, 1.0f, a, K, bt, K, 0.0f, c[1], N);
        sgemm(1, 0, M, N, K, 1.0f, at, M, b, N, 0.0f, c[2], N);
        sgemm(1, 1, M, N, K, 1.0f, at, M, bt, K, 0.0f, c[3], N);
        for (int t = 1; t < 4; t++) assert_memory_equal(c[0], c[t], (size_t)M * N * sizeof(float));
        bl_free(a);
        bl_free(at);
        bl_free(b);
        bl_free(bt);
        for (int t = 0; t < 4; t++) bl_free(c[t]);
    }
}

// sgemm never allocates through bl_alloc (the trainer's no-allocation test relies on it).
static void test_sgemm_no_alloc(void **state) {
    (void)state;
    Rng r = rng_stream(15, "test");
    float *a = bl_alloc(70 * 600 * sizeof(float)), *b = bl_alloc(600 * 70 * sizeof(float));
    float *c = bl_alloc(70 * 70 * sizeof(float));
    fill_uniform(&r, a, 70 * 600);
    fill_uniform(&r, b, 600 * 70);
    const uint64_t before = bl_alloc_count();
    for (int t = 0; t < 4; t++)
        sgemm(t & 1, t >> 1, 70, 70, 600, 1.0f, a, t & 1 ? 70 : 600, b, t >> 1 ? 600 : 70, 0.0f, c, 70);
    assert_true(bl_alloc_count() == before);
    bl_free(a);
    bl_free(b);
    bl_free(c);
}

// ---------------------------------------------------------------------------------------------------------
// im2col / col2im_add

// The im2col configurations: (C, H, W, K, stride, pad).
static const int conv_cfgs[][6] = {
    {1, 5, 5, 3, 1, 0},   {2, 7, 5, 3, 1, 1},    {3, 8, 6, 5, 2, 2},  {2, 9, 7, 4, 3, 1},
    {1, 28, 28, 5, 1, 0}, {16, 12, 12, 5, 1, 0}, {2, 6, 9, 1, 1, 0},  {1, 3, 3, 3, 1, 2},
    {1, 2, 2, 5, 1, 2},   {3, 11, 4, 3, 2, 0},   {2, 5, 13, 2, 2, 1},
};

static void test_conv_out_size(void **state) {
    (void)state;
    assert_int_equal(conv_out_size(28, 5, 1, 0), 24);
    assert_int_equal(conv_out_size(12, 5, 1, 0), 8);
    assert_int_equal(conv_out_size(8, 5, 2, 2), 4);
    assert_int_equal(conv_out_size(7, 2, 2, 0), 3);
    assert_int_equal(conv_out_size(3, 5, 1, 0), 0);  // window larger than the input
    assert_int_equal(conv_out_size(5, 3, 0, 0), 0);  // invalid stride
    assert_int_equal(conv_out_size(5, 0, 1, 0), 0);  // invalid kernel
    assert_int_equal(conv_out_size(5, 3, 1, -1), 0); // invalid padding
}

static void test_im2col_matches_definition(void **state) {
    (void)state;
    Rng r = rng_stream(16, "test");
    for (size_t t = 0; t < BL_ARRAY_LEN(conv_cfgs); t++) {
        const int C = conv_cfgs[t][0], H = conv_cfgs[t][1], W = conv_cfgs[t][2], K = conv_cfgs[t][3];
        const int S = conv_cfgs[t][4], P = conv_cfgs[t][5];
        const int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
        assert_true(OH > 0 && OW > 0);
        const size_t nx = (size_t)C * H * W, ncol = (size_t)C * K * K * OH * OW;
        float *x = bl_alloc(nx * sizeof(float)), *col = bl_alloc((ncol + 1) * sizeof(float));
        fill_uniform(&r, x, nx);
        fill_nan(col, ncol);
        col[ncol] = 4321.0f; // guard past the end
        im2col(x, C, H, W, K, S, P, col);
        assert_true(col[ncol] == 4321.0f);
        for (int c = 0; c < C; c++)
            for (int ki = 0; ki < K; ki++)
                for (int kj = 0; kj < K; kj++)
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++) {
                            const int ih = oh * S - P + ki, iw = ow * S - P + kj;
                            const float want =
                                ih >= 0 && ih < H && iw >= 0 && iw < W ? x[((size_t)c * H + ih) * W + iw] : 0.0f;
                            const size_t row = ((size_t)c * K + ki) * K + kj;
                            const float got = col[row * OH * OW + (size_t)oh * OW + ow];
                            if (!(got == want))
                                fail_msg("cfg %zu: col[%zu][%d,%d] = %g, want %g", t, row, oh, ow, got, want);
                        }
        bl_free(x);
        bl_free(col);
    }
}

// <im2col(x), g> == <x, col2im(g)> (in double), col2im_add accumulates into dx, and it matches a naive scatter.
static void test_col2im_is_adjoint(void **state) {
    (void)state;
    Rng r = rng_stream(17, "test");
    for (size_t t = 0; t < BL_ARRAY_LEN(conv_cfgs); t++) {
        const int C = conv_cfgs[t][0], H = conv_cfgs[t][1], W = conv_cfgs[t][2], K = conv_cfgs[t][3];
        const int S = conv_cfgs[t][4], P = conv_cfgs[t][5];
        const int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
        const size_t nx = (size_t)C * H * W, ncol = (size_t)C * K * K * OH * OW;
        float *x = bl_alloc(nx * sizeof(float)), *col = bl_alloc(ncol * sizeof(float));
        float *g = bl_alloc(ncol * sizeof(float)), *dx = bl_alloc((nx + 1) * sizeof(float));
        float *dx0 = bl_alloc(nx * sizeof(float)), *naive = bl_alloc(nx * sizeof(float));
        fill_uniform(&r, x, nx);
        fill_uniform(&r, g, ncol);
        fill_uniform(&r, dx0, nx);
        memcpy(dx, dx0, nx * sizeof(float));
        dx[nx] = 4321.0f;
        im2col(x, C, H, W, K, S, P, col);
        col2im_add(g, C, H, W, K, S, P, dx);
        assert_true(dx[nx] == 4321.0f);

        double lhs = 0.0, rhs = 0.0, scale = 0.0;
        for (size_t i = 0; i < ncol; i++) {
            lhs += (double)col[i] * g[i];
            scale += fabs((double)col[i] * g[i]);
        }
        for (size_t i = 0; i < nx; i++) rhs += (double)x[i] * ((double)dx[i] - dx0[i]);
        assert_true(fabs(lhs - rhs) <= 1e-5 * scale + 1e-12);

        memcpy(naive, dx0, nx * sizeof(float));
        for (int c = 0; c < C; c++)
            for (int ki = 0; ki < K; ki++)
                for (int kj = 0; kj < K; kj++)
                    for (int oh = 0; oh < OH; oh++)
                        for (int ow = 0; ow < OW; ow++) {
                            const int ih = oh * S - P + ki, iw = ow * S - P + kj;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            naive[((size_t)c * H + ih) * W + iw] +=
                                g[(((size_t)c * K + ki) * K + kj) * OH * OW + (size_t)oh * OW + ow];
                        }
        for (size_t i = 0; i < nx; i++)
            if (!(fabs((double)dx[i] - naive[i]) <= 1e-5 * (1.0 + fabs((double)naive[i]))))
                fail_msg("cfg %zu: dx[%zu] = %g, naive scatter %g", t, i, dx[i], naive[i]);
        bl_free(x);
        bl_free(col);
        bl_free(g);
        bl_free(dx);
        bl_free(dx0);
        bl_free(naive);
    }
}

// Invalid sizes are a no-op, not a crash.
static void test_im2col_invalid_is_noop(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4}, col[4] = {9, 9, 9, 9};
    im2col(x, 1, 2, 2, 5, 1, 0, col); // window larger than the image
    im2col(x, 1, 2, 2, 1, 0, 0, col); // stride 0
    col2im_add(col, 1, 2, 2, 5, 1, 0, x);
    for (int i = 0; i < 4; i++) assert_true(col[i] == 9.0f && x[i] == (float)(i + 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_matches_reference),
        cmocka_unit_test(test_sgemm_strides_alpha_beta),
        cmocka_unit_test(test_sgemm_degenerate),
        cmocka_unit_test(test_sgemm_exact_small),
        cmocka_unit_test(test_sgemm_split_invariance),
        cmocka_unit_test(test_sgemm_transpose_invariance),
        cmocka_unit_test(test_sgemm_no_alloc),
        cmocka_unit_test(test_conv_out_size),
        cmocka_unit_test(test_im2col_matches_definition),
        cmocka_unit_test(test_col2im_is_adjoint),
        cmocka_unit_test(test_im2col_invalid_is_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
