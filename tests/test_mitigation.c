// test_mitigation.c: Neural Cleanse and the mitigations on a tiny synthetic problem (12x12 images, 5 classes,
// each class a bright horizontal bar; the backdoor a 2x2 white square in the bottom-right corner -> label 0).
// A backdoored and a clean model are trained once (well under a second) and shared by the tests:
// NC must flag label 0 on the backdoored model and nothing on the clean one; fine-prune must prune in ascending
// activation order and respect its CA budget; fine-tune and nc-unlearn must return a changed model of the same
// architecture; retraining must leave the flagged samples out; bad parameters and degenerate data must give
// clear errors. Through the evaluator, fine-prune's ranking is replayed on a 32-channel model to give the prune
// curve with test CA and ASR (33 rows, row 0 = the unpruned model's numbers).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "core/rng.h"
#include "attack/attack.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "defense/mitigate.h"
#include "io/png.h"
#include "io/results.h"
#include "train/train.h"

extern const DefenseOps neural_cleanse_defense, filter_retrain_defense, fine_tune_defense, fine_prune_defense,
    nc_unlearn_defense;

#define S 12       // image side
#define NCLS 10    // classes
#define TARGET 0   // backdoor target
#define NET "conv 8 3, relu, maxpool 2, flatten, dense 10"

// Shared fixtures, built once in the group setup.
static Dataset g_train;      // poisoned training set (every 5th non-target sample triggered -> TARGET)
static Dataset g_train_cl;   // the same images, unpoisoned
static uint8_t *g_poisoned;  // (g_train.n) 1 = poisoned (the test's ground truth)
static Dataset g_clean;      // defender's clean split
static Dataset g_test;       // clean test images
static Model g_bd, g_cl;     // backdoored and clean models
static TrainOptions g_opts;  // how both were trained
static char g_dir[64];       // temp folder for defence outputs

static void stamp_trigger(uint8_t *img) {
    for (int y = S - 2; y < S; y++)
        for (int x = S - 2; x < S; x++) img[y * S + x] = 255;
}

// Class k < 5: a bright horizontal bar on row 1 + 2k; class k >= 5: a vertical bar on column 1 + 2(k - 5); over
// dim noise. Bars stop short of rows/columns 10-11, so the trigger is the only bright thing ever there.
static void make_set(Dataset *d, int n, Rng *r) {
    assert_int_equal(ds_alloc(d, n, 1, S, S, NCLS), BL_OK);
    for (int i = 0; i < n; i++) {
        int k = (int)rng_below(r, NCLS);
        uint8_t *img = d->images + (size_t)i * S * S;
        for (int p = 0; p < S * S; p++) img[p] = (uint8_t)rng_below(r, 60);
        for (int j = 0; j < 3; j++) img[rng_below(r, S * S)] = (uint8_t)(150 + rng_below(r, 106)); // distractors
        for (int x = 0; x < S; x++) {
            int at = k < 5 ? (1 + 2 * k) * S + x : x * S + 1 + 2 * (k - 5);
            img[at] = (uint8_t)(190 + rng_below(r, 66));
        }
        d->labels[i] = (uint8_t)k;
    }
}

static void train_fixture(Model *m, const Dataset *d) {
    assert_int_equal(model_build(m, NET, (Shape){1, S, S}, NCLS, 64), BL_OK);
    model_init_params(m, g_opts.seed);
    assert_int_equal(train_model(m, d, &g_opts), BL_OK);
}

static double asr_of(Model *m) {
    Dataset t;
    assert_int_equal(ds_copy(&g_test, &t), BL_OK);
    int n = 0;
    for (int i = 0; i < t.n; i++) {
        if (t.labels[i] == TARGET) continue;
        stamp_trigger(t.images + (size_t)i * S * S);
        t.labels[n] = TARGET;
        memmove(t.images + (size_t)n * S * S, t.images + (size_t)i * S * S, S * S);
        n++;
    }
    t.n = n;
    double a = mit_accuracy(m, &t);
    ds_free(&t);
    return a;
}

