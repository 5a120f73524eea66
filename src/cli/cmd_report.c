// cmd_report.c: `backdoorlab report results/*`: a leaderboard of attacks x defences from every
// <run>/defense/<name>/summary.json, as Markdown (stdout and leaderboard.md), CSV (leaderboard.csv, one row
// per run x defence x model, backdoored and clean control) and one self-contained page (leaderboard.html, see
// io/html.h): each number there is tagged with its path in the JSON file named by the data-file (a path relative
// to the page) of the table cell holding it, and each run links to its own report.html.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "defense/defense.h"
#include "io/html.h"
#include "io/results.h"

#define REPORT_MAX_RUNS 512
#define REPORT_MAX_DEFS 64

typedef struct {
    char dir[1024];            // run folder
    char name[256];            // its last path component
    char attack[256];          // attack description from the summaries
    double ca, asr;            // backdoored model's CA and ASR from metrics.json (NaN if unknown)
    cJSON *sum[REPORT_MAX_DEFS]; // summary per defence column (NULL = not run)
    int no_metrics;            // metrics.json missing or not JSON
    char unreadable[512];      // defence folders whose summary.json could not be read, ", "-separated
} ReportRun;

static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double far_at(const cJSON *o, const char *frr) {
    return jnum(cJSON_GetObjectItemCaseSensitive(o, "far_at_frr"), frr);
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

// The column index of defence `name`, adding it (registry order first, then as met).
static int def_column(char names[][64], int *ndef, const char *name) {
    for (int i = 0; i < *ndef; i++)
        if (!strcmp(names[i], name)) return i;
    if (*ndef == REPORT_MAX_DEFS) return -1;
    snprintf(names[*ndef], 64, "%.63s", name);
    return (*ndef)++;
}

static void fmt_pct(char *b, size_t n, double v) {
    if (isfinite(v)) snprintf(b, n, "%.1f%%", 100 * v);
    else snprintf(b, n, "-");
}

// The kind of result a summary holds; an external defence ("any"): the first kind it returned.
static const char *cell_level(const cJSON *s) {
    const char *lv = jstr(s, "level");
    if (!strcmp(lv, "any")) {
        static const char *kinds[] = {"samples", "inputs", "model", "mitigation", "score"};
        const cJSON *ret = cJSON_GetObjectItemCaseSensitive(s, "returned"), *it;
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds && !strcmp(lv, "any"); k++)
            cJSON_ArrayForEach(it, ret) if (cJSON_IsString(it) && !strcmp(it->valuestring, kinds[k])) lv = kinds[k];
    }
    return lv;
}

// One leaderboard cell: the defence's headline numbers on the backdoored model, the control in brackets.
static void cell(const cJSON *s, char *b, size_t n) {
    if (!s) {
        snprintf(b, n, " ");
        return;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "clean_model");
    const char *lv = cell_level(s), *failed = jstr(s, "failed");
    char x[32], y[32];
    if (*failed) {
        snprintf(b, n, "failed");
        return;
    }
    if (!strcmp(lv, "score")) {
        snprintf(b, n, "score %.3f (ctl %.3f)", jnum(s, "model_score"), jnum(c, "model_score"));
    } else if (!strcmp(lv, "samples")) {
        fmt_pct(x, sizeof x, jnum(s, "tpr"));
        fmt_pct(y, sizeof y, jnum(c, "fpr"));
        snprintf(b, n, "AUROC %.3f, F1 %.3f, TPR %s, FPR %.1f%% (ctl FPR %s)", jnum(s, "auroc"), jnum(s, "f1"), x,
                 100 * jnum(s, "fpr"), y);
    } else if (!strcmp(lv, "inputs")) {
        fmt_pct(x, sizeof x, far_at(s, "0.01"));
        snprintf(b, n, "AUROC %.3f, FAR@FRR1%% %s (ctl AUROC %.3f)", jnum(s, "auroc"), x, jnum(c, "auroc"));
    } else if (!strcmp(lv, "model")) {
        const cJSON *tf = cJSON_GetObjectItemCaseSensitive(s, "target_found");
        snprintf(b, n, "max AI %.2f, target %s (ctl max AI %.2f)", jnum(s, "max_anomaly_index"),
                 cJSON_IsBool(tf) ? (cJSON_IsTrue(tf) ? "found" : "missed") : "-", jnum(c, "max_anomaly_index"));
    } else if (!strcmp(lv, "mitigation")) {
        fmt_pct(x, sizeof x, jnum(s, "ca_after"));
        fmt_pct(y, sizeof y, jnum(s, "asr_after"));
        snprintf(b, n, "DER %.3f, CA %s, ASR %s", jnum(s, "der"), x, y);
    } else {
        snprintf(b, n, "?");
    }
    // "nan" from a missing number reads badly in a table
    for (char *p = strstr(b, "nan"); p; p = strstr(p, "nan")) memcpy(p, "  -", 3);
}

