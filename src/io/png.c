// png.c: PNG reading and writing with libpng's classic API.
// libpng reports errors by longjmp()ing out of whatever it was doing. C leaves non-volatile locals of the
// function that called setjmp() indeterminate if they changed after the setjmp, so every piece of state the
// error path needs (file, libpng structs, buffers, message) lives in a PngJob owned by the caller, and the
// function containing setjmp() keeps no locals that the cleanup reads.
#include "io/png.h"
#include "io/atomic.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    FILE *f;          // the file being read or written
    png_structp png;  // libpng read or write struct
    png_infop info;   // libpng info struct
    uint8_t *pix;     // (h, w) decoded pixels (read), owned until handed to the caller
    png_bytep *rows;  // (h) row pointers into pix (read)
    int oom;          // 1 when our own allocation failed (BL_ERR_RUN, not a data error)
    char msg[256];    // libpng's error message
} PngJob;

static void on_error(png_structp png, png_const_charp msg) {
    PngJob *j = png_get_error_ptr(png);
    snprintf(j->msg, sizeof j->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png; // warnings (e.g. a bad CRC on an ancillary chunk) do not stop reading; library code stays quiet
    (void)msg;
}

// ---- reading ----

// Decode into j->pix. Returns 0 on success, -1 on a libpng error (message in j->msg) or allocation failure.
static int read_body(PngJob *j, int *w, int *h) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_init_io(j->png, j->f);
    png_set_sig_bytes(j->png, 8);
    png_set_user_limits(j->png, PNG_IO_MAX_SIDE, PNG_IO_MAX_SIDE);
    png_read_info(j->png, j->info);
    png_uint_32 pw, ph;
    int depth, ctype;
    png_get_IHDR(j->png, j->info, &pw, &ph, &depth, &ctype, NULL, NULL, NULL);
    // Reduce anything to 8-bit gray.
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(j->png);
    if (depth == 16) png_set_strip_16(j->png);
    png_set_strip_alpha(j->png);
    if (ctype & PNG_COLOR_MASK_COLOR) png_set_rgb_to_gray_fixed(j->png, 1, -1, -1);
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    if (png_get_rowbytes(j->png, j->info) != pw || png_get_channels(j->png, j->info) != 1) {
        snprintf(j->msg, sizeof j->msg, "cannot convert colour type %d, bit depth %d to 8-bit gray", ctype, depth);
        return -1;
    }
    if ((uint64_t)pw * ph > PNG_IO_MAX_PIXELS) {
        snprintf(j->msg, sizeof j->msg, "%ux%u pixels is over the limit of %d", (unsigned)pw, (unsigned)ph,
                 PNG_IO_MAX_PIXELS);
        return -1;
    }
    j->pix = bl_alloc((size_t)pw * ph);
    j->rows = bl_alloc((size_t)ph * sizeof *j->rows);
    if (!j->pix || !j->rows) {
        j->oom = 1;
        snprintf(j->msg, sizeof j->msg, "out of memory for %ux%u pixels", (unsigned)pw, (unsigned)ph);
        return -1;
    }
    for (png_uint_32 y = 0; y < ph; y++) j->rows[y] = j->pix + (size_t)y * pw;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL); // reads up to IEND so a file cut after the pixels is refused too
    *w = (int)pw;
    *h = (int)ph;
    return 0;
}

Status png_read_gray(const char *path, uint8_t **pix, int *w, int *h) {
    *pix = NULL;
    *w = *h = 0;
    PngJob j;
    memset(&j, 0, sizeof j);
    j.f = fopen(path, "rb");
    if (!j.f) return bl_fail(BL_ERR_DATA, "cannot open %s: %s", path, strerror(errno));
    uint8_t sig[8];
    if (fread(sig, 1, 8, j.f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(j.f);
        return bl_fail(BL_ERR_DATA, "%s is not a PNG file (bad signature)", path);
    }
    Status st = BL_OK;
    j.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &j, on_error, on_warning);
    if (j.png) j.info = png_create_info_struct(j.png);
    if (!j.png || !j.info) {
        st = bl_fail(BL_ERR_RUN, "%s: out of memory creating the PNG reader", path);
    } else if (read_body(&j, w, h) != 0) {
        st = bl_fail(j.oom ? BL_ERR_RUN : BL_ERR_DATA, "%s: corrupt or truncated PNG: %s", path, j.msg);
        *w = *h = 0;
    }
    png_destroy_read_struct(j.png ? &j.png : NULL, j.info ? &j.info : NULL, NULL);
    fclose(j.f);
    bl_free(j.rows);
    if (st) {
        bl_free(j.pix);
        return st;
    }
    *pix = j.pix;
    return BL_OK;
}

// ---- writing ----

