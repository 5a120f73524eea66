// plan.h: which training samples an attack poisons, the drivers that apply a per-image trigger to them (or to
// every test image), and the manifest that records it.
#ifndef BL_PLAN_H
#define BL_PLAN_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"

typedef struct {
    int count;      // samples chosen
    int *positions; // (count) their positions in the dataset, in increasing orig_index order; owned
    int base_size;  // size of the base poison_rate counts (the manifest's rate is count / base_size)
} PoisonPlan;

// Choose the samples of d to poison.
//   base  (denominator): all samples, those with label != target, or those with label == target
//   pool  (drawn from):  dirty-label: the base restricted to source_classes; clean-label: the target class
//   count: poison_count, or round(poison_rate * |base|) (half away from zero)
// Drawn uniformly without replacement: the first `count` of a uniform permutation of the pool (in position
// order) by rng_stream(seed, "poison"). A count larger than the pool is an error (BL_ERR_USAGE) saying both.
Status plan_select(const AttackSpec *a, const Dataset *d, uint64_t seed, int clean_label, PoisonPlan *plan);
void plan_free(PoisonPlan *p);

// A per-image trigger: modify img (c, h, w) in place; rng is the stream for per-image random choices.
typedef void (*PlanStampFn)(const void *state, uint8_t *img, int c, int h, int w, Rng *rng);

// Copy `before` into *after, then for each planned sample (in plan order) stamp it with fn (rng_stream(seed,
// "trigger-pos"), advanced in that order) and, unless clean_label, relabel it with attack_target_label.
// fn may be NULL (relabel only, for attacks that modify the images themselves).
Status plan_apply(const AttackSpec *a, const PoisonPlan *p, const Dataset *before, uint64_t seed, int clean_label,
                  PlanStampFn fn, const void *state, Dataset *after);
// A copy of `test` with fn applied to every image (rng_stream(seed, "trigger-pos-test"), in order), labels kept.
Status plan_trigger_all(const Dataset *test, uint64_t seed, PlanStampFn fn, const void *state, Dataset *triggered);
// The manifest of a plan: orig_index and label from `before`, new label from `after`, rate count / base_size.
Status plan_manifest(const PoisonPlan *p, const Dataset *before, const Dataset *after, PoisonManifest *man);

#endif
