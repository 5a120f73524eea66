// textfile.c: text:PATH readers, TSV/CSV files and class folders of .txt files (rules in textfile.h).
#include "data/text/textfile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

// Class names while reading: in order of first appearance (training source), or final (a test source, fixed).
typedef struct {
    char (*names)[DS_NAME_MAX]; // (TEXT_MAX_CLASSES) bl_alloc'd; handed to the pair at the end
    int n;                      // classes so far
    int fixed;                  // 1: no new class may appear (a test file is read against the training classes)
} Classes;

// What one source is read into.
typedef struct {
    const char *path;  // for messages
    Classes *cls;      // class names
    DsLexicon *lex;    // where words are interned
    TextCorpus *c;     // where messages go
    int rows;          // data rows so far (each row's orig_index)
} Sink;

// A growing byte buffer for one CSV text field.
typedef struct {
    char *s;    // (n) bytes
    size_t n;   // used
    size_t cap; // room
} Field;

static Status field_put(Field *f, char ch) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        char *s = realloc(f->s, cap);
        if (!s) return bl_fail(BL_ERR_RUN, "text reader: out of memory");
        f->s = s;
        f->cap = cap;
    }
    f->s[f->n++] = ch;
    return BL_OK;
}

// The class id of label[0..len) (trimmed here), adding the class unless cls is fixed. `where` names file:line.
static Status class_of(Classes *cls, const char *label, size_t len, const char *where, int *id) {
    while (len && (*label == ' ' || *label == '\t')) label++, len--;
    while (len && (label[len - 1] == ' ' || label[len - 1] == '\t')) len--;
    if (!len) return bl_fail(BL_ERR_DATA, "%s: no label (expected LABEL then the text)", where);
    if (len >= DS_NAME_MAX)
        return bl_fail(BL_ERR_DATA, "%s: label '%.40s...' is longer than %d bytes", where, label, DS_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return bl_fail(BL_ERR_DATA, "%s: the label holds a control character (byte 0x%02x)", where,
                           (unsigned char)label[i]);
    if (!text_utf8_valid(label, len)) return bl_fail(BL_ERR_DATA, "%s: the label is not valid UTF-8", where);
    for (int k = 0; k < cls->n; k++)
        if (strlen(cls->names[k]) == len && !memcmp(cls->names[k], label, len)) {
            *id = k;
            return BL_OK;
        }
    if (cls->fixed) {
        char known[256];
        size_t w = 0;
        known[0] = 0;
        for (int k = 0; k < cls->n && w < sizeof known; k++)
            w += (size_t)snprintf(known + w, sizeof known - w, "%s%s", k ? ", " : "", cls->names[k]);
        return bl_fail(BL_ERR_DATA, "%s: label '%.*s' is not a class of the training data (classes: %s)", where,
                       (int)len, label, known);
    }
    if (cls->n >= TEXT_MAX_CLASSES)
        return bl_fail(BL_ERR_DATA, "%s: more than %d distinct labels", where, TEXT_MAX_CLASSES);
    memcpy(cls->names[cls->n], label, len);
    cls->names[cls->n][len] = 0;
    *id = cls->n++;
    return BL_OK;
}

static Status sink_row(Sink *s, int line, const char *label, size_t llen, const char *text, size_t tlen) {
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", s->path, line);
    int id;
    Status st = class_of(s->cls, label, llen, where, &id);
    if (st) return st;
    if ((st = corpus_add(s->c, text, tlen, id, s->rows++, s->lex))) bl_fail_ctx(st, "%s", where);
    return st;
}

// A header row: label field "label" in any case.
static int is_header(const char *label, size_t len) {
    while (len && (*label == ' ' || *label == '\t')) label++, len--;
    while (len && (label[len - 1] == ' ' || label[len - 1] == '\t' || label[len - 1] == '\r')) len--;
    return len == 5 && !strncasecmp(label, "label", 5);
}

static Status read_tsv(const char *b, size_t len, Sink *s) {
    int line = 0, first = 1;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(b + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - b) : len, ll = e - i;
        const char *row = b + i;
        i = e + 1;
        line++;
        if (ll && row[ll - 1] == '\r') ll--;
        size_t k = 0;
        while (k < ll && (row[k] == ' ' || row[k] == '\t' || row[k] == '\r')) k++;
        if (k == ll) continue; // blank
        const char *tab = memchr(row, '\t', ll);
        if (first && is_header(row, tab ? (size_t)(tab - row) : ll)) {
            first = 0;
            continue;
        }
        first = 0;
        if (!tab)
            return bl_fail(BL_ERR_DATA, "%s:%d: no tab in the row (expected LABEL<TAB>TEXT; is it a CSV file? name it "
                           ".csv)", s->path, line);
        Status st = sink_row(s, line, row, (size_t)(tab - row), tab + 1, ll - (size_t)(tab - row) - 1);
        if (st) return st;
    }
    return BL_OK;
}

