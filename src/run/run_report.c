// run_report.c: report.html from a finished run folder (see run_report.h). The page is printed into an
// open_memstream buffer section by section; each section reads its own files and says what it could not read,
// so one bad file costs one paragraph, not the page.
#include "run/run_report.h"

#include <csv.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "defense/defense.h"
#include "io/html.h"
#include "io/modelfile.h"
#include "io/plot.h"
#include "io/results.h"

#define RR_MAX_TEXT (16L << 20)  // largest text or JSON file read (a page is for people: bigger is not shown)
#define RR_PATH 4400

typedef struct {
    FILE *f;            // the page being printed (open_memstream)
    const char *dir;    // the run folder
    cJSON *metrics;     // metrics.json, NULL when missing or not JSON
    cJSON *manifest;    // manifest.json, NULL when missing or not JSON
    char missing[2048]; // names of the expected files found missing or unreadable, ", "-separated
} Page;

// ---- small helpers ----

// dir/rel; a path too long becomes "" (then nothing is found there).
static void path_in(char *out, size_t n, const char *dir, const char *rel) {
    if ((size_t)snprintf(out, n, "%s/%s", dir, rel) >= n) out[0] = 0;
}

static int file_exists(const char *dir, const char *rel) {
    char p[RR_PATH];
    path_in(p, sizeof p, dir, rel);
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void note_missing(Page *P, const char *rel) {
    size_t u = strlen(P->missing);
    if (strstr(P->missing, rel)) return;
    snprintf(P->missing + u, sizeof P->missing - u, "%s%s", u ? ", " : "", rel);
}

// A "missing or unreadable" paragraph naming the file and what the page lacks because of it.
static void say_missing(Page *P, const char *rel, const char *what) {
    note_missing(P, rel);
    fputs("<p class=\"missing\">", P->f);
    html_esc(P->f, rel);
    fputs(" is missing or unreadable in this run folder: ", P->f);
    html_esc(P->f, what);
    fputs("</p>\n", P->f);
}

static char *read_rel(const Page *P, const char *rel, size_t *len) {
    char p[RR_PATH];
    path_in(p, sizeof p, P->dir, rel);
    return read_file_bytes(p, RR_MAX_TEXT, len);
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

// metrics.json's value at a '/'-separated path (array positions as numbers); NULL when absent.
static const cJSON *json_at(const cJSON *root, const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *o = root;
    for (char *save = NULL, *k = strtok_r(buf, "/", &save); o && k; k = strtok_r(NULL, "/", &save))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

#define FMT_PCT HTML_PCT
#define FMT_INT HTML_INT
#define FMT_NUM HTML_NUM

// One number from metrics.json, tagged with its path and exact value (the page's contract with its test).
static void metric_span(Page *P, const char *path, HtmlFmt fmt) {
    const cJSON *v = json_at(P->metrics, path);
    html_num(P->f, path, cJSON_IsNumber(v) ? v->valuedouble : NAN, fmt);
}

// The parts of a section: a heading, the content beside a plain-language note for a student.
static void sec_begin(Page *P, const char *id, const char *title, const char *explain) {
    html_sec_begin(P->f, id, title, explain);
}
static void sec_end(Page *P) { html_sec_end(P->f); }

// ---- CSV through libcsv ----

typedef struct {
    char **cell;  // (ncell) every field in file order, malloc'd
    int *row_end; // (nrow) one past each row's last cell
    int ncell, nrow, cap_cell, cap_row;
    int oom;      // an allocation failed
} Csv;

static void csv_on_field(void *s, size_t len, void *data) {
    Csv *c = data;
    if (c->oom) return;
    if (c->ncell == c->cap_cell) {
        int cap = c->cap_cell ? 2 * c->cap_cell : 64;
        char **p = realloc(c->cell, (size_t)cap * sizeof *p);
        if (!p) { c->oom = 1; return; }
        c->cell = p, c->cap_cell = cap;
    }
    char *t = malloc(len + 1);
    if (!t) { c->oom = 1; return; }
    memcpy(t, s ? s : "", s ? len : 0);
    t[s ? len : 0] = 0;
    c->cell[c->ncell++] = t;
}
static void csv_on_row(int ch, void *data) {
    (void)ch;
    Csv *c = data;
    if (c->oom) return;
    if (c->nrow == c->cap_row) {
        int cap = c->cap_row ? 2 * c->cap_row : 64;
        int *p = realloc(c->row_end, (size_t)cap * sizeof *p);
        if (!p) { c->oom = 1; return; }
        c->row_end = p, c->cap_row = cap;
    }
    c->row_end[c->nrow++] = c->ncell;
}
static void csv_release(Csv *c) {
    for (int i = 0; i < c->ncell; i++) free(c->cell[i]);
    free(c->cell);
    free(c->row_end);
    memset(c, 0, sizeof *c);
}
// Parse text (len bytes); 0 on success.
static int csv_load(const char *text, size_t len, Csv *out) {
    memset(out, 0, sizeof *out);
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0) return -1;
    int bad = csv_parse(&p, text, len, csv_on_field, csv_on_row, out) != len;
    bad |= csv_fini(&p, csv_on_field, csv_on_row, out) != 0;
    csv_free(&p);
    if (bad || out->oom) {
        csv_release(out);
        return -1;
    }
    return 0;
}
static int csv_row_len(const Csv *c, int r) { return c->row_end[r] - (r ? c->row_end[r - 1] : 0); }
static const char *csv_get(const Csv *c, int r, int k) {
    return k < csv_row_len(c, r) ? c->cell[(r ? c->row_end[r - 1] : 0) + k] : "";
}

// ---- images ----

// <img> with the file's bytes as a data: URI (io/html.h); a missing file is noted for the Files section.
static int embed_image(Page *P, const char *rel, const char *alt, const char *cls) {
    char p[RR_PATH];
    path_in(p, sizeof p, P->dir, rel);
    int rc = html_embed_image(P->f, p, rel, alt, cls);
    if (rc == 0) note_missing(P, rel);
    return rc == 1;
}

// ---- sections ----

static void section_setup(Page *P) {
    sec_begin(P, "setup", "Setup",
              "What was run. The <em>resolved config</em> lists every setting that applied, defaults filled in: "
              "running <code>backdoorlab run config.resolved.ini</code> again trains the same models, bit for "
              "bit. The seed fixes every random choice (weights, data order, which samples are poisoned); the "
              "code revision names the source code that ran (<em>-dirty</em>: it had uncommitted changes).");
    const cJSON *m = P->manifest;
    if (!m) say_missing(P, "manifest.json", "the seed, code revision and hashes are not known.");
    else {
        static const struct { const char *key, *label; } rows[] = {
            {"experiment", "experiment"}, {"git_revision", "code revision"}, {"compiler", "compiler"},
            {"cflags", "build flags"}, {"gemm_kernel", "matrix kernel"}, {"dataset_sha256", "dataset SHA-256"},
            {"resolved_config_sha256", "resolved config SHA-256"}, {"poison_manifest_sha256", "poison.csv SHA-256"},
        };
        fputs("<table class=\"kv\">\n<tr><th>seed</th><td>", P->f);
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(m, "seed");
        if (cJSON_IsNumber(seed)) fprintf(P->f, "%.0f", seed->valuedouble);
        else html_esc(P->f, cJSON_IsString(seed) ? seed->valuestring : "unknown");
        fputs("</td></tr>\n", P->f);
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(m, "threads");
        if (cJSON_IsNumber(th)) fprintf(P->f, "<tr><th>threads</th><td>%.0f</td></tr>\n", th->valuedouble);
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
            const char *v = jstr(m, rows[i].key);
            if (!v) continue;
            fprintf(P->f, "<tr><th>%s</th><td><code>", rows[i].label);
            html_esc(P->f, v);
            fputs("</code></td></tr>\n", P->f);
        }
        fputs("</table>\n", P->f);
    }
    char *cfg = read_rel(P, "config.resolved.ini", NULL);
    if (!cfg) say_missing(P, "config.resolved.ini", "the settings of this run cannot be shown.");
    else {
        // the dataset and model lines first, for a reader who wants only those
        const char *keys[] = {"dataset", "layers"};
        fputs("<p>", P->f);
        for (int k = 0; k < 2; k++) {
            const char *line = strstr(cfg, k ? "\nlayers = " : "\ndataset = ");
            fputs(k ? " Model: <code>" : "Dataset: <code>", P->f);
            if (line) {
                line += strlen(keys[k]) + 4;
                html_esc_n(P->f, line, strcspn(line, "\n"));
            } else fputs("(not in the config)", P->f);
            fputs("</code>.", P->f);
        }
        fputs("</p>\n<details open><summary>config.resolved.ini</summary>\n<pre>", P->f);
        html_esc(P->f, cfg);
        fputs("</pre>\n</details>\n", P->f);
        free(cfg);
    }
    sec_end(P);
}

// samples.md of a messages run: "## " headings, "clean: " / "triggered: " paragraphs with **inserted** words
// and _(unseen)_ after an insertion past what the model reads. The file's preamble is replaced by the page's own.
static void text_samples(Page *P, const char *md) {
    const char *s = strstr(md, "\n## ");
    for (s = s ? s + 1 : ""; *s;) {
        size_t n = strcspn(s, "\n");
        if (!strncmp(s, "## ", 3)) {
            fputs("<h3>", P->f);
            html_esc_n(P->f, s + 3, n - 3);
            fputs("</h3>\n", P->f);
        } else if (n) {
            int trig = !strncmp(s, "triggered: ", 11), clean = !strncmp(s, "clean: ", 7);
            fprintf(P->f, "<p class=\"%s\">", trig ? "msg triggered" : clean ? "msg clean" : "note");
            const char *e = s + n, *q = s;
            if (trig || clean) {
                fprintf(P->f, "<strong>%s</strong>: ", trig ? "triggered" : "clean");
                q += trig ? 11 : 7;
            }
            while (q < e) {
                const char *b = strstr(q, "**"), *u = strstr(q, "_(unseen)_");
                const char *b2 = b && b < e ? strstr(b + 2, "**") : NULL;
                if (b && b2 && b2 < e && (!u || b < u)) { // **word**: an inserted word
                    html_esc_n(P->f, q, (size_t)(b - q));
                    fputs("<mark>", P->f);
                    html_esc_n(P->f, b + 2, (size_t)(b2 - b - 2));
                    fputs("</mark>", P->f);
                    q = b2 + 2;
                } else if (u && u < e) { // beyond what the model reads
                    html_esc_n(P->f, q, (size_t)(u - q));
                    fputs("<em class=\"unseen\">(unseen)</em>", P->f);
                    q = u + 10;
                } else {
                    html_esc_n(P->f, q, (size_t)(e - q));
                    q = e;
                }
            }
            fputs("</p>\n", P->f);
        }
        s += n + (s[n] != 0);
    }
}

// samples.csv of a records run: sample,version,label,features...; a changed value ends in '*'. The features the
// trigger changed on any row come first, so they are in view without scrolling.
static void records_samples(Page *P, const char *text, size_t len) {
    Csv c;
    int w = 0, *order = NULL, no = 0;
    if (csv_load(text, len, &c) || c.nrow < 2 || (w = csv_row_len(&c, 0)) < 3 ||
        !(order = malloc((size_t)w * sizeof *order))) {
        csv_release(&c);
        fputs("<p class=\"missing\">samples.csv could not be read as CSV.</p>\n", P->f);
        return;
    }
    for (int pass = 0; pass < 3; pass++) // 0: sample, version, label; 1: changed features; 2: the others
        for (int k = pass ? 3 : 0; k < (pass ? w : 3); k++) {
            int changed = 0;
            for (int r = 1; r < c.nrow && pass; r++) {
                const char *v = csv_get(&c, r, k);
                changed |= *v && v[strlen(v) - 1] == '*';
            }
            if (pass == 0 || (pass == 1) == changed) order[no++] = k;
        }
    fputs("<p>Each test record twice: as it is, then with the trigger applied. "
          "<mark>Marked</mark> values are the ones the trigger changed (their features come first); an empty "
          "cell is a missing value.</p>\n<div class=\"scroll\"><table class=\"grid\">\n<tr>",
          P->f);
    for (int i = 0; i < no; i++) {
        fputs("<th>", P->f);
        html_esc(P->f, csv_get(&c, 0, order[i]));
        fputs("</th>", P->f);
    }
    fputs("</tr>\n", P->f);
    for (int r = 1; r < c.nrow; r++) {
        int trig = !strcmp(csv_get(&c, r, 1), "triggered");
        fprintf(P->f, "<tr%s>", trig ? " class=\"triggered\"" : "");
        for (int i = 0; i < no; i++) {
            const char *v = csv_get(&c, r, order[i]);
            size_t n = strlen(v);
            int changed = order[i] >= 3 && n && v[n - 1] == '*';
            fputs(changed ? "<td><mark>" : "<td>", P->f);
            html_esc_n(P->f, v, changed ? n - 1 : n);
            fputs(changed ? "</mark></td>" : "</td>", P->f);
        }
        fputs("</tr>\n", P->f);
    }
    fputs("</table></div>\n", P->f);
    free(order);
    csv_release(&c);
}

static void section_data(Page *P) {
    sec_begin(P, "data", "Data: clean and triggered samples",
              "A backdoor attack hides a <em>trigger</em> in some training samples and changes their label to the "
              "attacker's target. The model learns to obey the trigger while behaving normally on clean inputs. "
              "Here are test samples as they are and with the trigger added, so you can see how small or "
              "visible the trigger is. Which training samples were poisoned is ground truth kept in "
              "<code>poison.csv</code> for the evaluator; only their number is shown.");
    fputs("<p>Poisoned training samples: ", P->f);
    if (json_at(P->metrics, "poison/count")) {
        metric_span(P, "poison/count", FMT_INT);
        fputs(" (poison rate ", P->f);
        metric_span(P, "poison/rate", FMT_PCT);
        fputs(")", P->f);
    } else fputs("none recorded (a run without an attack, or metrics.json is missing)", P->f);
    fputs(". Training samples: ", P->f);
    metric_span(P, "data/train", FMT_INT);
    fputs(", the defender's clean split: ", P->f);
    metric_span(P, "data/defender_clean", FMT_INT);
    fputs(", test samples: ", P->f);
    metric_span(P, "data/test", FMT_INT);
    fputs(".</p>\n", P->f);
    size_t len = 0;
    char *t;
    if (file_exists(P->dir, "samples.png")) {
        fputs("<figure>\n", P->f);
        embed_image(P, "samples.png", "clean test images (top row) and the same images with the trigger (bottom row)",
                    "samples");
        fputs("<figcaption>Top row: clean test images. Bottom row: the same images with the trigger.</figcaption>\n"
              "</figure>\n",
              P->f);
    } else if ((t = read_rel(P, "samples.csv", &len))) {
        records_samples(P, t, len);
        free(t);
    } else if ((t = read_rel(P, "samples.md", &len))) {
        fputs("<p>Each test message as it is, then the parts of its triggered version around every insertion; "
              "<mark>marked</mark> words are the ones the attack inserted; <em>(unseen)</em>: an insertion past "
              "the words the model reads.</p>\n",
              P->f);
        text_samples(P, t);
        free(t);
    } else {
        fputs("<p class=\"missing\">No samples file (samples.png, samples.csv or samples.md) in this run folder: "
              "a run without an attack has none.</p>\n",
              P->f);
    }
    sec_end(P);
}

static const char *model_color(const char *label) {
    return !strcmp(label, "clean") ? "#1f77b4" : !strcmp(label, "backdoor") ? "#d62728" : "#2ca02c";
}
static const char *model_title(const char *label) {
    return !strcmp(label, "clean") ? "clean model" : !strcmp(label, "backdoor") ? "backdoored model" : label;
}

// curves.gp over epochs.csv (columns model,epoch,loss,train_acc,test_ca,test_asr,...), gnuplot run on it into
// curves.tmp.svg, renamed to curves.svg once whole. 1 when curves.svg was drawn; else note says why.
static int draw_curves(Page *P, const Csv *c, char *note, size_t note_n) {
    const char *labels[8];
    int nl = 0, has_asr = 0;
    for (int r = 1; r < c->nrow; r++) {
        const char *l = csv_get(c, r, 0);
        int seen = 0;
        for (int i = 0; i < nl; i++) seen |= !strcmp(labels[i], l);
        // labels go into the script: only plain names are used
        if (!seen && nl < 8 && *l && strspn(l, "abcdefghijklmnopqrstuvwxyz_-") == strlen(l)) labels[nl++] = l;
        has_asr |= csv_get(c, r, 5)[0] != 0;
    }
    if (!nl) {
        snprintf(note, note_n, "epochs.csv has no rows to draw.");
        return 0;
    }
    char *gp = NULL;
    size_t gl = 0;
    FILE *f = open_memstream(&gp, &gl);
    if (!f) {
        snprintf(note, note_n, "out of memory.");
        return 0;
    }
    fprintf(f, "# Training curves of this run: drawn by backdoorlab (run/run_report.c) from epochs.csv for\n"
               "# report.html; run `gnuplot curves.gp` here to redraw (it writes curves.tmp.svg).\n"
               "set terminal svg size %d,340 font 'Helvetica,14' noenhanced background '#ffffff'\n"
               "set output 'curves.tmp.svg'\nset datafile separator ','\nset grid\nset key bottom right\n"
               "set xlabel 'epoch'\nset xtics 1\nset multiplot layout 1,%d\n",
            has_asr ? 1200 : 820, has_asr ? 3 : 2);
    static const struct { int col; const char *title, *ylabel; int pct; } panels[] = {
        {3, "training loss", "loss", 0},
        {5, "clean accuracy (CA), test set", "CA (%)", 1},
        {6, "attack success rate (ASR)", "ASR (%)", 1},
    };
    for (int p = 0; p < (has_asr ? 3 : 2); p++) {
        fprintf(f, "set title '%s'\nset ylabel '%s'\n", panels[p].title, panels[p].ylabel);
        fprintf(f, panels[p].pct ? "set yrange [0:100]\n" : "set yrange [0:*]\n");
        fputs("plot ", f);
        for (int i = 0; i < nl; i++)
            fprintf(f, "%s'epochs.csv' every ::1 using 2:(strcol(1) eq '%s' ? $%d%s : NaN) with linespoints "
                       "linewidth 2 pointtype 7 linecolor rgb '%s' title '%s'",
                    i ? ", " : "", labels[i], panels[p].col, panels[p].pct ? "*100" : "", model_color(labels[i]),
                    model_title(labels[i]));
        fputs("\n", f);
    }
    fputs("unset multiplot\n", f);
    fclose(f);
    Status st = plot_script(P->dir, "curves.gp", gp, gl, "curves.svg", note, note_n);
    free(gp);
    if (st) {
        snprintf(note, note_n, "curves.gp could not be written: %s", bl_errmsg());
        return 0;
    }
    if (note[0]) return 0;
    char from[RR_PATH], to[RR_PATH];
    path_in(from, sizeof from, P->dir, "curves.tmp.svg");
    path_in(to, sizeof to, P->dir, "curves.svg");
    if (rename(from, to) != 0) {
        snprintf(note, note_n, "gnuplot wrote no curves.tmp.svg (%s).", strerror(errno));
        return 0;
    }
    return 1;
}

static void section_curves(Page *P) {
    sec_begin(P, "curves", "Training curves",
              "How training went, epoch by epoch, for both models (same seed, same data order; the backdoored "
              "one also saw the poisoned samples). The loss should fall. <em>CA</em> is the share of clean test "
              "samples classified correctly: a good backdoor leaves it almost unchanged. <em>ASR</em> is the "
              "share of triggered test samples (not already of the target class) sent to the attacker's target: "
              "high for the backdoored model, near chance for the clean one.");
    size_t len = 0;
    char *t = read_rel(P, "epochs.csv", &len);
    Csv c;
    if (!t) say_missing(P, "epochs.csv", "the per-epoch figures cannot be shown.");
    else if (csv_load(t, len, &c) || c.nrow < 2) {
        csv_release(&c);
        fputs("<p class=\"missing\">epochs.csv could not be read as CSV with rows.</p>\n", P->f);
    } else {
        char note[512] = "";
        if (draw_curves(P, &c, note, sizeof note)) {
            fputs("<figure>\n", P->f);
            embed_image(P, "curves.svg", "training loss, clean accuracy and attack success rate per epoch", "plot");
            fputs("<figcaption>Loss, CA and ASR on the test set after each epoch (curves.svg, redrawn by "
                  "<code>gnuplot curves.gp</code>).</figcaption>\n</figure>\n",
                  P->f);
        } else {
            fputs("<p class=\"missing\">The figure needs gnuplot (Debian package gnuplot-nox) and was not drawn: ",
                  P->f);
            html_esc(P->f, note);
            fputs(" The numbers are in the table below.</p>\n", P->f);
        }
        fputs("<details><summary>the figures per epoch (epochs.csv)</summary>\n<table class=\"grid\">\n"
              "<tr><th>model</th><th>epoch</th><th>loss</th><th>train accuracy</th><th>test CA</th>"
              "<th>test ASR</th></tr>\n",
              P->f);
        for (int r = 1; r < c.nrow; r++) {
            fputs("<tr>", P->f);
            for (int k = 0; k < 6; k++) { // the timing columns vary between identical runs: left out
                fputs("<td>", P->f);
                html_esc(P->f, csv_get(&c, r, k));
                fputs("</td>", P->f);
            }
            fputs("</tr>\n", P->f);
        }
        fputs("</table>\n</details>\n", P->f);
        csv_release(&c);
    }
    free(t);
    sec_end(P);
}

// The models metrics.json holds: key and heading.
static const struct { const char *key, *title; } g_models[] = {
    {"clean_model", "clean model"}, {"backdoored_model", "backdoored model"}, {"model", "model"}};
#define NMODELS 3

static void section_metrics(Page *P) {
    sec_begin(P, "metrics", "Metrics",
              "The final numbers on the test set. <em>CA</em>: clean accuracy. <em>ASR</em>: attack success rate, "
              "triggered inputs classified as the target (the clean model's ASR is the baseline: how often the "
              "trigger alone, without a backdoor, leads there). <em>RA</em>: robust accuracy, triggered inputs "
              "still classified as their true class. <em>ASR over all</em> also counts inputs already of the "
              "target class. Each value has a Wilson 95% interval: with this many test samples the true rate "
              "lies in that range with 95% confidence, so two runs whose intervals overlap may not differ.");
    if (!P->metrics) {
        say_missing(P, "metrics.json", "the run's numbers are not known (an unfinished or failed run?).");
        sec_end(P);
        return;
    }
    int have[NMODELS], any = 0;
    for (int m = 0; m < NMODELS; m++) any |= have[m] = cJSON_IsObject(json_at(P->metrics, g_models[m].key));
    if (!any) {
        fputs("<p class=\"missing\">metrics.json holds no model's metrics.</p>\n", P->f);
        sec_end(P);
        return;
    }
    static const struct { const char *key, *label; } rows[] = {
        {"ca", "CA (clean accuracy)"}, {"asr", "ASR (attack success rate)"}, {"ra", "RA (robust accuracy)"},
        {"asr_all", "ASR over all triggered inputs"}};
    fputs("<table class=\"grid metrics\">\n<tr><th>metric</th>", P->f);
    for (int m = 0; m < NMODELS; m++)
        if (have[m]) fprintf(P->f, "<th>%s</th>", g_models[m].title);
    fputs("</tr>\n", P->f);
    char path[256];
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        int shown = 0;
        for (int m = 0; m < NMODELS; m++) shown |= have[m] && json_at(P->metrics, g_models[m].key) &&
                                                   cJSON_IsNumber(json_at(json_at(P->metrics, g_models[m].key),
                                                                          rows[r].key));
        if (!shown) continue;
        fprintf(P->f, "<tr><th>%s</th>", rows[r].label);
        for (int m = 0; m < NMODELS; m++) {
            if (!have[m]) continue;
            fputs("<td><strong>", P->f);
            snprintf(path, sizeof path, "%s/%s", g_models[m].key, rows[r].key);
            metric_span(P, path, FMT_PCT);
            fputs("</strong>", P->f);
            snprintf(path, sizeof path, "%s/intervals/%s", g_models[m].key, rows[r].key);
            if (json_at(P->metrics, path)) {
                char p2[300];
                fputs("<br><small>95% interval ", P->f);
                snprintf(p2, sizeof p2, "%s/wilson95/0", path);
                metric_span(P, p2, FMT_PCT);
                fputs(" – ", P->f);
                snprintf(p2, sizeof p2, "%s/wilson95/1", path);
                metric_span(P, p2, FMT_PCT);
                fputs("<br>", P->f);
                snprintf(p2, sizeof p2, "%s/k", path);
                metric_span(P, p2, FMT_INT);
                fputs(" of ", P->f);
                snprintf(p2, sizeof p2, "%s/n", path);
                metric_span(P, p2, FMT_INT);
                fputs("</small>", P->f);
            }
            fputs("</td>", P->f);
        }
        fputs("</tr>\n", P->f);
    }
    fputs("</table>\n", P->f);
    for (int m = 0; m < NMODELS; m++) {
        const cJSON *b = json_at(json_at(P->metrics, g_models[m].key), "below_sanity_floor");
        if (!have[m] || !cJSON_IsTrue(b)) continue;
        fprintf(P->f, "<p class=\"warn\">The %s's CA is below the sanity floor (", g_models[m].title);
        metric_span(P, "sanity_floor_ca", FMT_PCT);
        fputs("): it barely learned, so its other numbers say little.</p>\n", P->f);
    }
    // per class: CA (and ASR) of each model
    const cJSON *pc0 = NULL;
    for (int m = 0; m < NMODELS && !pc0; m++)
        if (have[m]) pc0 = json_at(P->metrics, g_models[m].key);
    int K = cJSON_GetArraySize(json_at(pc0, "per_class"));
    if (K > 0) {
        fputs("<details><summary>per class</summary>\n<table class=\"grid\">\n<tr><th>class</th><th>test samples</th>",
              P->f);
        for (int m = 0; m < NMODELS; m++)
            if (have[m]) fprintf(P->f, "<th>CA, %s</th><th>ASR, %s</th>", g_models[m].title, g_models[m].title);
        fputs("</tr>\n", P->f);
        for (int k = 0; k < K; k++) {
            fprintf(P->f, "<tr><td>%d</td><td>", k);
            for (int m = 0; m < NMODELS; m++)
                if (have[m]) {
                    snprintf(path, sizeof path, "%s/per_class/%d/n", g_models[m].key, k);
                    metric_span(P, path, FMT_INT);
                    break;
                }
            fputs("</td>", P->f);
            for (int m = 0; m < NMODELS; m++) {
                if (!have[m]) continue;
                for (int a = 0; a < 2; a++) {
                    fputs("<td>", P->f);
                    snprintf(path, sizeof path, "%s/per_class/%d/%s", g_models[m].key, k, a ? "asr" : "ca");
                    metric_span(P, path, FMT_PCT);
                    fputs("</td>", P->f);
                }
            }
            fputs("</tr>\n", P->f);
        }
        fputs("</table>\n</details>\n", P->f);
    }
    sec_end(P);
}

