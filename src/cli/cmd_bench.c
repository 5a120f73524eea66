// cmd_bench.c: `backdoorlab bench`: the numbers behind "faster than PyTorch on a laptop CPU".
// Not a test: it prints figures (medians, the VM is shared) and asserts nothing about speed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "io/results.h"
#include "nn/model.h"
#include "tensor/kernel_bench.h"
#include "train/train.h"

static void cpu_model(char *out, size_t n) {
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = 0;
                snprintf(out, n, "%s", p);
            }
            break;
        }
    fclose(f);
}

// Multiply-adds x2 of one training step per image: forward, weight gradient, and input gradient (not for
// the first layer).
static double step_flops_per_image(const Model *m) {
    double f = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const Layer *l = &m->layers[i];
        double fwd = 0;
        if (l->nweight) fwd = 2.0 * (double)l->nweight * l->out.h * l->out.w;
        f += fwd * (i == 0 ? 2 : 3);
    }
    return f;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median img/s of the training step over `reps` timed runs of `steps` steps, on random data.
static double bench_step(const char *desc, int threads, int reps, int steps, double *gflops) {
    bl_set_threads(threads);
    Model m;
    if (model_build(&m, desc, (Shape){1, 28, 28}, 10, 64)) return 0;
    model_init_params(&m, 1);
    OptConfig c = {.kind = OPT_SGD, .lr = 0.01, .momentum = 0.9};
    Optimizer o;
    if (opt_init(&o, &c, m.nparams)) return 0;
    Rng r = rng_stream(1, "bench");
    uint8_t y[64];
    for (int i = 0; i < 64 * 784; i++) m.acts[0][i] = rng_uniform(&r);
    for (int b = 0; b < 64; b++) y[b] = (uint8_t)rng_below(&r, 10);
    for (int s = 0; s < 5; s++) train_step(&m, &o, y, 64, 0.001); // warm-up
    double t[32];
    for (int k = 0; k < reps; k++) {
        double t0 = bl_now();
        for (int s = 0; s < steps; s++) train_step(&m, &o, y, 64, 0.001);
        t[k] = (bl_now() - t0) / steps;
    }
    qsort(t, reps, sizeof t[0], cmp_double);
    double sec = t[reps / 2];
    *gflops = step_flops_per_image(&m) * 64 / sec * 1e-9;
    opt_free(&o);
    model_free(&m);
    return 64 / sec;
}

// Where the time goes: median forward and backward time of each layer, batch 64, at `threads` threads.
static void bench_layers(const char *desc, int threads) {
    bl_set_threads(threads);
    Model m;
    if (model_build(&m, desc, (Shape){1, 28, 28}, 10, 64)) return;
    model_init_params(&m, 1);
    Rng r = rng_stream(1, "bench");
    uint8_t y[64];
    for (int i = 0; i < 64 * 784; i++) m.acts[0][i] = rng_uniform(&r);
    for (int b = 0; b < 64; b++) y[b] = (uint8_t)rng_below(&r, 10);
    enum { REPS = 15, ITERS = 20 };
    double fwd[MODEL_MAX_LAYERS][REPS], bwd[MODEL_MAX_LAYERS][REPS];
    model_forward(&m, 64);
    model_loss(&m, y, 64);
    for (int k = 0; k < REPS; k++)
        for (int i = 0; i < m.nlayers; i++) {
            Layer *l = &m.layers[i];
            double t0 = bl_now();
            for (int it = 0; it < ITERS; it++) l->ops->forward(l, m.acts[i], m.acts[i + 1], 64);
            fwd[i][k] = (bl_now() - t0) / ITERS;
        }
    model_loss(&m, y, 64);
    for (int k = 0; k < REPS; k++)
        for (int i = m.nlayers - 1; i >= 0; i--) {
            Layer *l = &m.layers[i];
            double t0 = bl_now();
            for (int it = 0; it < ITERS; it++)
                l->ops->backward(l, m.acts[i], m.acts[i + 1], m.dacts[i + 1], i ? m.dacts[i] : NULL, 64);
            bwd[i][k] = (bl_now() - t0) / ITERS;
        }
    double total = 0, f[MODEL_MAX_LAYERS], b[MODEL_MAX_LAYERS];
    for (int i = 0; i < m.nlayers; i++) {
        qsort(fwd[i], REPS, sizeof(double), cmp_double);
        qsort(bwd[i], REPS, sizeof(double), cmp_double);
        f[i] = fwd[i][REPS / 2], b[i] = bwd[i][REPS / 2];
        total += f[i] + b[i];
    }
    printf("\nper-layer time, %s, batch 64, %d thread(s) (median us; update and loss not included)\n", desc, threads);
    printf("  %-3s %-22s %10s %10s %7s\n", "#", "layer", "forward", "backward", "share");
    for (int i = 0; i < m.nlayers; i++) {
        char name[64] = "";
        m.layers[i].ops->describe(&m.layers[i], name, sizeof name);
        printf("  %-3d %-22s %10.1f %10.1f %6.1f%%\n", i, name, 1e6 * f[i], 1e6 * b[i], 100 * (f[i] + b[i]) / total);
    }
    printf("  %-26s %10.1f us per batch of 64 (layers only)\n", "total", 1e6 * total);
    model_free(&m);
}

