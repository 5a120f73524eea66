// sgemm_neon.c: the GEMM of sgemm_impl.h for AArch64 Advanced SIMD (NEON, always present on AArch64): an 8x12
// tile, 24 of the 32 q registers as accumulators (3 per row), which gcc turns into fmla by-element FMAs.
// Empty on other architectures.
#if defined(__aarch64__)
#define SGI_MR 8
#define SGI_NR 12
#define SGI_NAME neon
#define SGI_VEC 4
#include "tensor/sgemm_impl.h"
#endif
