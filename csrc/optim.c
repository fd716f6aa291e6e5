/* optim.c: torch.optim's SGD, Adam and AdamW, one C call per step over all parameters.
 *
 * The update rules are torch 2.13's single-tensor paths (torch/optim/sgd.py
 * _single_tensor_sgd; torch/optim/adam.py _single_tensor_adam, neither amsgrad
 * nor capturable nor maximize), with their order of operations, each line's
 * comment the torch line it copies; ATen's kernels behind them compute
 * add(alpha) as self + alpha * other, addcmul as self + value * t1 * t2, addcdiv
 * as self + value * t1 / t2. Not here: parameter groups, amsgrad, sparse grads,
 * argument checks (Python checks them before calling).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"

struct mg_optim {
    mg_arena *arena;        /* not owned: the parameters' arena */
    mg_optim_config config;
    int32_t n;
    int32_t *idx;           /* owned copy of the parameters' node indices */
    double *m;              /* SGD: momentum_buffer; Adam: exp_avg (owned, n doubles) */
    double *v;              /* Adam: exp_avg_sq (owned, n doubles); SGD: NULL */
    int64_t step;           /* steps taken; SGD's buffer is "None" while it is 0 */
};

int mg_optim_new(mg_arena *a, const mg_optim_config *config, const int32_t *idx, int32_t n,
                 mg_optim **out)
{
    if (!a || !config || n < 0 || (n > 0 && !idx))
        return MG_EINDEX;
    if (config->kind < 0 || config->kind >= MG_OPTIM_COUNT)
        return MG_EOP;
    mg_optim *o = calloc(1, sizeof *o);
    size_t size = n > 0 ? (size_t)n : 1;      /* never malloc(0): it may return NULL */
    if (o) {
        o->idx = malloc(size * sizeof *o->idx);
        o->m = calloc(size, sizeof *o->m);    /* torch.zeros_like(p) */
        o->v = config->kind == MG_SGD ? NULL : calloc(size, sizeof *o->v);
    }
    if (!o || !o->idx || !o->m || (config->kind != MG_SGD && !o->v)) {
        mg_optim_free(o);
        return MG_ENOMEM;
    }
    o->arena = a;
    o->config = *config;
    o->n = n;
    if (n > 0)
        memcpy(o->idx, idx, (size_t)n * sizeof *o->idx);
    *out = o;
    return MG_OK;
}

void mg_optim_free(mg_optim *o)
{
    if (!o)
        return;
    free(o->idx);
    free(o->m);
    free(o->v);
    free(o);
}

/* ---------------------------------------------------------------- update rules */

/* ATen's lerp (native/Lerp.h): the formula depends on the size of the weight */
static double lerp(double self, double end, double weight)
{
    return fabs(weight) < 0.5 ? self + weight * (end - self)
                              : end - (end - self) * (1 - weight);
}

/* _single_tensor_sgd, for parameter k (node i) */
static void sgd(mg_optim *o, int32_t k, int32_t i, double lr)
{
    const mg_optim_config *c = &o->config;
    double *data = o->arena->data, g = o->arena->grad[i];
    if (c->weight_decay != 0)
        g = g + c->weight_decay * data[i];      /* grad = grad.add(param, alpha=weight_decay) */
    if (c->momentum != 0) {
        if (o->step == 0)                       /* buf is None: */
            o->m[k] = g;                        /* buf = grad.detach().clone() */
        else        /* buf.mul_(momentum).add_(grad, alpha=1 - dampening) */
            o->m[k] = o->m[k] * c->momentum + (1 - c->dampening) * g;
        g = c->nesterov ? g + c->momentum * o->m[k]     /* grad = grad.add(buf, alpha=momentum) */
                        : o->m[k];                      /* grad = buf */
    }
    data[i] = data[i] + -lr * g;                /* param.add_(grad, alpha=-lr) */
}

/* _single_tensor_adam, for parameter k (node i), after step_t += 1; step_size and
 * bias_correction2_sqrt are the same for every parameter, so the caller computes them */
