// test_docs.c: README tables generated from run folders (issue 20): spec errors with file:line, cells rendered
// from made-up run folders (formats, nulls, a missing key is an error and never a number), README blocks found,
// compared on their table lines only, and rewritten by `backdoorlab docs` without touching anything else;
// `docs --check` fails on a changed figure, names a missing block, and reports an old expensive table as stale.
// No training here: the CLI cases use rows of literals, which need no run.
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

#include "run/docs.h"
#include "test_util.h"

static char g_tmp[256];

static const char *bin(void) {
    const char *b = getenv("BACKDOORLAB_BIN");
    return b ? b : "build/backdoorlab";
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/bl-docs-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(g_tmp);
    return 0;
}

static void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    for (char *s = p + strlen(g_tmp) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(p, 0700);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *path(const char *rel) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_tmp, rel);
    return p[k];
}

// Run the CLI from the repository root; stdout+stderr to g_tmp/out.
static int cli(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s docs %s >%s/out 2>&1", bin(), args, g_tmp);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *out(void) { return test_read_file(path("out")); }

static void test_spec_errors(void **state) {
    (void)state;
    DocsTable *t = malloc(sizeof *t);
    put("s/a.ini", "[table]\nheader = a | b\ncells = {id} | x\ncolour = red\n[row.r]\nk = v\n");
    assert_int_equal(docs_load(path("s/a.ini"), t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "a.ini:4:"));
    assert_non_null(strstr(bl_errmsg(), "colour"));
    put("s/b.ini", "[table]\nheader = a | b | c\ncells = {id} | x\n[row.r]\nk = v\n");
    assert_int_equal(docs_load(path("s/b.ini"), t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "3 columns, cells 2"));
    put("s/c.ini", "[table]\nheader = a\ncells = {id}\n");
    assert_int_equal(docs_load(path("s/c.ini"), t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "no [row.ID]"));
    put("s/d.ini", "[table]\nheader = a\ncells = {id}\n[row.r]\ndetect = strip\n");
    assert_int_equal(docs_load(path("s/d.ini"), t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "no config"));
    put("s/e.ini", "[table]\nheader = a\ncells = {id}\n[row.r]\nk = 1\n[row.q]\nk = 2\n[row.r]\nk = 3\n");
    assert_int_equal(docs_load(path("s/e.ini"), t), BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "e.ini:9:"));
    // continuation lines join with a space; the name is the file's basename
    put("s/ok.ini", "[table]\nheader = a |\n  b\ncells = {id} |\n  {k}\ncheap = 1\n[row.r]\nk = v\nset = x=1\nset2 = y=2\n");
    assert_int_equal(docs_load(path("s/ok.ini"), t), BL_OK);
    assert_string_equal(t->header, "a | b");
    assert_string_equal(t->cells, "{id} | {k}");
    assert_string_equal(t->name, "ok");
    assert_int_equal(t->cheap, 1);
    assert_int_equal(t->rows[0].nset, 2);
    free(t);
}

// A made-up run folder for config experiments/x/y.ini under root g_tmp/root.
static void fake_run(void) {
    put("root/x-y/metrics.json",
        "{\"poison\": {\"count\": 5132}, \"m\": {\"ca\": 0.8682, \"asr\": null, \"big\": 1234567,"
        " \"i\": {\"value\": 0.9957, \"wilson95\": [0.99411, 0.99684]}, \"list\": [0.5, 0.25], \"name\": \"s|q\\nr \"}}");
    put("root/x-y/manifest.json", "{\"git_revision\": \"0123456789ab\", \"gemm_kernel\": \"avx2\","
                                  " \"end_time\": \"2026-12-03T10:13:36Z\"}");
    put("root/x-y/defense/strip-e/summary.json",
        "{\"auroc\": 0.99512, \"far_at_frr\": {\"0.01\": 0.014}, \"clean_model\": {\"auroc\": 0.524}}");
}

