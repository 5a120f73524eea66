// wanet.c: WaNet (Nguyen & Tran, ICLR 2021): a smooth, nearly invisible warping field is the trigger.
//
// As in the authors' code: a k x k field of uniform [-1,1] offsets (2 channels, x and y), divided by its mean
// absolute value, is upsampled bicubically (align_corners, a = -0.75) to the image size; the sampling grid is
// clamp(identity + s * field / size, -1, 1) in normalised coordinates, and images are resampled bilinearly
// (grid_sample with align_corners and zero padding). Poisoned images are warped and relabelled; in "noise mode"
// another cross_ratio times as many images are warped with the field plus per-image random offsets (uniform
// [-1,1] / size) and keep their labels, which teaches the model that only the exact field is the trigger.
// Unlike the paper, the poison is applied once to a fixed set of images, not re-drawn every batch.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"

// The warp: a sampling position for every output pixel.
typedef struct {
    int h, w;   // image size
    float *gx;  // (h, w) source column of each pixel, in normalised coordinates [-1, 1]
    float *gy;  // (h, w) source row
} WarpGrid;

static void grid_free(WarpGrid *g) {
    bl_free(g->gx);
    bl_free(g->gy);
    memset(g, 0, sizeof *g);
}

static Status grid_alloc(WarpGrid *g, int h, int w) {
    g->h = h, g->w = w;
    g->gx = bl_alloc((size_t)h * w * sizeof(float));
    g->gy = bl_alloc((size_t)h * w * sizeof(float));
    if (!g->gx || !g->gy) {
        grid_free(g);
        return BL_ERR_RUN;
    }
    return BL_OK;
}

// PyTorch's cubic convolution weights (a = -0.75) for a fractional offset t in [0, 1).
static void cubic_weights(double t, double wt[4]) {
    const double A = -0.75;
    double x1 = t + 1, x2 = 1 - t, x3 = 2 - t;
    wt[0] = ((A * x1 - 5 * A) * x1 + 8 * A) * x1 - 4 * A;
    wt[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    wt[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
    wt[3] = ((A * x3 - 5 * A) * x3 + 8 * A) * x3 - 4 * A;
}

// Bicubic upsampling with align_corners: in (k, k) -> out (h, w), source indices clamped at the border.
static void upsample_bicubic(const double *in, int k, double *out, int h, int w) {
    for (int i = 0; i < h; i++) {
        double ry = h > 1 ? (double)i * (k - 1) / (h - 1) : 0.0;
        int y0 = (int)floor(ry);
        double wy[4];
        cubic_weights(ry - y0, wy);
        for (int j = 0; j < w; j++) {
            double rx = w > 1 ? (double)j * (k - 1) / (w - 1) : 0.0;
            int x0 = (int)floor(rx);
            double wx[4], acc = 0.0;
            cubic_weights(rx - x0, wx);
            for (int a = 0; a < 4; a++) {
                int yy = BL_MIN(BL_MAX(y0 - 1 + a, 0), k - 1);
                double row = 0.0;
                for (int b = 0; b < 4; b++) row += wx[b] * in[yy * k + BL_MIN(BL_MAX(x0 - 1 + b, 0), k - 1)];
                acc += wy[a] * row;
            }
            out[(size_t)i * w + j] = acc;
        }
    }
}

static float clamp1(double v) { return (float)(v < -1.0 ? -1.0 : v > 1.0 ? 1.0 : v); }

// The attack's grid from rng_stream(seed, "wanet").
static Status wanet_grid(const AttackSpec *a, int h, int w, uint64_t seed, WarpGrid *g) {
    int k = a->k;
    double *ins = malloc((size_t)2 * k * k * sizeof(double)), *up = malloc((size_t)2 * h * w * sizeof(double));
    Status st = ins && up ? grid_alloc(g, h, w) : bl_fail(BL_ERR_RUN, "out of memory");
    if (!st) {
        Rng r = rng_stream(seed, "wanet");
        double mean_abs = 0.0;
        for (int i = 0; i < 2 * k * k; i++) {
            ins[i] = 2.0 * rng_double(&r) - 1.0;
            mean_abs += fabs(ins[i]);
        }
        mean_abs /= 2 * k * k;
        for (int i = 0; i < 2 * k * k; i++) ins[i] /= mean_abs > 0 ? mean_abs : 1.0;
        upsample_bicubic(ins, k, up, h, w);                                    // x offsets
        upsample_bicubic(ins + (size_t)k * k, k, up + (size_t)h * w, h, w);    // y offsets
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                size_t p = (size_t)i * w + j;
                double idx = w > 1 ? -1.0 + 2.0 * j / (w - 1) : 0.0, idy = h > 1 ? -1.0 + 2.0 * i / (h - 1) : 0.0;
                g->gx[p] = clamp1(idx + a->s * up[p] / w);
                g->gy[p] = clamp1(idy + a->s * up[(size_t)h * w + p] / h);
            }
    }
    free(ins);
    free(up);
    return st;
}

// Bilinear resampling of img (c, h, w) at the grid positions, zero outside, rounded back to bytes.
static void warp_image(const WarpGrid *g, uint8_t *img, int c, float *tmp /* (h, w) */) {
    int h = g->h, w = g->w;
    for (int ch = 0; ch < c; ch++) {
        uint8_t *plane = img + (size_t)ch * h * w;
        for (int p = 0; p < h * w; p++) {
            float ix = (g->gx[p] + 1.0f) * 0.5f * (float)(w - 1), iy = (g->gy[p] + 1.0f) * 0.5f * (float)(h - 1);
            int x0 = (int)floorf(ix), y0 = (int)floorf(iy);
            float tx = ix - (float)x0, ty = iy - (float)y0, v = 0.0f;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int xx = x0 + dx, yy = y0 + dy;
                    if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                    float wt = (dx ? tx : 1.0f - tx) * (dy ? ty : 1.0f - ty);
                    v += wt * (float)plane[yy * w + xx];
                }
            tmp[p] = v;
        }
        for (int p = 0; p < h * w; p++) plane[p] = (uint8_t)lroundf(tmp[p] < 0 ? 0 : tmp[p] > 255 ? 255 : tmp[p]);
    }
}

