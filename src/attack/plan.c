// plan.c: poisoning plans, the per-image drivers and the manifest.
#include "attack/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void plan_free(PoisonPlan *p) {
    if (!p) return;
    bl_free(p->positions);
    memset(p, 0, sizeof *p);
}

typedef struct {
    int orig; // orig_index of the sample
    int pos;  // its position in the dataset
} OrigPos;

static int cmp_origpos(const void *pa, const void *pb) {
    const OrigPos *a = pa, *b = pb;
    if (a->orig != b->orig) return a->orig < b->orig ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int in_base(PoisonBase b, int y, int target) {
    return b == BASE_ALL || (b == BASE_NONTARGET && y != target) || (b == BASE_TARGET && y == target);
}

Status plan_select(const AttackSpec *a, const Dataset *d, uint64_t seed, int clean_label, PoisonPlan *plan) {
    memset(plan, 0, sizeof *plan);
    int n = d->n;
    size_t cnt = (size_t)(n ? n : 1);
    int *pool = bl_alloc(cnt * sizeof(int));          // (np) positions eligible for poisoning
    OrigPos *chosen = bl_alloc(cnt * sizeof *chosen); // (k) the poisoned ones
    Status st = pool && chosen ? BL_OK : BL_ERR_RUN;
    int nb = 0, np = 0, k = 0;
    if (st) goto done;
    for (int i = 0; i < n; i++) {
        int y = d->labels[i];
        if (!in_base(a->poison_base, y, a->target)) continue;
        nb++;
        if (clean_label ? y == a->target : attack_is_source(a, y)) pool[np++] = i;
    }
    if (clean_label && a->poison_base == BASE_ALL) { // the base counts everything, the pool is the target class
        np = 0;
        for (int i = 0; i < n; i++)
            if (d->labels[i] == a->target) pool[np++] = i;
    }
    if (a->use_count) {
        k = a->poison_count;
        if (k < 0 || k > np) {
            st = bl_fail(BL_ERR_USAGE, "[attack] poison_count %d: only %d training samples are eligible (%s)", k, np,
                         clean_label ? "target-class samples" : "the base and source classes allow");
            goto done;
        }
    } else {
        double want = floor((double)a->poison_rate * nb + 0.5);
        if (!(a->poison_rate >= 0.0f && a->poison_rate <= 1.0f)) {
            st = bl_fail(BL_ERR_USAGE, "[attack] poison_rate %g is outside [0, 1]", (double)a->poison_rate);
            goto done;
        }
        k = (int)want;
        if (k > np) {
            st = bl_fail(BL_ERR_USAGE, "[attack] poison_rate %g of the %s base (%d samples) asks for %d samples but only "
                         "%d are eligible (%s); lower poison_rate or use poison_count", (double)a->poison_rate,
                         attack_base_name(a->poison_base), nb, k, np,
                         clean_label ? "a clean-label attack poisons only the target class" : "source classes");
            goto done;
        }
    }
    Rng r = rng_stream(seed, "poison");
    rng_shuffle_int(&r, pool, np); // uniform without replacement: the first k of a uniform permutation
    for (int i = 0; i < k; i++) chosen[i] = (OrigPos){d->orig_index[pool[i]], pool[i]};
    qsort(chosen, (size_t)k, sizeof *chosen, cmp_origpos);
    plan->positions = bl_alloc((size_t)(k ? k : 1) * sizeof(int));
    if (!plan->positions) {
        st = BL_ERR_RUN;
        goto done;
    }
    for (int i = 0; i < k; i++) plan->positions[i] = chosen[i].pos;
    plan->count = k;
    plan->base_size = nb;
done:
    bl_free(pool);
    bl_free(chosen);
    if (st) plan_free(plan);
    return st;
}

Status plan_apply(const AttackSpec *a, const PoisonPlan *p, const Dataset *before, uint64_t seed, int clean_label,
                  PlanStampFn fn, const void *state, Dataset *after) {
    Status st = ds_copy(before, after);
    if (st) return st;
    size_t ss = (size_t)ds_sample_size(before);
    Rng r = rng_stream(seed, "trigger-pos");
    for (int i = 0; i < p->count; i++) {
        int pos = p->positions[i];
        if (fn) fn(state, after->images + (size_t)pos * ss, before->c, before->h, before->w, &r);
        if (!clean_label) after->labels[pos] = (uint8_t)attack_target_label(a, before->labels[pos], before->num_classes);
    }
    return BL_OK;
}

Status plan_trigger_all(const Dataset *test, uint64_t seed, PlanStampFn fn, const void *state, Dataset *triggered) {
    Status st = ds_copy(test, triggered);
    if (st) return st;
    size_t ss = (size_t)ds_sample_size(test);
    Rng r = rng_stream(seed, "trigger-pos-test");
    for (int i = 0; i < test->n; i++) fn(state, triggered->images + (size_t)i * ss, test->c, test->h, test->w, &r);
    return BL_OK;
}

Status plan_manifest(const PoisonPlan *p, const Dataset *before, const Dataset *after, PoisonManifest *man) {
    memset(man, 0, sizeof *man);
    size_t k = (size_t)(p->count ? p->count : 1);
    man->records = bl_alloc(k * sizeof *man->records);
    man->positions = bl_alloc(k * sizeof *man->positions);
    if (!man->records || !man->positions) {
        poison_manifest_free(man);
        return BL_ERR_RUN;
    }
    for (int i = 0; i < p->count; i++) {
        int pos = p->positions[i];
        man->records[i] = (PoisonRecord){before->orig_index[pos], before->labels[pos], after->labels[pos]};
        man->positions[i] = pos;
    }
    man->count = p->count;
    man->rate = p->base_size ? (double)p->count / p->base_size : 0.0;
    return BL_OK;
}
