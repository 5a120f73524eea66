// policy.h: the scan policy: which checks a model must pass before it enters a build, and their thresholds.
//
// An INI file read with libinih and validated like an experiment config: an unknown section or key, a bad value
// or a duplicate key is an error naming file:line (BL_ERR_USAGE). A check runs only when its section is present;
// every check section takes `mode` = required (default) | advisory | off and `budget_seconds` (0 = none).
//
//   [scan]        fail_fast (yes): after a required check fails, skip the later (costlier) ones (a failed
//                 required signature always stops the scan: nothing in the file can be trusted)
//                 probe_images (1000): clean probe images used by [model-scan] / [input-scan] (first N)
//                 seed (1): seed of the detectors' random streams
//   [signature]   trusted_keys: comma-separated KEY.pub paths, any one of which may have signed the model (more
//                 come from `scan --trusted-key`); an unsigned, tampered or otherwise-signed model fails
//   [provenance]  required_fields: provenance keys that must be present and non-empty;
//                 allowed_dataset_hashes: the model's dataset_sha256 must be one of these (empty = any)
//   [data]        manifest: a dataset manifest (`data manifest`); the model's dataset_sha256 must be its hash,
//                 and `scan --data DIR|M.json` must match it sample for sample; require_data (no): fail when
//                 --data is not given
//   [input-scan]  detector (strip | confidence): the runtime monitor calibrated on half the probe at `frr`
//                 (0.01); candidate triggers (white and black squares at the four corners and the centre, every
//                 side s with s*s <= max_trigger_l1, default 9) are stamped on the other half; fails when a
//                 candidate sends >= max_asr (0.9) of the images the model did not put in class t into t, for
//                 some t; any other key is a parameter of the detector (e.g. n = 20). Seconds, so it runs before
//                 [model-scan]
//   [model-scan]  detector (neural-cleanse): a model-level detector from the registry; max_anomaly_index (2);
//                 max_trigger_l1 (0 = off) and trigger_asr (0.9): a reversed trigger with ASR >= trigger_asr
//                 and mask L1 < max_trigger_l1 fails; rule = any (either test fails the check) | both (one label
//                 must fail both); any other key is a parameter of the detector (e.g. runs = 5)
//
// Paths are taken as written (relative to the working directory, like config paths).
#ifndef BL_SCAN_POLICY_H
#define BL_SCAN_POLICY_H

#include <stdint.h>

#include "core/core.h"

#define SCAN_MAX_ITEMS 16     // trusted keys, required fields, allowed hashes, detector settings
#define SCAN_PATH_MAX 1024

typedef enum { SCAN_OFF = 0, SCAN_REQUIRED, SCAN_ADVISORY } ScanMode;

// The checks in the order they run (cheapest first).
typedef enum { SCAN_SIGNATURE = 0, SCAN_PROVENANCE, SCAN_DATA, SCAN_INPUT, SCAN_MODEL, SCAN_NCHECKS } ScanCheckId;

typedef struct {
    ScanMode mode;         // SCAN_OFF when the section is absent
    double budget_seconds; // a check that takes longer fails (it is not interrupted); 0 = no budget
    int line;              // line of the section header (0 = absent)
} ScanCheckPolicy;

typedef struct {
    char path[SCAN_PATH_MAX];        // the policy file, for messages and reports
    ScanCheckPolicy check[SCAN_NCHECKS];
    int fail_fast;                   // skip later checks after a required failure
    int probe_images;                // first N probe images used
    uint64_t seed;                   // detector streams
    // [signature]
    int nkeys;
    char keys[SCAN_MAX_ITEMS][SCAN_PATH_MAX]; // trusted public key files
    // [provenance]
    int nfields;
    char fields[SCAN_MAX_ITEMS][64];          // required provenance keys
    int nhashes;
    char hashes[SCAN_MAX_ITEMS][65];          // allowed dataset_sha256 values (lowercase hex)
    // [data]
    char manifest[SCAN_PATH_MAX];             // dataset manifest the training data must match ("" = none)
    int require_data;                         // --data must be given
    // [model-scan]
    char model_detector[32];
    double max_anomaly_index;
    double max_trigger_l1;                    // 0 = the trigger-size test is off
    double trigger_asr;
    int rule_both;                            // 1: a label must fail both tests
    int nmodel_set;
    char model_set[SCAN_MAX_ITEMS][96];       // "key=value" detector parameters
    // [input-scan]
    char input_detector[32];
    double frr;
    double max_patch_l1;                      // candidate budget: squares with side^2 <= this
    double max_asr;
    int ninput_set;
    char input_set[SCAN_MAX_ITEMS][96];
} ScanPolicy;

// Defaults with every check off.
void scan_policy_defaults(ScanPolicy *p);
// Parse policy text (file names messages); BL_ERR_USAGE with "file:line: [section] key: ..." on any error.
Status scan_policy_parse(const char *text, const char *file, ScanPolicy *p);
// Read and parse a policy file (BL_ERR_USAGE when it cannot be read).
Status scan_policy_load(const char *path, ScanPolicy *p);

const char *scan_check_name(ScanCheckId id); // "signature", "provenance", "data", "input-scan", "model-scan"
const char *scan_mode_name(ScanMode m);      // "off", "required", "advisory"

#endif
