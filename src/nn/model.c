// model.c: network description parsing, memory planning, and the forward/backward loops over layers.
#include "nn/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/loss.h"

static const struct {
    const char *name;
    const char *desc;
} g_presets[] = {
    // The small CNN the reference numbers were measured with (80,202 parameters on 1x28x28, 10 classes).
    {"reference-cnn", "conv 16 5, relu, maxpool 2, conv 32 5, relu, maxpool 2, flatten, dense 128, relu, dense 10"},
    // Gu, Dolan-Gavitt, Garg 2017 (BadNets), the MNIST network.
    {"badnets-mnist", "conv 16 5, relu, avgpool 2, conv 32 5, relu, avgpool 2, flatten, dense 512, relu, dense 10"},
    // Feature records (src/nn/standardize.c): two hidden layers of 64 (the PyTorch proxy), and logistic
    // regression (multinomial for K > 2), both on standardised features plus missing flags.
    {"mlp", "standardize, dense 64, relu, dense 64, relu, dense classes"},
    {"logreg", "standardize, dense classes"},
    // Messages (token ids; src/nn/embed.c): fastText (Joulin et al. 2017: embeddings, their mean, a linear
    // classifier) and Kim's (2014) text CNN, narrowed (32-wide embeddings, 32 filters per width) for a laptop.
    {"fasttext", "embed 20000 64, meanpool, dense classes"},
    {"textcnn", "embed 20000 32, conv1d 32 3 4 5, relu, maxtime, dense classes"},
};

const char *model_expand_preset(const char *desc) {
    while (isspace((unsigned char)*desc)) desc++;
    size_t n = strlen(desc);
    while (n > 0 && isspace((unsigned char)desc[n - 1])) n--;
    for (size_t i = 0; i < BL_ARRAY_LEN(g_presets); i++)
        if (strlen(g_presets[i].name) == n && strncmp(desc, g_presets[i].name, n) == 0) return g_presets[i].desc;
    return desc;
}

