// lexicon.h: DsLexicon, the word table of a tokens dataset pair (data/dataset.h): every distinct word string
// interned to a dense id 0..n-1 in order of first appearance. Deterministic: the same words interned in the same
// order give the same ids on every host. Open addressing (linear probing, FNV-1a hash) over a power-of-two table
// kept at most half full. Word strings live in fixed blocks that never move, so a pointer from lex_word stays valid
// for the lexicon's lifetime (lex_intern never invalidates it). Not thread-safe for interning; lookups
// (lex_find, lex_word, lex_size) may run concurrently when nobody interns.
#ifndef BL_TEXT_LEXICON_H
#define BL_TEXT_LEXICON_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

#define LEX_MAX_WORDS (1 << 24) // most distinct words one lexicon holds; interning one more is BL_ERR_DATA

Status lex_new(DsLexicon **out);
void lex_free(DsLexicon *lex); // NULL is fine
// The id of word[0..len) (len 1..DS_WORD_MAX-1, no NUL byte), adding it when new. BL_ERR_USAGE for a bad length or
// a NUL, BL_ERR_DATA past LEX_MAX_WORDS, BL_ERR_RUN when out of memory. The bytes are stored as given: callers pass
// words as the tokeniser produced them (data/text/tokenize.h).
Status lex_intern(DsLexicon *lex, const char *word, size_t len, int32_t *id);
// The id of word[0..len), or -1 when it was never interned.
int32_t lex_find(const DsLexicon *lex, const char *word, size_t len);
// The NUL-terminated word of id, or NULL when id is out of range. Valid until lex_free.
const char *lex_word(const DsLexicon *lex, int32_t id);
// Byte length of the word of id (0 when out of range).
int lex_word_len(const DsLexicon *lex, int32_t id);
// Number of words (ids are 0..lex_size-1); 0 for NULL.
int lex_size(const DsLexicon *lex);

#endif
