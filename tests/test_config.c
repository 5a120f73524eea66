// test_config.c: the experiment config parser and the resolved config.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/config.h"
#include "io/png.h"

static const char *demo_ini = "[experiment]\n"
                              "name = demo\n"
                              "seed = 1\n"
                              "threads = 2\n"
                              "[data]\n"
                              "dataset = fashion-mnist\n"
                              "defender_clean_fraction = 0.05\n"
                              "[model]\n"
                              "layers = reference-cnn\n"
                              "[train]\n"
                              "epochs = 3\n"
                              "batch = 64\n"
                              "optimizer = sgd\n"
                              "lr = 0.01\n"
                              "momentum = 0.9\n"
                              "[attack]\n"
                              "type = badnets\n"
                              "trigger = square\n"
                              "trigger_size = 3\n"
                              "position = bottom-right\n"
                              "trigger_value = 1.0\n"
                              "target = 0\n"
                              "label_mode = all2one\n"
                              "poison_rate = 0.1\n"
                              "poison_rate_base = nontarget\n";

// Load text that must fail with BL_ERR_USAGE and a message containing `want`; the struct is back at defaults.
static void expect_error(const char *text, const char *want) {
    ExperimentConfig cfg, def;
    config_defaults(&def);
    Status st = config_load_string(text, "demo.ini", &cfg);
    if (st != BL_ERR_USAGE || !strstr(bl_errmsg(), want))
        print_error("status %d, message \"%s\", wanted \"%s\"\n", (int)st, bl_errmsg(), want);
    assert_int_equal(st, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), want));
    assert_string_equal(cfg.model.layers, def.model.layers);
    assert_int_equal(cfg.attack.enabled, 0);
}

