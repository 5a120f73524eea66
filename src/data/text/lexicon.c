// lexicon.c: the interned word table (see lexicon.h).
#include "data/text/lexicon.h"

#include <stdlib.h>
#include <string.h>

#define LEX_BLOCK_BYTES (1 << 20) // word storage block; words are < DS_WORD_MAX bytes so one always fits

struct DsLexicon {
    char **blocks;       // (nblocks) storage blocks of LEX_BLOCK_BYTES, never moved or resized
    int nblocks;         // blocks in use
    int blocks_cap;      // room in blocks[]
    size_t block_used;   // bytes used in the last block
    const char **words;  // (cap_words) id -> NUL-terminated word inside a block
    uint8_t *lens;       // (cap_words) id -> word length in bytes (< DS_WORD_MAX)
    int n;               // words interned
    int cap_words;       // room in words[] and lens[]
    int32_t *table;      // (table_cap) open-addressing slots: an id, or -1 when empty
    uint32_t table_cap;  // a power of two, > 2 * n
};

static uint32_t lex_hash(const char *s, size_t len) { // FNV-1a, 32 bits
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

Status lex_new(DsLexicon **out) {
    *out = NULL;
    DsLexicon *l = calloc(1, sizeof *l);
    if (!l) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
    l->table_cap = 1024;
    l->table = malloc(l->table_cap * sizeof *l->table);
    if (!l->table) {
        free(l);
        return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
    }
    memset(l->table, 0xff, l->table_cap * sizeof *l->table); // all -1
    *out = l;
    return BL_OK;
}

void lex_free(DsLexicon *l) {
    if (!l) return;
    for (int i = 0; i < l->nblocks; i++) free(l->blocks[i]);
    free(l->blocks);
    free(l->words);
    free(l->lens);
    free(l->table);
    free(l);
}

// Slot of word in the table: where it is, or the empty slot where it would go.
static uint32_t lex_slot(const DsLexicon *l, const char *w, size_t len) {
    const uint32_t mask = l->table_cap - 1;
    for (uint32_t s = lex_hash(w, len) & mask;; s = (s + 1) & mask) {
        int32_t id = l->table[s];
        if (id < 0 || (l->lens[id] == len && !memcmp(l->words[id], w, len))) return s;
    }
}

int32_t lex_find(const DsLexicon *l, const char *w, size_t len) {
    if (!l || len < 1 || len >= DS_WORD_MAX) return -1;
    return l->table[lex_slot(l, w, len)];
}

// Double the table and re-insert every id (in id order, so the layout is deterministic).
static Status lex_grow_table(DsLexicon *l) {
    uint32_t cap = l->table_cap * 2;
    int32_t *t = malloc((size_t)cap * sizeof *t);
    if (!t) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
    memset(t, 0xff, (size_t)cap * sizeof *t);
    free(l->table);
    l->table = t;
    l->table_cap = cap;
    for (int32_t id = 0; id < l->n; id++) t[lex_slot(l, l->words[id], l->lens[id])] = id;
    return BL_OK;
}

Status lex_intern(DsLexicon *l, const char *w, size_t len, int32_t *id) {
    if (len < 1 || len >= DS_WORD_MAX || memchr(w, 0, len))
        return bl_fail(BL_ERR_USAGE, "lexicon: a word must be 1..%d bytes without NUL (got %zu bytes)",
                       DS_WORD_MAX - 1, len);
    uint32_t s = lex_slot(l, w, len);
    if (l->table[s] >= 0) {
        *id = l->table[s];
        return BL_OK;
    }
    if (l->n >= LEX_MAX_WORDS)
        return bl_fail(BL_ERR_DATA, "lexicon: more than %d distinct words", LEX_MAX_WORDS);
    if (l->n == l->cap_words) {
        int cap = l->cap_words ? l->cap_words * 2 : 1024;
        const char **nw = realloc(l->words, (size_t)cap * sizeof *nw);
        if (!nw) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
        l->words = nw;
        uint8_t *nl = realloc(l->lens, (size_t)cap);
        if (!nl) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
        l->lens = nl;
        l->cap_words = cap;
    }
    if (!l->nblocks || l->block_used + len + 1 > LEX_BLOCK_BYTES) {
        if (l->nblocks == l->blocks_cap) {
            int cap = l->blocks_cap ? l->blocks_cap * 2 : 8;
            char **nb = realloc(l->blocks, (size_t)cap * sizeof *nb);
            if (!nb) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
            l->blocks = nb;
            l->blocks_cap = cap;
        }
        if (!(l->blocks[l->nblocks] = malloc(LEX_BLOCK_BYTES))) return bl_fail(BL_ERR_RUN, "lexicon: out of memory");
        l->nblocks++;
        l->block_used = 0;
    }
    char *dst = l->blocks[l->nblocks - 1] + l->block_used;
    memcpy(dst, w, len);
    dst[len] = 0;
    l->block_used += len + 1;
    int32_t nid = l->n++;
    l->words[nid] = dst;
    l->lens[nid] = (uint8_t)len;
    l->table[s] = nid;
    if ((uint32_t)l->n * 2 > l->table_cap) {
        Status st = lex_grow_table(l);
        if (st) return st;
    }
    *id = nid;
    return BL_OK;
}

const char *lex_word(const DsLexicon *l, int32_t id) {
    return l && id >= 0 && id < l->n ? l->words[id] : NULL;
}

int lex_word_len(const DsLexicon *l, int32_t id) { return l && id >= 0 && id < l->n ? l->lens[id] : 0; }

int lex_size(const DsLexicon *l) { return l ? l->n : 0; }
