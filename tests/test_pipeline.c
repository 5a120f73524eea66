// test_pipeline.c: the experiment pipeline end to end on a Fashion-MNIST subset: the backdoor implants, the
// results folder is complete, runs are bit-identical across thread counts and from the resolved config, and
// failures leave no DONE and no metrics.json. CLI exit codes are checked through the built binary.
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "data/dataset.h"
#include "run/experiment.h"
#include "test_run_util.h"

static char g_tmp[256];

// Under AddressSanitizer the GEMM kernels run ~50x slower (every load is instrumented), so `make asan` runs the
// same pipeline on a tiny subset and checks everything but the accuracy thresholds, which the normal build checks.
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#define SUBSET "train_subset = 600\ntest_subset = 100\n"
#define EPOCHS "epochs = 1\n"
#else
#define SANITIZED 0
#define SUBSET "train_subset = 8000\ntest_subset = 1000\n"
#define EPOCHS "epochs = 4\n"
#endif

static const char *CONFIG_BASE =
    "[experiment]\nname = quick\nseed = 3\n"
    "[data]\ndataset = fashion-mnist\n" SUBSET "defender_clean_fraction = 0.05\n"
    "[model]\nlayers = reference-cnn\n"
    "[train]\n" EPOCHS "batch = 64\noptimizer = sgd\nlr = 0.05\nmomentum = 0.9\n";
static const char *ATTACK =
    "[attack]\ntype = badnets\ntrigger = square\ntrigger_size = 3\nposition = bottom-right\n"
    "trigger_value = 1.0\ntarget = 0\nlabel_mode = all2one\npoison_rate = 0.1\npoison_rate_base = nontarget\n";

static void write_cfg(const char *path, const char *a, const char *b) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(a, f);
    if (b) fputs(b, f);
    fclose(f);
}

static int exists(const char *dir, const char *file) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

// dir/file parsed (the test fails if it is missing or not JSON); caller cJSON_Delete's it.
static cJSON *load_json(const char *dir, const char *file) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char *text = test_read_file(p);
    if (!text) print_error("cannot read %s\n", p);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

static int have_dataset(void) {
    return access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0;
}

static Status run_config(const char *cfg, const char *out, int threads) {
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = cfg, .out_dir = out, .threads = threads, .quiet = 1};
    return experiment_run(&o);
}

// The backdoor implants on a subset, the clean model is not fooled, and every result file is there.
// Then the same config at another thread count and from config.resolved.ini gives identical bytes.
static void test_run_implants_and_reproduces(void **state) {
    (void)state;
    if (!have_dataset()) skip();
    char cfg[300], out1[300], out2[300], out3[300], resolved[320], p1[400], p2[400];
    snprintf(cfg, sizeof cfg, "%s/quick.ini", g_tmp);
    snprintf(out1, sizeof out1, "%s/run1", g_tmp);
    snprintf(out2, sizeof out2, "%s/run2", g_tmp);
    snprintf(out3, sizeof out3, "%s/run3", g_tmp);
    write_cfg(cfg, CONFIG_BASE, ATTACK);
    Status st = run_config(cfg, out1, 2);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    const char *files[] = {"config.resolved.ini", "manifest.json", "metrics.json", "epochs.csv", "model-clean.bdm",
                           "model-backdoor.bdm", "poison.csv", "samples.png", "DONE"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (!exists(out1, files[i])) print_error("missing %s\n", files[i]);
        assert_true(exists(out1, files[i]));
    }
    double ca_b = metric(out1, "backdoored_model", "ca"), asr_b = metric(out1, "backdoored_model", "asr");
    double ca_c = metric(out1, "clean_model", "ca"), asr_c = metric(out1, "clean_model", "asr");
    print_message("subset run: clean CA %.3f ASR %.3f, backdoored CA %.3f ASR %.3f\n", ca_c, asr_c, ca_b, asr_b);
    if (!SANITIZED) {
        assert_true(asr_b >= 0.9);
        assert_true(asr_c <= 0.1);
        assert_true(ca_c >= 0.7 && ca_b >= 0.7);
        // poison count: 10% of the non-target images of the 7600 remaining (about 684)
        assert_true(metric(out1, "poison", "count") > 600 && metric(out1, "poison", "count") < 770);
    }

    // thread count does not change a bit
    assert_int_equal(run_config(cfg, out2, 1), BL_OK);
    snprintf(p1, sizeof p1, "%s/model-backdoor.bdm", out1);
    snprintf(p2, sizeof p2, "%s/model-backdoor.bdm", out2);
    assert_true(files_equal(p1, p2));
    snprintf(p1, sizeof p1, "%s/model-clean.bdm", out1);
    snprintf(p2, sizeof p2, "%s/model-clean.bdm", out2);
    assert_true(files_equal(p1, p2));
    char *m1 = metrics_without_timing(out1), *m2 = metrics_without_timing(out2);
    assert_string_equal(m1, m2);
    free(m2);

    // the resolved config reproduces the same model bytes
    snprintf(resolved, sizeof resolved, "%s/config.resolved.ini", out1);
    assert_int_equal(run_config(resolved, out3, 0), BL_OK);
    snprintf(p2, sizeof p2, "%s/model-clean.bdm", out3);
    assert_true(files_equal(p1, p2));
    char *m3 = metrics_without_timing(out3);
    assert_string_equal(m1, m3);
    free(m1);
    free(m3);
}

