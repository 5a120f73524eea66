// table.c: the in-memory table and its conversion to a records DatasetPair (rules in table.h).
#include "data/records/table.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

// ---- the table ----

Status table_init(Table *t, int ncols, int nrows, int row_lines, const char *source) {
    memset(t, 0, sizeof *t);
    snprintf(t->source, sizeof t->source, "%s", source ? source : "(table)");
    if (ncols < 1 || ncols > TABLE_MAX_COLS)
        return bl_fail(BL_ERR_DATA, "%s: %d columns (allowed 1..%d)", t->source, ncols, TABLE_MAX_COLS);
    if (nrows < 0 || nrows > TABLE_MAX_ROWS)
        return bl_fail(BL_ERR_DATA, "%s: %d rows (allowed 0..%d)", t->source, nrows, TABLE_MAX_ROWS);
    t->cols = calloc((size_t)ncols, sizeof *t->cols);
    if (row_lines) t->row_line = calloc((size_t)BL_MAX(nrows, 1), sizeof *t->row_line);
    if (!t->cols || (row_lines && !t->row_line)) {
        table_free(t);
        return bl_fail(BL_ERR_RUN, "table: out of memory for %d x %d", nrows, ncols);
    }
    t->ncols = ncols;
    t->nrows = nrows;
    return BL_OK;
}

void table_free(Table *t) {
    if (!t) return;
    for (int j = 0; j < t->ncols && t->cols; j++) {
        TableCol *c = &t->cols[j];
        free(c->name);
        free(c->num);
        free(c->code);
        free(c->missing);
        for (int k = 0; k < c->nlevels; k++) free(c->levels[k]);
        free(c->levels);
        free(c->hash);
    }
    free(t->cols);
    free(t->row_line);
    memset(t, 0, sizeof *t);
}

// Shared part of typing a column: bounds, not yet typed, the name and the missing mask.
static Status col_begin(Table *t, int j, const char *name, TableCol **out) {
    if (j < 0 || j >= t->ncols || t->cols[j].name)
        return bl_fail(BL_ERR_RUN, "table: column %d is out of range or already typed", j);
    TableCol *c = &t->cols[j];
    c->name = strdup(name ? name : "");
    c->missing = calloc((size_t)BL_MAX(t->nrows, 1), 1);
    if (!c->name || !c->missing) return bl_fail(BL_ERR_RUN, "table: out of memory");
    *out = c;
    return BL_OK;
}

Status table_col_numeric(Table *t, int j, const char *name) {
    TableCol *c = NULL;
    Status st = col_begin(t, j, name, &c);
    if (st) return st;
    c->kind = TABLE_NUMERIC;
    c->num = calloc((size_t)BL_MAX(t->nrows, 1), sizeof *c->num);
    if (!c->num) return bl_fail(BL_ERR_RUN, "table: out of memory");
    return BL_OK;
}

Status table_col_categorical(Table *t, int j, const char *name) {
    TableCol *c = NULL;
    Status st = col_begin(t, j, name, &c);
    if (st) return st;
    c->kind = TABLE_CATEGORICAL;
    c->code = malloc((size_t)BL_MAX(t->nrows, 1) * sizeof *c->code);
    if (!c->code) return bl_fail(BL_ERR_RUN, "table: out of memory");
    for (int i = 0; i < t->nrows; i++) {
        c->code[i] = -1;
        c->missing[i] = 1;
    }
    return BL_OK;
}

