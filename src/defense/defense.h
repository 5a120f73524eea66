// defense.h: the interface every detector and mitigation implements, and what it may see.
//
// The rule that makes the numbers mean something: a defence sees only what a real defender has: the
// (possibly poisoned) training set WITHOUT any poisoned flag, the trained model, and the defender's clean
// held-out split (plus, for input-level detectors, the stream of inputs to screen, unlabelled). Nothing in
// DefenseContext can reach the poison manifest or say which inputs carry a trigger; only the evaluator
// (defense/evaluate.c) gets those, after the defence has returned its scores.
//
// Adding a defence: write src/defense/<name>.c defining `const DefenseOps <name>_defense = {...}` (with the sample
// kinds it supports) and add one line to the table in src/defense/registry.c.
#ifndef BL_DEFENSE_H
#define BL_DEFENSE_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "train/train.h"

typedef enum {
    DEF_SAMPLES,    // flags training samples (AC, spectral, loss-isolation)
    DEF_MODEL,      // judges the model: per-label anomaly (neural-cleanse)
    DEF_INPUTS,     // screens test-time inputs (STRIP, confidence)
    DEF_MITIGATION, // returns a repaired model (filter-retrain, fine-tune, fine-prune, nc-unlearn)
    DEF_ANY,        // decides when it runs: any of the above plus a model score (external commands); the evaluator
                    // scores whatever came back
} DefenseLevel;

// What values a parameter takes. Defences read integer parameters with an (int) cast, so a fraction given to one
// is refused instead of silently truncated ("steps=2.5" would run 2 steps).
typedef enum {
    DEF_REAL = 0, // any number in the range
    DEF_INT,      // whole numbers only: counts, sizes, 0/1 switches, numbered choices
    DEF_TEXT,     // a string (a command line); def/min/max unused; read with defense_param_text
} DefenseParamType;

// A defence's parameter: name, type, default, allowed range. Values come from a [defense.<name>] config section
// or `detect --set key=value`; unknown keys, out-of-range values and fractions given to DEF_INT parameters are
// errors naming the key. Tables are written positionally: {"steps", DEF_INT, 80, 1, 100000, "help"}.
typedef struct {
    const char *key;       // e.g. "steps"
    DefenseParamType type; // DEF_INT or DEF_REAL; an integer's default and range are whole numbers too
    double def;            // default value
    double min, max;       // allowed range (inclusive)
    const char *help;      // one line for --help and the README
} DefenseParamSpec;

#define DEFENSE_MAX_PARAMS 24

// Resolved parameter values, in the order of the defence's spec table.
typedef struct {
    int n;                           // number of parameters
    double value[DEFENSE_MAX_PARAMS]; // value of each, defaults filled in
    const char *text[DEFENSE_MAX_PARAMS]; // DEF_TEXT values: views into the settings strings (keep them alive
                                          // while the params are used); "" when not set
} DefenseParams;

// Everything a defence may look at.
typedef struct {
    Model *model;              // the model under test, built for max_batch >= 64; the defence may run it
    const Dataset *train;      // the training set the model was trained on (poisoned or not: no flags)
    const Dataset *clean;      // the defender's clean held-out split (labels trusted)
    const Dataset *inputs;     // DEF_INPUTS only: inputs to screen (labels zeroed: the defender does not know them)
    const TrainOptions *train_opts; // how the model was trained (for mitigations that retrain or fine-tune)
    const char *model_desc;    // the network description (for building fresh models)
    uint64_t seed;             // experiment seed: derive the defence's own streams with rng_stream(seed, "<name>")
    const DefenseParams *params; // resolved parameters
    const char *out_dir;       // folder for the defence's own extra files (plots, reversed triggers), exists
    int progress;              // draw progress on stderr (TTY only)
} DefenseContext;

// What a defence returns. Arrays are allocated by the defence with malloc and freed by defense_result_free.
typedef struct {
    // DEF_SAMPLES: one score per training sample (higher = more suspicious) and the defence's own flag.
    float *sample_score;   // (train->n)
    uint8_t *sample_flag;  // (train->n) 1 = flagged as poisoned
    // DEF_MODEL: per-label statistics and the labels flagged as backdoor targets.
    int num_labels;        // K
    double *label_stat;    // (K) e.g. the L1 norm of the reversed trigger mask
    double *anomaly_index; // (K) e.g. MAD anomaly index (positive = smaller than the median)
    int nflagged;          // number of flagged labels
    int flagged[256];      // flagged labels
    float *reversed_mask;  // (K, H, W) optional: reversed trigger masks in [0,1] (for the Jaccard overlap);
                           // records: (K, F), one entry per feature
    // DEF_INPUTS: one score per input (higher = more suspicious) and thresholds the defender chose from its
    // clean split for each target false-rejection rate in defense_frr_targets.
    float *input_score;    // (inputs->n)
    double thresholds[8];  // threshold for defense_frr_targets[i]: flag when score > threshold
    // DEF_MITIGATION: the repaired model (owned; model_free + free by defense_result_free).
    Model *repaired;
    // DEF_ANY: a model-level verdict, the probability that the model is backdoored (TrojAI's score).
    int has_model_score;
    double model_score;
    // Anything defence-specific for summary.json (a cJSON object, owned), may be NULL.
    void *extra_json;
    // What the defence skipped or could not do (degenerate classes, NaNs...): shown to the user.
    char notes[1024];
} DefenseResult;

// The FRR targets input-level detectors calibrate thresholds for: 0.5%, 1%, 2%, 3%.
#define DEFENSE_NFRR 4
extern const double defense_frr_targets[DEFENSE_NFRR];

typedef struct {
    const char *name;                 // registry name, e.g. "spectral"
    DefenseLevel level;               // what it produces
    unsigned kinds;                   // sample kinds it supports, DS_KIND_BIT(DS_IMAGES) | ...; a [defense.<name>]
                                      // section on a dataset of another kind is a config error naming its line
    const DefenseParamSpec *params;   // parameter table
    int nparams;                      // entries in params
    const char *summary;              // one line for --help
    Status (*run)(const DefenseContext *ctx, DefenseResult *out);
} DefenseOps;

const DefenseOps *defense_find(const char *name);
// Comma-separated list of registered names.
const char *defense_known_names(void);
// Fill defaults, then apply "key=value" settings (NULL-terminated array, may be NULL); errors name the key.
Status defense_params_resolve(const DefenseOps *ops, const char *const *settings, DefenseParams *out);
// The value of a named parameter (must exist in ops->params).
double defense_param(const DefenseOps *ops, const DefenseParams *p, const char *key);
// The value of a named DEF_TEXT parameter ("" when not set).
const char *defense_param_text(const DefenseOps *ops, const DefenseParams *p, const char *key);
void defense_result_free(DefenseResult *r);

// Added with the registry (issue 6): enumeration, names and notes.
// Number of registered defences, and the i-th one (NULL when out of range), in registry order.
int defense_count(void);
const DefenseOps *defense_at(int i);
// "samples", "model", "inputs", "mitigation" or "any".
const char *defense_level_name(DefenseLevel level);
// Append a printf-style note to r->notes ("; "-separated; silently truncated when full).
void defense_note(DefenseResult *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Print a defence's parameter table (key, default, range, "(integer)" for DEF_INT, help), one line each, into buf.
void defense_params_describe(const DefenseOps *ops, char *buf, size_t n);

#endif
