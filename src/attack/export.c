// export.c: writing poisoned datasets, poison.csv, trigger.png and gallery.png.
#include "attack/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attack/registry.h"
#include "data/idx.h"
#include "data/pngdir.h"
#include "io/png.h"
#include "io/results.h"

enum { GAP_VALUE = 128 }; // mid-gray gaps stand out against black backgrounds and white patches

// A canvas of (h, w) pixels with c channels, planar, filled with the gap colour; written as gray or RGB.
typedef struct {
    int c, h, w;  // channels (1 or 3), size
    uint8_t *pix; // (c, h, w)
} Canvas;

static Status canvas_new(Canvas *cv, int c, int h, int w) {
    cv->c = c, cv->h = h, cv->w = w;
    if (h > PNG_IO_MAX_SIDE || w > PNG_IO_MAX_SIDE)
        return bl_fail(BL_ERR_USAGE, "picture of %dx%d pixels is too large (max side %d)", w, h, PNG_IO_MAX_SIDE);
    cv->pix = bl_alloc((size_t)c * h * w);
    if (!cv->pix) return BL_ERR_RUN;
    memset(cv->pix, GAP_VALUE, (size_t)c * h * w);
    return BL_OK;
}

// Draw img (ic, ih, iw) at (x0, y0), each pixel scale x scale; a 1-channel image fills every canvas channel.
static void canvas_put(Canvas *cv, const uint8_t *img, int ic, int ih, int iw, int x0, int y0, int scale) {
    for (int ch = 0; ch < cv->c; ch++) {
        const uint8_t *src = img + (size_t)(ic == 1 ? 0 : ch) * ih * iw;
        for (int y = 0; y < ih * scale; y++)
            for (int x = 0; x < iw * scale; x++)
                cv->pix[((size_t)ch * cv->h + y0 + y) * cv->w + x0 + x] = src[(y / scale) * iw + x / scale];
    }
}

static Status canvas_write(const Canvas *cv, const char *path) {
    if (cv->c == 1) return png_write_gray(path, cv->pix, cv->w, cv->h);
    size_t hw = (size_t)cv->h * cv->w;
    uint8_t *rgb = bl_alloc(hw * 3); // (h, w, 3)
    if (!rgb) return BL_ERR_RUN;
    for (size_t p = 0; p < hw; p++)
        for (int ch = 0; ch < 3; ch++) rgb[p * 3 + (size_t)ch] = cv->pix[(size_t)ch * hw + p];
    Status st = png_write_rgb(path, rgb, cv->w, cv->h);
    bl_free(rgb);
    return st;
}

Status attack_write_trigger_png(const char *path, const AttackSpec *a, const Dataset *like, uint64_t seed) {
    if (like->c != 1 && like->c != 3)
        return bl_fail(BL_ERR_USAGE, "%s: pictures need 1 or 3 channels, not %d", path, like->c);
    TriggerView v;
    Status st = attack_view(a, like, seed, &v);
    if (st) return st;
    int scale = BL_MAX(1, (112 + BL_MAX(v.h, v.w) - 1) / BL_MAX(v.h, v.w)), gap = 4;
    Canvas cv = {0};
    st = canvas_new(&cv, v.c, v.h * scale, 2 * v.w * scale + gap);
    if (!st) {
        canvas_put(&cv, v.mask, 1, v.h, v.w, 0, 0, scale);
        canvas_put(&cv, v.pattern, v.c, v.h, v.w, v.w * scale + gap, 0, scale);
        st = canvas_write(&cv, path);
    }
    bl_free(cv.pix);
    trigger_view_free(&v);
    return st;
}