// cell() as HTML: the same numbers, each tagged with its path in the summary (the <td> names the file).
static void html_cell(FILE *f, const cJSON *s) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "clean_model");
    const char *lv = cell_level(s);
    if (*jstr(s, "failed")) {
        fputs("failed: ", f);
        html_esc(f, jstr(s, "failed"));
        return;
    }
    static const struct { const char *level, *path, *label; HtmlFmt fmt; } nums[] = {
        {"score", "model_score", "score ", HTML_NUM}, {"score", "clean_model/model_score", " (control ", HTML_NUM},
        {"samples", "auroc", "AUROC ", HTML_NUM}, {"samples", "f1", ", F1 ", HTML_NUM},
        {"samples", "tpr", ", TPR ", HTML_PCT}, {"samples", "fpr", ", FPR ", HTML_PCT},
        {"samples", "clean_model/fpr", " (control FPR ", HTML_PCT},
        {"inputs", "auroc", "AUROC ", HTML_NUM}, {"inputs", "far_at_frr/0.01", ", FAR at FRR 1% ", HTML_PCT},
        {"inputs", "clean_model/auroc", " (control AUROC ", HTML_NUM},
        {"model", "max_anomaly_index", "max anomaly index ", HTML_NUM},
        {"model", "clean_model/max_anomaly_index", " (control ", HTML_NUM},
        {"mitigation", "der", "DER ", HTML_NUM}, {"mitigation", "ca_after", ", CA after ", HTML_PCT},
        {"mitigation", "asr_after", ", ASR after ", HTML_PCT},
    };
    int any = 0, open = 0;
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        if (strcmp(lv, nums[i].level)) continue;
        int ctl = !strncmp(nums[i].path, "clean_model/", 12);
        if (ctl && !cJSON_IsObject(c)) continue;
        const char *sub = ctl ? nums[i].path + 12 : nums[i].path, *slash = strchr(sub, '/');
        const cJSON *o = ctl ? c : s;
        if (slash) o = cJSON_GetObjectItemCaseSensitive(o, "far_at_frr"), sub = slash + 1;
        fputs(nums[i].label, f);
        html_num(f, nums[i].path, jnum(o, sub), nums[i].fmt);
        open |= ctl;
        any = 1;
    }
    if (!strcmp(lv, "model")) {
        const cJSON *tf = cJSON_GetObjectItemCaseSensitive(s, "target_found");
        if (cJSON_IsBool(tf)) fputs(cJSON_IsTrue(tf) ? ", target found" : ", target missed", f);
    }
    if (open) fputs(")", f);
    if (!any) {
        fputs("(a result of kind '", f);
        html_esc(f, lv);
        fputs("' this page cannot show)", f);
    }
}

