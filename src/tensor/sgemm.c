// sgemm.c: the public sgemm: picks a micro-kernel for this CPU at run time, orients narrow products, and keeps
// the naive reference. The blocked, packed GEMM itself is src/tensor/sgemm_impl.h, compiled once per instruction
// set (sgemm_avx512.c, sgemm_avx2.c, sgemm_neon.c, sgemm_generic.c), each with its own compiler flags, so one
// binary runs at full speed on any host and `make` does not need -march=native. All kernels give the same bits
// (the determinism contract in sgemm.h and sgemm_impl.h); tests/test_tensor.c forces each one and compares.
#include "tensor/sgemm.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

typedef void (*SgDriverFn)(int swapped, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                           ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);

// The drivers the kernel files expand (sgemm_impl.h's SGI_ENTRY). A kernel file for another architecture
// compiles to an empty unit, so its driver is only referenced where it exists.
#if defined(__x86_64__) || defined(__i386__)
void sgemm_driver_avx512(int, int, int, int, int, int, float, const float *, ptrdiff_t, const float *, ptrdiff_t,
                         float, float *, ptrdiff_t);
void sgemm_driver_avx2(int, int, int, int, int, int, float, const float *, ptrdiff_t, const float *, ptrdiff_t,
                       float, float *, ptrdiff_t);
double sgemm_peak_avx512(double seconds);
double sgemm_peak_avx2(double seconds);
#endif
#if defined(__aarch64__)
void sgemm_driver_neon(int, int, int, int, int, int, float, const float *, ptrdiff_t, const float *, ptrdiff_t,
                       float, float *, ptrdiff_t);
double sgemm_peak_neon(double seconds);
#endif
void sgemm_driver_generic(int, int, int, int, int, int, float, const float *, ptrdiff_t, const float *, ptrdiff_t,
                          float, float *, ptrdiff_t);
double sgemm_peak_generic(double seconds);

// One kernel family: its name, tile shape (for the orientation heuristic) and whether this CPU can run it.
typedef struct {
    const char *name;      // as in manifests, `bench` and BACKDOORLAB_KERNEL
    int mr, nr;            // micro-tile rows and columns
    int half_rows;         // an edge tile of at most this many rows is latency-bound: it costs as much as this many
    SgDriverFn driver;     // the blocked GEMM compiled for this instruction set
    double (*peak)(double seconds); // its instruction set's FMA peak on one core, GFLOP/s (measured)
    int (*supported)(void); // 1 if this CPU (and OS) can run it
} SgKernel;

#if defined(__x86_64__) || defined(__i386__)
// __builtin_cpu_supports reads CPUID and, for AVX and AVX-512, whether the OS saves the wider registers.
static int sg_has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int sg_has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif
static int sg_always(void) { return 1; }

// Best first: the first supported entry is the default.
static const SgKernel sg_table[] = {
#if defined(__x86_64__) || defined(__i386__)
    {"avx512", 8, 32, 4, sgemm_driver_avx512, sgemm_peak_avx512, sg_has_avx512},
    {"avx2", 6, 16, 3, sgemm_driver_avx2, sgemm_peak_avx2, sg_has_avx2},
#endif
#if defined(__aarch64__)
    {"neon", 8, 12, 4, sgemm_driver_neon, sgemm_peak_neon, sg_always},
#endif
    {"generic", 8, 32, 4, sgemm_driver_generic, sgemm_peak_generic, sg_always},
};

static const SgKernel *sg_active; // chosen by sg_init (constructor) or sgemm_use_kernel

static const SgKernel *sg_find(const char *name) {
    for (size_t i = 0; i < BL_ARRAY_LEN(sg_table); i++)
        if (strcmp(sg_table[i].name, name) == 0) return &sg_table[i];
    return NULL;
}

