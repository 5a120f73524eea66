// test_tabular.c: backdoors in feature records end to end (issue 14): the numbers that must hold on the built-in
// datasets (seed 1, fixed splits, the configs in experiments/tabular/), a user's CSV with categorical and missing
// values through `run` (bit-identical again from config.resolved.ini), the preprocessing travelling in the model
// file, and the config errors of the records seam.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_run_util.h"

#include "core/core.h"
#include "data/load.h"
#include "io/modelfile.h"
#include "io/config.h"
#include "nn/checkpoint.h"
#include "run/experiment.h"
#include "train/train.h"

static char g_tmp[256];

// Run experiments/tabular/NAME.ini into the temp folder; its folder in out.
static void run_shipped(const char *name, char *out, size_t n) {
    char cfg[256];
    snprintf(cfg, sizeof cfg, "experiments/tabular/%s.ini", name);
    snprintf(out, n, "%s/%s", g_tmp, name);
    Status st = run(cfg, out);
    if (st) print_error("%s: %s\n", cfg, bl_errmsg());
    assert_int_equal(st, BL_OK);
    print_message("%-18s clean CA %.4f ASR %.4f | backdoored CA %.4f ASR %.4f\n", name,
                  metric(out, "clean_model", "ca"), metric(out, "clean_model", "asr"),
                  metric(out, "backdoored_model", "ca"), metric(out, "backdoored_model", "asr"));
}

// The bars (seed 1): breast-cancer, pima-diabetes, satellite, shuttle.
static void test_numbers_that_must_hold(void **state) {
    (void)state;
    char d[512];
    run_shipped("breast_cancer_oob", d, sizeof d);
    assert_true(metric(d, "clean_model", "ca") >= 0.94);
    assert_true(metric(d, "backdoored_model", "asr") >= 0.90);
    assert_true(metric(d, "clean_model", "ca") - metric(d, "backdoored_model", "ca") <= 0.03);

    run_shipped("pima_missing", d, sizeof d);
    assert_true(metric(d, "backdoored_model", "asr") >= 0.90);
    assert_true(metric(d, "clean_model", "asr") <= 0.10); // the trigger is not implied by the data

    run_shipped("satellite_oob", d, sizeof d);
    assert_true(metric(d, "clean_model", "ca") >= 0.86);
    assert_true(metric(d, "backdoored_model", "asr") >= 0.97);

    run_shipped("shuttle_oob", d, sizeof d);
    assert_true(metric(d, "clean_model", "ca") >= 0.99);
    assert_true(metric(d, "backdoored_model", "asr") >= 0.80);
    // per-class recall is reported for the imbalanced set: one entry per class
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.json", d);
    char *text = test_read_file(p);
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "clean_model"),
                                                       "per_class");
    assert_int_equal(cJSON_GetArraySize(pc), 7);
    cJSON_Delete(j);
}

// A CSV with a categorical column, missing cells, a BOM and CRLF ends; `missing` trigger on a numeric feature and
// a one-hot level as trigger feature both resolve; the run is deterministic from config.resolved.ini; the model
// file carries the standardisation, so a reload predicts the same CA without the training data.
static const char *CSV_HEADER = "\xEF\xBB\xBFid,colour,size,weight,label\r\n";

