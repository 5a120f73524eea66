// textfile.h: `dataset = text:PATH` (or text:TRAIN,TEST), users' own labelled texts.
//
// PATH is either
// - a file of one message per row, label first: TSV when its name ends in .tsv or .tab, CSV when it ends in .csv,
//   otherwise TSV when its first line holds a tab and CSV when not.
//   TSV: LABEL<TAB>TEXT on one line (LF or CRLF); the text is the rest of the line, taken literally (no quoting or
//   escapes; tabs in it are separators like any punctuation). CSV (RFC 4180): LABEL,TEXT, a field may be quoted
//   ("" for a quote) and then hold commas and newlines; unquoted commas after the label are part of the text (the
//   tokeniser separates on them anyway). Blank lines are skipped. The first row is a header, and skipped, when its
//   label field is "label" (any case); otherwise every row is data.
// - or a folder with one subfolder per class holding that class's messages as .txt files (one message per file;
//   other files, hidden names and files directly in PATH are ignored; a class folder without a .txt file is an
//   error). Files are read in byte order of their names.
// Labels are class names: 1..63 bytes, no control characters, surrounding spaces trimmed; at most 256 classes
// and at least 2. Class ids follow the byte order of the names ("ham" = 0, "spam" = 1), so they do not depend on
// row order. With TRAIN,TEST the classes are the training file's and a test label outside them is an error naming
// its line; test messages that repeat a training message are dropped (like duplicates inside one file, corpus.h).
// With one PATH the messages are deduplicated and split (corpus.h: test_fraction, split_seed).
// Errors are BL_ERR_DATA naming the file and its line: a row without a tab or comma after the label, an empty or
// bad label, an unterminated quoted CSV field, fewer than 2 classes, a file over TEXT_MAX_FILE_BYTES.
#ifndef BL_TEXT_TEXTFILE_H
#define BL_TEXT_TEXTFILE_H

#include "core/core.h"
#include "data/dataset.h"
#include "data/text/corpus.h"

#define TEXT_MAX_FILE_BYTES (1LL << 30) // largest accepted TSV/CSV file (1 GiB)
#define TEXT_MAX_MESSAGE_BYTES (64u << 20) // largest accepted .txt message file (64 MiB)

// Read text:SPEC (SPEC = PATH or TRAIN,TEST, the part after "text:") into *out with opt's max_tokens (and, for one
// PATH, test_fraction and split_seed). info (may be NULL) receives the counts.
Status textfile_load(const char *spec, const TextOptions *opt, DatasetPair *out, TextLoadInfo *info);

#endif