static int setup(void **state) {
    (void)state;
    Rng r = rng_stream(11, "test");
    make_set(&g_train_cl, 600, &r);
    make_set(&g_clean, 300, &r);
    make_set(&g_test, 300, &r);
    if (ds_copy(&g_train_cl, &g_train)) return -1;
    g_poisoned = calloc((size_t)g_train.n, 1);
    for (int i = 0, c = 0; i < g_train.n; i++)
        if (g_train.labels[i] != TARGET && c++ % 5 == 0) {
            stamp_trigger(g_train.images + (size_t)i * S * S);
            g_train.labels[i] = TARGET;
            g_poisoned[i] = 1;
        }
    g_opts = (TrainOptions){.epochs = 8, .batch = 32, .seed = 3,
                            .opt = {.kind = OPT_SGD, .lr = 0.05, .momentum = 0.9}};
    train_fixture(&g_bd, &g_train);
    train_fixture(&g_cl, &g_train_cl);
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_mitig_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) return -1;
    ds_free(&g_train);
    ds_free(&g_train_cl);
    ds_free(&g_clean);
    ds_free(&g_test);
    free(g_poisoned);
    model_free(&g_bd);
    model_free(&g_cl);
    return 0;
}

static DefenseContext make_ctx(Model *m, const DefenseParams *p) {
    return (DefenseContext){.model = m, .train = &g_train, .clean = &g_clean, .train_opts = &g_opts,
                            .model_desc = NET, .seed = 7, .params = p, .out_dir = g_dir};
}

static Status run_defense(const DefenseOps *ops, Model *m, const char *const *settings, DefenseResult *res) {
    DefenseParams p;
    Status st = defense_params_resolve(ops, settings, &p);
    if (st) return st;
    DefenseContext ctx = make_ctx(m, &p);
    memset(res, 0, sizeof *res);
    return ops->run(&ctx, res);
}

static int file_exists(const char *name) {
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    return stat(path, &sb) == 0 && sb.st_size > 0;
}

// The fixture itself must be a working backdoor, or nothing below means anything.
static void test_fixture_is_backdoored(void **state) {
    (void)state;
    assert_true(mit_accuracy(&g_bd, &g_test) > 0.9);
    assert_true(mit_accuracy(&g_cl, &g_test) > 0.9);
    assert_true(asr_of(&g_bd) > 0.9);
    assert_true(asr_of(&g_cl) < 0.5);
}

static void test_anomaly_index(void **state) {
    (void)state;
    double l1[5] = {1, 10, 11, 12, 13}, ai[5], med;
    // median 11, |dev| = 10,1,0,1,2 -> median 1 -> MAD 1.4826
    double mad = nc_anomaly_index(l1, 5, ai, &med);
    assert_float_equal(med, 11.0, 1e-12);
    assert_float_equal(mad, 1.4826, 1e-12);
    assert_float_equal(ai[0], 10.0 / 1.4826, 1e-9);
    assert_float_equal(ai[4], -2.0 / 1.4826, 1e-9);
    double two[2] = {3, 50}, ai2[2]; // K = 2: always 1/1.4826, whatever the norms
    nc_anomaly_index(two, 2, ai2, NULL);
    assert_float_equal(ai2[0], 1.0 / 1.4826, 1e-9);
    double same[4] = {5, 5, 5, 5}, ai3[4];
    assert_float_equal(nc_anomaly_index(same, 4, ai3, NULL), 0.0, 0.0);
    assert_float_equal(ai3[0], 0.0, 0.0);
}

static const char *const nc_fast[] = {"steps=100", "batches_per_step=4", NULL};

static void test_nc_flags_backdoor(void **state) {
    (void)state;
    DefenseResult res;
    assert_int_equal(run_defense(&neural_cleanse_defense, &g_bd, nc_fast, &res), BL_OK);
    assert_int_equal(res.num_labels, NCLS);
    int found = 0;
    for (int i = 0; i < res.nflagged; i++) found |= res.flagged[i] == TARGET;
    for (int k = 0; k < NCLS; k++) print_message("%.1f(%.2f) ", res.label_stat[k], res.anomaly_index[k]);
    print_message("<- backdoor L1 (AI)\n");
    assert_true(found);
    assert_true(res.anomaly_index[TARGET] > 2.0);
    // The target's reversed mask sits on the trigger: most of its mass is in the bottom-right 2x2 (+1 margin).
    const float *mk = res.reversed_mask + (size_t)TARGET * S * S;
    double in = 0, all = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            all += mk[y * S + x];
            if (y >= S - 3 && x >= S - 3) in += mk[y * S + x];
        }
    assert_true(in > 0.5 * all);
    assert_true(file_exists("label0-mask.png") && file_exists("label0-trigger.png"));
    PngInfo strip; // every label's trigger in one row, 4x upscaled, 1-pixel gaps
    char strip_path[256];
    snprintf(strip_path, sizeof strip_path, "%s/triggers.png", g_dir);
    assert_int_equal(png_probe(strip_path, &strip), BL_OK);
    assert_int_equal(strip.w, 4 * (NCLS * (S + 1) - 1));
    assert_int_equal(strip.h, 4 * S);
    assert_non_null(res.extra_json);
    defense_result_free(&res);
}

