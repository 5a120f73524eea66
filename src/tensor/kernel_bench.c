// kernel_bench.c: check sgemm against sgemm_ref, then time it, on the GEMM shapes of the small CNN.
// Kernel experiments are judged here: a faster kernel goes in only with numbers from this table.
#include "tensor/kernel_bench.h"

#include "core/core.h"
#include "core/rng.h"
#include "tensor/sgemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// One benchmarked GEMM: C(M,N) = op(A) op(B) + beta C.
typedef struct {
    const char *label; // layer and pass, e.g. "conv2 fwd"
    int ta, tb;        // transpose flags
    int M, N, K;       // op(A) is (M,K), op(B) is (K,N)
    float beta;        // 0 for outputs that are overwritten, 1 for accumulated weight gradients
} KbShape;

// The CNN (batch 64): conv1 1->16 5x5 on 28x28 (im2col 25 x 576), conv2 16->32 5x5 on 12x12 (400 x 64),
// fc1 512->128, fc2 128->10; dense weights stored (out,in). Forward, input-gradient and weight-gradient GEMMs,
// the transposed forms (C^T = op(B)^T op(A)^T) a batch-folded layout would use, and the 8-row blocks the
// layers in src/nn currently pass.
static const KbShape kb_shapes[] = {
    {"conv1 fwd", 0, 0, 16, 576, 25, 0.0f},
    {"conv1 dx", 1, 0, 25, 576, 16, 0.0f},
    {"conv1 dW", 0, 1, 16, 25, 576, 1.0f},
    {"conv2 fwd", 0, 0, 32, 64, 400, 0.0f},
    {"conv2 dx", 1, 0, 400, 64, 32, 0.0f},
    {"conv2 dW", 0, 1, 32, 400, 64, 1.0f},
    {"fc1 fwd", 0, 1, 64, 128, 512, 0.0f},
    {"fc1 dx", 0, 0, 64, 512, 128, 0.0f},
    {"fc1 dW", 1, 0, 128, 512, 64, 1.0f},
    {"fc2 fwd", 0, 1, 64, 10, 128, 0.0f},
    {"fc2 dx", 0, 0, 64, 128, 10, 0.0f},
    {"fc2 dW", 1, 0, 10, 128, 64, 1.0f},
    {"conv1 fwd^T", 1, 1, 576, 16, 25, 0.0f},
    {"conv1 dx^T", 1, 0, 576, 25, 16, 0.0f},
    {"conv1 dW^T", 0, 1, 25, 16, 576, 1.0f},
    {"conv2 fwd^T", 1, 1, 64, 32, 400, 0.0f},
    {"conv2 dx^T", 1, 0, 64, 400, 32, 0.0f},
    {"conv2 dW^T", 0, 1, 400, 32, 64, 1.0f},
    {"fc1 fwd^T", 0, 1, 128, 64, 512, 0.0f},
    {"fc1 dx^T", 1, 1, 512, 64, 128, 0.0f},
    {"fc1 dW^T", 1, 0, 512, 128, 64, 1.0f},
    {"fc2 fwd^T", 0, 1, 10, 64, 128, 0.0f},
    // As src/nn calls them today: per-thread blocks of 8 rows (LAYER_ROW_BLOCK).
    {"conv1 dW b8", 0, 1, 8, 25, 576, 1.0f},
    {"conv2 dW b8", 0, 1, 8, 400, 64, 1.0f},
    {"fc1 fwd b8", 0, 1, 8, 128, 512, 1.0f},
    {"fc1 dW b8", 1, 0, 8, 512, 64, 1.0f},
    {"fc1 dx b8", 0, 0, 8, 512, 128, 0.0f},
    {"fc2 fwd b8", 0, 1, 8, 10, 128, 1.0f},
    {"large NN", 0, 0, 256, 256, 256, 0.0f},
};

static int kb_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void kb_fill(Rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * rng_uniform(r) - 1.0f;
}

