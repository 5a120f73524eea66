// neon_check.c: correctness of the AArch64 NEON GEMM kernel (src/tensor/sgemm_neon.c), built with Debian's
// cross compiler and run under qemu-user by scripts/test-neon.sh. Standalone (plain C, no cmocka: the arm64
// cmocka library is not part of the cross toolchain). It is not in tests/test_*.c, so the host build ignores it.
//
// Checks:
//   (a) the kernel table on AArch64: sgemm_kernels_available() is "neon,generic", the default is neon, an x86
//       kernel is refused;
//   (b) for many shapes (M 1..9 and block-crossing sizes, N around the 12-wide tile and the C^T cases, K from 1
//       to past two 512-deep K-blocks, all four transpose combinations, alpha/beta variants including beta = 0
//       over NaN garbage, padded leading dimensions): every NEON result -- through the public sgemm and through
//       the driver forced into the other orientation -- equals bit for bit (1) the generic kernel's result and
//       (2) an oracle computed here by the determinism contract (one fmaf chain over k in order from 0, then
//       alpha*acc or fmaf(alpha, acc, beta*c)); it matches sgemm_ref within a rigorous rounding-error bound;
//       the padding columns of C are never written;
//   (c) prints one summary line and exits non-zero on any failure.
// Speed is not measured: under qemu's emulation timings say nothing about a real AArch64 core.
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tensor/sgemm.h"

#if !defined(__aarch64__)
#error "neon_check.c is built for AArch64 only (scripts/test-neon.sh cross-compiles it)"
#endif

// The NEON driver (sgemm_impl.h's SGI_ENTRY), called directly to force an orientation.
void sgemm_driver_neon(int swapped, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                       ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);

static long n_checks, n_failures, n_products;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        n_checks++;                                                                                               \
        if (!(cond)) {                                                                                            \
            n_failures++;                                                                                         \
            if (n_failures <= 20) {                                                                               \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                              \
                fprintf(stderr, __VA_ARGS__);                                                                     \
                fputc('\n', stderr);                                                                              \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

// xorshift64*: deterministic data, values spread over several binades so that any change in rounding order
// shows up in the low bits.
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static float rng_value(void) {
    const uint64_t r = rng_next();
    const float m = (float)((r >> 40) & 0xFFFFFF) / 16777216.0f - 0.5f; // [-0.5, 0.5), 24 random bits
    const int e = (int)((r >> 8) % 7) - 3;                                  // scale 2^-3 .. 2^3
    return ldexpf(m, e);
}

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

// The contract, element by element: acc = fmaf(a_k, b_k, acc) for k = 0..K-1 from 0, then the write-back.
// Also returns, per element, S = sum |a_k b_k| (exact products in double) for the error bound.
static void oracle(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                   int ldb, float beta, const float *C0, int ldc, float *out, double *S) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = 0.0f;
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                const float a = ta ? A[(ptrdiff_t)k * lda + i] : A[(ptrdiff_t)i * lda + k];
                const float b = tb ? B[(ptrdiff_t)j * ldb + k] : B[(ptrdiff_t)k * ldb + j];
                acc = fmaf(a, b, acc);
                s += fabs((double)a * (double)b);
            }
            const float c0 = C0[(ptrdiff_t)i * ldc + j];
            out[(ptrdiff_t)i * ldc + j] = beta == 0.0f ? alpha * acc : fmaf(alpha, acc, beta * c0);
            S[(ptrdiff_t)i * N + j] = s;
        }
}

