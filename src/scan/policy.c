// policy.c: read a scan policy INI (libinih) with file:line errors, like io/config.c does for experiments.
#include "scan/policy.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defense/defense.h"

static const char *const g_check_names[SCAN_NCHECKS] = {"signature", "provenance", "data", "input-scan",
                                                        "model-scan"};

const char *scan_check_name(ScanCheckId id) { return id < SCAN_NCHECKS ? g_check_names[id] : "?"; }
const char *scan_mode_name(ScanMode m) { return m == SCAN_REQUIRED ? "required" : m == SCAN_ADVISORY ? "advisory" : "off"; }

// The keys each section takes (besides the common mode and budget_seconds), for checks and messages.
static const char *const g_keys[SCAN_NCHECKS + 1][8] = {
    {"trusted_keys"},
    {"required_fields", "allowed_dataset_hashes"},
    {"manifest", "require_data"},
    {"detector", "frr", "max_trigger_l1", "max_asr"},
    {"detector", "max_anomaly_index", "max_trigger_l1", "trigger_asr", "rule"},
    {"fail_fast", "probe_images", "seed"}, // [scan]
};

#define MAX_SEEN 64

typedef struct {
    ScanPolicy *pol;
    const char *file;
    const char *text;
    size_t pos, len;
    int lineno;              // line the reader returned last (1-based)
    int failed;              // first error wins
    int fail_line;
    char seen[MAX_SEEN][48]; // "section.key" already set, with their lines
    int seen_line[MAX_SEEN];
    int nseen;
    int set_line[2][SCAN_MAX_ITEMS]; // lines of the detector settings ([model-scan], [input-scan])
} PolParse;

__attribute__((format(printf, 4, 5))) static int pp_fail(PolParse *p, const char *section, const char *key,
                                                         const char *fmt, ...) {
    if (p->failed) return 0;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key) bl_fail(BL_ERR_USAGE, "%s:%d: [%s] %s: %s", p->file, p->lineno, section, key, msg);
    else bl_fail(BL_ERR_USAGE, "%s:%d: %s", p->file, p->lineno, msg);
    p->failed = 1;
    p->fail_line = p->lineno;
    return 0;
}

// libinih's line reader over the text, counting lines (Debian's libinih is built without line numbers).
static char *pp_reader(char *str, int num, void *stream) {
    PolParse *p = stream;
    if (p->failed || p->pos >= p->len) return NULL;
    const char *line = p->text + p->pos;
    const char *nl = memchr(line, '\n', p->len - p->pos);
    size_t n = nl ? (size_t)(nl - line) : p->len - p->pos;
    p->pos += n + (nl ? 1 : 0);
    p->lineno++;
    if (n && line[n - 1] == '\r') n--;
    if (n + 2 > (size_t)num) {
        pp_fail(p, NULL, NULL, "line longer than %d bytes", num - 2);
        return NULL;
    }
    memcpy(str, line, n);
    str[n] = '\n';
    str[n + 1] = 0;
    return str;
}

static int parse_num(const char *v, double lo, double hi, double *out) {
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !isfinite(x) || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "true")) return *out = 1, 1;
    if (!strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "false")) return *out = 0, 1;
    return 0;
}

// Split a comma-separated list into out (trimmed items, none empty); 0 on too many or too long items.
static int split_list(const char *v, char *out, size_t item_size, int max, int *n) {
    *n = 0;
    if (!*v) return 1;
    const char *s = v;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        if (!len || len >= item_size || *n == max) return 0;
        memcpy(out + (size_t)*n * item_size, s, len);
        out[(size_t)*n * item_size + len] = 0;
        (*n)++;
        if (!e) return 1;
        s = e + 1;
    }
}

static const char *section_name(int s) { return s == SCAN_NCHECKS ? "scan" : scan_check_name((ScanCheckId)s); }

static int known_key(int s, const char *key) {
    if (s < SCAN_NCHECKS && (!strcmp(key, "mode") || !strcmp(key, "budget_seconds"))) return 1;
    for (int i = 0; i < 8 && g_keys[s][i]; i++)
        if (!strcmp(g_keys[s][i], key)) return 1;
    return 0;
}

