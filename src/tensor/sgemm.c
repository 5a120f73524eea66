// sgemm.c: blocked, packed single-precision GEMM with a register-tiled micro-kernel, and a naive reference.
//
// Loop nest (BLIS order, simplified for the small matrices of a CNN):
//   jc over N in blocks of NC (only when K needs several K-blocks; otherwise one block spans N)
//     ic over M in blocks of MC
//       kb over K in blocks of KC               - pack the (mc,kc) block of op(A) into MR-row panels
//         jr over the block's columns by NR     - op(B) is read in place when it is row-major and the panel is
//                                                 full width; otherwise one (kc,NR) panel is packed, zero-padded
//           ir over the block's rows by MR      - micro-kernel: an (mr,NR) accumulator tile held in registers
// When N is narrow the product is computed as C^T (see sgemm()), so the narrow side becomes the rows.
//
// Determinism: every C element is acc = fma(a_k, b_k, acc) for k = 0..K-1 in order, starting from 0, then one
// write-back (alpha*acc, or fma(alpha, acc, beta*c)). Edge tiles run the same chain (fewer rows, or zero-padded
// columns that are discarded), partial sums between K-blocks are stored and reloaded as exact floats, and the
// C^T orientation only swaps the factors of each fma, so an element's value never depends on M, N, the
// transpose flags or its tile position. tests/test_tensor.c checks this bit for bit.
#include "tensor/sgemm.h"

#include "core/core.h"

#include <math.h>
#include <stddef.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

#define SG_MR 8   // micro-tile rows (accumulator tile is MR x NR)
#define SG_NR 32  // micro-tile columns: two 16-float AVX-512 vectors
#define SG_KC 512 // K-block (partial sums carry over exactly, so this never changes a result)
#define SG_MC 64  // rows of op(A) packed at a time
#define SG_NC 256 // column block used only when K > KC (bounds the partial-sum scratch)

// One fused multiply-add with a single rounding. Where the target has hardware FMA this is fmaf (gcc inlines and
// vectorises it, even at -O0 it is the correctly rounded libm call); elsewhere it is a plain multiply-add, which
// nothing can contract. Writing it explicitly keeps the rounding of every code path identical instead of
// depending on where the compiler chooses to contract (e.g. alpha*acc + beta*c has two candidates).
#ifdef FP_FAST_FMAF
#define SG_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define SG_FMA(a, b, c) ((a) * (b) + (c))
#endif

// How the micro-kernel stores its accumulator tile.
enum {
    SG_OUT_RAW = 0,   // c = acc (partial sums, temporaries)
    SG_OUT_ALPHA = 1, // c = alpha * acc (beta == 0: the old c is never read)
    SG_OUT_AXPBY = 2, // c = fma(alpha, acc, beta * c)
};

// Per-thread packing buffers, so sgemm never allocates and threads never share: 128 + 64 + 64 KiB of TLS.
static _Thread_local float sg_apack[SG_MC * SG_KC] __attribute__((aligned(64)));   // op(A) block, MR-row panels
static _Thread_local float sg_bpack[SG_KC * SG_NR] __attribute__((aligned(64)));   // one (kc,NR) op(B) panel
static _Thread_local float sg_partial[SG_MC * SG_NC] __attribute__((aligned(64))); // sums between K-blocks

// The micro-kernel. mr (1..MR) is a compile-time constant at every call site (through the instantiations
// below), so gcc fully unrolls the i/j loops, keeps acc in vector registers and emits 2*mr AVX-512 FMAs per k
// (checked in the assembly; peak ~250 GFLOP/s on Zen 5 for the 8x32 tile at kc >= 128).
//   a    (kc, MR) packed panel of op(A): a[k*MR + i]
//   b    (kc, >=NR) panel of op(B) with row stride ldb
//   init (mr, NR) partial sums to continue from, or NULL to start from zero
//   c    (mr, >=NR) output with row stride ldc, written according to mode; may be init itself (init is read
//        completely before c is written, hence no restrict on either)
static inline __attribute__((always_inline)) void sg_kernel(const int mr, int kc, const float *restrict a,
                                                            const float *restrict b, ptrdiff_t ldb,
                                                            const float *init, float *c, ptrdiff_t ldc,
                                                            float alpha, float beta, int mode) {
    float acc[SG_MR * SG_NR] = {0.0f}; // acc[i*NR + j]
    if (init) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SG_NR; j++) acc[i * SG_NR + j] = init[i * SG_NR + j];
    }
    for (int k = 0; k < kc; k++) {
        const float *restrict bk = b + (ptrdiff_t)k * ldb;
        const float *restrict ak = a + (ptrdiff_t)k * SG_MR;
        for (int i = 0; i < mr; i++) {
            const float ai = ak[i];
            for (int j = 0; j < SG_NR; j++) acc[i * SG_NR + j] = SG_FMA(ai, bk[j], acc[i * SG_NR + j]);
        }
    }
    if (mode == SG_OUT_RAW) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SG_NR; j++) c[i * ldc + j] = acc[i * SG_NR + j];
    } else if (mode == SG_OUT_ALPHA) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SG_NR; j++) c[i * ldc + j] = alpha * acc[i * SG_NR + j];
    } else {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SG_NR; j++)
                c[i * ldc + j] = SG_FMA(alpha, acc[i * SG_NR + j], beta * c[i * ldc + j]);
    }
}

