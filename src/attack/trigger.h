// trigger.h: triggers as a mask and a pattern, their placement, and blending them into images.
//
// Every additive-free trigger in the library has the form x' = (1 - a*m) * x + a*m * p (BackdoorBox's form):
// m is the mask in [0,1] (patches: 0/1, or a PNG's alpha), p the pattern, a the blend weight (alpha_train or
// alpha_test; 1 for a plain patch). Pixels with a*m = 0 are never touched, so a patch changes exactly the pixels
// its mask covers. Arithmetic happens on the 0..255 scale and rounds half away from zero.
#ifndef BL_TRIGGER_H
#define BL_TRIGGER_H

#include <stdint.h>

#include "attack/attack.h"
#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"

typedef struct {
    int c, h, w;    // patch shape: channels (same as the images), rows, columns
    float *mask;    // (h, w) blend weight in [0,1]; 0 = leave the pixel alone; owned
    float *pattern; // (c, h, w) values on the 0..255 scale; owned
} Trigger;

// The patch of a badnets / label-consistent spec for images of c channels and img_h x img_w pixels:
//   square       trigger_size^2 pixels of trigger_value
//   pixel        one pixel of trigger_value
//   pattern      ART's 4-pixel pattern in a 3x3 box: (row, col) = (0,2), (1,1), (2,0), (2,2)
//   checkerboard trigger_size^2, trigger_value where (row + col) is even, 0 where odd
//   noise        trigger_size^2 uniform bytes from rng_stream(seed, "trigger"), per channel
//   png          the PNG at trigger_png; its alpha channel is the mask (opaque if it has none)
// A gray PNG on colour images is used on every channel; a colour PNG on gray images, a 16-bit PNG, and a PNG
// larger than the image are refused (BL_ERR_USAGE / BL_ERR_DATA with the reason).
Status trigger_build_patch(const AttackSpec *a, int c, int img_h, int img_w, uint64_t seed, Trigger *t);
// The blended key, a whole image: uniform bytes from rng_stream(seed, "trigger") (key = noise) or the PNG at
// trigger_png (key = png), which must be exactly img_h x img_w (refused otherwise: resize it first).
Status trigger_build_key(const AttackSpec *a, int c, int img_h, int img_w, uint64_t seed, Trigger *t);
void trigger_free(Trigger *t);

// Side of the patch `trigger` builds before it is built (pixel 1, pattern 3, png: read from the file header), to
// check a position fits. BL_OK and *th, *tw, or an error.
Status trigger_patch_size(const AttackSpec *a, int *th, int *tw);

// Top-left corner (x = column, y = row) of a th x tw patch in an h x w image. POS_RANDOM draws uniformly among
// the corners where the patch fits, from rng (must not be NULL then).
void trigger_origin(TriggerPos p, int px, int py, int th, int tw, int h, int w, Rng *rng, int *x0, int *y0);
// BL_OK when a th x tw patch at position p fits in h x w; otherwise BL_ERR_USAGE naming `key`.
Status trigger_check_fit(TriggerPos p, int px, int py, int th, int tw, int h, int w, const char *key);

// Blend t into img (t->c, h, w) with its top-left corner at (x0, y0) and weight alpha in [0,1]. Parts outside
// the image are skipped.
void trigger_apply(const Trigger *t, uint8_t *img, int h, int w, int x0, int y0, float alpha);

// A trigger plus where and how strongly to put it: what the per-image drivers in plan.h stamp.
typedef struct {
    const Trigger *t; // the trigger
    TriggerPos pos;   // placement
    int px, py;       // column,row when pos == POS_XY
    float alpha;      // blend weight in [0,1]
} Placement;

// Stamp a Placement (passed as `placement`) on img (c, h, w); rng draws POS_RANDOM corners. Matches PlanStampFn.
void trigger_stamp(const void *placement, uint8_t *img, int c, int h, int w, Rng *rng);

// The checks the patch attacks (badnets, label-consistent) share: the trigger builds for d's shape (PNG readable,
// right depth, fits), position and position_test fit, alpha_train and alpha_test in (0,1].
Status trigger_check_patch_spec(const AttackSpec *a, const Dataset *d);

#endif
