// export.h: poisoned datasets as files (`backdoorlab poison`): the data, what was poisoned, and pictures.
#ifndef BL_EXPORT_H
#define BL_EXPORT_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"

typedef enum {
    EXPORT_IDX, // IDX files with the standard MNIST names
    EXPORT_PNG, // class-per-folder PNG trees (data/pngdir.h)
} ExportFormat;

// Write into the existing folder dir:
//   IDX: train-images-idx3-ubyte, train-labels-idx1-ubyte   the poisoned training set (file order = original)
//        t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte     the clean test set
//        triggered-images-idx3-ubyte, triggered-labels-idx1-ubyte  the test set with the trigger, true labels
//   PNG: train/<class>/<index>.png, test/<class>/..., triggered/<class>/... (index = row in the original file)
//   always: poison.csv (index,original_label,new_label), noise.csv (index; wanet noise-mode samples, when any),
//           trigger.png (attack_write_trigger_png), gallery.png (attack_write_gallery on the test set).
// IDX files are 3-dim for gray data and 4-dim (n, c, h, w) for colour.
Status attack_export(const char *dir, ExportFormat fmt, const AttackSpec *a, uint64_t seed, const Dataset *train,
                     const Dataset *test, const Dataset *triggered, const PoisonManifest *man);

// trigger.png: the trigger's mask (left) and pattern (right) for images shaped like `like`, upscaled so each
// panel is at least 112 pixels, a 4-pixel mid-gray gap between them. Gray or RGB like the data.
Status attack_write_trigger_png(const char *path, const AttackSpec *a, const Dataset *like, uint64_t seed);

// gallery.png: `per_class` samples of each class (the first ones in the test set), one column each; rows:
// clean, triggered, and their absolute difference scaled so the largest difference in the grid is white.
// Pixels upscaled 3x, 2-pixel mid-gray gaps. Gray or RGB like the data.
Status attack_write_gallery(const char *path, const Dataset *clean, const Dataset *triggered, int per_class);

#endif
