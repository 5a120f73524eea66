// test_attack_params.c: attacks own their [attack] keys (attack/params.h). A fake attack registered here declares
// int, real, choice, string and list keys in its own table, with no AttackSpec field and no config.c entry; the
// config reader validates, stores and writes them from the table, with file:line errors. Also: the sample-kind
// check for attacks and defences, and invariants of the registered tables.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attack/registry.h"
#include "io/config.h"
#include "run/defenses.h"

static int fake_high(const AttackSpec *a) { return !strcmp(attack_param_str(a, "mode"), "high"); }
static const char *const fake_modes[] = {"low", "high", NULL};

// The whole of a new attack's key declaration: one table.
static const AttackParam fake_params[] = {
    {.key = "n_steps", .type = ATK_INT, .def = "3", .min = 1, .max = 10, .help = "steps"},
    {.key = "gain", .type = ATK_REAL, .def = "0.5", .min = 0, .max = 2, .flags = ATK_MIN_OPEN, .help = "gain"},
    {.key = "mode", .type = ATK_CHOICE, .def = "low", .choices = fake_modes, .help = "mode"},
    {.key = "label", .type = ATK_STRING, .max = 16, .help = "a name (no default: unset)"},
    {.key = "feats", .type = ATK_LIST, .max = 3, .help = "up to three feature names"},
    {.key = "extra", .type = ATK_INT, .def = "1", .min = 0, .max = 5, .applies = fake_high, .why = "mode = high",
     .help = "only with mode = high"},
};

static Status fake_check(const AttackSpec *a, const Dataset *d) {
    (void)a, (void)d;
    return BL_OK;
}

static const AttackOps fake_attack = {
    .name = "fake",
    .summary = "a test attack with its own keys",
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS),
    .params = fake_params,
    .nparams = (int)(sizeof fake_params / sizeof fake_params[0]),
    .check = fake_check,
};

static int setup(void **state) {
    (void)state;
    return attack_register(&fake_attack) == BL_OK ? 0 : -1;
}

static void expect_error(const char *text, const char *want) {
    ExperimentConfig c;
    Status st = config_load_string(text, "f.ini", &c);
    if (st != BL_ERR_USAGE || !strstr(bl_errmsg(), want))
        print_error("status %d, message \"%s\", wanted \"%s\"\n", (int)st, bl_errmsg(), want);
    assert_int_equal(st, BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), want));
}

static void load_ok(const char *text, ExperimentConfig *c) {
    Status st = config_load_string(text, "f.ini", c);
    if (st) print_error("unexpected error: %s\n", bl_errmsg());
    assert_int_equal(st, BL_OK);
}

// Resolved text, which must read back to the same text.
static char *round_trip(const char *text) {
    static ExperimentConfig a, b;
    load_ok(text, &a);
    char *s = config_resolved_string(&a);
    assert_non_null(s);
    load_ok(s, &b);
    char *t = config_resolved_string(&b);
    assert_string_equal(s, t);
    free(t);
    return s;
}

