// tokenize.h: the tokeniser "words-lower-v1": text (bytes, meant as UTF-8) to lower-case word tokens.
//
// Rules (a model file records TEXT_TOKENIZER_NAME; change the name whenever a rule changes):
// - A word is a maximal run of word characters: ASCII letters and digits, and non-ASCII code points encoded as
//   valid UTF-8 (shortest form, no surrogates, <= U+10FFFF) except the separators below.
// - Everything else separates words: ASCII punctuation, spaces and controls, NUL bytes, bytes that are not valid
//   UTF-8 (each invalid byte separates, so "caf\xe9 bar" gives "caf" and "bar"), and these non-ASCII code points,
//   which are punctuation or spaces in practice: U+0080..U+00BF (C1 controls, no-break space, Latin-1 signs such
//   as £ © « » ¿), U+00D7 ×, U+00F7 ÷, U+2000..U+206F (general punctuation: typographic spaces, dashes, quotes,
//   bullets, zero-width characters), U+2190..U+21FF (arrows), U+2500..U+25FF (box drawing, shapes), U+3000..U+303F
//   (CJK punctuation), U+FE00..U+FE0F (variation selectors), U+FEFF (BOM), U+FFF0..U+FFFF (incl. U+FFFD, the
//   replacement character a lossy decoder leaves for bad bytes).
// - Lower-casing is ASCII only (A-Z to a-z); other letters are kept as written.
// - A word longer than DS_WORD_MAX-1 (63) bytes is cut to its first 63 bytes, at a code-point boundary (so it stays
//   valid UTF-8); the rest of that run is dropped, not made into more words (a base64 blob is one token, not
//   hundreds).
#ifndef BL_TEXT_TOKENIZE_H
#define BL_TEXT_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"
#include "data/text/lexicon.h"

#define TEXT_TOKENIZER_NAME "words-lower-v1"

// One word of a text: bytes start..start+len of the input, as written (not lower-cased, not cut).
typedef struct {
    size_t start; // byte offset of the word in the text
    size_t len;   // bytes in the run (may exceed DS_WORD_MAX-1; text_word_lower cuts it)
} WordSpan;

// A growing array of lexicon ids (malloc'd; zero-initialise, idbuf_free to release).
typedef struct {
    int32_t *ids; // (n) ids, room for cap
    long n;       // ids stored
    long cap;     // room
} IdBuf;

Status idbuf_push(IdBuf *b, int32_t id);
void idbuf_free(IdBuf *b);

// Called once per word with the word as the lexicon stores it: lower-cased and cut, 1..DS_WORD_MAX-1 bytes,
// NUL-terminated. A non-zero status stops the split and is returned by text_split_each.
typedef Status (*TextWordFn)(void *ctx, const char *word, size_t len);

// Feed every word of s[0..len) to fn, in order. For tokenising with another word table than a lexicon (e.g. a
// model's vocabulary). BL_OK, or fn's first non-zero status.
Status text_split_each(const char *s, size_t len, TextWordFn fn, void *ctx);

// The words of s[0..len) as spans into s: writes at most max spans and returns the number of words in the text
// (which may be more than max). Pair with text_word_lower to get each word as stored.
int text_split(const char *s, size_t len, WordSpan *spans, int max);

// The stored form of one span's bytes (lower-cased, cut to DS_WORD_MAX-1 bytes at a code-point boundary) into
// out (room n >= DS_WORD_MAX), NUL-terminated; returns its length.
size_t text_word_lower(const char *word, size_t len, char *out, size_t n);

// Tokenise s[0..len) and append the words' lexicon ids (interned, so new words get new ids) to out.
Status text_tokenize(const char *s, size_t len, DsLexicon *lex, IdBuf *out);

// 1 when s[0..len) is valid UTF-8 (shortest forms, no surrogates, <= U+10FFFF), else 0.
int text_utf8_valid(const char *s, size_t len);

#endif
