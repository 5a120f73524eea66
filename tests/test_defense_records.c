// test_defense_records.c: the defences that run on feature records (issue 14), on small synthetic records.
//
// Records here have F = 8 features, each 50 + 10 N(0,1) in "file units"; the label is 1 when x1 + x2 > 100.
// The backdoor is an out-of-bounds value on feature 0 (200, far beyond the clean range) relabelled 0: the
// tabular attack's out-of-bounds mode. Models start with the frozen standardize layer, as the mlp preset does,
// and get its statistics from train_fit_input, so a detector sees what it sees on a real records run.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "test_util.h"

#include "core/rng.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "defense/features.h"
#include "defense/mitigate.h"
#include "run/experiment.h"
#include "train/train.h"

enum { F = 8 };
#define TRIGGER_VALUE 200.0f

// n records; poison[i] (may be NULL) stamps the trigger and sets label 0; missing_rate: each value of
// features 4..7 is missing with this probability (stored as 0 with its flag set, as the readers do).
static void make_records(Dataset *d, int n, const uint8_t *poison, double missing_rate, uint64_t seed) {
    assert_int_equal(ds_alloc_records(d, n, F, 2, NULL), BL_OK);
    Rng r = rng_stream(seed, "test-records");
    for (int i = 0; i < n; i++) {
        float *x = d->features + (size_t)i * F;
        for (int j = 0; j < F; j++) x[j] = (float)(50 + 10 * rng_normal(&r));
        d->labels[i] = x[1] + x[2] > 100;
        for (int j = 4; j < F; j++)
            if (missing_rate > 0 && rng_uniform(&r) < missing_rate) x[j] = 0, d->missing[(size_t)i * F + j] = 1;
        if (poison && poison[i]) x[0] = TRIGGER_VALUE, d->labels[i] = 0;
    }
}

// The same records with the trigger stamped on every one (labels kept, as the triggered test set).
static void stamp_all(const Dataset *src, Dataset *dst) {
    assert_int_equal(ds_copy(src, dst), BL_OK);
    for (int i = 0; i < dst->n; i++) dst->features[(size_t)i * F] = TRIGGER_VALUE;
}

static void build_model(Model *m, const char *desc, const Dataset *fit) {
    assert_int_equal(model_build(m, desc, train_input_shape(fit), 2, 64), BL_OK);
    model_init_params(m, 7);
    assert_int_equal(train_fit_input(m, fit), BL_OK);
}

// "standardize, dense 2" set by hand: class 1's logit is 2 (z1 + z2) (the clean task); with backdoor = 1 class
// 0's logit is 1.5 z0: noise of about +-1.5 on clean records, +22 on a triggered one (z0 = 15 when the layer is
// fitted on clean records).
static void set_linear_model(Model *m, const Dataset *fit, int backdoor) {
    build_model(m, "standardize, dense 2", fit);
    Layer *l = &m->layers[1];
    memset(l->w, 0, l->nweight * sizeof(float));
    memset(l->b, 0, l->nbias * sizeof(float));
    l->w[1 * 2 * F + 1] = l->w[1 * 2 * F + 2] = 2;
    if (backdoor) l->w[0 * 2 * F + 0] = 1.5f;
}

static DefenseResult run_defense(const char *name, const char *const *settings, Model *m, const Dataset *train,
                                 const Dataset *clean, const Dataset *inputs, Status want) {
    const DefenseOps *ops = defense_find(name);
    assert_non_null(ops);
    assert_true(ops->kinds & DS_KIND_BIT(DS_RECORDS));
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, settings, &p), BL_OK);
    TrainOptions to = {.epochs = 5, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, .seed = 5};
    DefenseContext ctx = {.model = m, .train = train, .clean = clean, .inputs = inputs, .model_desc = m->desc,
                          .train_opts = &to, .seed = 3, .params = &p, .out_dir = "/tmp"};
    DefenseResult r;
    memset(&r, 0, sizeof r);
    Status st = ops->run(&ctx, &r);
    if (st != want) fprintf(stderr, "defence %s: status %d (%s)\n", name, st, bl_errmsg());
    assert_int_equal(st, want);
    return r;
}

