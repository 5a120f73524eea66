// rda.c: decompress an .rda file, parse the R serialization subset into a small node tree, then turn the chosen
// data frame into a Table (the subset and its rules are in rda.h).
#include "data/records/rda.h"

#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

// SEXPTYPE codes and serialization pseudo-types (R's Rinternals.h and serialize.c).
enum {
    RT_SYM = 1,
    RT_LIST = 2,
    RT_CHAR = 9,
    RT_LGL = 10,
    RT_INT = 13,
    RT_REAL = 14,
    RT_STR = 16,
    RT_VEC = 19,
    RT_NILVALUE = 254,
    RT_REF = 255,
};
#define RDA_HAS_ATTR (1 << 9)
#define RDA_HAS_TAG (1 << 10)
#define RDA_NA_INT INT_MIN

// One parsed item.
typedef struct RNode {
    int type;              // SEXPTYPE (RT_*)
    size_t offset;         // byte offset of its flags in the decompressed stream
    int n;                 // vectors: length
    int *ints;             // LGLSXP / INTSXP: (n) values
    double *reals;         // REALSXP: (n) values
    char *str;             // CHARSXP: the bytes, NUL-terminated; NULL for NA_STRING
    struct RNode **elts;   // STRSXP (CHARSXP nodes) / VECSXP (any nodes): (n)
    struct RNode *attr;    // vectors and pairlist cells: the attribute pairlist, or NULL
    struct RNode *tag;     // LISTSXP: the tag (a symbol, owned by the reference table), or NULL
    struct RNode *car;     // LISTSXP: the value; SYMSXP: its CHARSXP name
    struct RNode *cdr;     // LISTSXP: the next cell, or NULL
} RNode;

// The decompressed stream and the parser state.
typedef struct {
    const char *what;      // file name for messages
    const uint8_t *p;      // decompressed bytes
    size_t len;            // their count
    size_t pos;            // read position
    int depth;             // current item nesting
    RNode **refs;          // (nrefs) symbols, in reading order (REFSXP index i is refs[i - 1]); owned here
    int nrefs;             // symbols read
    int cap_refs;          // slots allocated in refs
} Rd;

// Free a pairlist chain iteratively (long chains must not recurse), or any other node.
static void node_free(RNode *x) {
    while (x) {
        if (x->type == RT_SYM) return; // symbols belong to the reference table
        RNode *next = x->type == RT_LIST ? x->cdr : NULL;
        free(x->ints);
        free(x->reals);
        free(x->str);
        if (x->elts)
            for (int i = 0; i < x->n; i++) node_free(x->elts[i]);
        free(x->elts);
        node_free(x->attr);
        node_free(x->tag); // a symbol (kept) unless a corrupt file put something else there
        node_free(x->car);
        free(x);
        x = next;
    }
}

static Status need(Rd *r, size_t bytes, size_t at) {
    if (bytes > r->len - r->pos)
        return bl_fail(BL_ERR_DATA, "%s: truncated: the item at byte offset %zu needs %zu more bytes, only %zu left",
                       r->what, at, bytes, r->len - r->pos);
    return BL_OK;
}

static uint32_t be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static Status read_int(Rd *r, int *v, size_t at) {
    Status st = need(r, 4, at);
    if (st) return st;
    *v = (int)be32(r->p + r->pos); // two's complement on every platform we build for
    r->pos += 4;
    return BL_OK;
}

// A vector length: 0..INT_MAX, each element at least elem_bytes long in the stream.
static Status read_length(Rd *r, int *n, size_t elem_bytes, size_t at) {
    Status st = read_int(r, n, at);
    if (st) return st;
    if (*n == -1)
        return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: a long vector (2^31 or more elements) is not supported",
                       r->what, at);
    if (*n < 0) return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: negative length %d", r->what, at, *n);
    if ((size_t)*n > (r->len - r->pos) / elem_bytes)
        return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: length %d needs at least %zu bytes, only %zu left "
                       "(truncated or corrupt)", r->what, at, *n, (size_t)*n * elem_bytes, r->len - r->pos);
    return BL_OK;
}

static Status new_node(int type, size_t at, RNode **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return bl_fail(BL_ERR_RUN, "rda: out of memory");
    (*out)->type = type;
    (*out)->offset = at;
    return BL_OK;
}

