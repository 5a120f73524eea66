// csv.h: read CSV files of records into a Table (data/records/table.h) with Debian's libcsv.
//
// What the reader accepts and decides:
// - RFC 4180 CSV, strict quoting (a quote inside an unquoted field, or text after a closing quote, is an error):
//   comma separator, quoted fields may hold commas, quotes ("") and newlines; LF, CRLF or CR line ends; a UTF-8
//   BOM is skipped; empty lines are skipped; spaces and tabs around unquoted fields are trimmed (libcsv).
// - Header: the first record (after skip_rows) names the columns, unless column_names is given (then the file
//   has no header row). A first record whose cells ALL parse as numbers is refused as "no header" (a file of
//   bare numbers would otherwise lose its first row as names): give column_names instead. Empty header cells
//   are named "column<N>" (1-based, e.g. a pandas index column); repeated names are an error.
// - Every record must have as many fields as the header (a ragged row is an error naming its line).
// - Missing values: a cell equal to one of missing_values (exact match after trimming; default "", "NA", "?").
// - Column types: numeric when every non-missing cell parses completely with strtod; categorical when no cell
//   does, or when the column is listed in categorical_columns. A column where some cells are numbers and some
//   are not is an error naming the first non-number (a typo in a numeric column must not silently turn it into a
//   one-hot column of hundreds of levels). NaN and inf literals parse as numbers and are refused when the table
//   is converted (table_to_pair), with their line and column.
// - Limits: a field longer than CSV_MAX_FIELD_BYTES (1 MiB) is an error; files larger than CSV_MAX_FILE_BYTES
//   (1 GiB) are refused; at most TABLE_MAX_ROWS rows and TABLE_MAX_COLS columns.
// - Line numbers in messages are 1-based physical lines (a record's line is where it starts; lines are counted
//   by LF, so a CR-only file reports everything on line 1).
// Every error is BL_ERR_DATA (a bad options list: BL_ERR_USAGE) and names the file.
#ifndef BL_RECORDS_CSV_H
#define BL_RECORDS_CSV_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"
#include "data/records/table.h"

#define CSV_MAX_FIELD_BYTES (1 << 20)     // longest accepted field (1 MiB)
#define CSV_MAX_FILE_BYTES (1LL << 30)    // largest accepted file (1 GiB)

// How to read the file(s) and build the dataset. Zero-initialised = defaults (except path and label_column).
typedef struct {
    const char *path;                        // the CSV file (training file when test_path is set)
    const char *test_path;                   // a separate test file with the same header, or NULL: split `path`
    const char *label_column;                // label column: name, or a 0-based index in digits
    const char *const *feature_columns;      // (nfeature_columns) names or indices; NULL = all but the label
    int nfeature_columns;                    // entries in feature_columns
    const char *const *missing_values;       // (nmissing_values) markers of a missing cell; NULL = "", "NA", "?"
    int nmissing_values;                     // entries in missing_values (0 with a non-NULL list: none)
    const char *const *categorical_columns;  // (ncategorical_columns) columns read as categorical even if numeric
    int ncategorical_columns;                // entries in categorical_columns
    int skip_rows;                           // records skipped at the top, before the header (or the data)
    const char *const *column_names;         // (ncolumn_names) when set, the file has no header row
    int ncolumn_names;                       // entries in column_names
    double test_fraction;                    // without test_path: share of each class in the test set, (0, 1)
    uint64_t seed;                           // without test_path: seed of the "split" stream
} CsvOptions;

// Read `path` (and `path2`, when not NULL, into *t2) with one joint type inference: a column is numeric only
// if it is numeric in both files, and both files must have the same header. Only the reading options of opt
// are used (missing_values, categorical_columns, skip_rows, column_names).
Status csv_read_tables(const char *path, const char *path2, const CsvOptions *opt, Table *t1, Table *t2);

// Read the file(s) opt names and build the records pair (table_to_pair rules); sets out->source
// ("csv:PATH" or "csv:TRAIN,TEST") and sha256_hex.
Status csv_load_pair(const CsvOptions *opt, DatasetPair *out);

#endif
