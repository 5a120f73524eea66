// test_defense.c: detectors, the evaluator and the defence interface, on small synthetic data (a few seconds).
//
// A model "flatten, dense K" has the input itself as its penultimate representation, so a dataset of
// (1,1,D) "images" lets a test choose exactly the features AC and spectral see.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "defense/features.h"
#include "io/results.h"

#include "example_defense.c" // the README's worked example

// ---------------------------------------------------------------------------------------------------------
// helpers

static uint8_t clamp_px(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v)); }

// n samples of shape (1,1,D), labels given by label_of(i); pixel = 100 + 15 N(0,1) (+ shift on dims 0..3 for
// samples with poison[i]).
static void gauss_set(Dataset *d, int n, int D, int K, const int *labels, const uint8_t *poison, double shift,
                      uint64_t seed) {
    assert_int_equal(ds_alloc(d, n, 1, 1, D, K), BL_OK);
    Rng r = rng_stream(seed, "test-gauss");
    for (int i = 0; i < n; i++) {
        d->labels[i] = (uint8_t)labels[i];
        for (int j = 0; j < D; j++)
            d->images[(size_t)i * D + j] = clamp_px(100 + 15 * rng_normal(&r) + (poison && poison[i] && j < 4 ? shift : 0));
    }
}

static void build_model(Model *m, const char *desc, Shape in, int K) {
    assert_int_equal(model_build(m, desc, in, K, 64), BL_OK);
    model_init_params(m, 7);
}

static DefenseResult run_defense(const char *name, const char *const *settings, Model *m, const Dataset *train,
                                 const Dataset *clean, const Dataset *inputs, Status want) {
    const DefenseOps *ops = defense_find(name);
    assert_non_null(ops);
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, settings, &p), BL_OK);
    DefenseContext ctx = {.model = m, .train = train, .clean = clean, .inputs = inputs, .model_desc = m->desc,
                          .seed = 3, .params = &p, .out_dir = "/tmp"};
    DefenseResult r;
    memset(&r, 0, sizeof r);
    Status st = ops->run(&ctx, &r);
    if (st != want) fprintf(stderr, "defence %s: status %d (%s)\n", name, st, bl_errmsg());
    assert_int_equal(st, want);
    return r;
}

// 2 labels: label 0 = 450 clean + 50 shifted ("poisoned"), label 1 = 500 clean (when poisoned = 1).
static void two_class_set(Dataset *d, uint8_t *truth, int poisoned) {
    int labels[1000];
    for (int i = 0; i < 1000; i++) {
        labels[i] = i < 500 ? 0 : 1;
        truth[i] = poisoned && i < 500 && i % 10 == 3;
    }
    gauss_set(d, 1000, 16, 2, labels, truth, 80, 11);
}

// ---------------------------------------------------------------------------------------------------------
// registry and parameters

static void test_registry(void **state) {
    (void)state;
    assert_null(defense_find("no-such-defence"));
    assert_null(defense_find(NULL));
    const char *names[] = {"ac", "spectral", "strip", "confidence", "loss-isolation"};
    for (size_t i = 0; i < BL_ARRAY_LEN(names); i++) {
        const DefenseOps *d = defense_find(names[i]);
        assert_non_null(d);
        assert_string_equal(d->name, names[i]);
        assert_non_null(strstr(defense_known_names(), names[i]));
    }
    for (int i = 0; i < defense_count(); i++) { // every table is consistent: defaults in range, names unique
        const DefenseOps *d = defense_at(i);
        assert_non_null(d->run);
        assert_true(d->nparams >= 0 && d->nparams <= DEFENSE_MAX_PARAMS);
        for (int k = 0; k < d->nparams; k++) {
            assert_true(d->params[k].def >= d->params[k].min && d->params[k].def <= d->params[k].max);
            for (int j = 0; j < k; j++) assert_string_not_equal(d->params[j].key, d->params[k].key);
        }
        for (int j = 0; j < i; j++) assert_string_not_equal(defense_at(j)->name, d->name);
    }
    assert_null(defense_at(defense_count()));
}