static Status read_item(Rd *r, RNode **out);

// The body of a CHARSXP whose flags were read at `at`.
static Status read_charsxp(Rd *r, RNode *x, size_t at) {
    int n;
    Status st = read_int(r, &n, at);
    if (st) return st;
    if (n == -1) return BL_OK; // NA_STRING: str stays NULL
    if (n < 0) return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: string length %d", r->what, at, n);
    if ((st = need(r, (size_t)n, at))) return st;
    x->str = malloc((size_t)n + 1);
    if (!x->str) return bl_fail(BL_ERR_RUN, "rda: out of memory");
    memcpy(x->str, r->p + r->pos, (size_t)n);
    x->str[n] = '\0';
    r->pos += (size_t)n;
    return BL_OK;
}

// The payload of a vector type whose flags were read at `at`.
static Status read_vector(Rd *r, RNode *x, size_t at) {
    Status st;
    switch (x->type) {
    case RT_LGL:
    case RT_INT:
        if ((st = read_length(r, &x->n, 4, at))) return st;
        x->ints = malloc((size_t)BL_MAX(x->n, 1) * sizeof *x->ints);
        if (!x->ints) return bl_fail(BL_ERR_RUN, "rda: out of memory");
        for (int i = 0; i < x->n; i++, r->pos += 4) x->ints[i] = (int)be32(r->p + r->pos);
        return BL_OK;
    case RT_REAL:
        if ((st = read_length(r, &x->n, 8, at))) return st;
        x->reals = malloc((size_t)BL_MAX(x->n, 1) * sizeof *x->reals);
        if (!x->reals) return bl_fail(BL_ERR_RUN, "rda: out of memory");
        for (int i = 0; i < x->n; i++, r->pos += 8) {
            uint64_t bits = (uint64_t)be32(r->p + r->pos) << 32 | be32(r->p + r->pos + 4);
            memcpy(&x->reals[i], &bits, sizeof bits);
        }
        return BL_OK;
    case RT_STR:
    case RT_VEC:
        // a CHARSXP is at least 8 bytes (flags, length), any item at least 4 (flags)
        if ((st = read_length(r, &x->n, x->type == RT_STR ? 8 : 4, at))) return st;
        x->elts = calloc((size_t)BL_MAX(x->n, 1), sizeof *x->elts);
        if (!x->elts) return bl_fail(BL_ERR_RUN, "rda: out of memory");
        for (int i = 0; i < x->n; i++) {
            size_t eat = r->pos;
            if ((st = read_item(r, &x->elts[i]))) return st;
            if (x->type == RT_STR && (!x->elts[i] || x->elts[i]->type != RT_CHAR))
                return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: element %d of a character vector is type %d, "
                               "not a string (CHARSXP 9)", r->what, eat, i + 1, x->elts[i] ? x->elts[i]->type : 0);
        }
        return BL_OK;
    }
    return bl_fail(BL_ERR_RUN, "rda: read_vector on type %d", x->type);
}

// A pairlist starting with flags already read (at `at`): cells are read in a loop along the cdr.
static Status read_pairlist(Rd *r, int flags, size_t at, RNode **out) {
    RNode **link = out;
    Status st;
    for (;;) {
        RNode *cell;
        if ((st = new_node(RT_LIST, at, &cell))) return st;
        *link = cell;
        if ((flags & RDA_HAS_ATTR) && (st = read_item(r, &cell->attr))) return st;
        if (flags & RDA_HAS_TAG) {
            size_t tat = r->pos;
            if ((st = read_item(r, &cell->tag))) return st;
            if (cell->tag && cell->tag->type != RT_SYM)
                return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: a pairlist tag of type %d (expected a symbol)",
                               r->what, tat, cell->tag->type);
        }
        if ((st = read_item(r, &cell->car))) return st;
        // the cdr: another cell continues the loop, anything else ends the list
        at = r->pos;
        if ((st = read_int(r, &flags, at))) return st;
        if ((flags & 255) != RT_LIST) {
            r->pos = at;
            return read_item(r, &cell->cdr);
        }
        link = &cell->cdr;
    }
}