// leaderboard.html: the leaderboard as a page; run names link to their report.html.
static void write_html(FILE *f, const char *out, const ReportRun *runs, int nrun, char defs[][64], int ndef,
                       const int *used) {
    html_page_begin(f, "backdoorlab leaderboard", "backdoorlab leaderboard: attacks × defences");
    fputs("<p>Every run given to <code>backdoorlab report</code> that has defence results, one row each; made from "
          "their <code>metrics.json</code> and <code>defense/*/summary.json</code>. Nothing is loaded from the "
          "network.</p>\n",
          f);
    html_sec_begin(f, "leaderboard", "Leaderboard",
                   "One row per attack run, one column per defence. <em>CA</em> and <em>ASR</em>: the backdoored "
                   "model's clean accuracy and attack success rate. Each cell: the defence's numbers on the "
                   "backdoored model; in brackets the same defence on the clean model of the same run, the "
                   "false-alarm <em>control</em>. <em>AUROC</em> 0.5 is guessing, 1 is perfect; <em>FAR at FRR "
                   "1%</em>: triggered inputs let through when 1% of clean ones are rejected (lower is better); "
                   "<em>DER</em>: how much a repair removed of the backdoor for what it cost in accuracy.");
    fputs("<div class=\"scroll\"><table class=\"board\">\n<tr><th>run</th><th>attack</th><th>CA</th><th>ASR</th>", f);
    for (int c = 0; c < ndef; c++)
        if (used[c]) {
            fputs("<th>", f);
            html_esc(f, defs[c]);
            fputs("</th>", f);
        }
    fputs("</tr>\n", f);
    for (int r = 0; r < nrun; r++) {
        char path[2300], rel[4096];
        fputs("<tr><td>", f);
        snprintf(path, sizeof path, "%.1023s/report.html", runs[r].dir);
        if (!html_relpath(out, path, rel, sizeof rel)) {
            fputs("<a href=\"", f);
            html_esc(f, rel);
            fputs("\">", f);
            html_esc(f, runs[r].name);
            fputs("</a>", f);
        } else html_esc(f, runs[r].name);
        if (strcmp(runs[r].name, runs[r].dir)) { // the folder as given: names like seed-1 repeat across sweeps
            fputs("<br><small><code>", f);
            html_esc(f, runs[r].dir);
            fputs("</code></small>", f);
        }
        fputs("</td><td>", f);
        html_esc(f, runs[r].attack);
        snprintf(path, sizeof path, "%.1023s/metrics.json", runs[r].dir);
        for (int k = 0; k < 2; k++) {
            fputs("</td><td", f);
            if (!html_relpath(out, path, rel, sizeof rel)) {
                fputs(" data-file=\"", f);
                html_esc(f, rel);
                fputs("\"", f);
            }
            fputs(">", f);
            html_num(f, k ? "backdoored_model/asr" : "backdoored_model/ca", k ? runs[r].asr : runs[r].ca, HTML_PCT);
        }
        fputs("</td>", f);
        for (int c = 0; c < ndef; c++) {
            if (!used[c]) continue;
            if (!runs[r].sum[c]) {
                fputs("<td class=\"na\">not run</td>", f);
                continue;
            }
            snprintf(path, sizeof path, "%.1023s/defense/%.63s/summary.json", runs[r].dir, defs[c]);
            fputs(*jstr(runs[r].sum[c], "failed") ? "<td class=\"failed\"" : "<td", f);
            if (!html_relpath(out, path, rel, sizeof rel)) {
                fputs(" data-file=\"", f);
                html_esc(f, rel);
                fputs("\"", f);
            }
            fputs(">", f);
            html_cell(f, runs[r].sum[c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
    for (int r = 0; r < nrun; r++) { // what a row lacks, and why
        if (runs[r].no_metrics) {
            fputs("<p class=\"missing\">", f);
            html_esc(f, runs[r].dir);
            fputs("/metrics.json is missing or unreadable: its CA and ASR are not known.</p>\n", f);
        }
        if (runs[r].unreadable[0]) {
            fputs("<p class=\"missing\">", f);
            html_esc(f, runs[r].dir);
            fputs(": the summary.json of defence folder(s) ", f);
            html_esc(f, runs[r].unreadable);
            fputs(" is missing or not JSON: left out.</p>\n", f);
        }
    }
    html_sec_end(f);
    html_page_end(f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, ",%.6g", v);
    else fprintf(f, ",");
}

static void csv_row(FILE *f, const ReportRun *r, const char *def, const char *level, const char *model,
                    const cJSON *s) {
    fprintf(f, "%s,\"%s\",%s,%s,%s", r->name, r->attack, def, level, model);
    const char *keys[] = {"auroc", "tpr", "fpr", "precision", "f1", "max_anomaly_index", "ca_after", "asr_after",
                          "ra_after", "der", "seconds"};
    for (size_t k = 0; k < 5; k++) csv_num(f, jnum(s, keys[k]));
    csv_num(f, far_at(s, "0.005"));
    csv_num(f, far_at(s, "0.01"));
    csv_num(f, far_at(s, "0.02"));
    csv_num(f, far_at(s, "0.03"));
    for (size_t k = 5; k < BL_ARRAY_LEN(keys); k++) csv_num(f, jnum(s, keys[k]));
    const cJSON *tf = cJSON_GetObjectItemCaseSensitive(s, "target_found");
    fprintf(f, ",%s\n", cJSON_IsBool(tf) ? (cJSON_IsTrue(tf) ? "1" : "0") : "");
}

static void report_usage(void) {
    printf("usage: backdoorlab report RUN_DIR... [--out DIR]\n\n"
           "Collects RUN_DIR/defense/*/summary.json (written by `backdoorlab detect` or by `run` with\n"
           "[defense.<name>] sections) into a leaderboard: one row per attack run, one column per defence,\n"
           "each cell the defence's headline numbers on the backdoored model and its clean-model control.\n"
           "Prints Markdown and writes DIR/leaderboard.md, DIR/leaderboard.csv and DIR/leaderboard.html (a\n"
           "self-contained page linking each run's report.html; DIR default: results).\n");
}

int cmd_report(int argc, char **argv) {
    const char *out = "results";
    static ReportRun runs[REPORT_MAX_RUNS];
    static char defs[REPORT_MAX_DEFS][64];
    int nrun = 0, ndef = 0, nargs = 0;
    for (int i = 0; i < defense_count(); i++) def_column(defs, &ndef, defense_at(i)->name);
    int registry_cols = ndef;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            report_usage();
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
            continue;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "backdoorlab report: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        nargs++;
        char ddir[1100];
        snprintf(ddir, sizeof ddir, "%s/defense", argv[i]);
        DIR *d = opendir(ddir);
        if (!d) continue; // not a run with defences (e.g. results/leaderboard.md from a glob)
        if (nrun == REPORT_MAX_RUNS) {
            closedir(d);
            fprintf(stderr, "backdoorlab report: more than %d runs; the rest are skipped\n", REPORT_MAX_RUNS);
            break;
        }
        ReportRun *r = &runs[nrun];
        memset(r, 0, sizeof *r);
        snprintf(r->dir, sizeof r->dir, "%s", argv[i]);
        size_t l = strlen(r->dir);
        while (l > 1 && r->dir[l - 1] == '/') r->dir[--l] = 0;
        const char *base = strrchr(r->dir, '/');
        snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : r->dir);
        char path[2300];
        snprintf(path, sizeof path, "%s/metrics.json", r->dir);
        cJSON *mj = json_read_file(path);
        const cJSON *bd = cJSON_GetObjectItemCaseSensitive(mj, "backdoored_model");
        r->ca = jnum(bd, "ca"), r->asr = jnum(bd, "asr");
        r->no_metrics = mj == NULL;
        cJSON_Delete(mj);
        struct dirent *e;
        int found = 0;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s/summary.json", ddir, e->d_name);
            cJSON *s = json_read_file(path);
            if (!s) {
                size_t u = strlen(r->unreadable);
                snprintf(r->unreadable + u, sizeof r->unreadable - u, "%s%s", u ? ", " : "", e->d_name);
                continue;
            }
            int col = def_column(defs, &ndef, e->d_name);
            if (col < 0) {
                cJSON_Delete(s);
                continue;
            }
            cJSON_Delete(r->sum[col]);
            r->sum[col] = s;
            if (!r->attack[0]) snprintf(r->attack, sizeof r->attack, "%s", jstr(s, "attack"));
            found = 1;
        }
        closedir(d);
        if (found) nrun++;
    }
    if (!nargs) {
        fprintf(stderr, "backdoorlab report: needs at least one run folder (e.g. results/*)\n");
        return 2;
    }
    if (!nrun) return cli_report(bl_fail(BL_ERR_USAGE, "no defence results found under the given folders "
                                                       "(run `backdoorlab detect` first)"));
    // keep only the columns some run has (registry order, then the unknown ones as met)
    int used[REPORT_MAX_DEFS] = {0};
    for (int r = 0; r < nrun; r++)
        for (int c = 0; c < ndef; c++) used[c] |= runs[r].sum[c] != NULL;
    (void)registry_cols;

    char mdpath[1100], csvpath[1100], htmlpath[1100];
    snprintf(mdpath, sizeof mdpath, "%s/leaderboard.md", out);
    snprintf(csvpath, sizeof csvpath, "%s/leaderboard.csv", out);
    snprintf(htmlpath, sizeof htmlpath, "%s/leaderboard.html", out);
    Status st = ensure_dir(out);
    char *md = NULL, *csv = NULL, *html = NULL;
    size_t mdlen = 0, csvlen = 0, htmllen = 0;
    FILE *fm = st ? NULL : open_memstream(&md, &mdlen), *fc = st ? NULL : open_memstream(&csv, &csvlen);
    FILE *fh = st ? NULL : open_memstream(&html, &htmllen);
    if (!st && (!fm || !fc || !fh)) st = bl_fail(BL_ERR_RUN, "out of memory");
    if (!st) write_html(fh, out, runs, nrun, defs, ndef, used);
    if (!st) {
        fprintf(fm, "# backdoorlab leaderboard\n\nEach cell: the defence on the backdoored model; `ctl` = the same "
                    "defence on the clean model of the same run (the false-alarm control).\n\n");
        fprintf(fm, "| run | attack | CA | ASR |");
        for (int c = 0; c < ndef; c++)
            if (used[c]) fprintf(fm, " %s |", defs[c]);
        fprintf(fm, "\n|---|---|---|---|");
        for (int c = 0; c < ndef; c++)
            if (used[c]) fprintf(fm, "---|");
        fprintf(fm, "\n");
        fprintf(fc, "run,attack,defense,level,model,auroc,tpr,fpr,precision,f1,far_frr_0.005,far_frr_0.01,"
                    "far_frr_0.02,far_frr_0.03,max_anomaly_index,ca_after,asr_after,ra_after,der,seconds,target_found\n");
        for (int r = 0; r < nrun; r++) {
            char ca[32], asr[32], b[512];
            fmt_pct(ca, sizeof ca, runs[r].ca);
            fmt_pct(asr, sizeof asr, runs[r].asr);
            fprintf(fm, "| %s | %s | %s | %s |", runs[r].name, runs[r].attack, ca, asr);
            for (int c = 0; c < ndef; c++) {
                if (!used[c]) continue;
                cell(runs[r].sum[c], b, sizeof b);
                fprintf(fm, " %s |", b);
                if (runs[r].sum[c]) {
                    const char *lv = jstr(runs[r].sum[c], "level");
                    csv_row(fc, &runs[r], defs[c], lv, "backdoored", runs[r].sum[c]);
                    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(runs[r].sum[c], "clean_model");
                    if (cJSON_IsObject(cm)) csv_row(fc, &runs[r], defs[c], lv, "clean", cm);
                }
            }
            fprintf(fm, "\n");
        }
    }
    if (fm) fclose(fm);
    if (fc) fclose(fc);
    if (fh) fclose(fh);
    if (!st) st = write_file_atomic(mdpath, md, mdlen);
    if (!st) st = write_file_atomic(csvpath, csv, csvlen);
    if (!st) st = write_file_atomic(htmlpath, html, htmllen);
    if (!st) printf("%s\nwritten: %s, %s, %s\n", md, mdpath, csvpath, htmlpath);
    free(md);
    free(csv);
    free(html);
    for (int r = 0; r < nrun; r++)
        for (int c = 0; c < ndef; c++) cJSON_Delete(runs[r].sum[c]);
    return cli_report(st);
}