static void test_params(void **state) {
    (void)state;
    const DefenseOps *ops = defense_find("spectral");
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, NULL, &p), BL_OK);
    assert_true(defense_param(ops, &p, "eps") == 0.1);
    const char *ok[] = {"eps=0.05", "uncentred = 1", NULL};
    assert_int_equal(defense_params_resolve(ops, ok, &p), BL_OK);
    assert_true(defense_param(ops, &p, "eps") == 0.05);
    assert_true(defense_param(ops, &p, "uncentred") == 1);
    assert_true(isnan(defense_param(ops, &p, "not-a-key")));
    const char *unknown[] = {"epsilon=0.1", NULL};
    assert_int_equal(defense_params_resolve(ops, unknown, &p), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "unknown parameter 'epsilon'"));
    assert_non_null(strstr(bl_errmsg(), "eps")); // lists the known keys
    const char *range[] = {"eps=0.9", NULL};
    assert_int_equal(defense_params_resolve(ops, range, &p), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "out of range"));
    const char *nan_[] = {"eps=nan", NULL}, *junk[] = {"eps=0.1x", NULL}, *empty[] = {"eps=", NULL};
    const char *nokv[] = {"eps", NULL}, *nokey[] = {"=3", NULL};
    assert_int_equal(defense_params_resolve(ops, nan_, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(ops, junk, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(ops, empty, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(ops, nokv, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(ops, nokey, &p), BL_ERR_USAGE);
    char buf[2048];
    defense_params_describe(ops, buf, sizeof buf);
    assert_non_null(strstr(buf, "uncentred"));
}

// Integer parameters (DEF_INT: counts, switches) refuse fractions instead of truncating them; real ones still
// take them. Driven by the spec tables, so a new defence's parameters are covered without touching this test.
static void test_integer_params(void **state) {
    (void)state;
    const DefenseOps *nc = defense_find("neural-cleanse");
    DefenseParams p;
    const char *frac[] = {"steps=2.5", NULL};
    assert_int_equal(defense_params_resolve(nc, frac, &p), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "steps"));
    assert_non_null(strstr(bl_errmsg(), "expected an integer"));
    const char *whole[] = {"steps=3.0", "batch=1e1", "threshold=2.5", "lr=0.05", NULL};
    assert_int_equal(defense_params_resolve(nc, whole, &p), BL_OK);
    assert_true(defense_param(nc, &p, "steps") == 3);
    assert_true(defense_param(nc, &p, "batch") == 10);
    assert_true(defense_param(nc, &p, "threshold") == 2.5); // a real parameter with whole-number bounds
    // parameters the defences read with an (int) cast must be declared DEF_INT (spot checks, one per defence)
    struct {
        const char *defense, *setting, *key;
    } refused[] = {{"strip", "n=10.5", "n"},
                   {"ac", "dims=2.2", "dims"},
                   {"spectral", "uncentred=0.5", "uncentred"},
                   {"fine-prune", "epochs=1.5", "epochs"},
                   {"nc-unlearn", "when_none=0.3", "when_none"},
                   {"loss-isolation", "checks=2.01", "checks"},
                   {"confidence", "calib=100.5", "calib"},
                   {"filter-retrain", "detector=1.5", "detector"},
                   {"fine-tune", "epochs=2.5", "epochs"}};
    for (size_t i = 0; i < BL_ARRAY_LEN(refused); i++) {
        const char *set[] = {refused[i].setting, NULL};
        assert_int_equal(defense_params_resolve(defense_find(refused[i].defense), set, &p), BL_ERR_USAGE);
        assert_non_null(strstr(bl_errmsg(), refused[i].key));
        assert_non_null(strstr(bl_errmsg(), "expected an integer"));
    }
    // every registered parameter, by its declared type
    int nint = 0, nreal = 0;
    for (int d = 0; d < defense_count(); d++) {
        const DefenseOps *ops = defense_at(d);
        for (int i = 0; i < ops->nparams; i++) {
            const DefenseParamSpec *s = &ops->params[i];
            char kv[96];
            const char *set[] = {kv, NULL};
            assert_true(s->type == DEF_INT || s->type == DEF_REAL || s->type == DEF_TEXT);
            if (s->type == DEF_TEXT) { // a string: taken as given (an external defence's command), empty refused
                snprintf(kv, sizeof kv, "%s=python3 /x/y.py --n 2.5", s->key);
                assert_int_equal(defense_params_resolve(ops, set, &p), BL_OK);
                assert_string_equal(defense_param_text(ops, &p, s->key), "python3 /x/y.py --n 2.5");
                snprintf(kv, sizeof kv, "%s=", s->key);
                assert_int_equal(defense_params_resolve(ops, set, &p), BL_ERR_USAGE);
                continue;
            }
            // the default is accepted when given back explicitly
            snprintf(kv, sizeof kv, "%s=%.17g", s->key, s->def);
            assert_int_equal(defense_params_resolve(ops, set, &p), BL_OK);
            if (s->type == DEF_INT) {
                nint++;
                assert_true(s->def == floor(s->def) && s->min == floor(s->min) && s->max == floor(s->max));
                // whole numbers at both ends of the range are accepted, in any spelling strtod reads
                snprintf(kv, sizeof kv, "%s=%.1f", s->key, s->min);
                assert_int_equal(defense_params_resolve(ops, set, &p), BL_OK);
                assert_true(p.value[i] == s->min);
                snprintf(kv, sizeof kv, "%s=%.17e", s->key, s->max);
                assert_int_equal(defense_params_resolve(ops, set, &p), BL_OK);
                assert_true(p.value[i] == s->max);
                // a fraction inside the range is refused, naming the key
                if (s->max > s->min) {
                    snprintf(kv, sizeof kv, "%s=%.17g", s->key, s->min + 0.5);
                    assert_int_equal(defense_params_resolve(ops, set, &p), BL_ERR_USAGE);
                    assert_non_null(strstr(bl_errmsg(), s->key));
                    assert_non_null(strstr(bl_errmsg(), "expected an integer"));
                }
            } else {
                nreal++;
                // a fraction inside the range is taken as given
                double v = s->min + 0.37 * (s->max - s->min);
                if (v == floor(v)) continue;
                snprintf(kv, sizeof kv, "%s=%.17g", s->key, v);
                assert_int_equal(defense_params_resolve(ops, set, &p), BL_OK);
                assert_true(p.value[i] == v);
            }
        }
    }
    assert_true(nint > 0 && nreal > 0);
    // a key means the same thing wherever it appears (nc-unlearn reuses neural-cleanse's; epochs, calib, ...),
    // so it has the same type in every defence
    for (int d = 0; d < defense_count(); d++)
        for (int e = 0; e < d; e++)
            for (int i = 0; i < defense_at(d)->nparams; i++)
                for (int j = 0; j < defense_at(e)->nparams; j++) {
                    const DefenseParamSpec *a = &defense_at(d)->params[i], *b = &defense_at(e)->params[j];
                    if (!strcmp(a->key, b->key)) assert_int_equal(a->type, b->type);
                }
    // --help marks them
    char buf[4096];
    defense_params_describe(nc, buf, sizeof buf);
    const char *steps = strstr(buf, "  steps "), *lr = strstr(buf, "  lr ");
    assert_non_null(steps);
    assert_non_null(lr);
    const char *steps_int = strstr(steps, "(integer)");
    assert_true(steps_int && steps_int < strchr(steps, '\n'));
    const char *lr_int = strstr(lr, "(integer)");
    assert_true(!lr_int || lr_int > strchr(lr, '\n'));
}

// ---------------------------------------------------------------------------------------------------------
// evaluator metrics

static void test_auroc(void **state) {
    (void)state;
    // positives 1 and 2, negatives 1 and 0: pairs (1,1) = 1/2, (1,0), (2,1), (2,0) = 1 -> 3.5 / 4
    float s[] = {1, 1, 0, 2};
    uint8_t y[] = {1, 0, 0, 1};
    assert_true(fabs(eval_auroc(s, y, 4) - 0.875) < 1e-12);
    float perfect[] = {0.1f, 0.2f, 0.9f, 0.8f};
    uint8_t yp[] = {0, 0, 1, 1};
    assert_true(eval_auroc(perfect, yp, 4) == 1.0);
    float allsame[] = {5, 5, 5, 5};
    assert_true(eval_auroc(allsame, yp, 4) == 0.5);
    uint8_t none[] = {0, 0, 0, 0};
    assert_true(isnan(eval_auroc(perfect, none, 4))); // undefined without positives
    float withnan[] = {NAN, 0.2f, 0.9f, 0.8f};       // NaN ranks lowest
    assert_true(eval_auroc(withnan, yp, 4) == 1.0);
    uint8_t ynan[] = {1, 0, 0, 0};
    assert_true(eval_auroc(withnan, ynan, 4) == 0.0);
}

static void test_detection_and_der(void **state) {
    (void)state;
    uint8_t flag[] = {1, 1, 1, 0, 0, 0, 0, 1};
    uint8_t truth[] = {1, 1, 0, 1, 0, 0, 0, 0};
    DetectionCounts c = eval_detection(flag, truth, 8);
    assert_int_equal(c.tp, 2);
    assert_int_equal(c.fp, 2);
    assert_int_equal(c.fn, 1);
    assert_int_equal(c.tn, 3);
    assert_true(fabs(c.tpr - 2.0 / 3) < 1e-12);
    assert_true(fabs(c.fpr - 2.0 / 5) < 1e-12);
    assert_true(fabs(c.precision - 0.5) < 1e-12);
    assert_true(fabs(c.f1 - 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3)) < 1e-12);
    assert_true(c.tpr_lo < c.tpr && c.tpr < c.tpr_hi);
    uint8_t zero[8] = {0};
    c = eval_detection(zero, zero, 8); // nothing flagged, nothing poisoned: rates 0, no division by zero
    assert_true(c.tn == 8 && c.precision == 0 && c.f1 == 0);
    // DER = [max(0, dASR) - max(0, dCA) + 1] / 2
    assert_true(fabs(eval_der(0.90, 0.88, 1.0, 0.1) - (0.9 - 0.02 + 1) / 2) < 1e-12);
    assert_true(fabs(eval_der(0.90, 0.95, 0.5, 0.6) - 0.5) < 1e-12); // gains on CA and ASR rises count 0
    assert_true(fabs(eval_der(0.9, 0.9, 1.0, 0.0) - 1.0) < 1e-12);
}

static void test_linear_algebra(void **state) {
    (void)state;
    double a[9] = {4, 1, 0, 1, 3, 0, 0, 0, 1}, w[3], v[9];
    assert_int_equal(feat_sym_eig(a, 3, w, v), BL_OK);
    double l1 = (7 + sqrt(5)) / 2, l2 = (7 - sqrt(5)) / 2;
    assert_true(fabs(w[0] - l1) < 1e-10 && fabs(w[1] - l2) < 1e-10 && fabs(w[2] - 1) < 1e-10);
    // the first row of v is the eigenvector of l1: (4 - l1) x + y = 0
    assert_true(fabs((4 - l1) * v[0] + v[1]) < 1e-9 && fabs(v[2]) < 1e-12);
    assert_true(fabs(feat_normal_quantile(0.975) - 1.959963985) < 1e-8);
    assert_true(fabs(feat_normal_quantile(0.01) + 2.326347874) < 1e-8);
    assert_true(fabs(feat_normal_quantile(0.5)) < 1e-12);
    float sc[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_true(feat_upper_threshold(sc, 10, 0.1) == 9);  // one of ten above
    assert_true(feat_upper_threshold(sc, 10, 0.0) == 10); // none above
    assert_true(feat_upper_threshold(sc, 10, 0.05) == 10);
    // k-means on two well separated blobs
    float pts[40];
    Rng r = rng_stream(1, "test");
    for (int i = 0; i < 20; i++) pts[2 * i] = (float)(i < 12 ? rng_normal(&r) : 10 + rng_normal(&r)), pts[2 * i + 1] = 0;
    int asg[20];
    assert_true(feat_kmeans(pts, 20, 2, 2, 5, 100, &r, asg, NULL) >= 0);
    for (int i = 1; i < 20; i++) assert_int_equal(asg[i] == asg[0], i < 12);
    assert_true(feat_silhouette(pts, 20, 2, asg, 2) > 0.8);
}

// ---------------------------------------------------------------------------------------------------------
// sample-level detectors

static void test_spectral(void **state) {
    (void)state;
    Dataset d;
    uint8_t truth[1000];
    Model m;
    two_class_set(&d, truth, 1);
    build_model(&m, "flatten, dense 2", (Shape){1, 1, 16}, 2);
    DefenseResult r = run_defense("spectral", NULL, &m, &d, NULL, NULL, BL_OK);
    DetectionCounts c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 50);             // every shifted sample is in its label's top 1.5 * 0.1 * 500 = 75
    assert_int_equal(c.tp + c.fp, 75 + 75); // the rule removes the top 75 of each label
    assert_true(eval_auroc(r.sample_score, truth, d.n) > 0.99);
    defense_result_free(&r);
    // the uncentred variant (official code) still ranks the subpopulation first within its label
    const char *unc[] = {"uncentred=1", NULL};
    r = run_defense("spectral", unc, &m, &d, NULL, NULL, BL_OK);
    assert_true(eval_auroc(r.sample_score, truth, 500) > 0.9);
    defense_result_free(&r);
    ds_free(&d);
    // clean case: a defender expecting no poison (eps = 0) flags nothing; and with the default the scores of a
    // clean label carry no structure (AUROC against an arbitrary 10% subset stays near 1/2)
    two_class_set(&d, truth, 0);
    const char *zero[] = {"eps=0", NULL};
    r = run_defense("spectral", zero, &m, &d, NULL, NULL, BL_OK);
    for (int i = 0; i < d.n; i++) assert_int_equal(r.sample_flag[i], 0);
    defense_result_free(&r);
    r = run_defense("spectral", NULL, &m, &d, NULL, NULL, BL_OK);
    uint8_t subset[1000];
    for (int i = 0; i < 1000; i++) subset[i] = i % 10 == 3;
    double au = eval_auroc(r.sample_score, subset, d.n);
    assert_true(au > 0.35 && au < 0.65);
    defense_result_free(&r);
    ds_free(&d);
    model_free(&m);
}

static void test_ac(void **state) {
    (void)state;
    Dataset d;
    uint8_t truth[1000];
    Model m;
    two_class_set(&d, truth, 1);
    build_model(&m, "flatten, dense 2", (Shape){1, 1, 16}, 2);
    DefenseResult r = run_defense("ac", NULL, &m, &d, NULL, NULL, BL_OK);
    DetectionCounts c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 50); // the 10% cluster of label 0 is flagged, nothing else
    assert_int_equal(c.fp, 0);
    assert_true(eval_auroc(r.sample_score, truth, d.n) > 0.99);
    assert_non_null(r.extra_json);
    // the same scores at any thread count (parallel loops own disjoint outputs, sums run in a fixed order)
    int threads = bl_max_threads();
    bl_set_threads(1);
    DefenseResult r1 = run_defense("ac", NULL, &m, &d, NULL, NULL, BL_OK);
    bl_set_threads(threads);
    assert_memory_equal(r1.sample_score, r.sample_score, (size_t)d.n * sizeof(float));
    defense_result_free(&r1);
    defense_result_free(&r);
    const char *sil[] = {"rule=1", NULL}; // size AND silhouette: a well separated cluster passes both
    r = run_defense("ac", sil, &m, &d, NULL, NULL, BL_OK);
    assert_int_equal(eval_detection(r.sample_flag, truth, d.n).tp, 50);
    defense_result_free(&r);
    ds_free(&d);
    // clean case: one Gaussian per label splits roughly in half, no cluster is small enough to flag
    two_class_set(&d, truth, 0);
    r = run_defense("ac", NULL, &m, &d, NULL, NULL, BL_OK);
    for (int i = 0; i < d.n; i++) assert_int_equal(r.sample_flag[i], 0);
    defense_result_free(&r);
    ds_free(&d);
    model_free(&m);
}