static void test_render(void **state) {
    (void)state;
    fake_run();
    DocsTable *t = malloc(sizeof *t);
    put("s/r.ini", "[table]\nheader = cfg | n | CA | ASR | a | b | c | far | s\n"
                   "cells = `{config}` {note} | {m:poison.count:int} | {m:m.ca:pct} | {m:m.i:ci} | {m:m.asr:pct} |\n"
                   "  {m:m.big} | {m:m.list.1:num2} | {d:far_at_frr.[0.01]:num2}% ({d:clean_model.auroc:f3}) |"
                   " {m:m.name}\nnote = A note.\n"
                   "[row.one]\nconfig = experiments/x/y.ini\ndetect = strip\nas = strip-e\nnote = (demo)\n");
    assert_int_equal(docs_load(path("s/r.ini"), t), BL_OK);
    char dir[512];
    docs_run_dir(path("root"), &t->rows[0], dir, sizeof dir);
    assert_string_equal(dir, path("root/x-y"));
    char *md = NULL;
    assert_int_equal(docs_render(t, path("root"), &md), BL_OK);
    assert_non_null(strstr(md, "| cfg | n | CA | ASR | a | b | c | far | s |\n|---|---|---|---|---|---|---|---|---|\n"));
    assert_non_null(strstr(md, "| `experiments/x/y.ini` (demo) | 5,132 | 86.82% | 99.57% [99.41, 99.68] | n/a | "
                               "1,234,567 | 25.00 | 1.40% (0.524) | s\\|q r |\n"));
    assert_non_null(strstr(md, "\nA note.\n"));
    assert_non_null(strstr(md, "revision 0123456789ab, AVX2 host (kernel avx2), 2026-12-03"));
    char rev[64];
    docs_block_revision(md, strlen(md), rev, sizeof rev);
    assert_string_equal(rev, "0123456789ab");
    free(md);
    // a key that is not there fails, naming the row and the path
    put("s/r2.ini", "[table]\nheader = a\ncells = {m:m.caa:pct}\n[row.one]\nconfig = experiments/x/y.ini\n");
    assert_int_equal(docs_load(path("s/r2.ini"), t), BL_OK);
    md = NULL;
    assert_int_not_equal(docs_render(t, path("root"), &md), BL_OK);
    assert_null(md);
    assert_non_null(strstr(bl_errmsg(), "row one, {m:m.caa:pct}"));
    // an unknown format, an unknown literal, a run folder that is not there
    put("s/r3.ini", "[table]\nheader = a\ncells = {m:m.ca:pc}\n[row.one]\nconfig = experiments/x/y.ini\n");
    assert_int_equal(docs_load(path("s/r3.ini"), t), BL_OK);
    assert_int_not_equal(docs_render(t, path("root"), &md), BL_OK);
    assert_non_null(strstr(bl_errmsg(), "unknown format 'pc'"));
    put("s/r4.ini", "[table]\nheader = a\ncells = {nope}\n[row.one]\nk = 1\n");
    assert_int_equal(docs_load(path("s/r4.ini"), t), BL_OK);
    assert_int_not_equal(docs_render(t, path("root"), &md), BL_OK);
    assert_non_null(strstr(bl_errmsg(), "no key 'nope'"));
    put("s/r5.ini", "[table]\nheader = a\ncells = {m:m.ca}\n[row.one]\nconfig = experiments/none.ini\n");
    assert_int_equal(docs_load(path("s/r5.ini"), t), BL_OK);
    assert_int_not_equal(docs_render(t, path("root"), &md), BL_OK);
    assert_non_null(strstr(bl_errmsg(), "none/metrics.json: missing"));
    free(t);
}

