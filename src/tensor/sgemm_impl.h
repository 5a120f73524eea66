// sgemm_impl.h: the blocked, packed GEMM, written once and compiled once per instruction set.
//
// Each kernel file (sgemm_avx512.c, sgemm_avx2.c, sgemm_neon.c, sgemm_generic.c) defines the tile shape and a
// name, then includes this file, which expands into the driver and a peak probe named after it. The
// Makefile compiles each kernel file with its own instruction-set flags (e.g. -mavx512f), so one binary carries
// every kernel and src/tensor/sgemm.c picks one at run time.
//
//   SGI_MR, SGI_NR   the micro-tile: an (MR,NR) accumulator tile that fits the register file
//                    (AVX-512: 8x32 = 16 zmm; AVX2: 6x16 = 12 ymm; NEON: 8x12 = 24 q registers)
//   SGI_NAME         the kernel's name: the file expands sgemm_driver_<NAME> (the GEMM, sg_driver's signature)
//                    and sgemm_peak_<NAME> (this instruction set's FMA peak, for `bench`)
//   SGI_VEC          floats per vector register (AVX-512 16, AVX2 8, NEON 4)
//   SGI_PORTABLE     defined: no intrinsics at all (the portable fallback and non-x86 builds)
//   SGI_HAVE_KERNEL  defined: the file provides its own sgi_kernel (same signature and contract as below)
//
// Loop nest (BLIS order, simplified for the small matrices of a CNN):
//   jc over N in blocks of NC (only when K needs several K-blocks; otherwise one block spans N)
//     ic over M in blocks of MC
//       kb over K in blocks of KC               - pack the (mc,kc) block of op(A) into MR-row panels
//         jr over the block's columns by NR     - op(B) is read in place when it is row-major and the panel is
//                                                 full width; otherwise one (kc,NR) panel is packed, zero-padded
//           ir over the block's rows by MR      - micro-kernel: an (mr,NR) accumulator tile held in registers
//
// Determinism (why every kernel gives the same bits): every C element is acc = fma(a_k, b_k, acc) for k = 0..K-1
// in order, starting from 0, then one write-back (alpha*acc, or fma(alpha, acc, beta*c)). Edge tiles run the same
// chain (fewer rows, or zero-padded columns that are discarded), partial sums between K-blocks (KC is the same
// for every kernel) are stored and reloaded as exact floats, and the C^T orientation only swaps the factors of
// each fma. So an element's value depends on neither the tile shape, the instruction set, M, N, the transpose
// flags nor its tile position. tests/test_kernels.c checks this bit for bit for every kernel the host can run, and
// tests/neon/ for the NEON kernel under qemu-aarch64.
#include <math.h>
#include <stddef.h>

#include "core/core.h"

#define SGI_CAT2(a, b) a##b
#define SGI_CAT(a, b) SGI_CAT2(a, b)
#define SGI_ENTRY SGI_CAT(sgemm_driver_, SGI_NAME)
#define SGI_PEAK SGI_CAT(sgemm_peak_, SGI_NAME)
#if !defined(SGI_PORTABLE) && defined(__AVX2__)
#include <immintrin.h>
#define SGI_USE_AVX2 1
#endif

#ifndef SGI_B_IN_PLACE
#define SGI_B_IN_PLACE 1 // read a row-major op(B) panel in place instead of packing it (0: always pack)
#endif
#define SGI_KC 512            // K-block: fixed for every kernel (partial sums carry over exactly anyway)
#define SGI_MC (SGI_MR * 8)   // rows of op(A) packed at a time
#define SGI_NC (SGI_NR * 8)   // column block used only when K > KC (bounds the partial-sum scratch)

// One fused multiply-add with a single rounding. Where the target has hardware FMA this is fmaf (gcc inlines and
// vectorises it); elsewhere it is the correctly rounded libm call, so the fallback gives the same bits, only
// slower. Writing it explicitly keeps the rounding of every code path identical instead of depending on where the
// compiler chooses to contract (e.g. alpha*acc + beta*c has two candidates).
#define SG_FMA(a, b, c) fmaf((a), (b), (c))

// How the micro-kernel stores its accumulator tile (a file with its own kernel defines these first).
#ifndef SGI_OUT_MODES_DEFINED
enum {
    SG_OUT_RAW = 0,   // c = acc (partial sums, temporaries)
    SG_OUT_ALPHA = 1, // c = alpha * acc (beta == 0: the old c is never read)
    SG_OUT_AXPBY = 2, // c = fma(alpha, acc, beta * c)
};
#endif