// Clean samples: random labels (a task much harder than the backdoor: ABL's premise); poisoned: pixel 15
// white, label 0. A fresh model learns the white pixel first.
static void test_loss_isolation(void **state) {
    (void)state;
    const int n = 600, D = 16;
    Dataset d;
    assert_int_equal(ds_alloc(&d, n, 1, 1, D, 2), BL_OK);
    uint8_t truth[600];
    Rng r = rng_stream(5, "test-li");
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < D - 1; j++) d.images[(size_t)i * D + j] = (uint8_t)rng_below(&r, 256);
        truth[i] = i % 20 == 0;
        d.images[(size_t)i * D + D - 1] = truth[i] ? 255 : 0;
        d.labels[i] = truth[i] ? 0 : (uint8_t)rng_below(&r, 2);
    }
    Model m;
    build_model(&m, "flatten, dense 16, relu, dense 2", (Shape){1, 1, D}, 2);
    // ABL's rule (lowest final loss) and the default (largest drop) both rank the poisoned samples first here
    const char *abl[] = {"epochs=10", "ratio=0.05", "lr=0.1", "score=1", NULL};
    DefenseResult res = run_defense("loss-isolation", abl, &m, &d, NULL, NULL, BL_OK);
    long flagged = 0;
    for (int i = 0; i < n; i++) flagged += res.sample_flag[i];
    assert_int_equal(flagged, 30); // ratio * n
    assert_true(eval_auroc(res.sample_score, truth, n) > 0.95);
    assert_true(eval_detection(res.sample_flag, truth, n).tpr >= 0.7);
    defense_result_free(&res);
    const char *drop[] = {"epochs=10", "ratio=0.05", "lr=0.1", NULL};
    res = run_defense("loss-isolation", drop, &m, &d, NULL, NULL, BL_OK);
    assert_true(eval_auroc(res.sample_score, truth, n) > 0.85);
    defense_result_free(&res);
    ds_free(&d);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------------------------
