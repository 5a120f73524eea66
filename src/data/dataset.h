// dataset.h: an in-memory classification dataset and its loaders.
// A dataset knows its sample kind (DsKind). Images are stored as uint8 (0..255), exactly as IDX files hold
// them; the batch loader turns them into floats in [0,1]. Storing bytes keeps Fashion-MNIST at 55 MB instead of
// 220 MB, and poisoned data written back to IDX is bit-identical to what was trained on. Feature records are
// float32 vectors (c features, h = w = 1) with a missing-value mask and a schema naming each feature; the
// readers live in src/data/records/.
#ifndef BL_DATASET_H
#define BL_DATASET_H

#include <stdint.h>

#include "core/core.h"

// What one sample is. Attacks and defences declare which kinds they support (a bit mask of DS_KIND_BIT()).
typedef enum {
    DS_IMAGES = 0,  // uint8 (c, h, w) images
    DS_RECORDS = 1, // float32 feature vectors (c features) with a missing mask
    DS_TOKENS = 2,  // word sequences (messages), ids into a DsLexicon shared by the pair; see data/text/
} DsKind;
#define DS_KIND_BIT(k) (1u << (k))
const char *ds_kind_name(DsKind k); // "images", "records", "tokens"

#define DS_NAME_MAX 64
// Names for the columns of a records dataset, shared by its train and test halves (owned by the pair).
typedef struct {
    int nfeatures;                          // encoded features (one-hot levels count one each)
    char (*feature_names)[DS_NAME_MAX];     // (nfeatures) e.g. "glucose", "colour=red"
    int num_classes;                        // number of class names below
    char (*class_names)[DS_NAME_MAX];       // (num_classes) e.g. "neg", "pos"
    // Each feature's present values in the training split, ascending (ds_schema_fit), so an attack can place a
    // trigger relative to the training data (beyond its maximum, at a percentile) in the training AND the test
    // set without seeing the training set again. NULL until fitted.
    float *train_sorted;                    // all features' sorted values, feature after feature
    long *train_offset;                     // (nfeatures + 1) feature j: train_sorted[train_offset[j] .. [j+1])
} DsSchema;

// The words of a tokens dataset pair: every distinct token string seen by the loader (train AND test) or added
// by an attack, interned to a dense id (0..nwords-1) in order of first appearance. It is not the model's
// vocabulary: that is chosen from the training split as trained on (nn/vocab.h) and saved in the model file.
// Words are lower-case, 1..DS_WORD_MAX-1 bytes, no whitespace or control bytes. Functions in data/text/lexicon.h.
#define DS_WORD_MAX 64
typedef struct DsLexicon DsLexicon;

typedef struct {
    DsKind kind;      // sample kind; DS_IMAGES for every image loader (the zero value)
    int n;            // number of samples
    int c, h, w;      // per-sample shape (channels, height, width); records: (nfeatures, 1, 1)
    int num_classes;  // labels are in [0, num_classes)
    uint8_t *images;  // images: (n, c, h, w) row-major, owned; NULL for records
    float *features;  // records: (n, c) raw values in the file's units, owned; 0 where missing; NULL for images
    uint8_t *missing; // records: (n, c) 1 where the value is missing, owned; NULL for images
    uint8_t *labels;  // (n), owned
    int *orig_index;  // (n) index of each sample in the original file (survives subsetting/splitting), owned
    const DsSchema *schema; // records: feature and class names, borrowed from the pair; NULL for images
    // tokens (c = the model's maximum length in tokens, h = w = 1; a message may be longer or shorter):
    int32_t *tokens;        // all samples' lexicon ids back to back, owned; NULL unless DS_TOKENS
    long *tok_offset;       // (n + 1) sample i is tokens[tok_offset[i] .. tok_offset[i+1]) (may be empty), owned
    DsLexicon *lexicon;     // borrowed from the pair (attacks intern trigger words into it, so not const)
    int text_subject;       // tokens: 1 when each message starts with its Subject line (recorded in the model)
    char (*class_names)[DS_NAME_MAX]; // tokens: (num_classes) e.g. "ham", "spam"; borrowed from the pair
} Dataset;