// One CSV field at b[*i..len) appended to f (quotes undone). *end = 1 when it ends its record (newline or end of
// file), 0 when a comma follows. *line counts newlines passed.
static Status csv_field(const char *b, size_t len, size_t *i, int *line, Field *f, int *end, const char *path) {
    size_t p = *i;
    Status st = BL_OK;
    if (p < len && b[p] == '"') {
        const int start = *line;
        for (p++;; p++) {
            if (p >= len)
                return bl_fail(BL_ERR_DATA, "%s:%d: a quoted field is not closed before the end of the file", path,
                               start);
            if (b[p] == '"') {
                if (p + 1 < len && b[p + 1] == '"') p++;
                else break;
            }
            if (b[p] == '\n') (*line)++;
            if ((st = field_put(f, b[p]))) return st;
        }
        p++; // past the closing quote
        if (p < len && b[p] == '\r') p++;
        if (p < len && b[p] != ',' && b[p] != '\n')
            return bl_fail(BL_ERR_DATA, "%s:%d: text after a closing quote (a quote inside a field is written \"\")",
                           path, *line);
    } else {
        for (; p < len && b[p] != ',' && b[p] != '\n'; p++)
            if ((st = field_put(f, b[p]))) return st;
        if (f->n && f->s[f->n - 1] == '\r' && (p >= len || b[p] == '\n')) f->n--;
    }
    *end = p >= len || b[p] == '\n';
    if (p < len && b[p] == '\n') (*line)++;
    *i = p < len ? p + 1 : len;
    return BL_OK;
}

