// monitor.h: a runtime monitor for a deployed model: screen a stream of inputs with a registered input-level
// defence (strip, confidence) and write one JSON line per input (index, predicted label, score, verdict,
// latency). The threshold is the defence's own, fitted once on the defender's clean calibration set at one of
// the FRR targets in defense_frr_targets; later chunks reuse it (the defence is re-run per chunk with a minimal
// calibration whose thresholds are ignored, so scoring is exactly the registered defence's).
#ifndef BL_MONITOR_H
#define BL_MONITOR_H

#include <stdio.h>

#include "core/core.h"
#include "data/dataset.h"
#include "defense/defense.h"
#include "nn/model.h"

#define MONITOR_CHUNK 64 // inputs screened per defence call (latency is reported per chunk, divided evenly)

typedef struct {
    const DefenseOps *ops;  // the registered input-level defence
    DefenseParams calib;    // its parameters for the one calibration call (defaults)
    DefenseParams quick;    // the same with the smallest `calib`, for scoring chunks
    Model *model;           // the deployed model (not owned), max_batch >= 1
    const Dataset *clean;   // the calibration set (not owned); STRIP also draws overlays from it
    uint64_t seed;          // seed for the defence's streams
    double frr;             // the false-rejection target chosen
    double threshold;       // flag when score > threshold
} Monitor;

// Counts for the summary line.
typedef struct {
    long inputs;     // inputs screened (errors excluded)
    long flagged;    // inputs with verdict "suspicious"
    long errors;     // malformed inputs reported with an "error" field
    double seconds;  // wall time spent screening
} MonitorStats;

// Fit the threshold of `defense` (a DEF_INPUTS defence) on `clean` at frr (one of defense_frr_targets).
// BL_ERR_USAGE for an unknown or non-input defence or an frr that is not a target; BL_ERR_DATA for a
// calibration set whose shape differs from the model's input.
// settings: the defence's parameters as "key=value" (NULL-terminated, may be NULL), e.g. "n=20" for a faster STRIP.
Status monitor_init(Monitor *mon, Model *m, const char *defense, const char *const *settings, const Dataset *clean,
                    double frr, uint64_t seed);

// Screen d's images (labels ignored), writing JSON lines numbered from first_index to out.
Status monitor_screen_dataset(Monitor *mon, const Dataset *d, long first_index, FILE *out, MonitorStats *st);
// Screen raw uint8 images of the model's input shape read back to back from in until EOF; a short final record
// is reported as an error line.
Status monitor_screen_raw(Monitor *mon, FILE *in, FILE *out, MonitorStats *st);
// Screen every *.png in dir (sorted by name); unreadable files or wrong sizes are reported as error lines.
Status monitor_screen_pngdir(Monitor *mon, const char *dir, FILE *out, MonitorStats *st);

#endif
