// fuzz_npy: NumPy .npy files (io/npy.c), as an external defence's scores come back: the whole-file reader with a
// 1 MiB cap, then the vector reader that converts to doubles (n = 4, the seeds' length).
#include "fuzz_util.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.npy", data, len, 0644);
    NpyArray a;
    if (npy_read(path, 1 << 20, &a) == BL_OK) npy_free(&a);
    double *v = NULL;
    if (npy_read_vector(path, 4, &v) == BL_OK) free(v);
    return 0;
}
