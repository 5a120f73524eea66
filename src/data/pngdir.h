// pngdir.h: PNG images as data: a class-per-folder dataset tree (single files: io/png.h).
//
// Tree layout (read by `dataset = png:PATH`, written by `backdoorlab poison --format png`):
//   PATH/train/<class>/<anything>.png
//   PATH/test/<class>/<anything>.png
// <class> folders are named by the class index ("0", "1", ..., zero padding allowed) when every folder name is
// a decimal number below 256; otherwise the sorted folder names are numbered 0, 1, ... (train and test must
// then have the same names). Samples are ordered by file name (strcmp), ties by class, so a tree written with
// zero-padded sample numbers reads back in its original order. All images must have the same size; a dataset
// is gray (1 channel) unless some file has colour, then RGB (3 channels, gray files replicated).
// Files are decoded by png_read (io/png.h): exactly, 8-bit only.
#ifndef BL_PNGDIR_H
#define BL_PNGDIR_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

// Load PATH/train and PATH/test as described above. Subsets keep the first N samples (0 = all) in file order;
// num_classes is the largest label + 1. sha256_hex covers the decoded images and labels as for IDX data.
Status dataset_load_png_dir(const char *path, int train_subset, int test_subset, DatasetPair *out);

// Write d as DIR/<split>/<label>/<orig_index, zero-padded to at least 5 digits>.png (gray or RGB), creating the
// folders. Files are written atomically.
Status dataset_write_png_dir(const char *dir, const char *split, const Dataset *d);

#endif
