// test_nn.c: finite-difference gradient checks for every layer kind and the whole loss, the network
// description parser, optimizers against hand-computed steps, no allocation in a step, determinism across
// thread counts, and a tiny network that must learn a separable problem.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/core.h"
#include "core/rng.h"
#include "nn/loss.h"
#include "nn/model.h"
#include "nn/optim.h"
#include "train/train.h"

// ---- gradient checking ----------------------------------------------------------------------------------

// L = sum_i r_i * y_i accumulated in double: a random linear functional of the layer's output.
static double layer_objective(Layer *l, const float *x, float *y, const float *r, int B) {
    l->ops->forward(l, x, y, B);
    double s = 0.0;
    size_t n = (size_t)B * shape_size(l->out);
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

// Compare an analytic derivative with a central difference; count mismatches.
static int close_enough(double analytic, double numeric, double tol) {
    return fabs(analytic - numeric) <= tol * fmax(1.0, fmax(fabs(analytic), fabs(numeric)));
}

// Central differences over (up to `max_checks` entries of) buf, against the analytic gradient g.
static int fd_check(Layer *l, float *buf, const float *g, size_t n, const float *x, float *y, const float *r,
                    int B, const char *what, double eps, double tol) {
    int bad = 0;
    size_t stride = n > 300 ? n / 300 : 1; // check ~300 evenly spread entries of big tensors
    for (size_t i = 0; i < n; i += stride) {
        float orig = buf[i];
        buf[i] = orig + (float)eps;
        double lp = layer_objective(l, x, y, r, B);
        buf[i] = orig - (float)eps;
        double lm = layer_objective(l, x, y, r, B);
        buf[i] = orig;
        double num = (lp - lm) / (2.0 * eps);
        if (!close_enough(g[i], num, tol)) {
            if (bad < 5) print_message("%s[%zu]: analytic %.6g numeric %.6g\n", what, i, g[i], num);
            bad++;
        }
    }
    return bad;
}

// Build a one-layer model and check d/dx, d/dw, d/db of a random functional of its output.
// `spread` > 0 fills the input with distinct values spaced `spread` apart (no ties for max pooling) and
// keeps them away from 0 (no ReLU kinks).
static void check_layer(const char *desc, Shape in, int B, unsigned seed) {
    Model m;
    assert_int_equal(model_build(&m, desc, in, 0, B), BL_OK);
    Layer *l = &m.layers[0];
    model_init_params(&m, seed);
    size_t nin = (size_t)B * shape_size(in), nout = (size_t)B * shape_size(l->out);
    float *x = bl_alloc(nin * sizeof(float)), *dx = bl_alloc(nin * sizeof(float));
    float *r = bl_alloc(nout * sizeof(float)), *y = m.acts[1];
    Rng rng = rng_stream(seed, "test");
    // distinct values k*0.01 + 0.05 with random sign, in random order: no ties, no zeros
    int *perm = bl_alloc(nin * sizeof(int));
    for (size_t i = 0; i < nin; i++) perm[i] = (int)i;
    rng_shuffle_int(&rng, perm, (int)nin);
    for (size_t i = 0; i < nin; i++) {
        float v = 0.05f + 0.9f * (float)perm[i] / (float)nin;
        x[i] = (rng_uniform(&rng) < 0.5f ? -v : v);
    }
    for (size_t i = 0; i < nout; i++) r[i] = 2.0f * rng_uniform(&rng) - 1.0f;
    layer_objective(l, x, y, r, B);
    memset(m.grads, 0, m.nparams * sizeof(float));
    l->ops->backward(l, x, y, r, dx, B);
    // eps small relative to the 0.9/nin spacing of inputs, so max pooling never switches its winner
    double eps = fmin(1e-2, 0.2 * 0.9 / (double)nin);
    if (eps < 2e-4) eps = 2e-4;
    int bad = fd_check(l, x, dx, nin, x, y, r, B, "dx", eps, 2e-2);
    if (l->nweight) {
        // the analytic gradient buffer is overwritten by nothing during fd (only forward runs)
        bad += fd_check(l, l->w, l->dw, l->nweight, x, y, r, B, "dw", 1e-2, 2e-2);
        bad += fd_check(l, l->b, l->db, l->nbias, x, y, r, B, "db", 1e-2, 2e-2);
    }
    if (bad) print_error("%s: %d gradient mismatches\n", desc, bad);
    assert_int_equal(bad, 0);
    bl_free(perm);
    bl_free(x);
    bl_free(dx);
    bl_free(r);
    model_free(&m);
}

static void test_grad_conv(void **state) {
    (void)state;
    check_layer("conv 3 3", (Shape){2, 7, 6}, 2, 1);
    check_layer("conv 4 5", (Shape){1, 9, 9}, 3, 2);
    check_layer("conv 2 3 stride 2", (Shape){3, 9, 8}, 2, 3);
    check_layer("conv 5 3 stride 2 pad 1", (Shape){2, 7, 7}, 2, 4);
    check_layer("conv 3 4 stride 3 pad 2", (Shape){2, 10, 11}, 1, 5);
    check_layer("conv 9 1", (Shape){3, 5, 4}, 2, 6); // 1x1 kernel, 9 output channels (> one row block)
    check_layer("conv 11 2 pad 1", (Shape){1, 3, 5}, 3, 7);
}

static void test_grad_pool(void **state) {
    (void)state;
    check_layer("maxpool 2", (Shape){3, 6, 6}, 2, 11);
    check_layer("maxpool 3", (Shape){2, 7, 8}, 2, 12); // odd sizes: the overhanging row/column is dropped
    check_layer("maxpool 3 stride 2", (Shape){2, 7, 7}, 2, 13); // overlapping windows
    check_layer("avgpool 2", (Shape){3, 6, 6}, 2, 14);
    check_layer("avgpool 3 stride 2", (Shape){2, 9, 7}, 2, 15);
    check_layer("avgpool 2 stride 1", (Shape){1, 5, 5}, 3, 16);
}

static void test_grad_dense_relu_flatten(void **state) {
    (void)state;
    check_layer("dense 7", (Shape){3, 2, 2}, 5, 21);
    check_layer("dense 1", (Shape){13, 1, 1}, 9, 22);
    check_layer("dense 17", (Shape){5, 1, 1}, 11, 23); // 17 rows, 11 samples: partial row blocks
    check_layer("relu", (Shape){3, 4, 5}, 2, 24);
    check_layer("flatten", (Shape){3, 4, 5}, 2, 25);
}

// conv1d and maxtime on real-valued sequences; embed and meanpool need token ids: see test_grad_text_network.
static void test_grad_conv1d_maxtime(void **state) {
    (void)state;
    check_layer("conv1d 3 3", (Shape){2, 1, 7}, 2, 31);
    check_layer("conv1d 2 3 4 5", (Shape){3, 1, 9}, 3, 32); // three banks, even and odd widths
    check_layer("conv1d 9 1 2", (Shape){2, 1, 4}, 2, 33);   // width 1; more filters than a row block
    check_layer("conv1d 2 5", (Shape){1, 1, 3}, 2, 34);     // wider than the sequence: all padding edges
    check_layer("maxtime", (Shape){4, 1, 6}, 3, 35);
}

// Token ids for B messages of L positions: lengths vary (one message empty but for an out-of-vocabulary id,
// as batch_load gives), ids in [1, V), padding 0 after each message.
static void fill_tokens(float *x, int B, int L, int V, Rng *rng) {
    for (int b = 0; b < B; b++) {
        int len = b == 0 ? 1 : 1 + (int)rng_below(rng, (uint64_t)L);
        for (int t = 0; t < L; t++) x[(size_t)b * L + t] = t < len ? (float)(1 + rng_below(rng, V - 1)) : 0.0f;
    }
}

// embed + meanpool / conv1d + maxtime: per-parameter central differences of the whole loss, and the padding
// row of the embedding gets no gradient.
static void text_network_check(const char *desc, uint64_t seed) {
    Model m;
    const int B = 5, L = 9, V = 13;
    assert_int_equal(model_build(&m, desc, (Shape){L, 1, 1}, 3, B), BL_OK);
    model_init_params(&m, seed);
    Rng rng = rng_stream(seed, "test");
    fill_tokens(m.acts[0], B, L, V, &rng);
    uint8_t y[5] = {0, 2, 1, 1, 0};
    model_forward(&m, B);
    model_loss(&m, y, B);
    model_backward(&m, B);
    const int D = m.layers[0].k;
    for (int d = 0; d < D; d++) assert_true(m.layers[0].dw[d] == 0.0f && m.layers[0].w[d] == 0.0f);
    float *g = bl_alloc(m.nparams * sizeof(float));
    memcpy(g, m.grads, m.nparams * sizeof(float));
    int bad = 0, nonzero = 0;
    const double eps = 1e-3;
    for (size_t i = 0; i < m.nparams; i++) {
        float orig = m.params[i];
        m.params[i] = orig + (float)eps;
        model_forward(&m, B);
        double lp = model_loss(&m, y, B);
        m.params[i] = orig - (float)eps;
        model_forward(&m, B);
        double lm = model_loss(&m, y, B);
        m.params[i] = orig;
        double num = (lp - lm) / (2 * eps);
        nonzero += g[i] != 0.0f;
        if (fabs(num - g[i]) > 2e-3 + 2e-2 * fabs(num)) {
            if (bad < 5) print_message("%s param %zu: analytic %.6g numeric %.6g\n", desc, i, g[i], num);
            bad++;
        }
    }
    assert_true(nonzero > 20);
    assert_int_equal(bad, 0);
    bl_free(g);
    model_free(&m);
}

static void test_grad_text_network(void **state) {
    (void)state;
    text_network_check("embed 13 4, meanpool, dense 3", 41);
    text_network_check("embed 13 4, conv1d 3 2 3, relu, maxtime, dense 3", 42);
    text_network_check("embed 13 3, conv1d 2 3, maxtime, dense 5, relu, dense 3", 43);
}

// The text presets build on token input; meanpool refuses a model whose input is not token ids.
static void test_text_presets(void **state) {
    (void)state;
    Model m;
    assert_int_equal(model_build(&m, "fasttext", (Shape){400, 1, 1}, 2, 8), BL_OK);
    assert_string_equal(m.desc, "embed 20000 64, meanpool, dense 2");
    model_free(&m);
    assert_int_equal(model_build(&m, "textcnn", (Shape){400, 1, 1}, 2, 8), BL_OK);
    assert_string_equal(m.desc, "embed 20000 32, conv1d 32 3 4 5, relu, maxtime, dense 2");
    assert_int_equal(m.layers[1].out.c, 96);
    model_free(&m);
    assert_int_equal(model_build(&m, "meanpool, dense 2", (Shape){4, 1, 6}, 2, 8), BL_ERR_USAGE);
    assert_int_equal(model_build(&m, "embed 2 4, meanpool, dense 2", (Shape){5, 1, 1}, 2, 8), BL_ERR_USAGE);
    assert_int_equal(model_build(&m, "embed 10 4", (Shape){1, 28, 28}, 0, 8), BL_ERR_USAGE);
}

// textcnn training steps give the same bits at 1 and 2 threads (embedding rows shared by many positions).
static void text_steps(int threads, float *out, size_t *n) {
    bl_set_threads(threads);
    Model m;
    assert_int_equal(model_build(&m, "embed 50 8, conv1d 4 3 4 5, relu, maxtime, dense 2", (Shape){30, 1, 1}, 2, 16),
                     BL_OK);
    model_init_params(&m, 5);
    OptConfig c = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    Optimizer o;
    assert_int_equal(opt_init(&o, &c, m.nparams), BL_OK);
    Rng r = rng_stream(5, "test");
    uint8_t y[16];
    for (int s = 0; s < 10; s++) {
        fill_tokens(m.acts[0], 16, 30, 50, &r);
        for (int b = 0; b < 16; b++) y[b] = (uint8_t)rng_below(&r, 2);
        assert_true(isfinite(train_step(&m, &o, y, 16, c.lr)));
    }
    memcpy(out, m.params, m.nparams * sizeof(float));
    *n = m.nparams;
    opt_free(&o);
    model_free(&m);
}

static void test_text_deterministic_across_threads(void **state) {
    (void)state;
    static float a[4096], b[4096];
    size_t na, nb;
    text_steps(1, a, &na);
    text_steps(2, b, &nb);
    bl_set_threads(bl_max_threads());
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
}

// standardize: flags exactly 0/1 (so a finite difference never flips one), values random; d/dx checked by
// central differences, and its frozen statistics get no gradient.
static void test_grad_standardize(void **state) {
    (void)state;
    const int F = 5, B = 3;
    Model m;
    assert_int_equal(model_build(&m, "standardize", (Shape){2 * F, 1, 1}, 0, B), BL_OK);
    assert_int_equal(m.nfrozen, 2 * F);
    Layer *l = &m.layers[0];
    Rng rng = rng_stream(31, "test");
    for (int j = 0; j < F; j++) l->w[j] = rng_uniform(&rng) - 0.5f, l->b[j] = 0.5f + rng_uniform(&rng);
    float x[2 * 5 * 3], dx[2 * 5 * 3], r[2 * 5 * 3];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < F; j++) {
            x[b * 2 * F + j] = 2.0f * rng_uniform(&rng) - 1.0f;
            x[b * 2 * F + F + j] = (b + j) % 3 == 0 ? 1.0f : 0.0f; // some values missing
        }
    for (int i = 0; i < 2 * F * B; i++) r[i] = 2.0f * rng_uniform(&rng) - 1.0f;
    float *y = m.acts[1];
    layer_objective(l, x, y, r, B);
    // a missing value reads as the placeholder 0 in the file's units; its flag passes through
    assert_true(y[0 * 2 * F + 0] == (0.0f - l->w[0]) * l->b[0] && y[0 * 2 * F + F + 0] == 1.0f);
    assert_true(fabsf(y[1] - (x[1] - l->w[1]) * l->b[1]) < 1e-6f);
    memset(m.grads, 0, m.nparams * sizeof(float));
    l->ops->backward(l, x, y, r, dx, B);
    assert_int_equal(fd_check(l, x, dx, (size_t)2 * F * B, x, y, r, B, "dx", 1e-2, 1e-3), 0);
    for (size_t i = 0; i < m.nparams; i++) assert_true(m.grads[i] == 0.0f);
    model_free(&m);
}

