// registry.h: the attack vtable, the registry, and the calls the pipeline makes.
//
// Adding an attack: write src/attack/<name>.c defining its key table (attack/params.h: key, type, default, range,
// help; values without an AttackSpec field are read back with attack_param()) and `const AttackOps <name>_attack =
// {...}` pointing at it, and add one line to the table in src/attack/registry.c. The config reader validates and
// writes [attack] from the tables, so nothing else changes. Shared pieces: params.h (the common keys and the patch
// keys), trigger.h (patch and key images, placement, blending), plan.h (which samples to poison, the manifest).
//
// Every random choice comes from rng_stream(seed, purpose) with its own purpose ("poison", "trigger",
// "trigger-pos", "trigger-pos-test", "wanet", "wanet-noise"), so training and test see the same trigger and
// adding a purpose never shifts another's numbers.
#ifndef BL_ATTACK_REGISTRY_H
#define BL_ATTACK_REGISTRY_H

#include <stdint.h>

#include "attack/attack.h"
#include "attack/params.h"
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

typedef struct AttackOps {
    const char *name;    // the [attack] type value
    const char *summary; // one line for --help and the README
    int clean_label;     // 1: poisons only target-class samples and keeps their labels
    int patch;           // 1: uses the patch trigger keys (trigger, trigger_size, position, ...)
    unsigned kinds;      // sample kinds it supports, DS_KIND_BIT(DS_IMAGES) | ...; the config reader refuses others
    const AttackParamGroup *shared; // a shared key group it takes (&attack_patch_keys), or NULL
    const AttackParam *params; // its own keys (besides type and attack_common_params), or NULL
    int nparams;               // entries in params
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
// Add an attack that is not in the table (a test's, an experiment's), after the table's; at most 4. The config
// reader takes its type and keys from then on. Not thread-safe: call it before reading configs.
Status attack_register(const AttackOps *ops);
// Number of registered attacks, and the i-th one (NULL when out of range), in registry order.
int attack_count(void);
const AttackOps *attack_at(int i);

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