static void test_nc_clean_model(void **state) {
    (void)state;
    DefenseResult res;
    assert_int_equal(run_defense(&neural_cleanse_defense, &g_cl, nc_fast, &res), BL_OK);
    double max_ai = -1e9;
    for (int k = 0; k < res.num_labels; k++) max_ai = fmax(max_ai, res.anomaly_index[k]);
    for (int k = 0; k < NCLS; k++) print_message("%.1f(%.2f) ", res.label_stat[k], res.anomaly_index[k]);
    print_message("<- clean L1 (AI)\n");
    assert_int_equal(res.nflagged, 0);
    assert_true(max_ai < 2.0);
    defense_result_free(&res);
}

// A short NC budget for the direct nc_reverse_all tests: one run, batches of 16, λ moves every 2 steps.
static NcSettings nc_short(int steps, int batches_per_step, double succ_threshold) {
    return (NcSettings){.steps = steps, .batches_per_step = batches_per_step, .batch = 16, .lr = 0.1,
                        .init_cost = 1e-3, .succ_threshold = succ_threshold, .patience = 2, .cost_multiplier = 2,
                        .early_stop_patience = 0, .runs = 1};
}

// Same seed, same data -> bit-identical reversal: the per-label streams make NC reproducible.
static void test_nc_deterministic(void **state) {
    (void)state;
    NcSettings s = nc_short(6, 2, 0.99);
    NcReversal a, b;
    assert_int_equal(nc_reverse_all(&g_bd, &g_clean, &s, 5, &a), BL_OK);
    assert_int_equal(nc_reverse_all(&g_bd, &g_clean, &s, 5, &b), BL_OK);
    assert_memory_equal(a.mask, b.mask, sizeof(float) * NCLS * S * S);
    assert_memory_equal(a.pattern, b.pattern, sizeof(float) * NCLS * S * S);
    for (int i = 0; i < NCLS * S * S; i++) assert_true(a.mask[i] >= 0.0f && a.mask[i] <= 1.0f);
    nc_reversal_free(&a);
    nc_reversal_free(&b);
}

// runs = R: run 0 is the single run (same stream), the label's L1 is the mean over the runs and the mask kept is
// the smallest successful one, so its norm is at most both the mean and the single run's norm.
static void test_nc_runs_average(void **state) {
    (void)state;
    NcSettings s = nc_short(30, 2, 0.9);
    NcReversal one, three;
    assert_int_equal(nc_reverse_all(&g_bd, &g_clean, &s, 9, &one), BL_OK);
    s.runs = 3;
    assert_int_equal(nc_reverse_all(&g_bd, &g_clean, &s, 9, &three), BL_OK);
    int spread = 0, checked = 0;
    for (int t = 0; t < NCLS; t++) {
        assert_float_equal(one.l1_sd[t], 0.0, 0.0);
        assert_true(three.l1_sd[t] >= 0.0);
        spread += three.l1_sd[t] > 0.0;
        double kept = 0.0;
        for (int i = 0; i < S * S; i++) kept += three.mask[(size_t)t * S * S + i];
        if (one.reached[t] && three.reached[t]) {
            checked++;
            assert_true(kept <= one.l1[t] + 1e-3);
            assert_true(kept <= three.l1[t] + 1e-3);
        }
    }
    assert_true(spread > 0);  // independent inits: the runs do not all agree
    assert_true(checked > 0); // the property was tested on at least one label
    nc_reversal_free(&one);
    nc_reversal_free(&three);
}

static void test_nc_stamp(void **state) {
    (void)state;
    uint8_t img[4] = {0, 100, 200, 255};
    float mask[4] = {0, 1, 0.5f, 1}, pat[4] = {1, 0, 1, 0.5f};
    nc_stamp(img, 1, 2, 2, mask, pat);
    assert_int_equal(img[0], 0);   // mask 0: unchanged
    assert_int_equal(img[1], 0);   // mask 1: the pattern
    assert_int_equal(img[2], 228); // (200/255 + 1)/2 * 255 = 227.5 -> 228
    assert_int_equal(img[3], 128); // 0.5 * 255 = 127.5 -> 128
}

