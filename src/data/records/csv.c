// csv.c: CSV files -> Table, with libcsv doing the quoting (rules in csv.h).
// The file is read whole and fed to libcsv one physical line at a time, so the reader always knows which line a
// field ended on; a record's first line is that line minus the newlines inside its first field.
#include "data/records/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const csv_default_missing[] = {"", "NA", "?"};
#define CSV_CHUNK (64 << 10) // bytes fed to libcsv at a time, and its buffer growth step

// The cells of one file as text, before any typing.
typedef struct {
    const char *path;   // file name (messages)
    char *text;         // all cell bytes, each cell NUL-terminated
    size_t text_len;    // bytes used in text
    size_t text_cap;    // bytes allocated for text
    size_t *off;        // (nrows * ncols) offset of each cell in text, row-major
    size_t cap_cells;   // slots allocated in off
    int *row_line;      // (nrows) 1-based line where each data record starts
    size_t cap_rows;    // slots allocated in row_line
    int nrows;          // data records stored
    int ncols;          // fields per record (the header's count); 0 until the header is read
    char **names;       // (ncols) column names
    int cap_names;      // slots allocated in names while the header is read
    int header_line;    // line of the header record (0: names came from column_names)
    // parse state
    int skip_rows;      // records to skip before the header or data
    int want_header;    // 1 while the next record is the header
    int cur_line;       // line of the text being parsed
    int last_end_line;  // line where the last record ended
    int row_cells;      // fields seen in the current record
    int row_start;      // line where the current record starts
    Status err;         // first error seen in a callback (libcsv callbacks cannot stop the parser)
} CsvRaw;

static void raw_free(CsvRaw *r) {
    free(r->text);
    free(r->off);
    free(r->row_line);
    for (int j = 0; r->names && j < r->cap_names; j++) free(r->names[j]);
    free(r->names);
    memset(r, 0, sizeof *r);
}

static int count_nl(const char *s, size_t len) {
    int n = 0;
    for (size_t i = 0; i < len; i++) n += s[i] == '\n';
    return n;
}

// Grow *p (elements of `size` bytes, *cap of them) to hold at least `need`.
static int grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

// libcsv field callback.
static void on_field(void *data, size_t len, void *vctx) {
    CsvRaw *r = vctx;
    if (r->err) return;
    const char *s = data ? data : "";
    if (r->row_cells == 0) r->row_start = r->cur_line - count_nl(s, len);
    int col = r->row_cells++;
    if (len > CSV_MAX_FIELD_BYTES) {
        r->err = bl_fail(BL_ERR_DATA, "%s: line %d, column %d: a field of %zu bytes; the limit is %d bytes (1 MiB)",
                         r->path, r->cur_line - count_nl(s, len), col + 1, len, CSV_MAX_FIELD_BYTES);
        return;
    }
    if (r->skip_rows > 0) return;
    if (memchr(s, '\0', len)) {
        r->err = bl_fail(BL_ERR_DATA, "%s: line %d, column %d: the field holds a NUL byte (not a text CSV file?)",
                         r->path, r->cur_line - count_nl(s, len), col + 1);
        return;
    }
    if (r->want_header) {
        if (col >= TABLE_MAX_COLS) {
            r->err = bl_fail(BL_ERR_DATA, "%s: line %d: more than %d columns", r->path, r->row_start, TABLE_MAX_COLS);
            return;
        }
        if (col >= r->cap_names) {
            int cap = r->cap_names ? 2 * r->cap_names : 16;
            char **nn = realloc(r->names, (size_t)cap * sizeof *nn);
            if (!nn) {
                r->err = bl_fail(BL_ERR_RUN, "csv: out of memory");
                return;
            }
            for (int j = r->cap_names; j < cap; j++) nn[j] = NULL;
            r->names = nn;
            r->cap_names = cap;
        }
        r->names[col] = strndup(s, len);
        if (!r->names[col]) r->err = bl_fail(BL_ERR_RUN, "csv: out of memory");
        return;
    }
    if (col >= r->ncols) return; // a ragged record; reported at its end
    size_t cell = (size_t)r->nrows * (size_t)r->ncols + (size_t)col;
    if (!grow((void **)&r->off, &r->cap_cells, cell + 1, sizeof *r->off) ||
        !grow((void **)&r->text, &r->text_cap, r->text_len + len + 1, 1)) {
        r->err = bl_fail(BL_ERR_RUN, "csv: out of memory");
        return;
    }
    r->off[cell] = r->text_len;
    memcpy(r->text + r->text_len, s, len);
    r->text[r->text_len + len] = '\0';
    r->text_len += len + 1;
}