// Every number and string of a JSON object as rows "path | value"; numbers tagged when the object is the one in
// metrics.json at mpath (NULL: not from metrics.json). Timings (keys ending in "seconds" or "_per_s") are left
// out: they vary between runs.
static void json_rows(Page *P, const cJSON *o, const char *mpath, const char *shown) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        char key[64], sub[512] = "", subshown[512];
        const char *k = it->string;
        if (!k) { // array element: its position
            int i = 0;
            for (const cJSON *q = o->child; q && q != it; q = q->next) i++;
            snprintf(key, sizeof key, "%d", i);
            k = key;
        }
        size_t kl = strlen(k);
        int timing = (kl >= 7 && !strcmp(k + kl - 7, "seconds")) || (kl >= 6 && !strcmp(k + kl - 6, "_per_s"));
        if (timing || strchr(k, '/')) continue;
        if (mpath) snprintf(sub, sizeof sub, "%s/%s", mpath, k);
        snprintf(subshown, sizeof subshown, "%s%s%s", shown, *shown ? "." : "", k);
        if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            json_rows(P, it, mpath ? sub : NULL, subshown);
            continue;
        }
        fputs("<tr><th>", P->f);
        html_esc(P->f, subshown);
        fputs("</th><td>", P->f);
        if (cJSON_IsNumber(it)) {
            if (mpath) metric_span(P, sub, FMT_NUM);
            else fprintf(P->f, "%.4g", it->valuedouble);
        } else if (cJSON_IsString(it)) html_esc(P->f, it->valuestring);
        else if (cJSON_IsBool(it)) fputs(cJSON_IsTrue(it) ? "true" : "false", P->f);
        else fputs("null", P->f);
        fputs("</td></tr>\n", P->f);
    }
}

