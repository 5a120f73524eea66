// cmd_bench.c: `backdoorlab bench`: the numbers behind "faster than PyTorch on a laptop CPU".
// Not a test: it prints figures (medians, the VM is shared) and asserts nothing about speed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "io/results.h"
#include "nn/model.h"
#include "tensor/kernel_bench.h"
#include "tensor/sgemm.h"
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

// Median img/s of forward passes only (inference: what defences spend most of their time on; STRIP screens each
// input under 100 overlays) at batch B, on random data.
static double bench_forward(const char *desc, int threads, int B, int reps) {
    bl_set_threads(threads);
    Model m;
    if (model_build(&m, desc, (Shape){1, 28, 28}, 10, B)) return 0;
    model_init_params(&m, 1);
    Rng r = rng_stream(1, "bench");
    for (int i = 0; i < B * 784; i++) m.acts[0][i] = rng_uniform(&r);
    for (int s = 0; s < 3; s++) model_forward(&m, B); // warm-up
    const int passes = B >= 256 ? 5 : 20;
    double t[32];
    for (int k = 0; k < reps; k++) {
        double t0 = bl_now();
        for (int s = 0; s < passes; s++) model_forward(&m, B);
        t[k] = (bl_now() - t0) / passes;
    }
    qsort(t, reps, sizeof t[0], cmp_double);
    model_free(&m);
    return B / t[reps / 2];
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

// ---- `bench --peer`: the figures scripts/bench-peer.sh sets beside PyTorch's (scripts/bench_peer.py) ----
// Only what the side-by-side table needs, quickly, at one thread count: the reference-cnn training step (batch
// 64, random data, bench_step as in the full bench) and, with --epochs E > 0, E real epochs of the training
// loop on Fashion-MNIST's 60,000 training images (loaded before the clock starts; shuffle, batch loading and
// the steps timed, as in `train`), SGD lr 0.01 momentum 0.9. Medians.

typedef struct {
    double t[64];
    int n;
} EpochClock;

static Status peer_epoch_hook(void *ctx, const EpochStats *st) {
    (void)st;
    EpochClock *c = ctx;
    if (c->n < 64) c->t[c->n++] = bl_now();
    return BL_OK;
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s >= 0x20) putchar(*s);
    }
    putchar('"');
}

static int bench_peer(int threads, int epochs, const char *dir, int json) {
    const char *desc = "reference-cnn";
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    const char *kernel = sgemm_kernel_name();
    DatasetPair pair = {0}; // loaded first, so a missing data set fails before minutes of timing
    if (epochs > 0 && dataset_load_dir(dir, 0, 1, &pair)) {
        fprintf(stderr, "backdoorlab bench --peer: %s\n", bl_errmsg());
        return BL_ERR_DATA;
    }
    double gf = 0, step = bench_step(desc, threads, 7, 20, &gf);
    double ep[64] = {0}, epoch = 0;
    int nep = 0;
    if (epochs > 0) {
        bl_set_threads(threads);
        Model m;
        if (model_build(&m, desc, (Shape){pair.train.c, pair.train.h, pair.train.w}, pair.train.num_classes, 64)) {
            ds_pair_free(&pair);
            fprintf(stderr, "backdoorlab bench --peer: %s\n", bl_errmsg());
            return BL_ERR_RUN;
        }
        model_init_params(&m, 1);
        EpochClock clk = {.n = 0};
        TrainOptions o = {.epochs = epochs, .batch = 64, .seed = 1, .on_epoch = peer_epoch_hook, .hook_ctx = &clk,
                          .opt = {.kind = OPT_SGD, .lr = 0.01, .momentum = 0.9}};
        double t0 = bl_now();
        Status st = train_model(&m, &pair.train, &o);
        for (int e = 0; e < clk.n; e++) ep[nep++] = pair.train.n / (clk.t[e] - (e ? clk.t[e - 1] : t0));
        model_free(&m);
        ds_pair_free(&pair);
        if (st) {
            fprintf(stderr, "backdoorlab bench --peer: %s\n", bl_errmsg());
            return st;
        }
        double sorted[64];
        memcpy(sorted, ep, sizeof sorted);
        qsort(sorted, nep, sizeof sorted[0], cmp_double);
        epoch = nep ? sorted[nep / 2] : 0;
    }
    if (json) {
        printf("{\"tool\": \"backdoorlab\", \"cpu\": ");
        json_str(cpu);
        printf(", \"kernel\": ");
        json_str(kernel);
        printf(", \"flags\": ");
        json_str(bl_cflags());
        printf(", \"threads\": %d, \"step_img_s\": %.1f, \"step_gflops\": %.2f, \"epoch_img_s\": %.1f, "
               "\"epochs_img_s\": [",
               threads, step, gf, epoch);
        for (int e = 0; e < nep; e++) printf("%s%.1f", e ? ", " : "", ep[e]);
        printf("]}\n");
    } else {
        printf("backdoorlab bench --peer: %s, kernel %s, %d thread(s)\n", cpu, kernel,
               threads);
        printf("%s training step, batch 64: %.0f img/s (%.1f GFLOP/s, median of 7 x 20 steps)\n", desc, step, gf);
        if (nep) {
            printf("real epoch on %s: %.0f img/s (median of %d epochs:", dir, epoch, nep);
            for (int e = 0; e < nep; e++) printf(" %.0f", ep[e]);
            printf(")\n");
        }
    }
    return 0;
}

