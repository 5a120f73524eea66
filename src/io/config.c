// config.c: the experiment config parser (libinih + our own line reader) and the resolved-config writer.
//
// libinih splits lines into sections and key/value pairs; everything else happens here. Our ini_reader
// hands libinih one physical line per call, so the reader's line counter is the true line number when the
// handler runs. The reader also
//   - rejects a line longer than libinih's buffer (libinih's own fgets reader would silently split it),
//   - validates section headers (libinih never reports a section without keys, so [atack] would pass),
//   - joins indented continuation lines of [model] layers itself. Debian's libinih is built with
//     INI_ALLOW_MULTILINE=1 but calls the handler once per continuation line instead of joining, and treats
//     any indented line after any key as a continuation. The reader strips leading whitespace from every line
//     it passes on, so libinih's multi-line mode never triggers and the behaviour does not depend on how the
//     library was built.
#include "io/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/registry.h"
#include "attack/trigger.h"
#include "io/png.h"
#include "io/results.h"

#define CONFIG_FILE_MAX (1 << 20) // a config bigger than 1 MiB is a mistake, not a config

// ---------------------------------------------------------------------------------------------- schema

typedef enum {
    K_EXP_NAME, K_EXP_SEED, K_EXP_THREADS,
    K_DATA_DATASET, K_DATA_PATH, K_DATA_CLEAN_FRACTION, K_DATA_TRAIN_SUBSET, K_DATA_TEST_SUBSET,
    K_DATA_MANIFEST, K_MODEL_LAYERS, K_MODEL_TRUSTED_KEY,
    K_TRAIN_EPOCHS, K_TRAIN_BATCH, K_TRAIN_OPTIMIZER, K_TRAIN_LR, K_TRAIN_MOMENTUM, K_TRAIN_NESTEROV,
    K_TRAIN_WEIGHT_DECAY, K_TRAIN_BETA1, K_TRAIN_BETA2, K_TRAIN_EPS, K_TRAIN_SCHEDULE, K_TRAIN_STEP_SIZE,
    K_TRAIN_GAMMA,
    K_EXP_SEEDS, K_SC_TAMPER, K_SC_MONITOR, K_SC_MONITOR_FRR, K_SC_MONITOR_INPUTS, K_SWEEP_KEY, K_SWEEP_VALUES,
    K_PAPER_REFERENCE, K_PAPER_DIFFERENCES, K_PAPER_QUICK_EPOCHS,
    K_DATA_LABEL_COLUMN, K_DATA_FEATURE_COLUMNS, K_DATA_MISSING_VALUES, K_DATA_CATEGORICAL_COLUMNS,
    K_DATA_TEST_FRACTION, K_DATA_SPLIT_SEED, K_DATA_MAX_TOKENS, K_DATA_SUBJECT,
    K_COUNT
} KeyId;

// Every key outside [attack] and [defense.*], in the order the resolved config prints them. The KeyId is the
// index. [attack] keys come from the attacks' own tables (attack/params.h), [defense.*] keys from the defences'.
static const struct {
    const char *section; // section name without brackets
    const char *name;    // key name
} cfg_keys[K_COUNT] = {
    {"experiment", "name"}, {"experiment", "seed"}, {"experiment", "threads"},
    {"data", "dataset"}, {"data", "path"}, {"data", "defender_clean_fraction"}, {"data", "train_subset"},
    {"data", "test_subset"}, {"data", "dataset_manifest"},
    {"model", "layers"}, {"model", "trusted_key"},
    {"train", "epochs"}, {"train", "batch"}, {"train", "optimizer"}, {"train", "lr"}, {"train", "momentum"},
    {"train", "nesterov"}, {"train", "weight_decay"}, {"train", "beta1"}, {"train", "beta2"}, {"train", "eps"},
    {"train", "schedule"}, {"train", "step_size"}, {"train", "gamma"},
    {"experiment", "seeds"}, {"supply_chain", "tamper"}, {"supply_chain", "monitor"},
    {"supply_chain", "monitor_frr"}, {"supply_chain", "monitor_inputs"}, {"sweep", "key"}, {"sweep", "values"},
    {"paper", "reference"}, {"paper", "differences"}, {"paper", "quick_epochs"},
    {"data", "label_column"}, {"data", "feature_columns"}, {"data", "missing_values"},
    {"data", "categorical_columns"}, {"data", "test_fraction"}, {"data", "split_seed"}, {"data", "max_tokens"},
    {"data", "subject"},
};

static const char *const cfg_sections[] = {"experiment", "data",  "model", "train",
                                           "attack",     "sweep", "paper", "supply_chain"};

// Datasets the data code knows, with their sample kind and, for images, the shape attacks are checked against
// while parsing. `dataset = png:PATH` (images) and `dataset = csv:PATH` (records) are the other choices; their
// shape is known only once they are read (the attack is checked again then). The record sets are read by
// src/data/records/.
static const struct {
    const char *name; // [data] dataset value
    DsKind kind;      // what one sample is
    int side;         // images are side x side pixels (0 = not an image set)
    int channels;     // 1 = gray
    int classes;      // labels are 0..classes-1 (0 = known once read)
} cfg_datasets[] = {
    {"fashion-mnist", DS_IMAGES, 28, 1, 10}, {"mnist10k", DS_IMAGES, 28, 1, 10},
    {"breast-cancer", DS_RECORDS, 0, 0, 0},  {"pima-diabetes", DS_RECORDS, 0, 0, 0},
    {"satellite", DS_RECORDS, 0, 0, 0},      {"shuttle", DS_RECORDS, 0, 0, 0},
    {"letter", DS_RECORDS, 0, 0, 0},         {"spamassassin", DS_TOKENS, 0, 0, 2},
};

static const char *const opt_names[] = {"sgd", "adam"};
static const char *const sched_names[] = {"constant", "step", "cosine"};
static const char *const tamper_names[] = {"swap", "edit", "both"};
static const char *const monitor_names[] = {"strip", "confidence", "strip-text"}; // strip-text: messages

_Static_assert(K_COUNT <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

int config_key_line(const ExperimentConfig *cfg, const char *section, const char *key) {
    if (!strcmp(section, "attack")) {
        int i = attack_key_index(key);
        return i >= 0 && i < CONFIG_MAX_ATTACK_KEYS ? cfg->attack_key_line[i] : 0;
    }
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(cfg_keys[k].section, section) && !strcmp(cfg_keys[k].name, key)) return cfg->key_line[k];
    return 0;
}

DsKind config_data_kind(const ExperimentConfig *cfg) {
    if (!strcmp(cfg->data.dataset, "csv")) return DS_RECORDS;
    if (!strcmp(cfg->data.dataset, "text")) return DS_TOKENS;
    for (size_t j = 0; j < BL_ARRAY_LEN(cfg_datasets); j++)
        if (!strcmp(cfg->data.dataset, cfg_datasets[j].name)) return cfg_datasets[j].kind;
    return DS_IMAGES; // png:PATH
}

const char *config_optimizer_name(OptimizerKind k) {
    return (unsigned)k < BL_ARRAY_LEN(opt_names) ? opt_names[k] : "?";
}
const char *config_schedule_name(ScheduleKind k) {
    return (unsigned)k < BL_ARRAY_LEN(sched_names) ? sched_names[k] : "?";
}

void config_defaults(ExperimentConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->experiment.name, sizeof cfg->experiment.name, "experiment");
    cfg->experiment.seed = 1;
    cfg->experiment.threads = 0;
    snprintf(cfg->data.dataset, sizeof cfg->data.dataset, "fashion-mnist");
    cfg->data.defender_clean_fraction = 0.05;
    cfg->data.test_fraction = 0.2;
    cfg->data.split_seed = 1;
    cfg->data.max_tokens = 400;
    cfg->data.subject = 1;
    snprintf(cfg->model.layers, sizeof cfg->model.layers, "reference-cnn");
    CfgTrain *t = &cfg->train;
    t->epochs = 3;
    t->batch = 64;
    t->optimizer = CFG_OPT_SGD;
    t->lr = 0.01;
    t->momentum = 0.9;
    t->nesterov = 0;
    t->weight_decay = 0.0;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->schedule = CFG_SCHED_CONSTANT;
    t->step_size = 1;
    t->gamma = 0.1;
    attack_spec_defaults(&cfg->attack, "badnets"); // type-dependent defaults are settled in cfg_check
    snprintf(cfg->supply_chain.tamper, sizeof cfg->supply_chain.tamper, "both");
    snprintf(cfg->supply_chain.monitor, sizeof cfg->supply_chain.monitor, "strip");
    cfg->supply_chain.monitor_frr = 0.01;
    cfg->supply_chain.monitor_inputs = 500;
    cfg->paper.quick_epochs = 1;
}

// ---------------------------------------------------------------------------------------------- parse state