static void key_list(int s, char *buf, size_t n) {
    size_t w = (size_t)snprintf(buf, n, "%s", s < SCAN_NCHECKS ? "mode, budget_seconds" : "");
    for (int i = 0; i < 8 && g_keys[s][i] && w < n; i++) w += (size_t)snprintf(buf + w, n - w, "%s%s", w ? ", " : "", g_keys[s][i]);
    if (s == SCAN_MODEL || s == SCAN_INPUT) snprintf(buf + w, n > w ? n - w : 0, ", or a parameter of the detector");
}

static int pp_key(PolParse *p, int s, const char *key, const char *v) {
    ScanPolicy *pol = p->pol;
    const char *sec = section_name(s);
    char buf[600];
    double x;
    if (s < SCAN_NCHECKS && !strcmp(key, "mode")) {
        if (!strcmp(v, "required")) pol->check[s].mode = SCAN_REQUIRED;
        else if (!strcmp(v, "advisory")) pol->check[s].mode = SCAN_ADVISORY;
        else if (!strcmp(v, "off")) pol->check[s].mode = SCAN_OFF;
        else return pp_fail(p, sec, key, "expected required|advisory|off, got '%s'", v);
        return 1;
    }
    if (s < SCAN_NCHECKS && !strcmp(key, "budget_seconds")) {
        if (!parse_num(v, 0, 1e7, &pol->check[s].budget_seconds))
            return pp_fail(p, sec, key, "expected seconds in [0, 1e7] (0 = no budget), got '%s'", v);
        return 1;
    }
    switch (s) {
    case SCAN_NCHECKS:
        if (!strcmp(key, "fail_fast")) {
            if (!parse_bool(v, &pol->fail_fast)) return pp_fail(p, sec, key, "expected yes|no, got '%s'", v);
        } else if (!strcmp(key, "probe_images")) {
            if (!parse_num(v, 10, 1e6, &x) || x != floor(x))
                return pp_fail(p, sec, key, "expected an integer in [10, 1000000], got '%s'", v);
            pol->probe_images = (int)x;
        } else { // seed
            long l;
            if (!bl_parse_long(v, &l) || l < 0) return pp_fail(p, sec, key, "expected an integer >= 0, got '%s'", v);
            pol->seed = (uint64_t)l;
        }
        return 1;
    case SCAN_SIGNATURE:
        if (!split_list(v, pol->keys[0], SCAN_PATH_MAX, SCAN_MAX_ITEMS, &pol->nkeys))
            return pp_fail(p, sec, key, "expected a comma-separated list of at most %d KEY.pub paths", SCAN_MAX_ITEMS);
        return 1;
    case SCAN_PROVENANCE:
        if (!strcmp(key, "required_fields")) {
            if (!split_list(v, pol->fields[0], 64, SCAN_MAX_ITEMS, &pol->nfields))
                return pp_fail(p, sec, key, "expected a comma-separated list of at most %d provenance keys",
                               SCAN_MAX_ITEMS);
        } else {
            if (!split_list(v, pol->hashes[0], 65, SCAN_MAX_ITEMS, &pol->nhashes))
                return pp_fail(p, sec, key, "expected a comma-separated list of at most %d SHA-256 hex values",
                               SCAN_MAX_ITEMS);
            for (int i = 0; i < pol->nhashes; i++) {
                char *h = pol->hashes[i];
                int ok = strlen(h) == 64;
                for (int j = 0; ok && h[j]; j++) ok = isxdigit((unsigned char)h[j]), h[j] = (char)tolower((unsigned char)h[j]);
                if (!ok) return pp_fail(p, sec, key, "'%s' is not 64 hex digits", h);
            }
        }
        return 1;
    case SCAN_DATA:
        if (!strcmp(key, "manifest")) {
            if (!*v || strlen(v) >= SCAN_PATH_MAX) return pp_fail(p, sec, key, "expected a manifest path");
            strcpy(pol->manifest, v);
        } else if (!parse_bool(v, &pol->require_data)) {
            return pp_fail(p, sec, key, "expected yes|no, got '%s'", v);
        }
        return 1;
    case SCAN_MODEL:
    case SCAN_INPUT: {
        int model = s == SCAN_MODEL;
        if (!strcmp(key, "detector")) {
            const DefenseOps *ops = defense_find(v);
            DefenseLevel want = model ? DEF_MODEL : DEF_INPUTS;
            if (!ops || ops->level != want) {
                int w = 0;
                buf[0] = 0;
                for (int i = 0; i < defense_count(); i++)
                    if (defense_at(i)->level == want && w < (int)sizeof buf)
                        w += snprintf(buf + w, sizeof buf - (size_t)w, "%s%s", w ? ", " : "", defense_at(i)->name);
                return pp_fail(p, sec, key, "'%s' is not a %s-level detector; known: %s", v, model ? "model" : "input",
                               buf);
            }
            snprintf(model ? pol->model_detector : pol->input_detector, 32, "%s", v);
        } else if (!strcmp(key, "max_anomaly_index")) {
            if (!parse_num(v, 0, 1e6, &pol->max_anomaly_index)) return pp_fail(p, sec, key, "expected a number >= 0, got '%s'", v);
        } else if (!strcmp(key, "max_trigger_l1")) {
            double *dst = model ? &pol->max_trigger_l1 : &pol->max_patch_l1;
            if (!parse_num(v, model ? 0 : 1, 1e6, dst))
                return pp_fail(p, sec, key, "expected a number >= %d, got '%s'", model ? 0 : 1, v);
        } else if (!strcmp(key, "trigger_asr") || !strcmp(key, "max_asr")) {
            if (!parse_num(v, 0, 1, model ? &pol->trigger_asr : &pol->max_asr))
                return pp_fail(p, sec, key, "expected a rate in [0, 1], got '%s'", v);
        } else if (!strcmp(key, "rule")) {
            if (!strcmp(v, "any")) pol->rule_both = 0;
            else if (!strcmp(v, "both")) pol->rule_both = 1;
            else return pp_fail(p, sec, key, "expected any|both, got '%s'", v);
        } else if (!strcmp(key, "frr")) {
            int ok = parse_num(v, 0, 1, &pol->frr), hit = 0;
            for (int i = 0; ok && i < DEFENSE_NFRR; i++) hit |= fabs(pol->frr - defense_frr_targets[i]) < 1e-12;
            if (!hit) return pp_fail(p, sec, key, "expected one of 0.005, 0.01, 0.02, 0.03, got '%s'", v);
        }
        return 1;
    }
    }
    return pp_fail(p, sec, key, "internal: unhandled key");
}