// Chosen before main: sgemm runs inside OpenMP regions, where a lazy first-use choice would race. A bad
// BACKDOORLAB_KERNEL is reported on the first sgemm_use_kernel/sgemm_kernel_name call by the CLI (see main.c);
// here it falls back to the best kernel so a library user never runs without one.
__attribute__((constructor)) static void sg_init(void) {
    for (size_t i = 0; i < BL_ARRAY_LEN(sg_table); i++)
        if (sg_table[i].supported()) {
            sg_active = &sg_table[i];
            break;
        }
    const char *env = getenv("BACKDOORLAB_KERNEL");
    const SgKernel *k = env && *env ? sg_find(env) : NULL;
    if (k && k->supported()) sg_active = k;
}

const char *sgemm_kernel_name(void) { return sg_active->name; }

double sgemm_fma_peak_gflops(double seconds) { return sg_active->peak(seconds); }

const char *sgemm_kernels_available(void) {
    static char buf[128];
    buf[0] = 0;
    for (size_t i = 0; i < BL_ARRAY_LEN(sg_table); i++) {
        if (!sg_table[i].supported()) continue;
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s%s", len ? "," : "", sg_table[i].name);
    }
    return buf;
}

int sgemm_use_kernel(const char *name) {
    const SgKernel *k = name ? sg_find(name) : NULL;
    if (!k) {
        char known[128] = "";
        for (size_t i = 0; i < BL_ARRAY_LEN(sg_table); i++) {
            size_t len = strlen(known);
            snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", sg_table[i].name);
        }
        return bl_fail(BL_ERR_USAGE, "unknown GEMM kernel '%s' (this build has: %s)", name ? name : "", known);
    }
    if (!k->supported())
        return bl_fail(BL_ERR_USAGE, "GEMM kernel '%s' cannot run on this CPU (it can run: %s)", name,
                       sgemm_kernels_available());
    sg_active = k;
    return BL_OK;
}

// C = beta * C for the degenerate cases (K == 0 or alpha == 0), where A and B are not read.
static void sg_scale(int M, int N, float beta, float *C, ptrdiff_t ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (ptrdiff_t)i * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        } else if (beta != 1.0f) {
            for (int j = 0; j < N; j++) c[j] *= beta;
        }
    }
}

// Relative cost of the row panels of an M-row operand: an edge tile of few rows is bound by FMA latency rather
// than throughput, so it costs about as much as a tile of half_rows rows.
static long sg_rows_cost(const SgKernel *k, int m) {
    const int rem = m % k->mr;
    return (long)(m - rem) + (rem ? BL_MAX(rem, k->half_rows) : 0);
}

void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
           int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        sg_scale(M, N, beta, C, ldc);
        return;
    }
    // Tiles are NR columns wide; when N is narrow (fc2's N = 10, a 16-channel conv's C^T) computing C^T
    // instead wastes far fewer padded columns. Swapped tiles pay for a transposed store, so swap only when it
    // saves at least a quarter of the kernel work (measured on AVX-512: at a 4-13% saving the swap was slower).
    // The orientation never changes a result bit, so the heuristic may differ per kernel.
    const SgKernel *k = sg_active;
    const long cost = sg_rows_cost(k, M) * ((N + k->nr - 1) / k->nr);
    const long cost_swapped = sg_rows_cost(k, N) * ((M + k->nr - 1) / k->nr);
    if (4 * cost_swapped < 3 * cost)
        k->driver(1, !trans_b, !trans_a, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
    else
        k->driver(0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            if (alpha != 0.0f) {
                for (int k = 0; k < K; k++) {
                    const double a = trans_a ? A[(ptrdiff_t)k * lda + i] : A[(ptrdiff_t)i * lda + k];
                    const double b = trans_b ? B[(ptrdiff_t)j * ldb + k] : B[(ptrdiff_t)k * ldb + j];
                    s += a * b;
                }
            }
            float *c = C + (ptrdiff_t)i * ldc + j;
            const double old = beta == 0.0f ? 0.0 : (double)beta * (double)*c;
            *c = (float)((double)alpha * s + old);
        }
    }
}