typedef struct {
    ExperimentConfig *cfg; // being filled
    const char *file;      // name used in messages
    const char *text;      // the whole config text
    size_t len;            // its length
    size_t pos;            // reader position in text
    int lineno;            // number of the line the reader returned last (1-based)
    int seen[K_COUNT];     // line on which each key was set, 0 = not set
    int atk_seen[CONFIG_MAX_ATTACK_KEYS]; // the same for [attack] keys, by attack_key_index()
    int atk_line;          // line of the first [attack] header (0 = none)
    int in_layers;         // the last meaningful line was [model] layers or its continuation
    int failed;            // an error has been recorded (the first one wins)
    int fail_line;         // its line (0 = none)
} CfgParse;

// The lines keys were set on, between the parse state and the config (config_key_line reads them there).
static void cp_save_lines(const CfgParse *p, ExperimentConfig *c) {
    memcpy(c->key_line, p->seen, sizeof p->seen);
    memcpy(c->attack_key_line, p->atk_seen, sizeof p->atk_seen);
    c->attack_line = p->atk_line;
}

static void cp_load_lines(CfgParse *p, const ExperimentConfig *c) {
    memcpy(p->seen, c->key_line, sizeof p->seen);
    memcpy(p->atk_seen, c->attack_key_line, sizeof p->atk_seen);
    p->atk_line = c->attack_line;
}

// Record the first error as "file:line: [section] key: message" (line 0 and NULL key drop their parts).
__attribute__((format(printf, 5, 6))) static int cp_fail(CfgParse *p, int line, const char *section,
                                                          const char *key, const char *fmt, ...) {
    if (p->failed) return 0;
    char msg[768], where[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int w = line > 0 ? snprintf(where, sizeof where, "%s:%d: ", p->file, line)
                     : snprintf(where, sizeof where, "%s: ", p->file);
    if (key && w >= 0 && (size_t)w < sizeof where)
        snprintf(where + w, sizeof where - (size_t)w, "[%s] %s: ", section, key);
    bl_fail(BL_ERR_USAGE, "%s%s", where, msg);
    p->failed = 1;
    p->fail_line = line;
    return 0;
}

// The value as shown in messages: quoted by the caller, cut to 60 characters.
static const char *shown(const char *v, char buf[80]) {
    size_t n = strlen(v);
    if (n <= 60) return v;
    snprintf(buf, 80, "%.57s...", v);
    return buf;
}

// Error for the key the handler is looking at.
#define KEY_FAIL(p, sec, key, v, expect)                                                                       \
    do {                                                                                                       \
        char sbuf_[80];                                                                                        \
        return cp_fail((p), (p)->lineno, (sec), (key), "expected %s, got '%s'", (expect), shown((v), sbuf_)); \
    } while (0)

static int parse_double(const char *v, double *out) {
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int choice_index(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return -1;
}

// "one of a|b|c" for messages.
static const char *choices_text(const char *const *names, int n, char *buf, size_t cap) {
    size_t w = (size_t)snprintf(buf, cap, "one of ");
    for (int i = 0; i < n && w < cap; i++) w += (size_t)snprintf(buf + w, cap - w, "%s%s", i ? "|" : "", names[i]);
    return buf;
}

static int valid_name(const char *s) {
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

// An unsigned 64-bit decimal in v[0..n).
static int parse_u64(const char *v, size_t n, uint64_t *out) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, v, n);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)buf[i])) return 0;
    errno = 0;
    unsigned long long x = strtoull(buf, NULL, 10);
    if (errno == ERANGE) return 0;
    *out = (uint64_t)x;
    return 1;
}

// "10, 20, 50": distinct non-empty items without spaces inside, at most CONFIG_MAX_SWEEP.
static int parse_list(const char *v, char out[][32], int *n) {
    int count = 0;
    for (const char *s = v;;) {
        while (isspace((unsigned char)*s)) s++;
        const char *e = s;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > s && isspace((unsigned char)t[-1])) t--;
        size_t len = (size_t)(t - s);
        if (count == CONFIG_MAX_SWEEP || len == 0 || len >= 32) return 0;
        for (size_t i = 0; i < len; i++)
            if (isspace((unsigned char)s[i])) return 0;
        memcpy(out[count], s, len);
        out[count][len] = 0;
        for (int i = 0; i < count; i++)
            if (!strcmp(out[i], out[count])) return 0;
        count++;
        if (!*e) break;
        s = e + 1;
    }
    *n = count;
    return 1;
}

// "1, 2, 3": distinct seeds, at most CONFIG_MAX_SEEDS (CONFIG_MAX_SWEEP items fit parse_list's buffer).
static int parse_seeds(const char *v, uint64_t *out, int *n) {
    _Static_assert(CONFIG_MAX_SEEDS <= CONFIG_MAX_SWEEP, "parse_list holds CONFIG_MAX_SWEEP items");
    char item[CONFIG_MAX_SWEEP][32];
    int count;
    if (!parse_list(v, item, &count) || count > CONFIG_MAX_SEEDS) return 0;
    for (int i = 0; i < count; i++) {
        if (!parse_u64(item[i], strlen(item[i]), &out[i])) return 0;
        for (int j = 0; j < i; j++)
            if (out[j] == out[i]) return 0; // "1" and "01"
    }
    *n = count;
    return 1;
}

// ---------------------------------------------------------------------------------------------- handler

