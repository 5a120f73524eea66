// test_external.c: models and data out (safetensors, .npy) and defences in as commands (issue 17).
//
// One small backdoored Fashion-MNIST run (setup), then: the formats round-trip and refuse bad bytes; the export
// gives PyTorch (where python3-torch is installed) and NumPy the same logits as the testbed; an external command
// sees exactly the contract's files and no ground truth; every way a command can fail is a recorded failure
// with the right exit code; and the two Python reference defences (scripts/defenses/) agree with the C ones.
#include <math.h>
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

#include "io/npy.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "run/defenses.h"
#include "run/interop.h"
#include "test_run_util.h"

#define PY "/usr/bin/python3" // Debian's, with python3-numpy (and python3-torch) from the install step

static char g_tmp[256], g_run[320];
static int g_ready;

static const char *bin(void) {
    const char *b = getenv("BACKDOORLAB_BIN");
    return b ? b : "build/backdoorlab";
}

// Run the CLI with args (stdout and stderr to files under g_tmp); returns the exit code.
static int cli(const char *args) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s >%s/cli.out 2>%s/cli.err", bin(), args, g_tmp, g_tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int sh(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int have_numpy(void) { return sh(PY " -c 'import numpy' 2>/dev/null") == 0; }

static cJSON *summary(const char *as) {
    char p[512];
    snprintf(p, sizeof p, "%s/defense/%s/summary.json", g_run, as);
    char *t = test_read_file(p);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int setup(void **state) {
    (void)state;
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) return 0;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl_external_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/run.ini", g_tmp);
    snprintf(g_run, sizeof g_run, "%s/run", g_tmp);
    FILE *f = fopen(cfg, "w");
    if (!f) return -1;
    fputs("[experiment]\nname = ext\nseed = 5\n"
          "[data]\ndataset = fashion-mnist\ntrain_subset = 6000\ntest_subset = 1000\ndefender_clean_fraction = 0.05\n"
          "[model]\nlayers = reference-cnn\n"
          "[train]\nepochs = 3\nbatch = 64\noptimizer = sgd\nlr = 0.05\nmomentum = 0.9\n"
          "[attack]\ntype = badnets\ntrigger = square\ntrigger_size = 3\nposition = bottom-right\ntrigger_value = 1.0\n"
          "target = 0\nlabel_mode = all2one\npoison_rate = 0.1\npoison_rate_base = nontarget\n",
          f);
    fclose(f);
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = cfg, .out_dir = g_run, .threads = 2, .quiet = 1};
    if (experiment_run(&o)) return -1;
    g_ready = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_tmp[0]) rm_rf(g_tmp);
    return 0;
}

#define NEED_RUN()                                                                                                     \
    do {                                                                                                               \
        if (!g_ready) skip();                                                                                          \
    } while (0)

// ---------------------------------------------------------------------------------------------------- formats