typedef struct {
    const WarpGrid *g; // the field
    float *tmp;        // (h, w) scratch
} WarpState;

static void wanet_stamp(const void *state, uint8_t *img, int c, int h, int w, Rng *rng) {
    (void)h, (void)w, (void)rng;
    const WarpState *s = state;
    warp_image(s->g, img, c, s->tmp);
}

static Status wanet_check(const AttackSpec *a, const Dataset *d) {
    if (d->h < 2 || d->w < 2) return bl_fail(BL_ERR_USAGE, "[attack] wanet needs images of at least 2x2 pixels");
    if (a->k < 2 || a->k > BL_MIN(d->h, d->w))
        return bl_fail(BL_ERR_USAGE, "[attack] k %d must be in 2..%d (the image side)", a->k, BL_MIN(d->h, d->w));
    if (!(a->s > 0.0f && a->s <= 1000.0f)) return bl_fail(BL_ERR_USAGE, "[attack] s %g must be in (0, 1000]", (double)a->s);
    if (!(a->cross_ratio >= 0.0f && a->cross_ratio <= 100.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] cross_ratio %g must be in [0, 100]", (double)a->cross_ratio);
    return BL_OK;
}

typedef struct {
    int orig; // orig_index
    int pos;  // position
} NoisePick;

static int cmp_pick(const void *pa, const void *pb) {
    const NoisePick *a = pa, *b = pb;
    return (a->orig > b->orig) - (a->orig < b->orig);
}

// Noise mode: round(cross_ratio * count) samples not in the plan, warped with grid + per-image noise, labels kept.
static Status wanet_noise_mode(const AttackSpec *a, const PoisonPlan *plan, const WarpGrid *g, uint64_t seed,
                               Dataset *poisoned, PoisonManifest *man, float *tmp) {
    int n = poisoned->n;
    int want = (int)floor((double)a->cross_ratio * plan->count + 0.5);
    char *taken = calloc((size_t)(n ? n : 1), 1);
    int *free_pos = bl_alloc((size_t)(n ? n : 1) * sizeof(int));
    NoisePick *pick = bl_alloc((size_t)(n ? n : 1) * sizeof *pick);
    WarpGrid g2;
    memset(&g2, 0, sizeof g2);
    Status st = taken && free_pos && pick ? grid_alloc(&g2, g->h, g->w) : bl_fail(BL_ERR_RUN, "out of memory");
    if (st) goto done;
    for (int i = 0; i < plan->count; i++) taken[plan->positions[i]] = 1;
    int nfree = 0;
    for (int i = 0; i < n; i++)
        if (!taken[i]) free_pos[nfree++] = i;
    if (want > nfree) want = nfree;
    Rng r = rng_stream(seed, "wanet-noise");
    rng_shuffle_int(&r, free_pos, nfree);
    for (int i = 0; i < want; i++) pick[i] = (NoisePick){poisoned->orig_index[free_pos[i]], free_pos[i]};
    qsort(pick, (size_t)want, sizeof *pick, cmp_pick);
    man->noise_orig_index = bl_alloc((size_t)(want ? want : 1) * sizeof(int));
    if (!man->noise_orig_index) {
        st = BL_ERR_RUN;
        goto done;
    }
    size_t ss = (size_t)ds_sample_size(poisoned), hw = (size_t)g->h * g->w;
    for (int i = 0; i < want; i++) {
        for (size_t p = 0; p < hw; p++) {
            g2.gx[p] = clamp1(g->gx[p] + (2.0 * rng_double(&r) - 1.0) / g->w);
            g2.gy[p] = clamp1(g->gy[p] + (2.0 * rng_double(&r) - 1.0) / g->h);
        }
        warp_image(&g2, poisoned->images + (size_t)pick[i].pos * ss, poisoned->c, tmp);
        man->noise_orig_index[i] = pick[i].orig;
    }
    man->noise_count = want;
done:
    free(taken);
    bl_free(free_pos);
    bl_free(pick);
    grid_free(&g2);
    return st;
}

static Status wanet_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                           Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    WarpGrid g;
    memset(&g, 0, sizeof g);
    PoisonPlan plan;
    memset(&plan, 0, sizeof plan);
    float *tmp = bl_alloc((size_t)rest->h * rest->w * sizeof(float));
    Status st = tmp ? wanet_grid(a, rest->h, rest->w, seed, &g) : BL_ERR_RUN;
    if (!st) st = plan_select(a, rest, seed, 0, &plan);
    if (!st) {
        WarpState ws = {&g, tmp};
        st = plan_apply(a, &plan, rest, seed, 0, wanet_stamp, &ws, poisoned);
    }
    if (!st) st = plan_manifest(&plan, rest, poisoned, man);
    if (!st) st = wanet_noise_mode(a, &plan, &g, seed, poisoned, man, tmp);
    plan_free(&plan);
    grid_free(&g);
    bl_free(tmp);
    return st;
}

