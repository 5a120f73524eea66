// png.h: PNG files through libpng: read any 8-bit PNG to planar bytes, write gray/RGB images atomically, and a
// clean-vs-triggered grid. Files are decoded exactly (palette and 1/2/4-bit gray expanded, no gamma correction);
// 16-bit files are refused.
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
// What a PNG file holds, from its header.
typedef struct {
    int w, h;    // size in pixels
    int color;   // 1 when it has colour (RGB, or a palette with a non-gray entry), 0 for gray
    int alpha;   // 1 when it has an alpha channel or a transparency chunk
    int depth;   // bits per sample as stored (1, 2, 4, 8 or 16)
} PngInfo;

// Read the header only. BL_ERR_DATA if the file is missing or not a PNG.
Status png_probe(const char *path, PngInfo *info);
// Decode a PNG into planar 8-bit pixels with c channels (1 or 3): *pix (c, h, w), bl_alloc'ed (caller bl_free's
// it). Gray files are replicated into 3 channels; a colour file asked for 1 channel is refused (BL_ERR_DATA:
// convert it to gray). alpha (may be NULL) receives (h, w) alpha bytes, 255 where the file has no alpha.
// Corrupt, truncated, 16-bit, oversized or non-PNG files give BL_ERR_DATA, with *pix NULL and *w = *h = 0.
Status png_read(const char *path, int c, uint8_t **pix, uint8_t **alpha, int *w, int *h);
// A grid for eyeballing a trigger: top row the k clean images clean[idx[i]], bottom row triggered[idx[i]],
// each pixel upscaled `scale` times, 2-pixel mid-gray gaps between tiles. Gray (c == 1) datasets only.
// Size: width k*w*scale + 2*(k-1), height 2*h*scale + 2.
Status png_write_samples(const char *path, const Dataset *clean, const Dataset *triggered, const int *idx, int k,
                         int scale);

#endif
