// sgemm_generic.c: the GEMM of sgemm_impl.h in portable C (no intrinsics; fmaf for every multiply-add), the
// fallback for CPUs without a dedicated kernel and the reference the others are tested against bit for bit.
// Its 8x32 tile is the AVX-512 kernel's, so hosts without AVX-512 still exercise that blocking.
#define SGI_MR 8
#define SGI_NR 32
#define SGI_NAME generic
#define SGI_VEC 8
#define SGI_PORTABLE 1
#include "tensor/sgemm_impl.h"