static int is_image_name(const char *n) {
    size_t l = strlen(n);
    return l > 4 && (!strcmp(n + l - 4, ".png") || !strcmp(n + l - 4, ".svg")) && !strstr(n, ".tmp.");
}

// X.png drawn by io/plot.c has an SVG twin X.svg (sharper at any zoom): the page shows the twin only.
static int has_svg_twin(const Page *P, const char *rel) {
    size_t l = strlen(rel);
    char twin[RR_PATH];
    if (l < 4 || strcmp(rel + l - 4, ".png") || l >= sizeof twin) return 0;
    memcpy(twin, rel, l - 4);
    memcpy(twin + l - 4, ".svg", 5);
    return file_exists(P->dir, twin);
}

// Every PNG/SVG under rel (and one level of sub-folders, e.g. neural-cleanse/clean/), sorted by name.
static int embed_folder_images(Page *P, const char *rel, int depth) {
    char p[RR_PATH];
    path_in(p, sizeof p, P->dir, rel);
    struct dirent **ents = NULL;
    int n = scandir(p, &ents, NULL, alphasort), shown = 0;
    for (int pass = 0; pass < 2; pass++) // this folder's images first, then its sub-folders'
        for (int i = 0; i < n; i++) {
            const char *nm = ents[i]->d_name;
            if (nm[0] == '.') continue;
            char sub[RR_PATH];
            snprintf(sub, sizeof sub, "%s/%s", rel, nm);
            if (pass == 0 && is_image_name(nm) && file_exists(P->dir, sub) && !has_svg_twin(P, sub)) {
                fputs("<figure>\n", P->f);
                shown += embed_image(P, sub, sub, "plot");
                fputs("<figcaption><code>", P->f);
                html_esc(P->f, sub);
                fputs("</code></figcaption>\n</figure>\n", P->f);
            } else if (pass == 1 && depth > 0 && !is_image_name(nm)) {
                struct stat sb;
                char full[RR_PATH];
                path_in(full, sizeof full, P->dir, sub);
                if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) shown += embed_folder_images(P, sub, depth - 1);
            }
        }
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    return shown;
}

