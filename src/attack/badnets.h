// badnets.h: BadNets (Gu et al. 2017): stamp a small square patch on some training images and relabel them.
#ifndef BL_BADNETS_H
#define BL_BADNETS_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "data/dataset.h"

// Check the spec against the data: trigger_size >= 1, trigger_value in [0,1], target in [0, num_classes), the
// patch fits inside the image at its position. BL_ERR_USAGE with a message naming the key otherwise.
Status badnets_check(const AttackSpec *a, const Dataset *d);
// Stamp the square trigger (trigger_size^2, value round(trigger_value*255), every channel) on one image.
// Top-left corner: bottom-right (w-s, h-s), bottom-left (0, h-s), top-left (0, 0), top-right (w-s, 0),
// center ((w-s)/2, (h-s)/2), xy (pos_x, pos_y). Pixels falling outside the image are skipped (call
// badnets_check first to reject such specs).
void badnets_stamp(const AttackSpec *a, uint8_t *img /* (c,h,w) */, int c, int h, int w);
// The label a poisoned sample of class y gets: all2one -> target, all2all -> (y+1) mod num_classes.
int badnets_target_label(const AttackSpec *a, int y, int num_classes);
// Copy `rest` into *poisoned and poison round(poison_rate * |base|) samples of the base (all samples, or those
// with label != target), drawn uniformly without replacement with rng_stream(seed, "poison"): stamp and relabel
// in place. *man lists them sorted by orig_index (positions are indices into *poisoned).
Status badnets_poison(const AttackSpec *a, const Dataset *rest, uint64_t seed, Dataset *poisoned,
                      PoisonManifest *man);
// A copy of the test set with the trigger on every image and labels unchanged (the evaluator decides which
// samples count for the attack success rate).
Status badnets_triggered_test(const AttackSpec *a, const Dataset *test, Dataset *triggered);

#endif
