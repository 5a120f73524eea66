// manifest.h: dataset manifests: a record of exactly which samples a dataset folder held, so a later copy can be
// checked sample by sample ("governed and validated datasets").
//
// A manifest covers a folder with the four standard IDX files (dataset_load_dir's layout). It records, without
// any path or time (so the same data gives the same bytes anywhere):
//   - each file's name as found (plain or .gz), size and SHA-256 of its stored bytes;
//   - for the train and the test split: the sample shape, every label, and the SHA-256 of every image;
//   - the dataset hash of the whole data (the same value dataset_load_dir reports, which runs record).
// JSON layout (cJSON; version 1):
//   {"format": "backdoorlab-dataset-manifest", "version": 1, "dataset_sha256": HEX,
//    "files": [{"name": "train-images-idx3-ubyte", "file": "train-images-idx3-ubyte.gz", "bytes": N,
//               "sha256": HEX}, ... 4 entries in the order train images, train labels, test images, test labels],
//    "train": {"n": N, "shape": [C, H, W], "labels": [L0, L1, ...], "image_sha256": [HEX0, HEX1, ...]},
//    "test": {...}}
//
// Comparing a folder with a manifest reports every added, removed and changed sample. Samples are matched by a
// minimal edit script (Myers' diff over (label, image hash) per split), so removing or inserting one sample
// reports exactly that one, not a shift of everything after it; within one run of consecutive differences,
// removed and added samples are paired in order as "changed". Above DSM_MAX_EDITS insertions/removals per split
// (e.g. a shuffled copy) samples are compared by position instead, and the report says so. Samples are the
// truth: file bytes that differ while every sample matches (e.g. re-compressed) are reported but still match.
#ifndef BL_DATA_MANIFEST_H
#define BL_DATA_MANIFEST_H

#include <stdint.h>

#include "core/core.h"

#define DSM_VERSION 1
#define DSM_NFILES 4
#define DSM_NSPLITS 2          // 0 = train, 1 = test
#define DSM_MAX_EDITS 1000     // alignment budget per split (insertions + removals)
#define DSM_MAX_FILE_BYTES (1ull << 30) // a manifest JSON larger than this is refused

typedef struct {
    char name[32];     // standard base name, e.g. "train-images-idx3-ubyte"
    char file[40];     // the file actually read: name or name + ".gz"
    uint64_t bytes;    // its size
    char sha256[65];   // SHA-256 of its stored bytes, hex
} DsmFile;

typedef struct {
    int n;                  // number of samples
    int c, h, w;            // sample shape (channels, height, width)
    uint8_t *labels;        // (n) labels, owned
    uint8_t *image_sha256;  // (n, 32) SHA-256 of each sample's c*h*w image bytes, owned
} DsmSplit;

typedef struct {
    DsmFile files[DSM_NFILES];   // the four IDX files
    DsmSplit split[DSM_NSPLITS]; // train, test
    char dataset_sha256[65];     // hash of the decoded data (as DatasetPair.sha256_hex with no subset)
} DsmManifest;

typedef enum {
    DSM_ADDED,   // in the folder, not in the manifest
    DSM_REMOVED, // in the manifest, not in the folder
    DSM_CHANGED, // at a matching place, but the label and/or the image differ
} DsmChangeKind;

typedef struct {
    int split;           // 0 = train, 1 = test
    DsmChangeKind kind;  // what happened
    int old_index;       // index in the manifest (-1 for DSM_ADDED)
    int new_index;       // index in the folder (-1 for DSM_REMOVED)
    int old_label;       // label in the manifest (-1 for DSM_ADDED)
    int new_label;       // label in the folder (-1 for DSM_REMOVED)
    int image_changed;   // DSM_CHANGED: 1 when the image bytes differ (0: label-only change)
} DsmChange;

typedef struct {
    DsmChange *changes;          // (nchanges) in split order, then by position; owned
    int nchanges;                // total number of differing samples
    int added[DSM_NSPLITS];      // per split counts
    int removed[DSM_NSPLITS];
    int changed[DSM_NSPLITS];
    int by_position[DSM_NSPLITS]; // 1 when the split had too many edits to align and was compared by position
    int shape_changed[DSM_NSPLITS]; // 1 when the sample shape differs (then every sample differs)
    int file_changed[DSM_NFILES];   // 1 when the file's stored bytes (or its name) differ
} DsmReport;

// Build the manifest of a dataset folder (reads and decodes all four files).
Status dsm_build(const char *dir, DsmManifest *out);
// Write it as JSON, atomically.
Status dsm_write(const DsmManifest *m, const char *path);
// Read and validate a manifest file (BL_ERR_DATA for anything malformed, naming the field).
Status dsm_read(const char *path, DsmManifest *out);
void dsm_free(DsmManifest *m);

// Compare a folder's manifest (actual) with the expected one. BL_OK even when they differ (see the report);
// an error only for out of memory.
Status dsm_compare(const DsmManifest *expected, const DsmManifest *actual, DsmReport *rep);
// 1 when every sample matches.
int dsm_report_ok(const DsmReport *rep);
void dsm_report_free(DsmReport *rep);

// For a run that requires a manifest: BL_OK when the folder's samples match manifest_path exactly, else
// BL_ERR_DATA with the counts and the first few differences.
Status dsm_require(const char *dir, const char *manifest_path);

#endif
