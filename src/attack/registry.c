// registry.c: the table of attacks, the checks they all share, and the calls the pipeline makes.
#include "attack/registry.h"

#include <stdio.h>
#include <string.h>

extern const AttackOps badnets_attack, blended_attack, sig_attack, wanet_attack, label_consistent_attack,
    tabular_attack, token_attack, token_clean_attack;

// One line per attack.
static const AttackOps *const g_attacks[] = {
    &badnets_attack, &blended_attack, &sig_attack, &wanet_attack, &label_consistent_attack, &tabular_attack,
    &token_attack, &token_clean_attack,
};

// Attacks added at run time (attack_register), after the table's.
#define ATTACK_MAX_EXTRA 4
static const AttackOps *g_extra[ATTACK_MAX_EXTRA];
static int g_nextra;
static char g_names[256]; // attack_known_names, built on first use

Status attack_register(const AttackOps *ops) {
    if (!ops || !ops->name || attack_find(ops->name))
        return bl_fail(BL_ERR_USAGE, "attack '%s' has no name or is registered already", ops && ops->name ? ops->name : "");
    if (g_nextra == ATTACK_MAX_EXTRA) return bl_fail(BL_ERR_USAGE, "more than %d registered extra attacks", ATTACK_MAX_EXTRA);
    g_extra[g_nextra++] = ops;
    g_names[0] = 0;
    attack_keys_changed();
    return BL_OK;
}

const AttackOps *attack_find(const char *type) {
    for (int i = 0; type && i < attack_count(); i++)
        if (!strcmp(attack_at(i)->name, type)) return attack_at(i);
    return NULL;
}

int attack_count(void) { return (int)BL_ARRAY_LEN(g_attacks) + g_nextra; }

const AttackOps *attack_at(int i) {
    int n = (int)BL_ARRAY_LEN(g_attacks);
    return i < 0 || i >= attack_count() ? NULL : i < n ? g_attacks[i] : g_extra[i - n];
}

const char *attack_known_names(void) {
    if (!g_names[0])
        for (int i = 0, w = 0; i < attack_count() && w < (int)sizeof g_names; i++)
            w += snprintf(g_names + w, sizeof g_names - (size_t)w, "%s%s", i ? ", " : "", attack_at(i)->name);
    return g_names;
}

// Checks every attack shares: the type exists, classes, target, label mode, base, sources, rate or count.
static Status common_check(const AttackSpec *a, const Dataset *d, const AttackOps **ops_out) {
    const AttackOps *ops = attack_find(a->type);
    if (!ops) return bl_fail(BL_ERR_USAGE, "[attack] type '%s' is unknown; known: %s", a->type, attack_known_names());
    *ops_out = ops;
    int K = d->num_classes;
    if (K < 2 || K > 256) return bl_fail(BL_ERR_USAGE, "the dataset has %d classes; attacks need 2..256", K);
    if (a->label_mode != LABEL_ALL2ONE && a->label_mode != LABEL_ALL2ALL)
        return bl_fail(BL_ERR_USAGE, "[attack] label_mode %d is invalid", (int)a->label_mode);
    if (ops->clean_label && a->label_mode != LABEL_ALL2ONE)
        return bl_fail(BL_ERR_USAGE, "[attack] %s is a clean-label attack: label_mode must be all2one", a->type);
    if (a->target < 0 || a->target >= K)
        return bl_fail(BL_ERR_USAGE, "[attack] target %d is outside 0..%d (the dataset has %d classes); set target to "
                       "an existing class", a->target, K - 1, K);
    if ((int)a->poison_base < (int)BASE_ALL || (int)a->poison_base > (int)BASE_TARGET)
        return bl_fail(BL_ERR_USAGE, "[attack] poison_rate_base %d is invalid", (int)a->poison_base);
    if (ops->clean_label && a->poison_base == BASE_NONTARGET)
        return bl_fail(BL_ERR_USAGE, "[attack] %s poisons only target-class images: poison_rate_base must be target or "
                       "all", a->type);
    if (!ops->clean_label && a->poison_base == BASE_TARGET)
        return bl_fail(BL_ERR_USAGE, "[attack] poison_rate_base = target applies only to clean-label attacks (sig, "
                       "label-consistent)");
    if (a->use_count ? a->poison_count < 0 : !(a->poison_rate >= 0.0f && a->poison_rate <= 1.0f))
        return a->use_count ? bl_fail(BL_ERR_USAGE, "[attack] poison_count %d is negative", a->poison_count)
                            : bl_fail(BL_ERR_USAGE, "[attack] poison_rate %g is outside [0, 1]", (double)a->poison_rate);
    if (a->source_count < 0 || a->source_count > 256 || (ops->clean_label && a->source_count))
        return bl_fail(BL_ERR_USAGE, "[attack] source_classes do not apply to %s", a->type);
    for (int i = 0; i < a->source_count; i++) {
        int y = a->source_classes[i];
        if (y >= K)
            return bl_fail(BL_ERR_USAGE, "[attack] source class %d is outside 0..%d (the dataset has %d classes)", y,
                           K - 1, K);
        if (a->label_mode == LABEL_ALL2ONE && y == a->target)
            return bl_fail(BL_ERR_USAGE, "[attack] source class %d is the target class; sources are the classes "
                           "whose images are relabelled to the target", y);
    }
    return BL_OK;
}