static void load_ok(const char *text, const char *name, ExperimentConfig *cfg) {
    Status st = config_load_string(text, name, cfg);
    if (st != BL_OK) print_error("unexpected error: %s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
}

static void assert_cfg_equal(const ExperimentConfig *a, const ExperimentConfig *b) {
    assert_string_equal(a->experiment.name, b->experiment.name);
    assert_true(a->experiment.seed == b->experiment.seed);
    assert_int_equal(a->experiment.threads, b->experiment.threads);
    assert_string_equal(a->data.dataset, b->data.dataset);
    assert_string_equal(a->data.path, b->data.path);
    assert_true(a->data.defender_clean_fraction == b->data.defender_clean_fraction);
    assert_int_equal(a->data.train_subset, b->data.train_subset);
    assert_int_equal(a->data.test_subset, b->data.test_subset);
    assert_string_equal(a->model.layers, b->model.layers);
    const CfgTrain *s = &a->train, *t = &b->train;
    assert_int_equal(s->epochs, t->epochs);
    assert_int_equal(s->batch, t->batch);
    assert_int_equal(s->optimizer, t->optimizer);
    assert_true(s->lr == t->lr);
    assert_true(s->momentum == t->momentum);
    assert_int_equal(s->nesterov, t->nesterov);
    assert_true(s->weight_decay == t->weight_decay);
    assert_true(s->beta1 == t->beta1);
    assert_true(s->beta2 == t->beta2);
    assert_true(s->eps == t->eps);
    assert_int_equal(s->schedule, t->schedule);
    assert_int_equal(s->step_size, t->step_size);
    assert_true(s->gamma == t->gamma);
    const AttackSpec *x = &a->attack, *y = &b->attack;
    assert_int_equal(x->enabled, y->enabled);
    assert_string_equal(x->type, y->type);
    assert_string_equal(x->trigger, y->trigger);
    assert_int_equal(x->trigger_size, y->trigger_size);
    assert_int_equal(x->position, y->position);
    assert_int_equal(x->pos_x, y->pos_x);
    assert_int_equal(x->pos_y, y->pos_y);
    assert_true(x->trigger_value == y->trigger_value);
    assert_int_equal(x->target, y->target);
    assert_int_equal(x->label_mode, y->label_mode);
    assert_true(x->poison_rate == y->poison_rate);
    assert_int_equal(x->poison_base, y->poison_base);
    assert_int_equal(x->position_test, y->position_test);
    assert_int_equal(x->pos_test_x, y->pos_test_x);
    assert_int_equal(x->pos_test_y, y->pos_test_y);
    assert_string_equal(x->trigger_png, y->trigger_png);
    assert_int_equal(x->key, y->key);
    assert_true(x->alpha_train == y->alpha_train && x->alpha_test == y->alpha_test);
    assert_true(x->delta == y->delta && x->frequency == y->frequency);
    assert_true(x->k == y->k && x->s == y->s && x->cross_ratio == y->cross_ratio);
    assert_true(x->eps == y->eps && x->steps == y->steps);
    assert_string_equal(x->surrogate, y->surrogate);
    assert_int_equal(x->source_count, y->source_count);
    assert_memory_equal(x->source_classes, y->source_classes, sizeof x->source_classes);
    assert_int_equal(x->use_count, y->use_count);
    assert_int_equal(x->poison_count, y->poison_count);
}

// load -> resolved -> load -> resolved: identical text and identical structs. Returns the resolved text.
static char *round_trip(const char *text) {
    ExperimentConfig a, b;
    load_ok(text, "rt.ini", &a);
    char *s1 = config_resolved_string(&a);
    assert_non_null(s1);
    load_ok(s1, "rt.ini", &b);
    char *s2 = config_resolved_string(&b);
    assert_non_null(s2);
    assert_string_equal(s1, s2);
    if (a.experiment.threads == 0) a.experiment.threads = b.experiment.threads; // written as the number used
    assert_cfg_equal(&a, &b);
    free(s2);
    return s1;
}

static void test_demo_parses(void **state) {
    (void)state;
    ExperimentConfig c;
    load_ok(demo_ini, "experiments/demo.ini", &c);
    assert_string_equal(c.experiment.name, "demo");
    assert_true(c.experiment.seed == 1);
    assert_int_equal(c.experiment.threads, 2);
    assert_string_equal(c.data.dataset, "fashion-mnist");
    assert_true(c.data.defender_clean_fraction == 0.05);
    assert_string_equal(c.model.layers, "reference-cnn");
    assert_int_equal(c.train.epochs, 3);
    assert_int_equal(c.train.batch, 64);
    assert_int_equal(c.train.optimizer, CFG_OPT_SGD);
    assert_true(c.train.lr == 0.01);
    assert_true(c.train.momentum == 0.9);
    assert_int_equal(c.attack.enabled, 1);
    assert_string_equal(c.attack.type, "badnets");
    assert_string_equal(c.attack.trigger, "square");
    assert_int_equal(c.attack.trigger_size, 3);
    assert_int_equal(c.attack.position, POS_BOTTOM_RIGHT);
    assert_true(c.attack.trigger_value == 1.0f);
    assert_int_equal(c.attack.target, 0);
    assert_int_equal(c.attack.label_mode, LABEL_ALL2ONE);
    assert_true(c.attack.poison_rate == 0.1f);
    assert_int_equal(c.attack.poison_base, BASE_NONTARGET);
}

static void test_defaults(void **state) {
    (void)state;
    ExperimentConfig c, d;
    config_defaults(&d);
    // An empty file: every default, name from the file name.
    load_ok("", "some/dir/my-run_1.ini", &c);
    assert_string_equal(c.experiment.name, "my-run_1");
    assert_true(c.experiment.seed == 1);
    assert_int_equal(c.experiment.threads, 0);
    assert_string_equal(c.data.path, "");
    assert_int_equal(c.data.train_subset, 0);
    assert_int_equal(c.data.test_subset, 0);
    assert_true(c.data.defender_clean_fraction == 0.05);
    assert_string_equal(c.model.layers, "reference-cnn");
    assert_int_equal(c.train.epochs, 3);
    assert_int_equal(c.train.batch, 64);
    assert_int_equal(c.train.optimizer, CFG_OPT_SGD);
    assert_true(c.train.lr == 0.01 && c.train.momentum == 0.9 && c.train.nesterov == 0);
    assert_true(c.train.weight_decay == 0.0 && c.train.beta1 == 0.9 && c.train.beta2 == 0.999);
    assert_true(c.train.eps == 1e-8 && c.train.step_size == 1 && c.train.gamma == 0.1);
    assert_int_equal(c.train.schedule, CFG_SCHED_CONSTANT);
    assert_int_equal(c.attack.enabled, 0);
    strcpy(d.experiment.name, "my-run_1");
    assert_cfg_equal(&c, &d);
    // No ".ini" suffix, and no file name at all.
    load_ok("", "runs/plain", &c);
    assert_string_equal(c.experiment.name, "plain");
    load_ok("", NULL, &c);
    assert_string_equal(c.experiment.name, "experiment");
    // An empty [attack] section enables the attack with its defaults.
    load_ok("[attack]\n", "a.ini", &c);
    assert_int_equal(c.attack.enabled, 1);
    assert_int_equal(c.attack.trigger_size, 3);
    assert_true(c.attack.poison_rate == 0.1f);
    assert_int_equal(c.attack.poison_base, BASE_NONTARGET);
}

static void test_all_keys(void **state) {
    (void)state;
    ExperimentConfig c;
    load_ok("[experiment]\nseed = 18446744073709551615\n"
            "[data]\npath = /data/fm ; where the files are\ntrain_subset = 1000\ntest_subset = 200\n"
            "defender_clean_fraction = 0.5\n"
            "[train]\noptimizer = adam\nbeta1 = 0.8\nbeta2 = 0.99\neps = 1e-7\nweight_decay = 5e-4\n"
            "schedule = step\nstep_size = 2\ngamma = 1\n"
            "[attack]\nposition = 20, 5\nlabel_mode = all2all\npoison_rate_base = all\n"
            "trigger_value = 0\npoison_rate = 1\n",
            "x.ini", &c);
    assert_true(c.experiment.seed == UINT64_MAX);
    assert_string_equal(c.data.path, "/data/fm");
    assert_int_equal(c.data.train_subset, 1000);
    assert_int_equal(c.data.test_subset, 200);
    assert_true(c.data.defender_clean_fraction == 0.5);
    assert_int_equal(c.train.optimizer, CFG_OPT_ADAM);
    assert_true(c.train.beta1 == 0.8 && c.train.beta2 == 0.99 && c.train.eps == 1e-7);
    assert_true(c.train.weight_decay == 5e-4);
    assert_int_equal(c.train.schedule, CFG_SCHED_STEP);
    assert_int_equal(c.train.step_size, 2);
    assert_true(c.train.gamma == 1.0);
    assert_int_equal(c.attack.position, POS_XY);
    assert_int_equal(c.attack.pos_x, 20);
    assert_int_equal(c.attack.pos_y, 5);
    assert_int_equal(c.attack.label_mode, LABEL_ALL2ALL);
    assert_int_equal(c.attack.poison_base, BASE_ALL);
    load_ok("[attack]\ntarget = 9\n", "t.ini", &c);
    assert_int_equal(c.attack.target, 9);
    // Booleans in every spelling.
    const char *yes[] = {"true", "yes", "1"}, *no[] = {"false", "no", "0"};
    char text[128];
    for (int i = 0; i < 3; i++) {
        snprintf(text, sizeof text, "[train]\nnesterov = %s\n", yes[i]);
        load_ok(text, "b.ini", &c);
        assert_int_equal(c.train.nesterov, 1);
        snprintf(text, sizeof text, "[train]\nnesterov = %s\n", no[i]);
        load_ok(text, "b.ini", &c);
        assert_int_equal(c.train.nesterov, 0);
    }
    // Every named position.
    const char *pos[] = {"bottom-right", "bottom-left", "top-left", "top-right", "center"};
    const TriggerPos want[] = {POS_BOTTOM_RIGHT, POS_BOTTOM_LEFT, POS_TOP_LEFT, POS_TOP_RIGHT, POS_CENTER};
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "[attack]\nposition = %s\n", pos[i]);
        load_ok(text, "p.ini", &c);
        assert_int_equal(c.attack.position, want[i]);
    }
    // Windows line endings and a UTF-8 byte-order mark.
    load_ok("\xEF\xBB\xBF[train]\r\nepochs = 7\r\n", "w.ini", &c);
    assert_int_equal(c.train.epochs, 7);
}

