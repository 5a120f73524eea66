// atomic.c: temp file + rename, the one way results are written.
#include "io/atomic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

Status atomic_open(const char *path, AtomicFile *af) {
    af->f = NULL;
    af->path = path;
    if ((size_t)snprintf(af->tmp, sizeof af->tmp, "%s.tmp.XXXXXX", path) >= sizeof af->tmp)
        return bl_fail(BL_ERR_USAGE, "output path too long: %s", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0)
        return bl_fail(BL_ERR_RUN, "cannot write '%s': cannot create temp file %s: %s; check that the folder "
                       "exists and is writable", path, af->tmp, strerror(errno));
    // mkstemp makes 0600. A replaced file keeps its mode (re-signing a 0600 model must not hand it to everyone);
    // a new one is 0644, as results are meant to be readable.
    struct stat old;
    fchmod(fd, stat(path, &old) == 0 ? old.st_mode & 07777 : 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        return bl_fail(BL_ERR_RUN, "cannot open %s: %s", af->tmp, strerror(e));
    }
    return BL_OK;
}

Status atomic_commit(AtomicFile *af, int ok) {
    int e = 0;
    if (!ok || ferror(af->f)) e = errno ? errno : EIO;
    if (fflush(af->f) != 0 && !e) e = errno;
    // fsync before rename: after a crash the name holds either the old file or the whole new one
    if (!e && fsync(fileno(af->f)) != 0) e = errno;
    if (fclose(af->f) != 0 && !e) e = errno;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return bl_fail(BL_ERR_RUN, "cannot rename '%s' to '%s': %s", af->tmp, af->path, strerror(e));
    }
    if (e) {
        unlink(af->tmp);
        return bl_fail(BL_ERR_RUN, "writing %s failed: %s (disk full or folder not writable?)", af->path,
                       strerror(e));
    }
    return BL_OK;
}

Status file_open_capped(const char *path, size_t max_bytes, FILE **f, size_t *len) {
    *f = fopen(path, "rb");
    if (!*f) return bl_fail(BL_ERR_RUN, "%s: %s", path, strerror(errno));
    long n = fseek(*f, 0, SEEK_END) == 0 ? ftell(*f) : -1;
    Status st = n < 0 || fseek(*f, 0, SEEK_SET) != 0 ? bl_fail(BL_ERR_RUN, "%s: cannot size the file", path)
                : (size_t)n > max_bytes ? bl_fail(BL_ERR_DATA, "%s: %ld bytes, over the %zu-byte limit for this file",
                                                  path, n, max_bytes)
                                        : BL_OK;
    if (st) {
        fclose(*f);
        *f = NULL;
    } else {
        *len = (size_t)n;
    }
    return st;
}