// input-level detectors: a hand-set linear model on 4x4 images. Pixel 15 is 0 in every clean image; with
// backdoor = 1 a white pixel 15 adds 40 to class 2's logit.

static void set_linear_model(Model *m, int backdoor) {
    build_model(m, "flatten, dense 3", (Shape){1, 4, 4}, 3);
    Layer *l = &m->layers[1];
    Rng r = rng_stream(9, "test-w");
    for (int k = 0; k < 3; k++) {
        for (int p = 0; p < 16; p++) l->w[k * 16 + p] = p < 15 ? (float)(1.5 * rng_normal(&r)) : 0;
        l->b[k] = 0;
    }
    if (backdoor) l->w[2 * 16 + 15] = 40;
}

static void random_images(Dataset *d, int n, int trig_from, uint64_t seed) {
    assert_int_equal(ds_alloc(d, n, 1, 4, 4, 3), BL_OK);
    Rng r = rng_stream(seed, "test-img");
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < 15; p++) d->images[i * 16 + p] = (uint8_t)rng_below(&r, 200);
        d->images[i * 16 + 15] = i >= trig_from ? 255 : 0;
    }
}

static void test_input_detectors(void **state) {
    (void)state;
    Dataset pool, in;
    random_images(&pool, 300, 300, 1);
    random_images(&in, 400, 200, 2); // inputs 200.. carry the trigger
    uint8_t trig[400];
    for (int i = 0; i < 400; i++) trig[i] = i >= 200;
    const char *strip_set[] = {"n=20", "calib=200", NULL};
    const char *blend_set[] = {"n=20", "calib=200", "overlay=1", NULL};
    for (int backdoor = 0; backdoor <= 1; backdoor++) {
        Model m;
        set_linear_model(&m, backdoor);
        const char *names[] = {"strip", "strip", "confidence"};
        const char *const *sets[] = {strip_set, blend_set, NULL};
        for (int k = 0; k < 3; k++) {
            DefenseResult r = run_defense(names[k], sets[k], &m, NULL, &pool, &in, BL_OK);
            double au = eval_auroc(r.input_score, trig, 400);
            if (backdoor) {
                assert_true(au > 0.95); // must catch
                long fa = 0, fr = 0;    // at the 3% threshold: few triggered accepted, few clean rejected
                for (int i = 0; i < 400; i++) {
                    int f = r.input_score[i] > r.thresholds[3];
                    if (trig[i]) fa += !f;
                    else fr += f;
                }
                assert_true(fa < 20);
                assert_true(fr < 30);
            } else {
                assert_true(au > 0.3 && au < 0.7); // no backdoor, nothing to see
            }
            for (int f = 1; f < DEFENSE_NFRR; f++) assert_true(r.thresholds[f] <= r.thresholds[f - 1]);
            defense_result_free(&r);
        }
        model_free(&m);
    }
    // a pool too small to overlay is a clear error; a small one reduces N with a note
    Dataset tiny;
    random_images(&tiny, 2, 2, 3);
    Model m;
    set_linear_model(&m, 1);
    DefenseResult r = run_defense("strip", strip_set, &m, NULL, &tiny, &in, BL_ERR_DATA);
    defense_result_free(&r);
    ds_free(&tiny);
    random_images(&tiny, 5, 5, 3);
    r = run_defense("strip", strip_set, &m, NULL, &tiny, &in, BL_OK);
    assert_non_null(strstr(r.notes, "using 4"));
    defense_result_free(&r);
    ds_free(&tiny);
    model_free(&m);
    ds_free(&pool);
    ds_free(&in);
}