Status attack_check(const AttackSpec *a, const Dataset *d) {
    const AttackOps *ops;
    Status st = common_check(a, d, &ops);
    return st ? st : ops->check(a, d);
}

Status attack_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                     Dataset *poisoned, PoisonManifest *man) {
    memset(poisoned, 0, sizeof *poisoned);
    memset(man, 0, sizeof *man);
    const AttackOps *ops;
    Status st = common_check(a, rest, &ops);
    if (!st) st = ops->check(a, rest);
    if (!st) st = ops->poison(a, rest, seed, ctx, poisoned, man);
    if (st) {
        ds_free(poisoned);
        poison_manifest_free(man);
    }
    return st;
}

Status attack_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered) {
    memset(triggered, 0, sizeof *triggered);
    const AttackOps *ops;
    Status st = common_check(a, test, &ops);
    if (!st) st = ops->check(a, test);
    if (!st) st = ops->apply_test(a, test, seed, triggered);
    if (st) ds_free(triggered);
    return st;
}

void trigger_view_free(TriggerView *v) {
    if (!v) return;
    bl_free(v->mask);
    bl_free(v->pattern);
    memset(v, 0, sizeof *v);
}

Status attack_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out) {
    memset(out, 0, sizeof *out);
    const AttackOps *ops;
    Status st = common_check(a, d, &ops);
    if (!st) st = ops->check(a, d);
    if (!st && !ops->view)
        st = bl_fail(BL_ERR_USAGE, "attack %s has no trigger picture (records: see samples.md)", ops->name);
    if (!st) st = ops->view(a, d, seed, out);
    if (st) trigger_view_free(out);
    return st;
}

void attack_describe(const AttackSpec *a, char *buf, size_t n) {
    const AttackOps *ops = attack_find(a->type);
    char what[160] = "", pos[48];
    if (a->position == POS_XY) snprintf(pos, sizeof pos, "x,y = %d,%d", a->pos_x, a->pos_y);
    else snprintf(pos, sizeof pos, "%s", attack_position_name(a->position));
    if (ops && ops->patch) {
        if (!strcmp(a->trigger, "square") || !strcmp(a->trigger, "checkerboard") || !strcmp(a->trigger, "noise"))
            snprintf(what, sizeof what, " %s %dx%d at %s", a->trigger, a->trigger_size, a->trigger_size, pos);
        else
            snprintf(what, sizeof what, " %s at %s", a->trigger, pos);
    } else if (!strcmp(a->type, "blended")) {
        snprintf(what, sizeof what, " %s key, alpha %g/%g", a->key == KEY_PNG ? "png" : "noise",
                 (double)a->alpha_train, (double)a->alpha_test);
    } else if (!strcmp(a->type, "sig")) {
        snprintf(what, sizeof what, " delta %.4g, frequency %g", (double)a->delta, (double)a->frequency);
    } else if (!strcmp(a->type, "wanet")) {
        snprintf(what, sizeof what, " k %d, s %g, cross_ratio %g", a->k, (double)a->s, (double)a->cross_ratio);
    }
    if (a->label_mode == LABEL_ALL2ALL)
        snprintf(buf, n, "%s%s -> class y+1 (all2all)", a->type, what);
    else
        snprintf(buf, n, "%s%s -> class %d (%s%s)", a->type, what, a->target, ops && ops->clean_label ? "clean-label, " : "",
                 "all2one");
}
