/* mlp_train.c: the classifier's training: batches, steps, epochs, early stopping, checkpoints. */
#include "mlp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "dist.h"
#include "gemm.h"
#include "imageops.h"
#include "params.h"
#include "trainctl.h"

/* The unlabelled batch of a step with VAT, entropy minimisation or FixMatch. Batch norm's running averages
 * follow the labelled passes alone (mlp_net's passes leave them): moved by the unlabelled batches'
 * statistics too, they scored 25-45% on a Fashion-MNIST validation split where these score 65-75%
 * (docs/notes/2026-12-07-vat-mnist.md). */
typedef struct unlab_ws {
    int cap;                            /* rows a step, 0 without an unlabelled term */
    const float *rows;                  /* (nrows, features) every training row, drawn from */
    size_t nrows;
    float *x;                           /* (cap, features) the step's rows */
    vat_config cfg;                     /* the config's, FixMatch's views moved and mirrored as the batches */
    vat_ws vat;
    mlp_net *net;
} unlab_ws;

/* Everything a training step touches, sized once for batches of up to cap rows. */
typedef struct train_ws {
    int cap;
    mlp_acts act;                       /* a0 (cap, features): the batch's rows */
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
    mlp_acts_free(&w->act);
    mlp_net_free(w->u.net);
    free(w->u.x);
    vat_ws_free(&w->u.vat);
    for (int l = 0; l <= MLP_MAX_HIDDEN; l++) free(w->mask[l]);
    free(w->yb), free(w->wb), free(w->order), free(w->best), free(w->row);
}

/* The smallest and largest of x (n): the range FixMatch's jittered views are clipped to. */
static void value_range(const float *x, size_t n, float *lo, float *hi)
{
    *lo = n ? x[0] : 0, *hi = n ? x[0] : 0;
    for (size_t i = 1; i < n; i++) {
        *lo = x[i] < *lo ? x[i] : *lo;
        *hi = x[i] > *hi ? x[i] : *hi;
    }
}