static Status read_csv(const char *b, size_t len, Sink *s) {
    Field label = {0}, text = {0};
    Status st = BL_OK;
    int line = 1, first = 1;
    for (size_t i = 0; i < len && !st;) {
        if (b[i] == '\n' || (b[i] == '\r' && i + 1 < len && b[i + 1] == '\n')) { // blank line
            i += b[i] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        const int row_line = line;
        int end = 0;
        label.n = text.n = 0;
        if ((st = csv_field(b, len, &i, &line, &label, &end, s->path))) break;
        if (first && is_header(label.s, label.n)) {
            first = 0;
            while (!end && !(st = csv_field(b, len, &i, &line, &text, &end, s->path))) {}
            continue;
        }
        first = 0;
        if (end) {
            st = bl_fail(BL_ERR_DATA, "%s:%d: no comma after the label (expected LABEL,TEXT; is it a TSV file? name "
                         "it .tsv)", s->path, row_line);
            break;
        }
        for (int k = 0; !end && !st; k++) { // the text: the other fields, joined by commas
            if (k) st = field_put(&text, ',');
            if (!st) st = csv_field(b, len, &i, &line, &text, &end, s->path);
        }
        if (!st) st = sink_row(s, row_line, label.s, label.n, text.s ? text.s : "", text.n);
    }
    free(label.s);
    free(text.s);
    return st;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

// Names in folder dir (not hidden) that are folders (dirs = 1) or regular files ending in .txt (dirs = 0), in byte
// order, into *out (malloc'd strings).
static Status list_dir(const char *dir, int dirs, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return bl_fail(BL_ERR_DATA, "%s: cannot open the folder", dir);
    char **v = NULL;
    int cap = 0;
    Status st = BL_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        const char *nm = e->d_name;
        size_t nl = strlen(nm);
        if (nm[0] == '.' || (!dirs && (nl < 5 || strcmp(nm + nl - 4, ".txt")))) continue;
        char p[4096];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, nm) >= sizeof p || stat(p, &sb)) continue;
        if (dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                st = bl_fail(BL_ERR_RUN, "text reader: out of memory");
                break;
            }
            v = nv;
        }
        if (!(v[*n] = strdup(nm))) st = bl_fail(BL_ERR_RUN, "text reader: out of memory");
        else (*n)++;
    }
    closedir(d);
    if (st) {
        free_list(v, *n);
        *n = 0;
        return st;
    }
    if (*n > 1) qsort(v, (size_t)*n, sizeof *v, cmp_str); // v is NULL for an empty folder
    *out = v;
    return BL_OK;
}

