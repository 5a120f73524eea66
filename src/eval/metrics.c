// metrics.c: counting, and the Wilson score interval (Wilson 1927), which behaves at p near 0 or 1 where the
// normal approximation gives intervals outside [0,1].
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

Proportion proportion_make(long k, long n) {
    Proportion p = {k, n, 0.0, 0.0, 0.0};
    if (n <= 0) return p;
    const double z = 1.959963984540054, z2 = z * z, nn = (double)n;
    p.p = (double)k / nn;
    double centre = (p.p + z2 / (2 * nn)) / (1 + z2 / nn);
    double half = z / (1 + z2 / nn) * sqrt(p.p * (1 - p.p) / nn + z2 / (4 * nn * nn));
    p.lo = fmax(0.0, centre - half);
    p.hi = fmin(1.0, centre + half);
    return p;
}

Status metrics_compute(const uint8_t *labels, const uint8_t *pred, const uint8_t *trig_pred, int n, int K,
                       const AttackSpec *attack, Metrics *out) {
    memset(out, 0, sizeof *out);
    if (K < 2 || K > METRICS_MAX_CLASSES) return bl_fail(BL_ERR_USAGE, "metrics: %d classes unsupported", K);
    out->num_classes = K;
    out->confusion = calloc((size_t)K * K, sizeof(long));
    if (!out->confusion) return bl_fail(BL_ERR_RUN, "out of memory");
    long correct = 0, class_n[METRICS_MAX_CLASSES] = {0}, class_ok[METRICS_MAX_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        out->confusion[labels[i] * K + pred[i]]++;
        correct += pred[i] == labels[i];
        class_n[labels[i]]++;
        class_ok[labels[i]] += pred[i] == labels[i];
    }
    out->ca = proportion_make(correct, n);
    for (int c = 0; c < K; c++) out->ca_class[c] = proportion_make(class_ok[c], class_n[c]);
    if (!trig_pred || !attack || !attack->enabled) return BL_OK;

    out->has_attack = 1;
    long base = 0, hit = 0, robust = 0, hit_all = 0, cls_n[METRICS_MAX_CLASSES] = {0}, cls_hit[METRICS_MAX_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        int y = labels[i], want = attack_target_label(attack, y, K);
        int success = trig_pred[i] == want;
        hit_all += success;
        // all2one: an input already of the target class cannot show an attack; all2all: every input counts
        if (attack->label_mode == LABEL_ALL2ONE && y == attack->target) continue;
        if (!attack_is_source(attack, y)) continue; // a source-specific attack claims only its source classes
        base++;
        hit += success;
        robust += trig_pred[i] == y;
        cls_n[y]++;
        cls_hit[y] += success;
    }
    out->asr = proportion_make(hit, base);
    out->ra = proportion_make(robust, base);
    out->asr_all = proportion_make(hit_all, n);
    for (int c = 0; c < K; c++) out->asr_class[c] = proportion_make(cls_hit[c], cls_n[c]);
    return BL_OK;
}

void metrics_free(Metrics *m) {
    free(m->confusion);
    m->confusion = NULL;
}
