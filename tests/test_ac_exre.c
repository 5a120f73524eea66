// test_ac_exre.c: Activation Clustering's exclusionary reclassification (ExRe, `ac` with exre = 1).
//
// Three levels: the parameters and their refusals; a synthetic case where the answer is known exactly (a model
// "flatten, dense K" sees its input as the penultimate representation, so a dataset of (1,1,D) "images" chooses
// the features AC clusters and the retrained model classifies); and a tiny Fashion-MNIST BadNets all2one run
// in which poison is 40% of the target label, above AC's 0.35 size threshold (skipped if the dataset is absent).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "nn/model.h"
#include "train/train.h"

#include "test_util.h"

static char g_tmp[256]; // the defence's out_dir (it writes nothing there; removed at the end)

static uint8_t clamp_px(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v)); }

static DefenseResult run_ac(const char *const *settings, Model *m, const Dataset *train, const Dataset *clean,
                            const TrainOptions *to, Status want) {
    const DefenseOps *ops = defense_find("ac");
    assert_non_null(ops);
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, settings, &p), BL_OK);
    DefenseContext ctx = {.model = m, .train = train, .clean = clean, .train_opts = to, .model_desc = m->desc,
                          .seed = 3, .params = &p, .out_dir = g_tmp};
    DefenseResult r;
    memset(&r, 0, sizeof r);
    Status st = ops->run(&ctx, &r);
    if (st != want) fprintf(stderr, "ac: status %d (%s)\n", st, bl_errmsg());
    assert_int_equal(st, want);
    return r;
}

// The ExRe decision for `label` in the result's extra JSON (NULL when absent).
static const cJSON *exre_cluster(const DefenseResult *r, int label) {
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive((const cJSON *)r->extra_json, "exre");
    const cJSON *cl, *arr = cJSON_GetObjectItemCaseSensitive(ex, "clusters");
    cJSON_ArrayForEach(cl, arr) {
        if (cJSON_GetObjectItemCaseSensitive(cl, "label")->valueint == label) return cl;
    }
    return NULL;
}

static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

// ---------------------------------------------------------------------------------------------------------
// parameters

static void test_exre_params(void **state) {
    (void)state;
    const DefenseOps *ops = defense_find("ac");
    assert_non_null(ops);
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, NULL, &p), BL_OK);
    assert_true(defense_param(ops, &p, "exre") == 0); // off by default: plain AC
    assert_true(defense_param(ops, &p, "exre_threshold") == 1);
    const char *neg[] = {"exre_threshold=-1", NULL}, *two[] = {"exre=2", NULL};
    assert_int_equal(defense_params_resolve(ops, neg, &p), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "exre_threshold"));
    assert_int_equal(defense_params_resolve(ops, two, &p), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "exre"));
    char buf[4096];
    defense_params_describe(ops, buf, sizeof buf);
    assert_non_null(strstr(buf, "ONE retrain")); // the deviation is in the help text
    assert_non_null(strstr(buf, "ART: no default"));

    // T = 0 passes the inclusive range but is refused by the run, before any work; so is ExRe without the
    // run's training options (it must retrain)
    Dataset d;
    assert_int_equal(ds_alloc(&d, 40, 1, 1, 4, 2), BL_OK);
    for (int i = 0; i < d.n; i++) d.labels[i] = (uint8_t)(i % 2), d.images[i * 4] = (uint8_t)(i * 5);
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 2", (Shape){1, 1, 4}, 2, 64), BL_OK);
    model_init_params(&m, 1);
    TrainOptions to = {.epochs = 1, .batch = 8, .opt = {.kind = OPT_SGD, .lr = 0.01}, .seed = 1};
    const char *zero[] = {"exre_threshold=0", NULL};
    DefenseResult r = run_ac(zero, &m, &d, NULL, &to, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "must be > 0"));
    defense_result_free(&r);
    const char *on[] = {"exre=1", NULL};
    r = run_ac(on, &m, &d, NULL, NULL, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "training options"));
    defense_result_free(&r);
    // exre = 0 leaves the result as plain AC: no "exre" object
    r = run_ac(NULL, &m, &d, NULL, NULL, BL_OK);
    assert_null(cJSON_GetObjectItemCaseSensitive((cJSON *)r.extra_json, "exre"));
    defense_result_free(&r);
    model_free(&m);
    ds_free(&d);
}

// ---------------------------------------------------------------------------------------------------------
// synthetic: the answer is known

