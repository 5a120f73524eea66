// trigger.c: building patch and key triggers, placing them, blending them in.
#include "attack/trigger.h"

#include <math.h>
#include <string.h>

#include "io/png.h"

void trigger_free(Trigger *t) {
    if (!t) return;
    bl_free(t->mask);
    bl_free(t->pattern);
    memset(t, 0, sizeof *t);
}

static Status trigger_alloc(Trigger *t, int c, int h, int w) {
    memset(t, 0, sizeof *t);
    t->mask = bl_alloc((size_t)h * w * sizeof(float));
    t->pattern = bl_alloc((size_t)c * h * w * sizeof(float));
    if (!t->mask || !t->pattern) {
        trigger_free(t);
        return BL_ERR_RUN;
    }
    t->c = c, t->h = h, t->w = w;
    return BL_OK;
}

// Set pixel (y, x) of the patch on in every channel with value v (0..255 scale).
static void set_on(Trigger *t, int y, int x, float v) {
    t->mask[y * t->w + x] = 1.0f;
    for (int ch = 0; ch < t->c; ch++) t->pattern[((size_t)ch * t->h + y) * t->w + x] = v;
}

// A PNG as mask (its alpha) and pattern, checked against the image shape. `full` requires exactly img_h x img_w.
static Status trigger_from_png(const char *path, int c, int img_h, int img_w, int full, Trigger *t) {
    uint8_t *pix, *alpha;
    int w, h;
    Status st = png_read(path, c, &pix, &alpha, &w, &h);
    if (st) return bl_fail_ctx(st, "[attack] trigger_png");
    if (full && (w != img_w || h != img_h))
        st = bl_fail(BL_ERR_USAGE, "[attack] trigger_png: the blend key %s is %dx%d but the images are %dx%d; "
                     "backdoorlab does not resample keys: resize it to %dx%d first", path, w, h, img_w, img_h, img_w,
                     img_h);
    else if (w > img_w || h > img_h)
        st = bl_fail(BL_ERR_USAGE, "[attack] trigger_png: the trigger %s is %dx%d, larger than the %dx%d images; "
                     "crop or shrink it", path, w, h, img_w, img_h);
    if (!st) st = trigger_alloc(t, c, h, w);
    if (!st) {
        size_t hw = (size_t)h * w;
        for (size_t i = 0; i < hw; i++) t->mask[i] = alpha[i] / 255.0f;
        for (size_t i = 0; i < (size_t)c * hw; i++) t->pattern[i] = pix[i];
    }
    bl_free(pix);
    bl_free(alpha);
    return st;
}

Status trigger_patch_size(const AttackSpec *a, int *th, int *tw) {
    if (!strcmp(a->trigger, "pixel")) {
        *th = *tw = 1;
    } else if (!strcmp(a->trigger, "pattern")) {
        *th = *tw = 3;
    } else if (!strcmp(a->trigger, "png")) {
        PngInfo info;
        Status st = png_probe(a->trigger_png, &info);
        if (st) return bl_fail_ctx(st, "[attack] trigger_png");
        *th = info.h, *tw = info.w;
    } else if (!strcmp(a->trigger, "square") || !strcmp(a->trigger, "checkerboard") || !strcmp(a->trigger, "noise")) {
        if (a->trigger_size < 1)
            return bl_fail(BL_ERR_USAGE, "[attack] trigger_size %d must be at least 1", a->trigger_size);
        *th = *tw = a->trigger_size;
    } else {
        return bl_fail(BL_ERR_USAGE, "[attack] trigger '%s' is unknown; use square, pixel, pattern, checkerboard, "
                       "noise or png", a->trigger);
    }
    return BL_OK;
}

Status trigger_build_patch(const AttackSpec *a, int c, int img_h, int img_w, uint64_t seed, Trigger *t) {
    memset(t, 0, sizeof *t);
    if (!strcmp(a->trigger, "png")) return trigger_from_png(a->trigger_png, c, img_h, img_w, 0, t);
    int th, tw;
    Status st = trigger_patch_size(a, &th, &tw);
    if (st) return st;
    if (th > img_h || tw > img_w)
        return bl_fail(BL_ERR_USAGE, "[attack] %s: a %dx%d %s trigger does not fit %dx%d images (use at most %d)",
                       th == 1 || !strcmp(a->trigger, "pattern") ? "trigger" : "trigger_size", tw, th, a->trigger,
                       img_w, img_h, BL_MIN(img_h, img_w));
    if (!(a->trigger_value >= 0.0f && a->trigger_value <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] trigger_value %g is outside [0, 1]", (double)a->trigger_value);
    if ((st = trigger_alloc(t, c, th, tw))) return st;
    const float on = a->trigger_value * 255.0f; // rounded when applied: 0.5 -> 128
    if (!strcmp(a->trigger, "square")) {
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) set_on(t, y, x, on);
    } else if (!strcmp(a->trigger, "pixel")) {
        set_on(t, 0, 0, on);
    } else if (!strcmp(a->trigger, "pattern")) { // ART add_pattern_bd: corners of an X missing its top-left arm
        set_on(t, 0, 2, on);
        set_on(t, 1, 1, on);
        set_on(t, 2, 0, on);
        set_on(t, 2, 2, on);
    } else if (!strcmp(a->trigger, "checkerboard")) {
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) set_on(t, y, x, (x + y) % 2 == 0 ? on : 0.0f);
    } else { // noise
        Rng r = rng_stream(seed, "trigger");
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++) t->mask[y * tw + x] = 1.0f;
        for (size_t i = 0; i < (size_t)c * th * tw; i++) t->pattern[i] = (float)rng_below(&r, 256);
    }
    return BL_OK;
}