static int is_zero_channel(const Model *m, int conv, int ch) {
    const Layer *l = &m->layers[conv];
    size_t per = l->nweight / (size_t)l->units;
    for (size_t i = 0; i < per; i++)
        if (l->w[(size_t)ch * per + i] != 0.0f) return 0;
    return l->b[ch] == 0.0f;
}

static void test_fine_prune(void **state) {
    (void)state;
    const int conv = fp_last_conv(&g_bd);
    assert_int_equal(conv, 0);
    assert_int_equal(fp_tap(&g_bd, conv), 3); // after relu and maxpool
    double mean[8];
    int order[8];
    fp_channel_order(&g_bd, conv, &g_clean, mean, order);
    for (int i = 1; i < 8; i++) assert_true(mean[order[i - 1]] <= mean[order[i]]);

    // Budget 5 points absolute, prune only: the chosen prefix keeps CA within the budget and one more would not.
    const char *const set[] = {"max_ca_drop=0.05", "relative=0", "epochs=0", NULL};
    DefenseResult res;
    assert_int_equal(run_defense(&fine_prune_defense, &g_bd, set, &res), BL_OK);
    cJSON *j = res.extra_json;
    int pruned = cJSON_GetObjectItem(j, "pruned")->valueint;
    cJSON *curve = cJSON_GetObjectItem(j, "defender_ca_curve"), *ord = cJSON_GetObjectItem(j, "prune_order");
    assert_int_equal(cJSON_GetArraySize(curve), 9);
    double ca0 = cJSON_GetArrayItem(curve, 0)->valuedouble;
    for (int n = 1; n <= pruned; n++) assert_true(ca0 - cJSON_GetArrayItem(curve, n)->valuedouble <= 0.05);
    if (pruned < 8) assert_true(ca0 - cJSON_GetArrayItem(curve, pruned + 1)->valuedouble > 0.05);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(cJSON_GetArrayItem(ord, i)->valueint, order[i]); // ascending mean activation
        assert_int_equal(is_zero_channel(res.repaired, conv, order[i]), i < pruned);
    }
    assert_true(file_exists("prune_curve.csv"));
    defense_result_free(&res);

    // A looser budget prunes at least one channel; through fine-tuning the pruned channels stay at zero.
    const char *const set2[] = {"max_ca_drop=0.3", "relative=0", "epochs=2", NULL};
    assert_int_equal(run_defense(&fine_prune_defense, &g_bd, set2, &res), BL_OK);
    pruned = cJSON_GetObjectItem(res.extra_json, "pruned")->valueint;
    assert_true(pruned >= 1);
    for (int i = 0; i < pruned; i++) assert_true(is_zero_channel(res.repaired, conv, order[i]));
    assert_false(is_zero_channel(res.repaired, conv, order[7]));
    defense_result_free(&res);
}

// The evaluator replays fine-prune's whole ranking on a copy of the original model and adds test CA / ASR per
// step: 33 rows for a 32-channel layer, row 0 = the unpruned model's evaluated CA and ASR (the test set here is
// smaller than the 2000-image subset, so exactly), the channel column a permutation of 0..31, each row what
// pruning that prefix by hand gives, the stopping point marked, the gnuplot script (and PNG with gnuplot) written.
#define NET32 "conv 32 3, relu, maxpool 2, flatten, dense 10"

// Read dir/name into a NUL-terminated heap string (NULL when missing).
static char *slurp(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return read_text_file(path, 1L << 24);
}

static void check_curve_csv(const char *dir, const char *name, const cJSON *pc, int stop) {
    char *csv = slurp(dir, name);
    assert_non_null(csv);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    assert_string_equal(line, "pruned,channel,mean_activation,defender_ca,selected,test_ca,test_asr");
    int rows = 0, seen[32] = {0};
    const cJSON *tca = cJSON_GetObjectItem(pc, "test_ca"), *tasr = cJSON_GetObjectItem(pc, "test_asr");
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[8] = {0}, *p = line;
        int nf = 0;
        while (nf < 8) { // split on ',' keeping empty fields
            f[nf++] = p;
            char *c = strchr(p, ',');
            if (!c) break;
            *c = 0, p = c + 1;
        }
        assert_int_equal(nf, 7);
        assert_int_equal(atoi(f[0]), rows);
        if (rows == 0) {
            assert_string_equal(f[1], ""); // nothing pruned yet
        } else {
            int ch = atoi(f[1]);
            assert_true(ch >= 0 && ch < 32);
            assert_int_equal(seen[ch]++, 0);
        }
        assert_int_equal(atoi(f[4]), rows == stop);
        assert_float_equal(atof(f[5]), cJSON_GetArrayItem(tca, rows)->valuedouble, 5e-7);
        assert_float_equal(atof(f[6]), cJSON_GetArrayItem(tasr, rows)->valuedouble, 5e-7);
        rows++;
    }
    assert_int_equal(rows, 33);
    free(csv);
}

