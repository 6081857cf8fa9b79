/* mlp_net.c: the classifier's forward and backward passes, in training mode and in prediction. */
#include "mlp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"

#define PREDICT_CHUNK 256

/* ---- the conv layers ---- */

/* Conv layer j on B images in into y (B, its output), then batch norm over the channels and ReLU.
 * Batch norm in training mode when xhat is not NULL (xhat, istd kept for the backward; the running
 * averages moved when run), else with the running averages. col, ws, t as conv.h and norm.h ask. */
static void conv_layer_forward(const mlp *m, int j, par_pool *pool, float *y, float *col, float *ws, float *t,
                               const float *in, int B, float *xhat, float *istd, int run)
{
    const nn_params *P = &m->params;
    const conv_shape *s = &m->cs[j];
    const int *bn = m->icbn[j];
    int np = s->OH * s->OW;
    conv_forward(pool, y, col, ws, in, nn_data(P, m->icw[j]), nn_data(P, m->icb[j]), B, s);
    if (m->batch_norm && xhat)
        norm_bn2d_forward_train(y, xhat, istd, t, y, nn_data(P, bn[0]), nn_data(P, bn[1]),
                                run ? nn_data(P, bn[2]) : NULL, run ? nn_data(P, bn[3]) : NULL, BN_MOMENTUM, B, s->K, np);
    else if (m->batch_norm)
        norm_bn2d_forward_eval(y, t, y, nn_data(P, bn[0]), nn_data(P, bn[1]), nn_data(P, bn[2]), nn_data(P, bn[3]), B,
                               s->K, np);
    nn_act_forward(y, y, (size_t)B * conv_out_size(s), NN_ACT_RELU);
}

/* The dense layers' input in A (data, or its gradient when grad): the last conv output, or its
 * mean over the pixels. */
static float *dense_input(const mlp *m, const mlp_acts *A, int grad)
{
    int i = m->conv.pool ? A->ipool : A->icy[m->conv.n - 1];
    return grad ? nn_grad(&A->t, i) : nn_data(&A->t, i);
}

static const float *conv_forward_train(const mlp *m, par_pool *pool, mlp_acts *A, const float *x0, int B, int run)
{
    const nn_params *T = &A->t;
    const float *in = x0;
    for (int j = 0; j < m->conv.n; j++) {
        float *y = nn_data(T, A->icy[j]);
        float *xhat = m->batch_norm ? nn_data(T, A->icxhat[j]) : NULL, *istd = m->batch_norm ? nn_data(T, A->icistd[j]) : NULL;
        conv_layer_forward(m, j, pool, y, A->col[j], A->cws, A->ct, in, B, xhat, istd, run);
        in = y;
    }
    const conv_shape *last = &m->cs[m->conv.n - 1];
    if (m->conv.pool) conv_gpool_forward(nn_data(T, A->ipool), in, B, last->K, last->OH * last->OW);
    return dense_input(m, A, 0);
}

/* From the gradient of the dense layers' input (in A) back through the conv layers: dx (B,
 * features) when not NULL, the parameters' gradients when params. */
static void conv_backward_train(const mlp *m, par_pool *pool, mlp_acts *A, int B, float *dx, int params)
{
    const nn_params *P = &m->params, *T = &A->t;
    int n = m->conv.n;
    const conv_shape *last = &m->cs[n - 1];
    if (m->conv.pool)
        conv_gpool_backward(nn_grad(T, A->icy[n - 1]), nn_grad(T, A->ipool), B, last->K, last->OH * last->OW);
    for (int j = n - 1; j >= 0; j--) {
        const conv_shape *s = &m->cs[j];
        const int *bn = m->icbn[j];
        int np = s->OH * s->OW;
        float *dy = nn_grad(T, A->icy[j]);
        nn_act_backward(dy, dy, nn_data(T, A->icy[j]), (size_t)B * conv_out_size(s), NN_ACT_RELU);
        if (m->batch_norm)
            norm_bn2d_backward(dy, params ? nn_grad(P, bn[0]) : NULL, params ? nn_grad(P, bn[1]) : NULL, A->ct, dy,
                               nn_data(T, A->icxhat[j]), nn_data(T, A->icistd[j]), nn_data(P, bn[0]), B, s->K, np);
        float *din = j ? nn_grad(T, A->icy[j - 1]) : dx;
        if (din || params)
            conv_backward(pool, din, params ? nn_grad(P, m->icw[j]) : NULL, params ? nn_grad(P, m->icb[j]) : NULL,
                          A->cws, dy, A->col[j], (size_t)B * np, nn_data(P, m->icw[j]), B, s);
    }
}