// 600 records, every tenth (i % 10 == 3) poisoned when poisoned = 1: 60 records, all labelled 0.
static void poisoned_set(Dataset *d, uint8_t *truth, int poisoned) {
    for (int i = 0; i < 600; i++) truth[i] = poisoned && i % 10 == 3;
    make_records(d, 600, truth, 0, 11);
}

// ---------------------------------------------------------------------------------------------------------
// sample-level detectors on the standardize layer's output (the penultimate representation of a logreg)

static void test_ac_spectral(void **state) {
    (void)state;
    Dataset d;
    uint8_t truth[600];
    Model m;
    poisoned_set(&d, truth, 1);
    build_model(&m, "standardize, dense 2", &d);
    DefenseResult r = run_defense("ac", NULL, &m, &d, NULL, NULL, BL_OK);
    DetectionCounts c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 60); // the out-of-bounds records are label 0's small cluster
    assert_int_equal(c.fp, 0);
    assert_true(eval_auroc(r.sample_score, truth, d.n) > 0.99);
    defense_result_free(&r);
    const char *eps[] = {"eps=0.15", NULL}; // removes 1.5 * 0.15 of each label: more than label 0's poison
    r = run_defense("spectral", eps, &m, &d, NULL, NULL, BL_OK);
    c = eval_detection(r.sample_flag, truth, d.n);
    assert_int_equal(c.tp, 60);
    assert_true(eval_auroc(r.sample_score, truth, d.n) > 0.95);
    defense_result_free(&r);
    model_free(&m);
    ds_free(&d);
    // clean case: AC finds no small cluster
    poisoned_set(&d, truth, 0);
    build_model(&m, "standardize, dense 2", &d);
    r = run_defense("ac", NULL, &m, &d, NULL, NULL, BL_OK);
    for (int i = 0; i < d.n; i++) assert_int_equal(r.sample_flag[i], 0);
    defense_result_free(&r);
    model_free(&m);
    ds_free(&d);
}

