// samples.c: samples.csv and samples.md of a records run (see samples.h).
#include "data/records/samples.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/results.h"

#define SAMPLES_MAX 20       // records shown (two per class, at most)
#define SAMPLES_MD_OTHERS 4  // unchanged features shown in the Markdown table besides the changed ones

// Append printf-style text to a growing heap buffer; 0 on out of memory.
typedef struct {
    char *buf;  // text so far, NUL-terminated
    size_t len; // its length
    size_t cap; // allocated bytes
} Text;

static int text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int text_add(Text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return 0;
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return 1;
        }
        size_t cap = (t->cap ? 2 * t->cap : 4096) + (size_t)n;
        char *nb = realloc(t->buf, cap);
        if (!nb) return 0;
        t->buf = nb, t->cap = cap;
    }
}

// A feature value as text: "" when missing, "%.6g" otherwise, '*' appended when `changed`.
static void value_text(const Dataset *d, int i, int j, int changed, char *out, size_t n) {
    const size_t at = (size_t)i * d->c + j;
    if (d->missing[at]) snprintf(out, n, "%s", changed ? "*" : "");
    else snprintf(out, n, "%.6g%s", d->features[at], changed ? "*" : "");
}

static int changed_at(const Dataset *a, const Dataset *b, int i, int j) {
    const size_t at = (size_t)i * a->c + j;
    return a->missing[at] != b->missing[at] || (!a->missing[at] && a->features[at] != b->features[at]);
}

// CSV-quote a name when it needs it.
static int add_csv_name(Text *t, const char *name) {
    if (!strpbrk(name, ",\"\n\r")) return text_add(t, ",%s", name);
    if (!text_add(t, ",\"")) return 0;
    for (const char *p = name; *p; p++)
        if (!text_add(t, *p == '"' ? "\"\"" : "%c", *p)) return 0;
    return text_add(t, "\"");
}

Status records_write_samples(const char *csv_path, const char *md_path, const Dataset *test,
                             const Dataset *triggered) {
    if (test->kind != DS_RECORDS || triggered->n != test->n || triggered->c != test->c || !test->schema)
        return bl_fail(BL_ERR_USAGE, "records_write_samples: needs a records test set and its triggered copy");
    const DsSchema *s = test->schema;
    int idx[SAMPLES_MAX], k = 0, per_class[256] = {0};
    for (int i = 0; i < test->n && k < SAMPLES_MAX; i++)
        if (per_class[test->labels[i]] < 2) per_class[test->labels[i]]++, idx[k++] = i;
    const int F = test->c;
    uint8_t *show = calloc((size_t)F, 1); // features in the Markdown table
    if (!show) return bl_fail(BL_ERR_RUN, "out of memory");
    for (int r = 0; r < k; r++)
        for (int j = 0; j < F; j++) show[j] |= (uint8_t)changed_at(test, triggered, idx[r], j);
    for (int j = 0, others = 0; j < F && others < SAMPLES_MD_OTHERS; j++)
        if (!show[j]) show[j] = 2, others++;

    Text csv = {0}, md = {0};
    int ok = text_add(&csv, "sample,version,label");
    for (int j = 0; ok && j < F; j++) ok = add_csv_name(&csv, s->feature_names[j]);
    ok = ok && text_add(&csv, "\n");
    ok = ok && text_add(&md, "Test records before and after the trigger (* = changed by the trigger; empty = "
                             "missing). Labels are the true classes.\n\n| sample | version | label |");
    for (int j = 0; ok && j < F; j++)
        if (show[j]) ok = text_add(&md, " %s |", s->feature_names[j]);
    ok = ok && text_add(&md, "\n|---|---|---|");
    for (int j = 0; ok && j < F; j++)
        if (show[j]) ok = text_add(&md, "---|");
    ok = ok && text_add(&md, "\n");
    char v[64];
    for (int r = 0; ok && r < k; r++)
        for (int version = 0; ok && version < 2; version++) {
            const Dataset *d = version ? triggered : test;
            const int i = idx[r];
            const char *label = s->class_names[test->labels[i]];
            ok = text_add(&csv, "%d,%s,%s", test->orig_index[i], version ? "triggered" : "clean", label) &&
                 text_add(&md, "| %d | %s | %s |", test->orig_index[i], version ? "triggered" : "clean", label);
            for (int j = 0; ok && j < F; j++) {
                value_text(d, i, j, version && changed_at(test, triggered, i, j), v, sizeof v);
                ok = text_add(&csv, ",%s", v) && (!show[j] || text_add(&md, " %s |", v));
            }
            ok = ok && text_add(&csv, "\n") && text_add(&md, "\n");
        }
    Status st = ok ? BL_OK : bl_fail(BL_ERR_RUN, "out of memory");
    if (!st) st = write_file_atomic(csv_path, csv.buf, csv.len);
    if (!st) st = write_file_atomic(md_path, md.buf, md.len);
    free(csv.buf);
    free(md.buf);
    free(show);
    return st;
}