// One epoch of 60,000 random images through the real loop (shuffle, batch load, step).
static double bench_epoch(const char *desc, int threads) {
    bl_set_threads(threads);
    Dataset d = {0};
    if (ds_alloc(&d, 60000, 1, 28, 28, 10)) return 0;
    Rng r = rng_stream(1, "bench");
    for (size_t i = 0; i < (size_t)60000 * 784; i++) d.images[i] = (uint8_t)rng_below(&r, 256);
    for (int i = 0; i < 60000; i++) d.labels[i] = (uint8_t)rng_below(&r, 10);
    Model m;
    if (model_build(&m, desc, (Shape){1, 28, 28}, 10, 64)) return 0;
    model_init_params(&m, 1);
    TrainOptions o = {.epochs = 1, .batch = 64, .seed = 1, .opt = {.kind = OPT_SGD, .lr = 0.001, .momentum = 0.9}};
    double t0 = bl_now();
    Status st = train_model(&m, &d, &o);
    double sec = bl_now() - t0;
    model_free(&m);
    ds_free(&d);
    return st ? 0 : 60000 / sec;
}

int cmd_bench(int argc, char **argv) {
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab bench [--quick]\n\nPrints training-step throughput (batch 64, SGD momentum,"
                   " random data) of the reference-cnn and badnets-mnist presets at 1 and 2 threads, one-epoch\n"
                   "throughput, and GFLOP/s of every GEMM shape the CNN uses (each checked against a naive\n"
                   "reference first). Figures are medians; nothing is asserted.\n");
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else {
            fprintf(stderr, "backdoorlab bench: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    int maxt = bl_max_threads();
    printf("backdoorlab bench\ncpu: %s\ncompiler: %s\nflags: %s\nthreads available: %d\n\n", cpu, bl_compiler(),
           bl_cflags(), maxt);
    const char *presets[2] = {"reference-cnn", "badnets-mnist"};
    int reps = quick ? 3 : 9, steps = quick ? 10 : 40;
    printf("%-14s %8s %12s %10s %9s\n", "network", "threads", "step img/s", "GFLOP/s", "speed-up");
    for (int p = 0; p < 2; p++) {
        double base = 0;
        for (int t = 1; t <= (maxt >= 2 ? 2 : 1); t++) {
            double gf, ips = bench_step(presets[p], t, reps, steps, &gf);
            if (t == 1) base = ips;
            printf("%-14s %8d %12.0f %10.1f %8.2fx\n", presets[p], t, ips, gf, ips / base);
        }
    }
    if (!quick) {
        printf("\n%-14s %8s %12s\n", "network", "threads", "epoch img/s");
        for (int p = 0; p < 2; p++)
            printf("%-14s %8d %12.0f\n", presets[p], maxt, bench_epoch(presets[p], maxt));
    }
    for (int t = 1; t <= (maxt >= 2 ? 2 : 1); t++) bench_layers("reference-cnn", t);
    bl_set_threads(maxt);
    printf("\nGEMM kernels (single thread):\n");
    kernel_bench_report(stdout, quick ? 3 : 0);
    return 0;
}