// A train/test pair as loaded from one source.
typedef struct {
    Dataset train;
    Dataset test;
    char source[512];        // where it was read from (folder path)
    char sha256_hex[65];     // SHA-256 over decoded train images, train labels, test images, test labels
    DsSchema *schema;        // records: the names train.schema and test.schema point at (owned, heap, so the
                             // pair can be copied by value); NULL for images
    DsLexicon *lexicon;      // tokens: the words train.lexicon and test.lexicon point at (owned, heap)
    char (*class_names)[DS_NAME_MAX]; // tokens: class names train/test point at (owned, heap)
} DatasetPair;

// Size of one sample in bytes.
static inline int ds_sample_size(const Dataset *d) { return d->c * d->h * d->w; }

void ds_free(Dataset *d);
void ds_pair_free(DatasetPair *p);
// Set p->sha256_hex: SHA-256 over the decoded train images, train labels, test images, test labels, in that
// order (the dataset identity every manifest records). Records hash their values and missing masks; tokens hash
// each message's length and words (not lexicon ids, so the hash does not depend on interning order). BL_ERR_RUN
// only if libsodium cannot initialise.
Status ds_pair_hash(DatasetPair *p);
// Keep the first `subset` samples of d (0, or more than d->n, keeps all), their orig_index included.
Status ds_take_first(Dataset *d, int subset);
// Deep copy (for making a poisoned copy of a training set).
Status ds_copy(const Dataset *src, Dataset *dst);
// Copy the samples listed in idx (k of them, in that order) into dst.
Status ds_select(const Dataset *src, const int *idx, int k, Dataset *dst);
// Allocate a zeroed dataset of n samples of shape (c,h,w), orig_index = 0..n-1. n may be 0.
Status ds_alloc(Dataset *d, int n, int c, int h, int w, int num_classes);
// Allocate a tokens dataset of n empty messages with room for ntokens ids (tok_offset all 0: fill tokens and
// tok_offset[1..n]), max length max_tokens (its c), orig_index 0..n-1; lexicon and class_names are borrowed (the
// pair's). tokens and tok_offset come from bl_alloc (code that rebuilds them frees with bl_free).
Status ds_alloc_tokens(Dataset *d, int n, long ntokens, int max_tokens, int num_classes, DsLexicon *lexicon,
                       char (*class_names)[DS_NAME_MAX]);
// Allocate a zeroed records dataset of n samples of nfeatures features (missing mask all 0), orig_index 0..n-1.
Status ds_alloc_records(Dataset *d, int n, int nfeatures, int num_classes, const DsSchema *schema);
// A new heap schema with zeroed name arrays; ds_schema_free releases it (NULL is fine).
Status ds_schema_new(int nfeatures, int num_classes, DsSchema **out);
void ds_schema_free(DsSchema *s);
// Record train's present values per feature in its schema (train->schema, a records dataset). Called by the
// loaders' front door (data/load.c) on the training split as loaded.
Status ds_schema_fit(DsSchema *s, const Dataset *train);
// The q-quantile (q in [0,1]; 0 = minimum, 1 = maximum) of feature j's present training values, by linear
// interpolation between order statistics; NAN when the schema is not fitted or the feature was never present.
double ds_schema_quantile(const DsSchema *s, int j, double q);

// Where a known dataset name is installed ("fashion-mnist" -> "/usr/share/datasets/fashion-mnist", from the
// Debian package dataset-fashion-mnist; "mnist10k" -> "datasets/mnist10k", from scripts/fetch-mnist10k.sh, see
// data/mnist10k.h; "spamassassin" -> "datasets/spamassassin", from scripts/fetch-spam.sh); NULL for unknown names.
const char *dataset_default_dir(const char *name);

#endif