// Per-thread packing buffers, so sgemm never allocates and threads never share. +8 floats of slack: packing a
// panel of MR < 8 rows writes 8-float columns that overlap the next column (see sg_transpose8).
static _Thread_local float sg_apack[SGI_MC * SGI_KC + 8] __attribute__((aligned(64)));  // op(A) block, MR panels
static _Thread_local float sg_bpack[SGI_KC * SGI_NR] __attribute__((aligned(64)));      // one (kc,NR) op(B) panel
static _Thread_local float sg_partial[SGI_MC * SGI_NC] __attribute__((aligned(64)));    // sums between K-blocks

#ifndef SGI_HAVE_KERNEL
// The micro-kernel. mr (1..MR) is a compile-time constant at every call site (through the instantiations
// below), so gcc fully unrolls the i/j loops, keeps acc in vector registers and emits one FMA per vector of the
// tile per k (2*mr for 8x32 on AVX-512, 2*mr for 6x16 on AVX2).
//   a    (kc, MR) packed panel of op(A): a[k*MR + i]
//   b    (kc, >=NR) panel of op(B) with row stride ldb
//   init (mr, NR) partial sums to continue from, or NULL to start from zero
//   c    (mr, >=NR) output with row stride ldc, written according to mode; may be init itself (init is read
//        completely before c is written, hence no restrict on either)
static inline __attribute__((always_inline)) void sgi_kernel(const int mr, int kc, const float *restrict a,
                                                             const float *restrict b, ptrdiff_t ldb,
                                                             const float *init, float *c, ptrdiff_t ldc,
                                                             float alpha, float beta, int mode) {
    float acc[SGI_MR * SGI_NR] = {0.0f}; // acc[i*NR + j]
    if (init) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SGI_NR; j++) acc[i * SGI_NR + j] = init[i * SGI_NR + j];
    }
    for (int k = 0; k < kc; k++) {
        const float *restrict bk = b + (ptrdiff_t)k * ldb;
        const float *restrict ak = a + (ptrdiff_t)k * SGI_MR;
        for (int i = 0; i < mr; i++) {
            const float ai = ak[i];
            for (int j = 0; j < SGI_NR; j++) acc[i * SGI_NR + j] = SG_FMA(ai, bk[j], acc[i * SGI_NR + j]);
        }
    }
    if (mode == SG_OUT_RAW) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SGI_NR; j++) c[i * ldc + j] = acc[i * SGI_NR + j];
    } else if (mode == SG_OUT_ALPHA) {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SGI_NR; j++) c[i * ldc + j] = alpha * acc[i * SGI_NR + j];
    } else {
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < SGI_NR; j++)
                c[i * ldc + j] = SG_FMA(alpha, acc[i * SGI_NR + j], beta * c[i * ldc + j]);
    }
}
#endif

typedef void (*SgKernelFn)(int kc, const float *a, const float *b, ptrdiff_t ldb, const float *init, float *c,
                           ptrdiff_t ldc, float alpha, float beta, int mode);

// One specialised copy of the kernel per tile height mr.
#define SG_DEF_KERNEL(MRV)                                                                                        \
    static void sg_kernel_##MRV(int kc, const float *a, const float *b, ptrdiff_t ldb, const float *init,         \
                                float *c, ptrdiff_t ldc, float alpha, float beta, int mode) {                     \
        if (MRV <= SGI_MR) sgi_kernel(MRV <= SGI_MR ? MRV : 1, kc, a, b, ldb, init, c, ldc, alpha, beta, mode);   \
    }
SG_DEF_KERNEL(1)
SG_DEF_KERNEL(2)
SG_DEF_KERNEL(3)
SG_DEF_KERNEL(4)
SG_DEF_KERNEL(5)
SG_DEF_KERNEL(6)
SG_DEF_KERNEL(7)
SG_DEF_KERNEL(8)

// sg_kernels[mr - 1] (MR <= 8 for every kernel)
static const SgKernelFn sg_kernels[8] = {sg_kernel_1, sg_kernel_2, sg_kernel_3, sg_kernel_4,
                                         sg_kernel_5, sg_kernel_6, sg_kernel_7, sg_kernel_8};

// A row of zeros standing in for the missing rows of an edge panel, so edge panels take the same 8-row path.
static const float sg_zero_row[SGI_KC];

