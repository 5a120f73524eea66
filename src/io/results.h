// results.h: atomic file writes, SHA-256 hashes, build provenance and the run manifest.
//
// A run folder holds results written atomically (temp file + rename, so a reader never sees half a file),
// a manifest.json saying exactly what ran (seed, threads, git revision, compiler, flags, config hash, times,
// data/model hashes), and a DONE marker written last: a folder without DONE is an unfinished run.
#ifndef BL_RESULTS_H
#define BL_RESULTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "io/config.h"

// Write len bytes to path atomically: path + ".tmp.<pid>" in the same folder, then rename(). On failure the
// temp file is removed and BL_ERR_RUN is returned with the reason.
Status write_file_atomic(const char *path, const void *data, size_t len);

// Pretty-printed JSON (plus a final newline), written with write_file_atomic().
Status json_write_atomic(const char *path, const cJSON *json);

// A whole file of at most max_bytes, malloc'd with a NUL after its *len bytes (len may be NULL); NULL if it cannot
// be read or is larger. Text files can be used as strings; binary ones (PNG) need len.
char *read_file_bytes(const char *path, long max_bytes, size_t *len);
char *read_text_file(const char *path, long max_bytes); // read_file_bytes without the length
// A JSON file (at most 64 MiB) parsed; NULL if missing, unreadable or not JSON.
cJSON *json_read_file(const char *path);

// mkdir -p: create path and its missing parents. An existing folder is fine; an existing file is an error.
Status ensure_dir(const char *path);

// SHA-256 as 64 lowercase hex digits plus the terminator (libsodium).
void sha256_hex(const void *data, size_t len, char out[65]);
// SHA-256 of a file's bytes. BL_ERR_RUN if it cannot be read.
Status sha256_file_hex(const char *path, char out[65]);

// `git rev-parse --short=12 HEAD` in the current folder, with "-dirty" appended when `git status --porcelain --
// src Makefile scripts` prints anything (the code differs from the commit); "unknown" when git or the
// repository is missing. Never fails.
void bl_git_revision(char *out, size_t n);
// The compiler that built this binary, e.g. "gcc 12.2.0".
const char *bl_compiler(void);
// The BL_CFLAGS the Makefile passes (optimisation, arch, OMP, SAN), or "unknown".
const char *bl_cflags(void);

// Current wall-clock time as ISO 8601 UTC, e.g. "2024-05-01T12:34:56Z".
void bl_iso8601_utc(char out[32]);

// A new manifest: tool, experiment name, seed, threads, git revision, compiler, cflags, config path and its
// SHA-256 (null if the file cannot be read), start time. The seed is a JSON number when it is at most 2^53
// (exact in a double) and a decimal string otherwise. NULL on out of memory. Free with cJSON_Delete.
cJSON *manifest_new(const ExperimentConfig *cfg, const char *config_path, int threads);
// Set "end_time" to now.
void manifest_set_end(cJSON *m);
// Set m[key] = hex, e.g. manifest_add_hash(m, "dataset_sha256", ds.sha256_hex). Replaces an existing key.
void manifest_add_hash(cJSON *m, const char *key, const char *hex);

// Write dir/DONE (its content: the finish time). Call it last, after every other result file.
Status write_done_marker(const char *dir);

#endif
