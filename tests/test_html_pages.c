// test_html_pages.c: the HTML pages beside run folders' report.html (io/html.h), checked in a real browser like
// tests/test_run_report.c does: reproduce's OUT/report.html and report's leaderboard.html. For each page: Debian's
// tidy finds no errors; it has no script; every <img> is an embedded PNG/SVG that headless Chromium decodes
// (naturalWidth > 0 after the load event); every data-metric number in Chromium's DOM equals the JSON it came from
// (summary.json, or the file named by the enclosing data-file) and the text shown rounds to it; no section is
// empty; every relative link points at a file that exists; text from files is escaped. A tiny paper config (two
// seeds x two sweep points, STRIP on each run) feeds both pages; a hostile run folder feeds the leaderboard.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_run_util.h"

#include "io/results.h"
#include "run/multirun.h"
#include "run/reproduce.h"

static char g_tmp[256];

#include "test_browser.h"

#include "run/run_report.h"

// Headless Chromium's DOM of file://page, after the load event, into out.
static int chromium_dom(const char *page, const char *out) {
    char prof[300], cmd[3000];
    snprintf(prof, sizeof prof, "%s/chromium-profile-XXXXXX", g_tmp);
    assert_non_null(mkdtemp(prof));
    snprintf(cmd, sizeof cmd,
             "cd %s && timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run "
             "--user-data-dir=%s --window-size=1200,3000 --virtual-time-budget=5000 --dump-dom file://%s >%s "
             "2>/dev/null",
             g_tmp, prof, page, out);
    int rc = sh(cmd);
    rm_rf(prof);
    return rc;
}