// The mlp preset on records: `classes` becomes the class count, the statistics are fitted from the present values
// only, and training never moves them.
static void test_records_mlp(void **state) {
    (void)state;
    Dataset d;
    assert_int_equal(ds_alloc_records(&d, 200, 3, 2, NULL), BL_OK);
    Rng rng = rng_stream(7, "test");
    for (int i = 0; i < d.n; i++) {
        const int y = i % 2;
        d.labels[i] = (uint8_t)y;
        d.features[i * 3 + 0] = 100.0f + 10.0f * (y ? 1.0f : -1.0f) + 3.0f * rng_uniform(&rng); // separable
        d.features[i * 3 + 1] = 5.0f * rng_uniform(&rng);
        d.features[i * 3 + 2] = 7.0f;                          // constant
        if (i % 10 == 3) d.missing[i * 3 + 1] = 1, d.features[i * 3 + 1] = 0.0f;
    }
    Model m;
    assert_int_equal(model_build(&m, "mlp", train_input_shape(&d), 2, 32), BL_OK);
    assert_string_equal(m.desc, "standardize, dense 64, relu, dense 64, relu, dense 2");
    assert_int_equal(m.nfrozen, 6);
    model_init_params(&m, 1);
    assert_int_equal(train_fit_input(&m, &d), BL_OK);
    double s = 0;
    for (int i = 0; i < d.n; i++) s += d.features[i * 3 + 0];
    assert_true(fabs(m.layers[0].w[0] - s / d.n) < 1e-3);
    assert_true(m.layers[0].w[2] == 7.0f && m.layers[0].b[2] == 1.0f); // constant: centred, not scaled
    float stats[6];
    memcpy(stats, m.params, sizeof stats);
    TrainOptions o = {.epochs = 20, .batch = 32, .opt = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9,
                                                          .weight_decay = 1e-3}, .seed = 1};
    assert_int_equal(train_model(&m, &d, &o), BL_OK);
    assert_memory_equal(stats, m.params, sizeof stats); // weight decay included: frozen means frozen
    uint8_t pred[200];
    predict(&m, &d, pred, NULL);
    int correct = 0;
    for (int i = 0; i < d.n; i++) correct += pred[i] == d.labels[i];
    assert_true(correct >= 196);
    model_free(&m);
    ds_free(&d);
}

