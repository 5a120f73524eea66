// rda.h: read a data frame from an R .rda file (what R's save() writes, and what mlbench ships) into a Table.
//
// No Debian library reads these, so this is a small reader of the subset data frames use, written from R's
// serialize.c (ReadItem) and notes in shared/research/tabular-backdoors.md section 3:
// - Container: xz (liblzma) or gzip (zlib) compressed, or uncompressed; bzip2 is refused. Decompressed size is
//   capped at RDA_MAX_BYTES.
// - Header "RDX2\n" or "RDX3\n", then "X\n" (XDR: big-endian), format version 2 or 3 (3: plus the native
//   encoding name), writer and minimum-reader versions. ASCII ("RDA2") and native-binary ("RDB2") saves are
//   refused.
// - Items: flags int32 (type = flags & 255, object bit 8, attribute bit 9, tag bit 10, gp levels >> 12), then:
//   NILVALUE_SXP 254; REFSXP 255 (index flags >> 8, or the next int32; refers to earlier symbols); SYMSXP 1
//   (a CHARSXP); LISTSXP 2 (attributes, tag, car, cdr); CHARSXP 9 (int32 length, -1 = NA_STRING, bytes);
//   LGLSXP 10 / INTSXP 13 (int32 n, n int32); REALSXP 14 (int32 n, n big-endian doubles); STRSXP 16 (int32 n,
//   n CHARSXPs); VECSXP 19 (int32 n, n items); a vector's attribute pairlist follows it. Anything else
//   (environments, closures, ALTREP, long vectors, S4, ...) is refused with its type number and byte offset.
//   Every length is checked against the bytes left before anything is allocated; nesting is capped at
//   RDA_MAX_DEPTH.
// - The file's top level is a pairlist of named objects. The chosen one must be a data.frame (VECSXP with class
//   "data.frame", names, and row.names as a vector or the compact form c(NA, -n)); each column is one of:
//   REALSXP (numeric; any NaN, which includes R's NA_real_, is missing; +-Inf is kept and refused later by
//   table_to_pair), INTSXP or LGLSXP (numeric; NA_integer_ = INT_MIN is missing), a factor (INTSXP with class
//   "factor" and a STRSXP "levels": categorical, levels in R's order, Table factor_order = 1), or STRSXP
//   (categorical, NA_STRING missing). Trailing bytes after the top-level object are an error.
// Errors are BL_ERR_DATA naming the file and a byte offset into the decompressed stream.
#ifndef BL_RECORDS_RDA_H
#define BL_RECORDS_RDA_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "data/records/table.h"

#define RDA_MAX_BYTES (1LL << 30) // larger decompressed streams are refused (1 GiB)
#define RDA_MAX_DEPTH 64          // deeper nesting of items is refused

// Read the data frame called `object` (NULL: the file's only object, or else its first data frame) from the
// .rda file at path into *out (source = path, no row lines: messages say "row N").
Status rda_read(const char *path, const char *object, Table *out);

// The same from bytes in memory (the file's bytes, compressed or not); `what` names them in messages.
Status rda_read_mem(const uint8_t *data, size_t len, const char *what, const char *object, Table *out);

#endif
