// blended.c: the blended injection attack (Chen, Liu, Li, Lu, Song 2017): x' = (1 - alpha) x + alpha k with a
// whole-image key k (seeded uniform noise or a PNG), alpha_train on the poisoned training images (relabelled) and
// alpha_test on test images.
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"
#include "attack/trigger.h"

static Status blended_check(const AttackSpec *a, const Dataset *d) {
    if (!(a->alpha_train > 0.0f && a->alpha_train <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] alpha_train %g is outside (0, 1]", (double)a->alpha_train);
    if (!(a->alpha_test > 0.0f && a->alpha_test <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] alpha_test %g is outside (0, 1]", (double)a->alpha_test);
    Trigger t;
    Status st = trigger_build_key(a, d->c, d->h, d->w, 0, &t); // reads and checks a PNG key
    trigger_free(&t);
    return st;
}

static Status blended_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                             Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    Trigger t;
    PoisonPlan plan;
    Status st = trigger_build_key(a, rest->c, rest->h, rest->w, seed, &t);
    if (st) return st;
    if (!(st = plan_select(a, rest, seed, 0, &plan))) {
        Placement pl = {&t, POS_TOP_LEFT, 0, 0, a->alpha_train};
        st = plan_apply(a, &plan, rest, seed, 0, trigger_stamp, &pl, poisoned);
        if (!st) st = plan_manifest(&plan, rest, poisoned, man);
        plan_free(&plan);
    }
    trigger_free(&t);
    return st;
}

static Status blended_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    Trigger t;
    Status st = trigger_build_key(a, test->c, test->h, test->w, seed, &t);
    if (st) return st;
    Placement pl = {&t, POS_TOP_LEFT, 0, 0, a->alpha_test};
    st = plan_trigger_all(test, seed, trigger_stamp, &pl, triggered);
    trigger_free(&t);
    return st;
}

// Mask: the blend weight alpha_train (times the key's alpha); pattern: the key itself.
static Status blended_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    Trigger t;
    Status st = trigger_build_key(a, d->c, d->h, d->w, seed, &t);
    if (st) return st;
    size_t hw = (size_t)d->h * d->w;
    out->c = d->c, out->h = d->h, out->w = d->w;
    out->mask = bl_alloc(hw);
    out->pattern = bl_alloc((size_t)d->c * hw);
    if (out->mask && out->pattern) {
        for (size_t i = 0; i < hw; i++) out->mask[i] = (uint8_t)(a->alpha_train * t.mask[i] * 255.0f + 0.5f);
        for (size_t i = 0; i < (size_t)d->c * hw; i++) out->pattern[i] = (uint8_t)(t.pattern[i] + 0.5f);
    } else {
        st = BL_ERR_RUN;
    }
    trigger_free(&t);
    return st;
}

static int key_png(const AttackSpec *a) { return a->key == KEY_PNG; }
static const char *const key_names[] = {"noise", "png", NULL}; // indexed by BlendKey

// Its keys besides the common ones.
static const AttackParam blended_params[] = {
    {.key = "trigger_png", .type = ATK_STRING, .max = ATTACK_PATH_MAX - 1, ATTACK_PATH_EXPECT,
     .help = "key = png: the key image (the image size: not resampled)", .field = ATK_FIELD_TEXT,
     ATK_AT(trigger_png), .applies = key_png, .why = ATTACK_TRIGGER_PNG_WHY},
    {.key = "key", .type = ATK_CHOICE, .def = "noise", .choices = key_names,
     .help = "the key image: seeded uniform noise or a PNG (trigger_png)", .field = ATK_FIELD_ENUM, ATK_AT(key)},
    {.key = "alpha_train", .type = ATK_REAL, .def = "0.2", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "a blend weight in (0,1]", .help = "blend weight on training images", .field = ATK_FIELD_FLOAT,
     ATK_AT(alpha_train)},
    {.key = "alpha_test", .type = ATK_REAL, .def = "0.2", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "a blend weight in (0,1]", .help = "blend weight on test images", .field = ATK_FIELD_FLOAT,
     ATK_AT(alpha_test)},
};

const AttackOps blended_attack = {
    .name = "blended",
    .summary = "whole-image key (noise or PNG) blended in: x' = (1-alpha) x + alpha k, relabelled",
    .clean_label = 0,
    .patch = 0,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .params = blended_params,
    .nparams = (int)BL_ARRAY_LEN(blended_params),
    .check = blended_check,
    .poison = blended_poison,
    .apply_test = blended_apply_test,
    .view = blended_view,
};