static void test_error_unknown(void **state) {
    (void)state;
    expect_error("[experiment]\nseed = 2\n[atack]\ntype = badnets\n",
                 "demo.ini:3: unknown section [atack]; known sections:");
    expect_error("[train]\nepochs = 2\n[extra]\n", "demo.ini:3: unknown section [extra]"); // no keys in it
    expect_error("[train]\nepochs = 2\nlrate = 0.1\n", "demo.ini:3: [train] lrate: unknown key; [train] takes: epochs");
    expect_error("[data]\nlayers = x\n", "demo.ini:2: [data] layers: unknown key");
    expect_error("seed = 3\n[experiment]\n", "demo.ini:1: key 'seed' comes before any section");
    expect_error("[train]\nepochs 3\n", "demo.ini:2: expected 'key = value', '[section]' or a comment, got 'epochs 3'");
    expect_error("[train\nepochs = 3\n", "demo.ini:1: missing ']'");
    expect_error("[train] x\n", "demo.ini:1: unexpected text after the section header");
    expect_error("[train]\nepochs = 3\n[data]\nfoo ; x = 1\n", "demo.ini:4: syntax error");
    expect_error("[data]\ndataset = mnist\n",
                 "demo.ini:2: [data] dataset: unknown dataset 'mnist'; known datasets: fashion-mnist");
    expect_error("[train]\noptimizer = rmsprop\n", "[train] optimizer: expected one of sgd|adam, got 'rmsprop'");
    expect_error("[train]\nschedule = linear\n", "expected one of constant|step|cosine, got 'linear'");
    expect_error("[attack]\ntype = blend\n", "demo.ini:2: [attack] type: unknown attack 'blend'; known attacks: "
                 "badnets, blended, sig, wanet, label-consistent");
    expect_error("[attack]\ntrigger = star\n",
                 "demo.ini:2: [attack] trigger: expected one of square|pixel|pattern|checkerboard|noise|png, got 'star'");
    expect_error("[attack]\nlabel_mode = one2one\n", "[attack] label_mode: expected one of all2one|all2all");
    expect_error("[attack]\npoison_rate_base = some\n", "[attack] poison_rate_base: expected one of all|nontarget|target");
    expect_error("[train]\nnesterov = maybe\n", "[train] nesterov: expected true, false, yes, no, 1 or 0, got 'maybe'");
    expect_error("[train]\nnesterov = True\n", "[train] nesterov: expected true, false");
}

static void test_error_duplicate_and_merge(void **state) {
    (void)state;
    expect_error("[train]\nlr = 0.1\nlr = 0.2\n", "demo.ini:3: [train] lr: duplicate key (already set on line 2)");
    // A repeated section is merged...
    ExperimentConfig c;
    load_ok("[train]\nepochs = 5\n[data]\ntrain_subset = 10\n[train]\nbatch = 32\n", "m.ini", &c);
    assert_int_equal(c.train.epochs, 5);
    assert_int_equal(c.train.batch, 32);
    assert_int_equal(c.data.train_subset, 10);
    // ...but a key set in both occurrences is still a duplicate.
    expect_error("[train]\nepochs = 5\n[data]\ntrain_subset = 10\n[train]\nepochs = 6\n",
                 "demo.ini:6: [train] epochs: duplicate key (already set on line 2)");
}

