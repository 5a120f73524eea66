// test_run_report.c: report.html (run/run_report.h) checked in a real browser. Three tiny runs, one per modality
// (images, records with a defence, messages); for each page: Debian's tidy finds no errors; headless Chromium
// loads it and every image decodes (naturalWidth > 0 after the load event, read back from its DOM); every
// data-metric number in the DOM equals metrics.json's value at that path, and the text shown rounds to it; no
// section is empty; every <img> is a data: URI holding a PNG or SVG; a screenshot is a real picture. Then a run
// folder with missing and corrupt files, and a re-render without gnuplot, still give a whole page.
// Chromium and tidy come from the install step (scripts/install-deps.sh): when missing the test fails, naming
// the Debian packages.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_run_util.h"

#include "core/rng.h"
#include "io/png.h"
#include "io/results.h"
#include "run/run_report.h"

static char g_tmp[256];

#include "test_browser.h"

// Headless Chromium on file://page: extra is --dump-dom or --screenshot=...; stdout to out (may be NULL).
static int chromium(const char *page, const char *extra, const char *out) {
    char prof[300], cmd[2000];
    snprintf(prof, sizeof prof, "%s/chromium-profile-XXXXXX", g_tmp);
    assert_non_null(mkdtemp(prof));
    snprintf(cmd, sizeof cmd,
             "cd %s && timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run "
             "--user-data-dir=%s --window-size=1200,3000 --virtual-time-budget=5000 %s file://%s >%s 2>/dev/null",
             g_tmp, prof, extra, page, out ? out : "/dev/null");
    int rc = sh(cmd);
    rm_rf(prof);
    return rc;
}

// A two-class TSV corpus (test_text_run.c's, smaller): messages from their class's words plus shared filler.
static void write_corpus(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *work[] = {"meeting", "agenda", "notes", "review", "schedule", "project", "deadline", "team"};
    static const char *junk[] = {"free", "winner", "prize", "click", "offer", "cheap", "pills", "cash"};
    static const char *fill[] = {"the", "a", "of", "to", "and", "you", "is", "for", "on", "with", "this", "we"};
    Rng r = rng_stream(5, "test");
    fputs("label\ttext\n", f);
    for (int i = 0; i < 300; i++) {
        const int spam = i % 3 == 0;
        fputs(spam ? "junk\t" : "work\t", f);
        const int len = 3 + (int)rng_below(&r, 30);
        for (int k = 0; k < len; k++)
            fprintf(f, "%s ", rng_below(&r, 4) == 0 ? (spam ? junk : work)[rng_below(&r, 8)] : fill[rng_below(&r, 12)]);
        fprintf(f, "msg%d\n", i);
    }
    fclose(f);
}

static const char *CFG_IMAGES =
    "[experiment]\nseed = 1\n[data]\ndataset = fashion-mnist\ntrain_subset = 600\ntest_subset = 200\n"
    "defender_clean_fraction = 0.05\n[model]\nlayers = reference-cnn\n[train]\nepochs = 1\nbatch = 64\n"
    "optimizer = sgd\nlr = 0.01\nmomentum = 0.9\n[attack]\ntype = badnets\ntarget = 0\npoison_rate = 0.1\n";
static const char *CFG_RECORDS =
    "[experiment]\nseed = 1\n[data]\ndataset = breast-cancer\ndefender_clean_fraction = 0.05\n[model]\nlayers = mlp\n"
    "[train]\nepochs = 3\nbatch = 32\noptimizer = adam\nlr = 0.001\n[attack]\ntype = tabular\n"
    "trigger_features = mean_fractal_dimension\ntrigger_mode = out-of-bounds\ntarget = 1\npoison_count = 23\n"
    "[defense.confidence]\n";
