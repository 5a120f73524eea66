// test_reproduce.c: paper reproduction (issue 8): [paper] claims, `seeds`, [sweep], multi-run summaries and the
// reproduce report, down to a tiny end-to-end run whose verdicts are checked.
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

#include "io/config.h"
#include "io/paper.h"
#include "io/results.h"
#include "run/experiment.h"
#include "run/multirun.h"
#include "run/reproduce.h"
#include "test_util.h"

// ---------------------------------------------------------------------------------------------- claims

static void test_claim_parse(void **state) {
    (void)state;
    PaperClaim c;
    char err[300];
    memset(&c, 0, sizeof c);
    assert_true(paper_parse_claim("backdoored_model/asr | 99.86% | 1.0 | 10 | verified", &c, err, sizeof err));
    assert_string_equal(c.metric, "backdoored_model/asr");
    assert_int_equal(c.op, CLAIM_NEAR);
    assert_true(c.percent);
    assert_true(fabs(c.value - 99.86) < 1e-12);
    assert_true(fabs(c.tol - 1.0) < 1e-12 && fabs(c.quick_tol - 10) < 1e-12);
    assert_true(c.verified);
    assert_true(paper_parse_claim(" clean_model/ca - backdoored_model/ca @ 50 | <= 0.17% | - | 3 | unverified ", &c,
                                  err, sizeof err));
    assert_string_equal(c.metric, "clean_model/ca - backdoored_model/ca");
    assert_string_equal(c.at, "50");
    assert_int_equal(c.op, CLAIM_LE);
    assert_true(c.tol < 0);
    assert_false(c.verified);
    assert_true(paper_parse_claim("defenses/neural-cleanse/anomaly_index/0 | > 2 | 0 | 0 | unverified", &c, err,
                                  sizeof err));
    assert_int_equal(c.op, CLAIM_GT);
    assert_false(c.percent);
    char text[64];
    paper_claim_value_text(&c, text, sizeof text);
    assert_string_equal(text, "> 2");
    // errors say what is wrong
    const char *bad[] = {
        "backdoored_model/asr | 99% | 1 | 1",                // 4 fields
        "backdoored_model/asr | 99% | 1 | 1 | verified | x", // 6 fields
        "backdoored model | 99% | 1 | 1 | verified",        // space in a path
        "a//b | 99% | 1 | 1 | verified",                    // empty part
        "a/b | ninety | 1 | 1 | verified",                  // not a number
        "a/b | 99 | -1 | 1 | verified",                     // negative tolerance
        "a/b | 99 | 1 | 1 | maybe",                         // status
        "a/b @ | 99 | 1 | 1 | verified",                    // '@' without a value
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_false(paper_parse_claim(bad[i], &c, err, sizeof err));
        assert_true(strlen(err) > 10);
    }
}

static void test_claim_verdict(void **state) {
    (void)state;
    PaperClaim c;
    char err[300];
    memset(&c, 0, sizeof c);
    assert_true(paper_parse_claim("x | 99% | 1 | 5 | verified", &c, err, sizeof err));
    assert_true(fabs(paper_claim_scale(&c, 0.985) - 98.5) < 1e-9);
    double near[] = {98.5, 98.0, 99.6}; // mean 98.7: within 1
    assert_int_equal(paper_claim_verdict(&c, near, 3, 0), VERDICT_WITHIN);
    double far[] = {97.0, 97.5}; // mean 97.25: outside 1, within the quick 5
    assert_int_equal(paper_claim_verdict(&c, far, 2, 0), VERDICT_OUTSIDE);
    assert_int_equal(paper_claim_verdict(&c, far, 2, 1), VERDICT_WITHIN);
    double nan1[] = {99.0, NAN};
    assert_int_equal(paper_claim_verdict(&c, nan1, 2, 0), VERDICT_MISSING);
    assert_int_equal(paper_claim_verdict(&c, near, 0, 0), VERDICT_MISSING);
    // one-sided claims must hold for every seed, not on average
    assert_true(paper_parse_claim("x | > 2 | 0 | - | unverified", &c, err, sizeof err));
    double ai[] = {3.9, 4.2, 1.9}; // mean 3.33 > 2, but one seed is not
    assert_int_equal(paper_claim_verdict(&c, ai, 3, 0), VERDICT_OUTSIDE);
    assert_int_equal(paper_claim_verdict(&c, ai, 2, 0), VERDICT_WITHIN);
    assert_int_equal(paper_claim_verdict(&c, ai, 2, 1), VERDICT_NONE); // quick tolerance '-'
    double two[] = {2.0};
    assert_int_equal(paper_claim_verdict(&c, two, 1, 0), VERDICT_OUTSIDE); // strictly above
    assert_true(paper_parse_claim("x | <= 0.4% | 1 | - | verified", &c, err, sizeof err));
    double drop[] = {1.3, 1.4};
    assert_int_equal(paper_claim_verdict(&c, drop, 2, 0), VERDICT_WITHIN);
    drop[1] = 1.41;
    assert_int_equal(paper_claim_verdict(&c, drop, 2, 0), VERDICT_OUTSIDE);
}

