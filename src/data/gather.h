// gather.h: a new dataset made of chosen samples of two sources of the same kind and shape (e.g. clean and
// triggered test samples, shuffled together, for the inputs an input-level defence screens).
#ifndef BL_GATHER_H
#define BL_GATHER_H

#include "core/core.h"
#include "data/dataset.h"

// out[j] = sample idx[j] of (from_b[j] ? b : a), labels and orig_index included (callers overwrite them as they
// must). a and b share kind, shape, classes, and schema or lexicon (out borrows a's); k may be 0.
Status ds_gather(const Dataset *a, const Dataset *b, const uint8_t *from_b, const int *idx, int k, Dataset *out);

#endif
