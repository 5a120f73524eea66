// docs.c: README tables from run folders (see docs.h): spec reading, cell templates, README blocks.
#include "run/docs.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/results.h"

// ---- spec ----

typedef struct {
    DocsTable *t;
    char err[300]; // first error (ini_parse gives its line)
} SpecParse;

static int set_str(char *dst, size_t n, const char *v, SpecParse *p, const char *key) {
    if (strlen(v) >= n) {
        snprintf(p->err, sizeof p->err, "%s: value longer than %zu bytes", key, n - 1);
        return 0;
    }
    snprintf(dst, n, "%s", v);
    return 1;
}

// Append v to dst (after a space when dst is not empty).
static int add_str(char *dst, size_t n, const char *v, SpecParse *p, const char *key) {
    size_t l = strlen(dst);
    if (l + 1 + strlen(v) >= n) {
        snprintf(p->err, sizeof p->err, "%s: value longer than %zu bytes", key, n - 1);
        return 0;
    }
    snprintf(dst + l, n - l, "%s%s", l ? " " : "", v);
    return 1;
}

static int spec_handler(void *user, const char *section, const char *key, const char *val) {
    SpecParse *p = user;
    DocsTable *t = p->t;
    if (!strcmp(section, "table")) {
        // libinih reads lines of up to 199 bytes; a long value continues on indented lines, joined by a space
        if (!strcmp(key, "header")) return add_str(t->header, sizeof t->header, val, p, key);
        if (!strcmp(key, "cells")) return add_str(t->cells, sizeof t->cells, val, p, key);
        if (!strcmp(key, "note")) return add_str(t->note, sizeof t->note, val, p, key);
        if (!strcmp(key, "cheap")) {
            if (strcmp(val, "0") && strcmp(val, "1")) {
                snprintf(p->err, sizeof p->err, "[table] cheap: 0 or 1, got '%s'", val);
                return 0;
            }
            t->cheap = val[0] == '1';
            return 1;
        }
        snprintf(p->err, sizeof p->err, "[table] unknown key '%s' (header, cells, cheap, note)", key);
        return 0;
    }
    if (strncmp(section, "row.", 4) || !section[4]) {
        snprintf(p->err, sizeof p->err, "unknown section [%s] ([table] and [row.ID])", section);
        return 0;
    }
    DocsRow *r = t->nrows ? &t->rows[t->nrows - 1] : NULL;
    if (!r || strcmp(r->id, section + 4)) { // a new row
        for (int i = 0; i < t->nrows; i++)
            if (!strcmp(t->rows[i].id, section + 4)) {
                snprintf(p->err, sizeof p->err, "[%s] appears twice", section);
                return 0;
            }
        if (t->nrows == DOCS_MAX_ROWS) {
            snprintf(p->err, sizeof p->err, "more than %d rows", DOCS_MAX_ROWS);
            return 0;
        }
        r = &t->rows[t->nrows++];
        memset(r, 0, sizeof *r);
        if (!set_str(r->id, sizeof r->id, section + 4, p, "row id")) return 0;
    }
    if (!strcmp(key, "config")) return set_str(r->config, sizeof r->config, val, p, key);
    if (!strcmp(key, "detect")) return set_str(r->detect, sizeof r->detect, val, p, key);
    if (!strcmp(key, "as")) return set_str(r->as, sizeof r->as, val, p, key);
    if (!strcmp(key, "sub")) {
        if (val[0] == '/' || strstr(val, "..")) {
            snprintf(p->err, sizeof p->err, "sub: a folder inside the run's, got '%s'", val);
            return 0;
        }
        return set_str(r->sub, sizeof r->sub, val, p, key);
    }
    if (!strncmp(key, "set", 3) && (!key[3] || (key[3] >= '2' && key[3] <= '0' + DOCS_MAX_SETS && !key[4]))) {
        if (!strchr(val, '=')) {
            snprintf(p->err, sizeof p->err, "%s: expected key=value, got '%s'", key, val);
            return 0;
        }
        return set_str(r->set[r->nset++], sizeof r->set[0], val, p, key);
    }
    if (!strcmp(key, "inputs")) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || v < 0 || v > 1000000) {
            snprintf(p->err, sizeof p->err, "inputs: an integer in [0, 1000000], got '%s'", val);
            return 0;
        }
        r->inputs = (int)v;
        return 1;
    }
    if (r->nlit == DOCS_MAX_LITS) {
        snprintf(p->err, sizeof p->err, "more than %d literal keys in [%s]", DOCS_MAX_LITS, section);
        return 0;
    }
    if (!set_str(r->lit_key[r->nlit], sizeof r->lit_key[0], key, p, "key")) return 0;
    return set_str(r->lit_val[r->nlit++], sizeof r->lit_val[0], val, p, key);
}