// Label 0: 300 samples near A (dims 0..7 high) + 250 "poison" that are label-1 samples (dims 8..15 high) with
// a trigger (dims 16..19 high), relabelled 0: 45% of label 0, above the 0.35 size threshold. Label 1: 500 near
// B. Plain AC flags nothing; ExRe, retrained without the poison, calls it label 1 and flags exactly it.
static void synth_set(Dataset *d, uint8_t *truth) {
    const int n = 1050, D = 20;
    assert_int_equal(ds_alloc(d, n, 1, 1, D, 2), BL_OK);
    Rng r = rng_stream(5, "test-exre");
    for (int i = 0; i < n; i++) {
        int kind = i < 300 ? 0 : i < 550 ? 2 : 1; // 0 clean A, 2 poison, 1 clean B
        truth[i] = kind == 2;
        d->labels[i] = (uint8_t)(kind == 1 ? 1 : 0);
        for (int j = 0; j < D; j++) {
            double mu = 60;
            if (j < 8 && kind == 0) mu = 190;
            if (j >= 8 && j < 16 && kind != 0) mu = 190;
            if (j >= 16 && kind == 2) mu = 250;
            d->images[(size_t)i * D + j] = clamp_px(mu + 20 * rng_normal(&r));
        }
    }
}

static void test_exre_synthetic(void **state) {
    (void)state;
    Dataset d;
    uint8_t truth[1050];
    synth_set(&d, truth);
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 2", (Shape){1, 1, 20}, 2, 64), BL_OK);
    model_init_params(&m, 9);
    TrainOptions to = {.epochs = 3, .batch = 32, .opt = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9}, .seed = 9};
    assert_int_equal(train_model(&m, &d, &to), BL_OK); // the "backdoored" model: the trigger dims say 0

    DefenseResult plain = run_ac(NULL, &m, &d, NULL, &to, BL_OK);
    DetectionCounts cp = eval_detection(plain.sample_flag, truth, d.n);
    assert_int_equal(cp.tp + cp.fp, 0); // 45% and ~50% splits: the size rule flags nothing

    const char *on[] = {"exre=1", NULL};
    DefenseResult r = run_ac(on, &m, &d, NULL, &to, BL_OK);
    DetectionCounts c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 250);
    assert_int_equal(c.fp, 0);
    assert_memory_equal(r.sample_score, plain.sample_score, (size_t)d.n * sizeof(float)); // scores unchanged
    const cJSON *c0 = exre_cluster(&r, 0), *c1 = exre_cluster(&r, 1);
    assert_non_null(c0);
    assert_non_null(c1);
    assert_string_equal(jstr(c0, "verdict"), "poison");
    assert_true(jnum(c0, "size") == 250);
    assert_true(jnum(c0, "other_label") == 1 && jnum(c0, "suspected_source") == 1);
    assert_true(jnum(c0, "own") < jnum(c0, "other_count"));
    assert_string_equal(jstr(c1, "verdict"), "legitimate");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive((cJSON *)r.extra_json, "exre");
    assert_true(jnum(ex, "excluded") + jnum(ex, "retrained_on") == d.n); // ONE retrain without the union
    assert_non_null(strstr(r.notes, "POISON"));
    defense_result_free(&r);

    // exre_per_label: one retrain per label without its own candidate only; the same verdicts here
    const char *per[] = {"exre=1", "exre_per_label=1", NULL};
    r = run_ac(per, &m, &d, NULL, &to, BL_OK);
    c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 250);
    assert_int_equal(c.fp, 0);
    for (int label = 0; label < 2; label++) { // each verdict's model lacked only its own cluster
        const cJSON *cl = exre_cluster(&r, label);
        assert_true(jnum(cl, "retrained_on") + jnum(cl, "size") == d.n);
    }
    defense_result_free(&r);

    // The rule itself, at a threshold no ratio can beat: a cluster stays legitimate only when the retrained model
    // sends none of it elsewhere (other_count == 0), and the flags are exactly the poison clusters' samples.
    const char *strict[] = {"exre=1", "exre_threshold=1e6", NULL};
    r = run_ac(strict, &m, &d, NULL, &to, BL_OK);
    int nflag = 0;
    for (int i = 0; i < d.n; i++) nflag += r.sample_flag[i];
    double poison_sizes = 0;
    for (int label = 0; label < 2; label++) {
        const cJSON *cl = exre_cluster(&r, label);
        int poison = !strcmp(jstr(cl, "verdict"), "poison");
        assert_int_equal(poison, jnum(cl, "other_count") > 0);
        if (poison) poison_sizes += jnum(cl, "size");
    }
    assert_true(nflag == poison_sizes);
    assert_int_equal(eval_detection(r.sample_flag, truth, d.n).tp, 250);
    defense_result_free(&r);
    defense_result_free(&plain);
    model_free(&m);
    ds_free(&d);
}

// ---------------------------------------------------------------------------------------------------------
// tiny Fashion-MNIST BadNets all2one

// Under AddressSanitizer the GEMMs are ~50x slower: a smaller run that checks the mechanics, not the outcome.
#if defined(__SANITIZE_ADDRESS__)
#define FM_TRAIN 400
#define FM_TEST 200
#define FM_EPOCHS 1
#define SANITIZED 1
#else
#define FM_TRAIN 6000
#define FM_TEST 1000
#define FM_EPOCHS 3
#define SANITIZED 0
#endif

// 3x3 white square in the bottom-right corner of a 28x28 image.
static void stamp(uint8_t *img) {
    for (int y = 25; y < 28; y++)
        for (int x = 25; x < 28; x++) img[y * 28 + x] = 255;
}

