// pngdir.h: PNG images as data: one file decoded to planar bytes, and a class-per-folder dataset tree.
//
// Tree layout (read by `dataset = png:PATH`, written by `backdoorlab poison --format png`):
//   PATH/train/<class>/<anything>.png
//   PATH/test/<class>/<anything>.png
// <class> folders are named by the class index ("0", "1", ..., zero padding allowed) when every folder name is
// a decimal number below 256; otherwise the sorted folder names are numbered 0, 1, ... (train and test must
// then have the same names). Samples are ordered by file name (strcmp), ties by class, so a tree written with
// zero-padded sample numbers reads back in its original order. All images must have the same size; a dataset
// is gray (1 channel) unless some file has colour, then RGB (3 channels, gray files replicated).
// Files are decoded exactly (palette and 1/2/4-bit gray expanded, no gamma correction); 16-bit files are refused.
#ifndef BL_PNGDIR_H
#define BL_PNGDIR_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

#define PNGDIR_MAX_SIDE 4096 // largest image side read

// What a PNG file holds, from its header.
typedef struct {
    int w, h;    // size in pixels
    int color;   // 1 when it has colour (RGB, or a palette), 0 for gray
    int alpha;   // 1 when it has an alpha channel or a transparency chunk
    int depth;   // bits per sample as stored (1, 2, 4, 8 or 16)
} PngInfo;

// Read the header only. BL_ERR_DATA if the file is missing or not a PNG.
Status pngdir_probe(const char *path, PngInfo *info);

// Decode a PNG into planar 8-bit pixels with c channels (1 or 3): *pix (c, h, w), bl_alloc'ed. Gray files are
// replicated into 3 channels; a colour file asked for 1 channel is refused (BL_ERR_DATA: convert it to gray).
// alpha (may be NULL) receives (h, w) alpha bytes, 255 where the file has no alpha. 16-bit files: BL_ERR_DATA.
Status pngdir_read(const char *path, int c, uint8_t **pix, uint8_t **alpha, int *w, int *h);

// Load PATH/train and PATH/test as described above. Subsets keep the first N samples (0 = all) in file order;
// num_classes is the largest label + 1. sha256_hex covers the decoded images and labels as for IDX data.
Status dataset_load_png_dir(const char *path, int train_subset, int test_subset, DatasetPair *out);

// Write d as DIR/<split>/<label>/<orig_index, zero-padded to at least 5 digits>.png (gray or RGB), creating the
// folders. Files are written atomically.
Status dataset_write_png_dir(const char *dir, const char *split, const Dataset *d);

// Load a dataset by config name: "png" reads the tree at `path`; "mnist10k" reads the npm digits
// (data/mnist10k.h); other names read the four IDX files. The folder is `path`, or dataset_default_dir(name) when
// path is "" or NULL.
Status dataset_load(const char *name, const char *path, int train_subset, int test_subset, DatasetPair *out);

#endif