// The whole loss of a small network: per-parameter central differences of the batch-mean cross-entropy.
static void test_grad_whole_network(void **state) {
    (void)state;
    const char *desc = "conv 4 3 pad 1, relu, maxpool 2, conv 6 3 stride 2, relu, avgpool 1, flatten, dense 9, "
                       "relu, dense 5";
    Model m;
    const int B = 4;
    assert_int_equal(model_build(&m, desc, (Shape){2, 10, 9}, 5, B), BL_OK);
    model_init_params(&m, 77);
    Rng rng = rng_stream(77, "test");
    size_t nin = (size_t)B * shape_size(m.input);
    for (size_t i = 0; i < nin; i++) m.acts[0][i] = rng_uniform(&rng);
    uint8_t y[4] = {0, 3, 4, 1};
    model_forward(&m, B);
    model_loss(&m, y, B);
    model_backward(&m, B);
    float *g = bl_alloc(m.nparams * sizeof(float));
    memcpy(g, m.grads, m.nparams * sizeof(float));
    int bad = 0, checked = 0;
    const double eps = 1e-3;
    for (size_t i = 0; i < m.nparams; i += 3) {
        float orig = m.params[i];
        m.params[i] = orig + (float)eps;
        model_forward(&m, B);
        double lp = model_loss(&m, y, B);
        m.params[i] = orig - (float)eps;
        model_forward(&m, B);
        double lm = model_loss(&m, y, B);
        m.params[i] = orig;
        double num = (lp - lm) / (2 * eps);
        checked++;
        if (fabs(num - g[i]) > 2e-3 + 2e-2 * fabs(num)) {
            if (bad < 5) print_message("param %zu: analytic %.6g numeric %.6g\n", i, g[i], num);
            bad++;
        }
    }
    assert_true(checked > 100);
    assert_int_equal(bad, 0);
    bl_free(g);
    model_free(&m);
}

