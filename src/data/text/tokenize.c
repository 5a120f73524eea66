// tokenize.c: the "words-lower-v1" tokeniser (rules in tokenize.h).
#include "data/text/tokenize.h"

#include <stdlib.h>
#include <string.h>

Status idbuf_push(IdBuf *b, int32_t id) {
    if (b->n == b->cap) {
        long cap = b->cap ? b->cap * 2 : 1024;
        int32_t *p = realloc(b->ids, (size_t)cap * sizeof *p);
        if (!p) return bl_fail(BL_ERR_RUN, "tokeniser: out of memory");
        b->ids = p;
        b->cap = cap;
    }
    b->ids[b->n++] = id;
    return BL_OK;
}

void idbuf_free(IdBuf *b) {
    free(b->ids);
    memset(b, 0, sizeof *b);
}

// Length (2..4) of the valid UTF-8 sequence at s[0..avail) and its code point, or 0 when s[0] does not start one.
static int utf8_seq(const unsigned char *s, size_t avail, uint32_t *cp) {
    unsigned c = s[0];
    int n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) n = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) n = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)n > avail) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

int text_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int k = utf8_seq(u + i, len - i, &cp);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

// Non-ASCII code points that separate words (the list in tokenize.h).
static int cp_is_separator(uint32_t c) {
    return c <= 0xbf || c == 0xd7 || c == 0xf7 || (c >= 0x2000 && c <= 0x206f) || (c >= 0x2190 && c <= 0x21ff) ||
           (c >= 0x2500 && c <= 0x25ff) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xfe00 && c <= 0xfe0f) ||
           c == 0xfeff || (c >= 0xfff0 && c <= 0xffff);
}

// Bytes of the word character at s[0..avail): 1 for an ASCII letter or digit, 2..4 for a non-separator code point,
// 0 when s[0] separates.
static int word_char(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    uint32_t cp;
    int k = utf8_seq(s, avail, &cp);
    return k && !cp_is_separator(cp) ? k : 0;
}

// The next word at or after *pos: its span, and *pos moved past it. 0 at the end of the text.
static int next_word(const unsigned char *s, size_t len, size_t *pos, WordSpan *w) {
    size_t i = *pos;
    int k = 0;
    while (i < len && !(k = word_char(s + i, len - i))) i++;
    if (i >= len) {
        *pos = len;
        return 0;
    }
    w->start = i;
    while (i < len && (k = word_char(s + i, len - i))) i += (size_t)k;
    w->len = i - w->start;
    *pos = i;
    return 1;
}

size_t text_word_lower(const char *word, size_t len, char *out, size_t n) {
    const unsigned char *s = (const unsigned char *)word;
    size_t lim = BL_MIN(n ? n - 1 : 0, (size_t)DS_WORD_MAX - 1), o = 0;
    for (size_t i = 0; i < len;) {
        int k = s[i] < 0x80 ? 1 : word_char(s + i, len - i);
        if (k < 1) k = 1; // not from a span: copy the byte (callers pass spans, where this cannot happen)
        if (o + (size_t)k > lim) break; // cut at a code-point boundary
        for (int j = 0; j < k; j++) {
            unsigned char c = s[i + j];
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        i += (size_t)k;
    }
    if (n) out[o] = 0;
    return o;
}

Status text_split_each(const char *s, size_t len, TextWordFn fn, void *ctx) {
    char w[DS_WORD_MAX];
    WordSpan sp;
    for (size_t pos = 0; next_word((const unsigned char *)s, len, &pos, &sp);) {
        size_t n = text_word_lower(s + sp.start, sp.len, w, sizeof w);
        Status st = fn(ctx, w, n);
        if (st) return st;
    }
    return BL_OK;
}

int text_split(const char *s, size_t len, WordSpan *spans, int max) {
    int n = 0;
    WordSpan sp;
    for (size_t pos = 0; next_word((const unsigned char *)s, len, &pos, &sp); n++)
        if (n < max) spans[n] = sp;
    return n;
}

typedef struct {
    DsLexicon *lex; // where words are interned
    IdBuf *out;     // where their ids go
} TokCtx;

static Status tok_word(void *ctx, const char *w, size_t len) {
    TokCtx *t = ctx;
    int32_t id;
    Status st = lex_intern(t->lex, w, len, &id);
    return st ? st : idbuf_push(t->out, id);
}

Status text_tokenize(const char *s, size_t len, DsLexicon *lex, IdBuf *out) {
    TokCtx t = {lex, out};
    return text_split_each(s, len, tok_word, &t);
}
