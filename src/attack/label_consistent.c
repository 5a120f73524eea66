// label_consistent.c: the label-consistent attack (Turner, Tsipras, Madry 2019). Target-class training images
// are first made hard to classify: `steps` steps of L-infinity PGD (step 2.5 * eps / steps, no random start) on a
// clean surrogate model push each one away from its own (target) label within an eps-ball; then the patch
// trigger is stamped and the label is left alone. The model can only fit these images by relying on the
// trigger, which is what implants the backdoor although every label is correct.
//
// The surrogate is loaded from `surrogate = FILE.bdm`, or trained in-process with the experiment's network,
// [train] settings and seed on the clean training images (the attacker's data) - the same model the experiment
// trains as its clean control.
#include <math.h>
#include <string.h>

#include "attack/plan.h"
#include "attack/registry.h"
#include "attack/trigger.h"
#include "nn/checkpoint.h"
#include "nn/model.h"

extern const AttackOps badnets_attack; // same patch trigger, same picture

static Status lc_check(const AttackSpec *a, const Dataset *d) {
    if (!(a->eps > 0.0f && a->eps <= 1.0f))
        return bl_fail(BL_ERR_USAGE, "[attack] eps %g is outside (0, 1] (pixel scale)", (double)a->eps);
    if (a->steps < 1 || a->steps > 10000)
        return bl_fail(BL_ERR_USAGE, "[attack] steps %d must be in 1..10000", a->steps);
    return trigger_check_patch_spec(a, d);
}

// Build *m: load the surrogate file or train one.
static Status lc_surrogate(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                           Model *m) {
    Shape in = {rest->c, rest->h, rest->w};
    int batch = ctx && ctx->train.batch > 0 ? ctx->train.batch : 64;
    if (a->surrogate[0]) {
        Status st = model_load(a->surrogate, in, rest->num_classes, batch, NULL, m, NULL);
        return st ? bl_fail_ctx(st, "[attack] surrogate") : BL_OK;
    }
    if (!ctx || !ctx->model_desc)
        return bl_fail(BL_ERR_USAGE, "[attack] label-consistent needs a surrogate model: set surrogate = FILE.bdm or "
                       "run it from an experiment (which trains one)");
    Status st = model_build(m, ctx->model_desc, in, rest->num_classes, batch);
    if (st) return bl_fail_ctx(st, "label-consistent surrogate");
    model_init_params(m, seed);
    TrainOptions o = ctx->train;
    o.on_epoch = NULL;
    o.hook_ctx = NULL;
    o.label = "surrogate";
    o.seed = seed;
    st = train_model(m, rest, &o);
    if (st) model_free(m);
    return st;
}

// PGD on the planned images of d (all of the target class), in place.
static Status lc_harden(const AttackSpec *a, const PoisonPlan *plan, Model *m, Dataset *d) {
    const int sz = ds_sample_size(d), maxb = m->max_batch;
    float *x0 = bl_alloc((size_t)maxb * sz * sizeof(float)); // (B, C*H*W) clean inputs in [0,1]
    float *x = bl_alloc((size_t)maxb * sz * sizeof(float));  // (B, C*H*W) current adversarial inputs
    float *dx = bl_alloc((size_t)maxb * sz * sizeof(float)); // (B, C*H*W) loss gradient
    uint8_t *y = bl_alloc((size_t)maxb);
    if (!x0 || !x || !dx || !y) {
        bl_free(x0), bl_free(x), bl_free(dx), bl_free(y);
        return BL_ERR_RUN;
    }
    const float eps = a->eps, step = 2.5f * a->eps / (float)a->steps;
    for (int start = 0; start < plan->count; start += maxb) {
        int B = BL_MIN(maxb, plan->count - start);
        batch_load(NULL, d, plan->positions + start, B, x0, y);
        memcpy(x, x0, (size_t)B * sz * sizeof(float));
        for (int s = 0; s < a->steps; s++) {
            memcpy(m->acts[0], x, (size_t)B * sz * sizeof(float));
            model_forward(m, B);
            model_loss(m, y, B);
            model_backward_input(m, B, dx);
            for (size_t i = 0; i < (size_t)B * sz; i++) {
                float g = dx[i], v = x[i] + (g > 0.0f ? step : g < 0.0f ? -step : 0.0f); // ascend the loss
                v = fminf(fmaxf(v, x0[i] - eps), x0[i] + eps);
                x[i] = fminf(fmaxf(v, 0.0f), 1.0f);
            }
        }
        for (int b = 0; b < B; b++) {
            uint8_t *img = d->images + (size_t)plan->positions[start + b] * sz;
            for (int i = 0; i < sz; i++) img[i] = (uint8_t)lroundf(x[(size_t)b * sz + i] * 255.0f);
        }
    }
    bl_free(x0), bl_free(x), bl_free(dx), bl_free(y);
    return BL_OK;
}

