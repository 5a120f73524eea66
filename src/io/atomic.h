// atomic.h: write a file so that its name never holds a half-written file: a temp file in the same folder
// (mkstemp; mode 0644, or the replaced file's mode), written through a FILE*, flushed and fsync'ed, then
// rename()d over the target.
#ifndef BL_ATOMIC_H
#define BL_ATOMIC_H

#include <stdio.h>

#include "core/core.h"

typedef struct {
    FILE *f;           // write here
    char tmp[4096];    // the temp file's name
    const char *path;  // the final name (not copied: keep it alive until atomic_commit)
} AtomicFile;

// Create the temp file. On failure nothing is left behind and af->f is NULL.
Status atomic_open(const char *path, AtomicFile *af);
// Flush, fsync, close and rename; `ok` = 0 when a write already failed. On any failure the temp file is removed
// and the target is untouched. Always closes af->f.
Status atomic_commit(AtomicFile *af, int ok);

// The reading side's guard: open path for reading and size it; a file over max_bytes is refused (BL_ERR_DATA)
// before anything is allocated for it. On success *f is open at offset 0 and *len holds its size.
Status file_open_capped(const char *path, size_t max_bytes, FILE **f, size_t *len);

#endif