/* The unlabelled batch's buffers: c->ubatch (default --batch) rows drawn from all n rows of d. */
static int unlab_alloc(unlab_ws *u, const mlp *m, const mlp_config *c, const mlp_data *d, error *e)
{
    size_t want = (size_t)(c->ubatch > 0 ? c->ubatch : c->batch);
    u->cap = (int)(want < d->n ? want : d->n);
    u->rows = d->x, u->nrows = d->n;
    u->cfg = c->vat;
    image_views *v = &u->cfg.views;
    if (c->shift > 0 || c->flip || v->cutout > 0 || v->jitter > 0) v->h = c->img_h, v->w = c->img_w;
    v->shift = c->shift, v->flip = c->flip;
    value_range(d->x, d->n * (size_t)mlp_features(m), &v->lo, &v->hi);
    if (!(u->net = mlp_net_new(m, u->cap, c->pool, e)) ||
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
    if (mlp_acts_alloc(&w->act, m, 0, cap, e) < 0) return -1;
    if (vat_active(&c->vat) && unlab_alloc(&w->u, m, c, d, e) < 0) return -1;
    int bad = 0;
    if (c->dropout > 0)
        for (int l = 1; l < m->nlayers; l++) bad |= !(w->mask[l] = malloc((size_t)cap * m->sizes[l] * sizeof(float)));
    bad |= !(w->yb = malloc((size_t)cap * sizeof *w->yb));
    int has_w = src ? stream_schema_find(datasource_schema(src), "w") >= 0 : d->w != NULL;
    if (has_w) bad |= !(w->wb = malloc((size_t)cap * sizeof *w->wb));
    if (!src) bad |= !(w->order = malloc(nlab * sizeof *w->order));   /* a source keeps its own order */
    if (keep_best) bad |= !(w->best = malloc(m->params.total * sizeof(float)));
    if (c->shift > 0 || c->flip) bad |= !(w->row = malloc((size_t)mlp_features(m) * sizeof(float)));
    if (bad) return error_set(e, "out of memory for the training workspace");
    size_t j = 0;
    for (size_t i = 0; w->order && i < d->n; i++)
        if (d->y[i] >= 0) w->order[j++] = (int)i;
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

/* Moves each of this process's B gathered rows (first.. of a global batch of G) by a random shift
 * and, with c->flip, mirrors it with probability 1/2; the draws are made for all G rows, as one
 * process does (no draw for what is off, so shifts alone draw as they always did). */
static void move_rows(train_ws *w, const mlp_config *c, int F, int B, int G, int first, rng *r)
{
    float *a0 = nn_data(&w->act.t, w->act.ia[0]);   // (B, F)
    for (int i = 0; i < G; i++) {
        int dy = 0, dx = 0, mirror = 0;
        if (c->shift > 0) image_draw_shift(r, c->shift, &dy, &dx);
        if (c->flip) mirror = (int)rng_below(r, 2);
        if (i < first || i >= first + B) continue;
        float *x = a0 + (size_t)(i - first) * F;
        memcpy(w->row, x, (size_t)F * sizeof(float));
        image_shift(x, w->row, c->img_h, c->img_w, dy, dx);
        if (mirror) image_flip(x, c->img_h, c->img_w);
    }
}

/* The unlabelled term of a step: u->cap rows drawn at random from every training row, and vat.h's
 * loss on them; its gradient added to the parameters'. Returns the loss. */
static double unlab_step(unlab_ws *u, rng *r)
{
    size_t F = (size_t)mlp_net_vat(u->net)->features;
    for (int i = 0; i < u->cap; i++)
        memcpy(u->x + i * F, u->rows + rng_below(r, u->nrows) * F, F * sizeof(float));
    return vat_loss(mlp_net_vat(u->net), &u->cfg, &u->vat, u->x, u->cap, 1.0f, r);
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
    mlp_acts *A = &w->act;
    if (c->shift > 0 || c->flip) move_rows(w, c, mlp_features(m), B, G, first, r);
    float *masks[MLP_MAX_HIDDEN + 1] = {0};   /* this process's rows of each hidden layer's mask */
    for (int l = 1; l < L && w->mask[l]; l++) {
        nn_dropout_mask(w->mask[l], (size_t)G * m->sizes[l], (float)c->dropout, r);
        masks[l] = w->mask[l] + (size_t)first * m->sizes[l];
    }
    const float *x0 = nn_data(&A->t, A->ia[0]);
    float *probs = mlp_forward(m, c->pool, A, x0, masks, B, 1);   // (B, K), the logits replaced in place
    double loss = nn_softmax_xent_forward(probs, probs, w->yb, w->wb, B, K) / G;
    nn_softmax_xent_backward(nn_grad(&A->t, A->ia[L]), probs, w->yb, w->wb, B, K, 1.0f / (float)G);
    mlp_backward(m, c->pool, A, x0, masks, B, NULL, 1);
    if (w->u.cap) loss += unlab_step(&w->u, r);
    /* coupled L2 on the weights: dW += alpha/G W, loss += alpha/(2G) ||W||^2 (one fused loop) */
    float a = dist_rank() == 0 ? (float)(c->alpha / G) : 0.0f;
    double sq = 0;
    const nn_params *P = &m->params;
    for (int l = 0; l < L && a > 0; l++)
        sq += nn_l2_add(nn_grad(P, m->iw[l]), nn_data(P, m->iw[l]), a, P->t[m->iw[l]].size);
    for (int j = 0; j < m->conv.n && a > 0; j++)
        sq += nn_l2_add(nn_grad(P, m->icw[j]), nn_data(P, m->icw[j]), a, P->t[m->icw[j]].size);
    return loss + 0.5 * c->alpha * sq / G;
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
    for (int j = 0; j < m->conv.n; j++) {   /* a product per chunk of images */
        const conv_shape *s = &m->cs[j];
        long mnk = (long)conv_chunk(s, c->batch) * s->OH * s->OW * s->K * conv_patch(s);
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
        return error_set(e, "VAT, entropy minimisation and FixMatch train on rows in memory, in one process");
    if (c->vat.fixmatch > 0 && (c->shift > 0 || c->flip || c->vat.views.cutout > 0 || c->vat.views.jitter > 0) &&
        (long)c->img_h * c->img_w != mlp_features(m))
        return error_set(e, "FixMatch's views need images: %d x %d pixels for %d features", c->img_h, c->img_w,
                         mlp_features(m));
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
    mlp_init_weights(m, &r);
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