static void test_npy_roundtrip_and_refusals(void **state) {
    (void)state;
    char dir[] = "/tmp/bl_npy_XXXXXX", p[128];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/a.npy", dir);
    float v[6] = {1, -2, 3.5f, 0, 1e-7f, 42};
    int64_t shape[2] = {2, 3};
    assert_int_equal(npy_write(p, NPY_F32, 2, shape, v), BL_OK);
    NpyArray a;
    assert_int_equal(npy_read(p, 1 << 20, &a), BL_OK);
    assert_int_equal(a.type, NPY_F32);
    assert_int_equal(a.ndim, 2);
    assert_true(a.shape[0] == 2 && a.shape[1] == 3);
    assert_memory_equal(a.data, v, sizeof v);
    npy_free(&a);
    // the data starts on a 64-byte boundary (NumPy's rule for format 1.0)
    char *t = test_read_file(p);
    assert_non_null(t);
    size_t hlen = (size_t)(unsigned char)t[8] | (size_t)(unsigned char)t[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    free(t);
    // a vector of the wrong length, a truncated file, a file over the cap
    double *d = NULL;
    assert_int_equal(npy_read_vector(p, 6, &d), BL_ERR_DATA); // 2-D, not a vector
    assert_null(d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "head -c 100 %s > %s/b.npy", p, dir);
    assert_int_equal(sh(cmd), 0);
    snprintf(p, sizeof p, "%s/b.npy", dir);
    assert_int_equal(npy_read(p, 1 << 20, &a), BL_ERR_DATA);
    snprintf(p, sizeof p, "%s/a.npy", dir);
    assert_int_equal(npy_read(p, 64, &a), BL_ERR_DATA);
    // a header that lies about its shape
    snprintf(cmd, sizeof cmd, "sed 's/(2, 3)/(9, 3)/' %s/a.npy > %s/c.npy", dir, dir);
    assert_int_equal(sh(cmd), 0);
    snprintf(p, sizeof p, "%s/c.npy", dir);
    assert_int_equal(npy_read(p, 1 << 20, &a), BL_ERR_DATA);
    rm_rf(dir);
}

static void test_safetensors_refusals(void **state) {
    (void)state;
    char dir[] = "/tmp/bl_st_XXXXXX", p[128], cmd[400];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/a.safetensors", dir);
    float w[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    StTensor t[2] = {{.name = "0.weight", .ndim = 2, .shape = {2, 2}, .count = 4, .data = w},
                     {.name = "0.bias", .ndim = 1, .shape = {2}, .count = 2, .data = b}};
    const char *meta[] = {"format", "backdoorlab-model/1", NULL};
    assert_int_equal(st_write(p, t, 2, meta), BL_OK);
    StFile f;
    assert_int_equal(st_read(p, 1 << 20, &f), BL_OK);
    assert_int_equal(f.ntensors, 2);
    assert_string_equal(st_meta(&f, "format"), "backdoorlab-model/1");
    assert_memory_equal(st_find(&f, "0.bias")->data, b, sizeof b);
    st_free(&f);
    // truncated data, a header length beyond the file, a shape that does not match the offsets, a non-F32 dtype
    const char *bad[] = {
        "head -c -4 %s/a.safetensors > %s/x",
        "(printf '\\377\\377\\377\\377\\0\\0\\0\\0'; tail -c +9 %s/a.safetensors) > %s/x",
        "sed 's/\\[2,2\\]/[2,3]/' %s/a.safetensors > %s/x",
        "sed 's/F32/F16/' %s/a.safetensors > %s/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char fmt[300];
        snprintf(fmt, sizeof fmt, "%s", bad[i]);
        snprintf(cmd, sizeof cmd, fmt, dir, dir);
        assert_int_equal(sh(cmd), 0);
        snprintf(p, sizeof p, "%s/x", dir);
        Status st = st_read(p, 1 << 20, &f);
        if (st != BL_ERR_DATA) print_error("case %zu read as %d\n", i, st);
        assert_int_equal(st, BL_ERR_DATA);
    }
    rm_rf(dir);
}

// ---------------------------------------------------------------------------------------------------- export

static void test_export_model_roundtrip(void **state) {
    (void)state;
    NEED_RUN();
    char args[1024], st_path[400], bdm[400];
    snprintf(bdm, sizeof bdm, "%s/model-backdoor.bdm", g_run);
    snprintf(st_path, sizeof st_path, "%s/m.safetensors", g_tmp);
    snprintf(args, sizeof args, "export --model %s --out %s", bdm, st_path);
    assert_int_equal(cli(args), 0);
    Model m, back;
    assert_int_equal(model_load(bdm, (Shape){1, 28, 28}, 10, 8, NULL, &m, NULL), BL_OK);
    assert_int_equal(model_load(bdm, (Shape){1, 28, 28}, 10, 8, NULL, &back, NULL), BL_OK);
    StFile f;
    assert_int_equal(st_read(st_path, 64 << 20, &f), BL_OK);
    // nn.Sequential names and PyTorch layouts: reference-cnn = conv(0) relu maxpool conv(3) ... dense(7) relu dense(9)
    const StTensor *c0 = st_find(&f, "0.weight"), *d9 = st_find(&f, "9.weight");
    assert_non_null(c0);
    assert_true(c0->ndim == 4 && c0->shape[0] == 16 && c0->shape[1] == 1 && c0->shape[2] == 5 && c0->shape[3] == 5);
    assert_non_null(d9);
    assert_true(d9->ndim == 2 && d9->shape[0] == 10 && d9->shape[1] == 128);
    assert_non_null(st_meta(&f, "layers"));
    assert_string_equal(st_meta(&f, "num_classes"), "10");
    assert_string_equal(st_meta(&f, "input_shape"), "1,28,28");
    assert_string_equal(st_meta(&f, "input_kind"), "images");
    assert_string_equal(st_meta(&f, "architecture"), m.desc);
    assert_int_equal(strlen(st_meta(&f, "source_sha256")), 64);
    st_free(&f);
    // back into a model: bit-identical weights
    memset(back.params, 0, back.nparams * sizeof(float));
    assert_int_equal(interop_model_read(st_path, &back), BL_OK);
    assert_memory_equal(back.params, m.params, m.nparams * sizeof(float));
    // a NaN weight, or a model of another shape, is refused and leaves the model untouched
    m.params[3] = NAN;
    char bad[400];
    snprintf(bad, sizeof bad, "%s/nan.safetensors", g_tmp);
    assert_int_equal(interop_model_write(&m, NULL, NULL, bad), BL_OK);
    assert_int_equal(interop_model_read(bad, &back), BL_ERR_DATA);
    assert_false(isnan(back.params[3]));
    Model other;
    assert_int_equal(model_build(&other, "conv 8 5, relu, maxpool 2, flatten, dense 10", (Shape){1, 28, 28}, 10, 8),
                     BL_OK);
    assert_int_equal(interop_model_read(st_path, &other), BL_ERR_DATA);
    model_free(&other);
    model_free(&m);
    model_free(&back);
}

static void test_export_data_and_logits(void **state) {
    (void)state;
    NEED_RUN();
    char args[2048], d[400], cmd[2048];
    snprintf(d, sizeof d, "%s/data", g_tmp);
    snprintf(args, sizeof args, "export --run %s --what data --out %s", g_run, d);
    assert_int_equal(cli(args), 0);
    const char *files[] = {"train_x", "train_y", "clean_x", "clean_y", "test_x", "test_y", "triggered_x", "triggered_y"};
    int64_t n_train = -1;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[500];
        snprintf(p, sizeof p, "%s/%s.npy", d, files[i]);
        NpyArray a;
        assert_int_equal(npy_read(p, (size_t)1 << 30, &a), BL_OK);
        int is_x = strstr(files[i], "_x") != NULL;
        assert_int_equal(a.type, is_x ? NPY_F32 : NPY_I64);
        assert_int_equal(a.ndim, is_x ? 4 : 1);
        if (i == 0) n_train = a.shape[0];
        npy_free(&a);
    }
    // ground truth apart, and its count is poison.csv's
    char p[500];
    snprintf(p, sizeof p, "%s/ground_truth/train_poisoned.npy", d);
    double *gt = NULL;
    assert_int_equal(npy_read_vector(p, (size_t)n_train, &gt), BL_OK);
    long npois = 0;
    for (int64_t i = 0; i < n_train; i++) npois += gt[i] != 0;
    free(gt);
    snprintf(p, sizeof p, "%s/poison.csv", g_run);
    char *csv = test_read_file(p);
    long rows = -1;
    for (char *c = csv; c && *c; c++) rows += *c == '\n';
    free(csv);
    assert_true(npois > 0);
    assert_int_equal(npois, rows);
    // logits: the testbed's, then NumPy's forward pass (always) and PyTorch's (where installed) on the exported model
    snprintf(args, sizeof args, "export --model %s/model-backdoor.bdm --out %s/m.safetensors", g_run, g_tmp);
    assert_int_equal(cli(args), 0);
    snprintf(args, sizeof args, "eval --model %s/model-backdoor.bdm --inputs %s/triggered_x.npy --logits %s/l.npy",
             g_run, d, g_tmp);
    assert_int_equal(cli(args), 0);
    if (!have_numpy()) {
        print_message("numpy missing for " PY ": export_check.py not run (scripts/install-deps.sh installs it)\n");
        fail();
    }
    snprintf(cmd, sizeof cmd, PY " scripts/export_check.py --numpy-only %s/m.safetensors %s/triggered_x.npy %s/l.npy",
             g_tmp, d, g_tmp);
    assert_int_equal(sh(cmd), 0);
    if (sh(PY " -c 'import torch' 2>/dev/null") == 0) {
        snprintf(cmd, sizeof cmd, PY " scripts/export_check.py %s/m.safetensors %s/triggered_x.npy %s/l.npy", g_tmp,
                 d, g_tmp);
        assert_int_equal(sh(cmd), 0);
    } else {
        print_message("python3-torch not installed: the PyTorch half of the export check was skipped\n");
    }
    // and the check can fail: logits of the other model do not pass
    snprintf(args, sizeof args, "eval --model %s/model-clean.bdm --inputs %s/triggered_x.npy --logits %s/l2.npy",
             g_run, d, g_tmp);
    assert_int_equal(cli(args), 0);
    snprintf(cmd, sizeof cmd,
             PY " scripts/export_check.py --numpy-only %s/m.safetensors %s/triggered_x.npy %s/l2.npy >/dev/null 2>&1",
             g_tmp, d, g_tmp);
    assert_int_not_equal(sh(cmd), 0);
}

// ---------------------------------------------------------------------------------------------------- contract

static void write_script(const char *name, const char *body) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", g_tmp, name);
    write_text(p, body);
    chmod(p, 0755);
}