// ReadItem: one item and everything below it. NILVALUE gives *out = NULL; symbols are borrowed from r->refs.
static Status read_item(Rd *r, RNode **out) {
    *out = NULL;
    size_t at = r->pos;
    int flags;
    Status st = read_int(r, &flags, at);
    if (st) return st;
    int type = flags & 255;
    if (++r->depth > RDA_MAX_DEPTH) {
        r->depth--;
        return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: items nested deeper than %d", r->what, at, RDA_MAX_DEPTH);
    }
    RNode *x = NULL;
    switch (type) {
    case RT_NILVALUE:
        break;
    case RT_REF: {
        int idx = (int)((uint32_t)flags >> 8);
        if (idx == 0 && (st = read_int(r, &idx, at))) break;
        if (idx < 1 || idx > r->nrefs) {
            st = bl_fail(BL_ERR_DATA, "%s: byte offset %zu: reference %d to an object not read yet (%d known)",
                         r->what, at, idx, r->nrefs);
            break;
        }
        *out = r->refs[idx - 1];
        break;
    }
    case RT_SYM: {
        RNode *name = NULL;
        size_t cat = r->pos;
        if ((st = read_item(r, &name))) {
            node_free(name);
            break;
        }
        if (!name || name->type != RT_CHAR || !name->str) {
            node_free(name);
            st = bl_fail(BL_ERR_DATA, "%s: byte offset %zu: a symbol whose name is not a string", r->what, cat);
            break;
        }
        if (r->nrefs == r->cap_refs) {
            int cap = r->cap_refs ? 2 * r->cap_refs : 32;
            RNode **nr = realloc(r->refs, (size_t)cap * sizeof *nr);
            if (!nr) {
                node_free(name);
                st = bl_fail(BL_ERR_RUN, "rda: out of memory");
                break;
            }
            r->refs = nr;
            r->cap_refs = cap;
        }
        if ((st = new_node(RT_SYM, at, &x))) {
            node_free(name);
            break;
        }
        x->car = name;
        r->refs[r->nrefs++] = x;
        *out = x;
        break;
    }
    case RT_LIST:
        st = read_pairlist(r, flags, at, out);
        break;
    case RT_CHAR:
    case RT_LGL:
    case RT_INT:
    case RT_REAL:
    case RT_STR:
    case RT_VEC:
        if ((st = new_node(type, at, &x))) break;
        *out = x;
        st = type == RT_CHAR ? read_charsxp(r, x, at) : read_vector(r, x, at);
        if (!st && (flags & RDA_HAS_ATTR)) st = read_item(r, &x->attr);
        break;
    default:
        st = bl_fail(BL_ERR_DATA, "%s: byte offset %zu: R type %d is outside the supported subset (data frames of "
                     "numeric, integer, logical, factor and character columns: types 1, 2, 9, 10, 13, 14, 16, 19, "
                     "254, 255)", r->what, at, type);
    }
    r->depth--;
    return st;
}

// ---- decompression ----

// Append `n` bytes of decoder output capacity to *buf.
static Status grow_out(uint8_t **buf, size_t *cap, const char *what) {
    if ((long long)*cap >= RDA_MAX_BYTES)
        return bl_fail(BL_ERR_DATA, "%s: decompresses to more than %lld bytes; refused", what, RDA_MAX_BYTES);
    size_t nc = *cap ? 2 * *cap : 1 << 16;
    if ((long long)nc > RDA_MAX_BYTES) nc = (size_t)RDA_MAX_BYTES;
    uint8_t *nb = realloc(*buf, nc);
    if (!nb) return bl_fail(BL_ERR_RUN, "%s: out of memory decompressing", what);
    *buf = nb;
    *cap = nc;
    return BL_OK;
}

static Status unxz(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *outlen) {
    lzma_stream z = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&z, 1u << 30, LZMA_CONCATENATED) != LZMA_OK)
        return bl_fail(BL_ERR_RUN, "%s: liblzma could not start", what);
    uint8_t *buf = NULL;
    size_t cap = 0;
    Status st = BL_OK;
    z.next_in = in;
    z.avail_in = len;
    for (;;) {
        if (z.total_out == cap && (st = grow_out(&buf, &cap, what))) break;
        z.next_out = buf + z.total_out;
        z.avail_out = cap - z.total_out;
        lzma_ret ret = lzma_code(&z, LZMA_FINISH);
        if (ret == LZMA_STREAM_END) break;
        if (ret != LZMA_OK) {
            st = bl_fail(BL_ERR_DATA, "%s: corrupt or truncated xz data (liblzma error %d after %llu compressed "
                         "bytes)", what, (int)ret, (unsigned long long)z.total_in);
            break;
        }
    }
    *outlen = (size_t)z.total_out;
    lzma_end(&z);
    if (st) free(buf);
    else *out = buf;
    return st;
}

