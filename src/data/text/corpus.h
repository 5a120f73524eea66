// corpus.h: what every text loader shares: messages collected as lexicon ids, exact duplicates removed, a fixed
// stratified split, and the DatasetPair built from them (kind DS_TOKENS, see data/dataset.h).
//
// Duplicates: two messages are the same when they give the same token sequence (the whole message, before the
// model's max_tokens cut): that is what "the same input" means to a model, so no input can be both trained on and
// tested on. The first in file order is kept, whatever the labels (a message labelled both ways keeps its first
// label). SpamAssassin's raw texts are all distinct (their Received headers differ) while the same spam was often
// sent twice, so deduplicating raw text would remove nothing there.
// Split: per class, the class's messages (in file order) are shuffled with rng_stream(seed, "split") and the first
// round(test_fraction * count) go to the test set; both sets keep file order (the rule of the records readers,
// data/records/table.c), so a split depends only on the data, test_fraction and seed.
#ifndef BL_TEXT_CORPUS_H
#define BL_TEXT_CORPUS_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"
#include "data/text/lexicon.h"
#include "data/text/tokenize.h"

#define TEXT_MAX_MESSAGES (1 << 24) // messages one file or folder may hold
#define TEXT_MAX_CLASSES 256         // labels are uint8
#define TEXT_DEFAULT_MAX_TOKENS 400  // [data] max_tokens default
#define TEXT_DEFAULT_TEST_FRACTION 0.2

// How a text dataset is read ([data] keys, io/config.h). Zero fields take the defaults noted.
typedef struct {
    int max_tokens;       // the datasets' c, words a model reads (0 = TEXT_DEFAULT_MAX_TOKENS); messages are
                          // stored whole whatever it is
    int subject;          // spamassassin: 1 = each message starts with its decoded Subject line
    double test_fraction; // one source to split: share of each class in the test set, in (0,1) (0 = 0.2)
    uint64_t split_seed;  // one source to split: seed of the "split" stream
} TextOptions;

// What a text loader read, for the user and the README.
typedef struct {
    int read;                               // messages read from the source(s)
    int duplicates;                         // dropped as repeats (corpus_dedupe), test repeats of train included
    int empty;                              // kept messages with no word at all (read as one out-of-vocabulary id)
    int num_classes;                        // classes
    int ntrain, ntest;                      // messages in each split after dedupe
    int train_per_class[TEXT_MAX_CLASSES];  // per class id
    int test_per_class[TEXT_MAX_CLASSES];   // per class id
} TextLoadInfo;

// Messages as read, before dedupe and split. Zero-initialise; corpus_free releases.
typedef struct {
    IdBuf tok;      // all messages' lexicon ids back to back
    long *off;      // (n + 1) message i is tok.ids[off[i] .. off[i+1])
    uint8_t *label; // (n) class ids
    int *orig;      // (n) index of the message in its source (file order), for orig_index
    int n;          // messages
    int cap;        // room in off (cap + 1), label, orig
} TextCorpus;

// Read a whole file into *buf (malloc'd, NUL-terminated after *len bytes; the caller frees it). BL_ERR_DATA naming
// the file when it cannot be opened or read, or is larger than max bytes.
Status text_read_file(const char *path, size_t max, char **buf, size_t *len);

void corpus_free(TextCorpus *c);
// Tokenise text[0..len) into lex and append it as a message of class `label` with source index `orig`.
Status corpus_add(TextCorpus *c, const char *text, size_t len, int label, int orig, DsLexicon *lex);
// Drop every message that repeats an earlier one of c (and, when ref is not NULL, every message of c that is in
// ref); *removed = how many were dropped. Order is kept.
Status corpus_dedupe(TextCorpus *c, const TextCorpus *ref, int *removed);
// Messages per class into count[0..num_classes).
void corpus_count(const TextCorpus *c, int num_classes, int *count);

// The pair from one corpus split as described above (train and test), or from two corpora (test != NULL: no
// split). Takes ownership of lex and class_names (num_classes names) into out, even on failure; sets source,
// the datasets' c = max_tokens and text_subject, and the hash. *out is zeroed first.
Status corpus_make_pair(const TextCorpus *all, const TextCorpus *test, double test_fraction, uint64_t seed,
                        int max_tokens, int subject, DsLexicon *lex, char (*class_names)[DS_NAME_MAX],
                        int num_classes, const char *source, DatasetPair *out);
// Fill info's split counts (and `empty`) from a built pair; read and duplicates are the caller's.
void corpus_info(const DatasetPair *p, TextLoadInfo *info);

#endif
