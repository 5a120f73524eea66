// core.c: error message, allocation counter, timers, thread shims.
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static char g_errmsg[1024];
static uint64_t g_alloc_count;

Status bl_fail(Status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return st;
}

Status bl_fail_ctx(Status st, const char *fmt, ...) {
    char prefix[512], old[sizeof g_errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_errmsg, sizeof old);
    size_t n = strlen(prefix);
    memcpy(g_errmsg, prefix, n); // prefix is shorter than g_errmsg
    g_errmsg[n] = ':';
    g_errmsg[n + 1] = ' ';
    size_t room = sizeof g_errmsg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(g_errmsg + n + 2, old, m);
    g_errmsg[n + 2 + m] = 0;
    return st;
}

const char *bl_errmsg(void) { return g_errmsg; }
void bl_clear_error(void) { g_errmsg[0] = 0; }

void *bl_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = NULL;
    if (posix_memalign(&p, 64, rounded) != 0) {
        bl_fail(BL_ERR_RUN, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded); // zero and first-touch every page now
#pragma omp atomic
    g_alloc_count++;
    return p;
}

void bl_free(void *p) { free(p); }

uint64_t bl_alloc_count(void) {
    uint64_t n;
#pragma omp atomic read
    n = g_alloc_count;
    return n;
}

double bl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bl_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void bl_set_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int bl_parse_long(const char *v, long *out) {
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno == ERANGE) return 0;
    *out = x;
    return 1;
}