// libcsv record-end callback.
static void on_record(int term, void *vctx) {
    (void)term;
    CsvRaw *r = vctx;
    if (r->err) return;
    int cells = r->row_cells;
    r->row_cells = 0;
    r->last_end_line = r->cur_line;
    if (r->skip_rows > 0) {
        r->skip_rows--;
        return;
    }
    if (r->want_header) {
        r->want_header = 0;
        r->ncols = cells;
        r->header_line = r->row_start;
        return;
    }
    if (cells != r->ncols) {
        r->err = bl_fail(BL_ERR_DATA, "%s: line %d: %d fields, but the %s has %d (a ragged row; quote fields that "
                         "hold commas)", r->path, r->row_start, cells, r->header_line ? "header" : "column_names list",
                         r->ncols);
        return;
    }
    if (r->nrows >= TABLE_MAX_ROWS) {
        r->err = bl_fail(BL_ERR_DATA, "%s: line %d: more than %d data rows", r->path, r->row_start, TABLE_MAX_ROWS);
        return;
    }
    if (!grow((void **)&r->row_line, &r->cap_rows, (size_t)r->nrows + 1, sizeof *r->row_line)) {
        r->err = bl_fail(BL_ERR_RUN, "csv: out of memory");
        return;
    }
    r->row_line[r->nrows++] = r->row_start;
}

// Read a whole file into *buf (malloc'ed, *len bytes), refusing files over CSV_MAX_FILE_BYTES.
static Status slurp(const char *path, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "%s: not a regular file", path);
    }
    if ((long long)sb.st_size > CSV_MAX_FILE_BYTES) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "%s: %lld bytes; CSV files over %lld bytes are refused", path,
                       (long long)sb.st_size, CSV_MAX_FILE_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = n ? fread(b, 1, n, f) : 0;
    int bad = ferror(f) || got != n;
    fclose(f);
    if (bad) {
        free(b);
        return bl_fail(BL_ERR_DATA, "%s: read error (%zu of %zu bytes)", path, got, n);
    }
    *buf = b;
    *len = n;
    return BL_OK;
}

static int is_number(const char *s, double *v) {
    if (!*s) return 0;
    char *end;
    *v = strtod(s, &end);
    return *end == '\0';
}

// Parse one file into raw cells.
static Status read_raw(const char *path, const CsvOptions *opt, CsvRaw *r) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->skip_rows = opt->skip_rows > 0 ? opt->skip_rows : 0;
    if (opt->column_names) {
        if (opt->ncolumn_names < 1 || opt->ncolumn_names > TABLE_MAX_COLS)
            return bl_fail(BL_ERR_USAGE, "%s: column_names has %d entries", path, opt->ncolumn_names);
        r->names = calloc((size_t)opt->ncolumn_names, sizeof *r->names);
        if (!r->names) return bl_fail(BL_ERR_RUN, "csv: out of memory");
        r->cap_names = r->ncols = opt->ncolumn_names;
        for (int j = 0; j < r->ncols; j++)
            if (!(r->names[j] = strdup(opt->column_names[j] ? opt->column_names[j] : "")))
                return bl_fail(BL_ERR_RUN, "csv: out of memory");
    } else {
        r->want_header = 1;
    }
    char *buf;
    size_t len;
    Status st = slurp(path, &buf, &len);
    if (st) return st;
    size_t pos = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) pos = 3; // UTF-8 BOM
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        free(buf);
        return bl_fail(BL_ERR_RUN, "csv: libcsv could not initialise");
    }
    csv_set_blk_size(&p, CSV_CHUNK);
    r->cur_line = 1;
    while (pos < len && !r->err) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t seg = nl ? (size_t)(nl - (buf + pos)) + 1 : len - pos;
        // a long line goes in chunks, so an oversized field is caught after ~1 MiB, not after all of it
        for (size_t done = 0; done < seg && !r->err;) {
            size_t part = BL_MIN(seg - done, (size_t)CSV_CHUNK);
            if (csv_parse(&p, buf + pos + done, part, on_field, on_record, r) != part && !r->err)
                r->err = bl_fail(BL_ERR_DATA, "%s: line %d: %s (a quote inside an unquoted field, or text after a "
                                 "closing quote?)", path, r->cur_line, csv_strerror(csv_error(&p)));
            done += part;
            if (!r->err && csv_get_buffer_size(&p) > (size_t)CSV_MAX_FIELD_BYTES + CSV_CHUNK)
                r->err = bl_fail(BL_ERR_DATA, "%s: line %d, column %d: a field longer than the limit of %d bytes "
                                 "(1 MiB)", path, r->cur_line, r->row_cells + 1, CSV_MAX_FIELD_BYTES);
        }
        pos += seg;
        if (nl && pos < len) r->cur_line++;
    }
    if (!r->err && csv_fini(&p, on_field, on_record, r) != 0 && !r->err)
        r->err = bl_fail(BL_ERR_DATA, "%s: the file ends inside a quoted field (a quote opened after line %d is never "
                         "closed)", path, r->last_end_line);
    csv_free(&p);
    free(buf);
    if (r->err) return r->err;
    if (r->want_header) return bl_fail(BL_ERR_DATA, "%s: empty file (no header row)", path);
    if (r->nrows == 0) return bl_fail(BL_ERR_DATA, "%s: no data rows", path);
    if (r->header_line) { // a header record was read: check it
        int numeric = 1;
        for (int j = 0; j < r->ncols && numeric; j++) {
            double v;
            numeric = is_number(r->names[j], &v);
        }
        if (numeric)
            return bl_fail(BL_ERR_DATA, "%s: line %d: every cell of the first row is a number, so the file seems to "
                           "have no header row; add one (names of the columns) or give column_names",
                           path, r->header_line);
        for (int j = 0; j < r->ncols; j++)
            if (!r->names[j][0]) {
                char name[32];
                snprintf(name, sizeof name, "column%d", j + 1);
                free(r->names[j]);
                if (!(r->names[j] = strdup(name))) return bl_fail(BL_ERR_RUN, "csv: out of memory");
            }
    }
    return BL_OK;
}