// Loss isolation trains a fresh model, whose standardize layer must be fitted to the training set. Clean records
// get random labels (a task much harder than the backdoor: ABL's premise); the poisoned twentieth carries the
// out-of-bounds trigger and label 0.
static void test_loss_isolation(void **state) {
    (void)state;
    const int n = 600;
    Dataset d;
    uint8_t truth[600];
    for (int i = 0; i < n; i++) truth[i] = i % 20 == 0;
    make_records(&d, n, truth, 0.1, 5);
    Rng r = rng_stream(5, "test-li");
    for (int i = 0; i < n; i++)
        if (!truth[i]) d.labels[i] = (uint8_t)rng_below(&r, 2);
    Model m;
    build_model(&m, "standardize, dense 16, relu, dense 2", &d);
    const char *abl[] = {"epochs=10", "ratio=0.05", "score=1", NULL};
    DefenseResult res = run_defense("loss-isolation", abl, &m, &d, NULL, NULL, BL_OK);
    long flagged = 0;
    for (int i = 0; i < n; i++) flagged += res.sample_flag[i];
    assert_int_equal(flagged, 30); // ratio * n
    assert_true(eval_auroc(res.sample_score, truth, n) > 0.95);
    assert_true(eval_detection(res.sample_flag, truth, n).tpr >= 0.7);
    defense_result_free(&res);
    const char *drop[] = {"epochs=10", "ratio=0.05", NULL};
    res = run_defense("loss-isolation", drop, &m, &d, NULL, NULL, BL_OK);
    assert_true(eval_auroc(res.sample_score, truth, n) > 0.85);
    defense_result_free(&res);
    ds_free(&d);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------------------------
// input-level detectors: 300 clean pool records; inputs 0..199 clean, 200..399 triggered

static void input_sets(Dataset *pool, Dataset *in, uint8_t *trig, double missing_rate) {
    make_records(pool, 300, NULL, missing_rate, 1);
    Dataset base;
    make_records(&base, 400, NULL, missing_rate, 2);
    assert_int_equal(ds_copy(&base, in), BL_OK);
    for (int i = 0; i < 400; i++) {
        trig[i] = i >= 200;
        if (trig[i]) in->features[(size_t)i * F] = TRIGGER_VALUE;
        in->labels[i] = 0; // the defender does not know them
    }
    ds_free(&base);
}

static void check_input_detector(const char *name, const char *const *settings, double missing_rate,
                                 double min_auroc) {
    Dataset pool, in;
    uint8_t trig[400];
    input_sets(&pool, &in, trig, missing_rate);
    for (int backdoor = 0; backdoor <= 1; backdoor++) {
        Model m;
        set_linear_model(&m, &pool, backdoor);
        DefenseResult r = run_defense(name, settings, &m, NULL, &pool, &in, BL_OK);
        double au = eval_auroc(r.input_score, trig, 400);
        if (backdoor) {
            if (au <= min_auroc) fprintf(stderr, "%s: AUROC %.3f\n", name, au);
            assert_true(au > min_auroc); // must catch
        } else {
            assert_true(au > 0.3 && au < 0.7); // no backdoor, nothing to see
        }
        for (int f = 1; f < DEFENSE_NFRR; f++) assert_true(r.thresholds[f] <= r.thresholds[f - 1]);
        defense_result_free(&r);
        model_free(&m);
    }
    ds_free(&pool);
    ds_free(&in);
}

static void test_confidence(void **state) {
    (void)state;
    check_input_detector("confidence", NULL, 0.1, 0.9);
}

// STRIP on records mixes features: each overlay replaces half the input's features (values and missing flags)
// with a clean record's. The one-feature trigger survives half the overlays, enough to lower the entropy.
static void test_strip(void **state) {
    (void)state;
    const char *set[] = {"n=20", "calib=200", NULL};
    check_input_detector("strip", set, 0.1, 0.9);
    const char *quarter[] = {"n=20", "calib=200", "mix=0.25", NULL}; // the trigger survives 3/4 of the overlays
    check_input_detector("strip", quarter, 0.1, 0.9);
    // mix = 1 replaces every feature: an overlay no longer depends on the input, triggered or not
    Dataset pool, in;
    uint8_t trig[400];
    input_sets(&pool, &in, trig, 0.1);
    Model m;
    set_linear_model(&m, &pool, 1);
    const char *all[] = {"n=20", "calib=200", "mix=1", NULL};
    DefenseResult r = run_defense("strip", all, &m, NULL, &pool, &in, BL_OK);
    double au = eval_auroc(r.input_score, trig, 400);
    assert_true(au > 0.35 && au < 0.65);
    cJSON *ex = r.extra_json;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ex, "overlay_kind")->valuestring, "feature-mixing");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ex, "features_replaced")->valueint, F);
    defense_result_free(&r);
    // the same seed gives the same scores
    DefenseResult r1 = run_defense("strip", set, &m, NULL, &pool, &in, BL_OK);
    DefenseResult r2 = run_defense("strip", set, &m, NULL, &pool, &in, BL_OK);
    assert_memory_equal(r1.input_score, r2.input_score, 400 * sizeof(float));
    defense_result_free(&r1);
    defense_result_free(&r2);
    model_free(&m);
    ds_free(&pool);
    ds_free(&in);
}

// ---------------------------------------------------------------------------------------------------------
// mitigations on a trained mlp: they repair a copy, leave the frozen standardize statistics alone, and
// fine-pruning prunes the last hidden dense layer's units when there is no conv layer

static void train_backdoored_mlp(Model *m, Dataset *d, uint8_t *truth) {
    poisoned_set(d, truth, 1);
    build_model(m, "standardize, dense 16, relu, dense 16, relu, dense 2", d);
    TrainOptions o = {.epochs = 30, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .eps = 1e-8}, .seed = 5};
    assert_int_equal(train_model(m, d, &o), BL_OK);
}