// ---------------------------------------------------------------------------------------------- config

#define PAPER_CFG                                                                                                  \
    "[experiment]\nname = p\nseeds = 3, 1,2\n[attack]\ntype = blended\n[sweep]\nkey = attack.poison_count\n"       \
    "values = 10,50\n[paper]\nreference = Someone 2017\n"                                                          \
    "claim.asr = backdoored_model/asr @ 50 | > 90% | 0 | - | verified\nsource.asr = abstract\n"                    \
    "note.asr = other data\n"

static void test_config_multi(void **state) {
    (void)state;
    ExperimentConfig *c = malloc(sizeof *c), *d = malloc(sizeof *d);
    assert_int_equal(config_load_string(PAPER_CFG, "p.ini", c), BL_OK);
    assert_int_equal(c->experiment.nseeds, 3);
    assert_int_equal(c->experiment.seeds[0], 3);
    assert_int_equal(c->experiment.seed, 3); // the first seed
    assert_true(c->sweep.enabled);
    assert_string_equal(c->sweep.key, "poison_count");
    assert_int_equal(c->sweep.nvalues, 2);
    assert_int_equal(c->attack.poison_count, 10); // the loaded config is the first point
    assert_true(c->paper.enabled);
    assert_int_equal(c->paper.nclaims, 1);
    assert_string_equal(c->paper.claims[0].at, "50");
    assert_string_equal(c->paper.claims[0].note, "other data");
    assert_int_equal(c->paper.claims[0].line, 11);
    assert_true(config_is_multi(c));
    // the resolved config reads back to the same config and the same text
    char *r1 = config_resolved_string(c);
    assert_non_null(strstr(r1, "seeds = 3,1,2\n"));
    assert_null(strstr(r1, "\nseed = "));
    assert_int_equal(config_load_string(r1, "p.ini", d), BL_OK);
    char *r2 = config_resolved_string(d);
    assert_string_equal(r1, r2);
    free(r1);
    free(r2);
    // one run of it: sweep value applied, seed set, the multi-run parts gone
    MultiRun *mr = malloc(sizeof *mr);
    multirun_plan(c, "/tmp/x", 0, mr);
    assert_int_equal(mr->npoints, 2);
    assert_int_equal(mr->nseeds, 3);
    char dir[4096];
    multirun_dir(mr, c, 1, 2, dir, sizeof dir);
    assert_string_equal(dir, "/tmp/x/poison_count-50/seed-2");
    assert_int_equal(multirun_config(c, "p.ini", mr, 1, 2, 0, d), BL_OK);
    assert_int_equal(d->attack.poison_count, 50);
    assert_int_equal(d->experiment.seed, 2);
    assert_false(config_is_multi(d));
    assert_false(d->paper.enabled);
    multirun_plan(c, NULL, 1, mr); // quick: first seed only
    assert_int_equal(mr->nseeds, 1);
    assert_string_equal(mr->root, "results/p");
    free(mr);
    // config_set checks like the parser and never half-applies
    assert_int_equal(config_set(c, "train", "lr", "-1", "p.ini", 7), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "p.ini:7"));
    assert_true(c->train.lr > 0);
    assert_int_equal(config_set(c, "experiment", "seed", "5", "p.ini", 7), BL_ERR_USAGE);
    assert_int_equal(config_set(c, "train", "epochs", "7", "p.ini", 7), BL_OK);
    assert_int_equal(c->train.epochs, 7);
    free(c);
    free(d);
}

static void expect_error(const char *text, const char *where, const char *what) {
    ExperimentConfig *c = malloc(sizeof *c);
    Status st = config_load_string(text, "e.ini", c);
    if (st != BL_ERR_USAGE || !strstr(bl_errmsg(), where) || !strstr(bl_errmsg(), what))
        print_error("for:\n%s\ngot: %s\n", text, bl_errmsg());
    assert_int_equal(st, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), where));
    assert_non_null(strstr(bl_errmsg(), what));
    free(c);
}