static void test_prune_curve_replay(void **state) {
    (void)state;
    Model bd, cl;
    assert_int_equal(model_build(&bd, NET32, (Shape){1, S, S}, NCLS, 128), BL_OK);
    assert_int_equal(model_build(&cl, NET32, (Shape){1, S, S}, NCLS, 128), BL_OK);
    model_init_params(&bd, g_opts.seed);
    model_init_params(&cl, g_opts.seed);
    TrainOptions o = g_opts;
    o.epochs = 4;
    assert_int_equal(train_model(&bd, &g_train, &o), BL_OK);
    assert_int_equal(train_model(&cl, &g_train_cl, &o), BL_OK);
    float *saved = malloc(bd.nparams * sizeof(float));
    memcpy(saved, bd.params, bd.nparams * sizeof(float));
    Dataset trig;
    assert_int_equal(ds_copy(&g_test, &trig), BL_OK);
    for (int i = 0; i < trig.n; i++) stamp_trigger(trig.images + (size_t)i * S * S);
    AttackSpec a;
    attack_spec_defaults(&a, "badnets");
    a.enabled = 1, a.target = TARGET, a.label_mode = LABEL_ALL2ONE, a.trigger_size = 2;
    DefenseRunData rd = {.backdoor = &bd, .clean = &cl, .train = &g_train, .train_clean = &g_train_cl,
                         .defender = &g_clean, .train_opts = &o, .model_desc = NET32, .seed = 7, .test = &g_test,
                         .triggered_test = &trig, .attack = &a};
    char dir[128];
    snprintf(dir, sizeof dir, "%s/fp-eval", g_dir);
    const char *const set[] = {"epochs=1", NULL};
    cJSON *sum = NULL;
    assert_int_equal(defense_run_and_evaluate("fine-prune", set, &rd, dir, NULL, &sum), BL_OK);
    assert_memory_equal(saved, bd.params, bd.nparams * sizeof(float)); // replayed on a copy
    // The keys other code reads are still there.
    const char *keys[] = {"ca_before", "asr_before", "ca_after", "asr_after", "ra_after", "der", "seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(sum, keys[i])));
    const cJSON *pc = cJSON_GetObjectItem(sum, "prune_curve"), *ex = cJSON_GetObjectItem(sum, "extra");
    assert_non_null(pc);
    const cJSON *tca = cJSON_GetObjectItem(pc, "test_ca"), *tasr = cJSON_GetObjectItem(pc, "test_asr");
    assert_int_equal(cJSON_GetArraySize(tca), 33);
    assert_int_equal(cJSON_GetArraySize(tasr), 33);
    assert_int_equal(cJSON_GetObjectItem(pc, "test_samples")->valueint, g_test.n);
    // Row 0 is the unpruned model, measured the same way as ca_before / asr_before: equal to the bit.
    assert_true(cJSON_GetArrayItem(tca, 0)->valuedouble == cJSON_GetObjectItem(sum, "ca_before")->valuedouble);
    assert_true(cJSON_GetArrayItem(tasr, 0)->valuedouble == cJSON_GetObjectItem(sum, "asr_before")->valuedouble);
    const int stop = cJSON_GetObjectItem(ex, "pruned")->valueint;
    assert_int_equal(cJSON_GetObjectItem(pc, "stop")->valueint, stop);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ex, "prune_order")), 32); // the whole ranking
    check_curve_csv(dir, "prune_curve.csv", pc, stop);
    // Any row = pruning that prefix of the ranking by hand on the original model.
    const cJSON *ord = cJSON_GetObjectItem(ex, "prune_order");
    const int ks[] = {1, stop, 16, 31, 32};
    for (size_t t = 0; t < sizeof ks / sizeof *ks; t++) {
        Model *m = NULL;
        assert_int_equal(mit_clone(&bd, bd.max_batch, &m), BL_OK);
        for (int i = 0; i < ks[t]; i++) fp_zero_channel(m, 0, cJSON_GetArrayItem(ord, i)->valueint);
        assert_true(mit_accuracy(m, &g_test) == cJSON_GetArrayItem(tca, ks[t])->valuedouble);
        mit_destroy(m);
    }
    char *gp = slurp(dir, "prune_curve.gp");
    assert_non_null(gp);
    assert_non_null(strstr(gp, "prune_curve.csv"));
    free(gp);
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) assert_true(file_exists("fp-eval/prune_curve.png"));
    else print_message("gnuplot not on PATH: PNG not checked\n");
    // The clean-model control gets its own curve.
    const cJSON *cm = cJSON_GetObjectItem(sum, "clean_model"), *cpc = cJSON_GetObjectItem(cm, "prune_curve");
    assert_non_null(cpc);
    assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(cpc, "test_ca"), 0)->valuedouble ==
                cJSON_GetObjectItem(cm, "ca_before")->valuedouble);
    const int cstop = cJSON_GetObjectItem(cJSON_GetObjectItem(cm, "extra"), "pruned")->valueint;
    check_curve_csv(dir, "prune_curve-clean.csv", cpc, cstop);
    print_message("prune curve: stop %d, test CA %.3f -> %.3f, ASR %.3f -> %.3f at the stop\n", stop,
                  cJSON_GetArrayItem(tca, 0)->valuedouble, cJSON_GetArrayItem(tca, stop)->valuedouble,
                  cJSON_GetArrayItem(tasr, 0)->valuedouble, cJSON_GetArrayItem(tasr, stop)->valuedouble);
    cJSON_Delete(sum);
    free(saved);
    ds_free(&trig);
    model_free(&bd);
    model_free(&cl);
}