int cmd_bench(int argc, char **argv) {
    int quick = 0, peer = 0, json = 0, threads = 0, epochs = 3, peer_opts = 0;
    const char *dir = dataset_default_dir("fashion-mnist");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: backdoorlab bench [--quick]\n"
                   "       backdoorlab bench --peer [--threads N] [--epochs E] [--data DIR] [--json]\n\n"
                   "Prints training-step throughput (batch 64, SGD momentum, random data) of the reference-cnn and\n"
                   "badnets-mnist presets at 1 and 2 threads, one-epoch throughput, and GFLOP/s of every GEMM shape\n"
                   "the CNN uses (each checked against a naive reference first). Figures are medians; nothing is\n"
                   "asserted.\n\n"
                   "--peer prints only what `make bench-peer` sets beside PyTorch: the reference-cnn step at N threads\n"
                   "(default: OMP_NUM_THREADS or all cores) and the median of E real epochs (default 3; 0 skips\n"
                   "them) on the IDX training set in DIR (default: Debian's Fashion-MNIST), as text or one JSON line.\n");
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--peer")) {
            peer = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1, peer_opts = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = atoi(argv[++i]), peer_opts = 1;
            if (threads < 1 || threads > 256) {
                fprintf(stderr, "backdoorlab bench: --threads wants 1..256\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) {
            epochs = atoi(argv[++i]), peer_opts = 1;
            if (epochs < 0 || epochs > 64) {
                fprintf(stderr, "backdoorlab bench: --epochs wants 0..64\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            dir = argv[++i], peer_opts = 1;
        } else {
            fprintf(stderr, "backdoorlab bench: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (peer) return bench_peer(threads ? threads : bl_max_threads(), epochs, dir, json);
    if (peer_opts)
        fprintf(stderr, "backdoorlab bench: --threads, --epochs, --data and --json go with --peer (ignored)\n");
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    int maxt = bl_max_threads();
    printf("backdoorlab bench\ncpu: %s\ncompiler: %s\nflags: %s\nGEMM kernel: %s (this CPU can run: %s)\n"
           "threads available: %d\n\n",
           cpu, bl_compiler(), bl_cflags(), sgemm_kernel_name(), sgemm_kernels_available(), maxt);
    const char *presets[2] = {"reference-cnn", "badnets-mnist"};
    int reps = quick ? 3 : 9, steps = quick ? 10 : 40;
    double step_ref[3] = {0}; // reference-cnn step img/s at 1 and 2 threads
    printf("%-14s %8s %12s %10s %9s\n", "network", "threads", "step img/s", "GFLOP/s", "speed-up");
    for (int p = 0; p < 2; p++) {
        double base = 0;
        for (int t = 1; t <= (maxt >= 2 ? 2 : 1); t++) {
            double gf, ips = bench_step(presets[p], t, reps, steps, &gf);
            if (t == 1) base = ips;
            if (p == 0) step_ref[t] = ips;
            printf("%-14s %8d %12.0f %10.1f %8.2fx\n", presets[p], t, ips, gf, ips / base);
        }
    }
    printf("\n%-14s %8s %8s %14s %16s\n", "forward only", "threads", "batch", "img/s", "x training step");
    for (int t = 1; t <= (maxt >= 2 ? 2 : 1); t++)
        for (int b = 64; b <= 256; b *= 4) {
            double ips = bench_forward("reference-cnn", t, b, reps);
            printf("%-14s %8d %8d %14.0f %15.2fx\n", "reference-cnn", t, b, ips, ips / (step_ref[t] + 1e-9));
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