static void test_config_multi_errors(void **state) {
    (void)state;
    expect_error("[experiment]\nseed = 1\nseeds = 1,2\n", "e.ini:3", "alternatives");
    expect_error("[experiment]\nseeds = 1,1\n", "e.ini:2", "distinct");
    expect_error("[experiment]\nseeds = 1,x\n", "e.ini:2", "unsigned");
    expect_error("[attack]\n[sweep]\nkey = attack.poison_count\nvalues = 10,-5\n", "e.ini:4", "poison_count");
    expect_error("[attack]\npoison_rate = 0.1\n[sweep]\nkey = attack.poison_count\nvalues = 10\n", "e.ini:",
                 "alternatives");
    expect_error("[sweep]\nkey = experiment.seed\nvalues = 1,2\n", "e.ini:2", "outside [experiment]");
    expect_error("[sweep]\nkey = train.nope\nvalues = 1,2\n", "e.ini:2", "SECTION.KEY");
    expect_error("[sweep]\nkey = train.epochs\n", "e.ini:2", "needs both");
    expect_error("[sweep]\nkey = train.epochs\nvalues = 1,1\n", "e.ini:3", "distinct");
    expect_error("[paper]\nclaim.a = x | 1 | 1 | 1 | verified\nsource.a = T1\n", "e.ini", "reference");
    expect_error("[paper]\nreference = R\nclaim.a = x | 1 | 1 | 1 | verified\n", "e.ini:3", "source.a");
    expect_error("[paper]\nreference = R\nsource.b = T1\n", "e.ini", "without claim.b");
    expect_error("[paper]\nreference = R\nclaim.a = x | 1 | 1 | 1 | sure\nsource.a = T\n", "e.ini:3", "status");
    expect_error("[paper]\nreference = R\nclaim.a = x @ 5 | 1 | 1 | 1 | verified\nsource.a = T\n", "e.ini:3",
                 "[sweep]");
    expect_error("[paper]\nreference = R\nfoo.a = 1\n", "e.ini:3", "unknown key");
    expect_error("[paper]\nreference = R\nclaim.a = x | 1 | 1 | 1 | verified\nclaim.a = x | 1 | 1 | 1 | verified\n",
                 "e.ini:4", "duplicate");
    expect_error("[train]\nepochs = 2\n[sweep]\nkey = train.epochs\nvalues = 1,2\n[paper]\nreference = R\n"
                 "claim.a = x | 1 | 1 | 1 | verified\nsource.a = T\n",
                 "e.ini:8", "which point");
    expect_error("[supply_chain]\ntamper = swap\n", "e.ini", "[attack]");
    expect_error("[attack]\n[supply_chain]\nmonitor_frr = 0.05\n", "e.ini:3", "0.005");
    expect_error("[papers]\n", "e.ini:1", "[paper]");
}

static void test_metric_paths(void **state) {
    (void)state;
    cJSON *j = cJSON_Parse("{\"clean_model\":{\"ca\":0.9},\"backdoored_model\":{\"ca\":0.85,\"asr\":0.99},"
                           "\"defenses\":{\"neural-cleanse\":{\"anomaly_index\":[3.5,0.2],\"target_found\":true,"
                           "\"far_at_frr\":{\"0.01\":0.02}},\"x\":{\"s\":\"text\"}}}");
    assert_non_null(j);
    assert_true(fabs(multirun_metric(j, "clean_model/ca") - 0.9) < 1e-12);
    assert_true(fabs(multirun_metric(j, "clean_model/ca - backdoored_model/ca") - 0.05) < 1e-12);
    assert_true(fabs(multirun_metric(j, "defenses/neural-cleanse/anomaly_index/0") - 3.5) < 1e-12);
    assert_true(fabs(multirun_metric(j, "defenses/neural-cleanse/far_at_frr/0.01") - 0.02) < 1e-12);
    assert_true(multirun_metric(j, "defenses/neural-cleanse/target_found") == 1.0);
    assert_true(isnan(multirun_metric(j, "defenses/neural-cleanse/anomaly_index/2")));
    assert_true(isnan(multirun_metric(j, "defenses/x/s")));
    assert_true(isnan(multirun_metric(j, "nope/ca")));
    assert_true(isnan(multirun_metric(NULL, "clean_model/ca")));
    cJSON_Delete(j);
    double x[] = {1, 2, 3, 4}, m, sd;
    multirun_mean_sd(x, 4, &m, &sd);
    assert_true(fabs(m - 2.5) < 1e-12 && fabs(sd - sqrt(5.0 / 3.0)) < 1e-12);
    multirun_mean_sd(x, 1, &m, &sd);
    assert_true(m == 1 && sd == 0);
}

