// test_util.h: small helpers shared by the test files (header-only; every test is its own program).
#ifndef BL_TEST_UTIL_H
#define BL_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
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

#endif
