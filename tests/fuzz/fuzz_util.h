// fuzz_util.h: what every libFuzzer harness in tests/fuzz/ shares: a private temporary folder for loaders that
// take a path, and a NUL-terminated copy of the input for loaders that take a string.
//
// Each harness process makes one folder (mkdtemp under $TMPDIR or /tmp) on first use and removes it at exit, so
// concurrent harnesses never share files. Anything that cannot be set up is a harness bug, not a finding: it
// prints why and aborts.
#ifndef BL_FUZZ_UTIL_H
#define BL_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fz_dir_path[512]; // the harness's private folder ("" until fz_dir is first called)

#define FZ_UNUSED __attribute__((unused)) // not every harness uses every helper

// Remove path and, when it is a folder, everything under it (no symlinks are ever made here).
static void fz_rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fz_rm_tree(sub);
        }
        closedir(d);
    }
    remove(path);
}

static void fz_cleanup(void) {
    if (fz_dir_path[0]) fz_rm_tree(fz_dir_path);
}

static void fz_die(const char *what, const char *path) {
    fprintf(stderr, "fuzz harness setup: %s %s failed\n", what, path);
    abort();
}

// The private folder, created on first call.
FZ_UNUSED static const char *fz_dir(void) {
    if (!fz_dir_path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir_path, sizeof fz_dir_path, "%s/bl-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fz_dir_path)) fz_die("mkdtemp", fz_dir_path);
        atexit(fz_cleanup);
    }
    return fz_dir_path;
}

// fz_dir()/rel into out (rel may hold '/'; parent folders are created).
FZ_UNUSED static const char *fz_path(char *out, size_t n, const char *rel) {
    snprintf(out, n, "%s/%s", fz_dir(), rel);
    for (char *s = out + strlen(fz_dir()) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (mkdir(out, 0700) && access(out, F_OK)) fz_die("mkdir", out);
        *s = '/';
    }
    return out;
}

// Write data[0..len) to fz_dir()/rel with the given mode; returns the full path in out.
FZ_UNUSED static const char *fz_write(char *out, size_t n, const char *rel, const void *data, size_t len, mode_t mode) {
    fz_path(out, n, rel);
    FILE *f = fopen(out, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) fz_die("writing", out);
    if (chmod(out, mode)) fz_die("chmod", out);
    return out;
}

// A malloc'd NUL-terminated copy of data (the caller frees it).
FZ_UNUSED static char *fz_cstr(const uint8_t *data, size_t len) {
    char *s = malloc(len + 1);
    if (!s) abort();
    memcpy(s, data, len);
    s[len] = 0;
    return s;
}

#endif
