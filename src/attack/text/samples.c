// samples.c: samples.md for a messages run (see samples.h).
#include "attack/text/samples.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/text/lexicon.h"
#include "io/results.h"

#define SAMPLES_HEAD 40  // words shown from the start of a message
#define SAMPLES_AROUND 8 // words shown on each side of an insertion

typedef struct {
    char *buf;
    size_t len, cap;
} Text;

static void put(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? 2 * t->cap : 4096) + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) return;
        t->buf = b, t->cap = cap;
    }
}

// inserted[j] = 1 for words of the triggered sequence b that are not in the clean sequence a (the attack only
// inserts, so a greedy walk aligns them).
static void mark_inserted(const int32_t *a, long na, const int32_t *b, long nb, uint8_t *inserted) {
    long i = 0;
    for (long j = 0; j < nb; j++) {
        if (i < na && a[i] == b[j]) inserted[j] = 0, i++;
        else inserted[j] = 1;
    }
}

static void put_words(Text *t, const DsLexicon *lex, const int32_t *w, const uint8_t *ins, long from, long to,
                      int max_tokens) {
    for (long j = from; j < to; j++) {
        const char *s = lex_word(lex, w[j]);
        if (ins && ins[j]) put(t, " **%s**%s", s ? s : "?", j >= max_tokens ? " _(unseen)_" : "");
        else put(t, " %s", s ? s : "?");
    }
}

Status text_write_samples(const char *md_path, const Dataset *test, const Dataset *triggered, int max_tokens) {
    if (test->kind != DS_TOKENS || triggered->kind != DS_TOKENS || test->n != triggered->n)
        return bl_fail(BL_ERR_USAGE, "text_write_samples: needs a tokens test set and its triggered copy");
    Text t = {0};
    put(&t, "# Triggered test messages\n\nThe first %d words of each message, then its triggered version around "
            "every insertion (**inserted words** in bold; the model reads the first %d words, so an insertion "
            "after that is marked _unseen_).\n",
        SAMPLES_HEAD, max_tokens);
    for (int c = 0; c < test->num_classes; c++) {
        int shown = 0;
        for (int i = 0; i < test->n && shown < 2; i++) {
            if (test->labels[i] != c) continue;
            shown++;
            const int32_t *a = test->tokens + test->tok_offset[i], *b = triggered->tokens + triggered->tok_offset[i];
            const long na = test->tok_offset[i + 1] - test->tok_offset[i];
            const long nb = triggered->tok_offset[i + 1] - triggered->tok_offset[i];
            uint8_t *ins = calloc((size_t)nb + 1, 1);
            if (!ins) {
                free(t.buf);
                return bl_fail(BL_ERR_RUN, "out of memory");
            }
            mark_inserted(a, na, b, nb, ins);
            const char *cls = test->class_names ? test->class_names[c] : "";
            put(&t, "\n## Test message %d (class %d %s, %ld words)\n\nclean:", test->orig_index[i], c, cls, na);
            put_words(&t, test->lexicon, a, NULL, 0, na < SAMPLES_HEAD ? na : SAMPLES_HEAD, max_tokens);
            put(&t, "%s\n\ntriggered:", na > SAMPLES_HEAD ? " ..." : "");
            long last = 0; // words shown up to here
            for (long j = 0; j < nb; j++) {
                if (!ins[j]) continue;
                long from = j - SAMPLES_AROUND < last ? last : j - SAMPLES_AROUND;
                long to = j + 1;
                while (to < nb && (ins[to] || to < j + 1 + SAMPLES_AROUND)) to++;
                if (from > last) put(&t, " ...");
                put_words(&t, triggered->lexicon, b, ins, from, to, max_tokens);
                last = to;
                j = to - 1;
            }
            put(&t, "%s\n", last < nb ? " ..." : "");
            free(ins);
        }
    }
    if (!t.buf) return bl_fail(BL_ERR_RUN, "out of memory");
    Status st = write_file_atomic(md_path, t.buf, t.len);
    free(t.buf);
    return st;
}