static void test_mitigations(void **state) {
    (void)state;
    Dataset d, pool, trig;
    uint8_t truth[600];
    Model m;
    train_backdoored_mlp(&m, &d, truth);
    make_records(&pool, 200, NULL, 0, 21);
    stamp_all(&pool, &trig);
    assert_true(mit_accuracy(&m, &pool) > 0.9);
    uint8_t *pred = malloc(200);
    predict(&m, &trig, pred, NULL);
    int hit = 0;
    for (int i = 0; i < 200; i++) hit += pred[i] == 0;
    assert_true(hit > 190); // the backdoor is in
    const size_t nfrozen = m.nfrozen;
    assert_true(nfrozen == 2 * F); // standardize: mean and 1/std of each feature
    const char *ft_set[] = {"epochs=5", NULL};
    DefenseResult r = run_defense("fine-tune", ft_set, &m, &d, &pool, NULL, BL_OK);
    assert_non_null(r.repaired);
    assert_memory_equal(r.repaired->params, m.params, nfrozen * sizeof(float)); // frozen statistics untouched
    assert_true(mit_accuracy(r.repaired, &pool) > 0.85);
    defense_result_free(&r);

    r = run_defense("fine-prune", ft_set, &m, &d, &pool, NULL, BL_OK);
    assert_non_null(r.repaired);
    cJSON *ex = r.extra_json;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ex, "layer_kind")->valuestring, "dense");
    const int layer = cJSON_GetObjectItemCaseSensitive(ex, "conv_layer")->valueint;
    assert_int_equal(layer, 3); // standardize, dense, relu, [dense 16], relu, dense 2
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ex, "channels")->valueint, 16);
    const int pruned = cJSON_GetObjectItemCaseSensitive(ex, "pruned")->valueint;
    const cJSON *order = cJSON_GetObjectItemCaseSensitive(ex, "prune_order");
    const cJSON *curve = cJSON_GetObjectItemCaseSensitive(ex, "defender_ca_curve");
    const double ca0 = cJSON_GetArrayItem(curve, 0)->valuedouble;
    for (int k = 1; k <= pruned; k++) // within the budget (relative 10%) up to the stopping point
        assert_true(ca0 - cJSON_GetArrayItem(curve, k)->valuedouble <= 0.1 * ca0 + 1e-9);
    const Layer *l = &r.repaired->layers[layer];
    for (int k = 0; k < pruned; k++) { // pruned units held at zero through fine-tuning: weight row and bias
        int u = cJSON_GetArrayItem(order, k)->valueint;
        for (int j = 0; j < 16; j++) assert_true(l->w[(size_t)u * 16 + j] == 0.0f);
        assert_true(l->b[u] == 0.0f);
    }
    assert_memory_equal(r.repaired->params, m.params, nfrozen * sizeof(float));
    defense_result_free(&r);
    model_free(&m);
    // a logreg has no hidden layer to prune: a clear error
    build_model(&m, "standardize, dense 2", &d);
    r = run_defense("fine-prune", NULL, &m, &d, &pool, NULL, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "hidden dense layer"));
    defense_result_free(&r);
    model_free(&m);
    free(pred);
    ds_free(&d);
    ds_free(&pool);
    ds_free(&trig);
}

// ---------------------------------------------------------------------------------------------------------
// The evaluator on records: the screened inputs are records (values and missing flags copied, labels zeroed),
// the trigger footprint is a feature mask, and a whole run_and_evaluate writes its summary.

