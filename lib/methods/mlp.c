#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "dist.h"
#include "gemm.h"
#include "imageops.h"
#include "norm.h"
#include "params.h"
#include "rng.h"
#include "trainctl.h"
#include "vat.h"

#define PREDICT_CHUNK 256
#define BN_MOMENTUM 0.1f   /* running averages move by 0.1 of the batch statistics a step (PyTorch's) */

void mlp_config_default(mlp_config *c)
{
    memset(c, 0, sizeof *c);
    c->nhidden = 2;
    c->hidden[0] = 128;
    c->hidden[1] = 64;
    c->epochs = 200;
    c->batch = 200;
    c->lr = 1e-3;
    c->alpha = 1e-4;
    c->dropout = 0.0;
    c->patience = 10;
    c->tol = 1e-4;
    c->seed = 0;
    vat_config_default(&c->vat);
}

/* ---- the network ---- */

/* mlp_new; with from, its parameters must be in that file (nn_params_check) before they are allocated. */
/* Batch normalisation's tensors of hidden layer l: scale, shift and the running averages. */
static int add_batch_norm(mlp *m, int l, error *e)
{
    int64_t dims[1] = {m->sizes[l]};
    int *idx[4] = {&m->igamma[l], &m->ibeta[l], &m->imean[l], &m->ivar[l]};
    const char *what[4] = {"gamma", "beta", "mean", "var"};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "bn%d.%s", l, what[i]);
        if ((*idx[i] = nn_params_add(&m->params, name, 1, dims, 0, e)) < 0) return -1;
    }
    return 0;
}

static mlp *build(int features, int classes, int nhidden, const int *hidden, int batch_norm, const model_file *from,
                  error *e)
{
    if (features < 1) return error_set(e, "the data has no features"), NULL;
    if (classes < 2) return error_set(e, "need at least 2 classes, got %d", classes), NULL;
    if (nhidden < 0 || nhidden > MLP_MAX_HIDDEN)
        return error_set(e, "%d hidden layers (at most %d)", nhidden, MLP_MAX_HIDDEN), NULL;
    mlp *m = calloc(1, sizeof *m);
    if (!m) return error_set(e, "out of memory"), NULL;
    m->nlayers = nhidden + 1;
    m->sizes[0] = features;
    for (int l = 0; l < nhidden; l++) m->sizes[l + 1] = hidden[l];
    m->sizes[m->nlayers] = classes;
    nn_params_init(&m->params);
    for (int l = 1; l <= m->nlayers; l++) {
        char name[32];
        int64_t dw[2] = {m->sizes[l], m->sizes[l - 1]}, db[1] = {m->sizes[l]};
        if (dw[0] < 1) return mlp_free(m), error_set(e, "hidden layer %d has no units", l), NULL;
        snprintf(name, sizeof name, "layer%d.w", l);
        m->iw[l - 1] = nn_params_add(&m->params, name, 2, dw, 1, e);
        snprintf(name, sizeof name, "layer%d.b", l);
        m->ib[l - 1] = nn_params_add(&m->params, name, 1, db, 0, e);
        if (m->iw[l - 1] < 0 || m->ib[l - 1] < 0) return mlp_free(m), NULL;
        if (batch_norm && l < m->nlayers && add_batch_norm(m, l, e) < 0) return mlp_free(m), NULL;
    }
    m->batch_norm = batch_norm && nhidden > 0;
    if ((from && nn_params_check(&m->params, from, e) < 0) || nn_params_alloc(&m->params, e) < 0) return mlp_free(m), NULL;
    return m;
}

mlp *mlp_new(int features, int classes, int nhidden, const int *hidden, int batch_norm, error *e)
{
    return build(features, classes, nhidden, hidden, batch_norm, NULL, e);
}

void mlp_free(mlp *m)
{
    if (!m) return;
    nn_params_free(&m->params);
    free(m);
}

static int max_width(const mlp *m)
{
    int w = 0;
    for (int l = 0; l <= m->nlayers; l++) w = m->sizes[l] > w ? m->sizes[l] : w;
    return w;
}

/* ---- prediction ---- */

/* logits -> p for B rows, ping-ponging between two (B, max width) buffers; returns the buffer
 * holding p (B, K). x (B, features) */
