#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int adam_init(adam *a, size_t n, error *e)
{
    memset(a, 0, sizeof *a);
    a->lr = 1e-3f;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->n = n;
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) {
        adam_free(a);
        return error_set(e, "out of memory for the optimiser state (%zu parameters)", n);
    }
    return 0;
}

int adam_init_params(adam *a, const nn_params *p, error *e)
{
    if (adam_init(a, p->total, e) < 0) return -1;
    a->decay = calloc(p->total ? p->total : 1, sizeof(float));
    if (!a->decay) {
        adam_free(a);
        return error_set(e, "out of memory for the optimiser state (%zu parameters)", p->total);
    }
    for (int i = 0; i < p->n; i++)
        if (p->t[i].decay)
            for (size_t j = 0; j < p->t[i].size; j++) a->decay[p->t[i].offset + j] = 1.0f;
    return 0;
}

void adam_free(adam *a)
{
    free(a->m);
    free(a->v);
    free(a->decay);
    a->m = a->v = a->decay = NULL;
}

void adam_reset(adam *a)
{
    a->t = 0;
    memset(a->m, 0, a->n * sizeof(float));
    memset(a->v, 0, a->n * sizeof(float));
}

void adam_step(adam *a, float *restrict p, const float *restrict g)
{
    a->t++;
    /* bias corrections folded into two scalars: mhat = m * c1, vhat = v * c2 */
    float c1 = (float)(1.0 / (1.0 - pow(a->beta1, (double)a->t)));
    float c2 = (float)(1.0 / (1.0 - pow(a->beta2, (double)a->t)));
    float b1 = a->beta1, b2 = a->beta2, lr = a->lr, eps = a->eps, wd = a->lr * a->weight_decay;
    float *restrict m = a->m, *restrict v = a->v;
    const float *restrict dmask = a->decay;
    size_t n = a->n;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float decay = wd * (dmask ? dmask[i] : 1.0f);
        p[i] -= lr * (mi * c1) / (sqrtf(vi * c2) + eps) + decay * p[i];
    }
}