static int count_cols(const char *s) {
    int n = 1;
    for (; *s; s++) n += *s == '|';
    return n;
}

Status docs_load(const char *path, DocsTable *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(t->name, sizeof t->name, "%.*s", (int)strcspn(base, "."), base);
    SpecParse p = {.t = t};
    int rc = ini_parse(path, spec_handler, &p);
    if (rc < 0) return bl_fail(BL_ERR_USAGE, "%s: cannot read the table spec", path);
    if (rc > 0) return bl_fail(BL_ERR_USAGE, "%s:%d: %s", path, rc, p.err[0] ? p.err : "syntax error");
    if (!t->header[0] || !t->cells[0]) return bl_fail(BL_ERR_USAGE, "%s: [table] needs header and cells", path);
    if (count_cols(t->header) != count_cols(t->cells))
        return bl_fail(BL_ERR_USAGE, "%s: header has %d columns, cells %d", path, count_cols(t->header),
                       count_cols(t->cells));
    if (!t->nrows) return bl_fail(BL_ERR_USAGE, "%s: no [row.ID] section", path);
    for (int i = 0; i < t->nrows; i++)
        if (t->rows[i].detect[0] && !t->rows[i].config[0])
            return bl_fail(BL_ERR_USAGE, "%s: [row.%s] has detect but no config to run it on", path, t->rows[i].id);
    return BL_OK;
}

void docs_run_dir(const char *root, const DocsRow *r, char *out, size_t n) {
    const char *c = r->config;
    if (!strncmp(c, "experiments/", 12)) c += 12;
    size_t len = strlen(c);
    if (len > 4 && !strcmp(c + len - 4, ".ini")) len -= 4;
    int k = snprintf(out, n, "%s/", root);
    for (size_t i = 0; i < len && k + 1 < (int)n; i++) out[k++] = c[i] == '/' ? '-' : c[i];
    out[k < (int)n ? k : (int)n - 1] = 0;
}

void docs_row_dir(const char *root, const DocsRow *r, char *out, size_t n) {
    docs_run_dir(root, r, out, n);
    size_t k = strlen(out);
    if (r->sub[0]) snprintf(out + k, n - k, "/%s", r->sub);
}

// ---- cells ----

typedef struct {
    char *buf;
    size_t len, cap;
} Sb; // a growing string

static void sb_add(Sb *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (s->len + (size_t)k + 1 > s->cap) {
        size_t cap = (s->len + (size_t)k + 1) * 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) abort(); // a few KB of Markdown
        s->buf = nb;
        s->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(s->buf + s->len, (size_t)k + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)k;
}

// Follow PATH ("a.b.0.[0.01]") from root; NULL when a step is missing.
static const cJSON *json_path(const cJSON *root, const char *path) {
    const cJSON *j = root;
    const char *s = path;
    while (j && *s) {
        char key[128];
        size_t n;
        if (*s == '[') {
            n = strcspn(s + 1, "]");
            snprintf(key, sizeof key, "%.*s", (int)n, s + 1);
            s += n + 1 + (s[n + 1] == ']');
        } else {
            n = strcspn(s, ".");
            snprintf(key, sizeof key, "%.*s", (int)n, s);
            s += n;
        }
        if (*s == '.') s++;
        if (cJSON_IsArray(j) && isdigit((unsigned char)key[0])) j = cJSON_GetArrayItem(j, atoi(key));
        else j = cJSON_GetObjectItemCaseSensitive(j, key);
    }
    return j;
}