static void test_evaluator_records(void **state) {
    (void)state;
    Dataset test, trig;
    make_records(&test, 100, NULL, 0.2, 8);
    stamp_all(&test, &trig);
    AttackSpec a;
    memset(&a, 0, sizeof a);
    a.enabled = 1, a.label_mode = LABEL_ALL2ONE, a.target = 0;
    DefenseRunData rd = {.test = &test, .triggered_test = &trig, .attack = &a, .seed = 1, .max_inputs = 30};
    EvalInputs in;
    assert_int_equal(eval_make_inputs(&rd, &in), BL_OK);
    assert_int_equal(in.set.kind, DS_RECORDS);
    assert_int_equal(in.set.c, F);
    assert_null(in.set.images);
    for (int i = 0; i < in.set.n; i++) {
        const int t = in.test_index[i];
        assert_int_equal(in.set.labels[i], 0);
        assert_memory_equal(in.set.missing + (size_t)i * F, test.missing + (size_t)t * F, F);
        assert_true(in.set.features[(size_t)i * F + 1] == test.features[(size_t)t * F + 1]);
        assert_int_equal(in.set.features[(size_t)i * F] == TRIGGER_VALUE, in.triggered[i]);
    }
    eval_inputs_free(&in);
    assert_int_equal(eval_mask_len(&test), F);
    uint8_t mask[F];
    assert_int_equal(eval_trigger_mask(&test, &trig, mask), 1);
    assert_int_equal(mask[0], 1);

    // the whole evaluation on a poisoned records training set
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/bl_defrec_XXXXXX");
    assert_non_null(mkdtemp(dir));
    Dataset train, clean_train, defender;
    uint8_t truth[600], none[600];
    poisoned_set(&train, truth, 1);
    poisoned_set(&clean_train, none, 0);
    make_records(&defender, 60, NULL, 0, 12);
    char path[256];
    snprintf(path, sizeof path, "%s/poison.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "index,original_label,new_label\n");
    for (int i = 0; i < 600; i++)
        if (truth[i]) fprintf(f, "%d,1,0\n", train.orig_index[i]);
    fclose(f);
    Model bd, cl;
    set_linear_model(&bd, &clean_train, 1); // standardised on clean statistics, so the trigger fires
    set_linear_model(&cl, &clean_train, 0);
    rd = (DefenseRunData){.backdoor = &bd, .clean = &cl, .train = &train, .train_clean = &clean_train,
                          .defender = &defender, .model_desc = bd.desc, .seed = 1, .test = &test,
                          .triggered_test = &trig, .attack = &a, .poison_csv = path, .max_inputs = 50};
    Model bm, cm; // fine-prune needs a hidden layer: trained mlps
    Dataset tmp;
    uint8_t t2[600];
    train_backdoored_mlp(&bm, &tmp, t2);
    ds_free(&tmp);
    build_model(&cm, "standardize, dense 16, relu, dense 16, relu, dense 2", &clean_train);
    TrainOptions o = {.epochs = 10, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .eps = 1e-8}, .seed = 5};
    assert_int_equal(train_model(&cm, &clean_train, &o), BL_OK);
    const char *names[] = {"ac", "confidence", "fine-prune"};
    for (size_t k = 0; k < BL_ARRAY_LEN(names); k++) {
        char out[256];
        snprintf(out, sizeof out, "%s/defense/%s", dir, names[k]);
        cJSON *sum = NULL;
        const int mlp = !strcmp(names[k], "fine-prune");
        rd.backdoor = mlp ? &bm : &bd, rd.clean = mlp ? &cm : &cl;
        assert_int_equal(defense_run_and_evaluate(names[k], NULL, &rd, out, NULL, &sum), BL_OK);
        if (!strcmp(names[k], "fine-prune")) { // the evaluator replays the dense ranking for the prune curve
            cJSON *pc = cJSON_GetObjectItemCaseSensitive(sum, "prune_curve");
            assert_true(cJSON_IsObject(pc));
            assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pc, "test_asr")) == 17);
            assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sum, "asr_after")));
            cJSON_Delete(sum);
            continue;
        }
        cJSON *au = cJSON_GetObjectItemCaseSensitive(sum, "auroc");
        assert_true(cJSON_IsNumber(au));
        assert_true(au->valuedouble > 0.9);
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(sum, "clean_model")));
        cJSON_Delete(sum);
    }
    // a defence that does not support records is refused by name, before it runs
    char out[256];
    snprintf(out, sizeof out, "%s/defense/nc-unlearn", dir);
    assert_int_equal(defense_run_and_evaluate("nc-unlearn", NULL, &rd, out, NULL, NULL), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "does not support records"));
    model_free(&bd);
    model_free(&cl);
    model_free(&bm);
    model_free(&cm);
    ds_free(&train);
    ds_free(&clean_train);
    ds_free(&defender);
    ds_free(&test);
    ds_free(&trig);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

// ---------------------------------------------------------------------------------------------------------
// Neural Cleanse on records: a mask over the F features, the pattern in raw units within the feature's range.

// K = 4 classes from the quadrant of (x1, x2) around 50; every tenth record (i % 10 == 3) poisoned with the
// out-of-bounds trigger on feature 0 and relabelled 0.
static void make_records4(Dataset *d, int n, int poisoned, uint64_t seed) {
    assert_int_equal(ds_alloc_records(d, n, F, 4, NULL), BL_OK);
    Rng r = rng_stream(seed, "test-records4");
    for (int i = 0; i < n; i++) {
        float *x = d->features + (size_t)i * F;
        for (int j = 0; j < F; j++) x[j] = (float)(50 + 10 * rng_normal(&r));
        d->labels[i] = (uint8_t)((x[1] > 50) + 2 * (x[2] > 50));
        if (poisoned && i % 10 == 3) x[0] = TRIGGER_VALUE, d->labels[i] = 0;
    }
}

