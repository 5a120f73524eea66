// badnets.c: BadNets (Gu, Dolan-Gavitt, Garg 2017): stamp a patch trigger on some training images and relabel
// them (all2one: the target; all2all: y+1 mod K). The patch kinds live in trigger.c.
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"
#include "attack/trigger.h"

static Status badnets_check(const AttackSpec *a, const Dataset *d) { return trigger_check_patch_spec(a, d); }

static Status badnets_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                             Dataset *poisoned, PoisonManifest *man) {
    (void)ctx;
    Trigger t;
    PoisonPlan plan;
    Status st = trigger_build_patch(a, rest->c, rest->h, rest->w, seed, &t);
    if (st) return st;
    if ((st = plan_select(a, rest, seed, 0, &plan))) goto done;
    Placement pl = {&t, a->position, a->pos_x, a->pos_y, a->alpha_train};
    st = plan_apply(a, &plan, rest, seed, 0, trigger_stamp, &pl, poisoned);
    if (!st) st = plan_manifest(&plan, rest, poisoned, man);
    plan_free(&plan);
done:
    trigger_free(&t);
    return st;
}

static Status badnets_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    Trigger t;
    Status st = trigger_build_patch(a, test->c, test->h, test->w, seed, &t);
    if (st) return st;
    Placement pl = {&t, a->position_test, a->pos_test_x, a->pos_test_y, a->alpha_test};
    st = plan_trigger_all(test, seed, trigger_stamp, &pl, triggered);
    trigger_free(&t);
    return st;
}

// The patch on a black image at its training position (a random position is shown at the top-left).
static Status badnets_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    Trigger t;
    Status st = trigger_build_patch(a, d->c, d->h, d->w, seed, &t);
    if (st) return st;
    size_t hw = (size_t)d->h * d->w;
    out->c = d->c, out->h = d->h, out->w = d->w;
    out->mask = bl_alloc(hw);
    out->pattern = bl_alloc((size_t)d->c * hw);
    if (!out->mask || !out->pattern) {
        trigger_free(&t);
        return BL_ERR_RUN;
    }
    int x0, y0;
    trigger_origin(a->position == POS_RANDOM ? POS_TOP_LEFT : a->position, a->pos_x, a->pos_y, t.h, t.w, d->h, d->w,
                   NULL, &x0, &y0);
    Trigger white = t; // the mask drawn as a patch of 255s, blended with the same weights
    float *ones = bl_alloc((size_t)t.c * t.h * t.w * sizeof(float));
    if (!ones) {
        trigger_free(&t);
        return BL_ERR_RUN;
    }
    for (size_t i = 0; i < (size_t)t.c * t.h * t.w; i++) ones[i] = 255.0f;
    white.c = 1;
    white.pattern = ones;
    trigger_apply(&white, out->mask, d->h, d->w, x0, y0, 1.0f);
    trigger_apply(&t, out->pattern, d->h, d->w, x0, y0, a->alpha_train);
    bl_free(ones);
    trigger_free(&t);
    return BL_OK;
}

const AttackOps badnets_attack = {
    .name = "badnets",
    .summary = "patch trigger (square, pixel, pattern, checkerboard, noise or PNG) stamped on training images, "
               "which are relabelled",
    .clean_label = 0,
    .patch = 1,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .shared = &attack_patch_keys, // trigger, trigger_size, trigger_png, trigger_value, position, ..., alpha_test
    .check = badnets_check,
    .poison = badnets_poison,
    .apply_test = badnets_apply_test,
    .view = badnets_view,
};