typedef void (*SgKernelFn)(int kc, const float *a, const float *b, ptrdiff_t ldb, const float *init, float *c,
                           ptrdiff_t ldc, float alpha, float beta, int mode);

// One specialised copy of the kernel per tile height mr.
#define SG_DEF_KERNEL(MRV)                                                                                        \
    static void sg_kernel_##MRV(int kc, const float *a, const float *b, ptrdiff_t ldb, const float *init,         \
                                float *c, ptrdiff_t ldc, float alpha, float beta, int mode) {                     \
        sg_kernel(MRV, kc, a, b, ldb, init, c, ldc, alpha, beta, mode);                                           \
    }
SG_DEF_KERNEL(1)
SG_DEF_KERNEL(2)
SG_DEF_KERNEL(3)
SG_DEF_KERNEL(4)
SG_DEF_KERNEL(5)
SG_DEF_KERNEL(6)
SG_DEF_KERNEL(7)
SG_DEF_KERNEL(8)

// sg_kernels[mr - 1]
static const SgKernelFn sg_kernels[SG_MR] = {sg_kernel_1, sg_kernel_2, sg_kernel_3, sg_kernel_4,
                                             sg_kernel_5, sg_kernel_6, sg_kernel_7, sg_kernel_8};

// A row of zeros standing in for the missing rows of an edge panel, so edge panels take the same 8-row path.
static const float sg_zero_row[SG_KC];