// Split one comma-separated item into whitespace-separated tokens, in place.
static int tokenize(char *item, char **tok, int max_tok) {
    int n = 0;
    for (char *p = strtok(item, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
        if (n == max_tok) return -1;
        tok[n++] = p;
    }
    return n;
}

// Parse every item, infer shapes, and count parameters and buffer sizes.
static Status parse_and_plan(Model *m, const char *desc) {
    char text[MODEL_DESC_MAX];
    if (strlen(desc) >= sizeof text)
        return bl_fail(BL_ERR_USAGE, "network description longer than %d characters", MODEL_DESC_MAX - 1);
    strcpy(text, desc);
    Shape shape = m->input;
    int item_no = 0;
    char *rest = text;
    while (rest) {
        char *item = rest;
        char *comma = strchr(rest, ',');
        if (comma) *comma = 0;
        rest = comma ? comma + 1 : NULL;
        item_no++;
        char original[256];
        snprintf(original, sizeof original, "%s", item);
        // trim for the message
        char *o = original;
        while (isspace((unsigned char)*o)) o++;
        for (size_t n = strlen(o); n > 0 && isspace((unsigned char)o[n - 1]); n--) o[n - 1] = 0;

        char *tok[16];
        int ntok = tokenize(item, tok, 16);
        if (ntok < 0) return bl_fail(BL_ERR_USAGE, "network item %d '%s': too many words", item_no, o);
        char nclasses[16]; // `classes` stands for the dataset's class count (presets for any dataset)
        snprintf(nclasses, sizeof nclasses, "%d", m->num_classes);
        for (int t = 1; t < ntok; t++)
            if (m->num_classes > 0 && strcmp(tok[t], "classes") == 0) tok[t] = nclasses;
        if (ntok == 0)
            return bl_fail(BL_ERR_USAGE, "network item %d is empty (a stray comma?) in '%s'", item_no, desc);
        const LayerOps *ops = layer_find(tok[0]);
        if (!ops)
            return bl_fail(BL_ERR_USAGE, "network item %d '%s': unknown layer kind '%s' (known: %s)", item_no, o,
                           tok[0], layer_known_names());
        if (m->nlayers == MODEL_MAX_LAYERS)
            return bl_fail(BL_ERR_USAGE, "network has more than %d layers", MODEL_MAX_LAYERS);
        Layer *l = &m->layers[m->nlayers];
        memset(l, 0, sizeof *l);
        l->ops = ops;
        l->in = shape;
        l->model_in = m->input;
        if (ops->parse(l, tok + 1, ntok - 1) || ops->plan(l, m->max_batch))
            return bl_fail_ctx(BL_ERR_USAGE, "network item %d '%s' (input %dx%dx%d)", item_no, o, shape.c,
                               shape.h, shape.w);
        if (shape_size(l->out) == 0 || shape_size(l->out) > (1u << 26))
            return bl_fail(BL_ERR_USAGE, "network item %d '%s': output size %zu out of range", item_no, o,
                           shape_size(l->out));
        if (ops->frozen && m->nlayers > 0 && !m->layers[m->nlayers - 1].ops->frozen)
            return bl_fail(BL_ERR_USAGE, "network item %d '%s': %s must come first (its parameters are fixed "
                                         "input statistics)", item_no, o, ops->name);
        shape = l->out;
        m->nlayers++;
        size_t nparams = 0;
        for (int i = 0; i < m->nlayers; i++) nparams += m->layers[i].nweight + m->layers[i].nbias;
        if (nparams > MODEL_MAX_PARAMS)
            return bl_fail(BL_ERR_USAGE, "network item %d '%s': the network reaches %zu parameters, above the limit "
                                         "of %zu (MODEL_MAX_PARAMS)", item_no, o, nparams, MODEL_MAX_PARAMS);
    }
    if (m->num_classes > 0 && (shape.h != 1 || shape.w != 1 || shape.c != m->num_classes))
        return bl_fail(BL_ERR_USAGE,
                       "network '%s' ends with output %dx%dx%d but the dataset has %d classes (end with 'dense %d')",
                       desc, shape.c, shape.h, shape.w, m->num_classes, m->num_classes);
    if (m->num_classes == 0) m->num_classes = (int)shape_size(shape);
    // canonical description
    m->desc[0] = 0;
    for (int i = 0; i < m->nlayers; i++) {
        if (i) strncat(m->desc, ", ", sizeof m->desc - strlen(m->desc) - 1);
        m->layers[i].ops->describe(&m->layers[i], m->desc, sizeof m->desc);
    }
    return BL_OK;
}

Status model_count_params(const char *desc, Shape input, int num_classes, size_t *nparams) {
    Model *m = calloc(1, sizeof *m); // large (64 layers): not on the stack
    if (!m) return bl_fail(BL_ERR_RUN, "out of memory");
    m->input = input;
    m->num_classes = num_classes;
    m->max_batch = 1;
    Status st = parse_and_plan(m, model_expand_preset(desc));
    *nparams = 0;
    for (int i = 0; !st && i < m->nlayers; i++) *nparams += m->layers[i].nweight + m->layers[i].nbias;
    free(m);
    return st;
}

Status model_build(Model *m, const char *desc, Shape input, int num_classes, int max_batch) {
    memset(m, 0, sizeof *m);
    if (max_batch < 1) return bl_fail(BL_ERR_USAGE, "batch size must be at least 1");
    m->input = input;
    m->num_classes = num_classes;
    m->max_batch = max_batch;
    Status st = parse_and_plan(m, model_expand_preset(desc));
    if (st) return st;

    for (int i = 0; i < m->nlayers; i++) {
        m->nparams += m->layers[i].nweight + m->layers[i].nbias;
        if (m->layers[i].ops->frozen) m->nfrozen = m->nparams;
    }
    // Activation arena: input, then per layer output, output gradient, scratch; then probs; then ints.
    size_t floats = (size_t)max_batch * shape_size(input);
    for (int i = 0; i < m->nlayers; i++)
        floats += 2 * (size_t)max_batch * shape_size(m->layers[i].out) + m->layers[i].scratch_floats + 16;
    floats += (size_t)max_batch * m->num_classes;
    size_t ints = 0;
    for (int i = 0; i < m->nlayers; i++) ints += m->layers[i].aux_ints + 16;
    if (floats > MODEL_MAX_ARENA_BYTES / sizeof(float) ||
        floats * sizeof(float) + ints * sizeof(int) > MODEL_MAX_ARENA_BYTES)
        return bl_fail(BL_ERR_USAGE, "network '%s': activations for a batch of %d need %.1f GiB, above the limit of "
                       "%zu GiB (MODEL_MAX_ARENA_BYTES); use a smaller batch or network", m->desc, max_batch,
                       ((double)floats * sizeof(float) + (double)ints * sizeof(int)) / (1 << 30),
                       MODEL_MAX_ARENA_BYTES >> 30);

    m->params = bl_alloc((m->nparams + 1) * sizeof(float));
    m->grads = bl_alloc((m->nparams + 1) * sizeof(float));
    m->arena = bl_alloc(floats * sizeof(float) + ints * sizeof(int));
    if (!m->params || !m->grads || !m->arena) {
        model_free(m);
        return BL_ERR_RUN;
    }
    float *p = m->params, *g = m->grads, *a = m->arena;
    m->acts[0] = a;
    a += (size_t)max_batch * shape_size(input);
    for (int i = 0; i < m->nlayers; i++) {
        Layer *l = &m->layers[i];
        l->w = p, l->dw = g;
        p += l->nweight, g += l->nweight;
        l->b = p, l->db = g;
        p += l->nbias, g += l->nbias;
        size_t out = (size_t)max_batch * shape_size(l->out);
        m->acts[i + 1] = a, a += out;
        m->dacts[i + 1] = a, a += out;
        l->scratch = a, a += l->scratch_floats + 16; // +16 keeps the next buffer 64-byte aligned
        l->tokens = m->acts[0];
    }
    m->probs = a;
    a += (size_t)max_batch * m->num_classes;
    int *ip = (int *)a;
    for (int i = 0; i < m->nlayers; i++) {
        m->layers[i].aux = ip;
        ip += m->layers[i].aux_ints + 16;
    }
    return BL_OK;
}

void model_free(Model *m) {
    vocab_free(m->vocab);
    m->vocab = NULL;
    bl_free(m->params);
    bl_free(m->grads);
    bl_free(m->arena);
    m->params = m->grads = NULL;
    m->arena = NULL;
}

void model_init_params(Model *m, uint64_t seed) {
    Rng rng = rng_stream(seed, "init");
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].ops->init) m->layers[i].ops->init(&m->layers[i], &rng);
}