static Status ungzip(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *outlen) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) return bl_fail(BL_ERR_RUN, "%s: zlib could not start", what);
    uint8_t *buf = NULL;
    size_t cap = 0, total = 0;
    Status st = BL_OK;
    z.next_in = (Bytef *)in;
    size_t left = len;
    for (;;) {
        if (total == cap && (st = grow_out(&buf, &cap, what))) break;
        uInt in_chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        uInt out_chunk = cap - total > (1u << 30) ? (1u << 30) : (uInt)(cap - total);
        z.avail_in = in_chunk;
        z.next_out = buf + total;
        z.avail_out = out_chunk;
        int ret = inflate(&z, Z_NO_FLUSH);
        left -= in_chunk - z.avail_in;
        total += out_chunk - z.avail_out;
        if (ret == Z_STREAM_END) {
            if (left == 0) break;
            if (inflateReset(&z) != Z_OK) { // another gzip member follows
                st = bl_fail(BL_ERR_DATA, "%s: corrupt gzip data", what);
                break;
            }
            continue;
        }
        if (ret != Z_OK && !(ret == Z_BUF_ERROR && z.avail_out == 0)) {
            st = bl_fail(BL_ERR_DATA, "%s: corrupt or truncated gzip data (zlib error %d%s%s)", what, ret,
                         z.msg ? ": " : "", z.msg ? z.msg : "");
            break;
        }
        if (left == 0 && z.avail_out != 0) {
            st = bl_fail(BL_ERR_DATA, "%s: truncated gzip data (the stream ends early)", what);
            break;
        }
    }
    inflateEnd(&z);
    *outlen = total;
    if (st) free(buf);
    else *out = buf;
    return st;
}

// ---- data frame -> Table ----

static const char *sym_name(const RNode *sym) { return sym && sym->car ? sym->car->str : NULL; }

// The attribute `name` of x, or NULL.
static const RNode *attr_get(const RNode *x, const char *name) {
    for (const RNode *c = x ? x->attr : NULL; c; c = c->cdr) {
        if (c->type != RT_LIST) return NULL;
        const char *s = sym_name(c->tag);
        if (s && strcmp(s, name) == 0) return c->car;
    }
    return NULL;
}

// 1 when x has a class attribute containing `cls`.
static int has_class(const RNode *x, const char *cls) {
    const RNode *c = attr_get(x, "class");
    if (!c || c->type != RT_STR) return 0;
    for (int i = 0; i < c->n; i++)
        if (c->elts[i]->str && strcmp(c->elts[i]->str, cls) == 0) return 1;
    return 0;
}