// Set one key. Returns 1 on success, 0 (with the error recorded) on failure.
static int cfg_set(CfgParse *p, KeyId k, const char *sec, const char *key, const char *v) {
    ExperimentConfig *c = p->cfg;
    char cbuf[160];
    long l;
    double d;
    int i;
#define CHOICE(names, dst, type)                                                                               \
    do {                                                                                                       \
        i = choice_index(v, names, (int)BL_ARRAY_LEN(names));                                                  \
        if (i < 0) KEY_FAIL(p, sec, key, v, choices_text(names, (int)BL_ARRAY_LEN(names), cbuf, sizeof cbuf)); \
        dst = (type)i;                                                                                         \
    } while (0)
#define INT_IN(lo, hi, dst, expect)                                                                            \
    do {                                                                                                       \
        if (!bl_parse_long(v, &l) || l < (lo) || l > (hi)) KEY_FAIL(p, sec, key, v, expect);                      \
        dst = (int)l;                                                                                          \
    } while (0)
#define DOUBLE_IF(cond, dst, expect)                                                                           \
    do {                                                                                                       \
        if (!parse_double(v, &d) || !(cond)) KEY_FAIL(p, sec, key, v, expect);                                 \
        dst = d;                                                                                               \
    } while (0)
    switch (k) {
    case K_EXP_NAME:
        if (!valid_name(v) || strlen(v) >= sizeof c->experiment.name)
            KEY_FAIL(p, sec, key, v, "a name of 1..127 characters from [A-Za-z0-9._-], not starting with '.'");
        memcpy(c->experiment.name, v, strlen(v) + 1);
        break;
    case K_EXP_SEED:
        if (!parse_u64(v, strlen(v), &c->experiment.seed)) KEY_FAIL(p, sec, key, v, "an unsigned 64-bit integer");
        break;
    case K_EXP_SEEDS:
        if (!parse_seeds(v, c->experiment.seeds, &c->experiment.nseeds))
            KEY_FAIL(p, sec, key, v, "a comma-separated list of 1..16 distinct unsigned 64-bit integers");
        c->experiment.seed = c->experiment.seeds[0];
        break;
    case K_SC_TAMPER:
        i = choice_index(v, tamper_names, (int)BL_ARRAY_LEN(tamper_names));
        if (i < 0) KEY_FAIL(p, sec, key, v, choices_text(tamper_names, (int)BL_ARRAY_LEN(tamper_names), cbuf, sizeof cbuf));
        snprintf(c->supply_chain.tamper, sizeof c->supply_chain.tamper, "%s", tamper_names[i]);
        break;
    case K_SC_MONITOR:
        i = choice_index(v, monitor_names, (int)BL_ARRAY_LEN(monitor_names));
        if (i < 0)
            KEY_FAIL(p, sec, key, v, choices_text(monitor_names, (int)BL_ARRAY_LEN(monitor_names), cbuf, sizeof cbuf));
        snprintf(c->supply_chain.monitor, sizeof c->supply_chain.monitor, "%s", monitor_names[i]);
        break;
    case K_SC_MONITOR_FRR:
        DOUBLE_IF(d == 0.005 || d == 0.01 || d == 0.02 || d == 0.03, c->supply_chain.monitor_frr,
                  "one of the calibrated false-rejection targets 0.005, 0.01, 0.02, 0.03");
        break;
    case K_SC_MONITOR_INPUTS: INT_IN(1, 100000, c->supply_chain.monitor_inputs, "an integer in 1..100000"); break;
    case K_SWEEP_KEY: {
        const char *dot = strchr(v, '.');
        int found = -1;
        if (dot && (size_t)(dot - v) == 6 && !memcmp(v, "attack", 6) && attack_key_index(dot + 1) >= 0) {
            snprintf(c->sweep.section, sizeof c->sweep.section, "attack");
            snprintf(c->sweep.key, sizeof c->sweep.key, "%s", dot + 1);
            break;
        }
        for (int j = 0; dot && j < K_COUNT; j++)
            if (strlen(cfg_keys[j].section) == (size_t)(dot - v) && !memcmp(cfg_keys[j].section, v, (size_t)(dot - v)) &&
                !strcmp(cfg_keys[j].name, dot + 1))
                found = j;
        if (found < 0 || !strcmp(cfg_keys[found].section, "experiment") || !strcmp(cfg_keys[found].section, "sweep") ||
            !strcmp(cfg_keys[found].section, "paper"))
            KEY_FAIL(p, sec, key, v, "SECTION.KEY of a config key outside [experiment], [sweep] and [paper], such as "
                                     "attack.poison_count");
        snprintf(c->sweep.section, sizeof c->sweep.section, "%s", cfg_keys[found].section);
        snprintf(c->sweep.key, sizeof c->sweep.key, "%s", cfg_keys[found].name);
        break;
    }
    case K_SWEEP_VALUES:
        if (!parse_list(v, c->sweep.values, &c->sweep.nvalues))
            KEY_FAIL(p, sec, key, v, "a comma-separated list of 1..16 distinct values of at most 31 characters");
        c->sweep.line = p->lineno;
        break;
    case K_PAPER_REFERENCE:
    case K_PAPER_DIFFERENCES: {
        char *dst = k == K_PAPER_REFERENCE ? c->paper.reference : c->paper.differences;
        if (!*v) KEY_FAIL(p, sec, key, v, "some text");
        snprintf(dst, PAPER_TEXT_MAX, "%s", v);
        break;
    }
    case K_PAPER_QUICK_EPOCHS: INT_IN(1, 1000, c->paper.quick_epochs, "an integer in 1..1000"); break;
    case K_EXP_THREADS:
        INT_IN(1, 4096, c->experiment.threads, "an integer in 1..4096 (omit it to use all cores)");
        break;
    case K_DATA_DATASET: {
        if (!strncmp(v, "png:", 4)) { // the folder travels in data.path
            const char *dir = v + 4;
            if (!*dir || *dir == ';' || *dir == '#' || strlen(dir) >= sizeof c->data.path)
                KEY_FAIL(p, sec, key, v, "png:PATH with a folder path of 1..4095 characters");
            snprintf(c->data.dataset, sizeof c->data.dataset, "png");
            memcpy(c->data.path, dir, strlen(dir) + 1);
            break;
        }
        if (!strncmp(v, "csv:", 4)) { // records from the user's own CSV file(s); the spec travels in data.path
            const char *file = v + 4;
            if (!*file || *file == ';' || *file == '#' || strlen(file) >= sizeof c->data.path)
                KEY_FAIL(p, sec, key, v, "csv:PATH with a file path of 1..4095 characters");
            snprintf(c->data.dataset, sizeof c->data.dataset, "csv");
            memcpy(c->data.path, file, strlen(file) + 1);
            break;
        }
        if (!strncmp(v, "text:", 5)) { // messages from the user's file(s) or class folders; the spec in data.path
            const char *file = v + 5;
            if (!*file || *file == ';' || *file == '#' || strlen(file) >= sizeof c->data.path)
                KEY_FAIL(p, sec, key, v, "text:PATH with a file or folder path of 1..4095 characters");
            snprintf(c->data.dataset, sizeof c->data.dataset, "text");
            memcpy(c->data.path, file, strlen(file) + 1);
            break;
        }
        int found = 0;
        for (size_t j = 0; j < BL_ARRAY_LEN(cfg_datasets); j++) found |= strcmp(v, cfg_datasets[j].name) == 0;
        if (!found) {
            char known[256];
            size_t w = 0;
            known[0] = 0;
            for (size_t j = 0; j < BL_ARRAY_LEN(cfg_datasets) && w < sizeof known; j++)
                w += (size_t)snprintf(known + w, sizeof known - w, "%s%s", j ? ", " : "", cfg_datasets[j].name);
            char sbuf[80];
            return cp_fail(p, p->lineno, sec, key, "unknown dataset '%s'; known datasets: %s, png:PATH (a folder of "
                           "PNGs, see src/data/pngdir.h), csv:PATH (records in a CSV file), text:PATH (labelled messages: a TSV/CSV "
                           "file or class folders of .txt files, see src/data/text/textfile.h)", shown(v, sbuf), known);
        }
        snprintf(c->data.dataset, sizeof c->data.dataset, "%s", v);
        break;
    }
    case K_DATA_PATH:
        // A leading ';' or '#' would read back as a comment from the resolved config.
        if (!*v || *v == ';' || *v == '#' || strlen(v) >= sizeof c->data.path)
            KEY_FAIL(p, sec, key, v, "a folder path of 1..4095 characters, not starting with ';' or '#'");
        memcpy(c->data.path, v, strlen(v) + 1);
        break;
    case K_DATA_MANIFEST:
    case K_MODEL_TRUSTED_KEY: {
        char *dst = k == K_DATA_MANIFEST ? c->data.manifest : c->model.trusted_key;
        if (!*v || *v == ';' || *v == '#' || strlen(v) >= CONFIG_PATH_MAX)
            KEY_FAIL(p, sec, key, v, "a file path of 1..4095 characters, not starting with ';' or '#'");
        memcpy(dst, v, strlen(v) + 1);
        break;
    }
    case K_DATA_LABEL_COLUMN:
        if (!*v || *v == ';' || *v == '#' || strlen(v) >= sizeof c->data.label_column || strchr(v, ','))
            KEY_FAIL(p, sec, key, v, "a column name or 0-based index of 1..63 characters, no comma");
        memcpy(c->data.label_column, v, strlen(v) + 1);
        break;
    case K_DATA_FEATURE_COLUMNS:
    case K_DATA_CATEGORICAL_COLUMNS: {
        char *dst = k == K_DATA_FEATURE_COLUMNS ? c->data.feature_columns : c->data.categorical_columns;
        if (!*v || *v == ';' || *v == '#' || strlen(v) >= 1024)
            KEY_FAIL(p, sec, key, v, "comma-separated column names or indices, 1..1023 characters in all");
        memcpy(dst, v, strlen(v) + 1);
        break;
    }
    case K_DATA_MISSING_VALUES:
        if (*v == ';' || *v == '#' || strlen(v) >= sizeof c->data.missing_values)
            KEY_FAIL(p, sec, key, v, "comma-separated markers (e.g. NA,?,-999), or none; 0..255 characters");
        memcpy(c->data.missing_values, v, strlen(v) + 1);
        c->data.missing_values_set = 1;
        break;
    case K_DATA_TEST_FRACTION:
        DOUBLE_IF(d > 0.0 && d < 1.0, c->data.test_fraction, "a number in (0,1)");
        break;
    case K_DATA_SPLIT_SEED:
        if (!parse_u64(v, strlen(v), &c->data.split_seed)) KEY_FAIL(p, sec, key, v, "an integer >= 0");
        break;
    case K_DATA_MAX_TOKENS: INT_IN(1, 100000, c->data.max_tokens, "an integer in 1..100000"); break;
    case K_DATA_SUBJECT:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) c->data.subject = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) c->data.subject = 0;
        else KEY_FAIL(p, sec, key, v, "1 or 0 (true, false, yes, no)");
        break;
    case K_DATA_CLEAN_FRACTION:
        DOUBLE_IF(d >= 0.0 && d <= 0.5, c->data.defender_clean_fraction, "a number in [0,0.5]");
        break;
    case K_DATA_TRAIN_SUBSET:
        INT_IN(1, 2147483647L, c->data.train_subset, "an integer >= 1 (omit it to use all)");
        break;
    case K_DATA_TEST_SUBSET:
        INT_IN(1, 2147483647L, c->data.test_subset, "an integer >= 1 (omit it to use all)");
        break;
    case K_MODEL_LAYERS:
        // May be empty here when the description starts on the next, indented line.
        if (strlen(v) > CONFIG_LAYERS_MAX || *v == ';' || *v == '#')
            KEY_FAIL(p, sec, key, v, "at most 4096 characters, not starting with ';' or '#'");
        memcpy(c->model.layers, v, strlen(v) + 1);
        break;
    case K_TRAIN_EPOCHS: INT_IN(1, 1000000, c->train.epochs, "an integer in 1..1000000"); break;
    case K_TRAIN_BATCH: INT_IN(1, 4096, c->train.batch, "an integer in 1..4096"); break;
    case K_TRAIN_OPTIMIZER: CHOICE(opt_names, c->train.optimizer, OptimizerKind); break;
    case K_TRAIN_LR: DOUBLE_IF(d > 0.0, c->train.lr, "a number > 0"); break;
    case K_TRAIN_MOMENTUM: DOUBLE_IF(d >= 0.0 && d < 1.0, c->train.momentum, "a number in [0,1)"); break;
    case K_TRAIN_NESTEROV:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")) c->train.nesterov = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) c->train.nesterov = 0;
        else KEY_FAIL(p, sec, key, v, "true, false, yes, no, 1 or 0");
        break;
    case K_TRAIN_WEIGHT_DECAY: DOUBLE_IF(d >= 0.0, c->train.weight_decay, "a number >= 0"); break;
    case K_TRAIN_BETA1: DOUBLE_IF(d >= 0.0 && d < 1.0, c->train.beta1, "a number in [0,1)"); break;
    case K_TRAIN_BETA2: DOUBLE_IF(d >= 0.0 && d < 1.0, c->train.beta2, "a number in [0,1)"); break;
    case K_TRAIN_EPS: DOUBLE_IF(d > 0.0, c->train.eps, "a number > 0"); break;
    case K_TRAIN_SCHEDULE: CHOICE(sched_names, c->train.schedule, ScheduleKind); break;
    case K_TRAIN_STEP_SIZE: INT_IN(1, 1000000, c->train.step_size, "an integer in 1..1000000 (epochs)"); break;
    case K_TRAIN_GAMMA: DOUBLE_IF(d > 0.0 && d <= 1.0, c->train.gamma, "a number in (0,1]"); break;
    case K_COUNT: break;
    }