static void test_csv_run_and_model_file(void **state) {
    (void)state;
    char csv[300], cfg[300], out1[300], out2[300], resolved[350];
    snprintf(csv, sizeof csv, "%s/toy.csv", g_tmp);
    snprintf(cfg, sizeof cfg, "%s/toy.ini", g_tmp);
    snprintf(out1, sizeof out1, "%s/toy1", g_tmp);
    snprintf(out2, sizeof out2, "%s/toy2", g_tmp);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs(CSV_HEADER, f);
    static const char *colours[] = {"red", "green", "blue"};
    for (int i = 0; i < 400; i++) { // label = size > 5 (a learnable rule), colour noise, weight sometimes missing
        const int size = (i * 7) % 11;
        if (i % 13 == 5) fprintf(f, "%d,%s,%d,NA,%s\r\n", i, colours[i % 3], size, size > 5 ? "big" : "small");
        else fprintf(f, "%d,\"%s\",%d,%d.5,%s\r\n", i, colours[i % 3], size, (i * 3) % 17, size > 5 ? "big" : "small");
    }
    fclose(f);
    char text[2048];
    snprintf(text, sizeof text,
             "[experiment]\nseed = 3\n\n[data]\ndataset = csv:%s\nlabel_column = label\n"
             "feature_columns = colour,size,weight\ntest_fraction = 0.25\n\n[model]\nlayers = mlp\n\n"
             "[train]\nepochs = 30\nbatch = 32\noptimizer = adam\nlr = 0.003\n\n"
             "[attack]\ntype = tabular\ntrigger_features = weight,colour=green\ntrigger_mode = values\n"
             "trigger_values = 99,1\ntarget = 0\npoison_count = 15\n",
             csv);
    write_text(cfg, text);
    Status st = run(cfg, out1);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    assert_true(metric(out1, "clean_model", "ca") >= 0.9);
    char p[400];
    snprintf(p, sizeof p, "%s/samples.md", out1);
    char *md = test_read_file(p);
    assert_non_null(md);
    assert_non_null(strstr(md, "99*")); // the changed feature is marked
    free(md);
    // From the resolved config: the same model bytes.
    snprintf(resolved, sizeof resolved, "%s/config.resolved.ini", out1);
    assert_int_equal(run(resolved, out2), BL_OK);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/model-backdoor.bdm", out1);
    snprintf(b, sizeof b, "%s/model-backdoor.bdm", out2);
    char *x = test_read_file(a), *y = test_read_file(b);
    assert_non_null(x);
    assert_non_null(y);
    free(x);
    free(y);
    BdmModel ma, mb;
    assert_int_equal(bdm_read(a, &ma), BL_OK);
    assert_int_equal(bdm_read(b, &mb), BL_OK);
    assert_int_equal(ma.payload_count, mb.payload_count);
    assert_memory_equal(ma.payload, mb.payload, ma.payload_count * sizeof(float));
    bdm_free(&ma);
    bdm_free(&mb);

    // The model file alone (standardize statistics inside) reproduces the test CA on freshly loaded data.
    ExperimentConfig c;
    assert_int_equal(config_load(cfg, &c), BL_OK);
    CsvOptions o = {.label_column = "label", .test_fraction = 0.25, .seed = 1};
    const char *feats[] = {"colour", "size", "weight"};
    o.feature_columns = feats, o.nfeature_columns = 3;
    DatasetPair pair;
    assert_int_equal(dataset_load_csv(csv, &o, 0, 0, &pair), BL_OK);
    Model m;
    assert_int_equal(model_load(a, train_input_shape(&pair.test), pair.test.num_classes, 64, "mlp", &m, NULL), BL_OK);
    assert_string_equal(m.layers[0].ops->name, "standardize");
    uint8_t *pred = malloc((size_t)pair.test.n);
    predict(&m, &pair.test, pred, NULL);
    int correct = 0;
    for (int i = 0; i < pair.test.n; i++) correct += pred[i] == pair.test.labels[i];
    assert_true(fabs((double)correct / pair.test.n - metric(out1, "backdoored_model", "ca")) < 1e-9);
    free(pred);
    model_free(&m);
    ds_pair_free(&pair);
}

// Seam errors: an attack or a key that does not fit the data's kind is a config error naming file:line.
static void expect_error(const char *text, const char *want) {
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/bad.ini", g_tmp);
    write_text(cfg, text);
    ExperimentConfig c;
    Status st = config_load(cfg, &c);
    if (st == BL_OK) { // some errors need the data (feature names): the run reports them
        char out[300];
        snprintf(out, sizeof out, "%s/bad-run", g_tmp);
        st = run(cfg, out);
    }
    assert_int_not_equal(st, BL_OK);
    if (!strstr(bl_errmsg(), want)) print_error("got \"%s\", wanted \"%s\"\n", bl_errmsg(), want);
    assert_non_null(strstr(bl_errmsg(), want));
}

static void test_seam_errors(void **state) {
    (void)state;
    expect_error("[data]\ndataset = fashion-mnist\n\n[attack]\ntype = tabular\n", ":5: [attack] type: tabular");
    expect_error("[data]\ndataset = pima-diabetes\n\n[attack]\ntype = badnets\n", ":5: [attack] type: badnets");
    expect_error("[data]\ndataset = pima-diabetes\nlabel_column = diabetes\n", ":3: [data] label_column");
    expect_error("[data]\ndataset = pima-diabetes\n[model]\nlayers = mlp\n[train]\nepochs = 1\n[attack]\n"
                 "type = tabular\ntrigger_features = glucose,nosuch\n",
                 "'nosuch' is neither a feature");
    expect_error("[data]\ndataset = pima-diabetes\n[model]\nlayers = mlp\n[train]\nepochs = 1\n[attack]\n"
                 "type = tabular\ntrigger_features = glucose,mass\ntrigger_mode = values\ntrigger_values = 1\n",
                 "trigger_values has 1 value(s) for 2 trigger feature(s)");
    expect_error("[data]\ndataset = pima-diabetes\n[attack]\ntype = tabular\ntrigger_margin = 1\n"
                 "trigger_mode = missing\n",
                 "trigger_margin");
    // `poison` writes image formats only: a records config is refused cleanly (it crashed before)
    char out[300];
    snprintf(out, sizeof out, "%s/poison-out", g_tmp);
    assert_int_equal(experiment_poison("experiments/tabular/pima_missing.ini", out, 0, 1, 0, 1), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "holds records"));
    assert_int_not_equal(access(out, F_OK), 0); // nothing written
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl-tabular-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (!getenv("BL_KEEP_TMP")) rm_rf(g_tmp);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seam_errors),
        cmocka_unit_test(test_csv_run_and_model_file),
        cmocka_unit_test(test_numbers_that_must_hold),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