// ---------------------------------------------------------------------------------------------------------
// degenerate cases: reported in notes, no crash

static void test_degenerate(void **state) {
    (void)state;
    int labels[41];
    for (int i = 0; i < 41; i++) labels[i] = i < 40 ? 0 : 1; // label 1 has a single sample
    Dataset d;
    gauss_set(&d, 41, 8, 3, labels, NULL, 0, 4);             // label 2 has none
    Model m;
    build_model(&m, "flatten, dense 3", (Shape){1, 1, 8}, 3);
    const char *names[] = {"ac", "spectral"};
    for (int k = 0; k < 2; k++) {
        DefenseResult r = run_defense(names[k], NULL, &m, &d, NULL, NULL, BL_OK);
        assert_non_null(strstr(r.notes, "label 1: 1 sample(s)"));
        assert_int_equal(r.sample_flag[40], 0);
        defense_result_free(&r);
    }
    model_free(&m);
    // all activations zero: a hidden layer with zero weights and bias
    build_model(&m, "flatten, dense 4, dense 3", (Shape){1, 1, 8}, 3);
    memset(m.layers[1].w, 0, m.layers[1].nweight * sizeof(float));
    memset(m.layers[1].b, 0, m.layers[1].nbias * sizeof(float));
    for (int k = 0; k < 2; k++) {
        DefenseResult r = run_defense(names[k], NULL, &m, &d, NULL, NULL, BL_OK);
        assert_non_null(strstr(r.notes, "label 0: all"));
        for (int i = 0; i < d.n; i++) assert_int_equal(r.sample_flag[i], 0);
        defense_result_free(&r);
    }
    // NaN activations
    m.layers[1].b[0] = NAN;
    for (int k = 0; k < 2; k++) {
        DefenseResult r = run_defense(names[k], NULL, &m, &d, NULL, NULL, BL_OK);
        assert_non_null(strstr(r.notes, "non-finite"));
        defense_result_free(&r);
    }
    // an empty training set
    Dataset empty;
    assert_int_equal(ds_alloc(&empty, 0, 1, 1, 8, 3), BL_OK);
    for (int k = 0; k < 2; k++) {
        DefenseResult r = run_defense(names[k], NULL, &m, &empty, NULL, NULL, BL_OK);
        defense_result_free(&r);
    }
    ds_free(&empty);
    model_free(&m);
    ds_free(&d);
}