#undef CHOICE
#undef INT_IN
#undef DOUBLE_IF
    return 1;
}

static int defense_key(CfgParse *p, const char *section, const char *name, const char *value);
static int paper_key(CfgParse *p, const char *name, const char *value);

// One [attack] key. The attacks' tables (attack/params.h) say what it takes; whether it applies to the type is
// checked once the whole section is read (atk_check), since `type` may come after it.
static int atk_set(CfgParse *p, const char *key, const char *v) {
    AttackSpec *a = &p->cfg->attack;
    char sbuf[80], ebuf[300];
    if (!strcmp(key, "type")) {
        if (!attack_find(v))
            return cp_fail(p, p->lineno, "attack", key, "unknown attack '%s'; known attacks: %s", shown(v, sbuf),
                           attack_known_names());
        snprintf(a->type, sizeof a->type, "%s", v);
        return 1;
    }
    // the entry of the type set so far, else the first attack's that takes the key (same type and storage)
    const AttackParam *prm = attack_param_find(attack_find(a->type), key);
    if (!prm) prm = attack_param_any(key);
    if (!prm || !attack_param_set(a, prm, v))
        return cp_fail(p, p->lineno, "attack", key, "expected %s, got '%s'",
                       prm ? attack_param_expect(prm, ebuf, sizeof ebuf) : "a known key", shown(v, sbuf));
    return 1;
}

static int atk_handler(CfgParse *p, const char *name, const char *value) {
    int k = attack_key_index(name);
    if (k < 0 || k >= CONFIG_MAX_ATTACK_KEYS)
        return cp_fail(p, p->lineno, "attack", name, "unknown key; [attack] takes: %s", attack_key_list());
    if (p->atk_seen[k])
        return cp_fail(p, p->lineno, "attack", name, "duplicate key (already set on line %d); keep one",
                       p->atk_seen[k]);
    p->atk_seen[k] = p->lineno;
    p->in_layers = 0;
    return atk_set(p, name, value);
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value) {
    CfgParse *p = user;
    if (p->failed) return 0;
    if (!value) value = "";
    if (!*section)
        return cp_fail(p, p->lineno, NULL, NULL,
                       "key '%s' comes before any section; put it under [experiment], [data], [model], [train] "
                       "or [attack]",
                       name);
    if (!strncmp(section, "defense.", 8)) return defense_key(p, section, name, value);
    if (!strcmp(section, "paper") && strchr(name, '.')) return paper_key(p, name, value);
    if (!strcmp(section, "attack")) return atk_handler(p, name, value);
    int k = -1;
    for (int j = 0; j < K_COUNT; j++)
        if (!strcmp(cfg_keys[j].section, section) && !strcmp(cfg_keys[j].name, name)) k = j;
    if (k < 0) {
        char known[512];
        size_t w = 0;
        known[0] = 0;
        for (int j = 0; j < K_COUNT && w < sizeof known; j++)
            if (!strcmp(cfg_keys[j].section, section))
                w += (size_t)snprintf(known + w, sizeof known - w, "%s%s", w ? ", " : "", cfg_keys[j].name);
        return cp_fail(p, p->lineno, section, name, "unknown key; [%s] takes: %s", section, known);
    }
    if (p->seen[k])
        return cp_fail(p, p->lineno, section, name, "duplicate key (already set on line %d); keep one", p->seen[k]);
    p->seen[k] = p->lineno;
    p->in_layers = k == K_MODEL_LAYERS;
    return cfg_set(p, (KeyId)k, section, name, value);
}

// ---------------------------------------------------------------------------------------------- reader

// A [defense.<name>] header: find or add its entry (a repeated section is merged, like the others).
static int defense_section(CfgParse *p, const char *name, size_t n) {
    ExperimentConfig *c = p->cfg;
    if (n >= sizeof c->defenses[0].name) return cp_fail(p, p->lineno, NULL, NULL, "defence name too long");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
            return cp_fail(p, p->lineno, NULL, NULL, "bad defence name in [defense.%.*s]", (int)BL_MIN(n, 40), name);
    for (int i = 0; i < c->ndefenses; i++)
        if (strlen(c->defenses[i].name) == n && !memcmp(c->defenses[i].name, name, n)) return 1;
    if (c->ndefenses == CONFIG_MAX_DEFENSES)
        return cp_fail(p, p->lineno, NULL, NULL, "more than %d [defense.*] sections", CONFIG_MAX_DEFENSES);
    CfgDefense *d = &c->defenses[c->ndefenses++];
    memset(d, 0, sizeof *d);
    memcpy(d->name, name, n);
    d->line = p->lineno;
    return 1;
}

// A key in a [defense.<name>] section: kept as text with its line for the defence to validate.
static int defense_key(CfgParse *p, const char *section, const char *name, const char *value) {
    ExperimentConfig *c = p->cfg;
    CfgDefense *d = NULL;
    for (int i = 0; i < c->ndefenses; i++)
        if (!strcmp(c->defenses[i].name, section + 8)) d = &c->defenses[i];
    if (!d) return cp_fail(p, p->lineno, section, name, "internal: section not registered");
    for (int i = 0; i < d->nkeys; i++)
        if (!strcmp(d->key[i], name))
            return cp_fail(p, p->lineno, section, name, "duplicate key (already set on line %d); keep one",
                           d->key_line[i]);
    if (d->nkeys == CONFIG_MAX_DEFENSE_KEYS) return cp_fail(p, p->lineno, section, name, "too many keys");
    if (strlen(name) >= sizeof d->key[0] || strlen(value) >= sizeof d->value[0] || !*value)
        return cp_fail(p, p->lineno, section, name, "key or value empty or too long");
    snprintf(d->key[d->nkeys], sizeof d->key[0], "%s", name);
    snprintf(d->value[d->nkeys], sizeof d->value[0], "%s", value);
    d->key_line[d->nkeys++] = p->lineno;
    return 1;
}

// The claim a claim.<id>, source.<id> or note.<id> key belongs to (added on first sight).
static PaperClaim *paper_claim_for(CfgParse *p, const char *id) {
    PaperSpec *ps = &p->cfg->paper;
    for (int i = 0; i < ps->nclaims; i++)
        if (!strcmp(ps->claims[i].id, id)) return &ps->claims[i];
    if (ps->nclaims == PAPER_MAX_CLAIMS) return NULL;
    PaperClaim *c = &ps->claims[ps->nclaims++];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    return c;
}

// claim.<id>, source.<id>, note.<id> in [paper].
static int paper_key(CfgParse *p, const char *name, const char *value) {
    const char *dot = strchr(name, '.'), *id = dot + 1;
    size_t kind = (size_t)(dot - name);
    int is_claim = kind == 5 && !memcmp(name, "claim", 5), is_source = kind == 6 && !memcmp(name, "source", 6),
        is_note = kind == 4 && !memcmp(name, "note", 4);
    if (!is_claim && !is_source && !is_note)
        return cp_fail(p, p->lineno, "paper", name, "unknown key; [paper] takes: reference, differences, "
                                                    "quick_epochs, claim.<id>, source.<id>, note.<id>");
    if (!valid_name(id) || strlen(id) >= sizeof p->cfg->paper.claims[0].id)
        return cp_fail(p, p->lineno, "paper", name, "the id after '.' must be 1..31 characters from [A-Za-z0-9._-]");
    if (!*value) return cp_fail(p, p->lineno, "paper", name, "empty value");
    PaperClaim *c = paper_claim_for(p, id);
    if (!c) return cp_fail(p, p->lineno, "paper", name, "more than %d claims", PAPER_MAX_CLAIMS);
    if (is_claim) {
        if (c->line) return cp_fail(p, p->lineno, "paper", name, "duplicate key (already set on line %d); keep one", c->line);
        char err[300];
        if (!paper_parse_claim(value, c, err, sizeof err)) return cp_fail(p, p->lineno, "paper", name, "%s", err);
        c->line = p->lineno;
    } else {
        char *dst = is_source ? c->source : c->note;
        if (*dst) return cp_fail(p, p->lineno, "paper", name, "duplicate key; keep one");
        snprintf(dst, PAPER_TEXT_MAX, "%s", value);
    }
    return 1;
}