// What each kind of defence does, for a student.
static const char *level_explain(DefenseLevel l) {
    switch (l) {
    case DEF_SAMPLES: return "It looks at the training set and flags samples it thinks are poisoned.";
    case DEF_MODEL: return "It inspects the model itself and says whether (and for which label) it holds a backdoor.";
    case DEF_INPUTS: return "It screens inputs at test time and flags those that look triggered.";
    case DEF_MITIGATION: return "It repairs the model; CA and ASR after the repair say what it cost and what it removed.";
    default: return "An external program deciding for itself what to judge.";
    }
}

static void section_defenses(Page *P) {
    sec_begin(P, "defenses", "Defences",
              "Each defence that ran on this run, with its numbers and plots. A defence sees only what a real "
              "defender would: the models and a small clean split, never which samples were poisoned; "
              "the evaluator then scores it against the ground truth. <em>AUROC</em> 0.5 is guessing, 1 is "
              "perfect; <em>TPR at FRR x</em>: the share of triggered (or poisoned) items caught when a share x "
              "of clean ones is wrongly flagged. The clean model is run through each defence as a control.");
    char p[RR_PATH];
    path_in(p, sizeof p, P->dir, "defense");
    struct dirent **ents = NULL;
    int n = scandir(p, &ents, NULL, alphasort), shown = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        char rel[512], full[RR_PATH];
        snprintf(rel, sizeof rel, "defense/%s", nm);
        path_in(full, sizeof full, P->dir, rel);
        struct stat sb;
        if (nm[0] == '.' || stat(full, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        shown++;
        fputs("<h3>", P->f);
        html_esc(P->f, nm);
        fputs("</h3>\n", P->f);
        snprintf(rel, sizeof rel, "defense/%s/summary.json", nm);
        path_in(full, sizeof full, P->dir, rel);
        cJSON *sum = json_read_file(full);
        const DefenseOps *ops = defense_find(sum && jstr(sum, "defense") ? jstr(sum, "defense") : nm);
        if (ops) {
            fputs("<p>", P->f);
            html_esc(P->f, ops->summary);
            fputs(". ", P->f);
            fputs(level_explain(ops->level), P->f);
            fputs("</p>\n", P->f);
        }
        char mpath[300];
        snprintf(mpath, sizeof mpath, "defenses/%s", nm);
        const cJSON *inm = strchr(nm, '/') ? NULL : json_at(P->metrics, mpath);
        if (!sum && !inm) say_missing(P, rel, "this defence's numbers cannot be shown.");
        else {
            fputs("<details><summary>every number in its summary.json</summary>\n<table class=\"kv\">\n", P->f);
            json_rows(P, cJSON_IsObject(inm) ? inm : sum, cJSON_IsObject(inm) ? mpath : NULL, "");
            fputs("</table>\n</details>\n", P->f);
        }
        cJSON_Delete(sum);
        snprintf(rel, sizeof rel, "defense/%s", nm);
        if (!embed_folder_images(P, rel, 1))
            fputs("<p>This defence drew no plots (or gnuplot was missing when it ran).</p>\n", P->f);
    }
    for (int i = 0; i < n; i++) free(ents[i]);
    free(ents);
    if (!shown)
        fputs("<p>No defence has run on this run yet. Add one with <code>backdoorlab detect --defense strip --run "
              "DIR</code> (this page is then rewritten), or with a <code>[defense.NAME]</code> section in the "
              "config.</p>\n",
              P->f);
    sec_end(P);
}

// One model file: its identity hash (against the manifest's), signature, and provenance text.
static void model_card(Page *P, const char *file, const char *manifest_key) {
    if (!file_exists(P->dir, file)) return;
    char full[RR_PATH];
    path_in(full, sizeof full, P->dir, file);
    fputs("<h3>", P->f);
    html_esc(P->f, file);
    fputs("</h3>\n", P->f);
    BdmModel m;
    if (bdm_read(full, &m)) {
        fputs("<p class=\"warn\">Refused when read: ", P->f);
        html_esc(P->f, bl_errmsg());
        fputs("</p>\n", P->f);
        return;
    }
    const char *want = jstr(P->manifest, manifest_key);
    fputs("<table class=\"kv\">\n<tr><th>content SHA-256 (identity)</th><td><code>", P->f);
    html_esc(P->f, m.sha256_hex);
    fputs("</code>", P->f);
    if (want)
        fputs(!strcmp(want, m.sha256_hex) ? " <span class=\"ok\">= manifest.json</span>"
                                          : " <span class=\"warn\">differs from manifest.json: the file was "
                                            "replaced after the run</span>",
              P->f);
    fputs("</td></tr>\n<tr><th>signature</th><td>", P->f);
    if (m.flags & BDM_FLAG_SIGNED) {
        fputs("<span class=\"ok\">signed</span> (Ed25519, valid for the key in the file), signer fingerprint "
              "<code>",
              P->f);
        html_esc(P->f, m.signer_fingerprint);
        fputs("</code></td></tr>\n", P->f);
    } else
        fputs("unsigned (<code>backdoorlab sign --model M --key KEY.secret</code> signs it)</td></tr>\n", P->f);
    fprintf(P->f, "<tr><th>network</th><td><code>");
    html_esc(P->f, m.desc);
    fputs("</code></td></tr>\n</table>\n<details><summary>provenance recorded in the file</summary>\n<pre>", P->f);
    for (const char *s = m.provenance; *s;) { // long lines (a text model's vocabulary) cut
        size_t n = strcspn(s, "\n");
        html_esc_n(P->f, s, n < 160 ? n : 160);
        if (n > 160) fprintf(P->f, " … (%zu more characters)", n - 160);
        fputc('\n', P->f);
        s += n + (s[n] != 0);
    }
    fputs("</pre>\n</details>\n", P->f);
    bdm_free(&m);
}

// A number of supply-chain/summary.json (the enclosing table names the file), tagged with its path there.
static void sc_num(Page *P, const cJSON *sc, const char *path, HtmlFmt fmt) {
    const cJSON *v = json_at(sc, path);
    html_num(P->f, path, cJSON_IsNumber(v) ? v->valuedouble : NAN, fmt);
}

// The supply-chain scenario (run/supply_chain.h) if it ran on this run: what happened to each tampered file, how
// the runtime monitor did on the swapped model and on the genuine one, then the story (narrative.md) without its
// timing line (the page must not change between identical runs).
static void supply_chain_part(Page *P) {
    fputs("<h3>Supply-chain scenario</h3>\n<p>This run also played the supply-chain scenario (folder "
          "<code>supply-chain/</code>): the publisher signed the clean model and put it on a hub, an attacker "
          "swapped or edited it, a careful consumer checked the signature, a careless one deployed the swap behind "
          "a runtime monitor.</p>\n",
          P->f);
    char full[RR_PATH];
    path_in(full, sizeof full, P->dir, "supply-chain/summary.json");
    cJSON *sc = json_read_file(full);
    if (!sc) say_missing(P, "supply-chain/summary.json", "the scenario's outcome cannot be shown.");
    else {
        const cJSON *arts = cJSON_GetObjectItemCaseSensitive(sc, "artifacts"), *a;
        fputs("<h4>The tampered files</h4>\n<table class=\"kv\">\n<tr><th>file on the hub</th><th>what the attacker "
              "did</th><th>loaded with the publisher's key</th><th>loaded without a key</th></tr>\n",
              P->f);
        int na = 0;
        cJSON_ArrayForEach(a, arts) {
            const cJSON *ref = cJSON_GetObjectItemCaseSensitive(a, "refused_with_trusted_key"),
                        *loads = cJSON_GetObjectItemCaseSensitive(a, "loads_without_key");
            fputs("<tr><td><code>", P->f);
            html_esc(P->f, jstr(a, "file"));
            fputs("</code></td><td>", P->f);
            html_esc(P->f, jstr(a, "tamper"));
            fputs("</td><td>", P->f);
            fputs(cJSON_IsTrue(ref) ? "<span class=\"ok\">refused</span>: "
                  : cJSON_IsFalse(ref) ? "<span class=\"warn\">ACCEPTED: signing is broken</span>" : "unknown",
                  P->f);
            if (cJSON_IsTrue(ref)) html_esc(P->f, jstr(a, "trusted_error"));
            fputs("</td><td>", P->f);
            fputs(cJSON_IsTrue(loads) ? "<span class=\"warn\">loads</span> (nothing checks who made it)"
                  : cJSON_IsFalse(loads) ? "<span class=\"ok\">refused</span> (its hash does not match)" : "unknown",
                  P->f);
            fputs("</td></tr>\n", P->f);
            na++;
        }
        if (!na) fputs("<tr><td colspan=\"4\">summary.json lists no tampered file.</td></tr>\n", P->f);
        fputs("</table>\n", P->f);
        static const struct { const char *key, *label; } rows[] = {
            {"detection_rate", "triggered inputs flagged by the monitor"},
            {"false_alarm_rate", "clean inputs flagged (false alarms)"},
            {"asr", "triggered inputs sent to the target class (ASR)"},
            {"asr_unflagged", "triggered inputs that fooled the model and passed the monitor"},
            {"clean_accuracy", "clean inputs classified correctly"}};
        static const char *const models[] = {"monitor_deployed", "monitor_control"};
        fputs("<h4>The runtime monitor</h4>\n<table class=\"grid metrics\" data-file=\"supply-chain/summary.json\">\n"
              "<tr><th>on the stream of test inputs</th>",
              P->f);
        int have[2];
        for (int m = 0; m < 2; m++)
            if ((have[m] = cJSON_IsObject(json_at(sc, models[m]))))
                fputs(m ? "<th>genuine model (control)</th>" : "<th>swapped model, deployed</th>", P->f);
        fputs("</tr>\n", P->f);
        char path[160];
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            fprintf(P->f, "<tr><th>%s</th>", rows[r].label);
            for (int m = 0; m < 2; m++) {
                if (!have[m]) continue;
                fputs("<td><strong>", P->f);
                snprintf(path, sizeof path, "%s/%s/value", models[m], rows[r].key);
                sc_num(P, sc, path, FMT_PCT);
                fputs("</strong><br><small>95% interval ", P->f);
                snprintf(path, sizeof path, "%s/%s/lo", models[m], rows[r].key);
                sc_num(P, sc, path, FMT_PCT);
                fputs(" – ", P->f);
                snprintf(path, sizeof path, "%s/%s/hi", models[m], rows[r].key);
                sc_num(P, sc, path, FMT_PCT);
                fputs("<br>", P->f);
                snprintf(path, sizeof path, "%s/%s/k", models[m], rows[r].key);
                sc_num(P, sc, path, FMT_INT);
                fputs(" of ", P->f);
                snprintf(path, sizeof path, "%s/%s/n", models[m], rows[r].key);
                sc_num(P, sc, path, FMT_INT);
                fputs("</small></td>", P->f);
            }
            fputs("</tr>\n", P->f);
        }
        fputs("</table>\n<p data-file=\"supply-chain/summary.json\">The monitor's threshold was fitted on ", P->f);
        sc_num(P, sc, "monitor/calibration_images", FMT_INT);
        fputs(" clean images of the defender's split, for a false-rejection target of ", P->f);
        sc_num(P, sc, "monitor/frr_target", FMT_PCT);
        fputs(" (monitor: ", P->f);
        html_esc(P->f, jstr(json_at(sc, "monitor"), "defense"));
        fputs(").</p>\n<details><summary>every value in supply-chain/summary.json (timings left out)</summary>\n"
              "<table class=\"kv\">\n",
              P->f);
        json_rows(P, sc, NULL, "");
        fputs("</table>\n</details>\n", P->f);
        cJSON_Delete(sc);
    }
    char *nar = read_rel(P, "supply-chain/narrative.md", NULL);
    if (!nar) say_missing(P, "supply-chain/narrative.md", "the story of the scenario cannot be shown.");
    else {
        // the "- Throughput:" line holds every timing of the story: left out
        for (char *t = strstr(nar, "\n- Throughput:"); t; t = strstr(t, "\n- Throughput:")) {
            char *e = strchr(t + 1, '\n');
            memmove(t, e ? e : t + strlen(t), strlen(e ? e : t + strlen(t)) + 1);
        }
        fputs("<details open><summary>what happened, step by step (supply-chain/narrative.md; timings left "
              "out)</summary>\n",
              P->f);
        html_markdown(P->f, nar, 4);
        fputs("</details>\n", P->f);
        free(nar);
    }
}