static const cJSON *json_at(const cJSON *root, const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *o = root;
    for (char *save = NULL, *k = strtok_r(buf, "/", &save); o && k; k = strtok_r(NULL, "/", &save))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

// Every data-metric element of the DOM against its JSON: the nearest data-file before it (a path relative to
// the page's folder dir), else deflt (a path relative to dir). paths[] must all be among them. Returns how many.
static int check_numbers(const char *dom, const char *dir, const char *deflt, const char *const *paths, int npaths) {
    int checked = 0, *seen = calloc((size_t)npaths + 1, sizeof *seen);
    for (const char *p = strstr(dom, "data-metric=\""); p; p = strstr(p + 1, "data-metric=\"")) {
        char path[512], shown[64], file[1024], full[1500];
        const char *a = p + 13, *q = strchr(a, '"');
        assert_non_null(q);
        snprintf(path, sizeof path, "%.*s", (int)(q - a), a);
        const char *tag_end = strchr(p, '>'), *dv = strstr(p, "data-value=\"");
        if (!dv || dv > tag_end) fail_msg("data-metric=%s without a data-value", path);
        double value = strtod(dv + 12, NULL);
        const char *close = strchr(tag_end, '<');
        snprintf(shown, sizeof shown, "%.*s", (int)(close - tag_end - 1), tag_end + 1);
        // the data-file of the nearest element around the span (one whose closing tag is not between them)
        const char *df = NULL;
        for (const char *s = strstr(dom, "data-file=\""); s && s < p; s = strstr(s + 1, "data-file=\"")) {
            const char *lt = s;
            while (lt > dom && *lt != '<') lt--;
            char closing[32];
            snprintf(closing, sizeof closing, "</%.*s>", (int)strcspn(lt + 1, " >"), lt + 1);
            const char *c = strstr(s, closing);
            if (!c || c > p) df = s;
        }
        if (df) snprintf(file, sizeof file, "%.*s", (int)(strchr(df + 11, '"') - df - 11), df + 11);
        else snprintf(file, sizeof file, "%s", deflt);
        snprintf(full, sizeof full, "%s/%s", dir, file);
        cJSON *j = json_read_file(full);
        if (!j) fail_msg("%s: the page names %s, which is not a JSON file", path, full);
        const cJSON *o = json_at(j, path);
        if (!cJSON_IsNumber(o)) fail_msg("the page shows %s, which %s does not hold as a number", path, file);
        if (value != o->valuedouble) fail_msg("%s: page data-value %.17g, %s %.17g", path, value, file, o->valuedouble);
        if (!shown_matches(shown, o->valuedouble)) fail_msg("%s: the page shows '%s' for %.17g", path, shown, value);
        cJSON_Delete(j);
        for (int i = 0; i < npaths; i++) seen[i] |= !strcmp(paths[i], path);
        checked++;
    }
    for (int i = 0; i < npaths; i++)
        if (!seen[i]) fail_msg("the page does not show %s", paths[i]);
    free(seen);
    return checked;
}

// Every href of the page that is not a fragment names a file that exists, relative to dir. Returns how many.
static int check_links(const char *html, const char *dir) {
    int n = 0;
    for (const char *p = strstr(html, "href=\""); p; p = strstr(p + 1, "href=\"")) {
        const char *a = p + 6, *q = strchr(a, '"');
        if (*a == '#') continue;
        assert_null(strstr(a, "://"));
        char full[2000];
        snprintf(full, sizeof full, "%s/%.*s", dir, (int)(q - a), a);
        struct stat sb;
        if (stat(full, &sb) != 0) fail_msg("a link to %s, which does not exist", full);
        n++;
    }
    return n;
}

// All checks of one page (dir/name); json: its default JSON file, relative to dir. Returns the page's text.
static char *check_page(const char *dir, const char *name, const char *json, int min_images, int nsections,
                        const char *const *paths, int npaths) {
    need_tools();
    char page[600], cmd[1000], copy[700], dom_path[400];
    snprintf(page, sizeof page, "%s/%s", dir, name);
    snprintf(cmd, sizeof cmd, "tidy -q -e -utf8 %s 2>&1", page);
    int rc = sh(cmd);
    if (rc != 0 && rc != 1) fail_msg("tidy found errors in %s (exit %d; output above)", page, rc);
    char *html = test_read_file(page);
    assert_non_null(html);
    assert_null(strstr(html, "<script"));
    int nimg = check_images(html);
    assert_true(nimg >= min_images);
    // a copy beside the page that marks, after the load event, how many images decoded
    snprintf(copy, sizeof copy, "%s/check.html", dir);
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
    assert_int_equal(chromium_dom(copy, dom_path), 0);
    unlink(copy);
    char *dom = test_read_file(dom_path);
    assert_non_null(dom);
    const char *di = strstr(dom, "data-images=\"");
    if (!di) fail_msg("Chromium's DOM of %s has no load-event mark: the page did not finish loading", page);
    int ok = 0, total = -1;
    assert_int_equal(sscanf(di + 13, "%d/%d", &ok, &total), 2);
    if (ok != total || total != nimg) fail_msg("%s: %d of %d images decoded in Chromium (%d in the page)", page, ok, total, nimg);
    int nm = check_numbers(dom, dir, json, paths, npaths), ns = check_sections(dom), nl = check_links(html, dir);
    assert_int_equal(ns, nsections);
    print_message("%s: tidy exit %d, %d images decoded, %d numbers equal their JSON, %d sections, %d links\n", page,
                  rc, ok, nm, ns, nl);
    free(dom);
    return html;
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

// Two seeds x two sweep points, STRIP on each run; claims within, outside and shown only; text to escape.
static const char *PAPER =
    "[experiment]\nname = tiny\nseeds = 1,2\nthreads = 2\n[data]\ndataset = fashion-mnist\ntrain_subset = 600\n"
    "test_subset = 200\ndefender_clean_fraction = 0.05\n[train]\nepochs = 1\n[attack]\ntype = badnets\ntarget = 0\n"
    "[sweep]\nkey = attack.poison_count\nvalues = 30,60\n[defense.strip]\n[paper]\n"
    "reference = A. <Nobody> & Co. \"Tiny\" 2026\nquick_epochs = 1\n"
    "claim.n = data/test @ 60 | >= 100 | 0 | 0 | verified\nsource.n = Table 0\n"
    "claim.impossible = backdoored_model/asr @ 60 | > 100% | 0 | 0 | verified\nsource.impossible = Table 9\n"
    "claim.shown = backdoored_model/ca @ 30 | 99% | - | - | verified\nsource.shown = Table 1\n"
    "claim.near = clean_model/ca @ 30 | 50% | 60 | 60 | unverified\nsource.near = Fig. <2>\n"
    "note.near = any CA is within 60 points of 50%\n";

static void test_reproduce_page(void **state) {
    (void)state;
    char cfg[400], out[400], path[600];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", g_tmp);
    snprintf(out, sizeof out, "%s/repro", g_tmp);
    write_text(cfg, PAPER);
    const char *configs[] = {cfg};
    ReproduceOptions o = {.out = out, .quiet = 1, .threads = 2};
    ReproduceTally t;
    if (reproduce_run(configs, 1, &o, &t)) fail_msg("reproduce: %s", bl_errmsg());
    assert_int_equal(t.within, 2);
    assert_int_equal(t.outside, 1);
    static const char *const paths[] = {"papers/0/seeds",          "papers/0/claims/0/mean", "papers/0/claims/1/mean",
                                        "papers/0/claims/3/sd",    "papers/0/claims/3/ours/1",
                                        "papers/0/claims/3/tolerance", "claims", "within", "outside", "failed"};
    // sweep.png and STRIP's entropy_hist.png (both by gnuplot, which the install step provides)
    char *html = check_page(out, "report.html", "summary.json", 2, 2, paths, 10);
    assert_int_equal(count(html, "class=\"verdict-within\""), 2);
    assert_int_equal(count(html, "class=\"verdict-outside\""), 1);
    assert_int_equal(count(html, "class=\"verdict-none\""), 1);
    assert_int_equal(count(html, "/report.html\">"), 4); // a link to each run's page
    assert_int_equal(count(html, "data:image/svg+xml"), 2); // each figure as its SVG twin (io/plot.c)
    assert_non_null(strstr(html, "A. &lt;Nobody&gt; &amp; Co. &quot;Tiny&quot; 2026"));
    assert_non_null(strstr(html, "Fig. &lt;2&gt;"));
    // rebuilt from the finished runs: the same bytes (nothing time-dependent on the page)
    snprintf(path, sizeof path, "%s/report.first.html", out);
    write_text(path, html); // kept for a diff when BL_KEEP=1
    o.report_only = 1;
    assert_int_equal(reproduce_run(configs, 1, &o, &t), BL_OK);
    char *again = test_read_file((snprintf(path, sizeof path, "%s/report.html", out), path));
    // (from the first section on: the intro names the code revision, which a commit by someone else in this
    // checkout may change between the two calls)
    assert_non_null(strstr(html, "<section"));
    assert_string_equal(strstr(html, "<section"), strstr(again, "<section"));
    free(again);
    free(html);
}

// The leaderboard over the reproduce runs above plus a hostile folder: a name and an attack to escape, a summary
// whose numbers are strings, another that is not JSON, no metrics.json.
static void test_leaderboard_page(void **state) {
    (void)state;
    const char *bin = getenv("BL_BIN") ? getenv("BL_BIN") : "build/backdoorlab";
    if (access(bin, X_OK) != 0) fail_msg("%s is missing: build it first (make)", bin);
    char bad[400], p[600], cmd[3000], board[400];
    snprintf(bad, sizeof bad, "%s/x<b>&y", g_tmp);
    snprintf(p, sizeof p, "%s/defense/strip", bad);
    assert_int_equal(ensure_dir(p), BL_OK);
    snprintf(p, sizeof p, "%s/defense/strip/summary.json", bad);
    write_text(p, "{\"defense\":\"strip\",\"level\":\"inputs\",\"attack\":\"<i>evil</i>\",\"auroc\":\"high\"}");
    snprintf(p, sizeof p, "%s/defense/ac", bad);
    assert_int_equal(ensure_dir(p), BL_OK);
    snprintf(p, sizeof p, "%s/defense/ac/summary.json", bad);
    write_text(p, "{\"level\": ");
    snprintf(board, sizeof board, "%s/board", g_tmp);
    snprintf(cmd, sizeof cmd,
             "%s report %s/repro/tiny/poison_count-30/seed-1 %s/repro/tiny/poison_count-60/seed-2 '%s' --out %s "
             ">/dev/null",
             bin, g_tmp, g_tmp, bad, board);
    assert_int_equal(sh(cmd), 0);
    static const char *const paths[] = {"backdoored_model/ca", "backdoored_model/asr", "auroc", "far_at_frr/0.01",
                                        "clean_model/auroc"};
    char *html = check_page(board, "leaderboard.html", "-", 0, 1, paths, 5);
    assert_non_null(strstr(html, "x&lt;b&gt;&amp;y"));
    assert_non_null(strstr(html, "&lt;i&gt;evil&lt;/i&gt;"));
    assert_non_null(strstr(html, "y/metrics.json is missing or unreadable"));
    assert_non_null(strstr(html, "defence folder(s) ac is missing or not JSON"));
    assert_int_equal(count(html, "/report.html\">"), 2); // the two real runs link to their pages
    free(html);
    // no run with defences: the usage error as before, and no page
    snprintf(cmd, sizeof cmd, "%s report %s/nothing --out %s/board2 >/dev/null 2>&1", bin, g_tmp, g_tmp);
    assert_int_equal(sh(cmd), 2);
    snprintf(p, sizeof p, "%s/board2/leaderboard.html", g_tmp);
    assert_int_equal(access(p, F_OK), -1);
}

// The supply-chain scenario's part of a run's report.html (run/run_report.c): its tables hold
// supply-chain/summary.json's numbers, the story is rendered from narrative.md without its timings, and a corrupt
// summary.json costs one sentence.
static const char *SUPPLY =
    "[experiment]\nname = supply-chain\nseed = 1\nthreads = 2\n[data]\ndataset = fashion-mnist\n"
    "train_subset = 600\ntest_subset = 300\ndefender_clean_fraction = 0.1\n[model]\nlayers = reference-cnn\n"
    "[train]\nepochs = 1\nbatch = 64\noptimizer = sgd\nlr = 0.01\nmomentum = 0.9\n[attack]\ntype = badnets\n"
    "target = 0\npoison_rate = 0.1\n[supply_chain]\ntamper = both\nmonitor = strip\nmonitor_frr = 0.01\n"
    "monitor_inputs = 100\n";

static void test_supply_chain_page(void **state) {
    (void)state;
    char ini[400], dir[400], p[600];
    snprintf(ini, sizeof ini, "%s/supply.ini", g_tmp);
    snprintf(dir, sizeof dir, "%s/supply", g_tmp);
    write_text(ini, SUPPLY);
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = ini, .out_dir = dir, .threads = 2, .quiet = 1};
    if (experiment_run_any(&o)) fail_msg("run: %s", bl_errmsg()); // `backdoorlab run`: the scenario after the run
    snprintf(p, sizeof p, "%s/supply-chain/DONE", dir);
    assert_int_equal(access(p, F_OK), 0);
    static const char *const paths[] = {"backdoored_model/asr", "monitor_deployed/detection_rate/value",
                                        "monitor_deployed/asr_unflagged/value", "monitor_control/false_alarm_rate/hi",
                                        "monitor/frr_target"};
    char *html = check_page(dir, "report.html", "metrics.json", 2, 7, paths, 5);
    assert_non_null(strstr(html, "<h4>The tampered files</h4>"));
    assert_int_equal(count(html, "<span class=\"ok\">refused</span>: "), 3); // every tampered file, with the key
    assert_non_null(strstr(html, "<li><strong>Swap</strong>: "));          // narrative.md as HTML
    assert_null(strstr(html, "inputs/s"));                                  // no timing: same run, same page
    assert_null(strstr(html, "calibration_seconds"));
    free(html);
    snprintf(p, sizeof p, "%s/supply-chain/summary.json", dir);
    write_text(p, "{\"artifacts\": [");
    assert_int_equal(run_report_write(dir), BL_OK);
    snprintf(p, sizeof p, "%s/report.html", dir);
    html = test_read_file(p);
    assert_non_null(strstr(html, "supply-chain/summary.json is missing or unreadable"));
    assert_non_null(strstr(html, "Supply-chain scenario: supply-chain")); // the story still told
    free(html);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tidy -q -e -utf8 %s 2>&1", p);
    assert_in_range(sh(cmd), 0, 1);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl_pages_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    if (!getenv("BL_KEEP")) rm_rf(g_tmp); // BL_KEEP=1 keeps the pages for a look
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproduce_page),
        cmocka_unit_test(test_leaderboard_page),
        cmocka_unit_test(test_supply_chain_page),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