// One shape: every NEON path against the generic kernel, the oracle and sgemm_ref.
static void check_shape(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad) {
    const int a_rows = ta ? K : M, a_cols = ta ? M : K;
    const int b_rows = tb ? N : K, b_cols = tb ? K : N;
    const int lda = a_cols + pad, ldb = b_cols + pad, ldc = N + 3; // C always has 3 padding columns
    const size_t na = (size_t)a_rows * lda, nb = (size_t)b_rows * ldb, nc = (size_t)M * ldc;
    float *A = malloc((na + 1) * sizeof *A), *B = malloc((nb + 1) * sizeof *B), *C0 = malloc(nc * sizeof *C0);
    float *Cn = malloc(nc * sizeof *Cn), *Cs = malloc(nc * sizeof *Cs), *Cg = malloc(nc * sizeof *Cg);
    float *Co = malloc(nc * sizeof *Co), *Cr = malloc(nc * sizeof *Cr);
    double *S = malloc((size_t)M * N * sizeof *S);
    if (!A || !B || !C0 || !Cn || !Cs || !Cg || !Co || !Cr || !S) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < na; i++) A[i] = rng_value();
    for (size_t i = 0; i < nb; i++) B[i] = rng_value();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++)
            // beta == 0 must not read C: fill the valid part with NaN then; padding columns hold a sentinel
            C0[(size_t)i * ldc + j] = j >= N ? 12345.0f : beta == 0.0f ? NAN : rng_value();
    memcpy(Cn, C0, nc * sizeof *C0);
    memcpy(Cs, C0, nc * sizeof *C0);
    memcpy(Cg, C0, nc * sizeof *C0);
    memcpy(Co, C0, nc * sizeof *C0);
    memcpy(Cr, C0, nc * sizeof *C0);

    // NEON through the public entry (sgemm picks the orientation), NEON forced into each orientation, generic.
    if (sgemm_use_kernel("neon") != BL_OK) CHECK(0, "sgemm_use_kernel(neon): %s", bl_errmsg());
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cn, ldc);
    float *Cs1 = malloc(nc * sizeof *Cs1);
    if (!Cs1) exit(2);
    memcpy(Cs1, C0, nc * sizeof *C0);
    if (K > 0 && alpha != 0.0f) { // (sgemm handles K == 0 and alpha == 0 itself, without a driver)
        sgemm_driver_neon(0, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cs, ldc);
        sgemm_driver_neon(1, !tb, !ta, N, M, K, alpha, B, ldb, A, lda, beta, Cs1, ldc); // C^T = op(B)^T op(A)^T
    } else {
        memcpy(Cs, Cn, nc * sizeof *Cn);
        memcpy(Cs1, Cn, nc * sizeof *Cn);
    }
    if (sgemm_use_kernel("generic") != BL_OK) CHECK(0, "sgemm_use_kernel(generic): %s", bl_errmsg());
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cg, ldc);
    if (sgemm_use_kernel("neon") != BL_OK) CHECK(0, "sgemm_use_kernel(neon) back: %s", bl_errmsg());
    oracle(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc, Co, S);
    sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cr, ldc);
    n_products += 5;

    // Rigorous bound on |neon - ref|, u = 2^-24, g(n) = n u / (1 - n u). With e = alpha*s + beta*c0 exact and
    // S = sum |a_k b_k|: the fma chain is within g(K) S of s, so alpha*acc (one rounding) is within |alpha| S
    // g(K+1) of alpha*s, and fmaf(alpha, acc, fl(beta*c0)) within |alpha| S g(K+1) + |beta c0| (2u + u^2) of
    // e. sgemm_ref rounds a double result once to float: within u |e| plus the double sum's own error
    // (<= (K+2) 2^-53 (|alpha| S + |beta c0|)). Subnormal results add at most (K+3) 2^-149 in absolute terms.
    // The bound itself is computed in double and widened by 1e-9 relative, far above its own rounding.
    const double u = ldexp(1.0, -24);
    const double gK1 = (K + 1) * u / (1.0 - (K + 1) * u);
    int bad_bits_g = 0, bad_bits_o = 0, bad_bits_s = 0, bad_bits_s1 = 0, bad_pad = 0, bad_bound = 0;
    double worst_ratio = 0.0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            const size_t at = (size_t)i * ldc + j;
            if (j >= N) { // padding: never written by anyone
                bad_pad += bits(Cn[at]) != bits(C0[at]) || bits(Cs[at]) != bits(C0[at]) ||
                           bits(Cs1[at]) != bits(C0[at]);
                continue;
            }
            const float v = Cn[at];
            bad_bits_g += bits(v) != bits(Cg[at]);
            bad_bits_o += bits(v) != bits(Co[at]);
            bad_bits_s += bits(v) != bits(Cs[at]);
            bad_bits_s1 += bits(v) != bits(Cs1[at]);
            const double c0 = beta == 0.0f ? 0.0 : (double)C0[at];
            const double aS = fabs((double)alpha) * S[(size_t)i * N + j], bc = fabs((double)beta * c0);
            const double e_abs = aS + bc;
            const double bound = (aS * gK1 + bc * (2 * u + u * u) + u * e_abs + (K + 2) * ldexp(1.0, -53) * e_abs +
                                  (K + 3) * ldexp(1.0, -149)) * (1.0 + 1e-9);
            const double err = fabs((double)v - (double)Cr[at]);
            if (!(err <= bound)) bad_bound++; // also catches NaN
            else if (bound > 0.0 && err / bound > worst_ratio) worst_ratio = err / bound;
        }
    }
    CHECK(!bad_bits_g, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d: %d elements differ from generic", ta,
          tb, M, N, K, alpha, beta, pad, bad_bits_g);
    CHECK(!bad_bits_o, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g pad=%d: %d elements differ from the fmaf "
          "chain oracle", ta, tb, M, N, K, alpha, beta, pad, bad_bits_o);
    CHECK(!bad_bits_s, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g: %d elements differ, driver unswapped", ta,
          tb, M, N, K, alpha, beta, bad_bits_s);
    CHECK(!bad_bits_s1, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g: %d elements differ, driver swapped (C^T)",
          ta, tb, M, N, K, alpha, beta, bad_bits_s1);
    CHECK(!bad_pad, "ta=%d tb=%d M=%d N=%d K=%d: %d padding elements of C written", ta, tb, M, N, K, bad_pad);
    CHECK(!bad_bound, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g: %d elements outside the error bound vs "
          "sgemm_ref", ta, tb, M, N, K, alpha, beta, bad_bound);
    (void)worst_ratio;
    free(A), free(B), free(C0), free(Cn), free(Cs), free(Cs1), free(Cg), free(Co), free(Cr), free(S);
}