// detect --defense external --set cmd=<g_tmp>/<script> --as <as> [extra]; returns the exit code.
static int detect_ext(const char *script, const char *as, const char *extra) {
    char args[2048];
    snprintf(args, sizeof args, "detect --run %s --defense external --set 'cmd=%s/%s' --as %s --inputs 100 --quiet %s",
             g_run, g_tmp, script, as, extra ? extra : "");
    return cli(args);
}

static void test_external_sees_only_the_contract(void **state) {
    (void)state;
    NEED_RUN();
    // lists what it is given, and where it is run, then answers with a model score
    write_script("lister.sh", "#!/bin/sh\n"
                              "while [ $# -gt 0 ]; do case $1 in --in) IN=$2;; --out) OUT=$2;; --scratch) S=$2;; esac; "
                              "shift 2; done\n"
                              "ls -A \"$IN\" | tr '\\n' ' '; echo; echo \"$IN $OUT $S $(pwd)\"\n"
                              "echo 0.25 > \"$OUT/score.txt\"\n");
    assert_int_equal(detect_ext("lister.sh", "ext-lister", NULL), 0);
    char p[500];
    snprintf(p, sizeof p, "%s/defense/ext-lister/command-stdout.txt", g_run);
    char *out = test_read_file(p);
    assert_non_null(out);
    assert_non_null(strstr(out, "clean_x.npy clean_y.npy inputs_x.npy model.safetensors task.json train_x.npy "
                                "train_y.npy \n"));
    assert_null(strstr(out, "poison"));
    assert_null(strstr(out, g_run)); // no path leads into the run folder
    char in[512] = "";
    const char *second = strchr(out, '\n');
    assert_non_null(second);
    assert_int_equal(sscanf(second + 1, "%511s", in), 1);
    assert_int_not_equal(access(in, F_OK), 0); // the work folder is gone afterwards
    free(out);
    cJSON *s = summary("ext-lister");
    assert_non_null(s);
    assert_null(cJSON_GetObjectItemCaseSensitive(s, "failed"));
    assert_true(fabs(jnum(s, "model_score") - 0.25) < 1e-12);
    assert_true(fabs(jnum(cJSON_GetObjectItemCaseSensitive(s, "clean_model"), "model_score") - 0.25) < 1e-12);
    cJSON_Delete(s);
    // the same command over a set of models (TrojAI-style): a constant 0.25 for every model ranks nothing (ROC-AUC
    // 0.5) and costs what the formulas say
    char args[2048], set[400];
    snprintf(set, sizeof set, "%s/set", g_tmp);
    snprintf(args, sizeof args, "detect --runs %s %s --defense external --set 'cmd=%s/lister.sh' --as ext-set "
             "--inputs 50 --out %s --quiet", g_run, g_run, g_tmp, set);
    assert_int_equal(cli(args), 0);
    snprintf(p, sizeof p, "%s/summary.json", set);
    char *t = test_read_file(p);
    assert_non_null(t);
    s = cJSON_Parse(t);
    free(t);
    assert_non_null(s);
    assert_int_equal((int)jnum(s, "models_backdoored"), 2);
    assert_int_equal((int)jnum(s, "models_clean"), 2);
    assert_true(fabs(jnum(s, "roc_auc") - 0.5) < 1e-9);
    assert_true(fabs(jnum(s, "brier") - (0.75 * 0.75 + 0.25 * 0.25) / 2) < 1e-9);
    assert_true(fabs(jnum(s, "cross_entropy") - (-log(0.25) - log(0.75)) / 2) < 1e-9);
    cJSON_Delete(s);
}