static float *forward_eval(const mlp *m, const float *x, int B, float *buf0, float *buf1)
{
    const float *in = x;
    float *out = buf0;
    const nn_params *P = &m->params;
    for (int l = 0; l < m->nlayers; l++) {
        int last = l == m->nlayers - 1, C = m->sizes[l + 1];
        nn_dense_forward(NULL, out, in, nn_data(P, m->iw[l]), nn_data(P, m->ib[l]), B, m->sizes[l], C,
                         last || m->batch_norm ? NN_ACT_NONE : NN_ACT_RELU);
        if (!last && m->batch_norm) {
            norm_bn_forward_eval(out, out, nn_data(P, m->igamma[l + 1]), nn_data(P, m->ibeta[l + 1]),
                                 nn_data(P, m->imean[l + 1]), nn_data(P, m->ivar[l + 1]), B, C);
            nn_act_forward(out, out, (size_t)B * C, NN_ACT_RELU);
        }
        in = out;
        out = out == buf0 ? buf1 : buf0;
    }
    float *logits = (float *)in;
    nn_softmax_forward(logits, logits, B, mlp_classes(m));
    return logits;
}

int mlp_predict(const mlp *m, const float *x, size_t n, float *p, error *e)
{
    size_t chunk = n < PREDICT_CHUNK ? (n ? n : 1) : PREDICT_CHUNK, w = (size_t)max_width(m);
    float *buf = malloc(2 * chunk * w * sizeof(float));
    if (!buf) return error_set(e, "out of memory");
    int F = mlp_features(m), K = mlp_classes(m);
    for (size_t r = 0; r < n; r += chunk) {
        int B = (int)(n - r < chunk ? n - r : chunk);
        const float *pr = forward_eval(m, x + r * F, B, buf, buf + chunk * w);
        memcpy(p + r * K, pr, (size_t)B * K * sizeof(float));
    }
    free(buf);
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

/* ---- training ---- */

/* A forward pass's activations, kept for its backward: "a<l>" (cap, sizes[l]) the output of layer l
 * (hidden: after ReLU and dropout; last: the logits), their gradients in .grad; with batch norm,
 * "xhat<l>" (cap, sizes[l]) and "istd<l>" (sizes[l]) of each hidden layer. */
typedef struct acts {
    nn_params t;
    int ia[MLP_MAX_HIDDEN + 2], ixhat[MLP_MAX_HIDDEN + 1], istd[MLP_MAX_HIDDEN + 1];
} acts;

/* The unlabelled batch of a step with VAT or entropy minimisation, and the network as vat.h sees it. */
typedef struct unlab_ws {
    int cap;                            /* rows a step, 0 without an unlabelled term */
    const mlp *m;
    par_pool *pool;
    acts act;                           /* a1..aL, a0 being x0 */
    const float *x0;                    /* the rows of the last forward */
    int B;
    const float *rows;                  /* (nrows, features) every training row, drawn from */
    size_t nrows;
    float *x;                           /* (cap, features) the step's rows */
    vat_ws vat;
    vat_net net;
} unlab_ws;

/* Everything a training step touches, sized once for batches of up to cap rows. */
typedef struct train_ws {
    int cap;
    acts act;                           /* a0 (cap, features): the batch's rows */
    float *mask[MLP_MAX_HIDDEN + 1];    /* (cap, sizes[l]) dropout masks of hidden layers, or NULL */
    int32_t *yb;                        /* (cap) */
    float *wb;                          /* (cap) or NULL */
    int *order;                         /* (n labelled) row indices, shuffled every epoch */
    float *best;                        /* (params total) best weights when validating */
    float *row;                         /* (features) a row being shifted, or NULL without shifts */
    datasource *src;                    /* the rows (mlp_train_source), or NULL: order over the mlp_data */
    par_pool *pool;                     /* the config's */
    unlab_ws u;
} train_ws;

static void ws_free(train_ws *w)
{
    nn_params_free(&w->act.t);
    nn_params_free(&w->u.act.t);
    free(w->u.x);
    vat_ws_free(&w->u.vat);
    for (int l = 0; l <= MLP_MAX_HIDDEN; l++) free(w->mask[l]);
    free(w->yb), free(w->wb), free(w->order), free(w->best), free(w->row);
}

/* Activations a<first>..aL of batches of up to cap rows (and batch norm's), with their gradients. */
static int acts_alloc(acts *A, const mlp *m, int first, int cap, error *e)
{
    nn_params_init(&A->t);
    for (int l = first; l <= m->nlayers; l++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", l);
        int64_t dims[2] = {cap, m->sizes[l]};
        if ((A->ia[l] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        if (!m->batch_norm || l == 0 || l == m->nlayers) continue;
        snprintf(name, sizeof name, "xhat%d", l);
        if ((A->ixhat[l] = nn_params_add(&A->t, name, 2, dims, 0, e)) < 0) return -1;
        snprintf(name, sizeof name, "istd%d", l);
        if ((A->istd[l] = nn_params_add(&A->t, name, 1, dims + 1, 0, e)) < 0) return -1;
    }
    return nn_params_alloc(&A->t, e);
}

static float *unlab_forward(void *ctx, const float *x, int B);
static void unlab_backward(void *ctx, float *dlogits, float *dx, int params);

/* The unlabelled batch's buffers: c->ubatch (default --batch) rows drawn from all n rows of d. */
static int unlab_alloc(unlab_ws *u, const mlp *m, const mlp_config *c, const mlp_data *d, error *e)
{
    size_t want = (size_t)(c->ubatch > 0 ? c->ubatch : c->batch);
    u->cap = (int)(want < d->n ? want : d->n);
    u->m = m, u->pool = c->pool, u->rows = d->x, u->nrows = d->n;
    u->net = (vat_net){u, mlp_features(m), mlp_classes(m), unlab_forward, unlab_backward};
    if (acts_alloc(&u->act, m, 1, u->cap, e) < 0 ||
        vat_ws_alloc(&u->vat, u->cap, mlp_features(m), mlp_classes(m), e) < 0)
        return -1;
    if (!(u->x = malloc((size_t)u->cap * mlp_features(m) * sizeof(float))))
        return error_set(e, "out of memory for the unlabelled batch");
    return 0;
}

static int ws_alloc(train_ws *w, const mlp *m, const mlp_config *c, const mlp_data *d, datasource *src, size_t nlab,
                    int cap, int keep_best, error *e)
{
    memset(w, 0, sizeof *w);
    w->cap = cap;
    w->src = src;
    w->pool = c->pool;
    nn_params_init(&w->u.act.t);
    if (acts_alloc(&w->act, m, 0, cap, e) < 0) return -1;
    if (vat_active(&c->vat) && unlab_alloc(&w->u, m, c, d, e) < 0) return -1;
    int bad = 0;
    if (c->dropout > 0)
        for (int l = 1; l < m->nlayers; l++) bad |= !(w->mask[l] = malloc((size_t)cap * m->sizes[l] * sizeof(float)));
    bad |= !(w->yb = malloc((size_t)cap * sizeof *w->yb));
    int has_w = src ? stream_schema_find(datasource_schema(src), "w") >= 0 : d->w != NULL;
    if (has_w) bad |= !(w->wb = malloc((size_t)cap * sizeof *w->wb));
    if (!src) bad |= !(w->order = malloc(nlab * sizeof *w->order));   /* a source keeps its own order */
    if (keep_best) bad |= !(w->best = malloc(m->params.total * sizeof(float)));
    if (c->shift > 0) bad |= !(w->row = malloc((size_t)mlp_features(m) * sizeof(float)));
    if (bad) return error_set(e, "out of memory for the training workspace");
    size_t j = 0;
    for (size_t i = 0; w->order && i < d->n; i++)
        if (d->y[i] >= 0) w->order[j++] = (int)i;
    return 0;
}

int mlp_check_rows(const mlp_data *d, int K, size_t row0, size_t *nlab, error *e)
{
    *nlab = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->y[i] >= K || d->y[i] < -1)
            return error_set(e, "row %zu: label %d, but the model has %d classes (0..%d)", row0 + i + 1, d->y[i], K, K - 1);
        if (d->y[i] < 0) continue;
        if (d->w && !(d->w[i] >= 0 && isfinite(d->w[i])))
            return error_set(e, "row %zu: weight %g is not a finite non-negative number", row0 + i + 1, d->w[i]);
        (*nlab)++;
    }
    if (*nlab > (size_t)INT32_MAX) return error_set(e, "too many rows");
    return 0;
}

typedef struct gather_job {
    float *a0;
    const float *x;
    const int *rows;
    int F;
} gather_job;

static void gather_rows(void *ctx, size_t i0, size_t i1)
{
    const gather_job *j = ctx;
    for (size_t i = i0; i < i1; i++) {
        size_t k = j->rows ? (size_t)j->rows[i] : i;
        memcpy(j->a0 + i * j->F, j->x + k * j->F, (size_t)j->F * sizeof(float));
    }
}

/* Copies the batch rows rows[0..B) of d (NULL: its rows 0..B-1) into a0, yb, wb. The rows are
 * scattered over the data set and each copy mostly waits on memory (~1 ns a float): split over the
 * pool's threads, the waits overlap. */
static void gather(const mlp *m, train_ws *w, const mlp_data *d, const int *rows, int B)
{
    gather_job j = {nn_data(&w->act.t, w->act.ia[0]), d->x, rows, mlp_features(m)};   // a0 (B, F)
    par_for(w->pool, (size_t)B, 1, (size_t)j.F * 10, gather_rows, &j);
    for (int i = 0; i < B; i++) {
        size_t k = rows ? (size_t)rows[i] : (size_t)i;
        w->yb[i] = d->y[k];
        if (w->wb) w->wb[i] = d->w[k];
    }
}

/* This process's share of the epoch's next global batch (start rows done) into a0, yb, wb: *G the
 * global batch's rows, *lo the index of the share's first row in it, *B the share's rows. From the
 * shuffled order, or from w->src. 1, 0 at the end of the epoch, -1 on error. */
static int next_batch(const mlp *m, train_ws *w, const mlp_data *d, size_t nlab, size_t start, rng *r,
                      size_t *G, size_t *lo, size_t *B, error *e)
{
    if (!w->src) {
        size_t rank = (size_t)dist_rank(), P = (size_t)dist_size();
        *G = nlab - start < (size_t)w->cap ? nlab - start : (size_t)w->cap;
        *lo = rank * *G / P, *B = (rank + 1) * *G / P - *lo;
        if (*G) gather(m, w, d, w->order + start + *lo, (int)*B);
        return *G > 0;
    }
    datasource_batch b;
    int got = datasource_next(w->src, (size_t)w->cap, r, &b, e);
    if (got <= 0) return got;
    *G = b.global, *lo = b.first, *B = b.rows->nrows;
    mlp_data rows = {stream_table_col(b.rows, "x"), stream_table_col(b.rows, "y"),
                     w->wb ? stream_table_col(b.rows, "w") : NULL, *B};
    gather(m, w, &rows, NULL, (int)*B);
    return 1;
}

/* Moves each of this process's B gathered rows (first.. of a global batch of G) by a random shift;
 * the shifts are drawn for all G rows, as one process does. */
static void shift_rows(train_ws *w, const mlp_config *c, int F, int B, int G, int first, rng *r)
{
    float *a0 = nn_data(&w->act.t, w->act.ia[0]);   // (B, F)
    for (int i = 0; i < G; i++) {
        int dy, dx;
        image_draw_shift(r, c->shift, &dy, &dx);
        if (i < first || i >= first + B) continue;
        float *x = a0 + (size_t)(i - first) * F;
        memcpy(w->row, x, (size_t)F * sizeof(float));
        image_shift(x, w->row, c->img_h, c->img_w, dy, dx);
    }
}

/* Forward through every layer on B rows x0 (B, features), in training mode, keeping the activations
 * in A: returns the logits aL (B, K). Batch norm uses the batch's statistics, and moves the running
 * averages towards them when update_stats. masks[l], the dropout mask of hidden layer l for these
 * rows, or masks NULL: no dropout. */
static float *forward_pass(const mlp *m, par_pool *pool, acts *A, const float *x0, float *const *masks, int B,
                           int update_stats)
{
    int L = m->nlayers;
    const nn_params *P = &m->params;
    const float *in = x0;
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

/* Back-propagates the logits' gradient (the grad of aL in A) through the forward_pass that filled A:
 * the parameters' gradients accumulate when params; dx (B, features) = the gradient w.r.t. x0 when
 * not NULL. */
static void backward_pass(const mlp *m, par_pool *pool, acts *A, const float *x0, float *const *masks, int B,
                          float *dx, int params)
{
    const nn_params *P = &m->params;
    const nn_params *T = &A->t;
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
        nn_dense_backward(pool, l > 1 ? nn_grad(T, A->ia[l - 1]) : dx, params ? nn_grad(P, m->iw[l - 1]) : NULL,
                          params ? nn_grad(P, m->ib[l - 1]) : NULL, dout, l > 1 ? nn_data(T, A->ia[l - 1]) : x0,
                          nn_data(P, m->iw[l - 1]), out, B, m->sizes[l - 1], C, dense_act);
    }
}

/* Batch norm's running averages follow the labelled passes alone: moved by the unlabelled batches'
 * statistics too, they scored 25-45% on a Fashion-MNIST validation split where these score 65-75%
 * (docs/notes/2026-12-07-vat-mnist.md). */
static float *unlab_forward(void *ctx, const float *x, int B)
{
    unlab_ws *u = ctx;
    u->x0 = x, u->B = B;
    return forward_pass(u->m, u->pool, &u->act, x, NULL, B, 0);
}

static void unlab_backward(void *ctx, float *dlogits, float *dx, int params)
{
    unlab_ws *u = ctx;
    int L = u->m->nlayers;
    memcpy(nn_grad(&u->act.t, u->act.ia[L]), dlogits, (size_t)u->B * u->m->sizes[L] * sizeof(float));
    backward_pass(u->m, u->pool, &u->act, u->x0, NULL, u->B, dx, params);
}

/* The unlabelled term of a step: u->cap rows drawn at random from every training row, and vat.h's
 * loss on them; its gradient added to the parameters'. Returns the loss. */
static double unlab_step(unlab_ws *u, const mlp_config *c, rng *r)
{
    size_t F = (size_t)mlp_features(u->m);
    for (int i = 0; i < u->cap; i++)
        memcpy(u->x + i * F, u->rows + rng_below(r, u->nrows) * F, F * sizeof(float));
    return vat_loss(&u->net, &c->vat, &u->vat, u->x, u->cap, 1.0f, r);
}

/* Forward, backward and the L2 gradient for this process's B rows (already gathered), rows first..
 * first+B-1 of a global batch of G rows (G = B, first = 0 in one process; dist.h): dropout masks are
 * drawn for all G rows (the same draws on every process), losses and gradients are normalised by G,
 * and the L2 term is the first process's alone, so the processes' gradients sum to the one-process
 * gradient. Returns this share of the batch loss (mean weighted cross-entropy + alpha/2 ||W||^2 / G).
 * Gradients land in m->params.grad. */
static double train_step(mlp *m, train_ws *w, const mlp_config *c, int B, int G, int first, rng *r)
{
    int L = m->nlayers, K = mlp_classes(m);
    acts *A = &w->act;
    if (c->shift > 0) shift_rows(w, c, mlp_features(m), B, G, first, r);
    float *masks[MLP_MAX_HIDDEN + 1] = {0};   /* this process's rows of each hidden layer's mask */
    for (int l = 1; l < L && w->mask[l]; l++) {
        nn_dropout_mask(w->mask[l], (size_t)G * m->sizes[l], (float)c->dropout, r);
        masks[l] = w->mask[l] + (size_t)first * m->sizes[l];
    }
    const float *x0 = nn_data(&A->t, A->ia[0]);
    float *probs = forward_pass(m, c->pool, A, x0, masks, B, 1);   // (B, K), the logits replaced in place
    double loss = nn_softmax_xent_forward(probs, probs, w->yb, w->wb, B, K) / G;
    nn_softmax_xent_backward(nn_grad(&A->t, A->ia[L]), probs, w->yb, w->wb, B, K, 1.0f / (float)G);
    backward_pass(m, c->pool, A, x0, masks, B, NULL, 1);
    if (w->u.cap) loss += unlab_step(&w->u, c, r);
    /* coupled L2 on the weights: dW += alpha/G W, loss += alpha/(2G) ||W||^2 (one fused loop) */
    float a = dist_rank() == 0 ? (float)(c->alpha / G) : 0.0f;
    double sq = 0;
    const nn_params *P = &m->params;
    for (int l = 0; l < L && a > 0; l++)
        sq += nn_l2_add(nn_grad(P, m->iw[l]), nn_data(P, m->iw[l]), a, P->t[m->iw[l]].size);
    return loss + 0.5 * c->alpha * sq / G;
}

static void init_weights(mlp *m, rng *r)
{
    nn_params *P = &m->params;
    for (int l = 0; l < m->nlayers; l++)
        nn_dense_init_glorot(nn_data(P, m->iw[l]), nn_data(P, m->ib[l]), m->sizes[l], m->sizes[l + 1], 1.0f, 1, r);
    for (int l = 1; l < m->nlayers && m->batch_norm; l++)   /* gamma and the running variance 1, the rest 0 */
        for (int j = 0; j < m->sizes[l]; j++) {
            nn_data(P, m->igamma[l])[j] = nn_data(P, m->ivar[l])[j] = 1.0f;
            nn_data(P, m->ibeta[l])[j] = nn_data(P, m->imean[l])[j] = 0.0f;
        }
}

/* One epoch over the labelled rows in a fresh shuffled order; the mean loss into *mean. Under
 * mpirun (dist.h), each process takes its share of every global batch, and one all-reduce of the
 * gradients per step makes every process take the one-process step. */
static int run_epoch(mlp *m, train_ws *w, adam *opt, const mlp_config *c, const mlp_data *d, size_t nlab,
                     rng *r, trainlog *log, double *mean, error *e)
{
    *mean = NAN;
    if (w->src ? datasource_epoch(w->src, r, e) < 0 : (rng_shuffle(r, w->order, nlab), 0)) return -1;
    nn_params_zero_grad(c->pool, &m->params);   /* once: adam_step_clear leaves them zero for the next step */
    double total = 0;
    size_t nb = 0, G, lo, B;
    int got;
    for (size_t start = 0; (got = next_batch(m, w, d, nlab, start, r, &G, &lo, &B, e)) == 1; start += G) {
        double loss = train_step(m, w, c, (int)B, (int)G, (int)lo, r);
        if (dist_allreduce_sum(m->params.grad, m->params.total, e) < 0) return -1;
        if (!isfinite(loss)) return error_set(e, "batch %zu: the loss is %g: training diverged; try a smaller --lr", nb + 1, loss);
        adam_step_clear(opt, c->pool, m->params.data, m->params.grad);
        total += loss * (double)G;
        if (log && trainlog_batch(log, ++nb, start + G, total / (double)(start + G))) return 0;   /* interrupted */
    }
    if (got < 0) return -1;
    if (dist_allreduce_sum_f64(&total, 1, e) < 0) return -1;
    *mean = total / (double)nlab;
    return 0;
}

/* scikit-learn's _update_no_improvement_count: returns 1 when training should stop. */
typedef struct stopper {
    double best;      /* lowest loss, or highest validation accuracy */
    int bad;          /* consecutive epochs without an improvement of tol */
} stopper;

static int stop_on_loss(stopper *s, double loss, const mlp_config *c)
{
    s->bad = loss > s->best - c->tol ? s->bad + 1 : 0;
    if (loss < s->best) s->best = loss;
    return s->bad > c->patience;
}

/* returns 1 when training should stop; *improved when this epoch is the best so far */
static int stop_on_val(stopper *s, double acc, const mlp_config *c, int *improved)
{
    s->bad = acc < s->best + c->tol ? s->bad + 1 : 0;
    *improved = acc > s->best;
    if (*improved) s->best = acc;
    return s->bad > c->patience;
}

static int train_run(mlp *m, const mlp_config *c, const mlp_data *train, datasource *src, const mlp_data *val,
                     trainlog *log, mlp_result *res, error *e);

/* The row order a checkpoint keeps: the labelled rows' (in memory) or the source's held rows'. */
static int *saved_order(const train_ws *w, size_t nlab, size_t *n)
{
    if (w->src) return datasource_order(w->src, n);
    *n = nlab;
    return w->order;
}

/* The whole training state after an epoch, for trainctl (a checkpoint that also loads as a model). */
static model_file *state_save(const mlp *m, const mlp_config *c, const train_ws *w, size_t nlab, const adam *opt,
                              const rng *r, const stopper *st, const mlp_result *res, error *e)
{
    model_file *f = mlp_save(m, c, res, NULL, e);
    if (!f) return NULL;
    size_t norder;
    int *order = saved_order(w, nlab, &norder);
    trainctl_put_rng(f, "rng", r);
    trainctl_put_num(f, "stop_best", st->best);
    trainctl_put_num(f, "stop_bad", st->bad);
    trainctl_put_num(f, "best_epoch", res->best_epoch);
    trainctl_put_num(f, "best_val_accuracy", res->best_val_accuracy);
    if (trainctl_put_adam(f, "adam", opt, e) < 0 || (order && trainctl_put_ints(f, "order", order, norder, e) < 0) ||
        (w->best && trainctl_put_floats(f, "best", w->best, m->params.total, e) < 0))
        return model_file_free(f), NULL;
    return f;
}

static int state_load(mlp *m, const model_file *f, train_ws *w, size_t nlab, adam *opt, rng *r, stopper *st,
                      mlp_result *res, error *e)
{
    double bad, best_epoch;
    size_t norder;
    int *order = saved_order(w, nlab, &norder);
    if (nn_params_load(&m->params, f, e) < 0 || trainctl_get_adam(f, "adam", opt, e) < 0 ||
        trainctl_get_rng(f, "rng", r, e) < 0 || (order && trainctl_get_ints(f, "order", order, norder, e) < 0) ||
        (w->best && trainctl_get_floats(f, "best", w->best, m->params.total, e) < 0) ||
        trainctl_get_num(f, "stop_best", &st->best, e) < 0 || trainctl_get_num(f, "stop_bad", &bad, e) < 0 ||
        trainctl_get_num(f, "best_epoch", &best_epoch, e) < 0 ||
        trainctl_get_num(f, "best_val_accuracy", &res->best_val_accuracy, e) < 0)
        return -1;
    st->bad = (int)bad;
    res->best_epoch = (int)best_epoch;
    return 0;
}

/* Training runs on one BLAS thread when every product of a step is small (nn_blas_threads_for), and
 * then its element loops on the calling thread too: a pool of one thread, which carries the caller's
 * pool's hook (a product observer, gemm.h). */
static int train_blas(mlp *m, const mlp_config *c, const mlp_data *train, datasource *src, const mlp_data *val,
                      trainlog *log, mlp_result *res, error *e)
{
    long most = 0;   /* multiply-adds of the largest product */
    for (int l = 0; l < m->nlayers; l++) {
        long mnk = (long)c->batch * m->sizes[l] * m->sizes[l + 1];
        most = mnk > most ? mnk : most;
    }
    mlp_config small = *c;
    if (most < GEMM_SPLIT_MIN && c->pool) {
        void *ctx;
        par_hook_fn hook = par_hook(c->pool, &ctx);
        if (!(small.pool = par_new(1, e))) return -1;
        par_set_hook(small.pool, hook, ctx);
    }
    int threads = nn_blas_threads_for(most);
    int rc = train_run(m, &small, train, src, val, log, res, e);
    nn_blas_threads_restore(threads);
    if (small.pool != c->pool) par_free(small.pool);
    return rc;
}

int mlp_train(mlp *m, const mlp_config *c, const mlp_data *train, const mlp_data *val, trainlog *log,
              mlp_result *res, error *e)
{
    return train_blas(m, c, train, NULL, val, log, res, e);
}

int mlp_train_source(mlp *m, const mlp_config *c, datasource *src, const mlp_data *val, trainlog *log,
                     mlp_result *res, error *e)
{
    mlp_data none = {NULL, NULL, NULL, 0};
    return train_blas(m, c, &none, src, val, log, res, e);
}

static int train_run(mlp *m, const mlp_config *c, const mlp_data *train, datasource *src, const mlp_data *val,
                     trainlog *log, mlp_result *res, error *e)
{
    int K = mlp_classes(m);
    size_t nlab = src ? datasource_rows(src) : 0;   /* a source's rows were checked as read */
    if (!src && mlp_check_rows(train, K, 0, &nlab, e) < 0) return -1;
    if (nlab == 0) return error_set(e, "no labelled rows to train on (every y is -1)");
    if (vat_active(&c->vat) && (src || dist_size() > 1))
        return error_set(e, "VAT and entropy minimisation train on rows in memory, in one process");
    if (m->batch_norm && dist_size() > 1) return error_set(e, "batch normalisation trains in one process");
    if (src) {
        datasource_cumulative_shuffle(src);   /* the order of the in-memory rows */
        datasource_shard(src, dist_rank(), dist_size());
    }
    size_t nval = 0;
    if (val && mlp_check_rows(val, K, 0, &nval, e) < 0) return error_prefix(e, "validation data");
    if (val && nval == 0) return error_set(e, "validation data: no labelled rows");
    int cap = (int)((size_t)c->batch < nlab ? (size_t)c->batch : nlab);
    train_ws w;
    adam opt;
    memset(&opt, 0, sizeof opt);
    if (ws_alloc(&w, m, c, train, src, nlab, cap, val != NULL, e) < 0 || adam_init_params(&opt, &m->params, e) < 0) {
        ws_free(&w);
        return -1;
    }
    opt.lr = (float)c->lr;
    rng r;
    rng_seed(&r, c->seed);
    init_weights(m, &r);
    memset(res, 0, sizeof *res);
    res->rows = nlab;
    res->best_val_accuracy = NAN;
    if (log) trainlog_plan(log, c->epochs, nlab, (nlab + (size_t)cap - 1) / (size_t)cap);
    stopper st = {.best = val ? -INFINITY : INFINITY};
    trainctl *ctl = log ? log->ctl : NULL;
    if (w.best) memcpy(w.best, m->params.data, m->params.total * sizeof(float));   /* defined bytes in a checkpoint */
    int first = trainctl_resume_epoch(ctl) + 1;
    int rc = ctl && ctl->resume ? trainctl_named(ctl, state_load(m, ctl->resume, &w, nlab, &opt, &r, &st, res, e), e)
                                : ctl ? trainctl_epoch_end(ctl, state_save(m, c, &w, nlab, &opt, &r, &st, res, e), 0, e) : 0;
    for (int epoch = first; epoch <= c->epochs && rc == 0; epoch++) {
        if (log) trainlog_epoch_begin(log, epoch);
        opt.lr = (float)adam_linear_decay(c->lr, epoch, c->epochs, c->lr_decay_start);
        double loss;
        if ((rc = run_epoch(m, &w, &opt, c, train, nlab, &r, log, &loss, e)) < 0) {
            error_prefix(e, "epoch %d", epoch);
            break;
        }
        if (trainlog_stopped(log)) break;
        res->epochs_run = epoch;
        res->final_loss = loss;
        if (log) trainlog_metric(log, "loss", loss);
        int stop;
        if (val) {
            double vloss, vacc;
            int improved;
            if ((rc = mlp_evaluate(m, val, &vloss, &vacc, e)) < 0) break;
            if (log) trainlog_metric(log, "val_loss", vloss), trainlog_metric(log, "val_accuracy", vacc);
            stop = stop_on_val(&st, vacc, c, &improved);
            if (improved || epoch == 1) {
                memcpy(w.best, m->params.data, m->params.total * sizeof(float));
                res->best_epoch = epoch;
                res->best_val_accuracy = vacc;
            }
        } else {
            /* an unlabelled term's loss is noisy and rises as the predictions sharpen: the budget decides */
            stop = w.u.cap ? 0 : stop_on_loss(&st, loss, c);
            res->best_epoch = epoch;
        }
        if (log && (rc = trainlog_epoch_end(log, e)) < 0) break;
        if (stop) break;
        if (ctl && (rc = trainctl_epoch_end(ctl, state_save(m, c, &w, nlab, &opt, &r, &st, res, e), epoch, e)) < 0) break;
    }
    if (log) trainlog_finish(log);
    if (rc == 0 && val && !trainlog_stopped(log)) memcpy(m->params.data, w.best, m->params.total * sizeof(float));
    ws_free(&w);
    adam_free(&opt);
    return rc;
}

/* ---- model files ---- */

static value *int_array(const int *v, int n)
{
    value *a = value_array();
    for (int i = 0; i < n; i++) value_push(a, value_int(v[i]));
    return a;
}

model_file *mlp_save(const mlp *m, const mlp_config *c, const mlp_result *r, const value *meta, error *e)
{
    model_file *f = model_file_new(MLP_KIND);
    if (!f) return error_set(e, "out of memory"), NULL;
    value *info = f->info;
    value_set(info, "features", value_int(mlp_features(m)));
    value_set(info, "classes", value_int(mlp_classes(m)));
    value_set(info, "hidden", int_array(m->sizes + 1, m->nlayers - 1));
    value_set(info, "activation", value_str("relu"));
    if (m->batch_norm) value_set(info, "batch_norm", value_bool(1));
    value_set(info, "output", value_str("softmax"));
    if (c) {
        value *h = value_map();
        value_set(h, "epochs", value_int(c->epochs));
        value_set(h, "batch", value_int(c->batch));
        value_set(h, "lr", value_float(c->lr));
        value_set(h, "weight_decay", value_float(c->alpha));
        value_set(h, "dropout", value_float(c->dropout));
        if (c->shift > 0) value_set(h, "shift", value_int(c->shift));
        if (c->lr_decay_start > 0) value_set(h, "lr_decay_start", value_int(c->lr_decay_start));
        if (c->vat.eps > 0) {
            value_set(h, "vat_eps", value_float(c->vat.eps));
            value_set(h, "vat_xi", value_float(c->vat.xi));
            value_set(h, "vat_iterations", value_int(c->vat.iters));
        }
        if (c->vat.entmin > 0) value_set(h, "entropy_weight", value_float(c->vat.entmin));
        if (vat_active(&c->vat)) value_set(h, "unlabelled_batch", value_int(c->ubatch > 0 ? c->ubatch : c->batch));
        value_set(h, "patience", value_int(c->patience));
        value_set(h, "tol", value_float(c->tol));
        value_set(h, "optimizer", value_str("adam"));
        value_set(info, "hyper", h);
    }
    if (c && r) {
        value *t = value_map();
        value_set(t, "seed", value_int((int64_t)c->seed));
        value_set(t, "epochs_run", value_int(r->epochs_run));
        value_set(t, "best_epoch", value_int(r->best_epoch));
        value_set(t, "rows", value_int((int64_t)r->rows));
        value_set(t, "final_loss", value_float(r->final_loss));
        if (isfinite(r->best_val_accuracy)) value_set(t, "val_accuracy", value_float(r->best_val_accuracy));
        value_set(info, "training", t);
    }
    const char *keys[2] = {STREAM_META_CLASSES, STREAM_META_FEATURES};
    for (int i = 0; i < 2; i++) {
        const value *v = meta ? value_get(meta, keys[i]) : NULL;
        if (v && v->kind == VALUE_ARRAY) value_set(info, keys[i], value_copy(v));
    }
    if (nn_params_save(&m->params, f, e) < 0) return model_file_free(f), NULL;
    return f;
}

mlp *mlp_load(const model_file *f, error *e)
{
    const value *info = f->info;
    int F = value_get_size(info, "features"), K = value_get_size(info, "classes");
    const value *h = value_get(info, "hidden");
    if (F < 1 || K < 2 || !h || h->kind != VALUE_ARRAY || h->n > MLP_MAX_HIDDEN)
        return error_set(e, "model info lacks a valid architecture (features, classes, hidden)"), NULL;
    int hidden[MLP_MAX_HIDDEN];
    for (size_t i = 0; i < h->n; i++) {
        hidden[i] = value_size(h->items[i]);
        if (hidden[i] < 1) return error_set(e, "model info has a bad hidden layer size"), NULL;
    }
    const value *bn = value_get(info, "batch_norm");
    mlp *m = build(F, K, (int)h->n, hidden, bn && bn->kind == VALUE_BOOL && bn->b, f, e);
    if (!m) return NULL;
    if (nn_params_load(&m->params, f, e) < 0) return mlp_free(m), NULL;
    return m;
}