// 1234567 -> "1,234,567"
static void thousands(long long v, char *out, size_t n) {
    char d[32];
    snprintf(d, sizeof d, "%lld", v < 0 ? -v : v);
    size_t len = strlen(d), k = 0;
    if (v < 0 && k + 1 < n) out[k++] = '-';
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        out[k++] = d[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len) out[k++] = ',';
    }
    out[k] = 0;
}

static Status fmt_value(const cJSON *j, const char *fmt, char *out, size_t n, const char *where) {
    if (cJSON_IsNull(j)) {
        snprintf(out, n, "n/a");
        return BL_OK;
    }
    if (!strcmp(fmt, "ci")) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "wilson95");
        if (!cJSON_IsNumber(v) || cJSON_GetArraySize(w) != 2)
            return bl_fail(BL_ERR_DATA, "%s: format ci needs an object with value and wilson95", where);
        snprintf(out, n, "%.2f%% [%.2f, %.2f]", 100 * v->valuedouble, 100 * cJSON_GetArrayItem(w, 0)->valuedouble,
                 100 * cJSON_GetArrayItem(w, 1)->valuedouble);
        return BL_OK;
    }
    if (!strcmp(fmt, "s") || cJSON_IsString(j)) {
        if (!cJSON_IsString(j)) return bl_fail(BL_ERR_DATA, "%s: format s needs a string", where);
        size_t k = 0; // one Markdown cell: '|' escaped, line breaks and trailing space dropped
        for (const char *c = j->valuestring; *c && k + 3 < n; c++) {
            if (*c == '|') out[k++] = '\\';
            out[k++] = *c == '\n' || *c == '\r' ? ' ' : *c;
        }
        while (k && out[k - 1] == ' ') k--;
        out[k] = 0;
        return BL_OK;
    }
    if (cJSON_IsBool(j)) {
        snprintf(out, n, "%s", cJSON_IsTrue(j) ? "yes" : "no");
        return BL_OK;
    }
    if (!cJSON_IsNumber(j)) return bl_fail(BL_ERR_DATA, "%s: not a number, string or null", where);
    double x = j->valuedouble;
    if (!isfinite(x)) snprintf(out, n, "n/a");
    else if (!strcmp(fmt, "pct")) snprintf(out, n, "%.2f%%", 100 * x);
    else if (!strcmp(fmt, "pct1")) snprintf(out, n, "%.1f%%", 100 * x);
    else if (!strcmp(fmt, "num2")) snprintf(out, n, "%.2f", 100 * x);
    else if (!strcmp(fmt, "f2")) snprintf(out, n, "%.2f", x);
    else if (!strcmp(fmt, "f3")) snprintf(out, n, "%.3f", x);
    else if (!strcmp(fmt, "int") || (!fmt[0] && x == floor(x) && fabs(x) < 1e15)) thousands((long long)llround(x), out, n);
    else if (!fmt[0]) snprintf(out, n, "%.4g", x);
    else return bl_fail(BL_ERR_USAGE, "%s: unknown format '%s' (pct, pct1, num2, f2, f3, int, ci, s)", where, fmt);
    return BL_OK;
}

typedef struct {
    cJSON *m, *d, *man; // metrics.json, the defence's summary.json, manifest.json (NULL when the row has none)
} RowJson;

