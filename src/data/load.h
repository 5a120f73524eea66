// load.h: the front door of the dataset readers: a config's `[data] dataset` name to a loaded DatasetPair,
// whatever the sample kind. Images: fashion-mnist / IDX folders (data/idx.h), png:PATH trees (data/pngdir.h),
// mnist10k (data/mnist10k.h). Records: csv:PATH or csv:TRAIN,TEST and the built-in sets breast-cancer,
// pima-diabetes, satellite, shuttle, letter (data/records/). Tokens (messages): spamassassin and text:PATH or
// text:TRAIN,TEST (data/text/). Each reader lives in its own file; this one only dispatches, and fits a records
// schema's training statistics (ds_schema_fit) after loading.
#ifndef BL_LOAD_H
#define BL_LOAD_H

#include "core/core.h"
#include "data/dataset.h"
#include "data/records/csv.h"
#include "data/text/corpus.h"

// The sample kind a dataset name gives ("csv" and the built-in record sets: records; "spamassassin" and "text":
// tokens; everything else: images).
DsKind dataset_kind_of(const char *name);

// Load a dataset by config name: "png" reads the tree at `path`; "mnist10k" reads the npm digits; a built-in
// records name reads its file; "spamassassin" and "text" (path = the part after "text:") are read with the default
// TextOptions (max_tokens 400, Subject read, test_fraction 0.2, split_seed 1; dataset_load_text takes others);
// other names read the four IDX files. The folder is `path`, or dataset_default_dir(name) when path is "" or NULL.
// (csv needs options: dataset_load_csv.)
Status dataset_load(const char *name, const char *path, int train_subset, int test_subset, DatasetPair *out);

// `dataset = csv:PATH` (or csv:TRAIN,TEST): `spec` is the part after "csv:"; opt holds the [data] csv keys (its
// path and test_path are set from spec here). Subsets as for dataset_load.
Status dataset_load_csv(const char *spec, const CsvOptions *opt, int train_subset, int test_subset,
                        DatasetPair *out);

// Tokens: `dataset = spamassassin` (path: its folder; "" or NULL = datasets/spamassassin) or `dataset = text:SPEC`
// (name "text", path = SPEC: PATH or TRAIN,TEST; data/text/textfile.h), with opt from the [data] keys max_tokens,
// subject (spamassassin only), test_fraction and split_seed (one source). Subsets as for dataset_load (taken after
// dedupe and split; the hash is recomputed). info (may be NULL) receives what was read (counts before subsets).
Status dataset_load_text(const char *name, const char *path, const TextOptions *opt, int train_subset,
                         int test_subset, DatasetPair *out, TextLoadInfo *info);

#endif