// ---------------------------------------------------------------------------------------------- end to end

// Nothing below depends on what the training reaches (claims on the test set's size, an impossible ASR, model
// bytes compared between runs), so a tiny subset serves every build.
#define TINY "train_subset = 600\ntest_subset = 100\n"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path) {
    char *s = read_text_file(path, 1 << 24);
    assert_non_null(s);
    return s;
}

// A two-seed, two-point paper config: the report holds one claim that must be within tolerance (the test set's
// size, whatever the training did), one verified claim that cannot hold (ASR above 100%), and one shown only.
static void test_reproduce_end_to_end(void **state) {
    (void)state;
    char tmp[] = "/tmp/bl-repro-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char cfg[512], out[512], path[1024];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    write_text(cfg, "[experiment]\nname = tiny\nseeds = 1,2\nthreads = 1\n[data]\n" TINY
                    "[train]\nepochs = 2\n[attack]\ntype = badnets\ntarget = 0\n[sweep]\nkey = attack.poison_count\n"
                    "values = 30,300\n[paper]\nreference = A. Nobody. Tiny. 2026\nquick_epochs = 1\n"
                    "claim.ca = data/test @ 300 | >= 100 | 0 | 0 | verified\nsource.ca = Table 0\n"
                    "claim.impossible = backdoored_model/asr @ 300 | > 100% | 0 | 0 | verified\n"
                    "source.impossible = Table 9\n"
                    "claim.shown = backdoored_model/ca @ 30 | 99% | - | - | verified\nsource.shown = Table 1\n");
    const char *configs[] = {cfg};
    ReproduceOptions o = {.out = out, .quiet = 1};
    ReproduceTally t;
    // full mode, not strict: the impossible claim is reported outside but does not fail the command
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_OK);
    assert_int_equal(t.claims, 3);
    assert_int_equal(t.within, 1);
    assert_int_equal(t.outside, 1);
    assert_int_equal(t.failed, 0);
    char *md = slurp((snprintf(path, sizeof path, "%s/README.md", out), path));
    assert_non_null(strstr(md, "A. Nobody. Tiny. 2026"));
    assert_non_null(strstr(md, "**within**"));
    assert_non_null(strstr(md, "**outside**"));
    assert_non_null(strstr(md, "shown only"));
    assert_non_null(strstr(md, "2 seeds"));
    free(md);
    cJSON *sum = json_read_file((snprintf(path, sizeof path, "%s/tiny/summary.json", out), path));
    assert_non_null(sum);
    cJSON *pts = cJSON_GetObjectItem(sum, "points");
    assert_int_equal(cJSON_GetArraySize(pts), 2);
    cJSON *asr = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(pts, 1), "metrics"), "backdoored_model/asr");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(asr, "values")), 2);
    cJSON_Delete(sum);
    struct stat sb;
    assert_int_equal(stat((snprintf(path, sizeof path, "%s/tiny/poison_count-300/seed-2/DONE", out), path), &sb), 0);
    assert_int_equal(stat((snprintf(path, sizeof path, "%s/tiny/DONE", out), path), &sb), 0);
    assert_int_equal(stat((snprintf(path, sizeof path, "%s/claims.csv", out), path), &sb), 0);
    // the report alone, rebuilt from the finished runs: the same verdicts, and the figures copied beside it
    o.report_only = 1;
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_OK);
    assert_int_equal(t.within, 1);
    assert_int_equal(t.outside, 1);
    if (system("gnuplot --version >/dev/null 2>&1") == 0)
        assert_int_equal(stat((snprintf(path, sizeof path, "%s/plots/tiny-sweep.png", out), path), &sb), 0);
    o.report_only = 0;
    // strict: the verified claim outside its tolerance fails the command, and says so
    o.strict = 1;
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_ERR_RUN);
    assert_int_equal(t.failed, 1);
    assert_non_null(strstr(bl_errmsg(), "1 claim"));
    // quick: one seed, and any claim outside its quick tolerance fails
    o.strict = 0;
    o.quick = 1;
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_ERR_RUN);
    assert_int_equal(t.failed, 1);
    md = slurp(path[0] ? (snprintf(path, sizeof path, "%s/README.md", out), path) : path);
    assert_non_null(strstr(md, "1 seed"));
    free(md);
    // --report-only on runs that are not there
    o.report_only = 1;
    o.out = tmp;
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_ERR_DATA);
    assert_non_null(strstr(bl_errmsg(), "DONE"));
    o.report_only = 0;
    o.out = out;
    // a config without [paper] is refused before anything runs
    write_text(cfg, "[experiment]\nname = nopaper\n");
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "[paper]"));
    if (!getenv("BL_KEEP_TMP")) rm_rf(tmp);
}