static void test_defaults_and_values(void **state) {
    (void)state;
    static ExperimentConfig c;
    load_ok("[attack]\ntype = fake\n", &c);
    assert_true(attack_param(&c.attack, "n_steps") == 3.0);
    assert_true(attack_param(&c.attack, "gain") == 0.5);
    assert_true(attack_param(&c.attack, "mode") == 0.0);
    assert_string_equal(attack_param_str(&c.attack, "mode"), "low");
    assert_true(isnan(attack_param(&c.attack, "label"))); // no default: unset
    assert_string_equal(attack_param_str(&c.attack, "label"), "");
    assert_true(isnan(attack_param(&c.attack, "trigger_size"))); // a field-backed key is not in the store
    char *s = round_trip("[attack]\ntype = fake\n");
    assert_non_null(strstr(s, "[attack]\ntype = fake\nn_steps = 3\ngain = 0.5\nmode = low\ntarget = 0\n"
                              "label_mode = all2one\npoison_rate = 0.1\npoison_rate_base = nontarget\n"));
    assert_null(strstr(s, "extra")); // applies only to mode = high
    assert_null(strstr(s, "label ="));
    free(s);

    load_ok("[attack]\nn_steps = 7\ntype = fake\ngain = 2\nmode = high\nlabel = abc\nfeats = a, b,c\n", &c);
    assert_true(attack_param(&c.attack, "n_steps") == 7.0); // read before type was known
    assert_true(attack_param(&c.attack, "gain") == 2.0);
    assert_string_equal(attack_param_str(&c.attack, "mode"), "high");
    assert_true(attack_param(&c.attack, "extra") == 1.0); // default, now that it applies
    assert_string_equal(attack_param_str(&c.attack, "label"), "abc");
    assert_string_equal(attack_param_str(&c.attack, "feats"), "a,b,c");
    char items[4][ATTACK_ITEM_MAX];
    assert_int_equal(attack_param_list(&c.attack, "feats", items, 4), 3);
    assert_string_equal(items[1], "b");
    assert_int_equal(config_key_line(&c, "attack", "n_steps"), 2);
    assert_int_equal(config_key_line(&c, "attack", "gain"), 4);
    assert_int_equal(config_key_line(&c, "attack", "extra"), 0);
    s = round_trip("[attack]\nn_steps = 7\ntype = fake\ngain = 2\nmode = high\nlabel = abc\nfeats = a, b,c\nextra = 5\n");
    assert_non_null(strstr(s, "type = fake\nn_steps = 7\ngain = 2\nmode = high\nlabel = abc\nfeats = a,b,c\nextra = 5\n"));
    free(s);

    // A [sweep] over a new attack's key: each point is checked, the first is the loaded value.
    load_ok("[attack]\ntype = fake\n[sweep]\nkey = attack.n_steps\nvalues = 2,9\n", &c);
    assert_true(attack_param(&c.attack, "n_steps") == 2.0);
    assert_int_equal(config_set(&c, "attack", "n_steps", "9", "f.ini", 5), BL_OK);
    assert_true(attack_param(&c.attack, "n_steps") == 9.0);
    // attack_spec_defaults fills a new attack's store too (programmatic use, as the tests of real attacks do).
    AttackSpec a;
    attack_spec_defaults(&a, "fake");
    assert_true(attack_param(&a, "gain") == 0.5);
    assert_int_equal(a.nvalues, 4); // n_steps, gain, mode, extra (a default even where it does not apply); label
                                    // has none
}

static void test_value_errors(void **state) {
    (void)state;
    expect_error("[attack]\ntype = fake\nn_steps = 11\n", "f.ini:3: [attack] n_steps: expected an integer in 1..10, got '11'");
    expect_error("[attack]\ntype = fake\nn_steps = 2.5\n", "f.ini:3: [attack] n_steps: expected an integer in 1..10");
    expect_error("[attack]\ntype = fake\ngain = 0\n", "f.ini:3: [attack] gain: expected a number in (0,2], got '0'");
    expect_error("[attack]\ntype = fake\ngain = 2.01\n", "f.ini:3: [attack] gain: expected a number in (0,2]");
    expect_error("[attack]\ntype = fake\ngain = nan\n", "f.ini:3: [attack] gain: expected a number in (0,2]");
    expect_error("[attack]\ntype = fake\nmode = mid\n", "f.ini:3: [attack] mode: expected one of low|high, got 'mid'");
    expect_error("[attack]\ntype = fake\nlabel = 12345678901234567\n",
                 "f.ini:3: [attack] label: expected text of 1..16 characters, not starting with ';' or '#'");
    expect_error("[attack]\ntype = fake\nfeats = a,b,c,d\n", "f.ini:3: [attack] feats: expected a comma-separated list of 1..3 items");
    expect_error("[attack]\ntype = fake\nfeats = a,,b\n", "f.ini:3: [attack] feats: expected a comma-separated list");
    expect_error("[attack]\ntype = fake\nfeats = a b\n", "f.ini:3: [attack] feats: expected a comma-separated list");
    expect_error("[attack]\ntype = fake\ngain = 1\ngain = 1\n", "f.ini:4: [attack] gain: duplicate key (already set on line 3)");
    // keys that do not apply: another attack's, a shared group this attack does not take, or applies() says no
    expect_error("[attack]\nn_steps = 4\n", "f.ini:2: [attack] n_steps: applies only to type = fake; remove it");
    expect_error("[attack]\ntype = fake\ntrigger = square\n",
                 "f.ini:3: [attack] trigger: applies only to patch attacks (type = badnets or label-consistent)");
    expect_error("[attack]\ntype = fake\nextra = 2\n", "f.ini:3: [attack] extra: applies only to mode = high; remove it");
    expect_error("[attack]\ntype = fake\nnosuch = 1\n", "f.ini:3: [attack] nosuch: unknown key; [attack] takes: type, ");
    expect_error("[attack]\ntype = fake\n[sweep]\nkey = attack.n_steps\nvalues = 2,11\n",
                 "f.ini:5: [attack] n_steps: expected an integer in 1..10, got '11'");
}

