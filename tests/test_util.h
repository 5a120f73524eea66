// test_util.h: small helpers shared by the test files (header-only; every test is its own program).
#ifndef BL_TEST_UTIL_H
#define BL_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Remove a file or a folder tree (test temp folders only).
static inline void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            if ((size_t)snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= sizeof p) continue; // not ours
            rm_rf(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

// A whole file, NUL-terminated (so text can be used as a string), malloc'ed; NULL when it cannot be read; *len
// (may be NULL) receives its size in bytes. The caller free()s it.
static inline char *test_read_file_len(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf) buf[got] = 0;
    if (len) *len = got;
    return buf;
}

static inline char *test_read_file(const char *path) { return test_read_file_len(path, NULL); }

#endif
