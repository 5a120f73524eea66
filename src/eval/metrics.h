// metrics.h: clean accuracy (CA), attack success rate (ASR), robust accuracy (RA), per-class numbers, the
// confusion matrix, and Wilson 95% intervals. The evaluator is the only code that knows which inputs carry a
// trigger; it gets the attack's label rule, never the training-time poison flags.
#ifndef BL_METRICS_H
#define BL_METRICS_H

#include <stdint.h>

#include "attack/attack.h"

#define METRICS_MAX_CLASSES 256

// A proportion k/n with its Wilson score interval (95%, z = 1.96).
typedef struct {
    long k, n;      // successes, trials
    double p;       // k / n (0 when n == 0)
    double lo, hi;  // Wilson 95% interval
} Proportion;

Proportion proportion_make(long k, long n);

typedef struct {
    int num_classes;                        // K
    Proportion ca;                          // clean test accuracy
    Proportion ca_class[METRICS_MAX_CLASSES]; // per true class
    long *confusion;                        // (K, K) rows = true label, columns = prediction; owned
    int has_attack;                         // 1 when the triggered numbers below are set
    Proportion asr;      // triggered inputs (true label != target for all2one; all for all2all; only the
                         // source_classes when the attack names them) -> attack label
    Proportion ra;       // the same inputs still classified as their true label
    Proportion asr_all;  // all triggered inputs (target class included) classified as the attack label
    Proportion asr_class[METRICS_MAX_CLASSES]; // ASR per true class (n = 0 for the excluded target class)
} Metrics;

// labels (n) true labels; pred (n) predictions on the clean test set. trig_pred (n) predictions on the
// triggered copies of the same images, or NULL without an attack.
Status metrics_compute(const uint8_t *labels, const uint8_t *pred, const uint8_t *trig_pred, int n, int K,
                       const AttackSpec *attack, Metrics *out);
void metrics_free(Metrics *m);

#endif
