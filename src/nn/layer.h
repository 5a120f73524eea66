// layer.h: the layer vtable. Each layer kind lives in one file (conv.c, pool.c, relu.c, dense.c, flatten.c)
// with its argument parser, shape inference, init, forward and backward side by side, and registers a
// `const LayerOps` in layer.c's table. The model runs one loop over layers.
#ifndef BL_LAYER_H
#define BL_LAYER_H

#include <stddef.h>

#include "core/core.h"
#include "core/rng.h"

// Per-sample tensor shape (channels, height, width). A flat vector of n values is (n,1,1).
typedef struct {
    int c, h, w;
} Shape;

static inline size_t shape_size(Shape s) { return (size_t)s.c * s.h * s.w; }

typedef struct Layer Layer;

typedef struct {
    const char *name; // the keyword in network descriptions ("conv", "relu", ...)
    // Parse the item's arguments (tokens after the keyword). On error return BL_ERR_USAGE with a message
    // that says why (the caller prefixes which item).
    Status (*parse)(Layer *l, char **args, int nargs);
    // Shape inference: set l->out, l->nweight, l->nbias, l->scratch_floats (for a batch of max_batch) and
    // l->aux_ints. Error if the input shape does not fit.
    Status (*plan)(Layer *l, int max_batch);
    // Initialise weights and biases (NULL for parameter-free kinds).
    void (*init)(Layer *l, Rng *rng);
    // y = f(x) for B samples. x (B, in), y (B, out).
    void (*forward)(Layer *l, const float *x, float *y, int B);
    // Given dy (B, out), accumulate into l->dw / l->db (+=) and write dx (B, in) (overwrite; NULL when the
    // input gradient is not needed, e.g. the first layer). x and y are the forward pass's input and output.
    void (*backward)(Layer *l, const float *x, const float *y, const float *dy, float *dx, int B);
    // Canonical text of the item, e.g. "conv 16 5" (defaults omitted), appended to buf.
    void (*describe)(const Layer *l, char *buf, size_t n);
    // 1: the parameters are fixed statistics (input preprocessing), saved with the model but never trained; such
    // layers must come first (Model.nfrozen counts their parameters).
    int frozen;
} LayerOps;

struct Layer {
    const LayerOps *ops;   // kind
    int units;             // conv: output channels; dense: output units
    int k;                 // conv/pool: kernel side
    int stride;            // conv/pool: stride
    int pad;               // conv: zero padding on each side
    Shape in, out;         // per-sample input and output shapes
    size_t nweight, nbias; // parameter counts (0 for parameter-free kinds)
    float *w, *b;          // weights and biases: views into the model's flat parameter buffer
    float *dw, *db;        // their gradients: views into the model's flat gradient buffer
    size_t scratch_floats; // scratch the layer needs for a batch of max_batch (planned by the model)
    float *scratch;        // (scratch_floats) owned by the model; kept from forward to backward
    size_t aux_ints;       // int scratch (maxpool argmax) for a batch of max_batch
    int *aux;              // (aux_ints) owned by the model
    int nk, ks[4];         // conv1d: number of kernel widths and the widths (one filter bank per width)
    Shape model_in;        // the model's input shape (set before plan), so text layers can check for token ids
    const float *tokens;   // the model's input batch (B, model_in): token ids, for layers that mask padding
};

// The registered kinds, looked up by keyword. NULL when unknown.
const LayerOps *layer_find(const char *name);
// Comma-separated list of known keywords, for error messages.
const char *layer_known_names(void);

// Shared by kinds with parameters: PyTorch's default init (Kaiming-uniform with a = sqrt(5) for weights, which
// reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for biases).
void layer_init_uniform_fan_in(Layer *l, int fan_in, Rng *rng);
// Parse a strictly positive int argument ("16"), with a message naming `what` on error.
Status layer_parse_int(const char *tok, const char *what, int min, int max, int *out);

// OpenMP work is split into fixed-size blocks (never "one block per thread") so that the arithmetic each
// output gets is the same at any thread count: results are bit-identical from 1 to N threads.
#define LAYER_ROW_BLOCK 8

#endif
