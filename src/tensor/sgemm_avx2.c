// sgemm_avx2.c: the GEMM of sgemm_impl.h for AVX2 + FMA (built with -mavx2 -mfma): a 6x16 tile, 12 ymm
// accumulators plus two B vectors and a broadcast in the 16 registers (the 8x32 AVX-512 tile would need 32 and
// spill). The micro-kernel is written with intrinsics: from the portable loop, gcc's generic tuning built
// 128-bit pieces and kept the tile on the stack (measured: several times slower). Empty on other architectures.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stddef.h>

#define SGI_MR 6
#define SGI_NR 16
#define SGI_NAME avx2
#define SGI_VEC 8
#define SGI_HAVE_KERNEL 1

enum { SG_OUT_RAW = 0, SG_OUT_ALPHA = 1, SG_OUT_AXPBY = 2 }; // as sgemm_impl.h describes
#define SGI_OUT_MODES_DEFINED 1

// The (mr,16) tile as acc0[i] (columns 0-7) and acc1[i] (8-15), each element one fma chain over k (vfmadd231ps
// rounds once, as fmaf does), so the bits equal every other kernel's. Arguments as sgemm_impl.h's sgi_kernel.
static inline __attribute__((always_inline)) void sgi_kernel(const int mr, int kc, const float *restrict a,
                                                             const float *restrict b, ptrdiff_t ldb,
                                                             const float *init, float *c, ptrdiff_t ldc,
                                                             float alpha, float beta, int mode) {
    __m256 acc0[SGI_MR], acc1[SGI_MR];
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        acc0[i] = init ? _mm256_loadu_ps(init + i * SGI_NR) : _mm256_setzero_ps();
        acc1[i] = init ? _mm256_loadu_ps(init + i * SGI_NR + 8) : _mm256_setzero_ps();
    }
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (ptrdiff_t)k * ldb;
        const __m256 b0 = _mm256_loadu_ps(bk), b1 = _mm256_loadu_ps(bk + 8);
        const float *ak = a + (ptrdiff_t)k * SGI_MR;
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m256 ai = _mm256_broadcast_ss(ak + i);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m256 r0 = acc0[i], r1 = acc1[i];
        if (mode == SG_OUT_ALPHA) {
            r0 = _mm256_mul_ps(va, r0);
            r1 = _mm256_mul_ps(va, r1);
        } else if (mode == SG_OUT_AXPBY) { // fma(alpha, acc, beta * c)
            r0 = _mm256_fmadd_ps(va, r0, _mm256_mul_ps(vb, _mm256_loadu_ps(ci)));
            r1 = _mm256_fmadd_ps(va, r1, _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8)));
        }
        _mm256_storeu_ps(ci, r0);
        _mm256_storeu_ps(ci + 8, r1);
    }
}

#include "tensor/sgemm_impl.h"
#endif