static int manifest_has(const char *dir, const char *key) {
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    cJSON *m = json_read_file(path);
    assert_non_null(m);
    int has = cJSON_GetObjectItemCaseSensitive(m, key) != NULL;
    cJSON_Delete(m);
    return has;
}

static Status run_text(const char *dir, const char *name, const char *text, const char *out) {
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s/%s", dir, name);
    write_text(cfg, text);
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = cfg, .out_dir = out, .quiet = 1};
    return experiment_run_any(&o);
}

// A sweep over an attack key takes the first point's clean model at later points, and what it writes is what a
// run of that point alone writes (same model bytes, same metrics); a sweep over a training key retrains.
static void test_sweep_reuses_clean_model(void **state) {
    (void)state;
    char tmp[] = "/tmp/bl-reuse-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char out[512], one[512], lr[512], a[1024], b[1024];
    snprintf(out, sizeof out, "%s/sweep", tmp);
    snprintf(one, sizeof one, "%s/one", tmp);
    snprintf(lr, sizeof lr, "%s/lr", tmp);
#define REUSE_BASE "[experiment]\nname = reuse\nseed = 5\nthreads = 1\n[data]\n" TINY "[train]\nepochs = 1\n"
    assert_int_equal(run_text(tmp, "sweep.ini", REUSE_BASE "[attack]\ntype = badnets\npoison_count = 30\n"
                              "[sweep]\nkey = attack.poison_count\nvalues = 30,300\n", out), BL_OK);
    assert_int_equal(run_text(tmp, "one.ini", REUSE_BASE "[attack]\ntype = badnets\npoison_count = 300\n", one),
                     BL_OK);
    snprintf(a, sizeof a, "%s/poison_count-300/seed-5", out);
    assert_true(manifest_has(a, "clean_model_reused_from"));
    assert_false(manifest_has(one, "clean_model_reused_from"));
    snprintf(b, sizeof b, "%s/poison_count-30/seed-5", out);
    assert_false(manifest_has(b, "clean_model_reused_from"));
    // byte for byte what training it again gives
    char pa[1100], pb[1100];
    size_t la = 0, lb = 0;
    snprintf(pa, sizeof pa, "%s/model-clean.bdm", a);
    snprintf(pb, sizeof pb, "%s/model-clean.bdm", one);
    char *ma = read_file_bytes(pa, 1L << 28, &la), *mb = read_file_bytes(pb, 1L << 28, &lb);
    assert_non_null(ma);
    assert_non_null(mb);
    assert_int_equal(la, lb);
    assert_memory_equal(ma, mb, la);
    free(ma);
    free(mb);
    // and the same clean-model metrics, ASR measured with this point's attack
    snprintf(pa, sizeof pa, "%s/metrics.json", a);
    snprintf(pb, sizeof pb, "%s/metrics.json", one);
    cJSON *ja = json_read_file(pa), *jb = json_read_file(pb);
    cJSON_DeleteItemFromObject(ja, "timing");
    cJSON_DeleteItemFromObject(jb, "timing");
    char *sa = cJSON_PrintUnformatted(ja), *sb = cJSON_PrintUnformatted(jb);
    assert_string_equal(sa, sb);
    free(sa), free(sb);
    cJSON_Delete(ja), cJSON_Delete(jb);
    // a sweep over the learning rate changes the clean model: every point trains its own
    assert_int_equal(run_text(tmp, "lr.ini", REUSE_BASE "[attack]\ntype = badnets\npoison_count = 30\n"
                              "[sweep]\nkey = train.lr\nvalues = 0.01,0.02\n", lr), BL_OK);
    snprintf(a, sizeof a, "%s/lr-0.02/seed-5", lr);
    assert_false(manifest_has(a, "clean_model_reused_from"));
#undef REUSE_BASE
    if (!getenv("BL_KEEP_TMP")) rm_rf(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_parse),        cmocka_unit_test(test_claim_verdict),
        cmocka_unit_test(test_config_multi),       cmocka_unit_test(test_config_multi_errors),
        cmocka_unit_test(test_metric_paths),       cmocka_unit_test(test_reproduce_end_to_end),
        cmocka_unit_test(test_sweep_reuses_clean_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