static void test_blocks(void **state) {
    (void)state;
    const char *text = "# T\n<!-- table:a -->\n| x |\n|---|\n| 1 |\n\n<sub>revision 0123abc</sub>\n<!-- /table -->\n"
                       "text\n<!-- table:b -->\nno end\n";
    size_t b, e;
    assert_int_equal(docs_find_block(text, "a", &b, &e), 0);
    assert_memory_equal(text + b, "| x |", 5);
    assert_memory_equal(text + e, "<!-- /table -->", 15);
    assert_int_equal(docs_find_block(text, "b", &b, &e), -2);
    assert_int_equal(docs_find_block(text, "c", &b, &e), -1);
    char *w = NULL, *h = NULL;
    const char *x = "| x |\n|---|\n| 1 |\n\n<sub>revision 1111111, 2026-12-01</sub>\n";
    const char *y = "| x |\n|---|\n| 1 |\n\n<sub>revision 2222222, 2026-12-03</sub>\n";
    assert_int_equal(docs_compare(x, strlen(x), y, strlen(y), &w, &h), 0); // footers may differ
    const char *z = "| x |\n|---|\n| 2 |\n";
    assert_int_equal(docs_compare(x, strlen(x), z, strlen(z), &w, &h), 3);
    assert_string_equal(w, "| 1 |");
    assert_string_equal(h, "| 2 |");
    free(w);
    free(h);
    const char *shorter = "| x |\n|---|\n";
    assert_int_equal(docs_compare(x, strlen(x), shorter, strlen(shorter), &w, &h), 3);
    assert_string_equal(h, "(no line)");
    free(w);
    free(h);
}

static void test_cli(void **state) {
    (void)state;
    put("cs/lit.ini", "[table]\ncheap = 1\nheader = what | value\ncells = {id} | {v}\n[row.alpha]\nv = 1\n"
                      "[row.beta]\nv = 2\n");
    put("cs/old.ini", "[table]\nheader = what\ncells = {id}\n[row.gamma]\nv = 3\n");
    const char *readme = "# Doc\n\nkeep this\n\n<!-- table:lit -->\nold text\n<!-- /table -->\n\nand this\n\n"
                         "<!-- table:old -->\n| what |\n|---|\n| gamma |\n\n<sub>Generated: revision 0000000, x.</sub>\n"
                         "<!-- /table -->\n";
    put("README.md", readme);
    char args[1024];
    snprintf(args, sizeof args, "--readme %s --specs %s --root %s lit", path("README.md"), path("cs"), path("root"));
    assert_int_equal(cli(args), 0);
    char *r = test_read_file(path("README.md"));
    assert_non_null(strstr(r, "# Doc\n\nkeep this\n\n<!-- table:lit -->\n| what | value |\n|---|---|\n| alpha | 1 |\n"
                              "| beta | 2 |\n\n<sub>Generated by `make docs` from `"));
    assert_non_null(strstr(r, "</sub>\n<!-- /table -->\n\nand this\n\n<!-- table:old -->\n| what |\n"));
    assert_null(strstr(r, "old text"));
    free(r);
    // check: lit matches; old's footer names a revision git does not know: stale, not a failure
    snprintf(args, sizeof args, "--check --readme %s --specs %s --root %s lit old", path("README.md"), path("cs"),
             path("root"));
    assert_int_equal(cli(args), 0);
    char *o = out();
    assert_non_null(strstr(o, "lit: matches this build"));
    assert_non_null(strstr(o, "old: stale"));
    free(o);
    // a figure edited by hand fails the check, naming the table and both lines
    r = test_read_file(path("README.md"));
    char *p = strstr(r, "| beta | 2 |");
    p[9] = '3';
    put("README.md", r);
    free(r);
    assert_int_equal(cli(args), 1);
    o = out();
    assert_non_null(strstr(o, "lit: the README differs from this build at table line 4"));
    assert_non_null(strstr(o, "README: | beta | 3 |"));
    assert_non_null(strstr(o, "build:  | beta | 2 |"));
    free(o);
    // a spec without its block, and a name without a spec
    put("README.md", "# nothing\n");
    snprintf(args, sizeof args, "--check --readme %s --specs %s --root %s lit", path("README.md"), path("cs"),
             path("root"));
    assert_int_equal(cli(args), 1);
    o = out();
    assert_non_null(strstr(o, "has no block <!-- table:lit -->"));
    free(o);
    snprintf(args, sizeof args, "--readme %s --specs %s nosuch", path("README.md"), path("cs"));
    assert_int_equal(cli(args), 2);
    o = out();
    assert_non_null(strstr(o, "no spec"));
    free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
