// kernel_bench.h: correctness check + timing of sgemm on the CNN's GEMM shapes (used by `backdoorlab bench`).
#ifndef BL_KERNEL_BENCH_H
#define BL_KERNEL_BENCH_H

#include <stdio.h>

// For each GEMM shape the small CNN uses (forward, dX and dW of conv1, conv2, fc1, fc2, plus a few transposed
// variants), check sgemm against sgemm_ref (OK/FAIL with the max relative error), then time it single-threaded
// and print an aligned table of GFLOP/s to `out`. `reps` is the number of timed runs whose median is reported
// (each run repeats the GEMM for at least ~2 ms); reps <= 0 picks the default of 7. Library-style: it only
// writes to `out`, never exits.
void kernel_bench_report(FILE *out, int reps);

#endif