// The loss gradient with respect to the input (used by PGD and trigger reverse-engineering).
static void test_grad_input(void **state) {
    (void)state;
    Model m;
    const int B = 3;
    assert_int_equal(model_build(&m, "conv 3 3 pad 1, relu, avgpool 2, flatten, dense 4", (Shape){1, 6, 6}, 4, B),
                     BL_OK);
    model_init_params(&m, 31);
    Rng rng = rng_stream(31, "test");
    const size_t nin = (size_t)B * 36;
    for (size_t i = 0; i < nin; i++) m.acts[0][i] = rng_uniform(&rng);
    uint8_t y[3] = {0, 2, 3};
    float dx[3 * 36];
    model_forward(&m, B);
    model_loss(&m, y, B);
    model_backward_input(&m, B, dx);
    int bad = 0;
    for (size_t i = 0; i < nin; i++) {
        const double eps = 1e-3;
        float orig = m.acts[0][i];
        m.acts[0][i] = orig + (float)eps;
        model_forward(&m, B);
        double lp = model_loss(&m, y, B);
        m.acts[0][i] = orig - (float)eps;
        model_forward(&m, B);
        double lm = model_loss(&m, y, B);
        m.acts[0][i] = orig;
        double num = (lp - lm) / (2 * eps);
        if (fabs(num - dx[i]) > 1e-3 + 2e-2 * fabs(num)) bad++;
    }
    assert_int_equal(bad, 0);
    model_free(&m);
}