void kernel_bench_report(FILE *out, int reps) {
    enum { KB_MAX_RUNS = 64 };
    if (reps <= 0) reps = 7;
    if (reps > KB_MAX_RUNS) reps = KB_MAX_RUNS;
    // Size the buffers for the largest operand of any shape.
    size_t max_a = 0, max_b = 0, max_c = 0;
    for (size_t s = 0; s < BL_ARRAY_LEN(kb_shapes); s++) {
        const KbShape *sh = &kb_shapes[s];
        max_a = BL_MAX(max_a, (size_t)sh->M * sh->K);
        max_b = BL_MAX(max_b, (size_t)sh->K * sh->N);
        max_c = BL_MAX(max_c, (size_t)sh->M * sh->N);
    }
    float *a = bl_alloc(max_a * sizeof(float));    // A, (M,K) or (K,M)
    float *b = bl_alloc(max_b * sizeof(float));    // B, (K,N) or (N,K)
    float *c0 = bl_alloc(max_c * sizeof(float));   // initial C (for beta != 0)
    float *c = bl_alloc(max_c * sizeof(float));    // sgemm result
    float *cref = bl_alloc(max_c * sizeof(float)); // sgemm_ref result
    if (!a || !b || !c0 || !c || !cref) {
        fprintf(out, "kernel bench: %s\n", bl_errmsg());
        goto cleanup;
    }
    Rng rng = rng_stream(1234, "test");
    kb_fill(&rng, a, max_a);
    kb_fill(&rng, b, max_b);
    kb_fill(&rng, c0, max_c);

    // The peak is measured here, beside the GEMMs, because a VM's clock and its neighbours set it.
    const double peak = sgemm_fma_peak_gflops(0.3);
    fprintf(out, "sgemm single-threaded, kernel %s (this CPU can run: %s), median of %d runs (each >= 2 ms);\n"
                 "flops = 2*M*N*K; FMA peak of this kernel's instruction set on this core, measured now: %.1f GFLOP/s\n",
            sgemm_kernel_name(), sgemm_kernels_available(), reps, peak);
    fprintf(out, "%-12s %-2s %15s %4s %-4s %10s %9s %10s %7s\n", "shape", "op", "MxNxK", "beta", "chk", "max_rel",
            "us/call", "GFLOP/s", "% peak");
    int n_fail = 0;
    for (size_t s = 0; s < BL_ARRAY_LEN(kb_shapes); s++) {
        const KbShape *sh = &kb_shapes[s];
        const int M = sh->M, N = sh->N, K = sh->K;
        const int lda = sh->ta ? M : K, ldb = sh->tb ? K : N, ldc = N;
        const size_t nc = (size_t)M * N;

        // Check: max |c - ref| relative to max |ref| (normwise, robust to near-zero entries).
        memcpy(c, c0, nc * sizeof(float));
        memcpy(cref, c0, nc * sizeof(float));
        sgemm(sh->ta, sh->tb, M, N, K, 1.0f, a, lda, b, ldb, sh->beta, c, ldc);
        sgemm_ref(sh->ta, sh->tb, M, N, K, 1.0f, a, lda, b, ldb, sh->beta, cref, ldc);
        double max_err = 0.0, max_ref = 0.0;
        for (size_t i = 0; i < nc; i++) {
            const double e = fabs((double)c[i] - (double)cref[i]);
            max_err = e > max_err || isnan(e) ? e : max_err;
            max_ref = BL_MAX(max_ref, fabs((double)cref[i]));
        }
        const double rel = max_err / (max_ref > 0.0 ? max_ref : 1.0);
        const int ok = rel <= 1e-5 * sqrt((double)K) && !isnan(rel);
        n_fail += !ok;

        // Calibrate the repeat count so one run takes >= 2 ms, then take the median over `reps` runs.
        const double flops = 2.0 * M * N * K;
        int iters = 1;
        for (;;) {
            const double t0 = bl_now();
            for (int it = 0; it < iters; it++)
                sgemm(sh->ta, sh->tb, M, N, K, 1.0f, a, lda, b, ldb, sh->beta, c, ldc);
            const double dt = bl_now() - t0;
            if (dt >= 2e-3 || iters >= (1 << 24)) break;
            iters = dt <= 0.0 ? iters * 16 : (int)BL_MIN((double)iters * 16, iters * 2.2e-3 / dt + 1);
        }
        double secs[KB_MAX_RUNS];
        for (int r = 0; r < reps; r++) {
            const double t0 = bl_now();
            for (int it = 0; it < iters; it++)
                sgemm(sh->ta, sh->tb, M, N, K, 1.0f, a, lda, b, ldb, sh->beta, c, ldc);
            secs[r] = (bl_now() - t0) / iters;
        }
        qsort(secs, (size_t)reps, sizeof secs[0], kb_cmp_double);
        const double med = secs[reps / 2];
        char dims[32], op[3] = {sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N', 0};
        snprintf(dims, sizeof dims, "%dx%dx%d", M, N, K);
        fprintf(out, "%-12s %-2s %15s %4.0f %-4s %10.2e %9.2f %10.1f %6.0f%%\n", sh->label, op, dims, sh->beta,
                ok ? "OK" : "FAIL", rel, med * 1e6, flops / med * 1e-9, 100.0 * flops / med * 1e-9 / peak);
    }
    fprintf(out, "%s\n", n_fail ? "sgemm check: FAIL (see rows marked FAIL)" : "sgemm check: all OK");

cleanup:
    bl_free(a);
    bl_free(b);
    bl_free(c0);
    bl_free(c);
    bl_free(cref);
}