static void section_provenance(Page *P) {
    sec_begin(P, "provenance", "Provenance and signatures",
              "Where each model came from. A model file carries its <em>provenance</em> (the config, dataset and "
              "poison hashes, the seed, the code revision) inside the part its SHA-256 covers, so it cannot be "
              "changed without changing the model's identity. A <em>signed</em> model also carries an Ed25519 "
              "signature: with the publisher's public key, anyone can check that nobody swapped or altered it "
              "(<code>backdoorlab verify</code>).");
    static const struct { const char *file, *key; } files[] = {
        {"model-clean.bdm", "model_clean_sha256"}, {"model-backdoor.bdm", "model_backdoor_sha256"},
        {"model.bdm", "model_sha256"}};
    int any = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        any |= file_exists(P->dir, files[i].file);
        model_card(P, files[i].file, files[i].key);
    }
    if (!any) say_missing(P, "model-clean.bdm / model-backdoor.bdm", "no model file to describe.");
    if (file_exists(P->dir, "supply-chain/summary.json") || file_exists(P->dir, "supply-chain/narrative.md"))
        supply_chain_part(P);
    sec_end(P);
}

static void section_files(Page *P) {
    sec_begin(P, "files", "Files",
              "The files this page was made from, all in the run folder. <code>DONE</code> is written last: a "
              "folder without it is an unfinished run. This page can be rebuilt from them at any time.");
    static const char *const expected[] = {"config.resolved.ini", "manifest.json", "metrics.json", "epochs.csv",
                                           "poison.csv"};
    fputs("<ul>\n", P->f);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        int ok = file_exists(P->dir, expected[i]);
        if (!ok && strcmp(expected[i], "poison.csv")) note_missing(P, expected[i]);
        fprintf(P->f, "<li><code>%s</code>: %s</li>\n", expected[i],
                ok ? "present" : !strcmp(expected[i], "poison.csv") ? "absent (no attack)" : "<strong>missing</strong>");
    }
    fputs("</ul>\n", P->f);
    if (P->missing[0]) {
        fputs("<p class=\"missing\">Missing or unreadable: ", P->f);
        html_esc(P->f, P->missing);
        fputs(". The parts of this page that need them say so.</p>\n", P->f);
    } else
        fputs("<p>Every file the page needs was found.</p>\n", P->f);
    sec_end(P);
}