static Status read_folder(const char *dir, Sink *s) {
    char **cls = NULL;
    int ncls = 0;
    Status st = list_dir(dir, 1, &cls, &ncls);
    if (st) return st;
    if (!ncls) st = bl_fail(BL_ERR_DATA, "%s: no class folders (expected one subfolder of .txt files per class)", dir);
    for (int k = 0; k < ncls && !st; k++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", dir, cls[k]);
        char **files = NULL;
        int nf = 0;
        if ((st = list_dir(sub, 0, &files, &nf))) break;
        if (!nf) st = bl_fail(BL_ERR_DATA, "%s: no .txt files in this class folder", sub);
        int id;
        if (!st) st = class_of(s->cls, cls[k], strlen(cls[k]), sub, &id);
        for (int f = 0; f < nf && !st; f++) {
            char p[4096], *buf = NULL;
            size_t len;
            if ((size_t)snprintf(p, sizeof p, "%s/%s", sub, files[f]) >= sizeof p) {
                st = bl_fail(BL_ERR_DATA, "%s/%s: path too long", sub, files[f]);
                break;
            }
            if (!(st = text_read_file(p, TEXT_MAX_MESSAGE_BYTES, &buf, &len)))
                if ((st = corpus_add(s->c, buf, len, id, s->rows++, s->lex))) bl_fail_ctx(st, "%s", p);
            free(buf);
        }
        free_list(files, nf);
    }
    free_list(cls, ncls);
    return st;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

// Read one source (file or folder) into s.
static Status read_source(Sink *s) {
    struct stat sb;
    if (stat(s->path, &sb)) return bl_fail(BL_ERR_DATA, "%s: no such file or folder", s->path);
    if (S_ISDIR(sb.st_mode)) return read_folder(s->path, s);
    char *buf;
    size_t len;
    Status st = text_read_file(s->path, (size_t)TEXT_MAX_FILE_BYTES, &buf, &len);
    if (st) return st;
    const char *b = buf;
    if (len >= 3 && !memcmp(b, "\xef\xbb\xbf", 3)) b += 3, len -= 3; // UTF-8 BOM
    int tsv = ends_with(s->path, ".tsv") || ends_with(s->path, ".tab");
    if (!tsv && !ends_with(s->path, ".csv")) {
        const char *nl = memchr(b, '\n', len);
        tsv = memchr(b, '\t', nl ? (size_t)(nl - b) : len) != NULL;
    }
    st = tsv ? read_tsv(b, len, s) : read_csv(b, len, s);
    free(buf);
    if (!st && !s->rows) st = bl_fail(BL_ERR_DATA, "%s: no messages", s->path);
    return st;
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

Status textfile_load(const char *spec, const TextOptions *opt, DatasetPair *out, TextLoadInfo *info) {
    memset(out, 0, sizeof *out);
    char train[4096], test[4096] = "";
    if (!spec || !*spec) return bl_fail(BL_ERR_USAGE, "dataset text: no file given (text:PATH or text:TRAIN,TEST)");
    if (strlen(spec) >= sizeof train) return bl_fail(BL_ERR_USAGE, "dataset text: path too long");
    snprintf(train, sizeof train, "%s", spec);
    char *comma = strchr(train, ',');
    if (comma) {
        *comma = 0;
        snprintf(test, sizeof test, "%s", comma + 1);
        if (!train[0] || !test[0]) return bl_fail(BL_ERR_USAGE, "dataset text:%s: expected text:TRAIN,TEST", spec);
    }
    Classes cls = {0};
    DsLexicon *lex = NULL;
    TextCorpus ctr = {0}, cte = {0};
    int dups = 0, dups2 = 0;
    Status st = lex_new(&lex);
    if (!st && !(cls.names = bl_alloc((size_t)TEXT_MAX_CLASSES * DS_NAME_MAX))) st = BL_ERR_RUN;
    Sink s = {.path = train, .cls = &cls, .lex = lex, .c = &ctr};
    if (!st) st = read_source(&s);
    if (!st && cls.n < 2)
        st = bl_fail(BL_ERR_DATA, "%s: %d class%s ('%s'); a classifier needs at least 2", train, cls.n,
                     cls.n == 1 ? "" : "es", cls.n ? cls.names[0] : "");
    if (!st) { // class ids in byte order of the names
        char sorted[TEXT_MAX_CLASSES][DS_NAME_MAX];
        uint8_t remap[TEXT_MAX_CLASSES];
        memcpy(sorted, cls.names, (size_t)cls.n * DS_NAME_MAX);
        qsort(sorted, (size_t)cls.n, DS_NAME_MAX, cmp_name);
        for (int k = 0; k < cls.n; k++)
            for (int j = 0; j < cls.n; j++)
                if (!strcmp(cls.names[k], sorted[j])) remap[k] = (uint8_t)j;
        for (int i = 0; i < ctr.n; i++) ctr.label[i] = remap[ctr.label[i]];
        memcpy(cls.names, sorted, (size_t)cls.n * DS_NAME_MAX);
        cls.fixed = 1;
    }
    if (!st) st = corpus_dedupe(&ctr, NULL, &dups);
    if (!st && test[0]) {
        Sink t = {.path = test, .cls = &cls, .lex = lex, .c = &cte};
        st = read_source(&t);
        if (!st) st = corpus_dedupe(&cte, &ctr, &dups2);
        if (!st && !cte.n) st = bl_fail(BL_ERR_DATA, "%s: every test message is also a training message", test);
    }
    int nread = s.rows;
    if (!st) {
        char source[600];
        snprintf(source, sizeof source, "text:%s", spec);
        st = corpus_make_pair(&ctr, test[0] ? &cte : NULL,
                              opt->test_fraction > 0 ? opt->test_fraction : TEXT_DEFAULT_TEST_FRACTION,
                              opt->split_seed, opt->max_tokens > 0 ? opt->max_tokens : TEXT_DEFAULT_MAX_TOKENS, 0, lex,
                              cls.names, cls.n, source, out); // owns lex and names now
        lex = NULL;
        cls.names = NULL;
    }
    if (!st && info) {
        memset(info, 0, sizeof *info);
        info->read = nread + cte.n + dups2;
        info->duplicates = dups + dups2;
        corpus_info(out, info);
    }
    corpus_free(&ctr);
    corpus_free(&cte);
    lex_free(lex);
    bl_free(cls.names);
    return st;
}
