// cmd_monitor.c: `backdoorlab monitor --model M --defense strip|confidence --calibrate CLEAN [--input X]`:
// screen a deployed model's inputs with an input-level defence and write one JSON line per input on stdout
// (index, label, score, verdict, latency_ms; malformed inputs get an "error" field and the stream goes on).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/idx.h"
#include "data/text/corpus.h"
#include "defense/monitor.h"
#include "nn/checkpoint.h"
#include "run/experiment.h"

static void monitor_usage(void) {
    printf("usage: backdoorlab monitor --model M --defense strip|strip-text|confidence --calibrate CLEAN\n"
           "                           [--input FILE|DIR|-] [--frr F] [--classes K] [--seed S] [--set key=value]\n"
           "                           [--trusted-key KEY.pub]\n\n"
           "Screens inputs to a deployed model and writes one JSON line per input on stdout:\n"
           "  {\"index\":..,\"label\":..,\"score\":..,\"verdict\":\"clean\"|\"suspicious\",\"latency_ms\":..}\n"
           "Malformed inputs (a short final record, an unreadable PNG) give a line with an \"error\" field and\n"
           "screening continues. A summary (inputs, flagged, errors, inputs/s) goes to stderr.\n\n"
           "  --calibrate CLEAN  an IDX images file of clean images, or a run folder (results/<exp>) whose\n"
           "                     defender split is used; the threshold is fitted on it (STRIP also overlays it)\n"
           "  --input X          an IDX images file, a folder of PNG files, or - for stdin: raw uint8 images of\n"
           "                     the model's input shape (C,H,W planar) back to back (default -); for a text\n"
           "                     model (--calibrate a messages run): a text file of one message per line, or\n"
           "                     a TSV `label<TAB>text` (the label is ignored); use --defense strip-text|confidence\n"
           "  --frr F            false-rejection target: 0.005, 0.01 (default), 0.02 or 0.03\n"
           "  --classes K        the model's number of classes (default: the run's, or 10 for an IDX file)\n"
           "  --seed S           seed for the defence's streams (default: the run's, or 1)\n"
           "  --set key=value    a parameter of the defence (repeatable), e.g. --set n=20 for a faster STRIP\n"
           "  --trusted-key K    refuse the model unless it is signed by K (KEY.pub)\n");
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

// Read an IDX images file into a Dataset (labels zero).
static Status load_idx(const char *path, int num_classes, Dataset *d) {
    uint8_t *pix = NULL;
    int n = 0, c = 0, h = 0, w = 0;
    Status st = idx_read_images(path, &pix, &n, &c, &h, &w);
    if (!st) st = ds_alloc(d, n, c, h, w, num_classes);
    if (!st) memcpy(d->images, pix, (size_t)n * c * h * w);
    bl_free(pix);
    return st;
}

// Messages to screen, one per line of a text file: the text after the line's first TAB when it has one (a
// `label<TAB>text` TSV: the label is ignored), else the whole line; empty lines are skipped. Words are interned
// into lex (the calibration run's), so the model reads them through its vocabulary like any message.
static Status load_messages(const char *path, DsLexicon *lex, int max_tokens, int num_classes, Dataset *d) {
    char *buf = NULL;
    size_t len = 0;
    Status st = text_read_file(path, (size_t)1 << 30, &buf, &len);
    if (st) return st;
    TextCorpus c = {0};
    int line = 0;
    for (size_t i = 0; !st && i < len;) {
        size_t e = i;
        while (e < len && buf[e] != '\n') e++;
        line++;
        size_t a = i, b = e > i && buf[e - 1] == '\r' ? e - 1 : e;
        for (size_t j = a; j < b; j++)
            if (buf[j] == '\t') {
                a = j + 1;
                break;
            }
        if (b > a) st = corpus_add(&c, buf + a, b - a, 0, line - 1, lex);
        if (st) st = bl_fail_ctx(st, "%s:%d", path, line);
        i = e + 1;
    }
    free(buf);
    if (!st && c.n == 0) st = bl_fail(BL_ERR_DATA, "%s: no message to screen (every line is empty)", path);
    if (!st) {
        memset(d, 0, sizeof *d);
        d->kind = DS_TOKENS, d->n = c.n, d->c = max_tokens, d->h = d->w = 1, d->num_classes = num_classes;
        d->lexicon = lex;
        d->tokens = bl_alloc((size_t)(c.off[c.n] + 1) * sizeof(int32_t));
        d->tok_offset = bl_alloc((size_t)(c.n + 1) * sizeof(long));
        d->labels = bl_alloc((size_t)c.n);
        d->orig_index = bl_alloc((size_t)c.n * sizeof(int));
        if (!d->tokens || !d->tok_offset || !d->labels || !d->orig_index) {
            ds_free(d);
            st = bl_fail(BL_ERR_RUN, "out of memory");
        } else {
            memcpy(d->tokens, c.tok.ids, (size_t)c.off[c.n] * sizeof(int32_t));
            memcpy(d->tok_offset, c.off, (size_t)(c.n + 1) * sizeof(long));
            memcpy(d->orig_index, c.orig, (size_t)c.n * sizeof(int));
        }
    }
    corpus_free(&c);
    return st;
}

int cmd_monitor(int argc, char **argv) {
    const char *model = NULL, *defense = NULL, *calib = NULL, *input = "-", *key = NULL, *settings[33];
    int nset = 0;
    double frr = 0.01;
    long classes = 0;
    unsigned long long seed = 0;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            monitor_usage();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "backdoorlab monitor: unknown option or missing value: %s (see --help)\n", a);
            return BL_ERR_USAGE;
        }
        i++;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--defense")) defense = v;
        else if (!strcmp(a, "--calibrate")) calib = v;
        else if (!strcmp(a, "--input")) input = v;
        else if (!strcmp(a, "--trusted-key")) key = v;
        else if (!strcmp(a, "--set")) {
            if (nset == 32) return cli_report(bl_fail(BL_ERR_USAGE, "monitor: more than 32 --set options"));
            settings[nset++] = v;
        }
        else if (!strcmp(a, "--frr")) {
            frr = strtod(v, &end);
            if (*end || end == v) return cli_report(bl_fail(BL_ERR_USAGE, "monitor: --frr needs a number, got '%s'", v));
        } else if (!strcmp(a, "--classes")) {
            classes = strtol(v, &end, 10);
            if (*end || classes < 2 || classes > 256)
                return cli_report(bl_fail(BL_ERR_USAGE, "monitor: --classes needs an integer in [2, 256], got '%s'", v));
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, &end, 10), have_seed = 1;
            if (*end || end == v) return cli_report(bl_fail(BL_ERR_USAGE, "monitor: --seed needs an integer, got '%s'", v));
        } else {
            fprintf(stderr, "backdoorlab monitor: unknown option %s (see --help)\n", a);
            return BL_ERR_USAGE;
        }
    }
    settings[nset] = NULL;
    if (!model || !defense || !calib) {
        fprintf(stderr, "backdoorlab monitor: --model, --defense and --calibrate are required (see --help)\n");
        return BL_ERR_USAGE;
    }
    LoadedRun *run = NULL;
    Dataset own_clean = {0}, inputs = {0};
    const Dataset *clean = NULL;
    Model m = {0};
    int have_model = 0;
    Status st = BL_OK;
    if (is_dir(calib)) {
        if (!(run = calloc(1, sizeof *run))) return cli_report(bl_fail(BL_ERR_RUN, "monitor: out of memory"));
        if ((st = experiment_load_run(calib, 0, NULL, run))) goto done;
        clean = &run->defender;
        if (!classes) classes = run->data.train.num_classes;
        if (!have_seed) seed = run->cfg.experiment.seed;
    } else {
        if ((st = load_idx(calib, 10, &own_clean))) goto done;
        clean = &own_clean;
    }
    if (!classes) classes = 10;
    if (!have_seed) seed = 1;
    Shape shape = {.c = clean->c, .h = clean->h, .w = clean->w};
    if ((st = model_load_trusted(model, key, shape, (int)classes, 256, NULL, &m, NULL))) goto done;
    have_model = 1;
    Monitor mon;
    if ((st = monitor_init(&mon, &m, defense, settings, clean, frr, seed))) goto done;
    MonitorStats stats = {0};
    if (!strcmp(input, "-")) st = monitor_screen_raw(&mon, stdin, stdout, &stats);
    else if (is_dir(input)) st = monitor_screen_pngdir(&mon, input, stdout, &stats);
    else if (clean->kind == DS_TOKENS) {
        if (!(st = load_messages(input, run->data.lexicon, clean->c, (int)classes, &inputs)))
            st = monitor_screen_dataset(&mon, &inputs, 0, stdout, &stats);
    } else if (!(st = load_idx(input, (int)classes, &inputs))) st = monitor_screen_dataset(&mon, &inputs, 0, stdout, &stats);
    fflush(stdout);
    fprintf(stderr, "monitor: %s, threshold %.6g at FRR %g: %ld input(s), %ld flagged, %ld error(s), %.1f inputs/s\n",
            defense, mon.threshold, frr, stats.inputs, stats.flagged, stats.errors,
            stats.seconds > 0 ? stats.inputs / stats.seconds : 0.0);
done:
    if (have_model) model_free(&m);
    if (run) {
        experiment_loaded_free(run);
        free(run);
    }
    ds_free(&own_clean);
    ds_free(&inputs);
    return cli_report(st);
}
