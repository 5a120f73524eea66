// loss.c: fused softmax + cross-entropy.
#include "nn/loss.h"

#include <math.h>
#include <stddef.h>

void softmax_rows(const float *logits, int B, int K, float *probs) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        float m = z[0];
        for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - m) / s);
    }
}

double softmax_xent(const float *logits, const uint8_t *labels, int B, int K, float *probs, float *dlogits) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float m = z[0];
        for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
        double log_s = log(s);
        total += log_s - ((double)z[labels[b]] - m); // -log softmax(z)[y]
        for (int k = 0; k < K; k++) probs[(size_t)b * K + k] = (float)exp((double)z[k] - m - log_s);
    }
    if (dlogits) {
        const float inv_b = 1.0f / (float)B;
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++) {
                float g = probs[(size_t)b * K + k] - (k == labels[b] ? 1.0f : 0.0f);
                dlogits[(size_t)b * K + k] = g * inv_b;
            }
    }
    return total / B;
}
