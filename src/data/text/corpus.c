// corpus.c: dedupe, split and pair building for the text loaders (see corpus.h).
#include "data/text/corpus.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

Status text_read_file(const char *path, size_t max, char **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: cannot open (%s)", path, strerror(errno));
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "%s: cannot read (not a regular file?)", path);
    }
    if ((unsigned long)sz > max) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "%s: %ld bytes, more than the %zu this reader accepts", path, sz, max);
    }
    char *b = malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "%s: out of memory for %ld bytes", path, sz);
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)sz) {
        free(b);
        return bl_fail(BL_ERR_DATA, "%s: read error (file changed while reading?)", path);
    }
    b[got] = 0;
    *buf = b;
    *len = got;
    return BL_OK;
}

void corpus_free(TextCorpus *c) {
    idbuf_free(&c->tok);
    free(c->off);
    free(c->label);
    free(c->orig);
    memset(c, 0, sizeof *c);
}

Status corpus_add(TextCorpus *c, const char *text, size_t len, int label, int orig, DsLexicon *lex) {
    if (c->n >= TEXT_MAX_MESSAGES) return bl_fail(BL_ERR_DATA, "more than %d messages", TEXT_MAX_MESSAGES);
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 256;
        long *off = realloc(c->off, ((size_t)cap + 1) * sizeof *off);
        if (off) c->off = off;
        uint8_t *lab = realloc(c->label, (size_t)cap);
        if (lab) c->label = lab;
        int *orr = realloc(c->orig, (size_t)cap * sizeof *orr);
        if (orr) c->orig = orr;
        if (!off || !lab || !orr) return bl_fail(BL_ERR_RUN, "text corpus: out of memory");
        if (!c->cap) c->off[0] = 0;
        c->cap = cap;
    }
    Status st = text_tokenize(text, len, lex, &c->tok);
    if (st) {
        c->tok.n = c->off[c->n]; // drop the partial message
        return st;
    }
    c->label[c->n] = (uint8_t)label;
    c->orig[c->n] = orig;
    c->off[++c->n] = c->tok.n;
    return BL_OK;
}

static uint64_t seq_hash(const int32_t *s, long n) { // FNV-1a over the ids' bytes, 64 bits
    uint64_t h = 14695981039346656037ull ^ (uint64_t)n;
    for (long i = 0; i < n; i++) {
        uint32_t v = (uint32_t)s[i];
        for (int k = 0; k < 4; k++) h = (h ^ ((v >> (8 * k)) & 0xff)) * 1099511628211ull;
    }
    return h;
}

static int seq_eq(const TextCorpus *a, int i, const TextCorpus *b, int j) {
    const long la = a->off[i + 1] - a->off[i], lb = b->off[j + 1] - b->off[j];
    // la == 0: no memcmp, whose pointers may be NULL (a corpus of empty messages has no id buffer)
    return la == lb &&
           (la == 0 || !memcmp(a->tok.ids + a->off[i], b->tok.ids + b->off[j], (size_t)la * sizeof(int32_t)));
}

// An open-addressing set of messages (corpus, index) keyed by their token sequence.
typedef struct {
    const TextCorpus *src[2]; // the corpora the entries point into
    int64_t *slot;            // (cap) -1 empty, else (which << 32) | index
    uint64_t cap;             // power of two, > 2 * entries
} SeqSet;

// 1 when message i of corpus c is in the set; else adds it (when add) and returns 0.
static int seqset_test(SeqSet *s, int which, int i, int add) {
    const TextCorpus *c = s->src[which];
    const uint64_t mask = s->cap - 1;
    const int32_t *ids = c->tok.ids ? c->tok.ids + c->off[i] : NULL; // NULL + 0 is undefined behaviour
    for (uint64_t k = seq_hash(ids, c->off[i + 1] - c->off[i]) & mask;; k = (k + 1) & mask) {
        if (s->slot[k] < 0) {
            if (add) s->slot[k] = ((int64_t)which << 32) | i;
            return 0;
        }
        if (seq_eq(s->src[s->slot[k] >> 32], (int)(s->slot[k] & 0xffffffff), c, i)) return 1;
    }
}

Status corpus_dedupe(TextCorpus *c, const TextCorpus *ref, int *removed) {
    *removed = 0;
    const long total = (long)c->n + (ref ? ref->n : 0);
    SeqSet s = {.src = {c, ref}, .cap = 16};
    while (s.cap < 2 * (uint64_t)total + 2) s.cap *= 2;
    s.slot = malloc(s.cap * sizeof *s.slot);
    if (!s.slot) return bl_fail(BL_ERR_RUN, "text corpus: out of memory");
    memset(s.slot, 0xff, s.cap * sizeof *s.slot);
    for (int j = 0; ref && j < ref->n; j++) seqset_test(&s, 1, j, 1);
    // Compact c in place: a new message i moves to slot w <= i, its ids to tw <= off[i]. Writes to off[] so far
    // reach at most off[w], and off[i] only when nothing was dropped yet (then with the same value), so message i's
    // original bounds are intact when it is tested; kept messages' bounds are final when they enter the set.
    int w = 0;
    long tw = 0;
    for (int i = 0; i < c->n; i++) {
        if (seqset_test(&s, 0, i, 0)) continue;
        const long a = c->off[i], len = c->off[i + 1] - a;
        if (len) memmove(c->tok.ids + tw, c->tok.ids + a, (size_t)len * sizeof(int32_t));
        c->label[w] = c->label[i];
        c->orig[w] = c->orig[i];
        c->off[w] = tw;
        // The set must find message w at its new place: off[w+1] is set before it is hashed.
        c->off[w + 1] = tw + len;
        tw += len;
        seqset_test(&s, 0, w, 1);
        w++;
    }
    *removed = c->n - w;
    c->n = w;
    c->tok.n = tw;
    free(s.slot);
    return BL_OK;
}