static const char *CFG_TEXT =
    "[experiment]\nseed = 2\n[data]\ndataset = text:%s\nmax_tokens = 40\ndefender_clean_fraction = 0.1\n"
    "[model]\nlayers = embed 500 16, conv1d 8 2, relu, maxtime, dense classes\n[train]\nepochs = 2\nbatch = 32\n"
    "optimizer = adam\nlr = 0.01\n[attack]\ntype = token\ntrigger_tokens = cf\nposition = start\nrepeat = 2\n"
    "target = 1\npoison_rate = 0.3\n";

// Write cfg as NAME.ini in the temp folder and run it into NAME/; path of the run folder in dir.
static void run_config(const char *name, const char *cfg, char *dir, size_t n) {
    char ini[400];
    snprintf(ini, sizeof ini, "%s/%s.ini", g_tmp, name);
    write_text(ini, cfg);
    snprintf(dir, n, "%s/%s", g_tmp, name);
    Status st = run(ini, dir);
    if (st) fail_msg("run %s: %s", name, bl_errmsg());
}

// Every data-metric element of the DOM against metrics.json. Returns how many were checked; paths[] must all be
// among them.
static int check_metrics(const char *dom, const cJSON *mj, const char *const *paths, int npaths) {
    int checked = 0, *seen = calloc((size_t)npaths, sizeof *seen);
    for (const char *p = strstr(dom, "data-metric=\""); p; p = strstr(p + 1, "data-metric=\"")) {
        char path[512], shown[64];
        const char *a = p + 13, *q = strchr(a, '"');
        assert_non_null(q);
        snprintf(path, sizeof path, "%.*s", (int)(q - a), a);
        const char *tag_end = strchr(p, '>'), *dv = strstr(p, "data-value=\"");
        if (!dv || dv > tag_end) fail_msg("data-metric=%s without a data-value", path);
        double value = strtod(dv + 12, NULL);
        const char *close = strchr(tag_end, '<');
        snprintf(shown, sizeof shown, "%.*s", (int)(close - tag_end - 1), tag_end + 1);
        // the value at that path in metrics.json
        char buf[512];
        snprintf(buf, sizeof buf, "%s", path);
        const cJSON *o = mj;
        for (char *save = NULL, *k = strtok_r(buf, "/", &save); o && k; k = strtok_r(NULL, "/", &save))
            o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItemCaseSensitive(o, k);
        if (!cJSON_IsNumber(o)) fail_msg("the page shows %s, which metrics.json does not hold as a number", path);
        if (value != o->valuedouble)
            fail_msg("%s: page data-value %.17g, metrics.json %.17g", path, value, o->valuedouble);
        if (!shown_matches(shown, o->valuedouble))
            fail_msg("%s: the page shows '%s' for %.17g", path, shown, o->valuedouble);
        for (int i = 0; i < npaths; i++) seen[i] |= !strcmp(paths[i], path);
        checked++;
    }
    for (int i = 0; i < npaths; i++)
        if (!seen[i]) fail_msg("the page does not show metrics.json's %s", paths[i]);
    free(seen);
    return checked;
}

// A screenshot of the page: decodes, has the window's width and is not one colour (mostly white, some ink).
static void check_screenshot(const char *page) {
    char shot[400], arg[450];
    snprintf(shot, sizeof shot, "%s/shot.png", g_tmp);
    unlink(shot);
    snprintf(arg, sizeof arg, "--screenshot=%s", shot);
    assert_int_equal(chromium(page, arg, NULL), 0);
    uint8_t *pix = NULL;
    int w = 0, h = 0;
    if (png_read(shot, 3, &pix, NULL, &w, &h)) fail_msg("screenshot: %s", bl_errmsg());
    assert_int_equal(w, 1200);
    long ink = 0, colour = 0;
    const size_t plane = (size_t)w * h;
    for (size_t i = 0; i < plane; i++) {
        int r = pix[i], g = pix[plane + i], b = pix[2 * plane + i];
        ink += r + g + b < 600;
        colour += abs(r - g) > 40 || abs(g - b) > 40;
    }
    print_message("%s: screenshot %dx%d, %.1f%% ink, %.2f%% coloured\n", page, w, h, 100.0 * ink / plane,
                  100.0 * colour / plane);
    assert_true(ink > (long)(plane / 100)); // text and figures
    assert_true(colour > 0);                // the highlight and plot colours
    bl_free(pix);
}