static void check_nc_result(const DefenseResult *r, int K) {
    assert_int_equal(r->num_labels, K);
    for (int k = 0; k < K; k++) {
        assert_true(isfinite(r->label_stat[k]));
        assert_true(r->label_stat[k] >= 0 && r->label_stat[k] <= F); // the L1 of F entries in [0,1]
        assert_true(isfinite(r->anomaly_index[k]));
        for (int j = 0; j < F; j++)
            assert_true(r->reversed_mask[(size_t)k * F + j] >= 0 && r->reversed_mask[(size_t)k * F + j] <= 1);
    }
    const cJSON *ex = r->extra_json;
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ex, "sample_kind")->valuestring, "records");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(ex, "features")->valueint, F);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(ex, "labels");
    assert_int_equal(cJSON_GetArraySize(labels), K);
    // the pattern stays inside the clean split's range of each feature (there is no schema here)
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(labels, 0), "top_features");
    assert_int_equal(cJSON_GetArraySize(top), 3);
    for (int q = 0; q < 3; q++) {
        const double pv = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(top, q), "pattern")->valuedouble;
        assert_true(pv > 0 && pv < 120); // 50 + 10 N(0,1) over a few hundred records: far below the trigger's 200
    }
}

// K = 4: runs, finite norms for every label, reproducible; whether the MAD test flags the target is reported,
// not asserted. In this quadrant task one feature moved to the edge of its range already crosses a class
// boundary, so every label has a one-feature "natural" trigger as small as the backdoor's.
static void test_neural_cleanse_records(void **state) {
    (void)state;
    Dataset d, pool;
    make_records4(&d, 800, 1, 31);
    make_records4(&pool, 200, 0, 32);
    Model m;
    assert_int_equal(model_build(&m, "standardize, dense 16, relu, dense 16, relu, dense 4", train_input_shape(&d), 4,
                                 64), BL_OK);
    model_init_params(&m, 7);
    assert_int_equal(train_fit_input(&m, &d), BL_OK);
    TrainOptions o = {.epochs = 30, .batch = 32, .opt = {.kind = OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999,
                      .eps = 1e-8}, .seed = 5};
    assert_int_equal(train_model(&m, &d, &o), BL_OK);
    assert_true(mit_accuracy(&m, &pool) > 0.8);
    const char *quick[] = {"runs=2", NULL};
    DefenseResult r = run_defense("neural-cleanse", quick, &m, &d, &pool, NULL, BL_OK);
    check_nc_result(&r, 4);
    double med = 0, ai[4];
    nc_anomaly_index(r.label_stat, 4, ai, &med);
    fprintf(stderr, "neural-cleanse, records, K = 4, target 0: L1 %.3f %.3f %.3f %.3f (median %.3f), anomaly index "
                    "of the target %.3f, %s\n", r.label_stat[0], r.label_stat[1], r.label_stat[2], r.label_stat[3],
            med, r.anomaly_index[0], r.nflagged && r.flagged[0] == 0 ? "flagged" : "not flagged");
    // the same seed gives the same norms
    DefenseResult r2 = run_defense("neural-cleanse", quick, &m, &d, &pool, NULL, BL_OK);
    assert_memory_equal(r.label_stat, r2.label_stat, 4 * sizeof(double));
    defense_result_free(&r);
    defense_result_free(&r2);
    // the model's own parameters are not touched
    model_free(&m);
    ds_free(&d);
    ds_free(&pool);
}