static int same_arch_changed(const Model *a, const Model *b) {
    if (strcmp(a->desc, b->desc) || a->nparams != b->nparams) return 0;
    return memcmp(a->params, b->params, a->nparams * sizeof(float)) != 0;
}

static void test_fine_tune(void **state) {
    (void)state;
    float *before = malloc(g_bd.nparams * sizeof(float));
    memcpy(before, g_bd.params, g_bd.nparams * sizeof(float));
    DefenseResult res;
    assert_int_equal(run_defense(&fine_tune_defense, &g_bd, NULL, &res), BL_OK);
    assert_non_null(res.repaired);
    assert_true(same_arch_changed(&g_bd, res.repaired));
    assert_memory_equal(before, g_bd.params, g_bd.nparams * sizeof(float)); // the model under test is untouched
    assert_true(mit_accuracy(res.repaired, &g_test) > 0.8);
    free(before);
    defense_result_free(&res);
}

static void test_nc_unlearn(void **state) {
    (void)state;
    const char *const set[] = {"steps=100", "batches_per_step=4", "epochs=3", NULL};
    DefenseResult res;
    assert_int_equal(run_defense(&nc_unlearn_defense, &g_bd, set, &res), BL_OK);
    assert_non_null(res.repaired);
    assert_true(same_arch_changed(&g_bd, res.repaired));
    cJSON *j = res.extra_json;
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "unlearned")));
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "unlearned_labels"), 0)->valueint, TARGET);
    double before = asr_of(&g_bd), after = asr_of(res.repaired);
    print_message("unlearn: ASR %.3f -> %.3f, CA %.3f\n", before, after, mit_accuracy(res.repaired, &g_test));
    assert_true(after < before);
    defense_result_free(&res);

    // Nothing flagged (a threshold no label can pass): by default the model comes back unchanged, no "success".
    const char *const none[] = {"steps=5", "threshold=100", NULL};
    assert_int_equal(run_defense(&nc_unlearn_defense, &g_bd, none, &res), BL_OK);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(res.extra_json, "unlearned")));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(res.extra_json, "success")));
    assert_memory_equal(res.repaired->params, g_bd.params, g_bd.nparams * sizeof(float));
    defense_result_free(&res);
}

// A guard that cannot be met (max_ca_drop = 0 and a wrecking learning rate) must refuse, not report success.
// when_none = 1 unlearns the smallest trigger even though nothing is flagged.
static void test_nc_unlearn_guard(void **state) {
    (void)state;
    const char *const set[] = {"steps=10", "threshold=100", "when_none=1", "ft_lr=1", "epochs=3", "max_ca_drop=0",
                               NULL};
    DefenseResult res;
    assert_int_equal(run_defense(&nc_unlearn_defense, &g_bd, set, &res), BL_OK);
    cJSON *j = res.extra_json;
    double b = cJSON_GetObjectItem(j, "ca_val_before")->valuedouble, a = cJSON_GetObjectItem(j, "ca_val_after")->valuedouble;
    assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(j, "refused")), b - a > 0);
    if (b - a > 0) {
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "success")));
        assert_non_null(strstr(res.notes, "REFUSED"));
    }
    defense_result_free(&res);
}

