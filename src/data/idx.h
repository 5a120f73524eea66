// idx.h: the IDX file format (MNIST / Fashion-MNIST), read plain or gzipped, written plain.
// Layout: 4-byte big-endian magic 0x000008ND (08 = unsigned byte, ND = number of dims), ND big-endian uint32
// dims, then the bytes. Images are 0x00000803 (n, h, w) or 0x00000804 (n, c, h, w); labels are 0x00000801 (n).
// Every size is checked against caps before anything is allocated, and the data must be exactly complete.
#ifndef BL_IDX_H
#define BL_IDX_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

// Caps on header dims, checked before allocating (a hostile header cannot ask for terabytes).
#define IDX_MAX_N 10000000          // samples
#define IDX_MAX_SIDE 4096           // height or width
#define IDX_MAX_CHANNELS 16         // channels (4-dim files only)
#define IDX_MAX_BYTES (1ull << 32)  // whole payload

// Read an image file (plain or .gz; zlib detects which). *pix (n, c, h, w) is bl_alloc'ed, caller bl_free's it.
// Errors: BL_ERR_DATA for missing/unreadable, wrong magic, oversize dims, truncated, trailing bytes, corrupt gzip.
Status idx_read_images(const char *path, uint8_t **pix, int *n, int *c, int *h, int *w);
// Read a label file. *labels (n) is bl_alloc'ed.
Status idx_read_labels(const char *path, uint8_t **labels, int *n);
// Read an image file and its label file into one Dataset: counts must match; num_classes = max label + 1;
// orig_index = 0..n-1.
Status idx_read_dataset(const char *images_path, const char *labels_path, Dataset *out);

// Load the four standard IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each plain or .gz) from `dir`. train_subset/test_subset keep the first N samples
// (0 = all; N larger than the set = all). num_classes is max label + 1 over both full files.
Status dataset_load_dir(const char *dir, int train_subset, int test_subset, DatasetPair *out);
// Write uncompressed IDX files atomically (temp file in the same folder + rename). c == 1 writes the standard
// 3-dim format, c > 1 the 4-dim one.
Status idx_write_images(const char *path, const Dataset *d);
Status idx_write_labels(const char *path, const Dataset *d);

#endif
