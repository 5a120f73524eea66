// fuzz_png: one PNG file (io/png.c, libpng): the header probe, then decoding to 1 and to 3 channels with alpha.
#include "fuzz_util.h"
#include "core/core.h"
#include "io/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char path[600];
    fz_write(path, sizeof path, "fuzz.png", data, len, 0600);
    PngInfo info;
    if (png_probe(path, &info) != BL_OK) return 0;
    for (int c = 1; c <= 3; c += 2) {
        uint8_t *pix = NULL, *alpha = NULL;
        int w = 0, h = 0;
        if (png_read(path, c, &pix, c == 3 ? &alpha : NULL, &w, &h) == BL_OK) {
            bl_free(pix);
            bl_free(alpha);
        }
    }
    return 0;
}