static int pp_handler(void *user, const char *section, const char *key, const char *v) {
    PolParse *p = user;
    if (p->failed) return 0;
    if (!v) v = "";
    int s = -1;
    if (!strcmp(section, "scan")) s = SCAN_NCHECKS;
    for (int i = 0; i < SCAN_NCHECKS; i++)
        if (!strcmp(section, g_check_names[i])) s = i;
    if (!*section) return pp_fail(p, NULL, NULL, "key '%s' comes before any section", key);
    if (s < 0)
        return pp_fail(p, NULL, NULL, "unknown section [%s]; a policy takes [scan], [signature], [provenance], [data], "
                                      "[input-scan], [model-scan]", section);
    char id[48];
    snprintf(id, sizeof id, "%s.%s", section, key);
    for (int i = 0; i < p->nseen; i++)
        if (!strcmp(p->seen[i], id))
            return pp_fail(p, section, key, "duplicate key (already set on line %d); keep one", p->seen_line[i]);
    if (p->nseen < MAX_SEEN) {
        snprintf(p->seen[p->nseen], sizeof p->seen[0], "%s", id);
        p->seen_line[p->nseen++] = p->lineno;
    }
    if (known_key(s, key)) return pp_key(p, s, key, v);
    if (s == SCAN_MODEL || s == SCAN_INPUT) { // a detector parameter: checked once the detector is known
        int model = s == SCAN_MODEL;
        int *n = model ? &p->pol->nmodel_set : &p->pol->ninput_set;
        char(*set)[96] = model ? p->pol->model_set : p->pol->input_set;
        if (*n == SCAN_MAX_ITEMS) return pp_fail(p, section, key, "more than %d detector parameters", SCAN_MAX_ITEMS);
        if (snprintf(set[*n], 96, "%s=%s", key, v) >= 96) return pp_fail(p, section, key, "value too long");
        p->set_line[!model][(*n)++] = p->lineno;
        return 1;
    }
    char known[300];
    key_list(s, known, sizeof known);
    return pp_fail(p, section, key, "unknown key; [%s] takes: %s", section, known);
}

