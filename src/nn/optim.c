// optim.c: the update rules, written to match torch.optim.SGD (dampening 0) and torch.optim.Adam.
#include "nn/optim.h"

#include <math.h>
#include <string.h>

Status opt_init(Optimizer *o, const OptConfig *cfg, size_t nparams) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = nparams;
    o->m = bl_alloc((nparams + 1) * sizeof(float));
    if (cfg->kind == OPT_ADAM) o->v = bl_alloc((nparams + 1) * sizeof(float));
    if (!o->m || (cfg->kind == OPT_ADAM && !o->v)) {
        opt_free(o);
        return BL_ERR_RUN;
    }
    return BL_OK;
}

void opt_free(Optimizer *o) {
    bl_free(o->m);
    bl_free(o->v);
    o->m = o->v = NULL;
}

double opt_lr_at(const OptConfig *c, int epoch) {
    switch (c->schedule) {
    case SCHED_STEP: return c->lr * pow(c->gamma, epoch / (c->step_size > 0 ? c->step_size : 1));
    case SCHED_COSINE: return c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * epoch / (c->epochs > 0 ? c->epochs : 1)));
    default: return c->lr;
    }
}

void opt_step(Optimizer *o, float *params, const float *grads, double lr_d) {
    const long n = (long)o->n;
    const float lr = (float)lr_d, wd = (float)o->cfg.weight_decay;
    if (o->cfg.kind == OPT_SGD) {
        // g = grad + wd*w; buf = mu*buf + g (the first step sets buf = g); w -= lr * (nesterov ? g + mu*buf : buf)
        const float mu = (float)o->cfg.momentum;
        const int first = o->t == 0, nesterov = o->cfg.nesterov;
        float *buf = o->m;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * params[i];
            if (mu != 0.0f) {
                buf[i] = first ? g : mu * buf[i] + g;
                g = nesterov ? g + mu * buf[i] : buf[i];
            }
            params[i] -= lr * g;
        }
    } else {
        // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
        o->t++;
        const float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2, eps = (float)o->cfg.eps;
        const float bc1 = (float)(1.0 - pow(o->cfg.beta1, (double)o->t));
        const float bc2_sqrt = (float)sqrt(1.0 - pow(o->cfg.beta2, (double)o->t));
        const float step = lr / bc1;
        float *m = o->m, *v = o->v;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float g = grads[i] + wd * params[i];
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            params[i] -= step * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
        }
        return;
    }
    o->t++;
}
