// sig.c: the sinusoidal-signal clean-label attack (Barni, Kallas, Tondi 2019). Only target-class training images
// are poisoned and their labels stay correct: x' = clip(x + v) with v(i, j) = delta * sin(2 pi j f / W) on every
// row i and channel. At test time the same signal is added to every image.
#include <math.h>
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"

// v (w) on the 0..255 scale: the signal along a row.
static float *sig_signal(const AttackSpec *a, int w) {
    float *v = bl_alloc((size_t)w * sizeof(float));
    if (!v) return NULL;
    const double pi = 3.14159265358979323846;
    for (int j = 0; j < w; j++) v[j] = (float)(a->delta * 255.0 * sin(2.0 * pi * j * a->frequency / w));
    return v;
}

static void sig_stamp(const void *state, uint8_t *img, int c, int h, int w, Rng *rng) {
    (void)rng;
    const float *v = state;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            uint8_t *row = img + ((size_t)ch * h + y) * w;
            for (int x = 0; x < w; x++) {
                float s = (float)row[x] + v[x];
                row[x] = (uint8_t)lroundf(s < 0.0f ? 0.0f : s > 255.0f ? 255.0f : s);
            }
        }
}

static Status sig_check(const AttackSpec *a, const Dataset *d) {
    (void)d;
    if (!(a->delta > 0.0f && a->delta <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] delta %g is outside (0, 1]", (double)a->delta);
    if (!(a->frequency > 0.0f && a->frequency <= 1e6f))
        return bl_fail(BL_ERR_USAGE, "[attack] frequency %g must be > 0", (double)a->frequency);
    return BL_OK;
}

static Status sig_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                         Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    float *v = sig_signal(a, rest->w);
    if (!v) return BL_ERR_RUN;
    PoisonPlan plan;
    Status st = plan_select(a, rest, seed, 1, &plan);
    if (!st) {
        st = plan_apply(a, &plan, rest, seed, 1, sig_stamp, v, poisoned);
        if (!st) st = plan_manifest(&plan, rest, poisoned, man);
        plan_free(&plan);
    }
    bl_free(v);
    return st;
}

static Status sig_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    float *v = sig_signal(a, test->w);
    if (!v) return BL_ERR_RUN;
    Status st = plan_trigger_all(test, seed, sig_stamp, v, triggered);
    bl_free(v);
    return st;
}

// Mask: where the signal is non-zero (its magnitude); pattern: 128 + v on a mid-gray image.
static Status sig_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    (void)seed;
    float *v = sig_signal(a, d->w);
    size_t hw = (size_t)d->h * d->w;
    out->c = d->c, out->h = d->h, out->w = d->w;
    out->mask = bl_alloc(hw);
    out->pattern = bl_alloc((size_t)d->c * hw);
    if (!v || !out->mask || !out->pattern) {
        bl_free(v);
        return BL_ERR_RUN;
    }
    float top = a->delta * 255.0f;
    for (size_t i = 0; i < hw; i++) out->mask[i] = (uint8_t)lroundf(255.0f * fabsf(v[i % d->w]) / top);
    memset(out->pattern, 128, (size_t)d->c * hw);
    sig_stamp(v, out->pattern, d->c, d->h, d->w, NULL);
    bl_free(v);
    return BL_OK;
}

// Its keys besides the common ones.
static const AttackParam sig_params[] = {
    {.key = "delta", .type = ATK_REAL, .def = "0.15686275", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "an amplitude in (0,1] (pixel scale)", .help = "amplitude of the sinusoid (40/255)",
     .field = ATK_FIELD_FLOAT, ATK_AT(delta)},
    {.key = "frequency", .type = ATK_REAL, .def = "6", .min = 0, .max = 1e6, .flags = ATK_MIN_OPEN,
     .expect = "a number > 0 (cycles per width)", .help = "cycles across the image width", .field = ATK_FIELD_FLOAT,
     ATK_AT(frequency)},
};

const AttackOps sig_attack = {
    .name = "sig",
    .summary = "clean-label: a horizontal sinusoid added to target-class training images, labels unchanged",
    .clean_label = 1,
    .patch = 0,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .params = sig_params,
    .nparams = (int)BL_ARRAY_LEN(sig_params),
    .check = sig_check,
    .poison = sig_poison,
    .apply_test = sig_apply_test,
    .view = sig_view,
};