static void test_exre_fashion_mnist(void **state) {
    (void)state;
    const char *dir = dataset_default_dir("fashion-mnist");
    DatasetPair pair;
    if (!dir || dataset_load_dir(dir, FM_TRAIN, FM_TEST, &pair)) skip();
    Dataset *tr = &pair.train;
    // Poison 40% of label 0: P non-target samples with P / (n0 + P) = 0.4, taken in a seeded random order.
    int n0 = 0;
    for (int i = 0; i < tr->n; i++) n0 += tr->labels[i] == 0;
    const int P = (int)lround(n0 * 0.4 / 0.6);
    int *order = malloc((size_t)tr->n * sizeof(int));
    uint8_t *truth = calloc((size_t)tr->n, 1);
    assert_non_null(order);
    assert_non_null(truth);
    for (int i = 0; i < tr->n; i++) order[i] = i;
    Rng rng = rng_stream(11, "test-exre-poison");
    rng_shuffle_int(&rng, order, tr->n);
    for (int k = 0, done = 0; k < tr->n && done < P; k++) {
        int i = order[k];
        if (tr->labels[i] == 0) continue;
        stamp(tr->images + (size_t)i * 784);
        tr->labels[i] = 0;
        truth[i] = 1;
        done++;
    }
    free(order);

    Model m;
    assert_int_equal(model_build(&m, "reference-cnn", (Shape){1, 28, 28}, 10, 64), BL_OK);
    TrainOptions to = {.epochs = FM_EPOCHS, .batch = 64, .opt = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9},
                       .seed = 4};
    model_init_params(&m, to.seed);
    double t0 = bl_now();
    assert_int_equal(train_model(&m, tr, &to), BL_OK);

    // the backdoor must be in before AC can see it: ASR on triggered non-target test images
    Dataset trig;
    assert_int_equal(ds_copy(&pair.test, &trig), BL_OK);
    for (int i = 0; i < trig.n; i++) stamp(trig.images + (size_t)i * 784);
    uint8_t *pred = malloc((size_t)trig.n);
    predict(&m, &trig, pred, NULL);
    int hit = 0, base = 0;
    for (int i = 0; i < trig.n; i++)
        if (pair.test.labels[i] != 0) base++, hit += pred[i] == 0;
    double asr = (double)hit / BL_MAX(base, 1);
    free(pred);
    ds_free(&trig);

    DefenseResult plain = run_ac(NULL, &m, tr, &pair.test, &to, BL_OK);
    const char *on[] = {"exre=1", NULL};
    DefenseResult r = run_ac(on, &m, tr, &pair.test, &to, BL_OK);
    DetectionCounts cp = eval_detection(plain.sample_flag, truth, tr->n);
    DetectionCounts c = eval_detection(r.sample_flag, truth, tr->n);
    print_message("fashion-mnist %d train, %d poisoned (40%% of label 0), %d epochs: ASR %.3f; %.1f s\n", tr->n, P,
                  FM_EPOCHS, asr, bl_now() - t0);
    print_message("plain AC: TP %ld FP %ld (TPR %.3f FPR %.4f F1 %.3f)\n", cp.tp, cp.fp, cp.tpr, cp.fpr, cp.f1);
    print_message("ExRe    : TP %ld FP %ld (TPR %.3f FPR %.4f F1 %.3f)\n", c.tp, c.fp, c.tpr, c.fpr, c.f1);
    print_message("notes: %s\n", r.notes);
    const cJSON *c0 = exre_cluster(&r, 0);
    assert_non_null(c0); // every label got a decision
    for (int k = 0; k < 10; k++) assert_non_null(exre_cluster(&r, k));
    // label 0's flags alone: what ExRe decided about the poisoned label
    long f0 = 0, tp0 = 0;
    for (int i = 0; i < tr->n; i++)
        if (tr->labels[i] == 0 && r.sample_flag[i]) f0++, tp0 += truth[i];
    print_message("label 0: %ld flagged, %ld poisoned\n", f0, tp0);
    if (!SANITIZED) {
        assert_true(asr > 0.9);
        assert_true(cp.tpr < 0.5); // the poison cluster is too big for the size rule
        // ExRe: label 0's smaller cluster is the poison; the retrained model sends it back to its sources
        assert_string_equal(jstr(c0, "verdict"), "poison");
        assert_true(jnum(c0, "suspected_source") != 0);
        assert_true(c.tpr > 0.9);
        assert_true(tp0 >= 0.95 * f0);
        // Not asserted: overall precision. On this tiny model the retrain without every label's smaller cluster
        // (40% of the data) also sends several clean clusters (whole modes of their label) elsewhere, so clean
        // labels are flagged too (precision ~0.25 here). ExRe still beats the size rule's F1 (0 here).
        assert_true(c.f1 > cp.f1 + 0.2);
    }
    defense_result_free(&plain);
    defense_result_free(&r);
    free(truth);
    model_free(&m);
    ds_pair_free(&pair);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl-test-ac-exre-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(g_tmp);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exre_params),
        cmocka_unit_test(test_exre_synthetic),
        cmocka_unit_test(test_exre_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