// Fill one cell template into s.
static Status fill_cell(const DocsTable *t, const DocsRow *r, const RowJson *rj, const char *tpl, size_t tlen,
                        Sb *s) {
    for (size_t i = 0; i < tlen;) {
        if (tpl[i] != '{') {
            size_t k = i;
            while (k < tlen && tpl[k] != '{') k++;
            sb_add(s, "%.*s", (int)(k - i), tpl + i);
            i = k;
            continue;
        }
        const char *close = memchr(tpl + i, '}', tlen - i);
        if (!close) return bl_fail(BL_ERR_USAGE, "%s: a '{' without '}' in cells", t->path);
        char ref[256];
        snprintf(ref, sizeof ref, "%.*s", (int)(close - tpl - i - 1), tpl + i + 1);
        i = (size_t)(close - tpl) + 1;
        char where[900];
        snprintf(where, sizeof where, "%s, row %s, {%s}", t->path, r->id, ref);
        char *c1 = strchr(ref, ':');
        if (!c1) { // a literal
            const char *v = !strcmp(ref, "id") ? r->id : !strcmp(ref, "config") ? r->config : NULL;
            for (int k = 0; k < r->nlit && !v; k++)
                if (!strcmp(r->lit_key[k], ref)) v = r->lit_val[k];
            if (!v) return bl_fail(BL_ERR_USAGE, "%s: the row has no key '%s'", where, ref);
            sb_add(s, "%s", v);
            continue;
        }
        *c1 = 0;
        char *path = c1 + 1, *c2 = strrchr(path, ':');
        const char *fmt = "";
        if (c2 && !strchr(c2, ']')) {
            *c2 = 0;
            fmt = c2 + 1;
        }
        const cJSON *root = !strcmp(ref, "m") ? rj->m : !strcmp(ref, "d") ? rj->d : !strcmp(ref, "man") ? rj->man : NULL;
        if (strcmp(ref, "m") && strcmp(ref, "d") && strcmp(ref, "man"))
            return bl_fail(BL_ERR_USAGE, "%s: unknown source '%s' (m, d, man)", where, ref);
        if (!root) return bl_fail(BL_ERR_USAGE, "%s: the row has no %s file (config/detect missing?)", where, ref);
        const cJSON *j = json_path(root, path);
        if (!j) return bl_fail(BL_ERR_DATA, "%s: no such key in the %s file", where, ref);
        char v[1024];
        Status st = fmt_value(j, fmt, v, sizeof v, where);
        if (st) return st;
        sb_add(s, "%s", v);
    }
    return BL_OK;
}

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

static Status load_json(const char *dir, const char *file, cJSON **out) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    *out = json_read_file(path);
    if (!*out) return bl_fail(BL_ERR_DATA, "%s: missing or not JSON (run `make docs` to produce it)", path);
    return BL_OK;
}

Status docs_render(const DocsTable *t, const char *root, char **md) {
    Sb s = {0};
    Status st = BL_OK;
    // header and separator
    sb_add(&s, "| ");
    for (const char *h = t->header; *h; h++) sb_add(&s, "%c", *h);
    sb_add(&s, " |\n|");
    for (int c = 0; c < count_cols(t->header); c++) sb_add(&s, "---|");
    sb_add(&s, "\n");
    char revs[4][64] = {{0}}, kernel[32] = "", date[16] = "";
    int nrev = 0;
    for (int i = 0; i < t->nrows && !st; i++) {
        const DocsRow *r = &t->rows[i];
        RowJson rj = {0};
        if (r->config[0]) {
            char dir[1024];
            docs_row_dir(root, r, dir, sizeof dir);
            if (!(st = load_json(dir, "metrics.json", &rj.m)) && !(st = load_json(dir, "manifest.json", &rj.man)) &&
                r->detect[0]) {
                char sub[1200];
                snprintf(sub, sizeof sub, "%.1023s/defense/%.64s", dir, r->as[0] ? r->as : r->detect);
                st = load_json(sub, "summary.json", &rj.d);
            }
            if (!st) { // provenance for the footer: every distinct revision, the kernel, the latest date
                const cJSON *rv = cJSON_GetObjectItemCaseSensitive(rj.man, "git_revision");
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(rj.man, "gemm_kernel");
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(rj.man, "end_time");
                if (cJSON_IsString(rv)) {
                    int seen = 0;
                    for (int q = 0; q < nrev; q++) seen |= !strcmp(revs[q], rv->valuestring);
                    if (!seen && nrev < 4) snprintf(revs[nrev++], sizeof revs[0], "%s", rv->valuestring);
                }
                if (cJSON_IsString(k)) snprintf(kernel, sizeof kernel, "%s", k->valuestring);
                if (cJSON_IsString(e) && strncmp(e->valuestring, date, 10) > 0)
                    snprintf(date, sizeof date, "%.10s", e->valuestring);
            }
        }
        sb_add(&s, "|");
        for (const char *c = t->cells; !st;) {
            size_t n = strcspn(c, "|");
            const char *cell = c;
            trim(&cell, &n);
            sb_add(&s, " ");
            st = fill_cell(t, r, &rj, cell, n, &s);
            sb_add(&s, " |");
            c += strcspn(c, "|");
            if (!*c) break;
            c++;
        }
        sb_add(&s, "\n");
        cJSON_Delete(rj.m);
        cJSON_Delete(rj.d);
        cJSON_Delete(rj.man);
    }
    if (st) {
        free(s.buf);
        return st;
    }
    if (t->note[0]) sb_add(&s, "\n%s\n", t->note);
    const char *host = !strcmp(kernel, "avx512") ? "AVX-512 host" : !strcmp(kernel, "avx2") ? "AVX2 host"
                       : kernel[0]                ? "host"
                                                  : "no runs";
    sb_add(&s, "\n<sub>Generated by `make docs` from `%s`: revision ", t->path);
    for (int q = 0; q < nrev; q++) sb_add(&s, "%s%s", q ? ", " : "", revs[q]);
    if (!nrev) sb_add(&s, "none");
    sb_add(&s, ", %s%s%s%s, %s.</sub>\n", host, kernel[0] ? " (kernel " : "", kernel, kernel[0] ? ")" : "",
           date[0] ? date : "undated");
    *md = s.buf;
    return BL_OK;
}