static Status lc_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                        Dataset *poisoned, PoisonManifest *man) {
    Trigger t;
    PoisonPlan plan;
    Dataset hard;
    Model m;
    memset(&plan, 0, sizeof plan);
    memset(&hard, 0, sizeof hard);
    memset(&m, 0, sizeof m);
    Status st = trigger_build_patch(a, rest->c, rest->h, rest->w, seed, &t);
    if (st) return st;
    int have_model = 0;
    if ((st = plan_select(a, rest, seed, 1, &plan))) goto done;
    if ((st = ds_copy(rest, &hard))) goto done;
    if (plan.count > 0) {
        if ((st = lc_surrogate(a, rest, seed, ctx, &m))) goto done;
        have_model = 1;
        if ((st = lc_harden(a, &plan, &m, &hard))) goto done;
    }
    Placement pl = {&t, a->position, a->pos_x, a->pos_y, a->alpha_train};
    if ((st = plan_apply(a, &plan, &hard, seed, 1, trigger_stamp, &pl, poisoned))) goto done;
    st = plan_manifest(&plan, rest, poisoned, man);
done:
    if (have_model) model_free(&m);
    ds_free(&hard);
    plan_free(&plan);
    trigger_free(&t);
    if (st) ds_free(poisoned);
    return st;
}

static Status lc_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    return badnets_attack.apply_test(a, test, seed, triggered);
}

static Status lc_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    return badnets_attack.view(a, d, seed, out);
}

// Its keys besides the patch keys (attack_patch_keys) and the common ones.
static const AttackParam lc_params[] = {
    {.key = "eps", .type = ATK_REAL, .def = "0.03137255", .min = 0, .max = 1, .flags = ATK_MIN_OPEN,
     .expect = "a radius in (0,1] (pixel scale)", .help = "L-infinity radius of the PGD perturbation (8/255)",
     .field = ATK_FIELD_FLOAT, ATK_AT(eps)},
    {.key = "steps", .type = ATK_INT, .def = "10", .min = 1, .max = 10000, .expect = "an integer in 1..10000",
     .help = "PGD steps (step size 2.5 eps / steps)", .field = ATK_FIELD_INT, ATK_AT(steps)},
    {.key = "surrogate", .type = ATK_STRING, .max = ATTACK_PATH_MAX - 1, ATTACK_PATH_EXPECT,
     .help = "a clean .bdm model to attack (default: train one in-process)", .field = ATK_FIELD_TEXT,
     ATK_AT(surrogate)},
};

const AttackOps label_consistent_attack = {
    .name = "label-consistent",
    .summary = "clean-label: target-class images pushed away from their label by PGD on a surrogate, then "
               "stamped with a patch; labels unchanged",
    .clean_label = 1,
    .patch = 1,
    .kinds = DS_KIND_BIT(DS_IMAGES),
    .shared = &attack_patch_keys,
    .params = lc_params,
    .nparams = (int)BL_ARRAY_LEN(lc_params),
    .check = lc_check,
    .poison = lc_poison,
    .apply_test = lc_apply_test,
    .view = lc_view,
};
