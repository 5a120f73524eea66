// dense.c: fully connected layer, "dense N". Input (C,H,W) is read as a flat vector of C*H*W values.
// Weights (N, IN) as in PyTorch's nn.Linear, bias (N).
#include <stdio.h>
#include <string.h>

#include "nn/layer.h"
#include "tensor/sgemm.h"

// Rows of the batch per OpenMP task for the forward and input-gradient GEMMs: big enough for the GEMM to run
// near full speed (fewer re-packs of W), small enough that batch 64 still splits over two cores. Fixed, so
// results do not depend on the thread count.
#define DENSE_BATCH_BLOCK 32

static Status dense_parse(Layer *l, char **args, int nargs) {
    if (nargs != 1) return bl_fail(BL_ERR_USAGE, "dense needs exactly one argument, the number of units");
    return layer_parse_int(args[0], "units", 1, 1 << 20, &l->units);
}

static Status dense_plan(Layer *l, int max_batch) {
    (void)max_batch;
    l->out = (Shape){l->units, 1, 1};
    l->nweight = (size_t)l->units * shape_size(l->in);
    l->nbias = (size_t)l->units;
    return BL_OK;
}

static void dense_init(Layer *l, Rng *rng) { layer_init_uniform_fan_in(l, (int)shape_size(l->in), rng); }

static void dense_forward(Layer *l, const float *x, float *y, int B) {
    const int in = (int)shape_size(l->in), out = l->units;
    const int nblocks = (B + DENSE_BATCH_BLOCK - 1) / DENSE_BATCH_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int b0 = blk * DENSE_BATCH_BLOCK, rows = BL_MIN(DENSE_BATCH_BLOCK, B - b0);
        float *yb = y + (size_t)b0 * out; // (rows, out)
        for (int r = 0; r < rows; r++) memcpy(yb + (size_t)r * out, l->b, out * sizeof(float));
        sgemm(0, 1, rows, out, in, 1.0f, x + (size_t)b0 * in, in, l->w, in, 1.0f, yb, out);
    }
}

static void dense_backward(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B) {
    (void)y;
    const int in = (int)shape_size(l->in), out = l->units;
    // dW (out, in) += dy^T (out, B) x (B, in); bias sums over the batch in order. Fixed row blocks per thread.
    const int oblocks = (out + LAYER_ROW_BLOCK - 1) / LAYER_ROW_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < oblocks; blk++) {
        int o0 = blk * LAYER_ROW_BLOCK, rows = BL_MIN(LAYER_ROW_BLOCK, out - o0);
        sgemm(1, 0, rows, in, B, 1.0f, dy + o0, out, x, in, 1.0f, l->dw + (size_t)o0 * in, in);
        for (int o = o0; o < o0 + rows; o++) {
            float s = 0.0f;
            for (int b = 0; b < B; b++) s += dy[(size_t)b * out + o];
            l->db[o] += s;
        }
    }
    if (!dx) return;
    // dx (B, in) = dy (B, out) W (out, in).
    const int bblocks = (B + DENSE_BATCH_BLOCK - 1) / DENSE_BATCH_BLOCK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < bblocks; blk++) {
        int b0 = blk * DENSE_BATCH_BLOCK, rows = BL_MIN(DENSE_BATCH_BLOCK, B - b0);
        sgemm(0, 0, rows, in, out, 1.0f, dy + (size_t)b0 * out, out, l->w, in, 0.0f, dx + (size_t)b0 * in, in);
    }
}

static void dense_describe(const Layer *l, char *buf, size_t n) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "dense %d", l->units);
}

const LayerOps dense_ops = {"dense", dense_parse, dense_plan, dense_init, dense_forward, dense_backward, dense_describe, 0};
