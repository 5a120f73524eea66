// registry.h: the attack vtable, the registry, and the calls the pipeline makes.
//
// Adding an attack: write src/attack/<name>.c defining `const AttackOps <name>_attack = {...}` and add one line to
// the table in src/attack/registry.c (and its keys to io/config.c). Shared pieces: trigger.h (patch and key
// images, placement, blending), plan.h (which samples to poison, the manifest).
//
// Every random choice comes from rng_stream(seed, purpose) with its own purpose ("poison", "trigger",
// "trigger-pos", "trigger-pos-test", "wanet", "wanet-noise"), so training and test see the same trigger and
// adding a purpose never shifts another's numbers.
#ifndef BL_ATTACK_REGISTRY_H
#define BL_ATTACK_REGISTRY_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"
#include "train/train.h"

// What an attack may use beyond the data: only label-consistent needs it (to train its surrogate model).
typedef struct {
    const char *model_desc; // network for an in-process surrogate ([model] layers); NULL = none available
    TrainOptions train;     // how to train it: the experiment's [train] settings and seed (hooks unused)
} AttackContext;

// A picture of the trigger for trigger.png: where it acts and what it puts there, both (h, w) images.
typedef struct {
    int c, h, w;      // shape of the pattern (and h, w of the mask)
    uint8_t *mask;    // (h, w) 255 = the trigger fully replaces or moves the pixel, 0 = untouched; owned
    uint8_t *pattern; // (c, h, w) the trigger's content (sig: 128 + signal; wanet: a warped grid); owned
} TriggerView;

typedef struct {
    const char *name;    // the [attack] type value
    const char *summary; // one line for --help and the README
    int clean_label;     // 1: poisons only target-class samples and keeps their labels
    int patch;           // 1: uses the patch trigger keys (trigger, trigger_size, position, ...)
    // Check the spec against the data's shape and classes (trigger fits, PNG readable and the right size).
    Status (*check)(const AttackSpec *a, const Dataset *d);
    // Copy `rest` into *poisoned and poison it; *man lists what was poisoned (positions index *poisoned).
    Status (*poison)(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                     Dataset *poisoned, PoisonManifest *man);
    // A copy of `test` with the test-time trigger on every image, labels unchanged.
    Status (*apply_test)(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered);
    // The trigger as pictures, for an image shaped like d.
    Status (*view)(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out);
} AttackOps;

// The registered attack called `type`, or NULL.
const AttackOps *attack_find(const char *type);
// "badnets, blended, ..." for messages.
const char *attack_known_names(void);

// The pipeline's calls. Each looks the type up, runs the checks every attack shares (target in range, poison
// rate, label mode, source classes), then the attack's own. Outputs are zeroed on failure.
Status attack_check(const AttackSpec *a, const Dataset *d);
Status attack_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, const AttackContext *ctx,
                     Dataset *poisoned, PoisonManifest *man);
Status attack_apply_test(const AttackSpec *a, const Dataset *test, uint64_t seed, Dataset *triggered);
Status attack_view(const AttackSpec *a, const Dataset *d, uint64_t seed, TriggerView *out);
void trigger_view_free(TriggerView *v);

// One line saying what the attack does, e.g. "badnets square 3x3 at bottom-right -> class 0 (all2one)".
void attack_describe(const AttackSpec *a, char *buf, size_t n);

#endif
