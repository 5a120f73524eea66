// fuzz_safetensors: safetensors files (io/safetensors.c), as a repaired model comes back from an external
// defence: the strict reader, then the load into a small network (run/interop.c: every tensor, its shape,
// finite values). The seeds are that network's exports.
#include "fuzz_util.h"
#include "io/safetensors.h"
#include "run/interop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static Model m;
    static int built;
    if (!built) { // conv(0) relu(1) flatten(2) dense(3): 0.weight (2,1,3,3), 0.bias, 3.weight (3,32), 3.bias
        if (model_build(&m, "conv 2 3, relu, flatten, dense 3", (Shape){1, 6, 6}, 3, 1)) abort();
        built = 1;
    }
    char path[600];
    fz_write(path, sizeof path, "fuzz.safetensors", data, len, 0644);
    StFile f;
    if (st_read(path, 1 << 20, &f) == BL_OK) st_free(&f);
    (void)interop_model_read(path, &m);
    return 0;
}