// Append one indented continuation line (already trimmed) to [model] layers.
static int append_layers(CfgParse *p, const char *s, size_t m) {
    // Drop an inline comment (" ;..."), as libinih does for the first line.
    for (size_t j = 1; j < m; j++)
        if (s[j] == ';' && isspace((unsigned char)s[j - 1])) {
            m = j;
            break;
        }
    while (m && isspace((unsigned char)s[m - 1])) m--;
    char *dst = p->cfg->model.layers;
    size_t cur = strlen(dst), sep = cur ? 1 : 0;
    if (cur + sep + m > CONFIG_LAYERS_MAX)
        return cp_fail(p, p->lineno, "model", "layers", "the value grows past %d characters; shorten it",
                       CONFIG_LAYERS_MAX);
    if (sep) dst[cur++] = ' ';
    memcpy(dst + cur, s, m);
    dst[cur + m] = 0;
    return 1;
}

// ini_reader: one physical line per call, trimmed, with continuation lines and section headers handled here.
// Lines handled here are passed to libinih as a bare comment so the line count stays in step.
static char *cfg_reader(char *str, int num, void *stream) {
    CfgParse *p = stream;
    if (p->failed || p->pos >= p->len) return NULL;
    if (num < 8) {
        cp_fail(p, p->lineno + 1, NULL, NULL, "libinih offers a line buffer of only %d bytes", num);
        return NULL;
    }
    const char *line = p->text + p->pos;
    const char *nl = memchr(line, '\n', p->len - p->pos);
    size_t n = nl ? (size_t)(nl - line) : p->len - p->pos;
    p->pos += n + (nl ? 1 : 0);
    p->lineno++;
    if (n && line[n - 1] == '\r') n--;
    if (p->lineno == 1 && n >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) { // UTF-8 byte-order mark
        line += 3;
        n -= 3;
    }
    if (n > (size_t)num - 1) {
        cp_fail(p, p->lineno, NULL, NULL,
                "line is %zu characters long; the INI reader takes at most %d per line (libinih's "
                "INI_MAX_LINE); a long [model] layers value can continue on indented lines",
                n, num - 1);
        return NULL;
    }
    size_t a = 0, b = n;
    while (a < b && isspace((unsigned char)line[a])) a++;
    while (b > a && isspace((unsigned char)line[b - 1])) b--;
    const char *s = line + a;
    size_t m = b - a;
    if (m == 0) { // a blank line ends a multi-line value
        p->in_layers = 0;
        goto comment;
    }
    if (*s == ';' || *s == '#') goto comment;
    if (a > 0 && p->in_layers) {
        if (!append_layers(p, s, m)) return NULL;
        goto comment;
    }
    p->in_layers = 0;
    if (*s == '[') {
        const char *close = memchr(s, ']', m);
        if (!close) {
            cp_fail(p, p->lineno, NULL, NULL, "missing ']' after the section name");
            return NULL;
        }
        const char *rest = close + 1;
        while (rest < s + m && isspace((unsigned char)*rest)) rest++;
        if (rest < s + m && *rest != ';' && *rest != '#') {
            cp_fail(p, p->lineno, NULL, NULL, "unexpected text after the section header");
            return NULL;
        }
        size_t sn = (size_t)(close - s - 1);
        if (sn > 8 && !memcmp(s + 1, "defense.", 8)) {
            if (!defense_section(p, s + 9, sn - 8)) return NULL;
            snprintf(str, (size_t)num, "[defense.%.*s]", (int)(sn - 8), s + 9);
            return str;
        }
        int idx = -1;
        for (size_t j = 0; j < BL_ARRAY_LEN(cfg_sections); j++)
            if (strlen(cfg_sections[j]) == sn && !memcmp(cfg_sections[j], s + 1, sn)) idx = (int)j;
        if (idx < 0) {
            cp_fail(p, p->lineno, NULL, NULL,
                    "unknown section [%.*s]; known sections: [experiment] [data] [model] [train] [attack] [defense.<name>] "
                    "[sweep] [paper] [supply_chain]",
                    (int)BL_MIN(sn, 60), s + 1);
            return NULL;
        }
        if (!strcmp(cfg_sections[idx], "attack") && !p->cfg->attack.enabled) {
            p->cfg->attack.enabled = 1;
            p->atk_line = p->lineno;
        }
        if (!strcmp(cfg_sections[idx], "sweep")) p->cfg->sweep.enabled = 1;
        if (!strcmp(cfg_sections[idx], "paper")) p->cfg->paper.enabled = 1;
        if (!strcmp(cfg_sections[idx], "supply_chain")) p->cfg->supply_chain.enabled = 1;
        snprintf(str, (size_t)num, "[%s]", cfg_sections[idx]);
        return str;
    }
    if (!memchr(s, '=', m) && !memchr(s, ':', m)) {
        char sbuf[80], tmp[64];
        snprintf(tmp, sizeof tmp, "%.*s", (int)BL_MIN(m, sizeof tmp - 1), s);
        cp_fail(p, p->lineno, NULL, NULL, "expected 'key = value', '[section]' or a comment, got '%s'",
                shown(tmp, sbuf));
        return NULL;
    }
    memcpy(str, s, m);
    str[m] = 0;
    return str;
comment:
    str[0] = ';';
    str[1] = 0;
    return str;
}

// ---------------------------------------------------------------------------------------------- load

// The line [attack] `key` was set on (0 = not set).
static int atk_line(const CfgParse *p, const char *key) {
    int k = attack_key_index(key);
    return k >= 0 && k < CONFIG_MAX_ATTACK_KEYS ? p->atk_seen[k] : 0;
}

static int atk_is_set(void *ctx, const char *key) { return atk_line(ctx, key) != 0; }

const char *config_kinds_text(unsigned kinds, char *buf, size_t n) {
    size_t w = 0;
    buf[0] = 0;
    for (int k = DS_IMAGES; k <= DS_TOKENS && w < n; k++)
        if (kinds & DS_KIND_BIT(k)) w += (size_t)snprintf(buf + w, n - w, "%s%s", w ? ", " : "", ds_kind_name((DsKind)k));
    if (!buf[0]) snprintf(buf, n, "none");
    return buf;
}

// A trigger PNG checked against a known image shape while parsing: readable, 8-bit, gray for gray images,
// and no larger than (full: exactly) side x side.
static int atk_check_png(CfgParse *p, const char *path, int side, int channels, int full, const char *dsname) {
    int line = atk_line(p, "trigger_png");
    PngInfo info;
    if (png_probe(path, &info) != BL_OK)
        return cp_fail(p, line, "attack", "trigger_png", "%s", bl_errmsg());
    if (info.depth == 16)
        return cp_fail(p, line, "attack", "trigger_png", "%s has 16-bit samples; triggers are 8-bit: save it as an "
                       "8-bit PNG", path);
    if (info.color && channels == 1)
        return cp_fail(p, line, "attack", "trigger_png", "%s is a colour PNG but %s images are gray; convert it to "
                       "grayscale", path, dsname);
    if (full && (info.w != side || info.h != side))
        return cp_fail(p, line, "attack", "trigger_png", "the blend key %s is %dx%d but %s images are %dx%d; "
                       "backdoorlab does not resample keys: resize it to %dx%d", path, info.w, info.h, dsname, side,
                       side, side, side);
    if (!full && (info.w > side || info.h > side))
        return cp_fail(p, line, "attack", "trigger_png", "the trigger %s is %dx%d, larger than the %dx%d images of %s; "
                       "crop or shrink it", path, info.w, info.h, side, side, dsname);
    return 1;
}

// A patch position checked against a known image side.
static int atk_check_pos(CfgParse *p, const char *key, TriggerPos pos, int x, int y, int th, int tw, int side,
                         const char *dsname) {
    if (pos != POS_XY || (x + tw <= side && y + th <= side)) return 1;
    return cp_fail(p, atk_line(p, key), "attack", key,
                   "a %dx%d patch at column %d, row %d does not fit in the %dx%d images of %s; the largest X is %d and "
                   "the largest Y is %d", tw, th, x, y, side, side, dsname, side - tw, side - th);
}

