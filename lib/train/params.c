#include "params.h"

#include <stdio.h>
#include <string.h>

int nn_params_save(const nn_params *p, model_file *m, error *e)
{
    for (int i = 0; i < p->n; i++)
        if (model_file_add(m, p->t[i].name, p->t[i].ndim, p->t[i].dims, nn_data(p, i), e) < 0) return -1;
    return 0;
}

static void shape_str(char *buf, size_t len, int ndim, const int64_t *dims)
{
    if (ndim == 1) snprintf(buf, len, "(%lld)", (long long)dims[0]);
    else snprintf(buf, len, "(%lld, %lld)", (long long)dims[0], (long long)dims[1]);
}

/* The file's tensor for p's tensor i, with the same shape, or NULL with e set. */
static const model_param *matching_param(const nn_params *p, int i, const model_file *m, error *e)
{
    const nn_tensor *t = &p->t[i];
    const model_param *mp = model_file_param(m, t->name, e);
    if (!mp) return NULL;
    int same = mp->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = mp->dims[d] == t->dims[d];
    if (!same) {
        char have[64], want[64];
        shape_str(have, sizeof have, mp->ndim, mp->dims);
        shape_str(want, sizeof want, t->ndim, t->dims);
        return error_set(e, "%s: shape %s in the model, expected %s", t->name, have, want), NULL;
    }
    return mp;
}

int nn_params_check(const nn_params *p, const model_file *m, error *e)
{
    for (int i = 0; i < p->n; i++)
        if (!matching_param(p, i, m, e)) return -1;
    return 0;
}

int nn_params_load(nn_params *p, const model_file *m, error *e)
{
    for (int i = 0; i < p->n; i++) {
        const model_param *mp = matching_param(p, i, m, e);
        if (!mp) return -1;
        memcpy(nn_data(p, i), mp->data, p->t[i].size * sizeof(float));
    }
    return 0;
}