Status attack_write_gallery(const char *path, const Dataset *clean, const Dataset *triggered, int per_class) {
    const int scale = 3, gap = 2;
    if ((clean->c != 1 && clean->c != 3) || triggered->c != clean->c || triggered->h != clean->h ||
        triggered->w != clean->w || triggered->n != clean->n)
        return bl_fail(BL_ERR_USAGE, "%s: the gallery needs a clean and a triggered set of the same shape, 1 or 3 "
                       "channels", path);
    if (per_class < 1 || per_class > 16) return bl_fail(BL_ERR_USAGE, "%s: per_class must be 1..16", path);
    int K = BL_MIN(clean->num_classes, 256), *idx = malloc((size_t)K * per_class * sizeof(int)), k = 0;
    int taken[256] = {0};
    if (!idx) return bl_fail(BL_ERR_RUN, "out of memory");
    for (int i = 0; i < clean->n && k < K * per_class; i++) {
        int y = clean->labels[i];
        if (y < K && taken[y] < per_class) taken[y]++, idx[k++] = i;
    }
    // the k chosen samples grouped by class, in test-set order within a class
    int *order = malloc((size_t)(k ? k : 1) * sizeof(int)), m = 0;
    for (int y = 0; order && y < K; y++)
        for (int j = 0; j < k; j++)
            if (clean->labels[idx[j]] == y) order[m++] = idx[j];
    size_t ss = (size_t)ds_sample_size(clean);
    uint8_t *diff = bl_alloc(ss * (size_t)(k ? k : 1)); // (k, c, h, w)
    Canvas cv = {0};
    Status st = !order || !diff ? bl_fail(BL_ERR_RUN, "out of memory") : k == 0 ? bl_fail(BL_ERR_USAGE, "%s: no samples", path) : BL_OK;
    if (!st) st = canvas_new(&cv, clean->c, 3 * clean->h * scale + 2 * gap, k * (clean->w * scale + gap) - gap);
    if (!st) {
        int top = 0;
        for (int j = 0; j < k; j++)
            for (size_t p = 0; p < ss; p++) {
                int d = abs((int)triggered->images[(size_t)order[j] * ss + p] - (int)clean->images[(size_t)order[j] * ss + p]);
                diff[(size_t)j * ss + p] = (uint8_t)d;
                top = BL_MAX(top, d);
            }
        for (size_t p = 0; p < ss * (size_t)k; p++) diff[p] = (uint8_t)(top ? (diff[p] * 255 + top / 2) / top : 0);
        for (int j = 0; j < k; j++) {
            int x0 = j * (clean->w * scale + gap), rh = clean->h * scale + gap;
            canvas_put(&cv, clean->images + (size_t)order[j] * ss, clean->c, clean->h, clean->w, x0, 0, scale);
            canvas_put(&cv, triggered->images + (size_t)order[j] * ss, clean->c, clean->h, clean->w, x0, rh, scale);
            canvas_put(&cv, diff + (size_t)j * ss, clean->c, clean->h, clean->w, x0, 2 * rh, scale);
        }
        st = canvas_write(&cv, path);
    }
    bl_free(cv.pix);
    bl_free(diff);
    free(order);
    free(idx);
    return st;
}

static Status write_idx_pair(const char *dir, const char *images, const char *labels, const Dataset *d) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, images);
    Status st = idx_write_images(p, d);
    if (st) return st;
    snprintf(p, sizeof p, "%s/%s", dir, labels);
    return idx_write_labels(p, d);
}

static Status write_noise_csv(const char *path, const PoisonManifest *man) {
    size_t cap = 16 + (size_t)man->noise_count * 12, w = 0;
    char *buf = malloc(cap);
    if (!buf) return bl_fail(BL_ERR_RUN, "out of memory");
    w += (size_t)snprintf(buf, cap, "index\n");
    for (int i = 0; i < man->noise_count; i++) w += (size_t)snprintf(buf + w, cap - w, "%d\n", man->noise_orig_index[i]);
    Status st = write_file_atomic(path, buf, w);
    free(buf);
    return st;
}

Status attack_export(const char *dir, ExportFormat fmt, const AttackSpec *a, uint64_t seed, const Dataset *train,
                     const Dataset *test, const Dataset *triggered, const PoisonManifest *man) {
    Status st;
    if (fmt == EXPORT_IDX) {
        if ((st = write_idx_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train)) ||
            (st = write_idx_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test)) ||
            (st = write_idx_pair(dir, "triggered-images-idx3-ubyte", "triggered-labels-idx1-ubyte", triggered)))
            return st;
    } else {
        if ((st = dataset_write_png_dir(dir, "train", train)) || (st = dataset_write_png_dir(dir, "test", test)) ||
            (st = dataset_write_png_dir(dir, "triggered", triggered)))
            return st;
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/poison.csv", dir);
    if ((st = poison_manifest_write_csv(man, p))) return st;
    if (man->noise_count > 0) {
        snprintf(p, sizeof p, "%s/noise.csv", dir);
        if ((st = write_noise_csv(p, man))) return st;
    }
    snprintf(p, sizeof p, "%s/trigger.png", dir);
    if ((st = attack_write_trigger_png(p, a, test, seed))) return st;
    snprintf(p, sizeof p, "%s/gallery.png", dir);
    return attack_write_gallery(p, test, triggered, 2);
}
