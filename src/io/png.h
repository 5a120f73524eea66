// png.h: PNG files through libpng: write gray/RGB images atomically, read gray, and a clean-vs-triggered grid.
#ifndef BL_PNG_H
#define BL_PNG_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"

#define PNG_IO_MAX_SIDE 16384        // largest width or height read or written
#define PNG_IO_MAX_PIXELS (1 << 26)  // largest width * height read (a forged header cannot demand gigabytes)

// Write an 8-bit grayscale PNG. pix (h, w) row-major. Atomic (temp file + rename).
Status png_write_gray(const char *path, const uint8_t *pix, int w, int h);
// Write an 8-bit RGB PNG. pix (h, w, 3) interleaved. Atomic.
Status png_write_rgb(const char *path, const uint8_t *pix, int w, int h);
// Read any PNG as 8-bit gray (colour is converted, alpha dropped, 16-bit reduced). *pix (h, w) is bl_alloc'ed;
// caller bl_free's it. Corrupt, truncated or non-PNG files give BL_ERR_DATA.
Status png_read_gray(const char *path, uint8_t **pix, int *w, int *h);
// A grid for eyeballing a trigger: top row the k clean images clean[idx[i]], bottom row triggered[idx[i]],
// each pixel upscaled `scale` times, 2-pixel mid-gray gaps between tiles. Gray (c == 1) datasets only.
// Size: width k*w*scale + 2*(k-1), height 2*h*scale + 2.
Status png_write_samples(const char *path, const Dataset *clean, const Dataset *triggered, const int *idx, int k,
                         int scale);

#endif