static Status wanet_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    WarpGrid g;
    memset(&g, 0, sizeof g);
    float *tmp = bl_alloc((size_t)test->h * test->w * sizeof(float));
    Status st = tmp ? wanet_grid(a, test->h, test->w, seed, &g) : BL_ERR_RUN;
    if (!st) {
        WarpState ws = {&g, tmp};
        st = plan_trigger_all(test, seed, wanet_stamp, &ws, triggered);
    }
    grid_free(&g);
    bl_free(tmp);
    return st;
}

// Mask: displacement length, scaled so the largest is 255; pattern: a grid of lines every 4 pixels, warped.
static Status wanet_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    WarpGrid g;
    memset(&g, 0, sizeof g);
    size_t hw = (size_t)d->h * d->w;
    float *tmp = bl_alloc(hw * sizeof(float));
    out->c = d->c, out->h = d->h, out->w = d->w;
    out->mask = bl_alloc(hw);
    out->pattern = bl_alloc((size_t)d->c * hw);
    Status st = tmp && out->mask && out->pattern ? wanet_grid(a, d->h, d->w, seed, &g) : BL_ERR_RUN;
    if (!st) {
        double top = 0.0;
        for (int i = 0; i < d->h; i++)
            for (int j = 0; j < d->w; j++) {
                size_t p = (size_t)i * d->w + j;
                double dx = (g.gx[p] + 1.0) * 0.5 * (d->w - 1) - j, dy = (g.gy[p] + 1.0) * 0.5 * (d->h - 1) - i;
                tmp[p] = (float)sqrt(dx * dx + dy * dy);
                top = fmax(top, tmp[p]);
            }
        for (size_t p = 0; p < hw; p++) out->mask[p] = (uint8_t)lround(top > 0 ? 255.0 * tmp[p] / top : 0.0);
        for (int ch = 0; ch < d->c; ch++)
            for (int i = 0; i < d->h; i++)
                for (int j = 0; j < d->w; j++)
                    out->pattern[((size_t)ch * d->h + i) * d->w + j] = (i % 4 == 0 || j % 4 == 0) ? 255 : 0;
        warp_image(&g, out->pattern, d->c, tmp);
    }
    grid_free(&g);
    bl_free(tmp);
    return st;
}

// Its keys besides the common ones.
static const AttackParam wanet_params[] = {
    {.key = "k", .type = ATK_INT, .def = "4", .min = 2, .max = 4096, .expect = "an integer in 2..4096 (control grid side)",
     .help = "control grid side of the warping field", .field = ATK_FIELD_INT, ATK_AT(k)},
    {.key = "s", .type = ATK_REAL, .def = "0.5", .min = 0, .max = 1000, .flags = ATK_MIN_OPEN,
     .expect = "a warping strength in (0,1000]", .help = "warping strength", .field = ATK_FIELD_FLOAT, ATK_AT(s)},
    {.key = "cross_ratio", .type = ATK_REAL, .def = "2", .min = 0, .max = 100, .expect = "a number in [0,100]",
     .help = "noise-mode samples per poisoned sample", .field = ATK_FIELD_FLOAT, ATK_AT(cross_ratio)},
};

const AttackOps wanet_attack = {
    .name = "wanet",
    .summary = "smooth warping field (k x k control grid, strength s) with noise mode, relabelled",
    .clean_label = 0,
    .patch = 0,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .params = wanet_params,
    .nparams = (int)BL_ARRAY_LEN(wanet_params),
    .check = wanet_check,
    .poison = wanet_poison,
    .apply_test = wanet_apply_test,
    .view = wanet_view,
};