// [attack] after the whole file is read: the attack supports the dataset's kind, type-dependent defaults, keys
// that do not apply, keys that are needed, and, for datasets whose shape is known here, whether the trigger fits
// and the classes exist.
static int atk_check(CfgParse *p) {
    AttackSpec *a = &p->cfg->attack;
    const AttackOps *ops = attack_find(a->type);
    DsKind kind = config_data_kind(p->cfg);
    if (!(ops->kinds & DS_KIND_BIT(kind))) {
        char kinds[64];
        int line = atk_line(p, "type") ? atk_line(p, "type") : p->atk_line;
        return cp_fail(p, line, "attack", "type", "%s works on %s, but dataset %s holds %s; choose an attack that "
                       "supports %s", a->type, config_kinds_text(ops->kinds, kinds, sizeof kinds), p->cfg->data.dataset,
                       ds_kind_name(kind), ds_kind_name(kind));
    }
    int blended = !strcmp(a->type, "blended");
    attack_params_settle(a, atk_is_set, p);
    if (atk_line(p, "poison_rate") && atk_line(p, "poison_count")) {
        const char *later = atk_line(p, "poison_rate") > atk_line(p, "poison_count") ? "poison_rate" : "poison_count";
        return cp_fail(p, atk_line(p, later), "attack", later,
                       "poison_rate and poison_count are alternatives (a fraction of the base, or a number of "
                       "samples); keep one");
    }
    char why[256];
    for (int k = 0; k < attack_key_count() && k < CONFIG_MAX_ATTACK_KEYS; k++)
        if (p->atk_seen[k] && !attack_key_applies(a, attack_key_name(k), why, sizeof why))
            return cp_fail(p, p->atk_seen[k], "attack", attack_key_name(k), "applies only to %s; remove it", why);
    // A value read before `type` was known is read again with the type's own entry (its range may differ).
    for (int k = 1; k < attack_key_count() && k < CONFIG_MAX_ATTACK_KEYS; k++) {
        const AttackParam *prm = attack_param_find(ops, attack_key_name(k));
        char ebuf[300], sbuf[80], text[ATTACK_VALUE_MAX];
        if (!p->atk_seen[k] || !prm || !attack_param_stored(prm)) continue;
        snprintf(text, sizeof text, "%s", attack_param_str(a, prm->key)); // a copy: the store is rewritten
        if (!attack_param_set(a, prm, text))
            return cp_fail(p, p->atk_seen[k], "attack", prm->key, "expected %s, got '%s'",
                           attack_param_expect(prm, ebuf, sizeof ebuf), shown(text, sbuf));
    }
    if (attack_key_applies(a, "trigger_png", why, sizeof why) && !a->trigger_png[0])
        return cp_fail(p, atk_line(p, blended ? "key" : "trigger"), "attack", blended ? "key" : "trigger",
                       "png needs trigger_png = FILE.png");
    int base_line = atk_line(p, "poison_rate_base");
    if (ops->clean_label && a->poison_base == BASE_NONTARGET)
        return cp_fail(p, base_line, "attack", "poison_rate_base", "%s poisons only target-class images: use target "
                       "(a share of the target class) or all (a share of the whole training set)", a->type);
    if (!ops->clean_label && a->poison_base == BASE_TARGET)
        return cp_fail(p, base_line, "attack", "poison_rate_base", "target applies only to clean-label attacks (sig, "
                       "label-consistent)");
    if (a->label_mode == LABEL_ALL2ALL && a->poison_base != BASE_ALL)
        return cp_fail(p, base_line, "attack", "poison_rate_base", "all2all has no target class: use all");
    for (int i = 0; a->label_mode == LABEL_ALL2ONE && i < a->source_count; i++)
        if (a->source_classes[i] == a->target)
            return cp_fail(p, atk_line(p, "source_classes"), "attack", "source_classes",
                           "class %d is the target; sources are the classes relabelled to the target", a->target);
    // Shape- and class-dependent checks, when the dataset's shape is known before it is read.
    const char *dsname = p->cfg->data.dataset;
    int side = 0, channels = 1, classes = 0;
    for (size_t j = 0; j < BL_ARRAY_LEN(cfg_datasets); j++)
        if (!strcmp(dsname, cfg_datasets[j].name))
            side = cfg_datasets[j].side, channels = cfg_datasets[j].channels, classes = cfg_datasets[j].classes;
    if (!side) return 1;
    if (a->label_mode == LABEL_ALL2ONE && a->target >= classes)
        return cp_fail(p, atk_line(p, "target"), "attack", "target", "%d is outside the labels of %s (0..%d)",
                       a->target, dsname, classes - 1);
    for (int i = 0; i < a->source_count; i++)
        if (a->source_classes[i] >= classes)
            return cp_fail(p, atk_line(p, "source_classes"), "attack", "source_classes",
                           "class %d is outside the labels of %s (0..%d)", a->source_classes[i], dsname, classes - 1);
    if (blended && a->key == KEY_PNG) return atk_check_png(p, a->trigger_png, side, channels, 1, dsname);
    if (!strcmp(a->type, "wanet") && a->k > side)
        return cp_fail(p, atk_line(p, "k"), "attack", "k", "%d is larger than the %dx%d images of %s", a->k, side,
                       side, dsname);
    if (!ops->patch) return 1;
    int th, tw;
    if (!strcmp(a->trigger, "png")) {
        if (!atk_check_png(p, a->trigger_png, side, channels, 0, dsname)) return 0;
        PngInfo info;
        png_probe(a->trigger_png, &info);
        th = info.h, tw = info.w;
    } else {
        if (trigger_patch_size(a, &th, &tw) != BL_OK)
            return cp_fail(p, atk_line(p, "trigger"), "attack", "trigger", "%s", bl_errmsg());
        if (th > side)
            return cp_fail(p, atk_line(p, "trigger_size"), "attack", "trigger_size",
                           "%d does not fit in the %dx%d images of %s", a->trigger_size, side, side, dsname);
    }
    return atk_check_pos(p, "position", a->position, a->pos_x, a->pos_y, th, tw, side, dsname) &&
           atk_check_pos(p, "position_test", a->position_test, a->pos_test_x, a->pos_test_y, th, tw, side, dsname);
}

// Checks that involve more than one key, run once the whole file is read.
static int cfg_check(CfgParse *p) {
    ExperimentConfig *c = p->cfg;
    static const KeyId sgd_only[] = {K_TRAIN_MOMENTUM, K_TRAIN_NESTEROV};
    static const KeyId adam_only[] = {K_TRAIN_BETA1, K_TRAIN_BETA2, K_TRAIN_EPS};
    static const KeyId step_only[] = {K_TRAIN_STEP_SIZE, K_TRAIN_GAMMA};
    for (size_t j = 0; j < BL_ARRAY_LEN(sgd_only); j++)
        if (c->train.optimizer != CFG_OPT_SGD && p->seen[sgd_only[j]])
            return cp_fail(p, p->seen[sgd_only[j]], "train", cfg_keys[sgd_only[j]].name,
                           "applies only to optimizer = sgd (optimizer is %s); remove it",
                           config_optimizer_name(c->train.optimizer));
    for (size_t j = 0; j < BL_ARRAY_LEN(adam_only); j++)
        if (c->train.optimizer != CFG_OPT_ADAM && p->seen[adam_only[j]])
            return cp_fail(p, p->seen[adam_only[j]], "train", cfg_keys[adam_only[j]].name,
                           "applies only to optimizer = adam (optimizer is %s); remove it",
                           config_optimizer_name(c->train.optimizer));
    for (size_t j = 0; j < BL_ARRAY_LEN(step_only); j++)
        if (c->train.schedule != CFG_SCHED_STEP && p->seen[step_only[j]])
            return cp_fail(p, p->seen[step_only[j]], "train", cfg_keys[step_only[j]].name,
                           "applies only to schedule = step (schedule is %s); remove it",
                           config_schedule_name(c->train.schedule));
    if (!c->model.layers[0])
        return cp_fail(p, p->seen[K_MODEL_LAYERS], "model", "layers",
                       "empty; give a network description or a preset name such as reference-cnn");
    if (!strcmp(c->data.dataset, "png") && p->seen[K_DATA_PATH])
        return cp_fail(p, p->seen[K_DATA_PATH], "data", "path",
                       "does not apply to dataset = png:PATH (the folder is part of the dataset value); remove it");
    if ((!strcmp(c->data.dataset, "csv") || !strcmp(c->data.dataset, "text")) && p->seen[K_DATA_PATH])
        return cp_fail(p, p->seen[K_DATA_PATH], "data", "path",
                       "does not apply to dataset = %s:PATH (the file is part of the dataset value); remove it",
                       c->data.dataset);
    static const KeyId csv_only[] = {K_DATA_LABEL_COLUMN, K_DATA_FEATURE_COLUMNS, K_DATA_MISSING_VALUES,
                                     K_DATA_CATEGORICAL_COLUMNS};
    for (size_t j = 0; j < BL_ARRAY_LEN(csv_only); j++)
        if (strcmp(c->data.dataset, "csv") != 0 && p->seen[csv_only[j]])
            return cp_fail(p, p->seen[csv_only[j]], "data", cfg_keys[csv_only[j]].name,
                           "applies only to dataset = csv:PATH (dataset is %s); remove it", c->data.dataset);
    const int is_tokens = config_data_kind(c) == DS_TOKENS;
    const int splits = !strcmp(c->data.dataset, "csv") || is_tokens; // the reader splits one source itself
    static const KeyId split_keys[] = {K_DATA_TEST_FRACTION, K_DATA_SPLIT_SEED};
    for (size_t j = 0; j < BL_ARRAY_LEN(split_keys); j++)
        if (!splits && p->seen[split_keys[j]])
            return cp_fail(p, p->seen[split_keys[j]], "data", cfg_keys[split_keys[j]].name,
                           "applies only to dataset = csv:PATH, text:PATH or spamassassin (dataset is %s); remove it",
                           c->data.dataset);
    if (splits && strcmp(c->data.dataset, "spamassassin") != 0 && strchr(c->data.path, ',') &&
        (p->seen[K_DATA_TEST_FRACTION] || p->seen[K_DATA_SPLIT_SEED]))
        return cp_fail(p, BL_MAX(p->seen[K_DATA_TEST_FRACTION], p->seen[K_DATA_SPLIT_SEED]), "data",
                       p->seen[K_DATA_TEST_FRACTION] > p->seen[K_DATA_SPLIT_SEED] ? "test_fraction" : "split_seed",
                       "does not apply to %s:TRAIN,TEST (the test file is given); remove it", c->data.dataset);
    if (!is_tokens && p->seen[K_DATA_MAX_TOKENS])
        return cp_fail(p, p->seen[K_DATA_MAX_TOKENS], "data", "max_tokens",
                       "applies only to text datasets (spamassassin, text:PATH; dataset is %s); remove it",
                       c->data.dataset);
    if (strcmp(c->data.dataset, "spamassassin") != 0 && p->seen[K_DATA_SUBJECT])
        return cp_fail(p, p->seen[K_DATA_SUBJECT], "data", "subject",
                       "applies only to dataset = spamassassin (e-mails with a Subject line; dataset is %s); remove it",
                       c->data.dataset);
    if (c->attack.enabled && !atk_check(p)) return 0;
    if (p->seen[K_EXP_SEED] && p->seen[K_EXP_SEEDS])
        return cp_fail(p, BL_MAX(p->seen[K_EXP_SEED], p->seen[K_EXP_SEEDS]), "experiment", "seeds",
                       "seed and seeds are alternatives (one run, or one run per seed); keep one");
    if (c->supply_chain.enabled && !c->attack.enabled)
        return cp_fail(p, 0, NULL, NULL, "[supply_chain] needs an [attack] section (the attacker's backdoored model)");
    return 1;
}