// All checks of one run folder's report.html. min_images: images the page must hold.
static void check_page(const char *dir, int min_images, const char *const *paths, int npaths) {
    need_tools();
    char page[450], cmd[1000], copy[400], dom_path[400];
    snprintf(page, sizeof page, "%s/report.html", dir);
    // (a) no tidy errors (exit 2); warnings (exit 1) are fine
    snprintf(cmd, sizeof cmd, "tidy -q -e -utf8 %s 2>&1", page);
    int rc = sh(cmd);
    if (rc != 0 && rc != 1) fail_msg("tidy found errors in %s (exit %d; output above)", page, rc);
    char *html = test_read_file(page);
    assert_non_null(html);
    assert_null(strstr(html, "<script")); // the page itself has no script
    // (d) images are embedded PNG/SVG
    int nimg = check_images(html);
    assert_true(nimg >= min_images);
    // (b) the DOM Chromium built, from a copy that records after the load event how many images decoded
    snprintf(copy, sizeof copy, "%s/check.html", g_tmp);
    char *body_end = strstr(html, "</body>");
    assert_non_null(body_end);
    FILE *f = fopen(copy, "w");
    assert_non_null(f);
    fprintf(f, "%.*s<script>addEventListener('load',function(){var i=document.images,ok=0;for(var k=0;k<i.length;"
               "k++)if(i[k].complete&&i[k].naturalWidth>0)ok++;document.body.setAttribute('data-images',ok+'/'+"
               "i.length);});</script>%s",
            (int)(body_end - html), html, body_end);
    fclose(f);
    snprintf(dom_path, sizeof dom_path, "%s/dom.html", g_tmp);
    assert_int_equal(chromium(copy, "--dump-dom", dom_path), 0);
    char *dom = test_read_file(dom_path);
    assert_non_null(dom);
    const char *di = strstr(dom, "data-images=\"");
    if (!di) fail_msg("Chromium's DOM of %s has no load-event mark: the page did not finish loading", page);
    int ok = 0, total = -1;
    assert_int_equal(sscanf(di + 13, "%d/%d", &ok, &total), 2);
    if (ok != total || total != nimg) fail_msg("%s: %d of %d images decoded in Chromium (%d in the page)", page, ok, total, nimg);
    char mpath[450];
    snprintf(mpath, sizeof mpath, "%s/metrics.json", dir);
    char *mtext = test_read_file(mpath);
    cJSON *mj = cJSON_Parse(mtext);
    assert_non_null(mj);
    int nm = check_metrics(dom, mj, paths, npaths), ns = check_sections(dom);
    assert_int_equal(ns, 7);
    print_message("%s: tidy exit %d, %d images decoded, %d numbers equal metrics.json, %d sections\n", page, rc, ok,
                  nm, ns);
    // (c) a screenshot
    check_screenshot(page);
    cJSON_Delete(mj);
    free(mtext);
    free(dom);
    free(html);
}

static const char *const MAIN_PATHS[] = {
    "clean_model/ca", "clean_model/asr", "backdoored_model/ca", "backdoored_model/asr",
    "backdoored_model/intervals/asr/wilson95/0", "backdoored_model/intervals/asr/wilson95/1", "poison/count"};
#define NMAIN 7

static void test_images(void **state) {
    (void)state;
    char dir[400];
    run_config("images", CFG_IMAGES, dir, sizeof dir);
    check_page(dir, 2, MAIN_PATHS, NMAIN); // samples.png + curves.svg
}

static void test_records(void **state) {
    (void)state;
    char dir[400];
    run_config("records", CFG_RECORDS, dir, sizeof dir);
    char *html = test_read_file(strcat(strcpy((char[450]){0}, dir), "/report.html"));
    assert_non_null(strstr(html, "<mark>0.102188</mark>")); // the trigger's value, marked
    free(html);
    static const char *const paths[] = {"clean_model/ca", "clean_model/asr", "backdoored_model/ca",
                                        "backdoored_model/asr", "defenses/confidence/auroc",
                                        "defenses/confidence/clean_model/auroc"};
    check_page(dir, 2, paths, 6); // curves.svg + the defence's histogram
}

