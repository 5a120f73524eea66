// reproduce.c: paper configs in, our numbers beside the papers' out (see reproduce.h).
#include "run/reproduce.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/config.h"
#include "io/html.h"
#include "io/results.h"
#include "run/multirun.h"

// Figures a run may have drawn, linked from the README when the first seed's run has them:
// (file in the run, caption, name in OUT/plots/ after the paper's name).
static const char *const run_plots[][3] = {
    {"defense/strip/entropy_hist.png", "STRIP entropy of clean and triggered inputs", "entropy_hist.png"},
    {"defense/neural-cleanse/norms.png", "Neural Cleanse: L1 norm of the reversed trigger per label", "norms.png"},
    {"defense/neural-cleanse/triggers.png", "Neural Cleanse: reversed triggers of labels 0-9, backdoored model",
     "triggers.png"},
    {"defense/neural-cleanse/clean/triggers.png", "Neural Cleanse: reversed triggers of labels 0-9, clean model",
     "triggers-clean.png"},
    {"defense/fine-prune/prune_curve.png",
     "Fine-pruning: CA and ASR against channels pruned (evaluator replay on 2,000 test images)", "prune_curve.png"},
};

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// Copy a (small) file with an atomic write; the folder of dst is created.
static Status copy_file(const char *src, const char *dst) {
    char dir[2600];
    snprintf(dir, sizeof dir, "%s", dst);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    Status st = ensure_dir(dir);
    if (st) return st;
    size_t len = 0;
    char *data = read_file_bytes(src, 1L << 26, &len);
    if (!data) return bl_fail(BL_ERR_RUN, "cannot read %s", src);
    st = write_file_atomic(dst, data, len);
    free(data);
    return st;
}

// Our values of claim c, one per seed, in the claim's unit. Returns how many were found.
static int claim_values(const PaperClaim *c, const ExperimentConfig *cfg, const MultiRun *mr, double *x) {
    int point = 0;
    for (int p = 0; p < mr->npoints; p++)
        if (cfg->sweep.enabled && !strcmp(mr->value[p], c->at)) point = p;
    int n = 0;
    for (int s = 0; s < mr->nseeds; s++) {
        double v = multirun_metric(mr->metrics[point][s], c->metric);
        x[n++] = isfinite(v) ? paper_claim_scale(c, v) : NAN;
    }
    return n;
}

// "89.12 ± 0.31" (n > 1) or "89.12", with the range for several seeds.
static void ours_text(const double *x, int n, int percent, char *buf, size_t cap) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            snprintf(buf, cap, "missing");
            return;
        }
    double mean, sd, lo = x[0], hi = x[0];
    multirun_mean_sd(x, n, &mean, &sd);
    for (int i = 1; i < n; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    const char *u = percent ? "%" : "";
    if (n > 1) snprintf(buf, cap, "%.2f ± %.2f%s (%.2f..%.2f, %d seeds)", mean, sd, u, lo, hi, n);
    else snprintf(buf, cap, "%.2f%s (1 seed)", mean, u);
}

// Markdown-safe copy (a '|' would split the table cell).
static void md_cell(const char *s, char *out, size_t cap) {
    size_t j = 0;
    for (; *s && j + 2 < cap; s++) {
        if (*s == '|') out[j++] = '\\';
        out[j++] = *s;
    }
    out[j] = 0;
}

// CSV field: quoted, quotes doubled.
static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

typedef struct {
    FILE *md, *csv;   // README.md and claims.csv being written (memory streams)
    FILE *html;       // report.html being written (memory stream)
    cJSON *papers;    // summary.json "papers"
    const char *out;  // the output folder
} ReportFiles;

static const char *verdict_class(ClaimVerdict v) {
    return v == VERDICT_WITHIN ? "within" : v == VERDICT_OUTSIDE ? "outside" : v == VERDICT_MISSING ? "missing" : "none";
}