static void test_external_failures_are_recorded(void **state) {
    (void)state;
    NEED_RUN();
    if (!have_numpy()) skip();
    static const struct {
        const char *name, *body, *extra;
        int rc;
        const char *why; // in the message
    } cases[] = {
        {"missing", NULL, NULL, 1, "exited with 127"},
        {"exit3", "#!/bin/sh\necho boom >&2\nexit 3\n", NULL, 1, "boom"},
        {"slow", "#!/bin/sh\nsleep 30\n", "--set timeout=1", 1, "timeout"},
        {"nothing", "#!/bin/sh\nexit 0\n", NULL, 1, "none of the result files"},
        {"nan", "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --out) OUT=$2;; esac; shift 2; done\n" PY
                " -c \"import numpy as np, json; n=json.load(open('$(dirname $OUT)/in/task.json'))['n_train']; "
                "a=np.zeros(n); a[7]=np.nan; np.save('$OUT/sample_scores.npy', a)\"\n",
         NULL, 1, "not finite"},
        {"count", "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --out) OUT=$2;; esac; shift 2; done\n" PY
                  " -c \"import numpy as np; np.save('$OUT/input_scores.npy', np.zeros(3))\"\n",
         NULL, 1, "expected 200 values"},
        {"garbage", "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --out) OUT=$2;; esac; shift 2; done\n"
                    "echo nonsense > \"$OUT/sample_scores.npy\"\n",
         NULL, 1, "not a .npy file"},
        {"score", "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --out) OUT=$2;; esac; shift 2; done\n"
                  "echo 1.5 > \"$OUT/score.txt\"\n",
         NULL, 1, "in [0,1]"},
        {"badmodel", "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --out) OUT=$2;; esac; shift 2; done\n"
                     "head -c 300 \"$(dirname $OUT)/in/model.safetensors\" > \"$OUT/model.safetensors\"\n",
         NULL, 3, "repaired model"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char script[64], as[64];
        snprintf(script, sizeof script, "%s.sh", cases[i].name);
        snprintf(as, sizeof as, "ext-%s", cases[i].name);
        if (cases[i].body) write_script(script, cases[i].body);
        int rc = detect_ext(script, as, cases[i].extra);
        char p[400];
        snprintf(p, sizeof p, "%s/cli.err", g_tmp);
        char *err = test_read_file(p);
        if (rc != cases[i].rc || !err || !strstr(err, cases[i].why))
            print_error("case %s: exit %d (want %d), stderr: %s\n", cases[i].name, rc, cases[i].rc, err ? err : "");
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(err, cases[i].why));
        free(err);
        cJSON *s = summary(as);
        assert_non_null(s);
        const cJSON *failed = cJSON_GetObjectItemCaseSensitive(s, "failed");
        assert_true(cJSON_IsString(failed) && strstr(failed->valuestring, cases[i].why));
        cJSON_Delete(s);
    }
}