float *model_forward(Model *m, int B) {
    for (int i = 0; i < m->nlayers; i++) m->layers[i].ops->forward(&m->layers[i], m->acts[i], m->acts[i + 1], B);
    return m->acts[m->nlayers];
}

double model_loss(Model *m, const uint8_t *labels, int B) {
    return softmax_xent(m->acts[m->nlayers], labels, B, m->num_classes, m->probs, m->dacts[m->nlayers]);
}

static void backward_into(Model *m, int B, float *dx0) {
    memset(m->grads, 0, m->nparams * sizeof(float));
    for (int i = m->nlayers - 1; i >= 0; i--) {
        Layer *l = &m->layers[i];
        l->ops->backward(l, m->acts[i], m->acts[i + 1], m->dacts[i + 1], i > 0 ? m->dacts[i] : dx0, B);
    }
}

void model_backward(Model *m, int B) { backward_into(m, B, NULL); }
void model_backward_input(Model *m, int B, float *dx) { backward_into(m, B, dx); }

int model_param_views(const Model *m, ParamView *views, int max_views) {
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const Layer *l = &m->layers[i];
        if (!l->nweight) continue;
        if (n + 2 > max_views) return -1;
        ParamView *w = &views[n++], *b = &views[n];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%d.%s.weight", i, l->ops->name);
        w->data = l->w, w->count = l->nweight;
        if (l->nbias) { // embed has none
            memset(b, 0, sizeof *b);
            snprintf(b->name, sizeof b->name, "%d.%s.bias", i, l->ops->name);
            b->data = l->b, b->count = l->nbias;
            b->ndim = 1, b->dims[0] = (int)l->nbias;
            n++;
        }
        if (l->k && l->ops->init && l->nweight == (size_t)l->units * l->in.c * l->k * l->k) {
            w->ndim = 4;
            w->dims[0] = l->units, w->dims[1] = l->in.c, w->dims[2] = l->k, w->dims[3] = l->k;
        } else {
            w->ndim = 2;
            w->dims[0] = l->units, w->dims[1] = (int)(l->nweight / l->units);
        }
    }
    return n;
}