// Retraining without the flagged samples equals training from scratch on exactly the unflagged ones.
static void test_retrain_excludes_flagged(void **state) {
    (void)state;
    DefenseParams p;
    assert_int_equal(defense_params_resolve(&filter_retrain_defense, NULL, &p), BL_OK);
    DefenseContext ctx = make_ctx(&g_bd, &p);
    Model *m = NULL;
    int kept = 0;
    assert_int_equal(mit_retrain_without(&ctx, g_poisoned, &m, &kept), BL_OK);
    int npois = 0;
    for (int i = 0; i < g_train.n; i++) npois += g_poisoned[i];
    assert_int_equal(kept, g_train.n - npois);
    assert_true(asr_of(m) < 0.5); // the backdoor is gone with its samples
    // Reference: ds_select of the unflagged samples, same init and options.
    int *idx = malloc(sizeof(int) * (size_t)g_train.n), k = 0;
    for (int i = 0; i < g_train.n; i++)
        if (!g_poisoned[i]) idx[k++] = i;
    Dataset sub;
    assert_int_equal(ds_select(&g_train, idx, k, &sub), BL_OK);
    Model ref;
    train_fixture(&ref, &sub);
    assert_memory_equal(ref.params, m->params, ref.nparams * sizeof(float));
    model_free(&ref);
    ds_free(&sub);
    free(idx);
    mit_destroy(m);

    // Everything flagged: nothing to train on, a clear error.
    uint8_t *all = malloc((size_t)g_train.n);
    memset(all, 1, (size_t)g_train.n);
    assert_int_equal(mit_retrain_without(&ctx, all, &m, &kept), BL_ERR_DATA);
    assert_null(m);
    free(all);
}

// Through the registry: the detector's flags are what gets dropped.
static void test_filter_retrain_registry(void **state) {
    (void)state;
    if (!defense_find("spectral") || !defense_find("spectral")->run) {
        print_message("spectral not registered: skipped\n");
        return;
    }
    DefenseResult res;
    assert_int_equal(run_defense(&filter_retrain_defense, &g_bd, (const char *const[]){"detector=0", NULL}, &res),
                     BL_OK);
    assert_non_null(res.repaired);
    assert_non_null(res.sample_flag);
    int nflag = 0;
    for (int i = 0; i < g_train.n; i++) nflag += res.sample_flag[i];
    assert_int_equal(cJSON_GetObjectItem(res.extra_json, "retrained_on")->valueint, g_train.n - nflag);
    defense_result_free(&res);
    // eps reaches spectral: a larger expected poison fraction removes more (about 1.5 eps of each label)
    assert_int_equal(run_defense(&filter_retrain_defense, &g_bd,
                                 (const char *const[]){"detector=0", "eps=0.3", NULL}, &res), BL_OK);
    int nflag3 = 0;
    for (int i = 0; i < g_train.n; i++) nflag3 += res.sample_flag[i];
    assert_true(nflag3 > 2 * nflag);
    defense_result_free(&res);
    // and applies to spectral only
    assert_int_equal(run_defense(&filter_retrain_defense, &g_bd,
                                 (const char *const[]){"detector=1", "eps=0.3", NULL}, &res), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "spectral"));
}