static Status frame_to_table(const RNode *df, const char *name, const char *what, Table *t) {
    if (!df || df->type != RT_VEC || !has_class(df, "data.frame"))
        return bl_fail(BL_ERR_DATA, "%s: object '%s' (byte offset %zu) is not a data.frame (R type %d)", what, name,
                       df ? df->offset : 0, df ? df->type : 0);
    const RNode *names = attr_get(df, "names");
    if (!names || names->type != RT_STR || names->n != df->n)
        return bl_fail(BL_ERR_DATA, "%s: data.frame '%s' has no names attribute for its %d columns", what, name, df->n);
    const RNode *rn = attr_get(df, "row.names");
    int nrows;
    if (rn && rn->type == RT_INT && rn->n == 2 && rn->ints[0] == RDA_NA_INT && rn->ints[1] != RDA_NA_INT)
        nrows = rn->ints[1] < 0 ? -rn->ints[1] : rn->ints[1]; // compact c(NA, -n)
    else if (rn && (rn->type == RT_INT || rn->type == RT_STR))
        nrows = rn->n;
    else
        return bl_fail(BL_ERR_DATA, "%s: data.frame '%s' has no usable row.names attribute", what, name);
    Status st = table_init(t, df->n, nrows, 0, what);
    if (st) return st;
    for (int j = 0; j < df->n && !st; j++) {
        const RNode *col = df->elts[j];
        char cname[32];
        const char *cn = names->elts[j]->str;
        if (!cn) snprintf(cname, sizeof cname, "V%d", j + 1), cn = cname;
        if (!col || (col->type != RT_REAL && col->type != RT_INT && col->type != RT_LGL && col->type != RT_STR)) {
            st = bl_fail(BL_ERR_DATA, "%s: column '%s' (byte offset %zu) is R type %d; supported columns are numeric "
                         "(14), integer (13), logical (10), factor and character (16)", what, cn,
                         col ? col->offset : 0, col ? col->type : 0);
            break;
        }
        if (col->n != nrows) {
            st = bl_fail(BL_ERR_DATA, "%s: column '%s' (byte offset %zu) has %d values, the data.frame %d rows", what,
                         cn, col->offset, col->n, nrows);
            break;
        }
        TableCol *c = &t->cols[j];
        int factor = col->type == RT_INT && has_class(col, "factor");
        if (factor || col->type == RT_STR) {
            if ((st = table_col_categorical(t, j, cn))) break;
            if (col->type == RT_STR) {
                for (int i = 0; i < nrows && !st; i++) {
                    const char *s = col->elts[i]->str;
                    if (!s) continue; // NA_STRING: missing
                    c->missing[i] = 0;
                    st = table_col_level(c, s, strlen(s), &c->code[i]);
                }
                continue;
            }
            c->factor_order = 1;
            const RNode *lv = attr_get(col, "levels");
            if (!lv || lv->type != RT_STR) {
                st = bl_fail(BL_ERR_DATA, "%s: factor column '%s' (byte offset %zu) has no levels", what, cn,
                             col->offset);
                break;
            }
            int *map = malloc((size_t)BL_MAX(lv->n, 1) * sizeof *map);
            if (!map) {
                st = bl_fail(BL_ERR_RUN, "rda: out of memory");
                break;
            }
            for (int l = 0; l < lv->n && !st; l++) {
                const char *s = lv->elts[l]->str;
                if (!s) st = bl_fail(BL_ERR_DATA, "%s: factor column '%s': level %d is NA", what, cn, l + 1);
                else st = table_col_level(c, s, strlen(s), &map[l]);
            }
            for (int i = 0; i < nrows && !st; i++) {
                int v = col->ints[i];
                if (v == RDA_NA_INT) continue;
                if (v < 1 || v > lv->n) {
                    st = bl_fail(BL_ERR_DATA, "%s: factor column '%s', row %d: code %d outside 1..%d", what, cn,
                                 i + 1, v, lv->n);
                    break;
                }
                c->code[i] = map[v - 1];
                c->missing[i] = 0;
            }
            free(map);
            continue;
        }
        if ((st = table_col_numeric(t, j, cn))) break;
        for (int i = 0; i < nrows; i++) {
            if (col->type == RT_REAL) {
                double v = col->reals[i];
                if (isnan(v)) c->missing[i] = 1; // NA_real_ is a NaN; any NaN counts as missing
                else c->num[i] = v;
            } else {
                int v = col->ints[i];
                if (v == RDA_NA_INT) c->missing[i] = 1;
                else c->num[i] = v;
            }
        }
    }
    if (st) table_free(t);
    return st;
}

