// png.c: PNG reading and writing with libpng's classic API (no gamma handling, so stored sample values come
// through unchanged).
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
    uint8_t *pix;     // (h, w, channels) interleaved decoded pixels (read), owned until handed over
    png_bytep *rows;  // (h) row pointers into pix (read)
    int channels;     // samples per pixel after expansion (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)
    int oom;          // 1 when our own allocation failed (BL_ERR_RUN, not a data error)
    char msg[256];    // libpng's (or our) error message
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

// Read the header into *info; with decode, also the pixels into j->pix. 0 on success, -1 with j->msg set.
static int decode_body(PngJob *j, PngInfo *info, int decode) {
    if (setjmp(png_jmpbuf(j->png))) return -1;
    png_init_io(j->png, j->f);
    png_set_sig_bytes(j->png, 8);
    png_set_user_limits(j->png, PNG_IO_MAX_SIDE, PNG_IO_MAX_SIDE);
    // Skip, unread, the ancillary chunks libpng would allocate at their declared length (this libpng, 1.6.39,
    // checks no length but IDAT's: a 79-byte file declaring a 1.6 GB sPLT made it malloc 1.6 GB). None of them
    // changes the stored samples, which are all this reader returns.
    static const png_byte skip[] = "iCCP\0sPLT\0tEXt\0zTXt\0iTXt\0eXIf\0pCAL\0sCAL\0";
    png_set_keep_unknown_chunks(j->png, PNG_HANDLE_CHUNK_NEVER, skip, (int)(sizeof skip / 5));
    png_read_info(j->png, j->info);
    png_uint_32 w, h;
    int depth, ctype;
    png_get_IHDR(j->png, j->info, &w, &h, &depth, &ctype, NULL, NULL, NULL);
    info->w = (int)w;
    info->h = (int)h;
    info->depth = depth;
    info->alpha = (ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(j->png, j->info, PNG_INFO_tRNS);
    info->color = (ctype & PNG_COLOR_MASK_COLOR) != 0;
    if (ctype == PNG_COLOR_TYPE_PALETTE) { // a palette of grays is a gray image
        png_colorp pal;
        int npal = 0;
        info->color = 0;
        if (png_get_PLTE(j->png, j->info, &pal, &npal))
            for (int i = 0; i < npal; i++) info->color |= pal[i].red != pal[i].green || pal[i].green != pal[i].blue;
    }
    if (!decode) return 0;
    if (depth == 16) {
        snprintf(j->msg, sizeof j->msg, "16-bit samples are not supported (backdoorlab images are 8-bit); save it "
                 "as an 8-bit PNG");
        return -1;
    }
    if ((uint64_t)w * h > PNG_IO_MAX_PIXELS) {
        snprintf(j->msg, sizeof j->msg, "%ux%u pixels is over the limit of %d", (unsigned)w, (unsigned)h,
                 PNG_IO_MAX_PIXELS);
        return -1;
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(j->png);
    if (png_get_valid(j->png, j->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(j->png);
    png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    j->channels = png_get_channels(j->png, j->info);
    if (j->channels < 1 || j->channels > 4 || png_get_rowbytes(j->png, j->info) != (size_t)w * j->channels) {
        snprintf(j->msg, sizeof j->msg, "cannot expand colour type %d, bit depth %d to 8-bit samples", ctype, depth);
        return -1;
    }
    j->pix = bl_alloc((size_t)w * h * (size_t)j->channels);
    j->rows = bl_alloc((size_t)h * sizeof *j->rows);
    if (!j->pix || !j->rows) {
        j->oom = 1;
        snprintf(j->msg, sizeof j->msg, "out of memory for %ux%u pixels", (unsigned)w, (unsigned)h);
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->pix + (size_t)y * w * (size_t)j->channels;
    png_read_image(j->png, j->rows);
    png_read_end(j->png, NULL); // reads up to IEND so a file cut after the pixels is refused too
    return 0;
}

// Open, check the signature, and run decode_body. On success with decode, j->pix holds the pixels.
static Status decode_file(const char *path, PngJob *j, PngInfo *info, int decode) {
    memset(j, 0, sizeof *j);
    memset(info, 0, sizeof *info);
    j->f = fopen(path, "rb");
    if (!j->f) return bl_fail(BL_ERR_DATA, "cannot open %s: %s", path, strerror(errno));
    uint8_t sig[8];
    Status st = BL_OK;
    if (fread(sig, 1, 8, j->f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        st = bl_fail(BL_ERR_DATA, "%s is not a PNG file (bad signature)", path);
    } else {
        j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, on_error, on_warning);
        if (j->png) j->info = png_create_info_struct(j->png);
        if (!j->png || !j->info) st = bl_fail(BL_ERR_RUN, "%s: out of memory creating the PNG reader", path);
        else if (decode_body(j, info, decode) != 0)
            st = bl_fail(j->oom ? BL_ERR_RUN : BL_ERR_DATA, "%s: corrupt or unsupported PNG: %s", path, j->msg);
    }
    if (j->png) png_destroy_read_struct(&j->png, j->info ? &j->info : NULL, NULL);
    fclose(j->f);
    bl_free(j->rows);
    j->rows = NULL;
    if (st) {
        bl_free(j->pix);
        j->pix = NULL;
    }
    return st;
}

Status png_probe(const char *path, PngInfo *info) {
    PngJob j;
    return decode_file(path, &j, info, 0);
}

Status png_read(const char *path, int c, uint8_t **pix, uint8_t **alpha, int *w, int *h) {
    *pix = NULL;
    if (alpha) *alpha = NULL;
    *w = *h = 0;
    if (c != 1 && c != 3) return bl_fail(BL_ERR_USAGE, "%s: can decode to 1 or 3 channels, not %d", path, c);
    PngJob j;
    PngInfo info;
    Status st = decode_file(path, &j, &info, 1);
    if (st) return st;
    if (c == 1 && info.color) {
        bl_free(j.pix);
        return bl_fail(BL_ERR_DATA, "%s is a colour PNG but the images here are gray (1 channel); convert it to "
                       "grayscale first", path);
    }
    size_t hw = (size_t)info.w * info.h;
    uint8_t *out = bl_alloc((size_t)c * hw), *a = alpha ? bl_alloc(hw) : NULL;
    if (!out || (alpha && !a)) {
        bl_free(out), bl_free(a), bl_free(j.pix);
        return bl_fail(BL_ERR_RUN, "%s: out of memory for %dx%d pixels", path, info.w, info.h);
    }
    int nch = j.channels, colour = nch >= 3, has_alpha = nch == 2 || nch == 4;
    for (size_t i = 0; i < hw; i++) {
        const uint8_t *px = j.pix + i * (size_t)nch;
        for (int ch = 0; ch < c; ch++) out[(size_t)ch * hw + i] = px[colour ? ch : 0]; // gray: replicate
        if (a) a[i] = has_alpha ? px[nch - 1] : 255;
    }
    bl_free(j.pix);
    *pix = out;
    if (alpha) *alpha = a;
    *w = info.w;
    *h = info.h;
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
