// train.c: the training loop, the batch loader and inference over a dataset.
#include "train/train.h"

#include "data/text/lexicon.h"
#include "nn/loss.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Shape train_input_shape(const Dataset *d) {
    if (d->kind == DS_RECORDS) return (Shape){2 * d->c, 1, 1};
    return (Shape){d->c, d->h, d->w};
}

// Records: x row (2F) = F values (0 where missing), then F missing flags.
static void batch_load_records(const Dataset *d, const int *idx, int B, float *x) {
    const int F = d->c;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *v = d->features + (size_t)idx[b] * F;
        const uint8_t *miss = d->missing + (size_t)idx[b] * F;
        float *dst = x + (size_t)b * 2 * F;
        for (int j = 0; j < F; j++) {
            dst[j] = miss[j] ? 0.0f : v[j];
            dst[F + j] = miss[j] ? 1.0f : 0.0f;
        }
    }
}

// The model id of lexicon word `id`: through the vocabulary's cached map when it is current for this lexicon,
// else by looking the word up (the map is rebuilt when stale; if that fails the lookup still gives the answer).
static void vocab_refresh_map(Vocab *v, const DsLexicon *lex) {
    const int n = lex_size(lex);
    if (v->map_for == lex && v->map_n == n) return;
    int32_t *map = bl_alloc((size_t)(n + 1) * sizeof(int32_t));
    if (!map) return;
    for (int i = 0; i < n; i++) {
        const char *w = lex_word(lex, i);
        map[i] = vocab_id(v, w, strlen(w));
    }
    bl_free(v->map);
    v->map = map, v->map_for = lex, v->map_n = n;
}

static inline float token_model_id(const Vocab *v, const DsLexicon *lex, int32_t id) {
    if (v->map_for == lex && id >= 0 && id < v->map_n) return (float)v->map[id];
    const char *w = lex_word(lex, id);
    return w ? (float)vocab_id(v, w, strlen(w)) : (float)VOCAB_OOV;
}

// Tokens: x row (L) = the model ids of the message's first L words, then padding (0). An empty message reads
// as one out-of-vocabulary token, so every row holds at least one token (meanpool divides by the count).
static void batch_load_tokens(const Model *m, const Dataset *d, const int *idx, int B, float *x) {
    const int L = d->c;
    Vocab *v = m ? m->vocab : NULL;
    if (v) vocab_refresh_map(v, d->lexicon);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const int32_t *tok = d->tokens + d->tok_offset[idx[b]];
        const long len = d->tok_offset[idx[b] + 1] - d->tok_offset[idx[b]];
        float *dst = x + (size_t)b * L;
        for (int t = 0; t < L; t++)
            dst[t] = t < len ? (v ? token_model_id(v, d->lexicon, tok[t]) : (float)VOCAB_OOV) : 0.0f;
        if (len == 0) dst[0] = (float)VOCAB_OOV;
    }
}

void batch_load(const Model *m, const Dataset *d, const int *idx, int B, float *x, uint8_t *y) {
    if (d->kind == DS_TOKENS) {
        batch_load_tokens(m, d, idx, B, x);
        for (int b = 0; b < B; b++) y[b] = d->labels[idx[b]];
        return;
    }
    if (d->kind == DS_RECORDS) {
        batch_load_records(d, idx, B, x);
        for (int b = 0; b < B; b++) y[b] = d->labels[idx[b]];
        return;
    }
    const int sz = ds_sample_size(d);
    const float scale = 1.0f / 255.0f;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const uint8_t *src = d->images + (size_t)idx[b] * sz;
        float *dst = x + (size_t)b * sz;
        for (int i = 0; i < sz; i++) dst[i] = (float)src[i] * scale;
    }
    for (int b = 0; b < B; b++) y[b] = d->labels[idx[b]];
}

double train_step(Model *m, Optimizer *opt, const uint8_t *y, int B, double lr) {
    model_forward(m, B);
    double loss = model_loss(m, y, B);
    model_backward(m, B);
    opt_step(opt, m->params + m->nfrozen, m->grads + m->nfrozen, lr); // frozen input statistics stay as fitted
    return loss;
}

typedef struct {
    long count;
    const char *word;
} WordCount;

// Most frequent first; ties by byte order of the word, so the vocabulary never depends on interning order.
static int cmp_word_count(const void *a, const void *b) {
    const WordCount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);
}

// A leading embed: the vocabulary is the V-2 most frequent words of the first L tokens of the training
// messages (what the model reads), ties broken by byte order; kept in m->vocab with the tokeniser settings.
static Status fit_vocab(Model *m, const Dataset *d) {
    const Layer *l = &m->layers[0];
    if (d->kind != DS_TOKENS || d->c != l->in.c)
        return bl_fail(BL_ERR_USAGE, "embed needs a tokens dataset of %d-token messages", l->in.c);
    const int nlex = lex_size(d->lexicon);
    WordCount *wc = bl_alloc((size_t)(nlex + 1) * sizeof *wc);
    const char **words = bl_alloc((size_t)(nlex + 1) * sizeof *words);
    if (!wc || !words) {
        bl_free(wc);
        bl_free(words);
        return BL_ERR_RUN;
    }
    for (int i = 0; i < nlex; i++) wc[i].word = lex_word(d->lexicon, i);
    for (int i = 0; i < d->n; i++) {
        const long a = d->tok_offset[i], e = BL_MIN(d->tok_offset[i + 1], a + d->c);
        for (long t = a; t < e; t++) wc[d->tokens[t]].count++;
    }
    qsort(wc, (size_t)nlex, sizeof *wc, cmp_word_count);
    int n = 0;
    while (n < nlex && n < l->units - 2 && wc[n].count > 0) {
        words[n] = wc[n].word;
        n++;
    }
    vocab_free(m->vocab);
    m->vocab = NULL;
    Status st = vocab_new(VOCAB_TOKENIZER, d->c, d->text_subject, words, n, &m->vocab);
    bl_free(wc);
    bl_free(words);
    return st;
}

