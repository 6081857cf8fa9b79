#include "dnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"

static nn_act layer_act(const dnet *d, int l) { return l == d->nl - 1 ? NN_ACT_NONE : d->act; }

int dnet_declare(dnet *d, nn_params *p, const char *prefix, int in, int ncls, int nhidden, const int *hidden,
                 int out, nn_act act, error *e)
{
    memset(d, 0, sizeof *d);
    if (nhidden + 1 > DNET_MAX_LAYERS) return error_set(e, "%s: more than %d hidden layers", prefix,
                                                        DNET_MAX_LAYERS - 1);
    d->nl = nhidden + 1;
    d->ncls = ncls;
    d->act = act;
    d->dims[0] = in;
    for (int l = 0; l < nhidden; l++) d->dims[l + 1] = hidden[l];
    d->dims[d->nl] = out;
    char name[NN_NAME_MAX];
    for (int l = 0; l < d->nl; l++) {
        int64_t wd[2] = {d->dims[l + 1], d->dims[l]};
        snprintf(name, sizeof name, "%s.%d.w", prefix, l);
        if ((d->iw[l] = nn_params_add(p, name, 2, wd, 1, e)) < 0) return -1;
        snprintf(name, sizeof name, "%s.%d.b", prefix, l);
        if ((d->ib[l] = nn_params_add(p, name, 1, wd, 0, e)) < 0) return -1;
    }
    d->iy = -1;
    if (ncls > 0) {
        int64_t yd[2] = {ncls, d->dims[1]};
        snprintf(name, sizeof name, "%s.0.wy", prefix);
        if ((d->iy = nn_params_add(p, name, 2, yd, 1, e)) < 0) return -1;
    }
    return 0;
}

void dnet_init(dnet *d, nn_params *p, rng *r)
{
    for (int l = 0; l < d->nl; l++) {
        /* the one-hot class inputs count in the fan-in of the first layer */
        int in = d->dims[l] + (l == 0 ? d->ncls : 0);
        nn_dense_init_glorot(nn_data(p, d->iw[l]), nn_data(p, d->ib[l]), in, d->dims[l + 1], 1.0f, 0, r);
    }
    if (d->iy >= 0) {
        float s = sqrtf(6.0f / (float)(d->dims[0] + d->ncls + d->dims[1]));
        float *wy = nn_data(p, d->iy);
        for (size_t i = 0; i < (size_t)d->ncls * d->dims[1]; i++) wy[i] = (2.0f * rng_uniform(r) - 1.0f) * s;
    }
}

int dnet_alloc(dnet *d, int max_in, int max_rows, error *e)
{
    size_t total = (size_t)max_in * d->dims[1];
    for (int l = 0; l < d->nl; l++) total += 2 * (size_t)max_rows * d->dims[l + 1];
    free(d->mem);
    d->mem = nn_alloc_zeroed(total * sizeof(float));   /* mapped now, not inside the first step */
    if (!d->mem) return error_set(e, "out of memory for the network workspace (%zu floats)", total);
    float *q = d->mem;
    for (int l = 0; l < d->nl; l++) {
        d->h[l] = q, q += (size_t)max_rows * d->dims[l + 1];
        d->dh[l] = q, q += (size_t)max_rows * d->dims[l + 1];
    }
    d->xw = q;
    d->max_in = max_in;
    d->max_rows = max_rows;
    return 0;
}

void dnet_free(dnet *d)
{
    free(d->mem);
    d->mem = NULL;
}

/* o = a + b (+ c when not NULL); o may be a (in place). (H) */
NN_VECTORISE static void pre_row(float *o, const float *a, const float *b, const float *c, int H)
{
    if (c)
        for (int j = 0; j < H; j++) o[j] = a[j] + b[j] + c[j];
    else
        for (int j = 0; j < H; j++) o[j] = a[j] + b[j];
}