// An attack or a defence on a dataset of a kind it does not support: an error naming the line.
static void test_kind_mismatch(void **state) {
    (void)state;
    expect_error("[data]\ndataset = pima-diabetes\n[attack]\ntype = badnets\n",
                 "f.ini:4: [attack] type: badnets works on images, but dataset pima-diabetes holds records; choose an "
                 "attack that supports records");
    // no type: the default (badnets) is refused at the section header
    expect_error("[data]\ndataset = csv:/data/x.csv\n\n[attack]\ntarget = 1\n",
                 "f.ini:4: [attack] type: badnets works on images, but dataset csv holds records");
    expect_error("[data]\ndataset = breast-cancer\n[attack]\ntype = wanet\n", "f.ini:4: [attack] type: wanet works on images");
    // the fake attack takes records; image-only keys are not checked against a shape
    static ExperimentConfig c;
    load_ok("[data]\ndataset = breast-cancer\n[attack]\ntype = fake\ntarget = 200\n", &c);
    assert_int_equal(config_data_kind(&c), DS_RECORDS);
    char *s = round_trip("[data]\ndataset = csv:/data/my file.csv\n[attack]\ntype = fake\n");
    assert_non_null(strstr(s, "dataset = csv:/data/my file.csv\n"));
    assert_null(strstr(s, "path ="));
    free(s);
    expect_error("[data]\ndataset = csv:/x.csv\npath = /y\n", "f.ini:3: [data] path: does not apply to dataset = csv:PATH");
    expect_error("[data]\ndataset = csv:\n", "f.ini:2: [data] dataset: expected csv:PATH");
    const char *recs[] = {"breast-cancer", "pima-diabetes", "satellite", "shuttle", "letter"};
    for (int i = 0; i < 5; i++) {
        char text[128];
        snprintf(text, sizeof text, "[data]\ndataset = %s\n", recs[i]);
        load_ok(text, &c);
        assert_int_equal(config_data_kind(&c), DS_RECORDS);
    }
    load_ok("[data]\ndataset = png:/x\n", &c);
    assert_int_equal(config_data_kind(&c), DS_IMAGES);
    load_ok("[data]\ndataset = mnist10k\n", &c);
    assert_int_equal(config_data_kind(&c), DS_IMAGES);

    // a defence: the section's line
    load_ok("[data]\ndataset = breast-cancer\n[attack]\ntype = fake\n[defense.nc-unlearn]\nsteps = 5\n", &c);
    Status st = run_defenses_check(&c, "d.ini");
    assert_int_equal(st, BL_ERR_USAGE);
    if (!strstr(bl_errmsg(), "d.ini:5: [defense.nc-unlearn]: nc-unlearn works on images, but dataset "
                             "breast-cancer holds records"))
        print_error("%s\n", bl_errmsg());
    assert_non_null(strstr(bl_errmsg(), "d.ini:5: [defense.nc-unlearn]: nc-unlearn works on images, but "
                                        "dataset breast-cancer holds records"));
    load_ok("[attack]\ntype = fake\n[defense.nc-unlearn]\nsteps = 5\n", &c);
    assert_int_equal(run_defenses_check(&c, "d.ini"), BL_OK);
}

// Every registered table: defaults are valid values; a key declared by several attacks has one type and one place
// to live; every key has help; the key list fits the config's line table.
static void test_tables(void **state) {
    (void)state;
    assert_true(attack_key_count() <= CONFIG_MAX_ATTACK_KEYS);
    for (int i = 0; i < attack_count(); i++) {
        const AttackOps *ops = attack_at(i);
        assert_true(ops->kinds != 0);
        for (int j = 0; j < attack_param_count(ops); j++) {
            const AttackParam *p = attack_param_at(ops, j), *first = attack_param_any(p->key);
            AttackSpec a;
            attack_spec_defaults(&a, ops->name);
            if (p->def && !attack_param_set(&a, p, p->def)) print_error("%s %s: bad default\n", ops->name, p->key);
            assert_true(!p->def || attack_param_set(&a, p, p->def));
            assert_non_null(p->help);
            assert_true(p->type != ATK_CUSTOM || (p->parse && p->format && p->expect));
            assert_int_equal(p->type, first->type);
            assert_int_equal(p->field, first->field);
            assert_int_equal(p->offset, first->offset);
            assert_true(strlen(p->key) < sizeof a.values[0].key);
            assert_true(attack_key_index(p->key) > 0);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_kind_mismatch),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