void corpus_count(const TextCorpus *c, int num_classes, int *count) {
    for (int k = 0; k < num_classes; k++) count[k] = 0;
    for (int i = 0; i < c->n; i++)
        if (c->label[i] < num_classes) count[c->label[i]]++;
}

// Stratified split of c's messages into train/test index lists (file order), the records readers' rule.
static Status split_idx(const TextCorpus *c, int num_classes, double frac, uint64_t seed, int *tr, int *ntr, int *te,
                        int *nte) {
    int *buf = malloc((size_t)BL_MAX(c->n, 1) * sizeof *buf);
    uint8_t *is_test = calloc((size_t)BL_MAX(c->n, 1), 1);
    if (!buf || !is_test) {
        free(buf);
        free(is_test);
        return bl_fail(BL_ERR_RUN, "text corpus: out of memory");
    }
    Rng rng = rng_stream(seed, "split");
    for (int k = 0; k < num_classes; k++) {
        int nc = 0;
        for (int i = 0; i < c->n; i++)
            if (c->label[i] == k) buf[nc++] = i;
        rng_shuffle_int(&rng, buf, nc);
        int ntest = (int)floor(frac * nc + 0.5);
        for (int i = 0; i < ntest; i++) is_test[buf[i]] = 1;
    }
    *ntr = *nte = 0;
    for (int i = 0; i < c->n; i++) {
        if (is_test[i]) te[(*nte)++] = i;
        else tr[(*ntr)++] = i;
    }
    free(buf);
    free(is_test);
    return BL_OK;
}

// Messages idx[0..k) of c as a tokens dataset.
static Status to_dataset(const TextCorpus *c, const int *idx, int k, int max_tokens, int num_classes, DsLexicon *lex,
                         char (*names)[DS_NAME_MAX], int subject, Dataset *d) {
    long total = 0;
    for (int i = 0; i < k; i++) total += c->off[idx[i] + 1] - c->off[idx[i]];
    Status st = ds_alloc_tokens(d, k, total, max_tokens, num_classes, lex, names);
    if (st) return st;
    d->text_subject = subject;
    long w = 0;
    for (int i = 0; i < k; i++) {
        const long a = c->off[idx[i]], len = c->off[idx[i] + 1] - a;
        d->tok_offset[i] = w;
        if (len) memcpy(d->tokens + w, c->tok.ids + a, (size_t)len * sizeof(int32_t));
        w += len;
        d->labels[i] = c->label[idx[i]];
        d->orig_index[i] = c->orig[idx[i]];
    }
    d->tok_offset[k] = w;
    return BL_OK;
}

Status corpus_make_pair(const TextCorpus *all, const TextCorpus *test, double test_fraction, uint64_t seed,
                        int max_tokens, int subject, DsLexicon *lex, char (*class_names)[DS_NAME_MAX],
                        int num_classes, const char *source, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    out->lexicon = lex;
    out->class_names = class_names;
    snprintf(out->source, sizeof out->source, "%s", source);
    const int n = all->n, m = test ? test->n : 0;
    int *tr = malloc((size_t)BL_MAX(n, 1) * sizeof *tr), *te = malloc((size_t)BL_MAX(BL_MAX(n, m), 1) * sizeof *te);
    int ntr = 0, nte = 0;
    Status st = tr && te ? BL_OK : bl_fail(BL_ERR_RUN, "text corpus: out of memory");
    if (!st && test) {
        for (int i = 0; i < n; i++) tr[ntr++] = i;
        for (int i = 0; i < m; i++) te[nte++] = i;
    } else if (!st) {
        st = split_idx(all, num_classes, test_fraction, seed, tr, &ntr, te, &nte);
    }
    if (!st) st = to_dataset(all, tr, ntr, max_tokens, num_classes, lex, class_names, subject, &out->train);
    if (!st) st = to_dataset(test ? test : all, te, nte, max_tokens, num_classes, lex, class_names, subject, &out->test);
    if (!st) st = ds_pair_hash(out);
    free(tr);
    free(te);
    if (st) ds_pair_free(out);
    return st;
}

void corpus_info(const DatasetPair *p, TextLoadInfo *info) {
    const Dataset *ds[2] = {&p->train, &p->test};
    info->num_classes = p->train.num_classes;
    info->ntrain = p->train.n;
    info->ntest = p->test.n;
    info->empty = 0;
    memset(info->train_per_class, 0, sizeof info->train_per_class);
    memset(info->test_per_class, 0, sizeof info->test_per_class);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < ds[s]->n; i++) {
            (s ? info->test_per_class : info->train_per_class)[ds[s]->labels[i]]++;
            info->empty += ds[s]->tok_offset[i + 1] == ds[s]->tok_offset[i];
        }
}