// Softmax cross-entropy: known value, gradient sums to zero per row, stable for huge logits.
static void test_softmax_xent(void **state) {
    (void)state;
    float z[6] = {1, 2, 3, 1000, 1000, -1000}, p[6], dz[6];
    uint8_t y[2] = {2, 0};
    double loss = softmax_xent(z, y, 2, 3, p, dz);
    double l0 = -log(exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)));
    assert_true(fabs(loss - (l0 + log(2.0)) / 2) < 1e-6);
    assert_true(isfinite(loss));
    for (int b = 0; b < 2; b++) assert_true(fabs(dz[b * 3] + dz[b * 3 + 1] + dz[b * 3 + 2]) < 1e-6);
    assert_true(fabs(dz[3] - (0.5f - 1.0f) / 2) < 1e-6);
}

// ---- network descriptions ---------------------------------------------------------------------------------

static void expect_desc_error(const char *desc, const char *needle) {
    Model m;
    Status st = model_build(&m, desc, (Shape){1, 28, 28}, 10, 4);
    if (st == BL_OK) model_free(&m);
    assert_int_equal(st, BL_ERR_USAGE);
    if (!strstr(bl_errmsg(), needle)) print_error("message '%s' lacks '%s'\n", bl_errmsg(), needle);
    assert_non_null(strstr(bl_errmsg(), needle));
}

