// core.h: status codes, the error message, checked allocation with a debug counter, timers.
// Library code returns a Status and sets a message with bl_fail(); only main() decides to exit.
#ifndef BL_CORE_H
#define BL_CORE_H

#include <stddef.h>
#include <stdint.h>

// Status codes double as the CLI's exit codes.
typedef enum {
    BL_OK = 0,        // success
    BL_ERR_RUN = 1,   // runtime failure (I/O error, divergence, out of memory)
    BL_ERR_USAGE = 2, // usage or config error
    BL_ERR_DATA = 3,  // bad or corrupt input data or model
} Status;

// Record an error message (printf-style) and return `st`, so callers write `return bl_fail(BL_ERR_DATA, ...)`.
Status bl_fail(Status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prefix the current message with context ("reading model.bdm: ..."), keep the status.
Status bl_fail_ctx(Status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// The last recorded error message ("" when none).
const char *bl_errmsg(void);
// The whole of v as a base-10 long (no leading blank, nothing after, no overflow): 1 and *out set, else 0. The one
// integer reader of config values (io/config.c, attack/params.c).
int bl_parse_long(const char *v, long *out);
void bl_clear_error(void);

// Allocation. bl_alloc returns 64-byte aligned, zeroed memory that has been touched (first-touch page faults
// happen here, not in the training step). Every call increments bl_alloc_count so a test can prove that a
// training step allocates nothing. Returns NULL (and sets the error) on failure.
void *bl_alloc(size_t bytes);
void bl_free(void *p);
uint64_t bl_alloc_count(void);

// Monotonic wall-clock seconds.
double bl_now(void);

// OpenMP shims so OMP=0 builds compile the same code.
int bl_max_threads(void);
void bl_set_threads(int n);

#define BL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define BL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