typedef struct {
    const char *name; // column name
    int col;          // its index
} NameRef;

static int cmp_nameref(const void *a, const void *b) {
    const NameRef *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->col > y->col) - (x->col < y->col);
}

// Refuse repeated column names (sorted, so a hostile header of a million columns stays fast).
static Status check_unique(const CsvRaw *r) {
    NameRef *refs = malloc((size_t)r->ncols * sizeof *refs);
    if (!refs) return bl_fail(BL_ERR_RUN, "csv: out of memory");
    for (int j = 0; j < r->ncols; j++) refs[j] = (NameRef){r->names[j], j};
    qsort(refs, (size_t)r->ncols, sizeof *refs, cmp_nameref);
    Status st = BL_OK;
    for (int j = 1; j < r->ncols && !st; j++)
        if (strcmp(refs[j].name, refs[j - 1].name) == 0)
            st = bl_fail(BL_ERR_DATA, "%s: %s%d: column %d is named '%s', like column %d; column names must be unique",
                         r->path, r->header_line ? "line " : "column_names entry ",
                         r->header_line ? r->header_line : refs[j].col + 1, refs[j].col + 1, refs[j].name,
                         refs[j - 1].col + 1);
    free(refs);
    return st;
}

static const char *cell(const CsvRaw *r, int row, int col) {
    return r->text + r->off[(size_t)row * (size_t)r->ncols + (size_t)col];
}

// Line of a cell: its record's first line plus the newlines in the cells before it.
static int cell_line(const CsvRaw *r, int row, int col) {
    int line = r->row_line[row];
    for (int j = 0; j < col; j++) line += count_nl(cell(r, row, j), strlen(cell(r, row, j)));
    return line;
}

static int is_missing(const CsvOptions *opt, const char *s) {
    const char *const *mv = opt->missing_values ? opt->missing_values : csv_default_missing;
    int n = opt->missing_values ? opt->nmissing_values : (int)BL_ARRAY_LEN(csv_default_missing);
    for (int i = 0; i < n; i++)
        if (mv[i] && strcmp(mv[i], s) == 0) return 1;
    return 0;
}

// Decide column j's kind over both files: 1 numeric, 0 categorical.
static Status column_kind(const CsvRaw *const *raws, int nraw, int j, int forced_cat, const CsvOptions *opt,
                          int *numeric) {
    long nums = 0, others = 0;
    const CsvRaw *bad_raw = NULL;
    int bad_row = 0;
    for (int k = 0; k < nraw; k++)
        for (int r = 0; r < raws[k]->nrows; r++) {
            const char *s = cell(raws[k], r, j);
            double v;
            if (is_missing(opt, s)) continue;
            if (is_number(s, &v)) {
                nums++;
            } else {
                if (!bad_raw) {
                    bad_raw = raws[k];
                    bad_row = r;
                }
                others++;
            }
        }
    *numeric = others == 0 && !forced_cat;
    if (nums > 0 && others > 0 && !forced_cat) {
        char shown[80];
        snprintf(shown, sizeof shown, "%s", cell(bad_raw, bad_row, j));
        return bl_fail(BL_ERR_DATA, "%s: line %d, column %d ('%s'): '%s' is not a number, but %ld other cell%s of "
                       "this column %s: fix the value, add it to missing_values, or list the column in "
                       "categorical_columns", bad_raw->path, cell_line(bad_raw, bad_row, j), j + 1,
                       bad_raw->names[j], shown, nums, nums == 1 ? "" : "s", nums == 1 ? "is" : "are");
    }
    return BL_OK;
}