// [sweep] and [paper], once the rest is known to be valid: every sweep value must make a valid config, and
// every claim needs its source (and its sweep point, when there is a sweep).
static int cfg_check_multi(CfgParse *p) {
    ExperimentConfig *c = p->cfg;
    CfgSweep *sw = &c->sweep;
    if (sw->enabled && (!p->seen[K_SWEEP_KEY] || !p->seen[K_SWEEP_VALUES]))
        return cp_fail(p, BL_MAX(p->seen[K_SWEEP_KEY], p->seen[K_SWEEP_VALUES]), NULL, NULL,
                       "[sweep] needs both key = SECTION.KEY and values = V1,V2,...");
    if (sw->enabled) {
        ExperimentConfig *tmp = malloc(sizeof *tmp);
        if (!tmp) return cp_fail(p, 0, NULL, NULL, "out of memory");
        int ok = 1;
        for (int i = 0; ok && i < sw->nvalues; i++) {
            memcpy(tmp, c, sizeof *tmp);
            cp_save_lines(p, tmp);
            if (config_set(tmp, sw->section, sw->key, sw->values[i], p->file, sw->line)) { // names file:line
                p->failed = 1;
                p->fail_line = sw->line;
                ok = 0;
            }
        }
        free(tmp);
        if (!ok) return 0;
        // The loaded config is the sweep's first point, so that the resolved config (which prints it) reads back
        // to the same struct and never pairs the swept key with an alternative that the sweep overrides.
        cp_save_lines(p, c);
        if (config_set(c, sw->section, sw->key, sw->values[0], p->file, sw->line)) return p->failed = 1, 0;
        cp_load_lines(p, c);
    }
    PaperSpec *ps = &c->paper;
    if (ps->enabled && !p->seen[K_PAPER_REFERENCE])
        return cp_fail(p, 0, "paper", "reference", "missing: say which paper (authors, year, title, venue)");
    for (int i = 0; i < ps->nclaims; i++) {
        PaperClaim *cl = &ps->claims[i];
        if (!cl->line)
            return cp_fail(p, 0, "paper", cl->id, "source.%s or note.%s without claim.%s", cl->id, cl->id, cl->id);
        if (!cl->source[0])
            return cp_fail(p, cl->line, "paper", cl->id, "claim.%s needs source.%s (table or figure of the paper)",
                           cl->id, cl->id);
        if (cl->at[0] && !sw->enabled)
            return cp_fail(p, cl->line, "paper", cl->id, "'@ %s' needs a [sweep] section", cl->at);
        if (sw->enabled) {
            int found = 0;
            for (int j = 0; j < sw->nvalues; j++) found |= !strcmp(sw->values[j], cl->at);
            if (!found && cl->at[0])
                return cp_fail(p, cl->line, "paper", cl->id, "'@ %s' is not one of the [sweep] values", cl->at);
            if (!found)
                return cp_fail(p, cl->line, "paper", cl->id,
                               "the config has a [sweep]: say which point the claim is about ('METRIC @ VALUE')");
        }
    }
    return 1;
}

// Default experiment name: the basename of the config file without ".ini".
static int cfg_default_name(CfgParse *p, const char *name_for_errors) {
    if (!name_for_errors) return 1; // keep "experiment"
    const char *base = strrchr(name_for_errors, '/');
    base = base ? base + 1 : name_for_errors;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".ini")) n -= 4;
    char name[CONFIG_NAME_MAX];
    if (n < sizeof name) {
        memcpy(name, base, n);
        name[n] = 0;
    }
    if (n >= sizeof name || !valid_name(name))
        return cp_fail(p, 0, "experiment", "name",
                       "the file name '%s' does not make a valid default name (1..127 characters from "
                       "[A-Za-z0-9._-], not starting with '.'); set name explicitly",
                       base);
    memcpy(p->cfg->experiment.name, name, n + 1);
    return 1;
}

static Status cfg_parse_text(const char *text, size_t len, const char *file, const char *name_for_errors,
                             ExperimentConfig *cfg) {
    config_defaults(cfg);
    CfgParse p = {.cfg = cfg, .file = file, .text = text, .len = len};
    int rc = ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
    if (rc == -2) {
        config_defaults(cfg);
        return bl_fail(BL_ERR_RUN, "%s: out of memory while parsing", file);
    }
    if (rc > 0 && (!p.failed || rc < p.fail_line)) {
        p.failed = 0;
        cp_fail(&p, rc, NULL, NULL,
                "syntax error: expected 'key = value', '[section]' or a comment (an inline ' ;' comment cannot "
                "come before the '=')");
    }
    if (!p.failed && !p.seen[K_EXP_NAME]) cfg_default_name(&p, name_for_errors);
    if (!p.failed) cfg_check(&p);
    if (!p.failed) cfg_check_multi(&p);
    if (p.failed) {
        config_defaults(cfg);
        return BL_ERR_USAGE;
    }
    cp_save_lines(&p, cfg);
    return BL_OK;
}

Status config_load_string(const char *text, const char *name_for_errors, ExperimentConfig *cfg) {
    const char *file = name_for_errors ? name_for_errors : "<string>";
    if (!text) {
        config_defaults(cfg);
        return bl_fail(BL_ERR_USAGE, "%s: no config text", file);
    }
    return cfg_parse_text(text, strlen(text), file, name_for_errors, cfg);
}

Status config_load(const char *path, ExperimentConfig *cfg) {
    config_defaults(cfg);
    FILE *f = fopen(path, "rb");
    if (!f)
        return bl_fail(BL_ERR_USAGE, "cannot open config '%s': %s; check the path", path, strerror(errno));
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "out of memory reading config '%s'", path);
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int err = ferror(f);
    fclose(f);
    Status st;
    if (err) {
        st = bl_fail(BL_ERR_USAGE, "cannot read config '%s' (is it a folder?)", path);
    } else if (n > CONFIG_FILE_MAX) {
        st = bl_fail(BL_ERR_USAGE, "%s: larger than %d bytes; this is not an experiment config", path, CONFIG_FILE_MAX);
    } else if (memchr(buf, 0, n)) {
        st = bl_fail(BL_ERR_USAGE, "%s: contains a NUL byte; an experiment config is a text file", path);
    } else {
        st = cfg_parse_text(buf, n, path, path, cfg);
    }
    free(buf);
    return st;
}

Status config_set(ExperimentConfig *cfg, const char *section, const char *key, const char *value, const char *file,
                  int line) {
    const char *where = file ? file : "<config>";
    int k = -1, atk = !strcmp(section, "attack") ? attack_key_index(key) : -1;
    for (int j = 0; j < K_COUNT; j++)
        if (!strcmp(cfg_keys[j].section, section) && !strcmp(cfg_keys[j].name, key)) k = j;
    if ((k < 0 && (atk < 0 || atk >= CONFIG_MAX_ATTACK_KEYS)) || !strcmp(section, "experiment") ||
        !strcmp(section, "sweep") || !strcmp(section, "paper"))
        return bl_fail(BL_ERR_USAGE, "%s:%d: [%s] %s cannot be set per run", where, line, section, key);
    if (!strcmp(section, "attack") && !cfg->attack.enabled)
        return bl_fail(BL_ERR_USAGE, "%s:%d: [attack] %s: the config has no [attack] section", where, line, key);
    ExperimentConfig *tmp = malloc(sizeof *tmp);
    if (!tmp) return bl_fail(BL_ERR_RUN, "out of memory");
    memcpy(tmp, cfg, sizeof *tmp);
    CfgParse p = {.cfg = tmp, .file = where, .lineno = line > 0 ? line : 1};
    cp_load_lines(&p, cfg);
    int ok;
    if (atk >= 0) { // replaces the file's value, if any
        p.atk_seen[atk] = p.lineno;
        ok = atk_set(&p, key, value) && cfg_check(&p);
    } else {
        p.seen[k] = p.lineno;
        if (k == K_MODEL_LAYERS) tmp->model.layers[0] = 0;
        ok = cfg_set(&p, (KeyId)k, section, key, value) && cfg_check(&p);
    }
    if (ok) {
        cp_save_lines(&p, tmp);
        memcpy(cfg, tmp, sizeof *cfg);
    }
    free(tmp);
    return ok ? BL_OK : BL_ERR_USAGE;
}