/* The first layer's pre-activation h0[r] = (x W0^T)[src[r]] + b0 + wy[cls[r]], then its activation. */
static void first_forward(dnet *d, const nn_params *p, const float *x, int nin, int rows, const int *src,
                          const int *cls)
{
    int in = d->dims[0], H = d->dims[1];
    float *h0 = d->h[0];   // (rows, H)
    const float *w = nn_data(p, d->iw[0]), *b = nn_data(p, d->ib[0]);
    if (!src && !cls) {
        nn_dense_forward(d->pool, h0, x, w, b, rows, in, H, layer_act(d, 0));
        return;
    }
    float *xw = src ? d->xw : h0;   // (nin, H)
    gemm_run(d->pool, CblasNoTrans, CblasTrans, nin, H, in, 1.0f, x, in, w, in, 0.0f, xw, H);
    const float *wy = cls ? nn_data(p, d->iy) : NULL;   // (ncls, H)
    for (int r = 0; r < rows; r++)
        pre_row(h0 + (size_t)r * H, xw + (size_t)(src ? src[r] : r) * H, b, wy ? wy + (size_t)cls[r] * H : NULL, H);
    nn_bias_act_forward(d->pool, h0, NULL, rows, H, layer_act(d, 0));
}

float *dnet_forward(dnet *d, const nn_params *p, const float *x, int nin, int rows, const int *src,
                    const int *cls)
{
    first_forward(d, p, x, nin, rows, src, cls);
    for (int l = 1; l < d->nl; l++)
        nn_dense_forward(d->pool, d->h[l], d->h[l - 1], nn_data(p, d->iw[l]), nn_data(p, d->ib[l]), rows, d->dims[l],
                         d->dims[l + 1], layer_act(d, l));
    return dnet_out(d);
}

/* dnet_backward; params 0: dx alone, the parameter gradients untouched (nn's NULL gradients). */
static void backward(dnet *d, const nn_params *p, int params, float *dx, const float *x, int nin, int rows,
                     const int *src, const int *cls)
{
    for (int l = d->nl - 1; l >= 1; l--)
        nn_dense_backward(d->pool, d->dh[l - 1], params ? nn_grad(p, d->iw[l]) : NULL,
                          params ? nn_grad(p, d->ib[l]) : NULL, d->dh[l], d->h[l - 1], nn_data(p, d->iw[l]), d->h[l],
                          rows, d->dims[l], d->dims[l + 1], layer_act(d, l));
    int in = d->dims[0], H = d->dims[1];
    float *dh0 = d->dh[0];   // (rows, H)
    nn_bias_act_backward(d->pool, dh0, params ? nn_grad(p, d->ib[0]) : NULL, d->h[0], rows, H, layer_act(d, 0));
    if (cls && params) {
        float *dwy = nn_grad(p, d->iy);   // (ncls, H)
        for (int r = 0; r < rows; r++) nn_add_row(dwy + (size_t)cls[r] * H, dh0 + (size_t)r * H, H);
    }
    const float *dsum = dh0;   // (nin, H): the gradient of x W0^T
    if (src) {
        memset(d->xw, 0, (size_t)nin * H * sizeof(float));
        for (int r = 0; r < rows; r++) nn_add_row(d->xw + (size_t)src[r] * H, dh0 + (size_t)r * H, H);
        dsum = d->xw;
    }
    const float *w = nn_data(p, d->iw[0]);
    if (params)
        gemm_run(d->pool, CblasTrans, CblasNoTrans, H, in, nin, 1.0f, dsum, H, x, in, 1.0f, nn_grad(p, d->iw[0]), in);
    if (dx) gemm_run(d->pool, CblasNoTrans, CblasNoTrans, nin, in, H, 1.0f, dsum, H, w, in, 0.0f, dx, in);
}

void dnet_backward(dnet *d, nn_params *p, float *dx, const float *x, int nin, int rows, const int *src,
                   const int *cls)
{
    backward(d, p, 1, dx, x, nin, rows, src, cls);
}

void dnet_input_grad(dnet *d, const nn_params *p, float *dx, const float *x, int nin, int rows, const int *src,
                     const int *cls)
{
    backward(d, p, 0, dx, x, nin, rows, src, cls);
}