// report.html's section of one paper: the setup line, then the claims table head. Numbers are tagged with their
// path in summary.json (papers/I/...), the page's contract with its test.
static void html_paper_begin(FILE *f, int pi, const ExperimentConfig *cfg, const MultiRun *mr, int epochs) {
    char id[32], path[64];
    snprintf(id, sizeof id, "paper-%d", pi);
    html_sec_begin(f, id, cfg->experiment.name,
                   "Each row is one number the paper reports, beside ours: the mean &plusmn; standard deviation over "
                   "the seeds we ran (every seed is listed). A two-sided claim is <em>within</em> when our mean is "
                   "no further from the paper's number than the tolerance; a one-sided claim (&gt; 2) must hold for "
                   "every seed. <em>verified</em> claims were read in the paper and are pass/fail; <em>reported, "
                   "unverified</em> ones are expectations. A <em>missing</em> number means a run did not record it.");
    fputs("<p><strong>Paper:</strong> ", f);
    html_esc(f, cfg->paper.reference);
    fputs("</p>\n<p><strong>Our setup:</strong> <code>", f);
    html_esc(f, cfg->model.layers);
    fputs("</code> on <code>", f);
    html_esc(f, cfg->data.dataset);
    fprintf(f, "</code>, %d epoch%s (%s), ", epochs, epochs == 1 ? "" : "s", config_optimizer_name(cfg->train.optimizer));
    snprintf(path, sizeof path, "papers/%d/seeds", pi);
    html_num(f, path, mr->nseeds, HTML_INT);
    fputs(mr->nseeds == 1 ? " seed" : " seeds", f);
    if (cfg->sweep.enabled) {
        fputs(", sweep over <code>", f);
        html_esc(f, cfg->sweep.key);
        fputs("</code>", f);
    }
    fputs(".</p>\n", f);
    if (cfg->paper.differences[0]) {
        fputs("<p><strong>How it differs from the paper:</strong> ", f);
        html_esc(f, cfg->paper.differences);
        fputs(".</p>\n", f);
    }
    fputs("<div class=\"scroll\"><table class=\"claims\">\n<tr><th>claim</th><th>paper</th><th>ours (mean &plusmn; "
          "sd)</th><th>per seed</th><th>seeds</th><th>tolerance</th><th>verdict</th><th>source and note</th></tr>\n",
          f);
}

// One row of the claims table (claim cj of paper pi; x: our n values in the claim's unit).
static void html_claim_row(FILE *f, int pi, int ci, const PaperClaim *c, const char *paper, const double *x, int n,
                           double mean, double sd, double tol, int quick, ClaimVerdict v) {
    char path[96];
    const char *unit = c->percent ? "%" : "";
    fputs("<tr><td><strong>", f);
    html_esc(f, c->id);
    fputs("</strong>: <code>", f);
    html_esc(f, c->metric);
    fputs("</code>", f);
    if (c->at[0]) {
        fputs(" @ ", f);
        html_esc(f, c->at);
    }
    fputs("</td><td>", f);
    html_esc(f, paper);
    fputs("</td><td>", f);
    if (isfinite(mean)) {
        snprintf(path, sizeof path, "papers/%d/claims/%d/mean", pi, ci);
        html_num(f, path, mean, HTML_FIX2);
        fputs(unit, f);
        if (n > 1 && isfinite(sd)) {
            fputs(" &plusmn; ", f);
            snprintf(path, sizeof path, "papers/%d/claims/%d/sd", pi, ci);
            html_num(f, path, sd, HTML_FIX2);
            fputs(unit, f);
        }
    } else fputs("<span class=\"missing\">missing</span>", f);
    fputs("</td><td>", f);
    for (int k = 0; k < n; k++) {
        if (k) fputs(", ", f);
        snprintf(path, sizeof path, "papers/%d/claims/%d/ours/%d", pi, ci, k);
        html_num(f, path, x[k], HTML_FIX2);
    }
    fprintf(f, "</td><td>%d</td><td>", n);
    if (tol >= 0) {
        snprintf(path, sizeof path, "papers/%d/claims/%d/tolerance", pi, ci);
        html_num(f, path, tol, HTML_NUM);
        fprintf(f, "%s%s", c->percent ? " pt" : "", quick ? " (quick)" : "");
    } else fputs("&ndash; (shown only)", f);
    fprintf(f, "</td><td class=\"verdict-%s\">%s%s</td><td>", verdict_class(v),
            v == VERDICT_NONE ? "shown only" : paper_verdict_name(v),
            v == VERDICT_NONE ? "" : c->verified ? " (verified)" : " (reported, unverified)");
    html_esc(f, c->source);
    if (c->note[0]) {
        fputs("<br><small>", f);
        html_esc(f, c->note);
        fputs("</small>", f);
    }
    fputs("</td></tr>\n", f);
}