// Transpose 8 rows of `cols` floats into dst[c*ldd + r] (r < 8). Packing op(A) from a row-major A and op(B)
// from a transposed B are both this transpose, which gcc does not vectorise; with AVX2 each 8x8 block is
// unpack/shuffle/permute in registers (measured: NT/TT shapes 1.5-3x faster than the scalar loop). The scalar
// loop is the portable path and handles the last cols % 8 columns. ldd may be less than 8 (panels of MR = 6):
// column c's 8 values then spill into the first slots of column c+1, which the next column overwrites because
// columns are written in increasing order; the last column spills ldd - 8 floats past the panel (slack).
static void sg_transpose8(const float *const rows[8], int cols, float *restrict dst, ptrdiff_t ldd) {
    int c0 = 0;
#ifdef SGI_USE_AVX2
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
    for (int ir = 0; ir < mc; ir += SGI_MR) {
        const int mr = BL_MIN(SGI_MR, mc - ir);
        float *restrict dst = ap + (ptrdiff_t)ir * kc;
        if (trans_a) { // op(A)[i][k] = A[k*lda + i]: MR contiguous floats per k
            const float *src = A + (ptrdiff_t)p0 * lda + i0 + ir;
            if (mr == SGI_MR) {
                for (int k = 0; k < kc; k++)
                    for (int i = 0; i < SGI_MR; i++) dst[k * SGI_MR + i] = src[(ptrdiff_t)k * lda + i];
            } else {
                for (int k = 0; k < kc; k++)
                    for (int i = 0; i < SGI_MR; i++)
                        dst[k * SGI_MR + i] = i < mr ? src[(ptrdiff_t)k * lda + i] : 0.0f;
            }
        } else { // op(A)[i][k] = A[i*lda + k]
            const float *rows[8];
            for (int i = 0; i < 8; i++)
                rows[i] = i < mr ? A + (ptrdiff_t)(i0 + ir + i) * lda + p0 : sg_zero_row;
            sg_transpose8(rows, kc, dst, SGI_MR);
        }
    }
}