// [defense.NAME] with a cmd key is an external defence stored as NAME; without one, an unknown name is an error
// naming the line; `external` itself needs its command before anything trains.
static void test_config_sections(void **state) {
    (void)state;
    const char *base = "[experiment]\nname = c\n[data]\ndataset = fashion-mnist\n[model]\nlayers = reference-cnn\n"
                       "[attack]\ntype = badnets\ntarget = 0\n";
    char text[2048];
    ExperimentConfig *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    snprintf(text, sizeof text, "%s[defense.mydef]\ncmd = python3 /opt/mydef.py --n 20\ntimeout = 60\n", base);
    assert_int_equal(config_load_string(text, "c.ini", cfg), BL_OK);
    assert_int_equal(run_defenses_check(cfg, "c.ini"), BL_OK);
    assert_string_equal(run_defense_ops(&cfg->defenses[0])->name, "external");
    char *res = run_defenses_resolved(cfg);
    assert_non_null(strstr(res, "[defense.mydef]\ncmd = python3 /opt/mydef.py --n 20\ntimeout = 60\nkeep = 0\n"));
    free(res);
    snprintf(text, sizeof text, "%s[defense.mydef]\ntimeout = 60\n", base);
    assert_int_equal(config_load_string(text, "c.ini", cfg), BL_OK);
    assert_int_equal(run_defenses_check(cfg, "c.ini"), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "c.ini:10: [defense.mydef]: unknown defence"));
    snprintf(text, sizeof text, "%s[defense.external]\ntimeout = 60\n", base);
    assert_int_equal(config_load_string(text, "c.ini", cfg), BL_OK);
    assert_int_equal(run_defenses_check(cfg, "c.ini"), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "needs cmd"));
    free(cfg);
}