// satellite_oob.ini's setup (6 classes, x.17 out of bounds -> class 0, 51 poisoned, seed 1) with a
// [defense.neural-cleanse] section, run in-process: every label of both models gets a finite norm; whether the
// target is flagged is reported (README: it is not; its norm is the smallest, anomaly index about 1).
static void test_neural_cleanse_satellite(void **state) {
    (void)state;
    if (access("datasets/tabular/Satellite.rda", R_OK) != 0) skip();
    char dir[64], path[512], out[256];
    snprintf(dir, sizeof dir, "/tmp/bl_ncsat_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *base = test_read_file("experiments/tabular/satellite_oob.ini");
    assert_non_null(base);
    snprintf(path, sizeof path, "%s/nc_satellite.ini", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n[defense.neural-cleanse]\n", base);
    fclose(f);
    free(base);
    snprintf(out, sizeof out, "%s/run", dir);
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = path, .out_dir = out, .threads = 2, .quiet = 1};
    Status st = experiment_run(&o);
    if (st) fprintf(stderr, "%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    snprintf(path, sizeof path, "%s/defense/neural-cleanse/summary.json", out);
    char *text = test_read_file(path);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    const cJSON *sides[2] = {j, cJSON_GetObjectItemCaseSensitive(j, "clean_model")};
    for (int s = 0; s < 2; s++) {
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(sides[s], "label_stat");
        const cJSON *ai = cJSON_GetObjectItemCaseSensitive(sides[s], "anomaly_index");
        assert_int_equal(cJSON_GetArraySize(ls), 6);
        assert_int_equal(cJSON_GetArraySize(ai), 6);
        for (int k = 0; k < 6; k++) {
            assert_true(cJSON_IsNumber(cJSON_GetArrayItem(ls, k))); // null when not finite
            const double v = cJSON_GetArrayItem(ls, k)->valuedouble;
            assert_true(v >= 0 && v <= 36);
            assert_true(cJSON_IsNumber(cJSON_GetArrayItem(ai, k)));
        }
        fprintf(stderr, "neural-cleanse, satellite, %s model: L1", s ? "clean" : "backdoored");
        for (int k = 0; k < 6; k++) fprintf(stderr, " %.3f", cJSON_GetArrayItem(ls, k)->valuedouble);
        fprintf(stderr, "; target 0's anomaly index %.3f, %s\n", cJSON_GetArrayItem(ai, 0)->valuedouble,
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sides[s], "target_found")) ? "flagged"
                                                                                         : "not flagged");
    }
    cJSON_Delete(j);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

// K = 2: it runs, and never flags: both anomaly indices are +-0.6745 whatever the norms; the caveat is in the
// result.
static void test_neural_cleanse_two_classes(void **state) {
    (void)state;
    Dataset d, pool;
    uint8_t truth[600];
    Model m;
    train_backdoored_mlp(&m, &d, truth);
    make_records(&pool, 200, NULL, 0.1, 21); // some missing values: a missing value stays missing
    const char *quick[] = {"runs=1", NULL};
    DefenseResult r = run_defense("neural-cleanse", quick, &m, &d, &pool, NULL, BL_OK);
    check_nc_result(&r, 2);
    assert_int_equal(r.nflagged, 0);
    if (r.label_stat[0] != r.label_stat[1]) {
        assert_true(fabs(fabs(r.anomaly_index[0]) - 0.6745) < 1e-3);
        assert_true(fabs(r.anomaly_index[0] + r.anomaly_index[1]) < 1e-9);
    }
    const cJSON *cav = cJSON_GetObjectItemCaseSensitive(r.extra_json, "caveat");
    assert_true(cJSON_IsString(cav));
    assert_non_null(strstr(cav->valuestring, "never"));
    fprintf(stderr, "neural-cleanse, records, K = 2, target 0: L1 %.3f %.3f\n", r.label_stat[0], r.label_stat[1]);
    defense_result_free(&r);
    // even a threshold of 0.6 (below 0.6745) cannot be crossed by both: one label at most
    const char *low[] = {"runs=1", "threshold=0.6", NULL};
    r = run_defense("neural-cleanse", low, &m, &d, &pool, NULL, BL_OK);
    assert_true(r.nflagged <= 1);
    defense_result_free(&r);
    model_free(&m);
    ds_free(&d);
    ds_free(&pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ac_spectral),
        cmocka_unit_test(test_loss_isolation),
        cmocka_unit_test(test_confidence),
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_mitigations),
        cmocka_unit_test(test_evaluator_records),
        cmocka_unit_test(test_neural_cleanse_records),
        cmocka_unit_test(test_neural_cleanse_satellite),
        cmocka_unit_test(test_neural_cleanse_two_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