// Transpose 8 rows of `cols` floats into dst[c*ldd + r] (r < 8). Packing op(A) from a row-major A and op(B)
// from a transposed B are both this transpose, which gcc does not vectorise; with AVX2 each 8x8 block is
// unpack/shuffle/permute in registers (measured: NT/TT shapes 1.5-3x faster than the scalar loop). The scalar
// loop is the portable path and handles the last cols % 8 columns.
static void sg_transpose8(const float *const rows[8], int cols, float *restrict dst, ptrdiff_t ldd) {
    int c0 = 0;
#ifdef __AVX2__
    for (; c0 + 8 <= cols; c0 += 8) {
        const __m256 r0 = _mm256_loadu_ps(rows[0] + c0), r1 = _mm256_loadu_ps(rows[1] + c0);
        const __m256 r2 = _mm256_loadu_ps(rows[2] + c0), r3 = _mm256_loadu_ps(rows[3] + c0);
        const __m256 r4 = _mm256_loadu_ps(rows[4] + c0), r5 = _mm256_loadu_ps(rows[5] + c0);
        const __m256 r6 = _mm256_loadu_ps(rows[6] + c0), r7 = _mm256_loadu_ps(rows[7] + c0);
        const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        float *d = dst + (ptrdiff_t)c0 * ldd;
        _mm256_storeu_ps(d + 0 * ldd, _mm256_permute2f128_ps(s0, s4, 0x20));
        _mm256_storeu_ps(d + 1 * ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
        _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
        _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
        _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
        _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
        _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
        _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
    }
#endif
    for (int c = c0; c < cols; c++)
        for (int r = 0; r < 8; r++) dst[(ptrdiff_t)c * ldd + r] = rows[r][c];
}

// Pack rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels: panel p holds rows p*MR.. as
// ap[p*MR*kc + k*MR + i]. Rows past mc in the last panel are zero (the kernel never reads them anyway).
static void sg_pack_a(int trans_a, const float *A, ptrdiff_t lda, int i0, int mc, int p0, int kc, float *ap) {
    for (int ir = 0; ir < mc; ir += SG_MR) {
        const int mr = BL_MIN(SG_MR, mc - ir);
        float *restrict dst = ap + (ptrdiff_t)ir * kc;
        if (trans_a) { // op(A)[i][k] = A[k*lda + i]: MR contiguous floats per k
            const float *src = A + (ptrdiff_t)p0 * lda + i0 + ir;
            if (mr == SG_MR) {
                for (int k = 0; k < kc; k++)
                    for (int i = 0; i < SG_MR; i++) dst[k * SG_MR + i] = src[(ptrdiff_t)k * lda + i];
            } else {
                for (int k = 0; k < kc; k++)
                    for (int i = 0; i < SG_MR; i++)
                        dst[k * SG_MR + i] = i < mr ? src[(ptrdiff_t)k * lda + i] : 0.0f;
            }
        } else { // op(A)[i][k] = A[i*lda + k]
            const float *rows[SG_MR];
            for (int i = 0; i < SG_MR; i++)
                rows[i] = i < mr ? A + (ptrdiff_t)(i0 + ir + i) * lda + p0 : sg_zero_row;
            sg_transpose8(rows, kc, dst, SG_MR);
        }
    }
}

// Pack op(B) rows [p0, p0+kc) x cols [j0, j0+nv) into bp[k*NR + j], zero-padding columns nv..NR-1. The loops
// have fixed widths so gcc emits vector stores rather than a memset/memcpy call per row.
static void sg_pack_b(int trans_b, const float *B, ptrdiff_t ldb, int p0, int kc, int j0, int nv, float *bp) {
    if (trans_b) { // op(B)[k][j] = B[j*ldb + k]: 8 columns of op(B) at a time
        for (int jg = 0; jg < SG_NR; jg += 8) {
            if (jg < nv) {
                const float *rows[8];
                for (int r = 0; r < 8; r++)
                    rows[r] = jg + r < nv ? B + (ptrdiff_t)(j0 + jg + r) * ldb + p0 : sg_zero_row;
                sg_transpose8(rows, kc, bp + jg, SG_NR);
            } else {
                for (int k = 0; k < kc; k++)
                    for (int r = 0; r < 8; r++) bp[k * SG_NR + jg + r] = 0.0f;
            }
        }
    } else { // op(B)[k][j] = B[k*ldb + j]
        for (int k = 0; k < kc; k++) {
            const float *src = B + (ptrdiff_t)(p0 + k) * ldb + j0;
            for (int j = 0; j < SG_NR; j++) bp[k * SG_NR + j] = j < nv ? src[j] : 0.0f;
        }
    }
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

// Write a raw accumulator tile t (rows, cols; row stride ldt) into c (row stride ldc) with the same write-back
// formula the kernel uses for full tiles.
static void sg_writeback(float *restrict c, ptrdiff_t ldc, const float *restrict t, ptrdiff_t ldt, int rows,
                         int cols, float alpha, float beta, int mode) {
    for (int r = 0; r < rows; r++) {
        float *cr = c + r * ldc;
        const float *tr = t + r * ldt;
        if (mode == SG_OUT_ALPHA) {
            for (int j = 0; j < cols; j++) cr[j] = alpha * tr[j];
        } else {
            for (int j = 0; j < cols; j++) cr[j] = SG_FMA(alpha, tr[j], beta * cr[j]);
        }
    }
}

// Relative cost of the row panels of an M-row operand: an (mr,NR) tile with mr <= 4 is bound by FMA latency
// (4 cycles per k) rather than throughput (mr/2 cycles per k).
static long sg_rows_cost(int m) {
    const int rem = m % SG_MR;
    return (long)(m - rem) + (rem ? BL_MAX(rem, 4) : 0);
}

// The blocked loop nest (see the top of the file). With `swapped`, the caller has exchanged the operands to
// compute C^T = op(B)^T op(A)^T, so that a narrow N becomes the row dimension: element (i,j) of this product
// is then stored at C[j*ldc + i]. Each element still runs the identical FMA chain (fma(a,b,c) == fma(b,a,c)),
// so the orientation never changes a result bit.
static void sg_driver(int swapped, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                      ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc) {
    const int out_mode = beta == 0.0f ? SG_OUT_ALPHA : SG_OUT_AXPBY;
    const int nk = (K + SG_KC - 1) / SG_KC;
    const int nc_max = nk == 1 ? N : SG_NC;                 // the partial-sum scratch only covers an (MC,NC) block
    float tile[SG_MR * SG_NR] __attribute__((aligned(64))); // (MR,NR) raw result of an edge/swapped tile
    float tile_t[SG_NR * SG_MR] __attribute__((aligned(64))); // (NR,MR) its transpose, for swapped stores

    for (int jc = 0; jc < N; jc += nc_max) {
        const int nc = BL_MIN(nc_max, N - jc);
        for (int ic = 0; ic < M; ic += SG_MC) {
            const int mc = BL_MIN(SG_MC, M - ic);
            for (int kb = 0; kb < nk; kb++) {
                const int pc = kb * SG_KC;
                const int kc = BL_MIN(SG_KC, K - pc);
                const int first = kb == 0, last = kb == nk - 1;
                sg_pack_a(trans_a, A, lda, ic, mc, pc, kc, sg_apack);
                for (int jr = 0; jr < nc; jr += SG_NR) {
                    const int nv = BL_MIN(SG_NR, nc - jr); // valid columns in this panel
                    const float *bp;
                    ptrdiff_t ldbp;
                    if (!trans_b && nv == SG_NR) { // row-major and full width: read op(B) in place
                        bp = B + (ptrdiff_t)pc * ldb + jc + jr;
                        ldbp = ldb;
                    } else {
                        sg_pack_b(trans_b, B, ldb, pc, kc, jc + jr, nv, sg_bpack);
                        bp = sg_bpack;
                        ldbp = SG_NR;
                    }
                    for (int ir = 0; ir < mc; ir += SG_MR) {
                        const int mr = BL_MIN(SG_MR, mc - ir);
                        const SgKernelFn kern = sg_kernels[mr - 1];
                        const float *ap = sg_apack + (ptrdiff_t)ir * kc;
                        // Partial sums of this (MR,NR) tile between K-blocks.
                        float *part = sg_partial +
                                      ((ptrdiff_t)(ir / SG_MR) * (SG_NC / SG_NR) + jr / SG_NR) * (SG_MR * SG_NR);
                        const float *init = first ? NULL : part;
                        const int i0 = ic + ir, j0 = jc + jr;
                        if (!last) {
                            kern(kc, ap, bp, ldbp, init, part, SG_NR, 1.0f, 0.0f, SG_OUT_RAW);
                        } else if (!swapped && nv == SG_NR) {
                            kern(kc, ap, bp, ldbp, init, C + i0 * ldc + j0, ldc, alpha, beta, out_mode);
                        } else {
                            kern(kc, ap, bp, ldbp, init, tile, SG_NR, 1.0f, 0.0f, SG_OUT_RAW);
                            if (!swapped) {
                                sg_writeback(C + i0 * ldc + j0, ldc, tile, SG_NR, mr, nv, alpha, beta, out_mode);
                            } else { // this tile is C[j0.., i0..] transposed
                                const float *rows[SG_MR];
                                for (int i = 0; i < SG_MR; i++) rows[i] = i < mr ? tile + i * SG_NR : sg_zero_row;
                                sg_transpose8(rows, SG_NR, tile_t, SG_MR);
                                sg_writeback(C + j0 * ldc + i0, ldc, tile_t, SG_MR, nv, mr, alpha, beta, out_mode);
                            }
                        }
                    }
                }
            }
        }
    }
}

void sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
           int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        sg_scale(M, N, beta, C, ldc);
        return;
    }
    // Tiles are NR = 32 columns wide; when N is narrow (fc2's N = 10, a 16-channel conv's C^T) computing C^T
    // instead wastes far fewer padded columns. Swapped tiles pay for a transposed store, so swap only when it
    // saves at least a quarter of the kernel work (measured: at a 4-13% saving the swap was slower).
    const long cost = sg_rows_cost(M) * ((N + SG_NR - 1) / SG_NR);
    const long cost_swapped = sg_rows_cost(N) * ((M + SG_NR - 1) / SG_NR);
    if (4 * cost_swapped < 3 * cost)
        sg_driver(1, !trans_b, !trans_a, N, M, K, alpha, B, ldb, A, lda, beta, C, ldc);
    else
        sg_driver(0, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