static void test_desc_presets(void **state) {
    (void)state;
    Model m;
    assert_int_equal(model_build(&m, "reference-cnn", (Shape){1, 28, 28}, 10, 64), BL_OK);
    assert_int_equal(m.nparams, 80202);
    assert_string_equal(m.desc, "conv 16 5, relu, maxpool 2, conv 32 5, relu, maxpool 2, flatten, dense 128, relu, "
                                "dense 10");
    model_free(&m);
    assert_int_equal(model_build(&m, "  badnets-mnist ", (Shape){1, 28, 28}, 10, 8), BL_OK);
    assert_int_equal(m.nlayers, 10);
    assert_int_equal(m.layers[9].units, 10);
    model_free(&m);
    // options and whitespace / newlines are canonicalised
    assert_int_equal(model_build(&m, "conv 8 3 stride 1 pad 1,\n  relu,maxpool 2 stride 2, flatten,dense 10",
                                 (Shape){1, 28, 28}, 10, 2),
                     BL_OK);
    assert_string_equal(m.desc, "conv 8 3 pad 1, relu, maxpool 2, flatten, dense 10");
    model_free(&m);
}

static void test_desc_errors(void **state) {
    (void)state;
    expect_desc_error("conv 16", "item 1 'conv 16'");
    expect_desc_error("conv 16 5, relu, maxpol 2, flatten, dense 10", "unknown layer kind 'maxpol'");
    expect_desc_error("conv 16 5 stride", "'stride' needs a value");
    expect_desc_error("conv 16 5 strid 2", "unknown conv option 'strid'");
    expect_desc_error("conv x 5", "output channels 'x' is not an integer");
    expect_desc_error("dense -1", "out of range");
    expect_desc_error("conv 16 5, , relu", "item 2 is empty");
    expect_desc_error("conv 16 50", "does not fit");
    expect_desc_error("relu 3", "relu takes no arguments");
    expect_desc_error("maxpool 64", "larger than the input");
    expect_desc_error("flatten, dense 7", "dataset has 10 classes");
    expect_desc_error("", "empty");
}

// ---- optimizers -----------------------------------------------------------------------------------------