// ---------------------------------------------------------------------------------------------------------
// The interface rule: an input-level defence sees inputs whose labels are zeroed and whose order and indices
// say nothing about which carry the trigger.

static void test_inputs_hide_truth(void **state) {
    (void)state;
    Dataset test, trig;
    random_images(&test, 100, 100, 8);
    random_images(&trig, 100, 0, 8); // the same images with the trigger
    for (int i = 0; i < 100; i++) test.labels[i] = trig.labels[i] = (uint8_t)(i % 3);
    AttackSpec a;
    memset(&a, 0, sizeof a);
    a.enabled = 1, a.label_mode = LABEL_ALL2ONE, a.target = 2;
    DefenseRunData rd = {.test = &test, .triggered_test = &trig, .attack = &a, .seed = 1, .max_inputs = 30};
    EvalInputs in;
    assert_int_equal(eval_make_inputs(&rd, &in), BL_OK);
    assert_int_equal(in.n_clean, 30);
    assert_int_equal(in.n_trig, 30);
    assert_int_equal(in.set.n, 60);
    int ntrig = 0, first_half_trig = 0;
    for (int i = 0; i < in.set.n; i++) {
        assert_int_equal(in.set.labels[i], 0);     // the defender does not know labels
        assert_int_equal(in.set.orig_index[i], i); // nor where an input came from
        ntrig += in.triggered[i];
        if (i < 30) first_half_trig += in.triggered[i];
        assert_int_equal(in.set.images[i * 16 + 15], in.triggered[i] ? 255 : 0);
        if (in.triggered[i]) assert_int_not_equal(test.labels[in.test_index[i]], 2); // all2one: no target class
    }
    assert_int_equal(ntrig, 30);
    assert_true(first_half_trig > 5 && first_half_trig < 25); // shuffled together
    eval_inputs_free(&in);
    rd.max_inputs = 0; // all: every clean image, and the 66 non-target triggered ones
    assert_int_equal(eval_make_inputs(&rd, &in), BL_OK);
    assert_int_equal(in.n_clean, 100);
    assert_int_equal(in.n_trig, 67);
    eval_inputs_free(&in);
    uint8_t mask[16];
    assert_int_equal(eval_trigger_mask(&test, &trig, mask), 1);
    assert_int_equal(mask[15], 1);
    ds_free(&test);
    ds_free(&trig);
}

