// sgemm.h: single-precision matrix multiply (row-major), blocked and packed, plus a naive reference.
//
//   C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C
//
// op(A) = A, stored (M,K) with row stride lda, when trans_a == 0; op(A) = A^T, A stored (K,M), when trans_a != 0.
// op(B) = B, stored (K,N) with row stride ldb, when trans_b == 0; op(B) = B^T, B stored (N,K), when trans_b != 0.
// C is (M,N) with row stride ldc. beta == 0 overwrites C without reading it (C may hold NaN garbage).
// alpha == 0 or K == 0 scales C by beta and does not read A or B.
//
// Determinism contract: C[i][j] depends only on row i of op(A), column j of op(B), K, alpha, beta and the old
// C[i][j] - never on M, N or where the element falls inside a tile. Every element is one FMA chain over k in
// increasing order (K-blocking depends only on K), so splitting a product into row or column blocks across
// calls or threads gives bit-identical results.
//
// sgemm is serial and allocates nothing (packing uses fixed-size thread-local buffers); callers parallelise
// over samples or row blocks.
#ifndef BL_SGEMM_H
#define BL_SGEMM_H

void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
           int ldb, float beta, float *C, int ldc);

// The micro-kernel family sgemm runs ("avx512", "avx2", "neon", "generic"): chosen once, at first use, as the
// best one this CPU supports (__builtin_cpu_supports), unless the environment variable BACKDOORLAB_KERNEL names
// another. Every kernel gives bit-identical results (see the contract above), so the choice changes speed only.
const char *sgemm_kernel_name(void);
// Force a kernel by name (tests, bench). BL_ERR_USAGE with a message if the name is unknown or this CPU or build
// cannot run it. Not thread-safe: call it between parallel regions.
int sgemm_use_kernel(const char *name);
// The FMA peak of the active kernel's instruction set on the calling thread's core, GFLOP/s: an FMA-only loop
// timed for about `seconds` (best of several runs). For `bench`, which reports each GEMM as a share of it.
double sgemm_fma_peak_gflops(double seconds);
// Comma-separated names of the kernels this CPU and build can run, best first (e.g. "avx2,generic").
const char *sgemm_kernels_available(void);

// Naive triple loop with double accumulation; same signature and semantics. For tests and benchmarks only.
void sgemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc);

#endif
