// layer.c: the registry of layer kinds and helpers shared by them.
#include "nn/layer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const LayerOps conv_ops, maxpool_ops, avgpool_ops, relu_ops, dense_ops, flatten_ops, standardize_ops;
extern const LayerOps embed_ops, meanpool_ops, conv1d_ops, maxtime_ops;

// To add a layer kind: write src/nn/<kind>.c defining `const LayerOps <kind>_ops`, and add it here.
static const LayerOps *const g_kinds[] = {
    &conv_ops, &maxpool_ops, &avgpool_ops, &relu_ops, &dense_ops, &flatten_ops, &standardize_ops,
    &embed_ops, &meanpool_ops, &conv1d_ops, &maxtime_ops,
};

const LayerOps *layer_find(const char *name) {
    for (size_t i = 0; i < BL_ARRAY_LEN(g_kinds); i++)
        if (strcmp(g_kinds[i]->name, name) == 0) return g_kinds[i];
    return NULL;
}

const char *layer_known_names(void) { return "conv, maxpool, avgpool, relu, dense, flatten, standardize, embed, meanpool, conv1d, maxtime"; }

void layer_init_uniform_fan_in(Layer *l, int fan_in, Rng *rng) {
    float bound = 1.0f / sqrtf((float)fan_in);
    for (size_t i = 0; i < l->nweight; i++) l->w[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
    for (size_t i = 0; i < l->nbias; i++) l->b[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound;
}

Status layer_parse_int(const char *tok, const char *what, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (errno || end == tok || *end) return bl_fail(BL_ERR_USAGE, "%s '%s' is not an integer", what, tok);
    if (v < min || v > max) return bl_fail(BL_ERR_USAGE, "%s %ld out of range [%d, %d]", what, v, min, max);
    *out = (int)v;
    return BL_OK;
}