static int write_body(PngJob *j, const uint8_t *pix, int w, int h, int ctype, int channels) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_init_io(j->png, j->f);
    png_set_IHDR(j->png, j->info, (png_uint_32)w, (png_uint_32)h, 8, ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(j->png, j->info);
    for (int y = 0; y < h; y++) png_write_row(j->png, pix + (size_t)y * w * channels);
    png_write_end(j->png, NULL);
    return 0;
}

// Write atomically: temp file in the same folder, then rename() over the target.
static Status write_png(const char *path, const uint8_t *pix, int w, int h, int ctype, int channels) {
    if (!pix || w < 1 || h < 1 || w > PNG_IO_MAX_SIDE || h > PNG_IO_MAX_SIDE)
        return bl_fail(BL_ERR_USAGE, "%s: cannot write a %dx%d PNG (sides must be 1..%d)", path, w, h,
                       PNG_IO_MAX_SIDE);
    AtomicFile af;
    Status st = atomic_open(path, &af);
    if (st) return st;
    PngJob j;
    memset(&j, 0, sizeof j);
    j.f = af.f;
    j.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &j, on_error, on_warning);
    if (j.png) j.info = png_create_info_struct(j.png);
    if (!j.png || !j.info) st = bl_fail(BL_ERR_RUN, "%s: out of memory creating the PNG writer", path);
    else if (write_body(&j, pix, w, h, ctype, channels) != 0)
        st = bl_fail(BL_ERR_RUN, "writing %s failed: %s", path, j.msg);
    png_destroy_write_struct(j.png ? &j.png : NULL, j.info ? &j.info : NULL);
    if (st) { // remove the temp file, keeping the message that says what went wrong
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", bl_errmsg());
        atomic_commit(&af, 0);
        return bl_fail(st, "%s", msg);
    }
    return atomic_commit(&af, 1);
}

Status png_write_gray(const char *path, const uint8_t *pix, int w, int h) {
    return write_png(path, pix, w, h, PNG_COLOR_TYPE_GRAY, 1);
}

Status png_write_rgb(const char *path, const uint8_t *pix, int w, int h) {
    return write_png(path, pix, w, h, PNG_COLOR_TYPE_RGB, 3);
}

Status png_write_samples(const char *path, const Dataset *clean, const Dataset *triggered, const int *idx, int k,
                         int scale) {
    enum { GAP = 2, GAP_VALUE = 128 }; // mid-gray gaps stand out against black backgrounds and white patches
    if (clean->c != 1 || triggered->c != clean->c || triggered->h != clean->h || triggered->w != clean->w)
        return bl_fail(BL_ERR_USAGE, "%s: sample grid needs two gray datasets of the same shape (got %dx%dx%d and "
                       "%dx%dx%d)", path, clean->c, clean->h, clean->w, triggered->c, triggered->h, triggered->w);
    if (k < 1 || scale < 1 || scale > 64)
        return bl_fail(BL_ERR_USAGE, "%s: sample grid needs k >= 1 and scale 1..64 (got k=%d, scale=%d)", path, k,
                       scale);
    for (int i = 0; i < k; i++)
        if (idx[i] < 0 || idx[i] >= clean->n || idx[i] >= triggered->n)
            return bl_fail(BL_ERR_USAGE, "%s: sample index %d is outside the dataset (n=%d)", path, idx[i],
                           BL_MIN(clean->n, triggered->n));
    int tw = clean->w * scale, th = clean->h * scale;
    long long gw = (long long)k * tw + (long long)GAP * (k - 1), gh = 2LL * th + GAP;
    if (gw > PNG_IO_MAX_SIDE || gh > PNG_IO_MAX_SIDE)
        return bl_fail(BL_ERR_USAGE, "%s: sample grid %lldx%lld is too large (max side %d); use fewer samples or a "
                       "smaller scale", path, gw, gh, PNG_IO_MAX_SIDE);
    uint8_t *grid = bl_alloc((size_t)gw * (size_t)gh); // (gh, gw)
    if (!grid) return BL_ERR_RUN;
    memset(grid, GAP_VALUE, (size_t)gw * (size_t)gh);
    size_t ss = (size_t)ds_sample_size(clean);
    for (int row = 0; row < 2; row++) {
        const Dataset *d = row ? triggered : clean;
        for (int i = 0; i < k; i++) {
            const uint8_t *img = d->images + (size_t)idx[i] * ss; // (h, w)
            size_t x0 = (size_t)i * (size_t)(tw + GAP), y0 = (size_t)row * (size_t)(th + GAP);
            for (int y = 0; y < th; y++)
                for (int x = 0; x < tw; x++)
                    grid[(y0 + (size_t)y) * (size_t)gw + x0 + (size_t)x] = img[(y / scale) * clean->w + x / scale];
        }
    }
    Status st = png_write_gray(path, grid, (int)gw, (int)gh);
    bl_free(grid);
    return st;
}