// A run that diverges exits 1 and leaves neither DONE nor metrics.json, even over a finished earlier run.
static void test_failed_run_leaves_no_done(void **state) {
    (void)state;
    if (!have_dataset()) skip();
    char cfg[300], out[300];
    snprintf(cfg, sizeof cfg, "%s/diverge.ini", g_tmp);
    snprintf(out, sizeof out, "%s/run1", g_tmp); // finished by the test above (or empty when it was skipped)
    write_cfg(cfg,
               "[experiment]\nseed = 1\n[data]\ntrain_subset = 600\ntest_subset = 100\n"
               "[train]\nepochs = 1\noptimizer = adam\nlr = 1e30\n",
               NULL);
    assert_int_equal(run_config(cfg, out, 0), BL_ERR_RUN);
    assert_non_null(strstr(bl_errmsg(), "diverged"));
    assert_false(exists(out, "DONE"));
    assert_false(exists(out, "metrics.json"));
}

// [defense.<name>] sections run after the attack and land in metrics.json and defense/<name>/.
static void test_run_with_defense_section(void **state) {
    (void)state;
    if (!have_dataset()) skip();
    char cfg[300], out[300];
    snprintf(cfg, sizeof cfg, "%s/withdef.ini", g_tmp);
    snprintf(out, sizeof out, "%s/withdef", g_tmp);
    write_cfg(cfg,
               "[experiment]\nseed = 4\n[data]\ntrain_subset = 600\ntest_subset = 100\n[train]\nepochs = 1\n"
               "[attack]\ntype = badnets\n[defense.confidence]\n",
               NULL);
    Status st = run_config(cfg, out, 0);
    if (st) print_error("%s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
    assert_true(exists(out, "defense/confidence/summary.json"));
    cJSON *j = load_json(out, "metrics.json");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "defenses"), "confidence");
    assert_non_null(d);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(d, "seconds"));
    cJSON_Delete(j);
    // the resolved config lists the defence with every parameter and runs again
    char p[512];
    snprintf(p, sizeof p, "%s/config.resolved.ini", out);
    char *text = test_read_file(p);
    assert_non_null(text);
    assert_non_null(strstr(text, "[defense.confidence]"));
    free(text);
}

// Run the CLI binary and return its exit code; stderr goes to err_path.
static int cli(const char *args, const char *err_path) {
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (!bin) bin = "build/backdoorlab";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", bin, args, err_path);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void expect_cli(const char *args, int code, const char *needle) {
    char err[300];
    snprintf(err, sizeof err, "%s/stderr.txt", g_tmp);
    int rc = cli(args, err);
    char *msg = test_read_file(err);
    if (rc != code || (needle && (!msg || !strstr(msg, needle))))
        print_error("'%s': exit %d (want %d), stderr: %s\n", args, rc, code, msg ? msg : "");
    assert_int_equal(rc, code);
    if (needle) assert_non_null(strstr(msg, needle));
    free(msg);
}