void scan_policy_defaults(ScanPolicy *p) {
    memset(p, 0, sizeof *p);
    p->fail_fast = 1;
    p->probe_images = 1000;
    p->seed = 1;
    snprintf(p->model_detector, sizeof p->model_detector, "neural-cleanse");
    p->max_anomaly_index = 2.0;
    p->trigger_asr = 0.9;
    snprintf(p->input_detector, sizeof p->input_detector, "strip");
    p->frr = 0.01;
    p->max_patch_l1 = 9;
    p->max_asr = 0.9;
}

// A section header seen by the reader: mark the check present (mode required unless it says otherwise).
static void note_sections(PolParse *p) {
    // libinih gives no callback for a header, so headers are found by scanning the text once, with line numbers.
    int line = 0;
    for (const char *s = p->text, *end = p->text + p->len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        line++;
        while (n && isspace((unsigned char)*s)) s++, n--;
        if (n && *s == '[')
            for (int i = 0; i < SCAN_NCHECKS; i++) {
                size_t k = strlen(g_check_names[i]);
                if (n > k + 1 && !strncmp(s + 1, g_check_names[i], k) && s[k + 1] == ']' && !p->pol->check[i].line) {
                    p->pol->check[i].mode = SCAN_REQUIRED;
                    p->pol->check[i].line = line;
                }
            }
        s += n + (nl ? 1 : 0);
        if (!nl) break;
    }
}

// Detector parameters are validated against the detector's table, naming their own line.
static Status check_settings(PolParse *p) {
    for (int m = 0; m < 2; m++) {
        const ScanPolicy *pol = p->pol;
        const char *det = m ? pol->input_detector : pol->model_detector;
        int n = m ? pol->ninput_set : pol->nmodel_set;
        const DefenseOps *ops = defense_find(det);
        for (int i = 0; i < n; i++) {
            const char *set[2] = {m ? pol->input_set[i] : pol->model_set[i], NULL};
            DefenseParams dp;
            if (!ops || defense_params_resolve(ops, set, &dp)) {
                p->lineno = p->set_line[m][i];
                char msg[600];
                snprintf(msg, sizeof msg, "%s", bl_errmsg());
                p->failed = 0;
                pp_fail(p, NULL, NULL, "[%s] %s (a key that is not a policy key must be a parameter of the detector)",
                        m ? "input-scan" : "model-scan", msg);
                return BL_ERR_USAGE;
            }
        }
    }
    return BL_OK;
}

Status scan_policy_parse(const char *text, const char *file, ScanPolicy *pol) {
    scan_policy_defaults(pol);
    snprintf(pol->path, sizeof pol->path, "%s", file);
    PolParse p = {.pol = pol, .file = file, .text = text, .len = strlen(text)};
    note_sections(&p);
    int rc = ini_parse_stream(pp_reader, &p, pp_handler, &p);
    if (rc == -2) return bl_fail(BL_ERR_RUN, "%s: out of memory while parsing", file);
    if (rc > 0 && !p.failed) {
        p.lineno = rc;
        pp_fail(&p, NULL, NULL, "syntax error: expected 'key = value', '[section]' or a comment");
    }
    if (!p.failed) check_settings(&p);
    if (p.failed) {
        char path[SCAN_PATH_MAX];
        snprintf(path, sizeof path, "%s", pol->path);
        scan_policy_defaults(pol);
        snprintf(pol->path, sizeof pol->path, "%s", path);
        return BL_ERR_USAGE;
    }
    return BL_OK;
}

Status scan_policy_load(const char *path, ScanPolicy *pol) {
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_USAGE, "cannot open policy %s", path);
    char *text = malloc(1 << 20);
    size_t n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
    int big = text && n == (1 << 20) - 1 && fgetc(f) != EOF;
    fclose(f);
    if (!text) return bl_fail(BL_ERR_RUN, "out of memory");
    if (big) {
        free(text);
        return bl_fail(BL_ERR_USAGE, "policy %s is larger than 1 MiB", path);
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        free(text);
        return bl_fail(BL_ERR_USAGE, "policy %s contains a NUL byte (not a text file)", path);
    }
    Status st = scan_policy_parse(text, path, pol);
    free(text);
    return st;
}
