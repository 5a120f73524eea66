// builtin.h: the built-in tabular datasets and the front door of the records readers.
//
// Files come from Debian packages via scripts/fetch-tabular.sh (SHA-256 pinned) into records_builtin_dir():
// | name            | file (package)                              | rows x features | classes (file counts)              |
// |-----------------|---------------------------------------------|-----------------|------------------------------------|
// | breast-cancer   | breast_cancer.csv (python3-sklearn 1.2.1)   | 569 x 30        | malignant 212, benign 357          |
// | pima-diabetes   | PimaIndiansDiabetes.rda (r-cran-mlbench 2.1-3) | 768 x 8      | neg 500, pos 268                   |
// | satellite       | Satellite.rda (mlbench)                     | 6,435 x 36      | 6 (red soil 1533, cotton crop 703, grey soil 1358, damp grey soil 626, vegetation stubble 707, very damp grey soil 1508) |
// | shuttle         | Shuttle.rda (mlbench)                       | 58,000 x 9      | 7 (Rad.Flow 45586, Fpv.Close 50, Fpv.Open 171, High 8903, Bypass 3267, Bpv.Close 10, Bpv.Open 13) |
// | letter          | LetterRecognition.rda (mlbench)             | 20,000 x 16     | 26 (A..Z, 734..813 each)           |
// - Split: fixed, the same for every experiment: stratified 80/20 (table.h: per class, round(0.2 n) rows to the
//   test set) with rng_stream(RECORDS_BUILTIN_SEED, "split"). The experiment seed is NOT used, so a dataset's
//   test set never changes between runs or seeds. Train/test sizes: breast-cancer 456/113, pima-diabetes
//   614/154, satellite 5,147/1,288, shuttle 46,400/11,600 (test: Rad.Flow 9117, Fpv.Close 10, Fpv.Open 34,
//   High 1781, Bypass 653, Bpv.Close 2, Bpv.Open 3), letter 15,998/4,002.
// - Classes: breast-cancer 0 = malignant, 1 = benign (the names on the file's first line, which is
//   "569,30,malignant,benign" and carries no column names; the features get scikit-learn's documented names,
//   "mean radius" ... "worst fractal dimension"). The mlbench sets keep their R factor's level order (shuttle's
//   class k+1 is UCI's class k+1, letter's are A..Z).
// - pima-diabetes: zeros in glucose, pressure, triceps, insulin and mass mean "not measured" (5, 35, 227, 374 and
//   11 rows); by default they become MISSING (mask 1, value 0): the EHR-style missingness the tabular attacks'
//   `missing` trigger imitates. RecordsBuiltinOptions.pima_zeros_as_values = 1 keeps them as plain zeros.
//   `pregnant` zeros are real and always kept.
// - Licences, copied beside the data: breast cancer data from UCI (Wolberg, Street, Mangasarian 1995), shipped
//   by scikit-learn (BSD-3-Clause, sklearn-copyright; description in breast_cancer.rst); mlbench data sets
//   (GPL-2, mlbench-copyright).
#ifndef BL_RECORDS_BUILTIN_H
#define BL_RECORDS_BUILTIN_H

#include "core/core.h"
#include "data/dataset.h"
#include "data/records/csv.h"

#define RECORDS_BUILTIN_SEED 14u            // split seed of every built-in dataset (fixed; issue 14)
#define RECORDS_BUILTIN_TEST_FRACTION 0.2   // share of each class in a built-in test set

typedef struct {
    const char *dir;          // folder holding the files; NULL = records_builtin_dir()
    int pima_zeros_as_values; // pima-diabetes only: 1 keeps the "not measured" zeros as values; 0 = missing
} RecordsBuiltinOptions;

// Where the built-in files live: "datasets/tabular" (relative to the repository root, like datasets/mnist10k).
const char *records_builtin_dir(void);
// Name of built-in dataset i (0-based), NULL past the last; 1 when `name` is a built-in dataset.
const char *records_builtin_name(int i);
int records_is_builtin(const char *name);

// Load a built-in dataset with the defaults / with options (opt NULL = defaults). Sets out->source (the file
// path) and sha256_hex. The file's shape and class count are checked against the table above: a mismatch or a
// missing file is BL_ERR_DATA with a hint to run scripts/fetch-tabular.sh. An unknown name is BL_ERR_USAGE.
Status records_load_builtin(const char *name, DatasetPair *out);
Status records_load_builtin_ex(const char *name, const RecordsBuiltinOptions *opt, DatasetPair *out);

// Users' own records: `csv:PATH` or `csv:TRAIN,TEST` (see csv.h and table.h). Same as csv_load_pair.
Status records_load_csv(const CsvOptions *opt, DatasetPair *out);

#endif
