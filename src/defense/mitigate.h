// mitigate.h: pieces shared by Neural Cleanse and the four mitigations (filter-retrain, fine-tune, fine-prune,
// nc-unlearn). Private to src/defense (the registry only sees the DefenseOps); tests/test_mitigation.c calls
// them directly to check each step on its own.
//
// Every mitigation works on a copy of the model under test and splits the defender's clean data into a tuning
// part (what fine-tuning trains on) and a validation part (what every stopping rule and guard measures), so a
// guard never grades a model on the images it was just fitted to. Nothing here can see the test set.
#ifndef BL_MITIGATE_H
#define BL_MITIGATE_H

#include <stdint.h>

#include "defense/defense.h"

// ---- Neural Cleanse (neural_cleanse.c) ----

// Neural Cleanse's parameters, the first entries of both neural-cleanse's and nc-unlearn's tables, so their
// meaning, ranges and defaults cannot drift apart (nc_settings_from_params reads them by key from either).
#define NC_PARAM_SPECS                                                                                             \
    {"steps", DEF_INT, 80, 1, 100000, "optimisation steps per label (lambda and early stop act per step; paper 1000)"}, \
    {"batches_per_step", DEF_INT, 4, 1, 1000, "mini-batches per step (paper: 1000 samples / 32 = 31)"},              \
    {"batch", DEF_INT, 32, 1, 4096, "mini-batch size (paper 32)"},                                                   \
    {"lr", DEF_REAL, 0.1, 1e-6, 10, "Adam learning rate for mask and pattern (betas 0.5, 0.9)"},                     \
    {"init_cost", DEF_REAL, 1e-3, 0, 1e3, "L1 weight lambda once the attack first succeeds"},                        \
    {"succ_threshold", DEF_REAL, 0.99, 0.01, 1, "attack success rate a reversed trigger must reach"},                \
    {"patience", DEF_INT, 5, 1, 1000, "steps before lambda moves up or down"},                                       \
    {"cost_multiplier", DEF_REAL, 2, 1.0001, 100, "lambda *= m up, /= m^1.5 down (authors' example 2, ART 1.5)"},    \
    {"early_stop_patience", DEF_INT, 25, 0, 100000, "steps without L1 improvement before stopping (0 = never)"},     \
    {"threshold", DEF_REAL, 2, 0, 100, "flag (nc-unlearn: unlearn) labels whose anomaly index exceeds this"},       \
    {"full", DEF_INT, 0, 0, 1, "1 = paper budget: steps 1000, batches_per_step 31, batch 32 (+ runs=1: one run)"},      \
    {"runs", DEF_INT, 5, 1, 100, "runs per label from fresh random inits, L1 averaged (authors: average runs)"}

// How one reverse-engineering run is driven. Defaults and meaning follow the official code (visualizer.py).
typedef struct {
    int steps;               // optimisation steps per label; λ and the early stop move once per step
    int batches_per_step;    // mini-batches in one step (official: NB_SAMPLE / BATCH = 1000 / 32 ≈ 31)
    int batch;               // mini-batch size (official 32)
    double lr;               // Adam learning rate (official 0.1; betas 0.5, 0.9)
    double init_cost;        // λ once the attack first succeeds `patience` steps in a row (official 1e-3)
    double succ_threshold;   // attack success rate a reversed trigger must reach (official 0.99)
    int patience;            // steps of success (failure) before λ goes up (down)
    double cost_multiplier;  // λ *= m going up, λ /= m^1.5 going down (official 2, ART 1.5)
    int early_stop_patience; // stop after this many steps without an L1 improvement, once λ moved both ways; 0 = off
    int runs;                // independent runs per label (own random init and batch order); the L1 is their mean
    int progress;            // progress line on stderr
} NcSettings;

// Per-label outcome of nc_reverse_all.
typedef struct {
    int K;              // labels reversed
    int c, h, w;        // input shape
    float *mask;        // (K, H, W) best mask per label, in [0,1] (with several runs: the smallest successful one)
    float *pattern;     // (K, C, H, W) best pattern per label, in [0,1] (the same run's)
    double *l1;         // (K) L1 norm of the best mask; with several runs, the mean over runs
    double *l1_sd;      // (K) sample standard deviation of the L1 norm over runs (0 with one run)
    double *asr;        // (K) attack success rate of the best mask's step (of the last step if never reached)
    int *reached;       // (K) 1 if some step reached succ_threshold (else mask = the last one, l1 is its norm)
    int *steps_run;     // (K) steps taken before the end or the early stop
    double *final_cost; // (K) λ at the end
} NcReversal;