// FNV-1a over len bytes.
static uint32_t hash_bytes(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

// Rebuild the level index with `cap` slots (a power of two).
static Status rehash(TableCol *c, int cap) {
    int *h = malloc((size_t)cap * sizeof *h);
    if (!h) return bl_fail(BL_ERR_RUN, "table: out of memory");
    for (int i = 0; i < cap; i++) h[i] = -1;
    for (int k = 0; k < c->nlevels; k++) {
        uint32_t i = hash_bytes(c->levels[k], strlen(c->levels[k])) & (uint32_t)(cap - 1);
        while (h[i] >= 0) i = (i + 1) & (uint32_t)(cap - 1);
        h[i] = k;
    }
    free(c->hash);
    c->hash = h;
    c->hash_cap = cap;
    return BL_OK;
}

Status table_col_level(TableCol *c, const char *s, size_t len, int *code) {
    if (c->kind != TABLE_CATEGORICAL) return bl_fail(BL_ERR_RUN, "table: column '%s' is not categorical", c->name);
    if (c->hash_cap < 2 * (c->nlevels + 1)) {
        Status st = rehash(c, c->hash_cap ? 2 * c->hash_cap : 16);
        if (st) return st;
    }
    uint32_t mask = (uint32_t)(c->hash_cap - 1), i = hash_bytes(s, len) & mask;
    for (; c->hash[i] >= 0; i = (i + 1) & mask) {
        const char *l = c->levels[c->hash[i]];
        if (strlen(l) == len && memcmp(l, s, len) == 0) {
            *code = c->hash[i];
            return BL_OK;
        }
    }
    if (c->nlevels == c->cap_levels) {
        int cap = c->cap_levels ? 2 * c->cap_levels : 16;
        char **nl = realloc(c->levels, (size_t)cap * sizeof *nl);
        if (!nl) return bl_fail(BL_ERR_RUN, "table: out of memory");
        c->levels = nl;
        c->cap_levels = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return bl_fail(BL_ERR_RUN, "table: out of memory");
    memcpy(copy, s, len);
    copy[len] = '\0';
    c->levels[c->nlevels] = copy;
    c->hash[i] = c->nlevels;
    *code = c->nlevels++;
    return BL_OK;
}

int table_find(const Table *t, const char *name) {
    for (int j = 0; j < t->ncols; j++)
        if (t->cols[j].name && strcmp(t->cols[j].name, name) == 0) return j;
    return -1;
}

int table_resolve(const Table *t, const char *ref) {
    if (!ref || !*ref) return -1;
    int j = table_find(t, ref);
    if (j >= 0) return j;
    long v = 0;
    for (const char *p = ref; *p; p++) {
        if (*p < '0' || *p > '9' || v > TABLE_MAX_COLS) return -1;
        v = v * 10 + (*p - '0');
    }
    return v < t->ncols ? (int)v : -1;
}

const char *table_where(const Table *t, int r, char *buf, size_t bufsz) {
    if (t->row_line) snprintf(buf, bufsz, "line %d", t->row_line[r]);
    else snprintf(buf, bufsz, "row %d", r + 1);
    return buf;
}

// ---- conversion ----

// Copy a name into a schema slot, cut at a UTF-8 character boundary if it is too long.
static void put_name(char dst[DS_NAME_MAX], const char *a, const char *b) {
    char tmp[4 * DS_NAME_MAX];
    snprintf(tmp, sizeof tmp, b ? "%s=%s" : "%s", a, b ? b : "");
    size_t n = strlen(tmp);
    if (n > DS_NAME_MAX - 1) {
        n = DS_NAME_MAX - 1;
        while (n > 0 && ((uint8_t)tmp[n] & 0xC0) == 0x80) n--; // tmp[n] would start the cut-off part
    }
    memcpy(dst, tmp, n);
    dst[n] = '\0';
}

typedef struct {
    const char *s; // level string
    int code;      // its code in the column
} LevelRef;

static int cmp_levelref(const void *a, const void *b) {
    return strcmp(((const LevelRef *)a)->s, ((const LevelRef *)b)->s);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The classes: their keys (numeric values or level strings) in class order.
typedef struct {
    int numeric;                          // 1: label values are numbers (vals), else strings (strs)
    int k;                                // number of classes
    double vals[TABLE_MAX_CLASSES + 1];   // numeric: (k) class values, ascending
    const char *strs[TABLE_MAX_CLASSES + 1]; // strings: (k) class names, borrowed from the tables' levels
} Classes;

// Add a string class if new; fail beyond TABLE_MAX_CLASSES.
static Status classes_add_str(Classes *cl, const char *s, const Table *t, const TableCol *c) {
    for (int i = 0; i < cl->k; i++)
        if (strcmp(cl->strs[i], s) == 0) return BL_OK;
    if (cl->k == TABLE_MAX_CLASSES)
        return bl_fail(BL_ERR_DATA, "%s: label column '%s' has more than %d distinct values (is it really the label?)",
                       t->source, c->name, TABLE_MAX_CLASSES);
    cl->strs[cl->k++] = s;
    return BL_OK;
}

// Collect the classes of label column lc of t (only levels some row uses), appending to cl.
static Status classes_collect(Classes *cl, const Table *t, int lc) {
    const TableCol *c = &t->cols[lc];
    char where[64];
    for (int r = 0; r < t->nrows; r++)
        if (c->missing[r])
            return bl_fail(BL_ERR_DATA, "%s: %s, label column '%s': the label is missing (every row needs one)",
                           t->source, table_where(t, r, where, sizeof where), c->name);
    if (c->kind == TABLE_NUMERIC) {
        for (int r = 0; r < t->nrows; r++) {
            double v = c->num[r];
            if (!isfinite(v))
                return bl_fail(BL_ERR_DATA, "%s: %s, label column '%s': the label is not a finite number", t->source,
                               table_where(t, r, where, sizeof where), c->name);
            int found = 0;
            for (int i = 0; i < cl->k && !found; i++) found = cl->vals[i] == v;
            if (found) continue;
            if (cl->k == TABLE_MAX_CLASSES)
                return bl_fail(BL_ERR_DATA,
                               "%s: label column '%s' has more than %d distinct values (is it really the label?)",
                               t->source, c->name, TABLE_MAX_CLASSES);
            cl->vals[cl->k++] = v;
        }
        return BL_OK;
    }
    uint8_t *used = calloc((size_t)BL_MAX(c->nlevels, 1), 1);
    if (!used) return bl_fail(BL_ERR_RUN, "table: out of memory");
    for (int r = 0; r < t->nrows; r++) used[c->code[r]] = 1;
    Status st = BL_OK;
    for (int l = 0; l < c->nlevels && !st; l++)
        if (used[l]) st = classes_add_str(cl, c->levels[l], t, c);
    free(used);
    return st;
}

// Class of every row of t's label column lc into cls (nrows).
static void classes_map(const Classes *cl, const Table *t, int lc, int *cls) {
    const TableCol *c = &t->cols[lc];
    for (int r = 0; r < t->nrows; r++) {
        int k = 0;
        if (cl->numeric) {
            while (cl->vals[k] != c->num[r]) k++;
        } else {
            while (strcmp(cl->strs[k], c->levels[c->code[r]]) != 0) k++;
        }
        cls[r] = k;
    }
}

// How one feature column becomes encoded features.
typedef struct {
    int col;        // column in the training table
    int tcol;       // column in the test table (-1 when the test rows come from the training table)
    int offset;     // first encoded feature
    int width;      // encoded features: 1 (numeric) or the number of training levels (categorical)
    int *slot;      // categorical: (train column nlevels) one-hot slot of each level, -1 = not a training level
    int *tslot;     // categorical with a test table: (test column nlevels) the same by level string
    int *order;     // categorical: (width) the training column's level code of each slot
} FeatPlan;

static void plans_free(FeatPlan *fp, int nf) {
    for (int f = 0; fp && f < nf; f++) {
        free(fp[f].slot);
        free(fp[f].tslot);
        free(fp[f].order);
    }
    free(fp);
}

// Plan a categorical feature: levels used by the training rows, ordered (factor order or bytewise).
static Status plan_categorical(FeatPlan *p, const Table *tr, const int *tr_rows, int ntr, const Table *te) {
    const TableCol *c = &tr->cols[p->col];
    int nl = c->nlevels;
    p->slot = malloc((size_t)BL_MAX(nl, 1) * sizeof *p->slot);
    p->order = malloc((size_t)BL_MAX(nl, 1) * sizeof *p->order);
    LevelRef *refs = malloc((size_t)BL_MAX(nl, 1) * sizeof *refs);
    if (!p->slot || !p->order || !refs) {
        free(refs);
        return bl_fail(BL_ERR_RUN, "table: out of memory");
    }
    for (int l = 0; l < nl; l++) p->slot[l] = -1;
    for (int i = 0; i < ntr; i++) {
        int code = c->code[tr_rows[i]];
        if (code >= 0) p->slot[code] = 0; // mark used
    }
    int w = 0;
    for (int l = 0; l < nl; l++)
        if (p->slot[l] == 0) refs[w++] = (LevelRef){c->levels[l], l};
    if (!c->factor_order) qsort(refs, (size_t)w, sizeof *refs, cmp_levelref);
    for (int s = 0; s < w; s++) {
        p->slot[refs[s].code] = s;
        p->order[s] = refs[s].code;
    }
    free(refs);
    p->width = w;
    if (p->tcol >= 0) {
        const TableCol *tc = &te->cols[p->tcol];
        p->tslot = malloc((size_t)BL_MAX(tc->nlevels, 1) * sizeof *p->tslot);
        if (!p->tslot) return bl_fail(BL_ERR_RUN, "table: out of memory");
        for (int l = 0; l < tc->nlevels; l++) {
            p->tslot[l] = -1;
            for (int s = 0; s < w; s++)
                if (strcmp(tc->levels[l], c->levels[p->order[s]]) == 0) p->tslot[l] = s;
        }
    }
    return BL_OK;
}

// Encode row r of t into x (nfeat) and m (nfeat). `test` says whether the row is a test row of a separate test
// table (use tcol/tslot) and `is_test` whether it is a test row at all (for the unseen-level message).
static Status encode_row(const Table *t, int r, const FeatPlan *fp, int nf, int sep_test, int is_test, float *x,
                         uint8_t *m) {
    char where[64];
    for (int f = 0; f < nf; f++) {
        const FeatPlan *p = &fp[f];
        const TableCol *c = &t->cols[sep_test ? p->tcol : p->col];
        if (c->kind == TABLE_NUMERIC) {
            if (c->missing[r]) {
                x[p->offset] = 0.0f;
                m[p->offset] = 1;
                continue;
            }
            double v = c->num[r];
            if (!isfinite(v) || fabs(v) > FLT_MAX)
                return bl_fail(BL_ERR_DATA, "%s: %s, column '%s': value %g is %s; only finite values are allowed "
                               "(write missing values as one of the missing_values markers)",
                               t->source, table_where(t, r, where, sizeof where), c->name, v,
                               isfinite(v) ? "outside the float32 range" : "not finite");
            x[p->offset] = (float)v;
            continue;
        }
        for (int s = 0; s < p->width; s++) x[p->offset + s] = 0.0f;
        if (c->missing[r]) {
            for (int s = 0; s < p->width; s++) m[p->offset + s] = 1;
            continue;
        }
        int s = sep_test ? p->tslot[c->code[r]] : p->slot[c->code[r]];
        if (s < 0) // only test rows can get here: every training level has a slot
            return bl_fail(BL_ERR_DATA, "%s: %s, column '%s': level '%s' does not occur in the training %s; "
                           "categorical levels come from the training rows only (an unseen level is an error, not an "
                           "all-zeros row): fix the value, mark it missing, or move the row",
                           t->source, table_where(t, r, where, sizeof where), c->name, c->levels[c->code[r]],
                           is_test ? "split" : "rows");
        x[p->offset + s] = 1.0f;
    }
    return BL_OK;
}

// Stratified split of t's rows (classes cls, k classes) into train/test row lists in file order.
static Status split_rows(const Table *t, const int *cls, int k, double frac, uint64_t seed, int **tr_rows, int *ntr,
                         int **te_rows, int *nte) {
    int n = t->nrows;
    int *buf = malloc((size_t)BL_MAX(n, 1) * sizeof *buf);
    uint8_t *is_test = calloc((size_t)BL_MAX(n, 1), 1);
    *tr_rows = malloc((size_t)BL_MAX(n, 1) * sizeof **tr_rows);
    *te_rows = malloc((size_t)BL_MAX(n, 1) * sizeof **te_rows);
    if (!buf || !is_test || !*tr_rows || !*te_rows) {
        free(buf);
        free(is_test);
        return bl_fail(BL_ERR_RUN, "table: out of memory");
    }
    Rng rng = rng_stream(seed, "split");
    for (int c = 0; c < k; c++) {
        int nc = 0;
        for (int r = 0; r < n; r++)
            if (cls[r] == c) buf[nc++] = r;
        rng_shuffle_int(&rng, buf, nc);
        int ntest = (int)floor(frac * nc + 0.5);
        for (int i = 0; i < ntest; i++) is_test[buf[i]] = 1;
    }
    *ntr = *nte = 0;
    for (int r = 0; r < n; r++) {
        if (is_test[r]) (*te_rows)[(*nte)++] = r;
        else (*tr_rows)[(*ntr)++] = r;
    }
    free(buf);
    free(is_test);
    return BL_OK;
}

// Fill dataset d with rows `rows` (n) of table t.
static Status fill(Dataset *d, const Table *t, const int *rows, int n, const int *cls, const FeatPlan *fp, int nf,
                   int sep_test, int is_test) {
    int F = d->c;
    for (int i = 0; i < n; i++) {
        int r = rows[i];
        Status st = encode_row(t, r, fp, nf, sep_test, is_test, d->features + (size_t)i * F,
                               d->missing + (size_t)i * F);
        if (st) return st;
        d->labels[i] = (uint8_t)cls[r];
        d->orig_index[i] = r;
    }
    return BL_OK;
}

// Resolve the label and feature columns of the training table into lc and fp[*].col.
static Status resolve_columns(const Table *tr, const TableSpec *spec, int *lc, FeatPlan **fp_out, int *nf_out) {
    *fp_out = NULL;
    *nf_out = 0;
    *lc = table_resolve(tr, spec->label);
    if (*lc < 0)
        return bl_fail(BL_ERR_DATA, "%s: label column '%s' not found (the file has %d columns; first: '%s')",
                       tr->source, spec->label ? spec->label : "(none)", tr->ncols, tr->cols[0].name);
    int nf = spec->features ? spec->nfeatures : tr->ncols - 1;
    if (nf < 1)
        return bl_fail(BL_ERR_DATA, "%s: no feature columns (the table has only the label column '%s')",
                       tr->source, tr->cols[*lc].name);
    FeatPlan *fp = calloc((size_t)nf, sizeof *fp);
    if (!fp) return bl_fail(BL_ERR_RUN, "table: out of memory");
    *fp_out = fp;
    *nf_out = nf;
    for (int f = 0, j = 0; f < nf; f++) {
        fp[f].tcol = -1;
        if (spec->features) {
            fp[f].col = table_resolve(tr, spec->features[f]);
            if (fp[f].col < 0)
                return bl_fail(BL_ERR_DATA, "%s: feature column '%s' not found", tr->source, spec->features[f]);
            if (fp[f].col == *lc)
                return bl_fail(BL_ERR_USAGE, "%s: column '%s' is both the label and a feature", tr->source,
                               tr->cols[*lc].name);
            for (int g = 0; g < f; g++)
                if (fp[g].col == fp[f].col)
                    return bl_fail(BL_ERR_USAGE, "%s: feature column '%s' is listed twice", tr->source,
                                   tr->cols[fp[f].col].name);
        } else {
            if (j == *lc) j++;
            fp[f].col = j++;
        }
    }
    return BL_OK;
}

// Find each used column of the training table in the test table, by name and kind.
static Status match_test_columns(const Table *tr, const Table *te, int lc, int *tlc, FeatPlan *fp, int nf) {
    for (int f = -1; f < nf; f++) {
        int col = f < 0 ? lc : fp[f].col;
        const TableCol *c = &tr->cols[col];
        int tc = table_find(te, c->name);
        if (tc < 0) return bl_fail(BL_ERR_DATA, "%s: column '%s' (in %s) is missing", te->source, c->name, tr->source);
        if (te->cols[tc].kind != c->kind)
            return bl_fail(BL_ERR_DATA, "%s: column '%s' is %s here but %s in %s", te->source, c->name,
                           te->cols[tc].kind == TABLE_NUMERIC ? "numeric" : "categorical",
                           c->kind == TABLE_NUMERIC ? "numeric" : "categorical", tr->source);
        if (f < 0) *tlc = tc;
        else fp[f].tcol = tc;
    }
    return BL_OK;
}

Status table_to_pair(const Table *tr, const Table *te, const TableSpec *spec, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!te && !(spec->test_fraction > 0.0 && spec->test_fraction < 1.0))
        return bl_fail(BL_ERR_USAGE, "test_fraction = %g: must be in (0, 1) when no test file is given",
                       spec->test_fraction);
    int lc = -1, tlc = -1, nf = 0, ntr = 0, nte = 0;
    FeatPlan *fp = NULL;
    int *cls = NULL, *tcls = NULL, *tr_rows = NULL, *te_rows = NULL;
    DsSchema *schema = NULL;
    Classes *cl = calloc(1, sizeof *cl);
    Status st = cl ? BL_OK : bl_fail(BL_ERR_RUN, "table: out of memory");
    if (!st) st = resolve_columns(tr, spec, &lc, &fp, &nf);
    if (!st && te) st = match_test_columns(tr, te, lc, &tlc, fp, nf);
    if (st) goto cleanup;

    // Classes over both splits.
    cl->numeric = tr->cols[lc].kind == TABLE_NUMERIC;
    st = classes_collect(cl, tr, lc);
    if (!st && te) st = classes_collect(cl, te, tlc);
    if (st) goto cleanup;
    if (cl->numeric) qsort(cl->vals, (size_t)cl->k, sizeof cl->vals[0], cmp_double);
    else if (!tr->cols[lc].factor_order) {
        LevelRef refs[TABLE_MAX_CLASSES + 1];
        for (int i = 0; i < cl->k; i++) refs[i] = (LevelRef){cl->strs[i], i};
        qsort(refs, (size_t)cl->k, sizeof refs[0], cmp_levelref);
        for (int i = 0; i < cl->k; i++) cl->strs[i] = refs[i].s;
    }
    cls = malloc((size_t)BL_MAX(tr->nrows, 1) * sizeof *cls);
    if (te) tcls = malloc((size_t)BL_MAX(te->nrows, 1) * sizeof *tcls);
    if (!cls || (te && !tcls)) {
        st = bl_fail(BL_ERR_RUN, "table: out of memory");
        goto cleanup;
    }
    classes_map(cl, tr, lc, cls);
    if (te) classes_map(cl, te, tlc, tcls);

    // Rows of each split.
    if (te) {
        ntr = tr->nrows;
        nte = te->nrows;
        tr_rows = malloc((size_t)BL_MAX(ntr, 1) * sizeof *tr_rows);
        te_rows = malloc((size_t)BL_MAX(nte, 1) * sizeof *te_rows);
        if (!tr_rows || !te_rows) {
            st = bl_fail(BL_ERR_RUN, "table: out of memory");
            goto cleanup;
        }
        for (int r = 0; r < ntr; r++) tr_rows[r] = r;
        for (int r = 0; r < nte; r++) te_rows[r] = r;
    } else {
        st = split_rows(tr, cls, cl->k, spec->test_fraction, spec->seed, &tr_rows, &ntr, &te_rows, &nte);
        if (st) goto cleanup;
    }
    if (ntr == 0 || nte == 0) {
        st = bl_fail(BL_ERR_DATA, "%s: the %s set is empty (%d data rows%s)", ntr == 0 ? tr->source : (te ? te->source : tr->source),
                     ntr == 0 ? "training" : "test", ntr == 0 ? tr->nrows : (te ? te->nrows : tr->nrows),
                     te ? "" : "; raise test_fraction or add rows");
        goto cleanup;
    }

    // Feature layout, one-hot levels from the training rows.
    int F = 0;
    for (int f = 0; f < nf; f++) {
        fp[f].offset = F;
        if (tr->cols[fp[f].col].kind == TABLE_NUMERIC) fp[f].width = 1;
        else if ((st = plan_categorical(&fp[f], tr, tr_rows, ntr, te))) goto cleanup;
        F += fp[f].width;
    }
    if (F < 1) {
        st = bl_fail(BL_ERR_DATA, "%s: the feature columns encode to no features (categorical columns with no value "
                     "in the training rows)", tr->source);
        goto cleanup;
    }

    // Schema and the two datasets.
    if ((st = ds_schema_new(F, cl->k, &schema))) goto cleanup;
    for (int f = 0; f < nf; f++) {
        const TableCol *c = &tr->cols[fp[f].col];
        if (c->kind == TABLE_NUMERIC) put_name(schema->feature_names[fp[f].offset], c->name, NULL);
        else
            for (int s = 0; s < fp[f].width; s++)
                put_name(schema->feature_names[fp[f].offset + s], c->name, c->levels[fp[f].order[s]]);
    }
    for (int k = 0; k < cl->k; k++) {
        char num[64];
        if (cl->numeric) snprintf(num, sizeof num, "%g", cl->vals[k]);
        put_name(schema->class_names[k], cl->numeric ? num : cl->strs[k], NULL);
    }
    out->schema = schema;
    schema = NULL;
    if ((st = ds_alloc_records(&out->train, ntr, F, cl->k, out->schema))) goto cleanup;
    if ((st = ds_alloc_records(&out->test, nte, F, cl->k, out->schema))) goto cleanup;
    if ((st = fill(&out->train, tr, tr_rows, ntr, cls, fp, nf, 0, 0))) goto cleanup;
    if (te) st = fill(&out->test, te, te_rows, nte, tcls, fp, nf, 1, 1);
    else st = fill(&out->test, tr, te_rows, nte, cls, fp, nf, 0, 1);

cleanup:
    if (st) ds_pair_free(out);
    ds_schema_free(schema);
    plans_free(fp, nf);
    free(cls);
    free(tcls);
    free(tr_rows);
    free(te_rows);
    free(cl);
    return st;
}
