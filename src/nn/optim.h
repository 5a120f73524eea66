// optim.h: SGD (momentum, Nesterov, weight decay) and Adam, with PyTorch's update rules, plus
// learning-rate schedules. State is one flat buffer per moment, laid out like the model's params.
#ifndef BL_OPTIM_H
#define BL_OPTIM_H

#include <stddef.h>

#include "core/core.h"

typedef enum { OPT_SGD, OPT_ADAM } OptKind;
typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } Schedule;

typedef struct {
    OptKind kind;        // sgd or adam
    double lr;           // base learning rate
    double momentum;     // sgd: momentum factor (0 = plain SGD)
    int nesterov;        // sgd: Nesterov momentum
    double weight_decay; // L2 penalty added to the gradient (both optimizers, as PyTorch's SGD and Adam)
    double beta1, beta2; // adam: moment decay rates
    double eps;          // adam: denominator epsilon
    Schedule schedule;   // learning-rate schedule over epochs
    int step_size;       // step: epochs between decays
    double gamma;        // step: decay factor
    int epochs;          // cosine: total epochs (the period)
} OptConfig;

typedef struct {
    OptConfig cfg; // settings
    size_t n;      // number of parameters
    float *m;      // (n) sgd momentum buffer / adam first moment
    float *v;      // (n) adam second moment (NULL for sgd)
    long t;        // steps taken (adam bias correction)
} Optimizer;

Status opt_init(Optimizer *o, const OptConfig *cfg, size_t nparams);
void opt_free(Optimizer *o);
// Learning rate for a 0-based epoch: constant lr; step lr*gamma^floor(epoch/step_size);
// cosine lr*(1+cos(pi*epoch/epochs))/2 (PyTorch's CosineAnnealingLR stepped per epoch, eta_min = 0).
double opt_lr_at(const OptConfig *cfg, int epoch);
// One update of params (n) from grads (n) at learning rate lr. Elementwise, so thread-count independent.
void opt_step(Optimizer *o, float *params, const float *grads, double lr);

#endif
