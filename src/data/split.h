// split.h: carve the defender's clean held-out subset off the training set, before any poisoning.
#ifndef BL_SPLIT_H
#define BL_SPLIT_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

// Put round(fraction * n) randomly chosen training samples (rng_stream(seed, "split")) into *defender and the
// others into *rest. Both keep the original order and orig_index; no stratification. fraction in [0,1].
Status split_defender(const Dataset *train, double fraction, uint64_t seed, Dataset *defender, Dataset *rest);

#endif