static void test_cli_exit_codes(void **state) {
    (void)state;
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (access(bin ? bin : "build/backdoorlab", X_OK) != 0) skip();
    char cfg[300], args[1024], dir[300];
    expect_cli("", 2, "usage");
    expect_cli("frobnicate", 2, "unknown command");
    expect_cli("run", 2, "missing CONFIG");
    expect_cli("run --help", 0, NULL);
    expect_cli("train --help", 0, NULL);
    expect_cli("eval --help", 0, NULL);
    expect_cli("bench --help", 0, NULL);
    expect_cli("run /nonexistent/x.ini", 2, "x.ini");
    // a config error names file:line
    snprintf(cfg, sizeof cfg, "%s/bad.ini", g_tmp);
    write_cfg(cfg, "[train]\nepochs = 2\nlearning_rate = 0.1\n", NULL);
    snprintf(args, sizeof args, "run %s --out %s/bad", cfg, g_tmp);
    expect_cli(args, 2, "bad.ini:3");
    // a path without the four IDX files is bad data (3)
    snprintf(dir, sizeof dir, "%s/emptydata", g_tmp);
    mkdir(dir, 0755);
    snprintf(cfg, sizeof cfg, "%s/nodata.ini", g_tmp);
    char text[600];
    snprintf(text, sizeof text, "[data]\npath = %s\n", dir);
    write_cfg(cfg, text, NULL);
    snprintf(args, sizeof args, "run %s --out %s/nodata", cfg, g_tmp);
    expect_cli(args, 3, "train-images-idx3-ubyte");
    if (!have_dataset()) return;
    // a model whose architecture differs from the config is refused with 3
    snprintf(cfg, sizeof cfg, "%s/other.ini", g_tmp);
    write_cfg(cfg, "[data]\ntest_subset = 100\n[model]\nlayers = badnets-mnist\n", NULL);
    snprintf(args, sizeof args, "eval --model %s/run1/model-clean.bdm --config %s", g_tmp, cfg);
    expect_cli(args, 3, "differs");
    // a corrupt model file is refused with 3
    char model[400];
    snprintf(model, sizeof model, "%s/corrupt.bdm", g_tmp);
    write_cfg(model, "\x89" "BDM\r\n\x1a\nthis is not a model", NULL);
    snprintf(args, sizeof args, "eval --model %s --config %s/quick.ini", model, g_tmp);
    expect_cli(args, 3, "corrupt.bdm");
    // and the real one evaluates
    snprintf(args, sizeof args, "eval --model %s/run1/model-backdoor.bdm --config %s/quick.ini", g_tmp, g_tmp);
    expect_cli(args, 0, NULL);
}

// The CLI limits OpenMP's spinning unless the user chose a waiting policy, and the manifest says which was in force.
static const char *manifest_omp(const char *dir, const char *key, char *buf, size_t n) {
    cJSON *j = load_json(dir, "manifest.json");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "omp_wait"), key);
    assert_non_null(v);
    snprintf(buf, n, "%s", cJSON_IsString(v) ? v->valuestring : "(null)");
    cJSON_Delete(j);
    return buf;
}

static void test_cli_limits_spinning(void **state) {
    (void)state;
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (access(bin ? bin : "build/backdoorlab", X_OK) != 0 || !have_dataset()) skip();
    char args[1024], dir[400], v[64];
    snprintf(dir, sizeof dir, "%s/spin-default", g_tmp);
    snprintf(args, sizeof args, "train %s/quick.ini --out %s --quiet", g_tmp, dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT %s %s >/dev/null 2>&1",
             bin ? bin : "build/backdoorlab", args);
    assert_int_equal(system(cmd), 0);
#ifdef _OPENMP
    assert_string_equal(manifest_omp(dir, "GOMP_SPINCOUNT", v, sizeof v), "1000");
#else
    assert_string_equal(manifest_omp(dir, "GOMP_SPINCOUNT", v, sizeof v), "(null)");
#endif
    assert_string_equal(manifest_omp(dir, "OMP_WAIT_POLICY", v, sizeof v), "(null)");
    // the user's choice is left alone
    snprintf(dir, sizeof dir, "%s/spin-passive", g_tmp);
    snprintf(args, sizeof args, "train %s/quick.ini --out %s --quiet", g_tmp, dir);
    snprintf(cmd, sizeof cmd, "env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=passive %s %s >/dev/null 2>&1",
             bin ? bin : "build/backdoorlab", args);
    assert_int_equal(system(cmd), 0);
    assert_string_equal(manifest_omp(dir, "OMP_WAIT_POLICY", v, sizeof v), "passive");
    assert_string_equal(manifest_omp(dir, "GOMP_SPINCOUNT", v, sizeof v), "(null)");
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl-pipeline-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    if (getenv("BL_KEEP_TMP")) return 0; // debugging: keep the run folders
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_implants_and_reproduces),
        cmocka_unit_test(test_failed_run_leaves_no_done),
        cmocka_unit_test(test_run_with_defense_section),
        cmocka_unit_test(test_cli_exit_codes),
        cmocka_unit_test(test_cli_limits_spinning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