// Fill s from a defence's resolved parameters (keys: steps, batches_per_step, batch, lr, init_cost,
// succ_threshold, patience, cost_multiplier, early_stop_patience, full, runs). full = 1 switches to the paper's
// budget.
void nc_settings_from_params(const DefenseOps *ops, const DefenseParams *p, NcSettings *s);
// Reverse a trigger for every label of m from batches of `clean` (inputs in [0,1]). Streams rng_stream(seed,
// "neural-cleanse/<label>") (run r > 0: ".../<label>/run<r>"), so a label's result does not depend on the others
// and runs = 1 is the single official run. m's params are not changed.
Status nc_reverse_all(Model *m, const Dataset *clean, const NcSettings *s, uint64_t seed, NcReversal *out);
void nc_reversal_free(NcReversal *r);
// MAD outlier test: ai[k] = (median - l1[k]) / (1.4826 * median|l1 - median|) (positive = smaller than the
// median). Returns the scaled MAD (0 when degenerate: then every ai is 0 and the caller should say so).
double nc_anomaly_index(const double *l1, int K, double *ai, double *median_out);
// Write label<k>-mask.png, -pattern.png, -trigger.png (mask * pattern) for every label into dir, and
// triggers.png (every label's trigger in one row, label 0 first, 1-pixel gray gaps), each pixel upscaled
// `scale` times.
Status nc_write_pngs(const char *dir, const NcReversal *r, int scale);
// x' = (1 - m) x + m p on one uint8 image (C,H,W), rounded back to 0..255. mask (H,W), pattern (C,H,W).
void nc_stamp(uint8_t *img, int c, int h, int w, const float *mask, const float *pattern);

// ---- Shared by the mitigations (mitigate.c) ----

// A heap Model with src's architecture and a copy of its weights, planned for max_batch samples.
Status mit_clone(const Model *src, int max_batch, Model **out);
// model_free + free (NULL is fine).
void mit_destroy(Model *m);
// Fraction of d that m classifies correctly (0 for an empty set).
double mit_accuracy(Model *m, const Dataset *d);
// Split the defender's clean data: round(val_fraction * n) samples into *val, the rest into *tune, from
// rng_stream(seed, "<purpose>") (so the split is the defence's own, not the experiment's).
Status mit_split(const Dataset *clean, double val_fraction, uint64_t seed, const char *purpose, Dataset *tune,
                 Dataset *val);
// Fine-tune m on d: SGD (momentum 0.9, the run's weight decay), cosine schedule from lr over `epochs`, the
// run's batch size, shuffle seeded from rng_stream(seed, "<label>"). after_step (may be NULL) runs after every
// update.
Status mit_finetune(Model *m, const Dataset *d, const DefenseContext *ctx, int epochs, double lr, const char *label,
                    void (*after_step)(void *, Model *), void *step_ctx);
// Retrain from scratch, with the run's seed and training options, on the training samples whose flag is 0.
// *out is a new heap Model (max_batch >= 64); *nkept the number of samples it was trained on.
Status mit_retrain_without(const DefenseContext *ctx, const uint8_t *flag, Model **out, int *nkept);

// ---- Fine-pruning (mitigate_prune.c) ----
//
// fine-prune's DefenseResult.extra_json carries, besides its own diagnostics, what the evaluator needs to replay
// the pruning on the original model (defense/evaluate.c reads these keys from any mitigation that sets them):
//   conv_layer         index of the pruned layer: the last conv layer, or the last hidden dense layer when the
//                      model has no conv layer (records); layer_kind says which ("conv" or "dense")
//   channels           its number of output channels (dense: units) U
//   pruned             the stopping point: channels pruned in the repaired model (0..U)
//   prune_order        (U) every channel in pruning order (the whole ranking, not only up to the stopping point)
//   mean_activation    (U) per channel, the ranking statistic (mean clean activation on the defender split)
//   defender_ca_curve  (U + 1) CA on the defender split with 0..U channels pruned

// Index of the last conv layer, or -1.
int fp_last_conv(const Model *m);
// The layer fine-pruning prunes: the last conv layer; else the last conv1d layer (textcnn); in a model without
// either (the records presets) the last dense layer before the output layer, whose units play the channels'
// part; else a leading embed layer (fasttext: its D dimensions). -1 when there is none (logreg).
int fp_prune_layer(const Model *m);
// Channels of layer `layer` as fine-pruning counts them: a conv1d layer's filters of every width (units * nk), an
// embed layer's dimensions (D), otherwise its units.
int fp_units(const Model *m, int layer);
// Index into m->acts of the activation that represents the conv layer's channels: its output after any
// directly following relu / maxpool / avgpool / maxtime / meanpool (the official code taps the pooled output).
int fp_tap(const Model *m, int conv);
// Mean activation per channel of layer `conv` over d (out: (fp_units); an embed layer: the mean |pooled value|),
// and the channels sorted ascending by it (ties by channel index) into order (fp_units).
void fp_channel_order(Model *m, int conv, const Dataset *d, double *mean, int *order);
// Zero the weights and bias of output channel ch of conv layer `conv` (a conv1d filter of bank ch / units; an
// embed dimension: column ch of every word's vector; or unit ch of a dense layer: its weight row): its output is 0, so after the ReLU it is pruned. The evaluator's replay of the prune curve uses this same function.
void fp_zero_channel(Model *m, int conv, int ch);

#endif