static void adam(mg_optim *o, int32_t k, int32_t i, double lr, double step_size,
                 double bias_correction2_sqrt)
{
    const mg_optim_config *c = &o->config;
    double *data = o->arena->data, g = o->arena->grad[i];
    if (c->weight_decay != 0) {
        if (c->kind == MG_ADAMW)
            data[i] = data[i] * (1 - lr * c->weight_decay);  /* param.mul_(1 - lr * weight_decay) */
        else
            g = g + c->weight_decay * data[i];  /* grad = grad.add(param, alpha=weight_decay) */
    }
    o->m[k] = lerp(o->m[k], g, 1 - c->beta1);  /* exp_avg.lerp_(grad, 1 - beta1) */
    /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2) */
    o->v[k] = o->v[k] * c->beta2 + (1 - c->beta2) * g * g;
    /* denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) */
    double denom = sqrt(o->v[k]) / bias_correction2_sqrt + c->eps;
    /* param.addcdiv_(exp_avg, denom, value=-step_size) */
    data[i] = data[i] + -step_size * o->m[k] / denom;
}

/* ---------------------------------------------------------------- calls */

/* Every parameter is checked before any changes, so MG_EINDEX changes nothing; a
 * count at INT64_MAX is MG_ERANGE, also changing nothing.
 * A parameter's data becomes a float, as a torch parameter is. */
int mg_optim_step(mg_optim *o, double lr)
{
    mg_arena *a = o->arena;
    const mg_optim_config *c = &o->config;
    LOCK(&a->lock);
    for (int32_t k = 0; k < o->n; k++) {
        if (!mg_alive(a, o->idx[k])) {
            UNLOCK(&a->lock);
            return MG_EINDEX;
        }
    }
    if (o->step == INT64_MAX) {     /* one more would overflow the count (undefined) */
        UNLOCK(&a->lock);
        return MG_ERANGE;
    }
    if (c->kind == MG_SGD) {
        for (int32_t k = 0; k < o->n; k++)
            sgd(o, k, o->idx[k], lr);
        o->step++;
    } else {
        double step = (double)++o->step;                    /* step_t += 1; _get_value(step_t) */
        double bias_correction1 = 1 - pow(c->beta1, step);  /* 1 - beta1**step */
        double bias_correction2 = 1 - pow(c->beta2, step);  /* 1 - beta2**step */
        double step_size = lr / bias_correction1;
        double bias_correction2_sqrt = pow(bias_correction2, 0.5);  /* bias_correction2**0.5 */
        for (int32_t k = 0; k < o->n; k++)
            adam(o, k, o->idx[k], lr, step_size, bias_correction2_sqrt);
    }
    for (int32_t k = 0; k < o->n; k++)
        a->flags[o->idx[k]] &= (uint8_t)~MG_DATA_INT;
    UNLOCK(&a->lock);
    return MG_OK;
}

int mg_optim_zero_grad(mg_optim *o)
{
    return mg_zero_grad(o->arena, o->idx, o->n);
}

/* The moments are read and written under the arena's lock, as every step runs. */
int mg_optim_state(mg_optim *o, double *m, double *v, int64_t *step)
{
    if (v && !o->v)
        return MG_ERANGE;
    LOCK(&o->arena->lock);
    if (m)
        memcpy(m, o->m, (size_t)o->n * sizeof *m);
    if (v)
        memcpy(v, o->v, (size_t)o->n * sizeof *v);
    if (step)
        *step = o->step;
    UNLOCK(&o->arena->lock);
    return MG_OK;
}

int mg_optim_load(mg_optim *o, const double *m, const double *v, int64_t step)
{
    if (step < 0 || (v && !o->v))
        return MG_ERANGE;
    LOCK(&o->arena->lock);
    if (m)
        memcpy(o->m, m, (size_t)o->n * sizeof *m);
    if (v)
        memcpy(o->v, v, (size_t)o->n * sizeof *v);
    o->step = step;
    UNLOCK(&o->arena->lock);
    return MG_OK;
}
