// attack.h: what an attack is (the [attack] section of a config) and the record of what it poisoned.
// The evaluator alone sees the poison manifest; detectors and mitigations never get it.
// The attacks themselves (badnets, blended, sig, wanet, label-consistent) sit behind the registry in
// attack/registry.h; this header is what the config parser and the evaluator need, nothing more.
#ifndef BL_ATTACK_H
#define BL_ATTACK_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

#define ATTACK_PATH_MAX 4096 // bytes for trigger_png and surrogate paths, including the terminator
#define ATTACK_MAX_VALUES 16 // values in an AttackSpec's store (keys of attacks without AttackSpec fields)
#define ATTACK_VALUE_MAX 512 // bytes of one stored value's text, including the terminator
#define ATTACK_ITEM_MAX 64   // bytes of one item of a list value (attack_param_list), including the terminator

// Where a patch trigger goes. POS_RANDOM draws a new top-left corner for every image (seeded).
typedef enum { POS_BOTTOM_RIGHT, POS_BOTTOM_LEFT, POS_TOP_LEFT, POS_TOP_RIGHT, POS_CENTER, POS_XY, POS_RANDOM } TriggerPos;
typedef enum { LABEL_ALL2ONE, LABEL_ALL2ALL } LabelMode;
// Which samples the poison rate counts: all of them, those not of the target class, or the target class.
typedef enum { BASE_ALL, BASE_NONTARGET, BASE_TARGET } PoisonBase;
// The blended attack's key image: seeded uniform noise, or a PNG (trigger_png).
typedef enum { KEY_NOISE, KEY_PNG } BlendKey;

// One value of an attack key that has no AttackSpec field (attack/params.h: ATK_FIELD_NONE), read by key.
typedef struct {
    char key[32];                // the key ("" = free slot)
    double num;                  // ATK_INT, ATK_REAL: the number; ATK_CHOICE: the choice's index
    char text[ATTACK_VALUE_MAX]; // the value as text: as written (numbers), the choice's name, a list joined by ","
} AttackValue;

// The [attack] section. Defaults (attack_spec_defaults) are the papers' (see the README's attack table).
// Each key is declared, with its type, range, default and the field it fills, in a table in the attack's own file
// (attack/params.h); which keys apply depends on `type` (and for patch triggers on `trigger`): see
// attack_key_applies, which the config reader uses to reject the others.
typedef struct {
    int enabled;            // 1 when the config has an [attack] section
    char type[32];          // registry name: badnets | blended | sig | wanet | label-consistent (default badnets)
    char trigger[32];       // patch kind: square | pixel | pattern | checkerboard | noise | png (default square)
    int trigger_size;       // patch side in pixels for square, checkerboard and noise (default 3)
    TriggerPos position;    // where the patch goes during training (default bottom-right)
    int pos_x, pos_y;       // column,row of the patch's top-left corner when position == POS_XY
    float trigger_value;    // pixel value in [0,1] of square/pixel/pattern/checkerboard "on" pixels (default 1)
    int target;             // target class (default 0); all2one only
    LabelMode label_mode;   // all2one (default) or all2all: y -> (y+1) mod K
    float poison_rate;      // fraction of the base to poison, in [0,1] (default 0.1)
    PoisonBase poison_base; // which samples poison_rate counts (default nontarget; target for clean-label types;
                            // all for all2all)
    // --- patch triggers, test time ---
    TriggerPos position_test;   // where the patch goes on test images (default: position)
    int pos_test_x, pos_test_y; // column,row when position_test == POS_XY
    char trigger_png[ATTACK_PATH_MAX]; // trigger = png: the patch (alpha channel = mask); blended key = png: the key
    // --- blending ---
    BlendKey key;           // blended: noise (default) or png
    float alpha_train;      // blend weight of the trigger in training images, in (0,1] (blended 0.2, patches 1)
    float alpha_test;       // blend weight on test images, in (0,1] (blended 0.2, patches 1)
    // --- sig (Barni et al. 2019) ---
    float delta;            // amplitude of the sinusoid on the [0,1] pixel scale (default 40/255)
    float frequency;        // cycles across the image width (default 6)
    // --- wanet (Nguyen & Tran 2021) ---
    int k;                  // control grid side of the warping field (default 4)
    float s;                // warping strength (default 0.5)
    float cross_ratio;      // noise-mode samples per poisoned sample (default 2)
    // --- label-consistent (Turner et al. 2019) ---
    float eps;              // L-infinity radius of the PGD perturbation on the [0,1] scale (default 8/255)
    int steps;              // PGD steps (default 10); step size 2.5 * eps / steps (Madry et al. 2018)
    char surrogate[ATTACK_PATH_MAX]; // a clean model file (.bdm) to attack; "" = train one in-process
    // --- which samples ---
    int source_count;             // number of entries in source_classes; 0 = every class the base allows
    uint8_t source_classes[256];  // (source_count) ascending, distinct: only these classes are poisoned
    int use_count;                // 1: poison exactly poison_count samples instead of poison_rate of the base
    int poison_count;             // absolute number of samples to poison when use_count is 1
    // --- keys of attacks that keep their values here instead of in fields (attack_param() reads them) ---
    int nvalues;                           // used slots of values
    AttackValue values[ATTACK_MAX_VALUES]; // (nvalues) in the order they were set
} AttackSpec;

// Fill *a with the defaults of attack `type` (NULL = badnets) from the attacks' key tables; enabled stays 0.
void attack_spec_defaults(AttackSpec *a, const char *type);

// The label a poisoned sample (or a triggered test input) of true class y should get.
static inline int attack_target_label(const AttackSpec *a, int y, int num_classes) {
    return a->label_mode == LABEL_ALL2ALL ? (y + 1) % num_classes : a->target;
}

// 1 when class y is one the attack claims (source_classes, or every class when none are given).
int attack_is_source(const AttackSpec *a, int y);

// Names used in configs and messages ("bottom-right", "nontarget", ...); "?" for out-of-range values.
const char *attack_position_name(TriggerPos p);
const char *attack_base_name(PoisonBase b);
const char *attack_label_mode_name(LabelMode m);

// One poisoned training sample, for poison.csv.
typedef struct {
    int orig_index; // index in the original dataset file
    int orig_label; // label before poisoning
    int new_label;  // label after poisoning (equal to orig_label for clean-label attacks)
} PoisonRecord;

typedef struct {
    int count;             // number of poisoned samples
    PoisonRecord *records; // (count), sorted by orig_index, owned
    int *positions;        // (count) position of each poisoned sample inside the poisoned Dataset, owned
    double rate;           // count / size of the poisoning base
    int noise_count;       // wanet noise mode: samples warped with a random field, label kept (not backdoor
                           // carriers, so not in records)
    int *noise_orig_index; // (noise_count) their orig_index, ascending, owned
} PoisonManifest;

// Free the manifest's arrays and zero it (safe on a zeroed manifest).
void poison_manifest_free(PoisonManifest *m);
// Write poison.csv atomically: header `index,original_label,new_label`, one row per record (index = orig_index).
Status poison_manifest_write_csv(const PoisonManifest *m, const char *path);

#endif
