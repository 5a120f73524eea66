// attack.h: what an attack is (the [attack] section of a config) and how it poisons data.
// The evaluator alone sees the poison manifest; detectors and mitigations never get it.
#ifndef BL_ATTACK_H
#define BL_ATTACK_H

#include "core/core.h"
#include "data/dataset.h"

typedef enum { POS_BOTTOM_RIGHT, POS_BOTTOM_LEFT, POS_TOP_LEFT, POS_TOP_RIGHT, POS_CENTER, POS_XY } TriggerPos;
typedef enum { LABEL_ALL2ONE, LABEL_ALL2ALL } LabelMode;
typedef enum { BASE_ALL, BASE_NONTARGET } PoisonBase;

// The [attack] section. Defaults (applied by the config parser) are those of issue 3's demo.ini.
typedef struct {
    int enabled;            // 1 when the config has an [attack] section
    char type[32];          // "badnets" (the only one so far)
    char trigger[32];       // "square"
    int trigger_size;       // patch side in pixels (default 3)
    TriggerPos position;    // where the patch goes (default bottom-right)
    int pos_x, pos_y;       // column,row of the patch's top-left corner when position == POS_XY
    float trigger_value;    // pixel value in [0,1] stamped by the square trigger (default 1.0)
    int target;             // target class (default 0)
    LabelMode label_mode;   // all2one (default) or all2all: y -> (y+1) mod K
    float poison_rate;      // fraction of the base to poison, in [0,1] (default 0.1)
    PoisonBase poison_base; // all or nontarget (default nontarget)
} AttackSpec;

// One poisoned training sample, for poison.csv.
typedef struct {
    int orig_index; // index in the original dataset file
    int orig_label; // label before poisoning
    int new_label;  // label after poisoning
} PoisonRecord;

typedef struct {
    int count;             // number of poisoned samples
    PoisonRecord *records; // (count), sorted by orig_index, owned
    int *positions;        // (count) position of each poisoned sample inside the poisoned Dataset, owned
    double rate;           // count / size of the poisoning base
} PoisonManifest;

// Free the manifest's arrays and zero it (safe on a zeroed manifest).
void poison_manifest_free(PoisonManifest *m);
// Write poison.csv atomically: header `index,original_label,new_label`, one row per record (index = orig_index).
Status poison_manifest_write_csv(const PoisonManifest *m, const char *path);

#endif