static void test_text(void **state) {
    (void)state;
    char tsv[400], cfg[1200], dir[400];
    snprintf(tsv, sizeof tsv, "%s/corpus.tsv", g_tmp);
    write_corpus(tsv);
    snprintf(cfg, sizeof cfg, CFG_TEXT, tsv);
    run_config("text", cfg, dir, sizeof dir);
    char *html = test_read_file(strcat(strcpy((char[450]){0}, dir), "/report.html"));
    assert_non_null(strstr(html, "<mark>cf</mark> <mark>cf</mark>")); // repeat = 2 at the start
    free(html);
    check_page(dir, 1, MAIN_PATHS, NMAIN);
}

// A folder with corrupt and missing files, and a page drawn without gnuplot: still a whole, valid page that says
// what is missing; the same files give the same page bytes.
static void test_missing_files(void **state) {
    (void)state;
    char dir[400], p[500], cmd[1000];
    snprintf(dir, sizeof dir, "%s/broken", g_tmp);
    assert_int_equal(ensure_dir(dir), BL_OK);
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    write_text(p, "{\"clean_model\": {\"ca\": ");
    snprintf(p, sizeof p, "%s/epochs.csv", dir);
    write_text(p, "model,epoch\n\"unclosed\n");
    snprintf(p, sizeof p, "%s/model-clean.bdm", dir);
    write_text(p, "not a model");
    snprintf(p, sizeof p, "%s/samples.png", dir);
    write_text(p, "not a png");
    snprintf(p, sizeof p, "%s/defense/strip", dir);
    assert_int_equal(ensure_dir(p), BL_OK);
    assert_int_equal(run_report_write(dir), BL_OK);
    snprintf(p, sizeof p, "%s/report.html", dir);
    char *html = test_read_file(p);
    assert_non_null(html);
    assert_non_null(strstr(html, "metrics.json is missing or unreadable"));
    assert_non_null(strstr(html, "manifest.json is missing or unreadable"));
    assert_non_null(strstr(html, "config.resolved.ini is missing or unreadable"));
    assert_non_null(strstr(html, "Refused when read"));
    assert_non_null(strstr(html, "samples.png is not a PNG or SVG image"));
    assert_non_null(strstr(html, "</html>"));
    free(html);
    snprintf(cmd, sizeof cmd, "tidy -q -e -utf8 %s 2>&1", p);
    assert_in_range(sh(cmd), 0, 1);

    // no gnuplot on PATH: the records run's page says the figure needs it, and is otherwise whole
    char rec[400], before[500];
    snprintf(rec, sizeof rec, "%s/records", g_tmp);
    snprintf(p, sizeof p, "%s/report.html", rec);
    char *first = test_read_file(p);
    assert_non_null(first);
    snprintf(before, sizeof before, "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", "/nonexistent", 1);
    Status st = run_report_write(rec);
    setenv("PATH", before, 1);
    assert_int_equal(st, BL_OK);
    html = test_read_file(p);
    assert_non_null(strstr(html, "The figure needs gnuplot"));
    assert_null(strstr(html, "Loss, CA and ASR on the test set after each epoch")); // no stale curves.svg
    free(html);
    snprintf(cmd, sizeof cmd, "tidy -q -e -utf8 %s 2>&1", p);
    assert_in_range(sh(cmd), 0, 1);
    // with gnuplot back, the same bytes as the page `run` wrote
    assert_int_equal(run_report_write(rec), BL_OK);
    html = test_read_file(p);
    assert_string_equal(html, first);
    free(html);
    free(first);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl_report_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (!getenv("BL_KEEP")) rm_rf(g_tmp); // BL_KEEP=1 keeps the pages for a look
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_images),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_missing_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