int main(void) {
    const double t0 = bl_now();
    // (a) the kernel table
    const char *avail = sgemm_kernels_available();
    CHECK(strcmp(avail, "neon,generic") == 0, "sgemm_kernels_available() is \"%s\", expected \"neon,generic\"",
          avail);
    const char *env = getenv("BACKDOORLAB_KERNEL");
    if (!env || !*env) CHECK(strcmp(sgemm_kernel_name(), "neon") == 0, "default kernel is %s", sgemm_kernel_name());
    CHECK(sgemm_use_kernel("avx2") == BL_ERR_USAGE, "sgemm_use_kernel(avx2) accepted on AArch64");
    CHECK(sgemm_use_kernel("neon") == BL_OK, "sgemm_use_kernel(neon) refused: %s", bl_errmsg());

    // (b) shapes. Rows 1..9 cover every edge-tile height of the 8-row tile plus one full tile and a row; 70
    // crosses the 64-row A block. N: 1..7 and 14/37 give the C^T orientation (whose rows are N) every tile
    // height; 10..16 sit around the 12-wide tile; 100 crosses the 96-column N block used when K > 512.
    // K = 512 fills one K-block exactly, 600 and 1100 carry partial sums across one and two block boundaries.
    static const int Ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 70};
    static const int Ns[] = {1, 3, 7, 10, 12, 13, 14, 16, 32, 37, 100};
    static const int Ks[] = {1, 25, 400, 512, 600, 1100};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.75f, 0.0f}, {1.0f, 1.0f}, {-1.5f, 0.3f}};
    int variant = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t mi = 0; mi < BL_ARRAY_LEN(Ms); mi++)
                for (size_t ni = 0; ni < BL_ARRAY_LEN(Ns); ni++)
                    for (size_t ki = 0; ki < BL_ARRAY_LEN(Ks); ki++) {
                        const int M = Ms[mi], N = Ns[ni], K = Ks[ki];
                        // keep the emulated run short (~15 s): deep products only for small M*N (which still
                        // include M = 70 and N = 100 at K = 600, so both block boundaries are crossed)
                        if (K >= 400 && (long)M * N > 160) continue;
                        if (K > 600 && (long)M * N > 40) continue;
                        const int v = variant++ % 4;
                        check_shape(ta, tb, M, N, K, ab[v][0], ab[v][1], (int)((mi + ni + ki) % 2) * 3);
                    }
    // every alpha/beta variant on a few shapes for every transpose pair, plus the degenerate cases
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int v = 0; v < 4; v++) {
                check_shape(ta, tb, 9, 10, 600, ab[v][0], ab[v][1], 1);
                check_shape(ta, tb, 70, 3, 33, ab[v][0], ab[v][1], 0);
                check_shape(ta, tb, 8, 12, 1, ab[v][0], ab[v][1], 2);
            }
    check_shape(0, 0, 5, 13, 0, 1.0f, 0.5f, 0);
    check_shape(1, 0, 5, 13, 7, 0.0f, 2.0f, 0);

    // (c) summary
    const double dt = bl_now() - t0;
    printf("neon_check: %s: %ld checks, %ld failed, %ld products (kernels: %s; NEON == generic == fmaf-chain "
           "oracle bit for bit, within the bound of sgemm_ref) in %.1f s under emulation\n",
           n_failures ? "FAILED" : "ok", n_checks, n_failures, n_products, avail, dt);
    return n_failures ? 1 : 0;
}