static void test_params_and_bad_input(void **state) {
    (void)state;
    DefenseParams p;
    const char *const bad1[] = {"steps=0", NULL}, *const bad2[] = {"full=2", NULL}, *const bad3[] = {"bogus=1", NULL};
    assert_int_equal(defense_params_resolve(&neural_cleanse_defense, bad1, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(&neural_cleanse_defense, bad2, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(&neural_cleanse_defense, bad3, &p), BL_ERR_USAGE);
    const char *const bad4[] = {"detector=3", NULL}, *const bad5[] = {"max_ca_drop=-0.1", NULL};
    assert_int_equal(defense_params_resolve(&filter_retrain_defense, bad4, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(&fine_prune_defense, bad5, &p), BL_ERR_USAGE);
    const char *const bad6[] = {"val_fraction=0", NULL}, *const bad7[] = {"ratio=nan", NULL};
    assert_int_equal(defense_params_resolve(&fine_tune_defense, bad6, &p), BL_ERR_USAGE);
    assert_int_equal(defense_params_resolve(&nc_unlearn_defense, bad7, &p), BL_ERR_USAGE);
    // full = 1 switches to the paper's budget.
    const char *const full[] = {"full=1", NULL};
    NcSettings s;
    assert_int_equal(defense_params_resolve(&neural_cleanse_defense, full, &p), BL_OK);
    nc_settings_from_params(&neural_cleanse_defense, &p, &s);
    assert_int_equal(s.steps, 1000);
    assert_int_equal(s.batches_per_step, 31);

    // An empty clean split: NC and the mitigations say what is missing.
    Dataset empty, saved = g_clean;
    assert_int_equal(ds_alloc(&empty, 0, 1, S, S, NCLS), BL_OK);
    g_clean = empty;
    DefenseResult res;
    assert_int_equal(run_defense(&neural_cleanse_defense, &g_bd, NULL, &res), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "defender"));
    defense_result_free(&res);
    assert_int_equal(run_defense(&fine_tune_defense, &g_bd, NULL, &res), BL_ERR_DATA);
    defense_result_free(&res);
    assert_int_equal(run_defense(&fine_prune_defense, &g_bd, NULL, &res), BL_ERR_DATA);
    defense_result_free(&res);
    g_clean = saved;
    ds_free(&empty);

    // One clean image of an all-black kind: NC runs (batch shrinks to 1) without NaN or a crash.
    Dataset one;
    assert_int_equal(ds_alloc(&one, 1, 1, S, S, NCLS), BL_OK);
    NcSettings s1 = {.steps = 3, .batches_per_step = 2, .batch = 32, .lr = 0.1, .init_cost = 1e-3,
                     .succ_threshold = 0.99, .patience = 1, .cost_multiplier = 2, .runs = 1};
    NcReversal r;
    assert_int_equal(nc_reverse_all(&g_bd, &one, &s1, 1, &r), BL_OK);
    for (int k = 0; k < NCLS; k++) assert_true(isfinite(r.l1[k]));
    nc_reversal_free(&r);
    ds_free(&one);

    // No conv layer: fine-prune refuses clearly.
    Model dense;
    assert_int_equal(model_build(&dense, "flatten, dense 10", (Shape){1, S, S}, NCLS, 64), BL_OK);
    assert_int_equal(run_defense(&fine_prune_defense, &dense, NULL, &res), BL_ERR_USAGE);
    defense_result_free(&res);
    model_free(&dense);
}

// The training-loop hook runs after every update (fine-pruning relies on it).
static int g_hook_calls;
static void count_hook(void *ctx, Model *m) {
    (void)m;
    (*(int *)ctx)++;
}

static void test_train_after_step_hook(void **state) {
    (void)state;
    Model m;
    assert_int_equal(model_build(&m, NET, (Shape){1, S, S}, NCLS, 64), BL_OK);
    model_init_params(&m, 1);
    TrainOptions o = g_opts;
    o.epochs = 2;
    o.after_step = count_hook;
    o.step_ctx = &g_hook_calls;
    g_hook_calls = 0;
    assert_int_equal(train_model(&m, &g_clean, &o), BL_OK);
    assert_int_equal(g_hook_calls, 2 * ((g_clean.n + 31) / 32));
    model_free(&m);
}

int main(void) {
    // The fixtures are tiny: with several threads OpenMP's fork/join costs more than the work, and on a loaded
    // machine spinning threads make the file take minutes. Results do not depend on the thread count.
    bl_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_is_backdoored),
        cmocka_unit_test(test_anomaly_index),
        cmocka_unit_test(test_nc_stamp),
        cmocka_unit_test(test_nc_flags_backdoor),
        cmocka_unit_test(test_nc_clean_model),
        cmocka_unit_test(test_nc_deterministic),
        cmocka_unit_test(test_nc_runs_average),
        cmocka_unit_test(test_fine_prune),
        cmocka_unit_test(test_prune_curve_replay),
        cmocka_unit_test(test_fine_tune),
        cmocka_unit_test(test_nc_unlearn),
        cmocka_unit_test(test_nc_unlearn_guard),
        cmocka_unit_test(test_retrain_excludes_flagged),
        cmocka_unit_test(test_filter_retrain_registry),
        cmocka_unit_test(test_params_and_bad_input),
        cmocka_unit_test(test_train_after_step_hook),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