void config_single_run(ExperimentConfig *cfg, uint64_t seed) {
    cfg->experiment.seed = seed;
    cfg->experiment.nseeds = 0;
    cfg->key_line[K_EXP_SEEDS] = 0;
    memset(&cfg->sweep, 0, sizeof cfg->sweep);
    memset(&cfg->paper, 0, sizeof cfg->paper);
    cfg->paper.quick_epochs = 1;
}

// ---------------------------------------------------------------------------------------------- resolved

// Fewest significant digits that read back (strtod) to exactly x.
static void fmt_double(char *buf, size_t cap, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static void put_double(FILE *f, const char *key, double x) {
    char b[40];
    fmt_double(b, sizeof b, x);
    fprintf(f, "%s = %s\n", key, b);
}

// [model] layers, wrapped onto indented continuation lines so every line stays well under libinih's limit.
// It splits only at a single space between two non-blank characters, and never before a ';' or '#' (the
// reader would take that line for a comment), so reading it back gives the identical string.
static void put_layers(FILE *f, const char *s) {
    const size_t width = 96;
    size_t n = strlen(s), start = 0;
    fputs("layers = ", f);
    while (n - start > width) {
        size_t cut = 0; // best split point: a space index in (start, start+width], else the first one after
        for (size_t j = start + 1; j + 1 < n; j++) {
            int ok = s[j] == ' ' && !isspace((unsigned char)s[j - 1]) && !isspace((unsigned char)s[j + 1]) &&
                     s[j + 1] != ';' && s[j + 1] != '#';
            if (!ok) continue;
            if (j - start <= width || !cut) cut = j;
            if (j - start > width) break;
        }
        if (!cut) break;
        fprintf(f, "%.*s\n    ", (int)(cut - start), s + start);
        start = cut + 1;
    }
    fprintf(f, "%s\n", s + start);
}

char *config_resolved_string(const ExperimentConfig *cfg) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        bl_fail(BL_ERR_RUN, "out of memory formatting the resolved config");
        return NULL;
    }
    const CfgTrain *t = &cfg->train;
    const AttackSpec *a = &cfg->attack;
    fputs("# Resolved backdoorlab config: every key that applies, defaults filled in.\n", f);
    fprintf(f, "[experiment]\nname = %s\n", cfg->experiment.name);
    if (cfg->experiment.nseeds > 0) {
        fputs("seeds = ", f);
        for (int i = 0; i < cfg->experiment.nseeds; i++)
            fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)cfg->experiment.seeds[i]);
        fputc('\n', f);
    } else {
        fprintf(f, "seed = %llu\n", (unsigned long long)cfg->experiment.seed);
    }
    fprintf(f, "threads = %d\n", cfg->experiment.threads > 0 ? cfg->experiment.threads : bl_max_threads());

    if (!strcmp(cfg->data.dataset, "png") || !strcmp(cfg->data.dataset, "csv") || !strcmp(cfg->data.dataset, "text")) {
        fprintf(f, "\n[data]\ndataset = %s:%s\n", cfg->data.dataset, cfg->data.path);
    } else {
        fprintf(f, "\n[data]\ndataset = %s\n", cfg->data.dataset);
        if (cfg->data.path[0]) fprintf(f, "path = %s\n", cfg->data.path);
    }
    put_double(f, "defender_clean_fraction", cfg->data.defender_clean_fraction);
    if (cfg->data.train_subset > 0) fprintf(f, "train_subset = %d\n", cfg->data.train_subset);
    if (cfg->data.test_subset > 0) fprintf(f, "test_subset = %d\n", cfg->data.test_subset);
    if (cfg->data.manifest[0]) fprintf(f, "dataset_manifest = %s\n", cfg->data.manifest);
    if (!strcmp(cfg->data.dataset, "csv")) {
        if (cfg->data.label_column[0]) fprintf(f, "label_column = %s\n", cfg->data.label_column);
        if (cfg->data.feature_columns[0]) fprintf(f, "feature_columns = %s\n", cfg->data.feature_columns);
        if (cfg->data.missing_values_set) fprintf(f, "missing_values = %s\n", cfg->data.missing_values);
        if (cfg->data.categorical_columns[0])
            fprintf(f, "categorical_columns = %s\n", cfg->data.categorical_columns);
        if (!strchr(cfg->data.path, ',')) {
            put_double(f, "test_fraction", cfg->data.test_fraction);
            fprintf(f, "split_seed = %llu\n", (unsigned long long)cfg->data.split_seed);
        }
    }
    if (config_data_kind(cfg) == DS_TOKENS) {
        fprintf(f, "max_tokens = %d\n", cfg->data.max_tokens);
        if (!strcmp(cfg->data.dataset, "spamassassin")) fprintf(f, "subject = %d\n", cfg->data.subject);
        if (!strcmp(cfg->data.dataset, "spamassassin") || !strchr(cfg->data.path, ',')) {
            put_double(f, "test_fraction", cfg->data.test_fraction);
            fprintf(f, "split_seed = %llu\n", (unsigned long long)cfg->data.split_seed);
        }
    }

    fputs("\n[model]\n", f);
    put_layers(f, cfg->model.layers);
    if (cfg->model.trusted_key[0]) fprintf(f, "trusted_key = %s\n", cfg->model.trusted_key);

    fprintf(f, "\n[train]\nepochs = %d\nbatch = %d\noptimizer = %s\n", t->epochs, t->batch,
            config_optimizer_name(t->optimizer));
    put_double(f, "lr", t->lr);
    if (t->optimizer == CFG_OPT_SGD) {
        put_double(f, "momentum", t->momentum);
        fprintf(f, "nesterov = %s\n", t->nesterov ? "true" : "false");
    }
    put_double(f, "weight_decay", t->weight_decay);
    if (t->optimizer == CFG_OPT_ADAM) {
        put_double(f, "beta1", t->beta1);
        put_double(f, "beta2", t->beta2);
        put_double(f, "eps", t->eps);
    }
    fprintf(f, "schedule = %s\n", config_schedule_name(t->schedule));
    if (t->schedule == CFG_SCHED_STEP) {
        fprintf(f, "step_size = %d\n", t->step_size);
        put_double(f, "gamma", t->gamma);
    }

    if (a->enabled) {
        // type, then the keys of its tables that apply, as the attack's tables print them
        const AttackOps *ops = attack_find(a->type);
        char value[ATTACK_PATH_MAX + 64], why[256];
        fprintf(f, "\n[attack]\ntype = %s\n", a->type);
        for (int i = 0; i < attack_param_count(ops); i++) {
            const AttackParam *prm = attack_param_at(ops, i);
            if (attack_key_applies(a, prm->key, why, sizeof why) && attack_param_format(a, prm, value, sizeof value))
                fprintf(f, "%s = %s\n", prm->key, value);
        }
    }
    const CfgSupplyChain *sc = &cfg->supply_chain;
    if (sc->enabled) {
        fprintf(f, "\n[supply_chain]\ntamper = %s\nmonitor = %s\n", sc->tamper, sc->monitor);
        put_double(f, "monitor_frr", sc->monitor_frr);
        fprintf(f, "monitor_inputs = %d\n", sc->monitor_inputs);
    }
    if (cfg->sweep.enabled) {
        fprintf(f, "\n[sweep]\nkey = %s.%s\nvalues = ", cfg->sweep.section, cfg->sweep.key);
        for (int i = 0; i < cfg->sweep.nvalues; i++) fprintf(f, "%s%s", i ? "," : "", cfg->sweep.values[i]);
        fputc('\n', f);
    }
    const PaperSpec *ps = &cfg->paper;
    if (ps->enabled) {
        fprintf(f, "\n[paper]\nreference = %s\n", ps->reference);
        if (ps->differences[0]) fprintf(f, "differences = %s\n", ps->differences);
        fprintf(f, "quick_epochs = %d\n", ps->quick_epochs);
        for (int i = 0; i < ps->nclaims; i++) {
            const PaperClaim *c = &ps->claims[i];
            fprintf(f, "claim.%s = %s\nsource.%s = %s\n", c->id, c->raw, c->id, c->source);
            if (c->note[0]) fprintf(f, "note.%s = %s\n", c->id, c->note);
        }
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        bl_fail(BL_ERR_RUN, "out of memory formatting the resolved config");
        return NULL;
    }
    return buf;
}

Status config_write_resolved(const ExperimentConfig *cfg, const char *path) {
    char *s = config_resolved_string(cfg);
    if (!s) return BL_ERR_RUN;
    Status st = write_file_atomic(path, s, strlen(s));
    free(s);
    return st;
}