// Pack op(B) rows [p0, p0+kc) x cols [j0, j0+nv) into bp[k*NR + j], zero-padding columns nv..NR-1. The loops
// have fixed widths so gcc emits vector stores rather than a memset/memcpy call per row. (NR is a multiple of 4;
// a transposed B is packed 8 columns at a time when NR is a multiple of 8, else 4 by the scalar path.)
static void sg_pack_b(int trans_b, const float *B, ptrdiff_t ldb, int p0, int kc, int j0, int nv, float *bp) {
    if (trans_b) { // op(B)[k][j] = B[j*ldb + k]
#if SGI_NR % 8 == 0
        for (int jg = 0; jg < SGI_NR; jg += 8) {
            if (jg < nv) {
                const float *rows[8];
                for (int r = 0; r < 8; r++)
                    rows[r] = jg + r < nv ? B + (ptrdiff_t)(j0 + jg + r) * ldb + p0 : sg_zero_row;
                sg_transpose8(rows, kc, bp + jg, SGI_NR);
            } else {
                for (int k = 0; k < kc; k++)
                    for (int r = 0; r < 8; r++) bp[k * SGI_NR + jg + r] = 0.0f;
            }
        }
#else
        for (int k = 0; k < kc; k++)
            for (int j = 0; j < SGI_NR; j++) bp[k * SGI_NR + j] = j < nv ? B[(ptrdiff_t)(j0 + j) * ldb + p0 + k] : 0.0f;
#endif
    } else { // op(B)[k][j] = B[k*ldb + j]
        for (int k = 0; k < kc; k++) {
            const float *src = B + (ptrdiff_t)(p0 + k) * ldb + j0;
            for (int j = 0; j < SGI_NR; j++) bp[k * SGI_NR + j] = j < nv ? src[j] : 0.0f;
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

// The blocked loop nest (see the top of the file). With `swapped`, the caller has exchanged the operands to
// compute C^T = op(B)^T op(A)^T, so that a narrow N becomes the row dimension: element (i,j) of this product
// is then stored at C[j*ldc + i]. Each element still runs the identical FMA chain (fma(a,b,c) == fma(b,a,c)),
// so the orientation never changes a result bit.
void SGI_ENTRY(int swapped, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);
void SGI_ENTRY(int swapped, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
               ptrdiff_t lda, const float *B, ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc) {
    const int out_mode = beta == 0.0f ? SG_OUT_ALPHA : SG_OUT_AXPBY;
    const int nk = (K + SGI_KC - 1) / SGI_KC;
    const int nc_max = nk == 1 ? N : SGI_NC;                      // partial-sum scratch covers an (MC,NC) block
    float tile[SGI_MR * SGI_NR] __attribute__((aligned(64)));    // (MR,NR) raw result of an edge/swapped tile
    float tile_t[SGI_NR * 8 + 8] __attribute__((aligned(64)));   // (NR,MR) its transpose, for swapped stores

    for (int jc = 0; jc < N; jc += nc_max) {
        const int nc = BL_MIN(nc_max, N - jc);
        for (int ic = 0; ic < M; ic += SGI_MC) {
            const int mc = BL_MIN(SGI_MC, M - ic);
            for (int kb = 0; kb < nk; kb++) {
                const int pc = kb * SGI_KC;
                const int kc = BL_MIN(SGI_KC, K - pc);
                const int first = kb == 0, last = kb == nk - 1;
                sg_pack_a(trans_a, A, lda, ic, mc, pc, kc, sg_apack);
                for (int jr = 0; jr < nc; jr += SGI_NR) {
                    const int nv = BL_MIN(SGI_NR, nc - jr); // valid columns in this panel
                    const float *bp;
                    ptrdiff_t ldbp;
                    if (SGI_B_IN_PLACE && !trans_b && nv == SGI_NR) { // row-major, full width: read in place
                        bp = B + (ptrdiff_t)pc * ldb + jc + jr;
                        ldbp = ldb;
                    } else {
                        sg_pack_b(trans_b, B, ldb, pc, kc, jc + jr, nv, sg_bpack);
                        bp = sg_bpack;
                        ldbp = SGI_NR;
                    }
                    for (int ir = 0; ir < mc; ir += SGI_MR) {
                        const int mr = BL_MIN(SGI_MR, mc - ir);
                        const SgKernelFn kern = sg_kernels[mr - 1];
                        const float *ap = sg_apack + (ptrdiff_t)ir * kc;
                        // Partial sums of this (MR,NR) tile between K-blocks.
                        float *part = sg_partial + ((ptrdiff_t)(ir / SGI_MR) * (SGI_NC / SGI_NR) + jr / SGI_NR) *
                                                       (SGI_MR * SGI_NR);
                        const float *init = first ? NULL : part;
                        const int i0 = ic + ir, j0 = jc + jr;
                        if (!last) {
                            kern(kc, ap, bp, ldbp, init, part, SGI_NR, 1.0f, 0.0f, SG_OUT_RAW);
                        } else if (!swapped && nv == SGI_NR) {
                            kern(kc, ap, bp, ldbp, init, C + i0 * ldc + j0, ldc, alpha, beta, out_mode);
                        } else {
                            kern(kc, ap, bp, ldbp, init, tile, SGI_NR, 1.0f, 0.0f, SG_OUT_RAW);
                            if (!swapped) {
                                sg_writeback(C + i0 * ldc + j0, ldc, tile, SGI_NR, mr, nv, alpha, beta, out_mode);
                            } else { // this tile is C[j0.., i0..] transposed
                                const float *rows[8];
                                for (int i = 0; i < 8; i++) rows[i] = i < mr ? tile + i * SGI_NR : sg_zero_row;
                                sg_transpose8(rows, SGI_NR, tile_t, 8);
                                sg_writeback(C + j0 * ldc + i0, ldc, tile_t, 8, nv, mr, alpha, beta, out_mode);
                            }
                        }
                    }
                }
            }
        }
    }
}

// The FMA peak this kernel's instruction set reaches on one core, in GFLOP/s: 12 independent accumulator vectors
// (more than latency x throughput on every core we know) updated with FMAs only, for about `seconds`, the best
// of several runs. `bench` prints each GEMM shape as a share of it, measured in the same run on the same host
// (a VM's clock and its neighbours decide the peak, not the data sheet).
typedef float SgiVec __attribute__((vector_size(SGI_VEC * sizeof(float))));
double SGI_PEAK(double seconds);
double SGI_PEAK(double seconds) {
    SgiVec acc[12], x, y;
    for (int j = 0; j < SGI_VEC; j++) x[j] = 1.0f + 1e-7f, y[j] = 1e-3f;
    for (int i = 0; i < 12; i++)
        for (int j = 0; j < SGI_VEC; j++) acc[i][j] = (float)i;
    double best = 0.0, t_total = 0.0;
    const long iters = 1L << 16;
    while (t_total < seconds) {
        const double t0 = bl_now();
        for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
            for (int i = 0; i < 12; i++) acc[i] = acc[i] * x + y; // contracted to one FMA (-ffp-contract=fast)
        }
        const double dt = bl_now() - t0;
        t_total += dt;
        const double gflops = 12.0 * 2.0 * SGI_VEC * (double)iters / (dt > 0.0 ? dt : 1e-9) * 1e-9;
        if (gflops > best) best = gflops;
    }
    volatile float sink = 0.0f; // keep the loop from being removed
    for (int i = 0; i < 12; i++) sink += acc[i][0];
    (void)sink;
    return best;
}