static void test_error_numbers(void **state) {
    (void)state;
    // The message format from the brief, on the right line (comments and blank lines count).
    expect_error("; demo\n[experiment]\nname = demo\n\n[train]\n# lines\n\n\n\n\nepochs = 3\nlr = abc\n",
                 "demo.ini:12: [train] lr: expected a number > 0, got 'abc'");
    expect_error("[train]\nlr = 0\n", "demo.ini:2: [train] lr: expected a number > 0, got '0'");
    expect_error("[train]\nlr = -0.1\n", "expected a number > 0, got '-0.1'");
    expect_error("[train]\nlr = nan\n", "expected a number > 0, got 'nan'");
    expect_error("[train]\nlr = inf\n", "expected a number > 0, got 'inf'");
    expect_error("[train]\nlr = 1e999\n", "expected a number > 0, got '1e999'");
    expect_error("[train]\nlr = 0.1x\n", "expected a number > 0, got '0.1x'");
    expect_error("[train]\nlr =\n", "expected a number > 0, got ''");
    expect_error("[train]\nepochs = 3.5\n", "[train] epochs: expected an integer in 1..1000000, got '3.5'");
    expect_error("[train]\nepochs = 0\n", "[train] epochs: expected an integer");
    expect_error("[train]\nepochs = 0x10\n", "[train] epochs: expected an integer");
    expect_error("[train]\nepochs = 99999999999999999999999\n", "[train] epochs: expected an integer");
    expect_error("[train]\nbatch = 4097\n", "[train] batch: expected an integer in 1..4096, got '4097'");
    expect_error("[train]\nmomentum = 1\n", "[train] momentum: expected a number in [0,1), got '1'");
    expect_error("[train]\nweight_decay = -1e-4\n", "[train] weight_decay: expected a number >= 0");
    expect_error("[train]\noptimizer = adam\nbeta2 = 1.0\n", "[train] beta2: expected a number in [0,1)");
    expect_error("[train]\noptimizer = adam\neps = 0\n", "[train] eps: expected a number > 0");
    expect_error("[train]\nschedule = step\ngamma = 0\n", "[train] gamma: expected a number in (0,1]");
    expect_error("[train]\nschedule = step\nstep_size = 0\n", "[train] step_size: expected an integer");
    expect_error("[experiment]\nthreads = 0\n", "[experiment] threads: expected an integer in 1..4096");
    expect_error("[experiment]\nseed = -1\n", "[experiment] seed: expected an unsigned 64-bit integer, got '-1'");
    expect_error("[experiment]\nseed = 18446744073709551616\n", "[experiment] seed: expected an unsigned 64-bit");
    expect_error("[experiment]\nname = my run\n", "[experiment] name: expected a name of 1..127 characters");
    expect_error("[experiment]\nname = ..\n", "[experiment] name: expected a name");
    expect_error("[data]\ndefender_clean_fraction = 0.6\n",
                 "[data] defender_clean_fraction: expected a number in [0,0.5]");
    expect_error("[data]\ntrain_subset = 0\n", "[data] train_subset: expected an integer >= 1");
    expect_error("[data]\ntest_subset = -5\n", "[data] test_subset: expected an integer >= 1");
    expect_error("[data]\npath =\n", "[data] path: expected a folder path");
    expect_error("[data]\npath =;x\n", "[data] path: expected a folder path"); // would read back as a comment
    expect_error("[model]\nlayers =#x\n", "[model] layers: expected at most 4096 characters, not starting");
    expect_error("[attack]\ntrigger_size = 29\n",
                 "demo.ini:2: [attack] trigger_size: 29 does not fit in the 28x28 images of fashion-mnist");
    expect_error("[attack]\ntrigger_value = 1.5\n", "[attack] trigger_value: expected a pixel value in [0,1]");
    expect_error("[attack]\ntrigger_value = -0.1\n", "[attack] trigger_value: expected a pixel value in [0,1]");
    expect_error("[attack]\ntarget = 256\n", "[attack] target: expected a class index in 0..255, got '256'");
    expect_error("[attack]\npoison_rate = 1.01\n", "[attack] poison_rate: expected a number in [0,1]");
    // Keys that do not apply to the chosen optimizer or schedule name their own line.
    expect_error("[train]\nmomentum = 0.5\noptimizer = adam\n",
                 "demo.ini:2: [train] momentum: applies only to optimizer = sgd (optimizer is adam)");
    expect_error("[train]\nbeta1 = 0.5\n", "demo.ini:2: [train] beta1: applies only to optimizer = adam");
    expect_error("[train]\nlr = 0.1\ngamma = 0.5\n", "demo.ini:3: [train] gamma: applies only to schedule = step");
    // A default name that is not a valid name.
    ExperimentConfig c;
    assert_int_equal(config_load_string("", "dir/my run.ini", &c), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "set name explicitly"));
    load_ok("[experiment]\nname = ok\n", "dir/my run.ini", &c); // fine once it is set
    assert_string_equal(c.experiment.name, "ok");
}

static void test_error_position(void **state) {
    (void)state;
    const char *bad[] = {"5", "3,", ",4", "-1,2", "a,b", "1,2,3", "1;2", "middle", "1.5,2", "99999,1"};
    char text[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "[attack]\nposition = %s\n", bad[i]);
        char want[96];
        snprintf(want, sizeof want, "demo.ini:2: [attack] position: expected bottom-right, bottom-left");
        expect_error(text, want);
    }
    // Parses, but the 3x3 patch would leave the 28x28 image.
    expect_error("[attack]\nposition = 26,0\n",
                 "demo.ini:2: [attack] position: a 3x3 patch at column 26, row 0 does not fit in the 28x28 images");
    expect_error("[attack]\nposition = 20,20\ntrigger_size = 9\n", "demo.ini:2: [attack] position: a 9x9 patch");
    ExperimentConfig c;
    load_ok("[attack]\nposition = 25,25\n", "p.ini", &c);
    assert_int_equal(c.attack.pos_x, 25);
    assert_int_equal(c.attack.pos_y, 25);
    load_ok("[attack]\ntrigger_size = 28\nposition = 0,0\n", "p.ini", &c);
    assert_int_equal(c.attack.trigger_size, 28);
}