Status train_fit_input(Model *m, const Dataset *d) {
    if (m->nlayers > 0 && strcmp(m->layers[0].ops->name, "embed") == 0) return fit_vocab(m, d);
    if (m->nlayers == 0 || strcmp(m->layers[0].ops->name, "standardize") != 0) return BL_OK;
    Layer *l = &m->layers[0];
    const int F = l->units;
    if (d->kind != DS_RECORDS || d->c != F)
        return bl_fail(BL_ERR_USAGE, "standardize needs a records dataset of %d features", F);
    // Mean and population standard deviation of the present values of each feature, in sample order (double).
    for (int j = 0; j < F; j++) {
        double sum = 0.0, sq = 0.0;
        long n = 0;
        for (int i = 0; i < d->n; i++) {
            if (d->missing[(size_t)i * F + j]) continue;
            sum += d->features[(size_t)i * F + j];
            n++;
        }
        const double mean = n ? sum / n : 0.0;
        for (int i = 0; i < d->n; i++) {
            if (d->missing[(size_t)i * F + j]) continue;
            const double e = d->features[(size_t)i * F + j] - mean;
            sq += e * e;
        }
        const double sd = n ? sqrt(sq / n) : 0.0;
        l->w[j] = (float)mean;
        l->b[j] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f; // a constant feature is centred, not scaled
    }
    return BL_OK;
}

static void progress_draw(const TrainOptions *o, int epoch, int batch_i, int nbatches, double loss,
                          double ips) {
    int width = 24, filled = (int)((double)width * batch_i / nbatches);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%-8s epoch %d/%d [%s] %5d/%d loss %.4f %7.0f img/s", o->label ? o->label : "", epoch + 1,
            o->epochs, bar, batch_i, nbatches, loss, ips);
    fflush(stderr);
}

Status train_model(Model *m, const Dataset *d, const TrainOptions *o) {
    if (o->batch > m->max_batch) return bl_fail(BL_ERR_USAGE, "batch %d exceeds the model's plan", o->batch);
    if (d->n < 1) return bl_fail(BL_ERR_DATA, "training set is empty");
    Optimizer opt;
    int *order = bl_alloc((size_t)d->n * sizeof(int));
    uint8_t *y = bl_alloc((size_t)m->max_batch);
    Status st = order && y ? opt_init(&opt, &o->opt, m->nparams - m->nfrozen) : BL_ERR_RUN;
    if (st) {
        bl_free(order);
        bl_free(y);
        return st;
    }
    Rng shuffle = rng_stream(o->seed, "shuffle");
    const int nbatches = (d->n + o->batch - 1) / o->batch;
    for (int e = 0; e < o->epochs && !st; e++) {
        for (int i = 0; i < d->n; i++) order[i] = i;
        rng_shuffle_int(&shuffle, order, d->n);
        double lr = opt_lr_at(&o->opt, e), loss_sum = 0.0, t0 = bl_now(), last_draw = 0.0;
        long correct = 0;
        for (int bi = 0; bi < nbatches; bi++) {
            int start = bi * o->batch, B = BL_MIN(o->batch, d->n - start);
            batch_load(m, d, order + start, B, m->acts[0], y);
            double loss = train_step(m, &opt, y, B, lr);
            if (o->after_step) o->after_step(o->step_ctx, m);
            if (!isfinite(loss)) {
                st = bl_fail(BL_ERR_RUN,
                             "training diverged: loss is %f at epoch %d, batch %d (try a smaller lr; nothing was "
                             "written for this model)",
                             loss, e + 1, bi + 1);
                break;
            }
            loss_sum += loss * B;
            const float *p = m->probs;
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int k = 1; k < m->num_classes; k++)
                    if (p[b * m->num_classes + k] > p[b * m->num_classes + best]) best = k;
                correct += best == y[b];
            }
            if (o->progress && (bl_now() - last_draw > 0.1 || bi == nbatches - 1)) {
                last_draw = bl_now();
                progress_draw(o, e, bi + 1, nbatches, loss, (double)(start + B) / (last_draw - t0 + 1e-9));
            }
        }
        if (o->progress) fputc('\n', stderr);
        if (st) break;
        EpochStats es = {e, loss_sum / d->n, (double)correct / d->n, lr, bl_now() - t0, 0.0};
        es.img_per_s = d->n / (es.train_seconds + 1e-12);
        if (o->on_epoch) st = o->on_epoch(o->hook_ctx, &es);
    }
    opt_free(&opt);
    bl_free(order);
    bl_free(y);
    return st;
}

void predict(Model *m, const Dataset *d, uint8_t *pred, float *probs_out) {
    const int K = m->num_classes;
    int idx[4096];
    uint8_t y[4096];
    const int step = BL_MIN(m->max_batch, 4096);
    for (int start = 0; start < d->n; start += step) {
        int B = BL_MIN(step, d->n - start);
        for (int b = 0; b < B; b++) idx[b] = start + b;
        batch_load(m, d, idx, B, m->acts[0], y);
        const float *z = model_forward(m, B);
        for (int b = 0; b < B; b++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (z[b * K + k] > z[b * K + best]) best = k;
            pred[start + b] = (uint8_t)best;
        }
        if (probs_out) softmax_rows(z, B, K, probs_out + (size_t)start * K);
    }
}