// Build a table from raw cells with the given column kinds.
static Status raw_to_table(const CsvRaw *r, const int *numeric, const CsvOptions *opt, Table *t) {
    Status st = table_init(t, r->ncols, r->nrows, 1, r->path);
    if (st) return st;
    memcpy(t->row_line, r->row_line, (size_t)r->nrows * sizeof *t->row_line);
    for (int j = 0; j < r->ncols && !st; j++) {
        TableCol *c = &t->cols[j];
        st = numeric[j] ? table_col_numeric(t, j, r->names[j]) : table_col_categorical(t, j, r->names[j]);
        for (int i = 0; i < r->nrows && !st; i++) {
            const char *s = cell(r, i, j);
            if (is_missing(opt, s)) {
                c->missing[i] = 1;
                continue;
            }
            c->missing[i] = 0;
            if (numeric[j]) is_number(s, &c->num[i]);
            else st = table_col_level(c, s, strlen(s), &c->code[i]);
        }
    }
    if (st) table_free(t);
    return st;
}

Status csv_read_tables(const char *path, const char *path2, const CsvOptions *opt, Table *t1, Table *t2) {
    memset(t1, 0, sizeof *t1);
    if (t2) memset(t2, 0, sizeof *t2);
    if (path2 && !t2) return bl_fail(BL_ERR_USAGE, "csv_read_tables: a second path needs a second table");
    CsvRaw raw[2];
    memset(raw, 0, sizeof raw);
    int nraw = path2 ? 2 : 1, *numeric = NULL;
    Status st = BL_OK;
    for (int k = 0; k < nraw && !st; k++) st = read_raw(k ? path2 : path, opt, &raw[k]);
    if (st) goto cleanup;
    if ((st = check_unique(&raw[0]))) goto cleanup;
    if (nraw == 2) {
        if (raw[1].ncols != raw[0].ncols) {
            st = bl_fail(BL_ERR_DATA, "%s: %d columns, but %s has %d; both files need the same header", path2,
                         raw[1].ncols, path, raw[0].ncols);
            goto cleanup;
        }
        for (int j = 0; j < raw[0].ncols; j++)
            if (strcmp(raw[0].names[j], raw[1].names[j]) != 0) {
                st = bl_fail(BL_ERR_DATA, "%s: column %d is '%s', but '%s' in %s; both files need the same header",
                             path2, j + 1, raw[1].names[j], raw[0].names[j], path);
                goto cleanup;
            }
    }
    numeric = calloc((size_t)raw[0].ncols, sizeof *numeric);
    if (!numeric) {
        st = bl_fail(BL_ERR_RUN, "csv: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < opt->ncategorical_columns; i++) {
        int found = 0;
        for (int j = 0; j < raw[0].ncols && !found; j++) found = strcmp(raw[0].names[j], opt->categorical_columns[i]) == 0;
        if (!found) {
            st = bl_fail(BL_ERR_USAGE, "%s: categorical_columns names '%s', which is not a column", path,
                         opt->categorical_columns[i]);
            goto cleanup;
        }
    }
    const CsvRaw *raws[2] = {&raw[0], &raw[1]};
    for (int j = 0; j < raw[0].ncols && !st; j++) {
        int forced = 0;
        for (int i = 0; i < opt->ncategorical_columns; i++) forced |= strcmp(raw[0].names[j], opt->categorical_columns[i]) == 0;
        st = column_kind(raws, nraw, j, forced, opt, &numeric[j]);
    }
    if (!st) st = raw_to_table(&raw[0], numeric, opt, t1);
    if (!st && nraw == 2) st = raw_to_table(&raw[1], numeric, opt, t2);
cleanup:
    if (st) {
        table_free(t1);
        if (t2) table_free(t2);
    }
    free(numeric);
    raw_free(&raw[0]);
    raw_free(&raw[1]);
    return st;
}

Status csv_load_pair(const CsvOptions *opt, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!opt->path || !*opt->path) return bl_fail(BL_ERR_USAGE, "csv: no file given");
    if (!opt->label_column || !*opt->label_column)
        return bl_fail(BL_ERR_USAGE, "%s: no label_column given (a column name, or a 0-based index)", opt->path);
    Table tr, te;
    Status st = csv_read_tables(opt->path, opt->test_path, opt, &tr, opt->test_path ? &te : NULL);
    if (st) return st;
    TableSpec spec = {opt->label_column, opt->feature_columns, opt->nfeature_columns, opt->test_fraction, opt->seed};
    st = table_to_pair(&tr, opt->test_path ? &te : NULL, &spec, out);
    table_free(&tr);
    if (opt->test_path) table_free(&te);
    if (st) return st;
    if (opt->test_path) snprintf(out->source, sizeof out->source, "csv:%s,%s", opt->path, opt->test_path);
    else snprintf(out->source, sizeof out->source, "csv:%s", opt->path);
    st = ds_pair_hash(out);
    if (st) ds_pair_free(out);
    return st;
}
