// vocab.h: a text model's preprocessing, carried by the model itself: the tokeniser's name, the maximum length
// read, whether the Subject is read, and the vocabulary (model ids 0 = padding, 1 = out of vocabulary, 2.. =
// words). It travels in the model file as provenance lines (covered by the hash and the signature), so a signed
// spam filter cannot be paired with another preprocessing:
//   text_tokenizer=words-lower-v1
//   text_max_tokens=400
//   text_subject=1
//   text_vocab=<V-2 words separated by single spaces, in id order from 2>
#ifndef BL_VOCAB_H
#define BL_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

// The tokeniser a vocabulary is for (data/text/tokenize.c implements it; the name changes when its rules do).
#define VOCAB_TOKENIZER "words-lower-v1" // = TEXT_TOKENIZER_NAME (data/text/tokenize.h; nn does not include data)
#define VOCAB_PAD 0
#define VOCAB_OOV 1

typedef struct {
    char tokenizer[32]; // e.g. "words-lower-v1" (data/text/tokenize.h)
    int max_tokens;     // positions the model reads (its input length)
    int subject;        // 1: the e-mail Subject is read before the body
    int size;           // number of ids, padding and out-of-vocabulary included (<= the embed layer's V)
    char **words;       // (size) words[0] = "<pad>", words[1] = "<unk>", views into pool
    char *pool;         // the words' bytes, NUL-separated, owned
    int32_t *slots;     // open-addressing hash of word -> id (nslots, a power of two; -1 = empty), owned
    int nslots;
    // Cache for the batch loader: model id of each id of one dataset lexicon (train/train.c keeps it current).
    int32_t *map;
    const void *map_for;
    int map_n;
} Vocab;

// A vocabulary of `nwords` words (ids 2.. in the given order; each 1..63 bytes, no whitespace; duplicates are an
// error) with the tokeniser settings. *out is heap-allocated; vocab_free releases it.
Status vocab_new(const char *tokenizer, int max_tokens, int subject, const char *const *words, int nwords,
                 Vocab **out);
void vocab_free(Vocab *v);
// A copy of v (NULL gives NULL), without its batch-loader cache.
Status vocab_clone(const Vocab *v, Vocab **out);
// The id of a word (len bytes), VOCAB_OOV when it is not in the vocabulary.
int32_t vocab_id(const Vocab *v, const char *word, size_t len);
// Append the provenance lines above to *buf (heap, grown with realloc; *buf may be NULL).
Status vocab_append_lines(const Vocab *v, char **buf);
// Read them back from a model file's provenance text: *out = NULL when the text has no text_vocab line (not a
// text model); BL_ERR_DATA when the lines are present but malformed.
Status vocab_from_provenance(const char *prov, Vocab **out);

#endif
