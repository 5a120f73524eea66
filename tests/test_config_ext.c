// test_config_ext.c: the config keys that connect to other issues: [defense.<name>] sections, dataset_manifest
// and trusted_key (parsing, merging, errors with file:line, and the resolved config).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glob.h>

#include "io/config.h"
#include "run/defenses.h"
#include "run/docs.h"
#include "scan/policy.h"

static void test_defense_sections(void **state) {
    (void)state;
    ExperimentConfig c;
    const char *text = "[experiment]\nseed = 2\n[defense.spectral]\neps = 0.1\n[defense.strip]\nn = 50\n"
                       "[train]\nepochs = 1\n[defense.spectral]\ncentered = 0\n";
    assert_int_equal(config_load_string(text, "d.ini", &c), BL_OK);
    assert_int_equal(c.ndefenses, 2);
    assert_string_equal(c.defenses[0].name, "spectral");
    assert_int_equal(c.defenses[0].line, 3);
    assert_int_equal(c.defenses[0].nkeys, 2); // merged across the two [defense.spectral] sections
    assert_string_equal(c.defenses[0].key[1], "centered");
    assert_int_equal(c.defenses[0].key_line[1], 10);
    assert_string_equal(c.defenses[1].value[0], "50");
    // a key repeated across merged sections is a duplicate naming both lines
    assert_int_equal(config_load_string("[defense.ac]\nk = 2\n[data]\n[defense.ac]\nk = 3\n", "e.ini", &c),
                     BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "e.ini:5"));
    assert_non_null(strstr(bl_errmsg(), "line 2"));
    assert_int_equal(config_load_string("[defense.a b]\n", "f.ini", &c), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "f.ini:1"));
}

static void test_manifest_and_trusted_key(void **state) {
    (void)state;
    ExperimentConfig c, d;
    const char *text = "[data]\ndataset_manifest = /tmp/m.json\n[model]\ntrusted_key = keys/pub.key\n";
    assert_int_equal(config_load_string(text, "g.ini", &c), BL_OK);
    assert_string_equal(c.data.manifest, "/tmp/m.json");
    assert_string_equal(c.model.trusted_key, "keys/pub.key");
    char *r = config_resolved_string(&c);
    assert_non_null(r);
    assert_non_null(strstr(r, "dataset_manifest = /tmp/m.json\n"));
    assert_non_null(strstr(r, "trusted_key = keys/pub.key\n"));
    assert_int_equal(config_load_string(r, "g.ini", &d), BL_OK);
    assert_string_equal(d.model.trusted_key, c.model.trusted_key);
    free(r);
    // unset: not written
    assert_int_equal(config_load_string("[train]\nepochs = 1\n", "h.ini", &c), BL_OK);
    r = config_resolved_string(&c);
    assert_null(strstr(r, "trusted_key"));
    assert_null(strstr(r, "dataset_manifest"));
    free(r);
    assert_int_equal(config_load_string("[model]\ntrusted_key =\n", "i.ini", &c), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "i.ini:2"));
}

// Every shipped experiment config parses and its [defense.*] sections name real defences with valid parameters
// (run from the repository root, as make test does).
static void test_shipped_configs_parse(void **state) {
    (void)state;
    const char *patterns[] = {"experiments/*.ini", "experiments/*/*.ini"};
    int n = 0;
    for (int i = 0; i < 2; i++) {
        glob_t g;
        if (glob(patterns[i], 0, NULL, &g) != 0) continue;
        for (size_t j = 0; j < g.gl_pathc; j++) {
            Status st;
            if (!strncmp(g.gl_pathv[j], "experiments/scan/", 17)) { // scan policies, not experiment configs
                ScanPolicy p;
                st = scan_policy_load(g.gl_pathv[j], &p);
            } else if (!strncmp(g.gl_pathv[j], "experiments/docs/", 17)) { // README table specs (make docs)
                static DocsTable t;
                st = docs_load(g.gl_pathv[j], &t);
            } else {
                ExperimentConfig c;
                st = config_load(g.gl_pathv[j], &c);
                if (!st) st = run_defenses_check(&c, g.gl_pathv[j]); // [defense.*] names and parameters too
            }
            if (st) print_error("%s\n", bl_errmsg());
            assert_int_equal(st, BL_OK);
            n++;
        }
        globfree(&g);
    }
    assert_true(n >= 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defense_sections),
        cmocka_unit_test(test_manifest_and_trusted_key),
        cmocka_unit_test(test_shipped_configs_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
