// train.h: the training loop: shuffled mini-batches, one step = forward + loss + backward + update.
#ifndef BL_TRAIN_H
#define BL_TRAIN_H

#include <stdint.h>

#include "core/core.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/optim.h"

// The model input one sample of d becomes: images (C,H,W); records (2F,1,1): F values, then F missing flags.
Shape train_input_shape(const Dataset *d);

// Copy B samples (indices idx) into x (B, input) and their labels into y (B). Images become floats in [0,1];
// records become their values (0 where missing) followed by their missing flags (1 = missing); messages become
// the model ids (m->vocab) of their first L words, padded with 0. m may be NULL except for tokens.
void batch_load(const Model *m, const Dataset *d, const int *idx, int B, float *x, uint8_t *y);

// Fit the model's input preprocessing to training data d: a leading standardize layer gets the mean and 1/std of
// each feature's present values; a leading embed gets its vocabulary (m->vocab) from d's messages. No-op for
// models without either (every image network).
Status train_fit_input(Model *m, const Dataset *d);

// One training step on the B samples already in m->acts[0] with labels y: forward, loss, backward, update.
// Returns the batch-mean loss. Allocates nothing.
double train_step(Model *m, Optimizer *opt, const uint8_t *y, int B, double lr);

typedef struct {
    int epoch;            // 0-based epoch just finished
    double loss;          // mean training loss over the epoch's samples
    double train_acc;     // training accuracy measured during the epoch (on the fly, before each update)
    double lr;            // learning rate used in the epoch
    double train_seconds; // wall time of the epoch's steps
    double img_per_s;     // training throughput
} EpochStats;

// Called after each epoch (e.g. to evaluate on the test set); a non-OK status stops training.
typedef Status (*EpochHook)(void *ctx, const EpochStats *st);

typedef struct {
    int epochs;          // passes over the data
    int batch;           // mini-batch size (the last batch of an epoch may be smaller)
    OptConfig opt;       // optimizer and schedule
    uint64_t seed;       // experiment seed: the shuffle stream is rng_stream(seed, "shuffle")
    int progress;        // draw a progress bar on stderr (the caller decides: TTY only)
    const char *label;   // what the progress bar calls this model ("clean", "backdoor")
    EpochHook on_epoch;  // optional
    void *hook_ctx;      // passed to on_epoch
    // Optional: called after every parameter update (e.g. fine-pruning holds pruned channels at zero).
    void (*after_step)(void *ctx, Model *m);
    void *step_ctx;      // passed to after_step
} TrainOptions;

// Train m (already built with max_batch >= batch and initialised) on d. Stops with BL_ERR_RUN and a clear
// message if the loss becomes NaN or infinite (divergence guard), leaving nothing written.
Status train_model(Model *m, const Dataset *d, const TrainOptions *o);

// Predict labels for every sample of d (batches of m->max_batch). pred (d->n). probs_out (d->n, K) optional.
void predict(Model *m, const Dataset *d, uint8_t *pred, float *probs_out);

#endif