static void test_error_long_line(void **state) {
    (void)state;
    // 300 characters on line 4. libinih's own fgets reader would split it and carry on.
    char text[1024];
    char longv[301];
    memset(longv, 'x', 300);
    longv[300] = 0;
    snprintf(text, sizeof text, "[model]\n; a comment\n\n%s\n[train]\nepochs = 3\n", longv);
    expect_error(text, "demo.ini:4: line is 300 characters long; the INI reader takes at most 199");
    // A long value line, and a long comment line: both errors with their line numbers.
    snprintf(text, sizeof text, "[train]\nepochs = 3\nlr = 0.%s\n", longv);
    expect_error(text, "demo.ini:3: line is 307 characters long");
    snprintf(text, sizeof text, "[train]\n;%s\n", longv);
    expect_error(text, "demo.ini:2: line is 301 characters long");
    // The longest line that fits is accepted (199 characters: "layers = " + 190).
    char fits[200];
    memset(fits, 'y', 190);
    fits[190] = 0;
    snprintf(text, sizeof text, "[model]\nlayers = %s\n", fits);
    ExperimentConfig c;
    load_ok(text, "l.ini", &c);
    assert_string_equal(c.model.layers, fits);
    snprintf(text, sizeof text, "[model]\nlayers = %sy\n", fits); // one more is too long
    expect_error(text, "demo.ini:2: line is 200 characters long");
}

static void test_missing_file(void **state) {
    (void)state;
    ExperimentConfig c;
    assert_int_equal(config_load("/nonexistent/dir/none.ini", &c), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "cannot open config '/nonexistent/dir/none.ini'"));
    assert_non_null(strstr(bl_errmsg(), "No such file"));
    assert_int_equal(config_load("/", &c), BL_ERR_USAGE); // a folder is not a config
}

static void test_continuation(void **state) {
    (void)state;
    ExperimentConfig c;
    load_ok("[model]\n"
            "layers = conv 3x3 16\n"
            "    relu\n"
            "\tmaxpool 2 ; inline comment\n"
            "# a comment line does not end the value\n"
            "    fc 10\n"
            "[train]\n"
            "epochs = 4\n",
            "c.ini", &c);
    assert_string_equal(c.model.layers, "conv 3x3 16 relu maxpool 2 fc 10");
    assert_int_equal(c.train.epochs, 4);
    // The value may start on the next line.
    load_ok("[model]\nlayers =\n  a\n  b\n", "c.ini", &c);
    assert_string_equal(c.model.layers, "a b");
    // A blank line ends the value: an indented line after it is an ordinary key line.
    expect_error("[model]\nlayers = a\n\n  b\n", "demo.ini:4: expected 'key = value'");
    load_ok("[model]\nlayers = a\n\n  [train]\n  epochs = 2\n", "c.ini", &c);
    assert_string_equal(c.model.layers, "a");
    assert_int_equal(c.train.epochs, 2);
    // Indented lines after any other key are ordinary lines (libinih alone would treat them as continuations).
    load_ok("[train]\nepochs = 3\n  batch = 8\n", "c.ini", &c);
    assert_int_equal(c.train.epochs, 3);
    assert_int_equal(c.train.batch, 8);
    // An empty value with nothing following is an error on the layers line.
    expect_error("[model]\nlayers =\n[train]\n", "demo.ini:2: [model] layers: empty");
    // Continuation lines may build a value longer than one line may be, up to 4096 characters.
    size_t cap = 8192, w = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    w += (size_t)snprintf(text + w, cap - w, "[model]\nlayers = start\n");
    for (int i = 0; i < 40; i++) w += (size_t)snprintf(text + w, cap - w, "    layer%02d %080d\n", i, 0);
    load_ok(text, "c.ini", &c);
    assert_int_equal((int)strlen(c.model.layers), 5 + 40 * (1 + 7 + 1 + 80));
    // ...and no further.
    for (int i = 40; i < 47; i++) w += (size_t)snprintf(text + w, cap - w, "    layer%02d %080d\n", i, 0);
    expect_error(text, "demo.ini:48: [model] layers: the value grows past 4096 characters");
    free(text);
}

static void test_round_trip(void **state) {
    (void)state;
    char *s = round_trip(demo_ini);
    // Only what applies: sgd keys, no adam keys, no schedule extras, no path or subsets.
    assert_non_null(strstr(s, "momentum = 0.9\n"));
    assert_non_null(strstr(s, "nesterov = false\n"));
    assert_non_null(strstr(s, "lr = 0.01\n"));
    assert_non_null(strstr(s, "trigger_value = 1\n"));
    assert_non_null(strstr(s, "[attack]\n"));
    assert_null(strstr(s, "beta1"));
    assert_null(strstr(s, "step_size"));
    assert_null(strstr(s, "gamma"));
    assert_null(strstr(s, "path ="));
    assert_null(strstr(s, "train_subset"));
    free(s);

    // adam + step schedule + X,Y position + awkward numbers + no attack.
    s = round_trip("[experiment]\nseed = 18446744073709551615\n"
                   "[data]\npath = /tmp/fm data\ntrain_subset = 123\ntest_subset = 45\ndefender_clean_fraction = 0.3\n"
                   "[train]\noptimizer = adam\nlr = 0.30000000000000004\nbeta1 = 0.85\neps = 1e-300\n"
                   "weight_decay = 1e-4\nschedule = step\nstep_size = 3\ngamma = 0.7\n");
    assert_null(strstr(s, "momentum"));
    assert_null(strstr(s, "nesterov"));
    assert_null(strstr(s, "[attack]"));
    assert_non_null(strstr(s, "beta2 = 0.999\n"));
    assert_non_null(strstr(s, "lr = 0.30000000000000004\n"));
    assert_non_null(strstr(s, "step_size = 3\n"));
    assert_non_null(strstr(s, "path = /tmp/fm data\n"));
    assert_non_null(strstr(s, "seed = 18446744073709551615\n"));
    free(s);

    s = round_trip("[attack]\nposition = 7,11\ntrigger_value = 0.7\npoison_rate = 0.0123\nlabel_mode = all2all\n"
                   "[train]\nschedule = cosine\nnesterov = yes\n");
    assert_non_null(strstr(s, "position = 7,11\n"));
    assert_non_null(strstr(s, "trigger_value = 0.7\n"));
    assert_non_null(strstr(s, "schedule = cosine\n"));
    assert_non_null(strstr(s, "threads = ")); // unset threads is written as the number used
    free(s);

    // A long layers value is wrapped onto continuation lines and reads back identically.
    char text[8192];
    size_t w = (size_t)snprintf(text, sizeof text, "[model]\nlayers = conv  double-space\ttab");
    for (int i = 0; i < 60; i++) w += (size_t)snprintf(text + w, sizeof text - w, "\n  block%d a b c", i);
    snprintf(text + w, sizeof text - w, "\n");
    s = round_trip(text);
    for (char *line = s; *line;) { // every line stays short
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        assert_true(len < 199);
        line += len + (nl ? 1 : 0);
    }
    free(s);
}