// The paper's run folders, each linked to its own report.html (relative links: OUT moves as one).
static void html_paper_runs(FILE *f, const char *out, const ExperimentConfig *cfg, const MultiRun *mr) {
    fputs("<h3>The runs</h3>\n<ul>\n", f);
    for (int p = 0; p < mr->npoints; p++)
        for (int s = 0; s < mr->nseeds; s++) {
            char dir[2400], page[2600];
            multirun_dir(mr, cfg, p, s, dir, sizeof dir);
            const char *rel = dir + strlen(out) + (dir[strlen(out)] == '/');
            snprintf(page, sizeof page, "%s/report.html", dir);
            fputs("<li>", f);
            if (file_exists(page)) {
                fputs("<a href=\"", f);
                html_esc(f, rel);
                fputs("/report.html\">", f);
                html_esc(f, rel);
                fputs("</a>", f);
            } else {
                fputs("<code>", f);
                html_esc(f, rel);
                fputs("</code> (it has no report.html: made by an older backdoorlab)", f);
            }
            fputs("</li>\n", f);
        }
    fputs("</ul>\n", f);
}

// One paper's section of the README, its CSV rows and JSON, and the tally.
static void report_paper(ReportFiles *rf, const ExperimentConfig *cfg, const MultiRun *mr, const ReproduceOptions *o,
                         double seconds, ReproduceTally *t) {
    const PaperSpec *ps = &cfg->paper;
    char cell[3][512];
    FILE *md = rf->md;
    md_cell(ps->reference, cell[0], sizeof cell[0]);
    fprintf(md, "## %s\n\n%s\n\n", cfg->experiment.name, cell[0]);
    int epochs = o->quick && cfg->train.epochs > ps->quick_epochs ? ps->quick_epochs : cfg->train.epochs;
    fprintf(md, "Our setup: %s on %s, %d epoch%s (%s), %d seed%s%s%s. Runs in `%s/`, %.0f s.\n", cfg->model.layers,
            cfg->data.dataset, epochs, epochs == 1 ? "" : "s", config_optimizer_name(cfg->train.optimizer), mr->nseeds,
            mr->nseeds == 1 ? "" : "s", cfg->sweep.enabled ? ", sweep over " : "", cfg->sweep.enabled ? cfg->sweep.key : "",
            mr->root + strlen(rf->out) + 1, seconds);
    if (ps->differences[0]) {
        md_cell(ps->differences, cell[0], sizeof cell[0]);
        fprintf(md, "How it differs from the paper: %s.\n", cell[0]);
    }
    fprintf(md, "\n| claim | paper | ours (mean ± sd) | tolerance | verdict | source | note |\n"
                "|---|---|---|---|---|---|---|\n");
    const int pi = cJSON_GetArraySize(rf->papers);
    html_paper_begin(rf->html, pi, cfg, mr, epochs);
    cJSON *pj = cJSON_CreateObject();
    cJSON_AddItemToArray(rf->papers, pj);
    cJSON_AddStringToObject(pj, "name", cfg->experiment.name);
    cJSON_AddStringToObject(pj, "reference", ps->reference);
    cJSON_AddNumberToObject(pj, "seeds", mr->nseeds);
    cJSON_AddNumberToObject(pj, "seconds", seconds);
    cJSON *claims = cJSON_AddArrayToObject(pj, "claims");
    for (int i = 0; i < ps->nclaims; i++) {
        const PaperClaim *c = &ps->claims[i];
        double x[CONFIG_MAX_SEEDS];
        int n = claim_values(c, cfg, mr, x);
        ClaimVerdict v = paper_claim_verdict(c, x, n, o->quick);
        double tol = o->quick ? c->quick_tol : c->tol;
        char paper[64], ours[128], tol_text[32], verdict[96];
        paper_claim_value_text(c, paper, sizeof paper);
        ours_text(x, n, c->percent, ours, sizeof ours);
        if (tol >= 0) snprintf(tol_text, sizeof tol_text, "%g%s%s", tol, c->percent ? " pt" : "", o->quick ? " (quick)" : "");
        else snprintf(tol_text, sizeof tol_text, "–");
        t->claims++;
        if (v == VERDICT_WITHIN) t->within++;
        if (v == VERDICT_OUTSIDE) t->outside++;
        int fails = v == VERDICT_MISSING || (v == VERDICT_OUTSIDE && (o->quick || (o->strict && c->verified)));
        t->failed += fails;
        if (v == VERDICT_NONE) snprintf(verdict, sizeof verdict, "shown only");
        else if (c->verified) snprintf(verdict, sizeof verdict, "**%s**", paper_verdict_name(v));
        else snprintf(verdict, sizeof verdict, "%s (reported, unverified)", paper_verdict_name(v));
        char metric[300];
        snprintf(metric, sizeof metric, "%s: `%s`%s%s", c->id, c->metric, c->at[0] ? " @ " : "", c->at);
        md_cell(metric, cell[0], sizeof cell[0]);
        md_cell(c->source, cell[1], sizeof cell[1]);
        md_cell(c->note, cell[2], sizeof cell[2]);
        fprintf(md, "| %s | %s | %s | %s | %s | %s | %s |\n", cell[0], paper, ours, tol_text, verdict, cell[1], cell[2]);
        fprintf(rf->csv, "%s,%s,", cfg->experiment.name, c->id);
        csv_field(rf->csv, c->metric);
        fprintf(rf->csv, ",%s,", c->at);
        csv_field(rf->csv, paper);
        double mean = NAN, sd = NAN;
        if (n) multirun_mean_sd(x, n, &mean, &sd);
        fprintf(rf->csv, ",%.6g,%.6g,%d,%g,%s,%s,", mean, sd, n, tol, c->verified ? "verified" : "unverified",
                paper_verdict_name(v));
        csv_field(rf->csv, c->source);
        fputc('\n', rf->csv);
        cJSON *cj = cJSON_CreateObject();
        cJSON_AddItemToArray(claims, cj);
        cJSON_AddStringToObject(cj, "id", c->id);
        cJSON_AddStringToObject(cj, "metric", c->metric);
        if (c->at[0]) cJSON_AddStringToObject(cj, "at", c->at);
        cJSON_AddStringToObject(cj, "paper", paper);
        cJSON_AddItemToObject(cj, "ours", cJSON_CreateDoubleArray(x, n));
        if (isfinite(mean)) cJSON_AddNumberToObject(cj, "mean", mean);
        if (isfinite(sd)) cJSON_AddNumberToObject(cj, "sd", sd);
        if (tol >= 0) cJSON_AddNumberToObject(cj, "tolerance", tol);
        cJSON_AddBoolToObject(cj, "verified", c->verified);
        cJSON_AddStringToObject(cj, "verdict", paper_verdict_name(v));
        cJSON_AddStringToObject(cj, "source", c->source);
        html_claim_row(rf->html, pi, i, c, paper, x, n, mean, sd, tol, o->quick, v);
    }
    fputs("</table></div>\n", rf->html);
    // Plots: the sweep (multirun) and whatever the first seed's defences drew, copied to OUT/plots/ so the report
    // and its figures can be kept (or committed) without the run folders and their models.
    char first[2400], src[2600];
    multirun_dir(mr, cfg, 0, 0, first, sizeof first);
    int any = 0;
    for (int k = -1; k < (int)BL_ARRAY_LEN(run_plots); k++) {
        const char *file = k < 0 ? "sweep.png" : run_plots[k][0];
        snprintf(src, sizeof src, "%s/%s", k < 0 ? mr->root : first, file);
        if (!file_exists(src)) continue;
        const char *base = k < 0 ? file : run_plots[k][2];
        char name[300], dst[2600], caption[300];
        snprintf(name, sizeof name, "%s-%s", cfg->experiment.name, base);
        snprintf(dst, sizeof dst, "%s/plots/%s", rf->out, name);
        if (copy_file(src, dst) != BL_OK) continue; // a figure that cannot be copied is left out, not fatal
        if (k < 0) snprintf(caption, sizeof caption, "ASR and CA against %s", cfg->sweep.key);
        else snprintf(caption, sizeof caption, "%s (seed %llu)", run_plots[k][1], (unsigned long long)mr->seed[0]);
        fprintf(md, "%s![%s](plots/%s)\n", any ? "" : "\n", caption, name);
        // the page shows the figure's SVG twin when gnuplot drew one (io/plot.c), copied beside the PNG
        char label[320], svg_src[2600], svg_dst[2600];
        snprintf(label, sizeof label, "plots/%s", name);
        size_t ls = strlen(src), ld = strlen(dst);
        snprintf(svg_src, sizeof svg_src, "%.*s.svg", (int)(ls - 4), src);
        snprintf(svg_dst, sizeof svg_dst, "%.*s.svg", (int)(ld - 4), dst);
        int svg = ls > 4 && ld > 4 && file_exists(svg_src) && copy_file(svg_src, svg_dst) == BL_OK;
        if (svg) snprintf(label, sizeof label, "plots/%.*s.svg", (int)(strlen(name) - 4), name);
        fputs("<figure>\n", rf->html);
        html_embed_image(rf->html, svg ? svg_dst : dst, label, caption, "plot");
        fputs("<figcaption>", rf->html);
        html_esc(rf->html, caption);
        fputs(" (<code>", rf->html);
        html_esc(rf->html, label);
        fputs("</code>)</figcaption>\n</figure>\n", rf->html);
        any = 1;
    }
    if (!any)
        fputs("<p>No figures: the runs drew none (no sweep and no STRIP, Neural Cleanse or fine-pruning defence), or "
              "gnuplot was missing.</p>\n", rf->html);
    fputc('\n', md);
    html_paper_runs(rf->html, rf->out, cfg, mr);
    html_sec_end(rf->html);
}