// ---- README blocks ----

int docs_find_block(const char *text, const char *name, size_t *begin, size_t *end) {
    char open[128];
    snprintf(open, sizeof open, "<!-- table:%s -->\n", name);
    const char *a = strstr(text, open);
    while (a && a != text && a[-1] != '\n') a = strstr(a + 1, open); // a marker starts a line
    if (!a) return -1;
    const char *body = a + strlen(open);
    const char *z = strstr(body, "<!-- /table -->");
    if (!z) return -2;
    *begin = (size_t)(body - text);
    *end = (size_t)(z - text);
    return 0;
}

void docs_block_revision(const char *body, size_t len, char *out, size_t n) {
    out[0] = 0;
    static const char key[] = "revision ";
    size_t kl = sizeof key - 1;
    for (size_t i = 0; i + kl < len; i++) { // the first "revision " followed by a hex id of 7+ digits
        if (memcmp(body + i, key, kl)) continue;
        const char *r = body + i + kl;
        size_t k = 0;
        while (r + k < body + len && strchr("0123456789abcdef", r[k]) && r[k] && k + 1 < n) k++;
        if (k >= 7) {
            snprintf(out, n, "%.*s", (int)k, r);
            return;
        }
    }
}

// Next line starting with '|' at or after *pos; its start and length. 0 when none.
static int next_table_line(const char *s, size_t len, size_t *pos, const char **line, size_t *n) {
    while (*pos < len) {
        const char *l = s + *pos;
        const char *nl = memchr(l, '\n', len - *pos);
        size_t k = nl ? (size_t)(nl - l) : len - *pos;
        *pos += k + (nl ? 1 : 0);
        if (k && l[0] == '|') {
            *line = l;
            *n = k;
            return 1;
        }
    }
    return 0;
}

int docs_compare(const char *want, size_t wlen, const char *have, size_t hlen, char **wline, char **hline) {
    size_t pw = 0, ph = 0;
    for (int no = 1;; no++) {
        const char *a = NULL, *b = NULL;
        size_t an = 0, bn = 0;
        int ga = next_table_line(want, wlen, &pw, &a, &an), gb = next_table_line(have, hlen, &ph, &b, &bn);
        if (!ga && !gb) return 0;
        if (ga != gb || an != bn || memcmp(a, b, an)) {
            *wline = ga ? strndup(a, an) : strdup("(no line)");
            *hline = gb ? strndup(b, bn) : strdup("(no line)");
            return no;
        }
    }
}