static void test_write_resolved(void **state) {
    (void)state;
    char dir[] = "/tmp/bl_test_config_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], src[256];
    snprintf(src, sizeof src, "%s/demo.ini", dir);
    snprintf(path, sizeof path, "%s/resolved.ini", dir);
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    fputs(demo_ini, f);
    assert_int_equal(fclose(f), 0);

    ExperimentConfig a, b;
    assert_int_equal(config_load(src, &a), BL_OK);
    assert_int_equal(config_write_resolved(&a, path), BL_OK);
    assert_int_equal(config_load(path, &b), BL_OK);
    assert_cfg_equal(&a, &b); // the name is kept although the file is now resolved.ini
    // The written file is byte-identical to config_resolved_string.
    char *s = config_resolved_string(&a);
    assert_non_null(s);
    char buf[4096];
    f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_string_equal(buf, s);
    free(s);
    // Writing into a folder that does not exist fails cleanly.
    char bad[300];
    snprintf(bad, sizeof bad, "%s/nope/resolved.ini", dir);
    assert_int_equal(config_write_resolved(&a, bad), BL_ERR_RUN);
    assert_int_equal(remove(src), 0);
    assert_int_equal(remove(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

// Hostile input: random edits of the demo config never crash, fail only with BL_ERR_USAGE, and whatever
// loads also round-trips through the resolved config.
static void test_fuzz(void **state) {
    (void)state;
    static const char alphabet[] = "\n\n  \t[]=;#,.:-+0123456789eEabcdxyz\r\x80\xff";
    Rng r = rng_stream(7, "test");
    size_t base = strlen(demo_ini);
    char *text = malloc(base + 64);
    assert_non_null(text);
    int loaded = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(text, demo_ini, base + 1);
        size_t n = base;
        int edits = 1 + (int)rng_below(&r, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)rng_below(&r, n + 1);
            char ch = alphabet[rng_below(&r, sizeof alphabet - 1)];
            switch (rng_below(&r, 3)) {
            case 0: if (at < n) text[at] = ch; break;                                   // replace
            case 1: memmove(text + at + 1, text + at, n - at + 1); text[at] = ch; n++; break; // insert
            default: if (at < n) { memmove(text + at, text + at + 1, n - at); n--; } break; // delete
            }
        }
        ExperimentConfig a, b;
        Status st = config_load_string(text, "fuzz.ini", &a);
        assert_true(st == BL_OK || st == BL_ERR_USAGE);
        if (st != BL_OK) continue;
        loaded++;
        char *s1 = config_resolved_string(&a);
        assert_non_null(s1);
        if (config_load_string(s1, "fuzz.ini", &b) != BL_OK) print_error("%s\n---\n%s\n", bl_errmsg(), s1);
        assert_int_equal(config_load_string(s1, "fuzz.ini", &b), BL_OK);
        char *s2 = config_resolved_string(&b);
        assert_string_equal(s1, s2);
        free(s1);
        free(s2);
    }
    assert_true(loaded > 100); // the edits are small enough that many variants still load
    free(text);
}

// The attack library's keys: per-type defaults, keys that do not apply, what the resolved config writes.
static void test_attack_keys(void **state) {
    (void)state;
    ExperimentConfig c;
    // blended: alpha defaults to 0.2, the base to nontarget; its resolved section has only blended keys.
    char *s = round_trip("[attack]\ntype = blended\n");
    assert_non_null(strstr(s, "[attack]\ntype = blended\nkey = noise\nalpha_train = 0.2\nalpha_test = 0.2\ntarget = 0\n"
                              "label_mode = all2one\npoison_rate = 0.1\npoison_rate_base = nontarget\n"));
    assert_null(strstr(s, "trigger"));
    assert_null(strstr(s, "position"));
    free(s);
    // sig: clean-label, base target, no label_mode; delta 40/255 round-trips.
    s = round_trip("[attack]\ntype = sig\npoison_rate = 1\n");
    assert_non_null(strstr(s, "type = sig\ndelta = 0.15686275\nfrequency = 6\ntarget = 0\npoison_rate = 1\n"
                              "poison_rate_base = target\n"));
    assert_null(strstr(s, "label_mode"));
    free(s);
    load_ok("[attack]\ntype = sig\n", "s.ini", &c);
    assert_int_equal(c.attack.poison_base, BASE_TARGET);
    // wanet and label-consistent.
    s = round_trip("[attack]\ntype = wanet\nk = 8\ns = 1\ncross_ratio = 0\npoison_count = 50\n");
    assert_non_null(strstr(s, "type = wanet\nk = 8\ns = 1\ncross_ratio = 0\ntarget = 0\nlabel_mode = all2one\n"
                              "poison_rate_base = nontarget\npoison_count = 50\n"));
    assert_null(strstr(s, "poison_rate ="));
    free(s);
    s = round_trip("[attack]\ntype = label-consistent\neps = 0.3\nsteps = 7\ntrigger = checkerboard\n"
                   "position = random\nposition_test = 1,2\nsurrogate = /tmp/clean model.bdm\n");
    assert_non_null(strstr(s, "type = label-consistent\ntrigger = checkerboard\ntrigger_size = 3\ntrigger_value = 1\n"
                              "position = random\nposition_test = 1,2\nalpha_train = 1\nalpha_test = 1\neps = 0.3\n"
                              "steps = 7\nsurrogate = /tmp/clean model.bdm\ntarget = 0\npoison_rate = 0.1\n"
                              "poison_rate_base = target\n"));
    free(s);
    // badnets: position_test follows position unless set; source classes sorted; pixel has no trigger_size.
    load_ok("[attack]\nposition = 3,4\nsource_classes = 7, 2,5\ntrigger = pixel\n", "b.ini", &c);
    assert_int_equal(c.attack.position_test, POS_XY);
    assert_int_equal(c.attack.pos_test_x, 3);
    assert_int_equal(c.attack.pos_test_y, 4);
    assert_int_equal(c.attack.source_count, 3);
    assert_int_equal(c.attack.source_classes[0], 2);
    assert_int_equal(c.attack.source_classes[2], 7);
    s = round_trip("[attack]\nposition = 3,4\nsource_classes = 7, 2,5\ntrigger = pixel\n");
    assert_non_null(strstr(s, "source_classes = 2,5,7\n"));
    assert_null(strstr(s, "trigger_size"));
    free(s);
    // all2all: the base defaults to all; target does not apply.
    load_ok("[attack]\nlabel_mode = all2all\n", "a.ini", &c);
    assert_int_equal(c.attack.poison_base, BASE_ALL);
    // PNG dataset: the folder travels in path; resolved writes png:PATH and no path key.
    load_ok("[data]\ndataset = png:/data/gtsrb\n", "p.ini", &c);
    assert_string_equal(c.data.dataset, "png");
    assert_string_equal(c.data.path, "/data/gtsrb");
    s = round_trip("[data]\ndataset = png:/data/my set\n[attack]\ntrigger_size = 40\ntarget = 42\n");
    assert_non_null(strstr(s, "dataset = png:/data/my set\n"));
    assert_null(strstr(s, "path ="));
    free(s);
}

// Keys that do not apply, conflicting keys, and shape checks: each an error on its own line.
static void test_attack_key_errors(void **state) {
    (void)state;
    expect_error("[attack]\ntype = blended\ntrigger_size = 3\n",
                 "demo.ini:3: [attack] trigger_size: applies only to trigger = square, checkerboard or noise; remove it");
    expect_error("[attack]\ntrigger = pattern\ntrigger_size = 4\n", "demo.ini:3: [attack] trigger_size: applies only");
    expect_error("[attack]\ntrigger = noise\ntrigger_value = 1\n", "demo.ini:3: [attack] trigger_value: applies only");
    expect_error("[attack]\nalpha_train = 0.5\ntype = sig\n",
                 "demo.ini:2: [attack] alpha_train: applies only to type = badnets, blended or label-consistent");
    expect_error("[attack]\ndelta = 0.1\n", "demo.ini:2: [attack] delta: applies only to type = sig");
    expect_error("[attack]\nk = 4\n", "demo.ini:2: [attack] k: applies only to type = wanet");
    expect_error("[attack]\ntype = wanet\neps = 0.1\n", "demo.ini:3: [attack] eps: applies only to type = label-consistent");
    expect_error("[attack]\nlabel_mode = all2all\ntarget = 3\n",
                 "demo.ini:3: [attack] target: applies only to label_mode = all2one");
    expect_error("[attack]\ntype = sig\nlabel_mode = all2one\n",
                 "demo.ini:3: [attack] label_mode: applies only to dirty-label attacks");
    expect_error("[attack]\ntype = sig\nsource_classes = 1\n", "demo.ini:3: [attack] source_classes: applies only");
    expect_error("[attack]\nkey = png\n", "demo.ini:2: [attack] key: applies only to type = blended");
    expect_error("[attack]\ntrigger_png = x.png\n", "demo.ini:2: [attack] trigger_png: applies only to trigger = png");
    expect_error("[attack]\nposition_test = random\ntype = wanet\n", "demo.ini:2: [attack] position_test: applies only");
    expect_error("[attack]\npoison_rate = 0.1\npoison_count = 5\n",
                 "demo.ini:3: [attack] poison_count: poison_rate and poison_count are alternatives");
    expect_error("[attack]\npoison_count = 5\npoison_rate = 0.1\n", "demo.ini:3: [attack] poison_rate: poison_rate and");
    expect_error("[attack]\ntrigger = png\n", "demo.ini:2: [attack] trigger: png needs trigger_png = FILE.png");
    expect_error("[attack]\ntype = blended\nkey = png\n", "demo.ini:3: [attack] key: png needs trigger_png");
    expect_error("[attack]\ntype = sig\npoison_rate_base = nontarget\n",
                 "demo.ini:3: [attack] poison_rate_base: sig poisons only target-class images");
    expect_error("[attack]\npoison_rate_base = target\n",
                 "demo.ini:2: [attack] poison_rate_base: target applies only to clean-label attacks");
    expect_error("[attack]\nlabel_mode = all2all\npoison_rate_base = nontarget\n",
                 "demo.ini:3: [attack] poison_rate_base: all2all has no target class: use all");
    expect_error("[attack]\ntarget = 3\nsource_classes = 1,3\n", "demo.ini:3: [attack] source_classes: class 3 is the target");
    expect_error("[attack]\nsource_classes = 1,1\n", "demo.ini:2: [attack] source_classes: expected a comma-separated");
    expect_error("[attack]\nsource_classes = 1,,2\n", "[attack] source_classes: expected");
    expect_error("[attack]\nsource_classes =\n", "[attack] source_classes: expected");
    expect_error("[attack]\nsource_classes = 12\n", "demo.ini:2: [attack] source_classes: class 12 is outside the labels "
                 "of fashion-mnist (0..9)");
    // Label range and trigger fit, known for fashion-mnist while parsing.
    expect_error("[data]\ndataset = fashion-mnist\n[attack]\ntarget = 10\n",
                 "demo.ini:4: [attack] target: 10 is outside the labels of fashion-mnist (0..9)");
    expect_error("[attack]\nposition_test = 26,26\n", "demo.ini:2: [attack] position_test: a 3x3 patch at column 26");
    expect_error("[attack]\ntrigger = pattern\nposition = 26,0\n", "demo.ini:3: [attack] position: a 3x3 patch");
    expect_error("[attack]\ntype = wanet\nk = 29\n", "demo.ini:3: [attack] k: 29 is larger than the 28x28 images");
    expect_error("[attack]\nalpha_test = 0\n", "demo.ini:2: [attack] alpha_test: expected a blend weight in (0,1]");
    expect_error("[attack]\ntype = sig\ndelta = 1.5\n", "[attack] delta: expected an amplitude in (0,1]");
    expect_error("[attack]\ntype = wanet\nk = 1\n", "[attack] k: expected an integer in 2..4096");
    expect_error("[attack]\ntype = label-consistent\nsteps = 0\n", "[attack] steps: expected an integer in 1..10000");
    expect_error("[attack]\npoison_count = -1\n", "[attack] poison_count: expected a number of samples >= 0");
    expect_error("[attack]\nposition = anywhere\n", "[attack] position: expected bottom-right, bottom-left, top-left, "
                 "top-right, center, random or X,Y");
    // PNG dataset values.
    expect_error("[data]\ndataset = png:\n", "demo.ini:2: [data] dataset: expected png:PATH");
    expect_error("[data]\ndataset = png:/x\npath = /y\n", "demo.ini:3: [data] path: does not apply to dataset = png:PATH");
    // A trigger PNG is checked when the dataset's shape is known: missing, too large, 16-bit, colour.
    char dir[] = "/tmp/bl_test_config_png_XXXXXX", text[512], p[128];
    assert_non_null(mkdtemp(dir));
    snprintf(text, sizeof text, "[attack]\ntrigger = png\ntrigger_png = %s/none.png\n", dir);
    expect_error(text, "demo.ini:3: [attack] trigger_png: cannot open");
    // A 30x2 gray PNG (too wide), written by hand: signature, IHDR, IDAT, IEND through our own PNG writer.
    snprintf(p, sizeof p, "%s/wide.png", dir);
    uint8_t pix[60] = {0};
    assert_int_equal(png_write_gray(p, pix, 30, 2), BL_OK);
    snprintf(text, sizeof text, "[attack]\ntrigger = png\ntrigger_png = %s\n", p);
    expect_error(text, "demo.ini:3: [attack] trigger_png: the trigger");
    expect_error(text, "is 30x2, larger than the 28x28 images of fashion-mnist");
    snprintf(text, sizeof text, "[attack]\ntype = blended\nkey = png\ntrigger_png = %s\n", p);
    expect_error(text, "demo.ini:4: [attack] trigger_png: the blend key");
    expect_error(text, "resize it to 28x28");
    uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
    snprintf(p, sizeof p, "%s/rgb.png", dir);
    assert_int_equal(png_write_rgb(p, rgb, 2, 2), BL_OK);
    snprintf(text, sizeof text, "[attack]\ntrigger = png\ntrigger_png = %s\n", p);
    expect_error(text, "is a colour PNG but fashion-mnist images are gray");
    snprintf(p, sizeof p, "%s/ok.png", dir);
    assert_int_equal(png_write_gray(p, pix, 4, 4), BL_OK);
    snprintf(text, sizeof text, "[attack]\ntrigger = png\ntrigger_png = %s\nposition = 24,24\n", p);
    ExperimentConfig c;
    load_ok(text, "ok.ini", &c);
    snprintf(text, sizeof text, "[attack]\ntrigger = png\ntrigger_png = %s\nposition = 25,24\n", p);
    expect_error(text, "demo.ini:4: [attack] position: a 4x4 patch at column 25, row 24 does not fit");
    remove(p);
    snprintf(p, sizeof p, "%s/rgb.png", dir);
    remove(p);
    snprintf(p, sizeof p, "%s/wide.png", dir);
    remove(p);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_parses),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_error_unknown),
        cmocka_unit_test(test_error_duplicate_and_merge),
        cmocka_unit_test(test_error_numbers),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_error_long_line),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_resolved),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_attack_keys),
        cmocka_unit_test(test_attack_key_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
