// sgemm_avx512.c: the GEMM of sgemm_impl.h for AVX-512 (built with -mavx512f): an 8x32 tile, 16 zmm
// accumulators of the 32 registers (peak ~250 GFLOP/s on Zen 5 at kc >= 128). Empty on other architectures.
#if defined(__x86_64__) || defined(__i386__)
#define SGI_MR 8
#define SGI_NR 32
#define SGI_NAME avx512
#define SGI_VEC 16
#include "tensor/sgemm_impl.h"
#endif
