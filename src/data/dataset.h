// dataset.h: an in-memory image-classification dataset and its loaders.
// Images are stored as uint8 (0..255), exactly as IDX files hold them; the batch loader turns them into
// floats in [0,1]. Storing bytes keeps Fashion-MNIST at 55 MB instead of 220 MB, and poisoned data written
// back to IDX is bit-identical to what was trained on.
#ifndef BL_DATASET_H
#define BL_DATASET_H

#include <stdint.h>

#include "core/core.h"

typedef struct {
    int n;            // number of samples
    int c, h, w;      // per-sample shape (channels, height, width)
    int num_classes;  // labels are in [0, num_classes)
    uint8_t *images;  // (n, c, h, w) row-major, owned
    uint8_t *labels;  // (n), owned
    int *orig_index;  // (n) index of each sample in the original file (survives subsetting/splitting), owned
} Dataset;

// A train/test pair as loaded from one source.
typedef struct {
    Dataset train;
    Dataset test;
    char source[512];        // where it was read from (folder path)
    char sha256_hex[65];     // SHA-256 over decoded train images, train labels, test images, test labels
} DatasetPair;

// Size of one sample in bytes.
static inline int ds_sample_size(const Dataset *d) { return d->c * d->h * d->w; }

void ds_free(Dataset *d);
void ds_pair_free(DatasetPair *p);
// Set p->sha256_hex: SHA-256 over the decoded train images, train labels, test images, test labels, in that
// order (the dataset identity every manifest records). BL_ERR_RUN only if libsodium cannot initialise.
Status ds_pair_hash(DatasetPair *p);
// Keep the first `subset` samples of d (0, or more than d->n, keeps all), their orig_index included.
Status ds_take_first(Dataset *d, int subset);
// Deep copy (for making a poisoned copy of a training set).
Status ds_copy(const Dataset *src, Dataset *dst);
// Copy the samples listed in idx (k of them, in that order) into dst.
Status ds_select(const Dataset *src, const int *idx, int k, Dataset *dst);
// Allocate a zeroed dataset of n samples of shape (c,h,w), orig_index = 0..n-1. n may be 0.
Status ds_alloc(Dataset *d, int n, int c, int h, int w, int num_classes);

// Load the four standard IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each plain or .gz) from `dir`. train_subset/test_subset keep the first N samples
// (0 = all; N larger than the set = all). num_classes is max label + 1 over both full files.
Status dataset_load_dir(const char *dir, int train_subset, int test_subset, DatasetPair *out);
// Where a known dataset name is installed ("fashion-mnist" -> "/usr/share/datasets/fashion-mnist", from the
// Debian package dataset-fashion-mnist; "mnist10k" -> "datasets/mnist10k", from scripts/fetch-mnist10k.sh, see
// data/mnist10k.h); NULL for unknown names.
const char *dataset_default_dir(const char *name);

#endif
