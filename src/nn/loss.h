// loss.h: softmax cross-entropy, fused and numerically stable (log-sum-exp with the max subtracted).
#ifndef BL_LOSS_H
#define BL_LOSS_H

#include <stdint.h>

// logits (B, K), labels (B). Writes probs (B, K) and, when dlogits is not NULL, the gradient of the
// batch-mean loss (probs - onehot) / B. Returns the mean loss over the batch, summed in double in sample order.
double softmax_xent(const float *logits, const uint8_t *labels, int B, int K, float *probs, float *dlogits);
// probs (B, K) only, for inference.
void softmax_rows(const float *logits, int B, int K, float *probs);

#endif