Status reproduce_run(const char *const *configs, int nconfigs, const ReproduceOptions *o, ReproduceTally *tally) {
    memset(tally, 0, sizeof *tally);
    const char *out = o->out ? o->out : o->quick ? "results/reproduce-quick" : "results/reproduce";
    if (nconfigs <= 0) return bl_fail(BL_ERR_USAGE, "no paper configs given (e.g. experiments/papers/*.ini)");
    ExperimentConfig *cfgs = calloc((size_t)nconfigs, sizeof *cfgs);
    MultiRun *mr = malloc(sizeof *mr);
    if (!cfgs || !mr) {
        free(cfgs);
        free(mr);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    Status st = BL_OK;
    for (int i = 0; i < nconfigs && !st; i++) { // every config is checked before anything trains
        if ((st = config_load(configs[i], &cfgs[i]))) break;
        if (!cfgs[i].paper.enabled)
            st = bl_fail(BL_ERR_USAGE, "%s: no [paper] section; reproduce runs paper configs (see io/paper.h)",
                         configs[i]);
        for (int j = 0; j < i && !st; j++)
            if (!strcmp(cfgs[i].experiment.name, cfgs[j].experiment.name))
                st = bl_fail(BL_ERR_USAGE, "%s and %s have the same experiment name '%s'; their results would mix",
                             configs[j], configs[i], cfgs[i].experiment.name);
    }
    ReportFiles rf = {.out = out, .papers = cJSON_CreateArray()};
    char *md_buf = NULL, *csv_buf = NULL, *html_buf = NULL;
    size_t md_n = 0, csv_n = 0, html_n = 0;
    rf.md = open_memstream(&md_buf, &md_n);
    rf.csv = open_memstream(&csv_buf, &csv_n);
    rf.html = open_memstream(&html_buf, &html_n);
    if (!st && (!rf.md || !rf.csv || !rf.html || !rf.papers)) st = bl_fail(BL_ERR_RUN, "out of memory");
    if (!st) st = ensure_dir(out);
    char rev[64], when[32];
    bl_git_revision(rev, sizeof rev);
    bl_iso8601_utc(when);
    if (!st) {
        fprintf(rf.md, "# Paper reproductions%s\n\n", o->quick ? " (quick: first seed, fewer epochs)" : "");
        fprintf(rf.md,
                "Written by `backdoorlab reproduce%s` at revision %s on %s%s. Each table puts the number a paper reports "
                "beside ours (mean ± sd over the seeds run; one-sided claims must hold for every seed). **verified** "
                "claims were read in the paper itself (see the research notes) and are pass/fail; *reported, "
                "unverified* ones are expectations nobody has checked in the paper yet. Our data is Fashion-MNIST, not "
                "the papers' datasets: each table says how the setup differs.\n\n",
                o->quick ? " --quick" : "", rev, when,
                o->report_only ? " from runs made earlier (`--report-only`; each run's manifest.json names the revision "
                                 "that trained it)"
                               : "");
        fprintf(rf.csv, "paper,claim,metric,at,paper_value,ours_mean,ours_sd,seeds,tolerance,status,verdict,source\n");
        html_page_begin(rf.html, "backdoorlab: paper reproductions",
                        o->quick ? "Paper reproductions (quick: first seed, fewer epochs)" : "Paper reproductions");
        fputs("<p>Each table puts the numbers a paper reports beside ours, with a verdict, the figures the runs drew and "
              "links to each run's own page. Our data is usually not the paper's: each table says how the setup "
              "differs. Made by <code>backdoorlab reproduce", rf.html);
        fputs(o->quick ? " --quick" : "", rf.html);
        fputs("</code> at code revision <code>", rf.html);
        html_esc(rf.html, rev);
        fputs("</code> from the files in this folder (<code>summary.json</code> holds every number shown here); "
              "nothing is loaded from the network.</p>\n", rf.html);
    }
    for (int i = 0; i < nconfigs && !st; i++) {
        ExperimentConfig *cfg = &cfgs[i];
        char root[2048];
        snprintf(root, sizeof root, "%s/%s", out, cfg->experiment.name);
        multirun_plan(cfg, root, o->quick, mr);
        ExperimentOptions eo = {.mode = EXP_RUN, .config_path = configs[i], .threads = o->threads,
                                .progress = o->progress, .quiet = o->quiet};
        if (!o->quiet) printf("== %s (%s): %d run(s)\n", cfg->experiment.name, configs[i], mr->npoints * mr->nseeds);
        double t0 = bl_now();
        st = o->report_only ? multirun_load(cfg, mr) : multirun_execute(cfg, &eo, o->quick, mr);
        double seconds = bl_now() - t0;
        if (!st && o->report_only) { // the time the runs took, from their own summary
            char path[2200];
            snprintf(path, sizeof path, "%s/summary.json", mr->root);
            cJSON *sj = json_read_file(path);
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(sj, "seconds");
            seconds = cJSON_IsNumber(sec) ? sec->valuedouble : NAN;
            cJSON_Delete(sj);
        }
        if (!st) report_paper(&rf, cfg, mr, o, seconds, tally);
        multirun_free(mr);
    }
    if (rf.md) fclose(rf.md);
    if (rf.csv) fclose(rf.csv);
    if (rf.html) {
        if (!st) {
            html_sec_begin(rf.html, "totals", "Totals",
                           "How many claims held. A reproduction with claims <em>outside</em> is not a failure of the "
                           "code by itself: read the claim's note and how our setup differs.");
            fputs("<p>", rf.html);
            html_num(rf.html, "claims", tally->claims, HTML_INT);
            fputs(" claims: ", rf.html);
            html_num(rf.html, "within", tally->within, HTML_INT);
            fputs(" within tolerance, ", rf.html);
            html_num(rf.html, "outside", tally->outside, HTML_INT);
            fputs(" outside, ", rf.html);
            fprintf(rf.html, "%d shown only or missing; ", tally->claims - tally->within - tally->outside);
            html_num(rf.html, "failed", tally->failed, HTML_INT);
            fprintf(rf.html, " failing the command (%s).</p>\n",
                    o->quick ? "outside the quick tolerance, or missing"
                    : o->strict ? "verified and outside, or missing" : "missing");
            html_sec_end(rf.html);
            html_page_end(rf.html);
        }
        if (ferror(rf.html) && !st) st = bl_fail(BL_ERR_RUN, "out of memory building report.html");
        fclose(rf.html);
    }
    if (!st) {
        char path[2200];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "revision", rev);
        cJSON_AddBoolToObject(j, "quick", o->quick);
        cJSON_AddNumberToObject(j, "claims", tally->claims);
        cJSON_AddNumberToObject(j, "within", tally->within);
        cJSON_AddNumberToObject(j, "outside", tally->outside);
        cJSON_AddNumberToObject(j, "failed", tally->failed);
        cJSON_AddItemToObject(j, "papers", rf.papers);
        rf.papers = NULL;
        snprintf(path, sizeof path, "%s/summary.json", out);
        st = json_write_atomic(path, j);
        cJSON_Delete(j);
        FILE *tail = NULL;
        char *md2 = NULL;
        size_t md2_n = 0;
        if (!st && (tail = open_memstream(&md2, &md2_n))) { // totals line at the end
            fwrite(md_buf, 1, md_n, tail);
            fprintf(tail, "---\n%d claims: %d within tolerance, %d outside, %d shown only or missing.\n", tally->claims,
                    tally->within, tally->outside, tally->claims - tally->within - tally->outside);
            fclose(tail);
        }
        snprintf(path, sizeof path, "%s/README.md", out);
        if (!st) st = md2 ? write_file_atomic(path, md2, md2_n) : bl_fail(BL_ERR_RUN, "out of memory");
        free(md2);
        snprintf(path, sizeof path, "%s/claims.csv", out);
        if (!st) st = write_file_atomic(path, csv_buf, csv_n);
        snprintf(path, sizeof path, "%s/report.html", out);
        if (!st) st = write_file_atomic(path, html_buf, html_n);
        if (!st && !o->quiet)
            printf("\n%d claims: %d within tolerance, %d outside, %d failing. Report: %s/README.md\n", tally->claims,
                   tally->within, tally->outside, tally->failed, out);
        if (!st && tally->failed)
            st = bl_fail(BL_ERR_RUN, "%d claim(s) failed (%s); see %s/README.md", tally->failed,
                         o->quick ? "outside the quick tolerance, or missing" : "verified and outside, or missing",
                         out);
    }
    cJSON_Delete(rf.papers);
    free(md_buf);
    free(csv_buf);
    free(html_buf);
    free(cfgs);
    free(mr);
    return st;
}
