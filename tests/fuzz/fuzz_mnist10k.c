// fuzz_mnist10k: one digit file of the mnist10k dataset ({"data": [grey values in [0,1]]}, data/mnist10k.c)
// through mnist10k_load, written as 0.json of an otherwise empty folder. The loader reads 0.json first, so every
// input is parsed and checked; a valid one then stops at "needs more than 200 images" or at the missing 1.json
// (the split itself is plain arithmetic over counts the parser has already checked).
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/mnist10k.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "mnist10k/0.json", data, len, 0600);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/mnist10k", fz_dir());
    DatasetPair p;
    if (mnist10k_load(dir, 0, 0, &p) == BL_OK) ds_pair_free(&p);
    return 0;
}