// Parse the decompressed stream and convert the chosen object.
static Status parse(Rd *r, const char *object, Table *out) {
    static const char *const magics[] = {"RDX2\n", "RDX3\n"};
    if (r->len < 7 || (memcmp(r->p, magics[0], 5) != 0 && memcmp(r->p, magics[1], 5) != 0)) {
        if (r->len >= 4 && (memcmp(r->p, "RDA", 3) == 0 || memcmp(r->p, "RDB", 3) == 0))
            return bl_fail(BL_ERR_DATA, "%s: an ASCII or native-binary R save (%.4s); only the default XDR format "
                           "(RDX2/RDX3) is supported: re-save it with save(..., ascii = FALSE)", r->what,
                           (const char *)r->p);
        return bl_fail(BL_ERR_DATA, "%s: not an R data file (no RDX2/RDX3 magic at byte 0 after decompression)",
                       r->what);
    }
    if (memcmp(r->p + 5, "X\n", 2) != 0)
        return bl_fail(BL_ERR_DATA, "%s: byte offset 5: serialization format '%c' is not XDR ('X'); not supported",
                       r->what, r->p[5]);
    r->pos = 7;
    int version, writer, minreader;
    Status st;
    if ((st = read_int(r, &version, 7)) || (st = read_int(r, &writer, 11)) || (st = read_int(r, &minreader, 15)))
        return st;
    if (version != 2 && version != 3)
        return bl_fail(BL_ERR_DATA, "%s: byte offset 7: serialization format version %d (2 or 3 supported)", r->what,
                       version);
    if (version == 3) { // the native encoding name
        int n;
        if ((st = read_int(r, &n, r->pos))) return st;
        if (n < 0 || n > 255)
            return bl_fail(BL_ERR_DATA, "%s: byte offset %zu: encoding name length %d", r->what, r->pos - 4, n);
        if ((st = need(r, (size_t)n, r->pos))) return st;
        r->pos += (size_t)n;
    }
    RNode *top = NULL;
    size_t top_at = r->pos;
    st = read_item(r, &top);
    if (!st && r->pos != r->len)
        st = bl_fail(BL_ERR_DATA, "%s: %zu unexpected bytes after the saved objects (byte offset %zu)", r->what,
                     r->len - r->pos, r->pos);
    if (!st && (!top || top->type != RT_LIST))
        st = bl_fail(BL_ERR_DATA, "%s: byte offset %zu: the top level is R type %d, not the pairlist save() writes",
                     r->what, top_at, top ? top->type : 254);
    if (!st) {
        const RNode *pick = NULL;
        const char *pick_name = NULL;
        char names[256] = "";
        int count = 0;
        for (const RNode *c = top; c && c->type == RT_LIST; c = c->cdr, count++) {
            const char *nm = sym_name(c->tag);
            size_t used = strlen(names);
            if (nm && used + strlen(nm) + 5 < sizeof names &&
                snprintf(names + used, sizeof names - used, "%s'%s'", used ? ", " : "", nm) < 0)
                names[used] = '\0';
            int match = object ? (nm && strcmp(nm, object) == 0)
                               : (c == top && !c->cdr) || (c->car && c->car->type == RT_VEC && has_class(c->car, "data.frame"));
            if (match && !pick) {
                pick = c->car;
                pick_name = nm ? nm : "(unnamed)";
            }
        }
        if (!pick)
            st = bl_fail(BL_ERR_DATA, "%s: %s (the file holds %d object%s: %s)", r->what,
                         object ? "no object of that name" : "no data.frame", count, count == 1 ? "" : "s", names);
        else
            st = frame_to_table(pick, pick_name, r->what, out);
    }
    node_free(top);
    return st;
}

Status rda_read_mem(const uint8_t *data, size_t len, const char *what, const char *object, Table *out) {
    memset(out, 0, sizeof *out);
    uint8_t *plain = NULL;
    size_t plen = 0;
    Status st = BL_OK;
    if (len >= 6 && memcmp(data, "\xFD" "7zXZ\0", 6) == 0) st = unxz(data, len, what, &plain, &plen);
    else if (len >= 2 && data[0] == 0x1F && data[1] == 0x8B) st = ungzip(data, len, what, &plain, &plen);
    else if (len >= 3 && memcmp(data, "BZh", 3) == 0)
        return bl_fail(BL_ERR_DATA, "%s: bzip2-compressed .rda files are not supported; re-save with "
                       "compress = \"xz\" or \"gzip\"", what);
    if (st) return st;
    Rd r = {.what = what, .p = plain ? plain : data, .len = plain ? plen : len};
    st = parse(&r, object, out);
    // two passes: a symbol's name may carry attributes that mention other symbols, so no symbol is released
    // while a name that might point at it is still being freed
    for (int i = 0; i < r.nrefs; i++) node_free(r.refs[i]->car);
    for (int i = 0; i < r.nrefs; i++) free(r.refs[i]);
    free(r.refs);
    free(plain);
    return st;
}

Status rda_read(const char *path, const char *object, Table *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (long long)sb.st_size > RDA_MAX_BYTES) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "%s: not a regular file of at most %lld bytes", path, RDA_MAX_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "%s: out of memory", path);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = ferror(f) || got != n;
    fclose(f);
    Status st = bad ? bl_fail(BL_ERR_DATA, "%s: read error", path) : rda_read_mem(buf, n, path, object, out);
    free(buf);
    return st;
}
