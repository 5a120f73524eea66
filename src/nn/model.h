// model.h: a network built from a text description, with all memory planned once.
// Params, grads (and the optimizer's state, see optim.h) are one flat buffer each with named per-layer views;
// activations, activation gradients and layer scratch are planned for max_batch when the model is built.
// Nothing is allocated by model_forward / model_backward / model_train_step.
#ifndef BL_MODEL_H
#define BL_MODEL_H

#include <stdint.h>

#include "core/core.h"
#include "nn/layer.h"
#include "nn/vocab.h"

#define MODEL_MAX_LAYERS 64
#define MODEL_DESC_MAX 4096
// Caps checked before anything is allocated, so a description (from a config or a model file) cannot ask for
// absurd memory: parameters (each is stored 3-4 times: weights, gradients, optimizer state) and the activation
// arena planned for max_batch samples. The presets need under 2% of either at batch 4096.
#define MODEL_MAX_PARAMS ((size_t)1 << 27)           // 134M parameters, 512 MiB per float32 copy
#define MODEL_MAX_ARENA_BYTES ((size_t)4 << 30)      // 4 GiB of activations, gradients and scratch

typedef struct {
    char desc[MODEL_DESC_MAX]; // canonical network description (presets expanded)
    Shape input;               // per-sample input shape
    int num_classes;           // size of the last layer's output (the logits)
    int max_batch;             // activations are planned for up to this many samples
    int nlayers;               // number of layers
    Layer layers[MODEL_MAX_LAYERS];
    size_t nparams;            // total parameter count
    size_t nfrozen;            // the first nfrozen parameters are fixed statistics (a leading standardize layer):
                               // optimisers update params + nfrozen onwards only
    float *params;             // (nparams) all weights and biases, layer by layer, weight before bias
    float *grads;              // (nparams) same layout
    float *acts[MODEL_MAX_LAYERS + 1];  // acts[0] = input (B, input), acts[i+1] = output of layer i
    float *dacts[MODEL_MAX_LAYERS + 1]; // gradients of the same; dacts[0] is unused (NULL)
    float *probs;              // (max_batch, num_classes) softmax of the last forward
    void *arena;               // the single allocation all activation buffers live in
    Vocab *vocab;              // text models (a leading embed): tokeniser settings and vocabulary, fitted by
                               // train_fit_input and saved in the model file; owned; NULL otherwise
} Model;

// Expand a preset name ("reference-cnn", "badnets-mnist", "mlp", "logreg") to its description; other text is
// returned as is. In a description the word `classes` stands for the dataset's number of classes ("dense classes").
const char *model_expand_preset(const char *desc);
// Parse and plan. num_classes > 0 requires the last layer to output exactly that many values (1x1);
// num_classes == 0 accepts any output (tests of single layers). Errors (BL_ERR_USAGE) say which item and why.
Status model_build(Model *m, const char *desc, Shape input, int num_classes, int max_batch);
// The parameter count model_build would allocate for desc, without allocating it (parse and plan only). Lets a
// model file's loader refuse a description whose network the file's weights cannot fill before building it.
Status model_count_params(const char *desc, Shape input, int num_classes, size_t *nparams);
void model_free(Model *m);
// Parameter init: PyTorch's default (see layer_init_uniform_fan_in), from rng_stream(seed, "init").
void model_init_params(Model *m, uint64_t seed);

// Forward of B <= max_batch samples already in m->acts[0]; returns the logits m->acts[nlayers].
float *model_forward(Model *m, int B);
// Loss of the last forward against labels; fills m->probs and the logits' gradient. Returns the mean loss.
double model_loss(Model *m, const uint8_t *labels, int B);
// Backward from dacts[nlayers] (set by model_loss); grads are zeroed first, so they hold this batch's gradient.
void model_backward(Model *m, int B);

// Same as model_backward, and also writes the gradient of the loss with respect to the input into
// dx (B, input) (for attacks and defences that optimise inputs: PGD, trigger reverse-engineering).
void model_backward_input(Model *m, int B, float *dx);

// Named views of the parameter tensors ("0.conv.weight", ...), for model files.
typedef struct {
    char name[32]; // "<layer index>.<kind>.weight" or ".bias"
    int ndim;      // 1, 2 or 4
    int dims[4];   // conv weight (OUT,C,K,K); dense weight (OUT,IN); bias (OUT)
    float *data;   // view into m->params
    size_t count;  // number of floats
} ParamView;
int model_param_views(const Model *m, ParamView *views, int max_views);

#endif
