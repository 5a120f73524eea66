// vocab.c: the model's vocabulary (a word table with an open-addressing hash) and its provenance lines.
#include "nn/vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// FNV-1a: simple and deterministic (the table layout never affects results, only lookup speed).
static uint32_t word_hash(const char *w, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)w[i]) * 16777619u;
    return h;
}

static int valid_word(const char *w, size_t len) {
    if (len < 1 || len > 63) return 0;
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)w[i] <= ' ' || w[i] == 0x7f) return 0;
    return 1;
}

void vocab_free(Vocab *v) {
    if (!v) return;
    bl_free(v->words);
    bl_free(v->pool);
    bl_free(v->slots);
    bl_free(v->map);
    bl_free(v);
}

int32_t vocab_id(const Vocab *v, const char *word, size_t len) {
    uint32_t mask = (uint32_t)v->nslots - 1, s = word_hash(word, len) & mask;
    for (;;) {
        int32_t id = v->slots[s];
        if (id < 0) return VOCAB_OOV;
        if (strlen(v->words[id]) == len && memcmp(v->words[id], word, len) == 0) return id;
        s = (s + 1) & mask;
    }
}

Status vocab_new(const char *tokenizer, int max_tokens, int subject, const char *const *words, int nwords,
                 Vocab **out) {
    *out = NULL;
    if (nwords < 0 || nwords > (1 << 22) || max_tokens < 1 || strlen(tokenizer) >= 32)
        return bl_fail(BL_ERR_USAGE, "vocab_new: bad sizes (%d words, max_tokens %d)", nwords, max_tokens);
    Vocab *v = bl_alloc(sizeof *v);
    if (!v) return BL_ERR_RUN;
    memset(v, 0, sizeof *v);
    snprintf(v->tokenizer, sizeof v->tokenizer, "%s", tokenizer);
    v->max_tokens = max_tokens, v->subject = subject, v->size = nwords + 2;
    size_t bytes = sizeof "<pad>" + sizeof "<unk>";
    for (int i = 0; i < nwords; i++) bytes += strlen(words[i]) + 1;
    v->nslots = 16;
    while (v->nslots < 2 * v->size) v->nslots *= 2;
    v->pool = bl_alloc(bytes);
    v->words = bl_alloc((size_t)v->size * sizeof(char *));
    v->slots = bl_alloc((size_t)v->nslots * sizeof(int32_t));
    if (!v->pool || !v->words || !v->slots) {
        vocab_free(v);
        return BL_ERR_RUN;
    }
    memset(v->slots, 0xff, (size_t)v->nslots * sizeof(int32_t));
    char *p = v->pool;
    for (int id = 0; id < v->size; id++) {
        const char *w = id == VOCAB_PAD ? "<pad>" : id == VOCAB_OOV ? "<unk>" : words[id - 2];
        size_t len = strlen(w);
        if (id >= 2 && !valid_word(w, len)) {
            vocab_free(v);
            return bl_fail(BL_ERR_DATA, "vocabulary word %d is empty, too long or has a space or control byte", id);
        }
        memcpy(p, w, len + 1);
        v->words[id] = p;
        p += len + 1;
        uint32_t mask = (uint32_t)v->nslots - 1, s = word_hash(w, len) & mask;
        while (v->slots[s] >= 0) {
            if (strcmp(v->words[v->slots[s]], w) == 0) {
                vocab_free(v);
                return bl_fail(BL_ERR_DATA, "vocabulary word '%s' appears twice", w);
            }
            s = (s + 1) & mask;
        }
        v->slots[s] = id;
    }
    *out = v;
    return BL_OK;
}

Status vocab_clone(const Vocab *v, Vocab **out) {
    *out = NULL;
    if (!v) return BL_OK;
    return vocab_new(v->tokenizer, v->max_tokens, v->subject, (const char *const *)v->words + 2, v->size - 2, out);
}

Status vocab_append_lines(const Vocab *v, char **buf) {
    size_t have = *buf ? strlen(*buf) : 0, need = 128;
    for (int id = 2; id < v->size; id++) need += strlen(v->words[id]) + 1;
    char *b = realloc(*buf, have + need);
    if (!b) return bl_fail(BL_ERR_RUN, "out of memory for the vocabulary lines");
    *buf = b;
    char *p = b + have;
    p += sprintf(p, "text_tokenizer=%s\ntext_max_tokens=%d\ntext_subject=%d\ntext_vocab=", v->tokenizer,
                 v->max_tokens, v->subject);
    for (int id = 2; id < v->size; id++) p += sprintf(p, "%s%s", id > 2 ? " " : "", v->words[id]);
    strcpy(p, "\n");
    return BL_OK;
}

// The value of `key=` on its own line of prov, and its length; NULL when absent.
static const char *prov_value(const char *prov, const char *key, size_t *len) {
    size_t kl = strlen(key);
    for (const char *line = prov; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll > kl && memcmp(line, key, kl) == 0 && line[kl] == '=') {
            *len = ll - kl - 1;
            return line + kl + 1;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

Status vocab_from_provenance(const char *prov, Vocab **out) {
    *out = NULL;
    size_t vl, tl, ml, sl;
    const char *vs = prov_value(prov, "text_vocab", &vl);
    if (!vs) return BL_OK;
    const char *ts = prov_value(prov, "text_tokenizer", &tl), *ms = prov_value(prov, "text_max_tokens", &ml);
    const char *ss = prov_value(prov, "text_subject", &sl);
    if (!ts || !ms || !ss || tl == 0 || tl >= 32 || ml == 0 || ml > 9 || sl != 1 || (ss[0] != '0' && ss[0] != '1'))
        return bl_fail(BL_ERR_DATA, "the model's text preprocessing lines are incomplete or malformed");
    char tok[32], num[16];
    memcpy(tok, ts, tl), tok[tl] = 0;
    memcpy(num, ms, ml), num[ml] = 0;
    char *e;
    long max_tokens = strtol(num, &e, 10);
    if (*e || max_tokens < 1 || max_tokens > 1000000)
        return bl_fail(BL_ERR_DATA, "the model's text_max_tokens '%s' is not a valid length", num);
    // Split the word list in a copy: words are separated by exactly one space.
    char *copy = bl_alloc(vl + 1);
    int cap = 1;
    for (size_t i = 0; i < vl; i++) cap += vs[i] == ' ';
    const char **words = bl_alloc((size_t)cap * sizeof(char *));
    if (!copy || !words) {
        bl_free(copy);
        bl_free(words);
        return BL_ERR_RUN;
    }
    memcpy(copy, vs, vl), copy[vl] = 0;
    int n = 0;
    if (vl) {
        char *w = copy;
        for (char *p = copy;; p++)
            if (*p == ' ' || *p == 0) {
                int last = *p == 0;
                *p = 0;
                words[n++] = w;
                if (last) break;
                w = p + 1;
            }
    }
    Status st = vocab_new(tok, (int)max_tokens, ss[0] == '1', words, n, out);
    bl_free(copy);
    bl_free(words);
    return st ? bl_fail_ctx(BL_ERR_DATA, "the model's vocabulary") : BL_OK;
}