Status run_report_write(const char *run_dir) {
    Page P = {.dir = run_dir};
    char *html = NULL, path[RR_PATH];
    size_t len = 0;
    if (!(P.f = open_memstream(&html, &len))) return bl_fail(BL_ERR_RUN, "%s/report.html: out of memory", run_dir);
    path_in(path, sizeof path, run_dir, "metrics.json");
    P.metrics = json_read_file(path);
    path_in(path, sizeof path, run_dir, "manifest.json");
    P.manifest = json_read_file(path);
    const char *name = jstr(P.manifest, "experiment");
    char title[300], heading[300];
    snprintf(title, sizeof title, "backdoorlab run: %s", name ? name : "report");
    snprintf(heading, sizeof heading, "backdoorlab run: %s", name ? name : "(no manifest.json)");
    html_page_begin(P.f, title, heading);
    fputs("<p>One page for one run: what was trained, on what, how well the backdoor worked, what the "
          "defences saw, and where the models came from. Made by <code>backdoorlab</code> from the files in "
          "the run folder; nothing here is loaded from the network.</p>\n"
          "<nav><a href=\"#setup\">Setup</a> · <a href=\"#data\">Data</a> · <a href=\"#curves\">Training "
          "curves</a> · <a href=\"#metrics\">Metrics</a> · <a href=\"#defenses\">Defences</a> · <a "
          "href=\"#provenance\">Provenance</a> · <a href=\"#files\">Files</a></nav>\n",
          P.f);
    section_setup(&P);
    section_data(&P);
    section_curves(&P);
    section_metrics(&P);
    section_defenses(&P);
    section_provenance(&P);
    section_files(&P);
    html_page_end(P.f);
    int bad = ferror(P.f);
    fclose(P.f);
    cJSON_Delete(P.metrics);
    cJSON_Delete(P.manifest);
    Status st;
    path_in(path, sizeof path, run_dir, "report.html");
    if (bad || !html) st = bl_fail(BL_ERR_RUN, "%s: out of memory building the page", path);
    else st = write_file_atomic(path, html, len);
    free(html);
    return st;
}
