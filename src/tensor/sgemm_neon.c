// sgemm_neon.c: the GEMM of sgemm_impl.h for AArch64 Advanced SIMD (NEON, always present on AArch64): an 8x12
// tile, 24 of the 32 q registers as accumulators (3 per row) plus 3 B vectors and 2 A vectors per k.
// The micro-kernel is written with intrinsics: from sgemm_impl.h's portable loop, gcc 12 (-O3, aarch64) emitted
// only scalar fmadd (no fmla) and loaded and stored every row of the tile through the stack on every k, about
// 236 instructions per k for the 8x12 tile; here one k is 31: B (3 vectors) in 2 loads, A (2) in 1, 24 fmla by
// element, 4 for the loop (objdump comparison in tests/neon/README.md).
// Empty on other architectures.
//
// Speed: this kernel is built and checked for correctness (bit-identical to the generic kernel) with Debian's
// cross compiler under qemu-user (scripts/test-neon.sh); its speed has not been measured: no AArch64 hardware
// was available, and timings under qemu's emulation say nothing about a real core.
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>

#define SGI_MR 8
#define SGI_NR 12
#define SGI_NAME neon
#define SGI_VEC 4
#define SGI_HAVE_KERNEL 1

enum { SG_OUT_RAW = 0, SG_OUT_ALPHA = 1, SG_OUT_AXPBY = 2 }; // as sgemm_impl.h describes
#define SGI_OUT_MODES_DEFINED 1

// One row of the tile for one k: acc[I][*] += b * a_I, a_I being lane L of the A vector AV. fmla (by element)
// rounds once, as fmaf does, and a*b == b*a exactly, so each element's chain equals the portable kernel's.
#define SGN_ROW(I, AV, L)                                                                                         \
    if (mr > I) {                                                                                                 \
        acc[I][0] = vfmaq_laneq_f32(acc[I][0], b0, AV, L);                                                        \
        acc[I][1] = vfmaq_laneq_f32(acc[I][1], b1, AV, L);                                                        \
        acc[I][2] = vfmaq_laneq_f32(acc[I][2], b2, AV, L);                                                        \
    }

// The (mr,12) tile as acc[i][0..2] (columns 0-3, 4-7, 8-11). Arguments and contract as sgemm_impl.h's
// sgi_kernel: a is the (kc,8) packed panel (rows mr..7 are zero padding, always present, so both A vectors can
// be loaded for any mr); b has row stride ldb and at least 12 readable columns; init (mr,12) partial sums with
// row stride 12 or NULL; c may be init itself (init is read completely before c is written).
static inline __attribute__((always_inline)) void sgi_kernel(const int mr, int kc, const float *restrict a,
                                                             const float *restrict b, ptrdiff_t ldb,
                                                             const float *init, float *c, ptrdiff_t ldc,
                                                             float alpha, float beta, int mode) {
    float32x4_t acc[SGI_MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        if (init) {
            acc[i][0] = vld1q_f32(init + i * SGI_NR);
            acc[i][1] = vld1q_f32(init + i * SGI_NR + 4);
            acc[i][2] = vld1q_f32(init + i * SGI_NR + 8);
        } else {
            acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);
        }
    }
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (ptrdiff_t)k * ldb;
        const float *ak = a + (ptrdiff_t)k * SGI_MR;
        const float32x4_t b0 = vld1q_f32(bk), b1 = vld1q_f32(bk + 4), b2 = vld1q_f32(bk + 8);
        const float32x4_t a0 = vld1q_f32(ak);
        SGN_ROW(0, a0, 0)
        SGN_ROW(1, a0, 1)
        SGN_ROW(2, a0, 2)
        SGN_ROW(3, a0, 3)
        if (mr > 4) {
            const float32x4_t a1 = vld1q_f32(ak + 4);
            SGN_ROW(4, a1, 0)
            SGN_ROW(5, a1, 1)
            SGN_ROW(6, a1, 2)
            SGN_ROW(7, a1, 3)
        }
    }
    const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            float32x4_t r = acc[i][j];
            if (mode == SG_OUT_ALPHA) {
                r = vmulq_f32(va, r); // alpha * acc
            } else if (mode == SG_OUT_AXPBY) {
                r = vfmaq_f32(vmulq_f32(vb, vld1q_f32(ci + 4 * j)), va, r); // fma(alpha, acc, beta * c)
            }
            vst1q_f32(ci + 4 * j, r);
        }
    }
}
#undef SGN_ROW

#include "tensor/sgemm_impl.h"
#endif
