// table.h: a parsed table of records in memory (what the CSV and .rda readers produce), and its conversion to a
// DS_RECORDS DatasetPair (label -> class index, categorical columns one-hot encoded, a fixed train/test split).
//
// Conversion rules (table_to_pair), the choices a user should know:
// - Label column: `label` is a column name; when no column has that name and it is all digits, a 0-based
//   column index. A missing label is an error naming its row. Classes are the distinct label values in both
//   splits: numeric labels sorted numerically (class name "%g"), strings sorted bytewise (strcmp), except an R
//   factor, whose classes keep the factor's level order (levels that no row uses are dropped). At most 256.
// - Features: `features` (names or indices, as for the label; NULL = every column but the label, in file order).
//   A numeric column gives one feature; a categorical column gives one feature per level seen in the TRAINING
//   rows ("name=level"; levels sorted bytewise, or in factor order), value 1 for that row's level, else 0.
// - Unseen level: a test row whose categorical value never occurs in the training rows is an ERROR naming the
//   row (or CSV line) and column, not an all-zeros row: a silent all-zeros encoding would look like "missing"
//   to a model and to the tabular attacks' missing-value triggers. Fix the data, or list the value as missing.
// - Missing values: the value is stored as 0 and the missing mask is 1 (for a categorical column, on all of
//   its one-hot features). A numeric value that is NaN or +-inf, or does not fit a float32, is an error.
// - Split: either two tables (train, test: every used column must exist in the test table with the same kind),
//   or one table split with `test_fraction` and `seed`, stratified by class: for each class in class order, its
//   rows (file order) are shuffled with rng_stream(seed, "split") (one stream shared by all classes) and the
//   first round(test_fraction * n_class) go to the test set. Both sets keep file order; orig_index is the row
//   index (0-based, data rows only) in the table the sample came from.
// - Names longer than DS_NAME_MAX - 1 bytes are cut at a UTF-8 character boundary in the schema.
#ifndef BL_RECORDS_TABLE_H
#define BL_RECORDS_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

#define TABLE_MAX_ROWS (1 << 26) // more rows than this are refused (int indices, memory)
#define TABLE_MAX_COLS (1 << 20) // more columns than this are refused
#define TABLE_MAX_CLASSES 256    // labels are uint8

typedef enum {
    TABLE_NUMERIC = 0,     // double values
    TABLE_CATEGORICAL = 1, // one string level per row
} TableKind;

typedef struct {
    char *name;          // column name (heap, NUL-terminated)
    TableKind kind;      // numeric or categorical
    double *num;         // numeric: (nrows) values, 0 where missing; NULL for categorical
    int *code;           // categorical: (nrows) index into levels, -1 where missing; NULL for numeric
    uint8_t *missing;    // (nrows) 1 where the value is missing
    char **levels;       // categorical: (nlevels) distinct level strings, heap, in first-seen order
    int nlevels;         // categorical: number of levels
    int cap_levels;      // categorical: allocated slots in levels
    int *hash;           // categorical: (hash_cap) open-addressing index of levels (-1 = empty), for interning
    int hash_cap;        // categorical: slots in hash (a power of two, at least 2 * nlevels)
    int factor_order;    // categorical: 1 when the level order is meaningful (an R factor): keep it, do not sort
} TableCol;

typedef struct {
    char source[512]; // file the table was read from (for messages)
    int nrows;        // data rows
    int ncols;        // columns
    TableCol *cols;   // (ncols)
    int *row_line;    // (nrows) 1-based line in the source file where each row starts, or NULL: messages then
                      // say "row N" (1-based data row) instead of "line N"
} Table;

// Allocate an empty table of ncols columns (not yet typed) and nrows rows. row_lines != 0 allocates row_line.
Status table_init(Table *t, int ncols, int nrows, int row_lines, const char *source);
void table_free(Table *t);
// Type column j (once) and name it: numeric (values 0, not missing) or categorical (no levels, all missing).
Status table_col_numeric(Table *t, int j, const char *name);
Status table_col_categorical(Table *t, int j, const char *name);
// Intern a level string (len bytes, need not be NUL-terminated) of a categorical column; *code = its index.
Status table_col_level(TableCol *c, const char *s, size_t len, int *code);
// Index of the column named `name`, or -1.
int table_find(const Table *t, const char *name);
// Resolve a column reference: a name, or (when no column has that name) a 0-based index written in digits.
// -1 when neither matches.
int table_resolve(const Table *t, const char *ref);
// "line 17" or "row 17" for data row r (0-based) of t, into buf.
const char *table_where(const Table *t, int r, char *buf, size_t bufsz);

// What table_to_pair takes from the user (see the rules at the top).
typedef struct {
    const char *label;               // label column: name, or 0-based index in digits
    const char *const *features;     // (nfeatures) feature columns (names or indices); NULL = all but the label
    int nfeatures;                   // entries in features
    double test_fraction;            // one table: share of each class put in the test set, in (0, 1)
    uint64_t seed;                   // one table: seed of the "split" stream
} TableSpec;

// Build a DS_RECORDS pair from `train` (and `test`, or NULL to split `train` as TableSpec says). out->schema
// is a new heap schema that out->train.schema and out->test.schema point at; out->source and sha256_hex are
// left for the caller. Errors: BL_ERR_USAGE for a bad spec (bad fraction, a column listed twice or as both label
// and feature), BL_ERR_DATA for what the file lacks or holds (a named column it does not have, a missing label,
// a non-finite value, an unseen level, too many classes, an empty split); *out is then empty.
Status table_to_pair(const Table *train, const Table *test, const TableSpec *spec, DatasetPair *out);

#endif
