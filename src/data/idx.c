// idx.c: IDX reader (plain or gzipped, through zlib's gz* API which reads both) and atomic plain writer.
#include "data/idx.h"
#include "io/atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_CHUNK (16u << 20)      // bytes per gzread call (gzread takes an unsigned length)
#define IDX_GROW_START (16u << 20) // first size of the staging buffer while payload bytes arrive

static uint32_t be32_get(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static void be32_put(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static Status gz_open_read(const char *path, gzFile *out) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return bl_fail(BL_ERR_DATA, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    *out = f;
    return BL_OK;
}

// Turn a short read into the right message: a zlib data error (bad deflate data, CRC mismatch) is a corrupt
// stream; anything else (plain EOF, or zlib's "unexpected end of file") is a truncated file.
// zlib's message without the "path: " prefix gzerror() puts in front.
static const char *gz_msg(gzFile f, const char *path, int *zerr) {
    const char *m = gzerror(f, zerr);
    size_t pl = strlen(path);
    if (strncmp(m, path, pl) == 0 && m[pl] == ':' && m[pl + 1] == ' ') m += pl + 2;
    return m;
}

static Status short_read(gzFile f, const char *path, const char *what, size_t want, size_t got) {
    int zerr = Z_OK;
    const char *zmsg = gz_msg(f, path, &zerr);
    // (No byte count here: zlib drops the count of a partly filled buffer when it hits a data error.)
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return bl_fail(BL_ERR_DATA, "%s: corrupt gzip stream (%s) while reading %zu bytes of %s; re-download the file",
                       path, zmsg, want, what);
    return bl_fail(BL_ERR_DATA, "%s: truncated: expected %zu bytes of %s, got %zu", path, want, what, got);
}

// Read exactly len bytes into dst (a small fixed-size buffer such as a header).
static Status read_exact(gzFile f, const char *path, const char *what, uint8_t *dst, size_t len) {
    size_t done = 0;
    while (done < len) {
        int r = gzread(f, dst + done, (unsigned)(len - done));
        if (r <= 0) break;
        done += (size_t)r;
    }
    return done == len ? BL_OK : short_read(f, path, what, len, done);
}

// Read a payload of len bytes into a new bl_alloc'ed buffer. The staging buffer grows only as bytes actually
// arrive (from 16 MiB, doubling), so a forged header claiming gigabytes fails on the missing data rather than
// on a huge allocation. Then check nothing follows the payload (reading on also makes zlib verify the CRC).
static Status read_payload(gzFile f, const char *path, const char *what, size_t len, uint8_t **out) {
    *out = NULL;
    size_t cap = len < IDX_GROW_START ? len : IDX_GROW_START;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return bl_fail(BL_ERR_RUN, "%s: out of memory reading %zu bytes of %s", path, len, what);
    size_t done = 0;
    while (done < len) {
        if (done == cap) {
            size_t ncap = cap * 2 < len ? cap * 2 : len;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return bl_fail(BL_ERR_RUN, "%s: out of memory reading %zu bytes of %s", path, len, what);
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - done < IDX_CHUNK ? cap - done : IDX_CHUNK;
        int r = gzread(f, buf + done, (unsigned)want);
        if (r <= 0) break;
        done += (size_t)r;
    }
    if (done < len) {
        free(buf);
        return short_read(f, path, what, len, done);
    }
    uint8_t extra;
    int r = gzread(f, &extra, 1);
    if (r != 0) {
        free(buf);
        if (r > 0)
            return bl_fail(BL_ERR_DATA, "%s: unexpected bytes after the %zu bytes of %s (not an IDX file?)", path,
                           len, what);
        return short_read(f, path, what, len, done);
    }
    int zerr = Z_OK;
    const char *zmsg = gz_msg(f, path, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
        free(buf);
        return bl_fail(BL_ERR_DATA, "%s: corrupt gzip stream (%s); re-download the file", path, zmsg);
    }
    if (zerr == Z_BUF_ERROR) { // the gzip trailer itself is cut off: data may be complete but unverified
        free(buf);
        return bl_fail(BL_ERR_DATA, "%s: truncated: gzip stream ends before its trailer", path);
    }
    uint8_t *res = bl_alloc(len);
    if (!res) {
        free(buf);
        return BL_ERR_RUN;
    }
    if (len) memcpy(res, buf, len);
    free(buf);
    *out = res;
    return BL_OK;
}

// Read the magic and dims. Returns the dims in dims[0..ndims).
static Status read_header(gzFile f, const char *path, const char *kind, int min_dims, int max_dims, uint32_t *dims,
                          int *ndims) {
    uint8_t m[4];
    Status st = read_exact(f, path, "header", m, 4);
    if (st) return st;
    uint32_t magic = be32_get(m);
    if (m[0] != 0 || m[1] != 0 || m[3] < min_dims || m[3] > max_dims)
        return bl_fail(BL_ERR_DATA, "%s: not an IDX %s file (magic 0x%08x, expected 0x%08x); check the file name",
                       path, kind, magic, 0x800u | (uint32_t)min_dims);
    if (m[2] != 0x08)
        return bl_fail(BL_ERR_DATA, "%s: IDX data type 0x%02x is not supported (only unsigned byte, 0x08)", path,
                       m[2]);
    *ndims = m[3];
    uint8_t d[4 * 4];
    st = read_exact(f, path, "header", d, 4u * (unsigned)*ndims);
    if (st) return st;
    for (int i = 0; i < *ndims; i++) dims[i] = be32_get(d + 4 * i);
    return BL_OK;
}

Status idx_read_images(const char *path, uint8_t **pix, int *n, int *c, int *h, int *w) {
    *pix = NULL;
    *n = *c = *h = *w = 0;
    gzFile f = NULL;
    Status st = gz_open_read(path, &f);
    if (st) return st;
    uint32_t dims[4];
    int nd = 0;
    st = read_header(f, path, "image", 3, 4, dims, &nd);
    if (st) goto done;
    uint32_t dn = dims[0], dc = nd == 4 ? dims[1] : 1, dh = dims[nd - 2], dw = dims[nd - 1];
    if (dn > IDX_MAX_N || dc < 1 || dc > IDX_MAX_CHANNELS || dh < 1 || dh > IDX_MAX_SIDE || dw < 1 ||
        dw > IDX_MAX_SIDE) {
        st = bl_fail(BL_ERR_DATA,
                     "%s: implausible image dims n=%u c=%u h=%u w=%u (limits: n <= %d, c 1..%d, h and w 1..%d)", path,
                     dn, dc, dh, dw, IDX_MAX_N, IDX_MAX_CHANNELS, IDX_MAX_SIDE);
        goto done;
    }
    uint64_t bytes = (uint64_t)dn * dc * dh * dw; // < 2^52 given the caps above
    if (bytes > IDX_MAX_BYTES || bytes > SIZE_MAX) {
        st = bl_fail(BL_ERR_DATA, "%s: %llu bytes of pixels is over the %llu-byte limit", path,
                     (unsigned long long)bytes, (unsigned long long)IDX_MAX_BYTES);
        goto done;
    }
    st = read_payload(f, path, "pixels", (size_t)bytes, pix);
    if (st) goto done;
    *n = (int)dn;
    *c = (int)dc;
    *h = (int)dh;
    *w = (int)dw;
done:
    gzclose(f);
    return st;
}

Status idx_read_labels(const char *path, uint8_t **labels, int *n) {
    *labels = NULL;
    *n = 0;
    gzFile f = NULL;
    Status st = gz_open_read(path, &f);
    if (st) return st;
    uint32_t dims[4];
    int nd = 0;
    st = read_header(f, path, "label", 1, 1, dims, &nd);
    if (st) goto done;
    if (dims[0] > IDX_MAX_N) {
        st = bl_fail(BL_ERR_DATA, "%s: implausible label count %u (limit %d)", path, dims[0], IDX_MAX_N);
        goto done;
    }
    st = read_payload(f, path, "labels", dims[0], labels);
    if (st) goto done;
    *n = (int)dims[0];
done:
    gzclose(f);
    return st;
}

Status idx_read_dataset(const char *images_path, const char *labels_path, Dataset *out) {
    memset(out, 0, sizeof *out);
    Dataset d = {0};
    int nl = 0;
    Status st = idx_read_images(images_path, &d.images, &d.n, &d.c, &d.h, &d.w);
    if (st) return st;
    st = idx_read_labels(labels_path, &d.labels, &nl);
    if (st) goto fail;
    if (nl != d.n) {
        st = bl_fail(BL_ERR_DATA, "%s has %d labels but %s has %d images; the two files do not belong together",
                     labels_path, nl, images_path, d.n);
        goto fail;
    }
    int maxl = -1;
    for (int i = 0; i < d.n; i++)
        if (d.labels[i] > maxl) maxl = d.labels[i];
    d.num_classes = maxl + 1;
    d.orig_index = bl_alloc((size_t)(d.n ? d.n : 1) * sizeof(int));
    if (!d.orig_index) {
        st = BL_ERR_RUN;
        goto fail;
    }
    for (int i = 0; i < d.n; i++) d.orig_index[i] = i;
    *out = d;
    return BL_OK;
fail:
    ds_free(&d);
    return st;
}

static Status check_writable(const char *path, const Dataset *d) {
    if (d->n < 0 || d->c < 1 || d->c > IDX_MAX_CHANNELS || d->h < 1 || d->h > IDX_MAX_SIDE || d->w < 1 ||
        d->w > IDX_MAX_SIDE || (d->n > 0 && (!d->images || !d->labels)))
        return bl_fail(BL_ERR_USAGE, "%s: cannot write dataset with shape n=%d c=%d h=%d w=%d", path, d->n, d->c,
                       d->h, d->w);
    return BL_OK;
}

Status idx_write_images(const char *path, const Dataset *d) {
    Status st = check_writable(path, d);
    if (st) return st;
    AtomicFile af;
    if ((st = atomic_open(path, &af))) return st;
    FILE *f = af.f;
    uint8_t hdr[20];
    int nd = d->c == 1 ? 3 : 4;
    be32_put(hdr, 0x800u | (uint32_t)nd);
    uint32_t dims[4] = {(uint32_t)d->n, (uint32_t)d->c, (uint32_t)d->h, (uint32_t)d->w};
    for (int i = 0; i < nd; i++) be32_put(hdr + 4 + 4 * i, dims[i + (nd == 3 && i > 0)]);
    size_t bytes = (size_t)d->n * (size_t)ds_sample_size(d);
    errno = 0;
    int ok = fwrite(hdr, 1, 4 + 4 * (size_t)nd, f) == 4 + 4 * (size_t)nd &&
             (bytes == 0 || fwrite(d->images, 1, bytes, f) == bytes);
    return atomic_commit(&af, ok);
}

Status idx_write_labels(const char *path, const Dataset *d) {
    Status st = check_writable(path, d);
    if (st) return st;
    AtomicFile af;
    if ((st = atomic_open(path, &af))) return st;
    FILE *f = af.f;
    uint8_t hdr[8];
    be32_put(hdr, 0x801u);
    be32_put(hdr + 4, (uint32_t)d->n);
    errno = 0;
    int ok = fwrite(hdr, 1, 8, f) == 8 && (d->n == 0 || fwrite(d->labels, 1, (size_t)d->n, f) == (size_t)d->n);
    return atomic_commit(&af, ok);
}

// Find dir/base or dir/base.gz (the plain file wins when both exist, it is faster to read).
static Status find_file(const char *dir, const char *base, char *out, size_t outsz) {
    if ((size_t)snprintf(out, outsz, "%s/%s", dir, base) >= outsz)
        return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
    if (access(out, F_OK) == 0) return BL_OK;
    if ((size_t)snprintf(out, outsz, "%s/%s.gz", dir, base) >= outsz)
        return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
    if (access(out, F_OK) == 0) return BL_OK;
    return bl_fail(BL_ERR_DATA,
                   "dataset folder %s has no %s (nor %s.gz); it needs train-images-idx3-ubyte, "
                   "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be .gz)",
                   dir, base, base);
}

Status dataset_load_dir(const char *dir, int train_subset, int test_subset, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "dataset folder not given");
    if (train_subset < 0 || test_subset < 0)
        return bl_fail(BL_ERR_USAGE, "dataset subset sizes must be >= 0 (got %d and %d)", train_subset, test_subset);
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    char paths[4][4096];
    for (int i = 0; i < 4; i++) {
        Status st = find_file(dir, names[i], paths[i], sizeof paths[i]);
        if (st) return st;
    }
    DatasetPair p;
    memset(&p, 0, sizeof p);
    Status st = idx_read_dataset(paths[0], paths[1], &p.train);
    if (st) goto fail;
    st = idx_read_dataset(paths[2], paths[3], &p.test);
    if (st) goto fail;
    if (p.train.n == 0 || p.test.n == 0) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s is empty (%d training, %d test samples)", dir, p.train.n, p.test.n);
        goto fail;
    }
    if (p.train.c != p.test.c || p.train.h != p.test.h || p.train.w != p.test.w) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s: training images are %dx%dx%d but test images are %dx%dx%d", dir,
                     p.train.c, p.train.h, p.train.w, p.test.c, p.test.h, p.test.w);
        goto fail;
    }
    // One class count for both halves, from the full files, so a small subset still knows every class.
    int k = BL_MAX(p.train.num_classes, p.test.num_classes);
    if (k < 2) {
        st = bl_fail(BL_ERR_DATA, "dataset in %s has only %d class(es); classification needs at least 2", dir, k);
        goto fail;
    }
    p.train.num_classes = p.test.num_classes = k;
    if ((st = ds_take_first(&p.train, train_subset)) || (st = ds_take_first(&p.test, test_subset)) ||
        (st = ds_pair_hash(&p)))
        goto fail;
    snprintf(p.source, sizeof p.source, "%s", dir);
    *out = p;
    return BL_OK;
fail:
    ds_pair_free(&p);
    return st;
}