// ---------------------------------------------------------------------------------------------------------
// The worked example from the README builds, runs and catches its case.

static void test_example_defense(void **state) {
    (void)state;
    Dataset d;
    uint8_t truth[1000];
    two_class_set(&d, truth, 1);
    Model m;
    build_model(&m, "flatten, dense 2", (Shape){1, 1, 16}, 2);
    DefenseParams p;
    const char *set[] = {"ratio=0.1", NULL};
    assert_int_equal(defense_params_resolve(&act_norm_defense, set, &p), BL_OK);
    DefenseContext ctx = {.model = &m, .train = &d, .seed = 1, .params = &p};
    DefenseResult r;
    memset(&r, 0, sizeof r);
    assert_int_equal(act_norm_defense.run(&ctx, &r), BL_OK);
    assert_true(eval_auroc(r.sample_score, truth, d.n) > 0.95);
    assert_true(eval_detection(r.sample_flag, truth, d.n).tpr > 0.9);
    defense_result_free(&r);
    ds_free(&d);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------------------------
// The whole evaluation: files, summary keys (a contract), the control row, errors.

static char g_tmp[64];

static void rm_rf(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int file_exists(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void test_run_and_evaluate(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl_defense_XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    Dataset train, clean_train, defender;
    uint8_t truth[1000], none[1000];
    two_class_set(&train, truth, 1);
    two_class_set(&clean_train, none, 0); // the same samples without the shift
    int labels[50];
    for (int i = 0; i < 50; i++) labels[i] = i % 2;
    gauss_set(&defender, 50, 16, 2, labels, NULL, 0, 12);
    // poison.csv, by original index
    char path[256];
    snprintf(path, sizeof path, "%s/poison.csv", g_tmp);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "index,original_label,new_label\n");
    for (int i = 0; i < 1000; i++)
        if (truth[i]) fprintf(f, "%d,1,0\n", train.orig_index[i]);
    fclose(f);
    Model bd, cl;
    build_model(&bd, "flatten, dense 2", (Shape){1, 1, 16}, 2);
    build_model(&cl, "flatten, dense 2", (Shape){1, 1, 16}, 2);
    AttackSpec a;
    memset(&a, 0, sizeof a);
    snprintf(a.type, sizeof a.type, "badnets");
    snprintf(a.trigger, sizeof a.trigger, "square");
    a.enabled = 1, a.trigger_size = 3, a.label_mode = LABEL_ALL2ONE, a.target = 0;
    DefenseRunData rd = {.backdoor = &bd, .clean = &cl, .train = &train, .train_clean = &clean_train,
                         .defender = &defender, .model_desc = bd.desc, .seed = 1, .test = &defender,
                         .triggered_test = &defender, .attack = &a, .poison_csv = path, .max_inputs = 20,
                         .backdoor_sha256 = "abc"};
    char out[256];
    snprintf(out, sizeof out, "%s/defense/spectral", g_tmp);
    cJSON *defs = cJSON_CreateObject(), *sum = NULL;
    assert_int_equal(defense_run_and_evaluate("spectral", NULL, &rd, out, defs, &sum), BL_OK);
    assert_true(file_exists(out, "summary.json") && file_exists(out, "scores.csv") &&
                file_exists(out, "scores-clean.csv"));
    const char *keys[] = {"auroc", "tpr", "fpr", "precision", "f1", "seconds", "tp", "fp", "tn", "fn"};
    for (size_t k = 0; k < BL_ARRAY_LEN(keys); k++) assert_non_null(cJSON_GetObjectItemCaseSensitive(sum, keys[k]));
    assert_true(cJSON_GetObjectItemCaseSensitive(sum, "tp")->valuedouble == 50);
    assert_true(cJSON_GetObjectItemCaseSensitive(sum, "auroc")->valuedouble > 0.99);
    cJSON *cm = cJSON_GetObjectItemCaseSensitive(sum, "clean_model");
    assert_true(cJSON_IsObject(cm));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cm, "auroc"))); // no poison: undefined
    assert_true(cJSON_GetObjectItemCaseSensitive(cm, "fpr")->valuedouble > 0); // spectral always removes 1.5 eps
    assert_non_null(cJSON_GetObjectItemCaseSensitive(defs, "spectral"));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(sum, "model_sha256")->valuestring, "abc");
    cJSON_Delete(sum);
    // an input-level defence: far_at_frr keyed by the FRR
    snprintf(out, sizeof out, "%s/defense/confidence", g_tmp);
    assert_int_equal(defense_run_and_evaluate("confidence", NULL, &rd, out, NULL, &sum), BL_OK);
    cJSON *far = cJSON_GetObjectItemCaseSensitive(sum, "far_at_frr");
    assert_true(cJSON_IsObject(far));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(far, "0.01"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(far, "0.005"));
    assert_true(file_exists(out, "score_hist.csv") && file_exists(out, "score_hist.gp"));
    cJSON_Delete(sum);
    // evaluation plots: STRIP entropy histograms and Neural Cleanse norms (the PNG only when gnuplot exists)
    const int gnuplot = system("command -v gnuplot >/dev/null 2>&1") == 0;
    snprintf(out, sizeof out, "%s/defense/strip", g_tmp);
    const char *strip_set[] = {"n=5", "calib=20", NULL};
    assert_int_equal(defense_run_and_evaluate("strip", strip_set, &rd, out, NULL, &sum), BL_OK);
    assert_true(file_exists(out, "entropy_hist.csv") && file_exists(out, "entropy_hist.gp"));
    assert_true(!gnuplot || file_exists(out, "entropy_hist.png"));
    char p2[512];
    snprintf(p2, sizeof p2, "%s/entropy_hist.csv", out);
    f = fopen(p2, "r");
    assert_non_null(f);
    char head[256] = "";
    assert_non_null(fgets(head, sizeof head, f));
    fclose(f);
    assert_non_null(strstr(head, "backdoored_triggered,clean_model_clean")); // both models, both groups
    cJSON_Delete(sum);
    snprintf(out, sizeof out, "%s/defense/neural-cleanse", g_tmp);
    const char *nc_set[] = {"steps=3", "batches_per_step=1", "batch=8", NULL};
    assert_int_equal(defense_run_and_evaluate("neural-cleanse", nc_set, &rd, out, NULL, &sum), BL_OK);
    assert_true(file_exists(out, "norms.csv") && file_exists(out, "norms.gp"));
    assert_true(!gnuplot || file_exists(out, "norms.png"));
    snprintf(p2, sizeof p2, "%s/norms.csv", out);
    f = fopen(p2, "r");
    assert_non_null(f);
    int rows = 0, targets = 0;
    while (fgets(head, sizeof head, f)) {
        rows++;
        size_t l = strlen(head);
        targets += l >= 2 && head[l - 2] == '1' && head[l - 3] == ','; // is_target column
    }
    fclose(f);
    assert_int_equal(rows, 3);    // header + 2 labels
    assert_int_equal(targets, 1); // the true target is marked for highlighting
    cJSON_Delete(sum);
    // errors
    assert_int_equal(defense_run_and_evaluate("nope", NULL, &rd, out, NULL, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "known:"));
    const char *bad[] = {"eps=2", NULL};
    assert_int_equal(defense_run_and_evaluate("spectral", bad, &rd, out, NULL, NULL), BL_ERR_USAGE);
    f = fopen(path, "w");
    fprintf(f, "index,original_label,new_label\n999999,1,0\n");
    fclose(f);
    assert_int_equal(defense_run_and_evaluate("spectral", NULL, &rd, out, NULL, NULL), BL_ERR_DATA);
    f = fopen(path, "w");
    fprintf(f, "garbage\n");
    fclose(f);
    assert_int_equal(defense_run_and_evaluate("spectral", NULL, &rd, out, NULL, NULL), BL_ERR_DATA);
    cJSON_Delete(defs);
    model_free(&bd);
    model_free(&cl);
    ds_free(&train);
    ds_free(&clean_train);
    ds_free(&defender);
    rm_rf(g_tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),       cmocka_unit_test(test_params),
        cmocka_unit_test(test_integer_params),
        cmocka_unit_test(test_auroc),          cmocka_unit_test(test_detection_and_der),
        cmocka_unit_test(test_linear_algebra), cmocka_unit_test(test_spectral),
        cmocka_unit_test(test_ac),             cmocka_unit_test(test_loss_isolation),
        cmocka_unit_test(test_input_detectors), cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_inputs_hide_truth), cmocka_unit_test(test_example_defense),
        cmocka_unit_test(test_run_and_evaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