Status trigger_build_key(const AttackSpec *a, int c, int img_h, int img_w, uint64_t seed, Trigger *t) {
    memset(t, 0, sizeof *t);
    if (a->key == KEY_PNG) return trigger_from_png(a->trigger_png, c, img_h, img_w, 1, t);
    Status st = trigger_alloc(t, c, img_h, img_w);
    if (st) return st;
    Rng r = rng_stream(seed, "trigger");
    for (size_t i = 0; i < (size_t)img_h * img_w; i++) t->mask[i] = 1.0f;
    for (size_t i = 0; i < (size_t)c * img_h * img_w; i++) t->pattern[i] = (float)rng_below(&r, 256);
    return BL_OK;
}

void trigger_origin(TriggerPos p, int px, int py, int th, int tw, int h, int w, Rng *rng, int *x0, int *y0) {
    switch (p) {
    case POS_BOTTOM_RIGHT: *x0 = w - tw, *y0 = h - th; break;
    case POS_BOTTOM_LEFT: *x0 = 0, *y0 = h - th; break;
    case POS_TOP_LEFT: *x0 = 0, *y0 = 0; break;
    case POS_TOP_RIGHT: *x0 = w - tw, *y0 = 0; break;
    case POS_CENTER: *x0 = (w - tw) / 2, *y0 = (h - th) / 2; break;
    case POS_XY: *x0 = px, *y0 = py; break;
    case POS_RANDOM: // row first, then column: the documented draw order
        *y0 = h >= th && rng ? (int)rng_below(rng, (uint64_t)(h - th + 1)) : 0;
        *x0 = w >= tw && rng ? (int)rng_below(rng, (uint64_t)(w - tw + 1)) : 0;
        break;
    default: *x0 = -1, *y0 = -1; break;
    }
}

Status trigger_check_fit(TriggerPos p, int px, int py, int th, int tw, int h, int w, const char *key) {
    if ((int)p < (int)POS_BOTTOM_RIGHT || (int)p > (int)POS_RANDOM)
        return bl_fail(BL_ERR_USAGE, "[attack] %s %d is invalid", key, (int)p);
    if (th > h || tw > w)
        return bl_fail(BL_ERR_USAGE, "[attack] a %dx%d trigger does not fit in %dx%d images", tw, th, w, h);
    if (p != POS_XY) return BL_OK; // named corners and random positions always fit a trigger that fits
    if (px < 0 || py < 0 || px > w - tw || py > h - th)
        return bl_fail(BL_ERR_USAGE, "[attack] %s: a %dx%d trigger at column %d, row %d falls outside the %dx%d "
                       "image; the column must be in 0..%d and the row in 0..%d", key, tw, th, px, py, w, h, w - tw,
                       h - th);
    return BL_OK;
}

void trigger_apply(const Trigger *t, uint8_t *img, int h, int w, int x0, int y0, float alpha) {
    const size_t hw = (size_t)h * w, thw = (size_t)t->h * t->w;
    for (int y = BL_MAX(y0, 0); y < BL_MIN(y0 + t->h, h); y++)
        for (int x = BL_MAX(x0, 0); x < BL_MIN(x0 + t->w, w); x++) {
            float m = alpha * t->mask[(y - y0) * t->w + (x - x0)];
            if (!(m > 0.0f)) continue; // untouched: bit-exact
            for (int ch = 0; ch < t->c; ch++) {
                uint8_t *px = &img[(size_t)ch * hw + (size_t)y * w + x];
                float v = (1.0f - m) * (float)*px + m * t->pattern[(size_t)ch * thw + (size_t)(y - y0) * t->w + (x - x0)];
                v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
                *px = (uint8_t)lroundf(v);
            }
        }
}

void trigger_stamp(const void *placement, uint8_t *img, int c, int h, int w, Rng *rng) {
    const Placement *pl = placement;
    (void)c; // the trigger carries its channel count
    int x0, y0;
    trigger_origin(pl->pos, pl->px, pl->py, pl->t->h, pl->t->w, h, w, rng, &x0, &y0);
    trigger_apply(pl->t, img, h, w, x0, y0, pl->alpha);
}

Status trigger_check_patch_spec(const AttackSpec *a, const Dataset *d) {
    if (!(a->alpha_train > 0.0f && a->alpha_train <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] alpha_train %g is outside (0, 1]", (double)a->alpha_train);
    if (!(a->alpha_test > 0.0f && a->alpha_test <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] alpha_test %g is outside (0, 1]", (double)a->alpha_test);
    Trigger t;
    Status st = trigger_build_patch(a, d->c, d->h, d->w, 0, &t); // seed only changes noise values, not validity
    if (st) return st;
    st = trigger_check_fit(a->position, a->pos_x, a->pos_y, t.h, t.w, d->h, d->w, "position");
    if (!st) st = trigger_check_fit(a->position_test, a->pos_test_x, a->pos_test_y, t.h, t.w, d->h, d->w,
                                    "position_test");
    trigger_free(&t);
    return st;
}