// ---------------------------------------------------------------------------------------------------- references

// A number at path (e.g. "auroc") of defense/<as>/summary.json.
static double sum_num(const char *as, const char *key) {
    cJSON *s = summary(as);
    assert_non_null(s);
    double v = jnum(s, key);
    cJSON_Delete(s);
    return v;
}

static void test_python_spectral_matches_c(void **state) {
    (void)state;
    NEED_RUN();
    if (!have_numpy()) fail();
    char args[4096];
    snprintf(args, sizeof args, "detect --run %s --defense spectral --no-control --quiet", g_run);
    assert_int_equal(cli(args), 0);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd)); // the command runs in its scratch folder: an absolute script path
    snprintf(args, sizeof args, "detect --run %s --defense external --set 'cmd=" PY " %s/scripts/defenses/spectral.py' "
             "--as spectral-py --no-control --quiet", g_run, cwd);
    assert_int_equal(cli(args), 0);
    double ac = sum_num("spectral", "auroc"), ap = sum_num("spectral-py", "auroc");
    double tc = sum_num("spectral", "tpr"), tp = sum_num("spectral-py", "tpr");
    print_message("spectral: AUROC C %.4f Python %.4f; TPR C %.4f Python %.4f\n", ac, ap, tc, tp);
    // same method, same features (float32 in both): differences come only from summation order in the SVD's power
    // iterations and the features' float sums; README gives the tolerance
    assert_true(fabs(ac - ap) <= 0.01);
    assert_true(fabs(tc - tp) <= 0.02);
}

static void test_python_strip_matches_c(void **state) {
    (void)state;
    NEED_RUN();
    if (!have_numpy()) fail();
    char args[4096];
    // empirical boundary in C: the testbed picks external thresholds as empirical quantiles of clean scores too
    snprintf(args, sizeof args, "detect --run %s --defense strip --set n=20 --set boundary=1 --as strip-c20 "
             "--inputs 300 --no-control --quiet", g_run);
    assert_int_equal(cli(args), 0);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(args, sizeof args, "detect --run %s --defense external --set 'cmd=" PY " %s/scripts/defenses/strip.py "
             "--n 20' --as strip-py --inputs 300 --no-control --quiet", g_run, cwd);
    assert_int_equal(cli(args), 0);
    double ac = sum_num("strip-c20", "auroc"), ap = sum_num("strip-py", "auroc");
    print_message("strip (N=20): AUROC C %.4f Python %.4f\n", ac, ap);
    // different random overlays (NumPy's generator, not the testbed's stream): agreement is statistical
    assert_true(fabs(ac - ap) <= 0.03);
    assert_true(ap > 0.8); // and it does detect the patch trigger
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_roundtrip_and_refusals),
        cmocka_unit_test(test_safetensors_refusals),
        cmocka_unit_test(test_export_model_roundtrip),
        cmocka_unit_test(test_export_data_and_logits),
        cmocka_unit_test(test_external_sees_only_the_contract),
        cmocka_unit_test(test_external_failures_are_recorded),
        cmocka_unit_test(test_config_sections),
        cmocka_unit_test(test_python_spectral_matches_c),
        cmocka_unit_test(test_python_strip_matches_c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