static void test_sgd_momentum(void **state) {
    (void)state;
    OptConfig c = {.kind = OPT_SGD, .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01};
    Optimizer o;
    assert_int_equal(opt_init(&o, &c, 2), BL_OK);
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, 0.25f};
    // step 1: d = g + wd*w = (0.51, 0.23); buf = d; w -= 0.1*buf
    opt_step(&o, w, g, c.lr);
    assert_true(fabsf(w[0] - (1.0f - 0.051f)) < 1e-6f && fabsf(w[1] - (-2.0f - 0.023f)) < 1e-6f);
    // step 2: d = g + wd*w; buf = 0.9*buf + d
    double w0 = 0.949, d0 = 0.5 + 0.01 * w0, buf0 = 0.9 * 0.51 + d0;
    opt_step(&o, w, g, c.lr);
    assert_true(fabs(w[0] - (w0 - 0.1 * buf0)) < 1e-6);
    opt_free(&o);
    // Nesterov: step uses d + mu*buf
    c.nesterov = 1;
    c.weight_decay = 0;
    assert_int_equal(opt_init(&o, &c, 1), BL_OK);
    float v[1] = {0.0f}, h[1] = {1.0f};
    opt_step(&o, v, h, 0.1);  // buf = 1; step = 1 + 0.9 = 1.9
    assert_true(fabsf(v[0] + 0.19f) < 1e-6f);
    opt_step(&o, v, h, 0.1);  // buf = 1.9; step = 1 + 0.9*1.9 = 2.71
    assert_true(fabsf(v[0] + 0.19f + 0.271f) < 1e-6f);
    opt_free(&o);
}

static void test_adam(void **state) {
    (void)state;
    OptConfig c = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    Optimizer o;
    assert_int_equal(opt_init(&o, &c, 1), BL_OK);
    float w[1] = {1.0f}, g1[1] = {0.2f}, g2[1] = {-0.4f};
    opt_step(&o, w, g1, c.lr); // first step moves by lr * g/|g| = 0.01
    assert_true(fabsf(w[0] - 0.99f) < 1e-6f);
    opt_step(&o, w, g2, c.lr);
    double m = 0.9 * 0.1 * 0.2 + 0.1 * -0.4, v = 0.999 * 0.001 * 0.04 + 0.001 * 0.16;
    double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
    double expect = 0.99 - 0.01 * mh / (sqrt(vh) + 1e-8);
    assert_true(fabs(w[0] - expect) < 1e-6);
    opt_free(&o);
}

static void test_schedules(void **state) {
    (void)state;
    OptConfig c = {.lr = 0.1, .schedule = SCHED_STEP, .step_size = 2, .gamma = 0.5, .epochs = 4};
    assert_true(fabs(opt_lr_at(&c, 1) - 0.1) < 1e-12 && fabs(opt_lr_at(&c, 2) - 0.05) < 1e-12);
    assert_true(fabs(opt_lr_at(&c, 5) - 0.025) < 1e-12);
    c.schedule = SCHED_COSINE;
    assert_true(fabs(opt_lr_at(&c, 0) - 0.1) < 1e-12 && fabs(opt_lr_at(&c, 2) - 0.05) < 1e-12);
    c.schedule = SCHED_CONSTANT;
    assert_true(opt_lr_at(&c, 3) == 0.1);
}

// ---- training ---------------------------------------------------------------------------------------------

// Two classes on 1x6x6 images: a bright bar in the left half or in the right half, plus noise.
static void make_bars(Dataset *d, int n, uint64_t seed) {
    memset(d, 0, sizeof *d);
    d->n = n, d->c = 1, d->h = 6, d->w = 6, d->num_classes = 2;
    d->images = bl_alloc((size_t)n * 36);
    d->labels = bl_alloc((size_t)n);
    Rng r = rng_stream(seed, "test");
    for (int i = 0; i < n; i++) {
        int y = (int)rng_below(&r, 2), col = y ? 3 + (int)rng_below(&r, 3) : (int)rng_below(&r, 3);
        for (int p = 0; p < 36; p++) d->images[i * 36 + p] = (uint8_t)rng_below(&r, 60);
        for (int row = 0; row < 6; row++) d->images[i * 36 + row * 6 + col] = 200;
        d->labels[i] = (uint8_t)y;
    }
}