/* floats of the conv layers' patches (col: cap rows of every layer's), workspace and transposes */
static size_t conv_bufs(const mlp *m, int cap, size_t *col, size_t *cws, size_t *ct)
{
    *col = *cws = *ct = 0;
    for (int j = 0; j < m->conv.n; j++) {
        const conv_shape *s = &m->cs[j];
        size_t w = conv_ws_size(s, cap), o = (size_t)cap * conv_out_size(s);
        *col += ((size_t)cap * conv_col_size(s) + 15) & ~(size_t)15;
        *cws = w > *cws ? w : *cws;
        *ct = o > *ct ? o : *ct;
    }
    return *col + *cws + *ct;
}

static int conv_acts_alloc(mlp_acts *A, const mlp *m, int cap, error *e)
{
    for (int j = 0; j < m->conv.n; j++) {
        const conv_shape *s = &m->cs[j];
        char name[32];
        int64_t dims[2] = {cap, (int64_t)conv_out_size(s)}, dk[1] = {s->K};
        snprintf(name, sizeof name, "c%d", j + 1);
        if ((A->icy[j] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        if (!m->batch_norm) continue;
        snprintf(name, sizeof name, "cxhat%d", j + 1);
        if ((A->icxhat[j] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        snprintf(name, sizeof name, "cistd%d", j + 1);
        if ((A->icistd[j] = nn_params_add(&A->t, name, 1, dk, 0, e)) < 0) return -1;
    }
    int64_t dp[2] = {cap, m->cs[m->conv.n - 1].K};
    if (m->conv.pool && (A->ipool = nn_params_add(&A->t, "pool", 2, dp, 0, e)) < 0) return -1;
    size_t ncol, ncws, nct, total = conv_bufs(m, cap, &ncol, &ncws, &nct);
    if (!(A->block = nn_alloc_zeroed(total * sizeof(float)))) return error_set(e, "out of memory for the conv layers");
    float *p = A->block;
    for (int j = 0; j < m->conv.n; j++) {
        A->col[j] = p;
        p += ((size_t)cap * conv_col_size(&m->cs[j]) + 15) & ~(size_t)15;
    }
    A->cws = p, A->ct = p + ncws;
    return 0;
}

int mlp_acts_alloc(mlp_acts *A, const mlp *m, int first, int cap, error *e)
{
    memset(A, 0, sizeof *A);
    nn_params_init(&A->t);
    for (int l = first; l <= m->nlayers; l++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", l);
        int64_t dims[2] = {cap, l ? m->sizes[l] : mlp_features(m)};
        if ((A->ia[l] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        if (!m->batch_norm || l == 0 || l == m->nlayers) continue;
        snprintf(name, sizeof name, "xhat%d", l);
        if ((A->ixhat[l] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        snprintf(name, sizeof name, "istd%d", l);
        if ((A->istd[l] = nn_params_add(&A->t, name, 1, dims + 1, 0, e)) < 0) return -1;
    }
    if (m->conv.n && conv_acts_alloc(A, m, cap, e) < 0) return -1;
    return nn_params_alloc(&A->t, e);
}

void mlp_acts_free(mlp_acts *A)
{
    nn_params_free(&A->t);
    free(A->block);
    A->block = NULL;
}

/* ---- training-mode passes ---- */

float *mlp_forward(const mlp *m, par_pool *pool, mlp_acts *A, const float *x0, float *const *masks, int B,
                   int update_stats)
{
    int L = m->nlayers;
    const nn_params *P = &m->params;
    const float *in = m->conv.n ? conv_forward_train(m, pool, A, x0, B, update_stats) : x0;
    for (int l = 1; l <= L; l++) {
        int hidden = l < L, C = m->sizes[l];
        float *out = nn_data(&A->t, A->ia[l]);   // (B, C)
        nn_dense_forward(pool, out, in, nn_data(P, m->iw[l - 1]), nn_data(P, m->ib[l - 1]), B, m->sizes[l - 1], C,
                         hidden && !m->batch_norm ? NN_ACT_RELU : NN_ACT_NONE);
        if (hidden && m->batch_norm) {
            norm_bn_forward_train(out, nn_data(&A->t, A->ixhat[l]), nn_data(&A->t, A->istd[l]), out,
                                  nn_data(P, m->igamma[l]), nn_data(P, m->ibeta[l]),
                                  update_stats ? nn_data(P, m->imean[l]) : NULL,
                                  update_stats ? nn_data(P, m->ivar[l]) : NULL, BN_MOMENTUM, B, C);
            nn_act_forward(out, out, (size_t)B * C, NN_ACT_RELU);
        }
        if (hidden && masks && masks[l]) nn_dropout_forward(out, out, masks[l], (size_t)B * C);
        in = out;
    }
    return nn_data(&A->t, A->ia[L]);
}

void mlp_backward(const mlp *m, par_pool *pool, mlp_acts *A, const float *x0, float *const *masks, int B, float *dx,
                  int params)
{
    const nn_params *P = &m->params;
    const nn_params *T = &A->t;
    int conv = m->conv.n > 0;
    for (int l = m->nlayers; l >= 1; l--) {
        int hidden = l < m->nlayers, C = m->sizes[l];
        float *dout = nn_grad(T, A->ia[l]), *out = nn_data(T, A->ia[l]);   // (B, C)
        /* dropout was applied after ReLU in place; the ReLU mask read from the dropped output is
         * still right, since dropout keeps signs and zeroes the gradient where it zeroed the unit */
        if (hidden && masks && masks[l]) nn_dropout_backward(dout, dout, masks[l], (size_t)B * C);
        nn_act dense_act = hidden && !m->batch_norm ? NN_ACT_RELU : NN_ACT_NONE;
        if (hidden && m->batch_norm) {
            nn_act_backward(dout, dout, out, (size_t)B * C, NN_ACT_RELU);
            norm_bn_backward(dout, params ? nn_grad(P, m->igamma[l]) : NULL, params ? nn_grad(P, m->ibeta[l]) : NULL,
                             dout, nn_data(T, A->ixhat[l]), nn_data(T, A->istd[l]), nn_data(P, m->igamma[l]), B, C);
        }
        float *din = l > 1 ? nn_grad(T, A->ia[l - 1]) : conv ? dense_input(m, A, 1) : dx;
        const float *in = l > 1 ? nn_data(T, A->ia[l - 1]) : conv ? dense_input(m, A, 0) : x0;
        nn_dense_backward(pool, din, params ? nn_grad(P, m->iw[l - 1]) : NULL, params ? nn_grad(P, m->ib[l - 1]) : NULL,
                          dout, in, nn_data(P, m->iw[l - 1]), out, B, m->sizes[l - 1], C, dense_act);
    }
    if (conv) conv_backward_train(m, pool, A, B, dx, params);
}

/* ---- the network as vat.h sees it ---- */

struct mlp_net {
    const mlp *m;
    par_pool *pool;
    mlp_acts act;
    const float *x0;   /* the rows of the last forward */
    int B;
    vat_net net;
};

static float *net_forward(void *ctx, const float *x, int B)
{
    mlp_net *n = ctx;
    n->x0 = x, n->B = B;
    return mlp_forward(n->m, n->pool, &n->act, x, NULL, B, 0);
}

static void net_backward(void *ctx, float *dlogits, float *dx, int params)
{
    mlp_net *n = ctx;
    int L = n->m->nlayers;
    memcpy(nn_grad(&n->act.t, n->act.ia[L]), dlogits, (size_t)n->B * n->m->sizes[L] * sizeof(float));
    mlp_backward(n->m, n->pool, &n->act, n->x0, NULL, n->B, dx, params);
}

mlp_net *mlp_net_new(const mlp *m, int cap, par_pool *pool, error *e)
{
    mlp_net *n = calloc(1, sizeof *n);
    if (!n) return error_set(e, "out of memory"), NULL;
    n->m = m, n->pool = pool;
    n->net = (vat_net){n, mlp_features(m), mlp_classes(m), net_forward, net_backward};
    if (mlp_acts_alloc(&n->act, m, 1, cap, e) < 0) return mlp_net_free(n), NULL;
    return n;
}

const vat_net *mlp_net_vat(const mlp_net *n) { return &n->net; }

void mlp_net_free(mlp_net *n)
{
    if (!n) return;
    mlp_acts_free(&n->act);
    free(n);
}

/* ---- prediction ---- */

/* Buffers of a prediction chunk: two (chunk, widest layer) for the activations, and the conv
 * layers' patches (one layer's at a time), workspace and transposes. */
typedef struct eval_ws {
    float *buf[2], *col, *cws, *ct;
} eval_ws;

static int max_width(const mlp *m)
{
    int w = 0;
    for (int l = 0; l <= m->nlayers; l++) w = m->sizes[l] > w ? m->sizes[l] : w;
    for (int j = 0; j < m->conv.n; j++) w = (int)conv_out_size(&m->cs[j]) > w ? (int)conv_out_size(&m->cs[j]) : w;
    return w;
}

static float *eval_alloc(eval_ws *w, const mlp *m, size_t chunk)
{
    size_t width = (size_t)max_width(m), col = 0, ncws = 0, nct = 0;
    for (int j = 0; j < m->conv.n; j++) {
        const conv_shape *s = &m->cs[j];
        size_t c = chunk * conv_col_size(s), ws = conv_ws_size(s, (int)chunk);
        col = c > col ? c : col;
        ncws = ws > ncws ? ws : ncws;
    }
    if (m->conv.n) nct = chunk * width;
    float *p = malloc((2 * chunk * width + col + ncws + nct) * sizeof(float));
    if (!p) return NULL;
    w->buf[0] = p, w->buf[1] = p + chunk * width;
    w->col = w->buf[1] + chunk * width, w->cws = w->col + col, w->ct = w->cws + ncws;
    return p;
}

/* p (B, K) of B rows x (B, features), ping-ponging between w's two buffers; returns the buffer
 * holding p. */
static float *forward_eval(const mlp *m, const float *x, int B, eval_ws *w)
{
    const float *in = x;
    int k = 0;
    const nn_params *P = &m->params;
    for (int j = 0; j < m->conv.n; j++, k ^= 1) {
        conv_layer_forward(m, j, NULL, w->buf[k], w->col, w->cws, w->ct, in, B, NULL, NULL, 0);
        in = w->buf[k];
    }
    if (m->conv.pool) {
        const conv_shape *s = &m->cs[m->conv.n - 1];
        conv_gpool_forward(w->buf[k], in, B, s->K, s->OH * s->OW);
        in = w->buf[k], k ^= 1;
    }
    for (int l = 0; l < m->nlayers; l++, k ^= 1) {
        int last = l == m->nlayers - 1, C = m->sizes[l + 1];
        float *out = w->buf[k];
        nn_dense_forward(NULL, out, in, nn_data(P, m->iw[l]), nn_data(P, m->ib[l]), B, m->sizes[l], C,
                         last || m->batch_norm ? NN_ACT_NONE : NN_ACT_RELU);
        if (!last && m->batch_norm) {
            norm_bn_forward_eval(out, out, nn_data(P, m->igamma[l + 1]), nn_data(P, m->ibeta[l + 1]),
                                 nn_data(P, m->imean[l + 1]), nn_data(P, m->ivar[l + 1]), B, C);
            nn_act_forward(out, out, (size_t)B * C, NN_ACT_RELU);
        }
        in = out;
    }
    float *logits = (float *)in;
    nn_softmax_forward(logits, logits, B, mlp_classes(m));
    return logits;
}

int mlp_predict(const mlp *m, const float *x, size_t n, float *p, error *e)
{
    size_t chunk = n < PREDICT_CHUNK ? (n ? n : 1) : PREDICT_CHUNK;
    eval_ws w;
    float *block = eval_alloc(&w, m, chunk);
    if (!block) return error_set(e, "out of memory");
    int F = mlp_features(m), K = mlp_classes(m);
    for (size_t r = 0; r < n; r += chunk) {
        int B = (int)(n - r < chunk ? n - r : chunk);
        const float *pr = forward_eval(m, x + r * F, B, &w);
        memcpy(p + r * K, pr, (size_t)B * K * sizeof(float));
    }
    free(block);
    return 0;
}

int mlp_evaluate(const mlp *m, const mlp_data *d, double *loss, double *accuracy, error *e)
{
    int K = mlp_classes(m);
    float *p = malloc((d->n ? d->n : 1) * (size_t)K * sizeof(float));
    if (!p) return error_set(e, "out of memory");
    if (mlp_predict(m, d->x, d->n, p, e) < 0) return free(p), -1;
    double ll = 0;
    size_t right = 0, lab = 0;
    for (size_t i = 0; i < d->n; i++) {
        int y = d->y[i];
        if (y < 0 || y >= K) continue;
        const float *pi = p + i * K;
        int best = 0;
        for (int k = 1; k < K; k++) best = pi[k] > pi[best] ? k : best;
        right += best == y;
        ll -= log(fmax(pi[y], 1e-15));   /* clipped as scikit-learn's log_loss */
        lab++;
    }
    free(p);
    *loss = lab ? ll / (double)lab : NAN;
    *accuracy = lab ? (double)right / (double)lab : NAN;
    return 0;
}
