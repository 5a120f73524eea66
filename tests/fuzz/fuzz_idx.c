// fuzz_idx: IDX files (data/idx.c), plain or gzip (zlib tells them apart by the bytes, not the name), through
// both readers: the header's magic decides which one gets past the first check.
#include "fuzz_util.h"
#include "core/core.h"
#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz-idx", data, len, 0600);
    uint8_t *pix = NULL, *labels = NULL;
    int n = 0, c = 0, h = 0, w = 0;
    if (idx_read_images(path, &pix, &n, &c, &h, &w) == BL_OK) bl_free(pix);
    if (idx_read_labels(path, &labels, &n) == BL_OK) bl_free(labels);
    return 0;
}