static void test_learns_separable(void **state) {
    (void)state;
    Dataset d;
    make_bars(&d, 200, 5);
    Model m;
    assert_int_equal(model_build(&m, "conv 4 3, relu, maxpool 2, flatten, dense 2", (Shape){1, 6, 6}, 2, 16), BL_OK);
    model_init_params(&m, 5);
    TrainOptions o = {.epochs = 30, .batch = 16, .seed = 5,
                      .opt = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9}};
    assert_int_equal(train_model(&m, &d, &o), BL_OK);
    uint8_t *pred = bl_alloc(200);
    predict(&m, &d, pred, NULL);
    int correct = 0;
    for (int i = 0; i < 200; i++) correct += pred[i] == d.labels[i];
    assert_int_equal(correct, 200);
    bl_free(pred);
    bl_free(d.images);
    bl_free(d.labels);
    model_free(&m);
}

static void test_divergence_guard(void **state) {
    (void)state;
    Dataset d;
    make_bars(&d, 64, 6);
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 2", (Shape){1, 6, 6}, 2, 16), BL_OK);
    model_init_params(&m, 6);
    m.params[3] = NAN; // a poisoned weight: the first loss is NaN
    TrainOptions o = {.epochs = 5, .batch = 16, .seed = 6, .opt = {.kind = OPT_SGD, .lr = 0.1}};
    assert_int_equal(train_model(&m, &d, &o), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "diverged"));
    bl_free(d.images);
    bl_free(d.labels);
    model_free(&m);
}

// Train the reference CNN on random 28x28 data for `steps` steps; write the final params into out.
static void train_steps(int threads, int steps, float *out, size_t *nparams, uint64_t *allocs_in_steps) {
    bl_set_threads(threads);
    Model m;
    assert_int_equal(model_build(&m, "reference-cnn", (Shape){1, 28, 28}, 10, 16), BL_OK);
    model_init_params(&m, 9);
    OptConfig c = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9, .nesterov = 1, .weight_decay = 1e-4};
    Optimizer o;
    assert_int_equal(opt_init(&o, &c, m.nparams), BL_OK);
    Rng r = rng_stream(9, "test");
    uint8_t y[16];
    uint64_t before = bl_alloc_count();
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < 16 * 784; i++) m.acts[0][i] = rng_uniform(&r);
        for (int b = 0; b < 16; b++) y[b] = (uint8_t)rng_below(&r, 10);
        double loss = train_step(&m, &o, y, s == steps - 1 ? 11 : 16, c.lr); // odd last batch
        assert_true(isfinite(loss));
    }
    if (allocs_in_steps) *allocs_in_steps = bl_alloc_count() - before;
    memcpy(out, m.params, m.nparams * sizeof(float));
    *nparams = m.nparams;
    opt_free(&o);
    model_free(&m);
}

static void test_deterministic_across_threads(void **state) {
    (void)state;
    static float a[80202], b[80202];
    size_t na, nb;
    train_steps(1, 20, a, &na, NULL);
    train_steps(2, 20, b, &nb, NULL);
    bl_set_threads(bl_max_threads());
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
}

static void test_no_allocation_in_step(void **state) {
    (void)state;
    static float a[80202];
    size_t n;
    uint64_t allocs = 99;
    train_steps(2, 5, a, &n, &allocs);
    assert_int_equal(allocs, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_conv),
        cmocka_unit_test(test_grad_pool),
        cmocka_unit_test(test_grad_dense_relu_flatten),
        cmocka_unit_test(test_grad_standardize),
        cmocka_unit_test(test_grad_conv1d_maxtime),
        cmocka_unit_test(test_grad_text_network),
        cmocka_unit_test(test_text_presets),
        cmocka_unit_test(test_text_deterministic_across_threads),
        cmocka_unit_test(test_records_mlp),
        cmocka_unit_test(test_grad_whole_network),
        cmocka_unit_test(test_grad_input),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_desc_presets),
        cmocka_unit_test(test_desc_errors),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_learns_separable),
        cmocka_unit_test(test_divergence_guard),
        cmocka_unit_test(test_deterministic_across_threads),
        cmocka_unit_test(test_no_allocation_in_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
