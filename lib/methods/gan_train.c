/* gan_train.c: the GAN's training loop: epochs, the learning-rate schedule, checkpoints and
 * sharded (MPI) steps. */
#include "gan_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "params.h"
#include "trainctl.h"

#define SPREAD_ROWS 100

static int diverged(double loss, double max) { return !isfinite(loss) || loss > max; }

typedef struct train_bufs {
    int *lab, *perm, *idx_lab;   /* perm: the rows of the data spread */
    float *sample;
} train_bufs;

static void bufs_free(train_bufs *b)
{
    free(b->lab);
    free(b->perm);
    free(b->idx_lab);
    free(b->sample);
}

/* This process's share of every step (dist.h), from the global batch of B rows a part: rows
 * [rank b, (rank + 1) b) of each part; nothing on one process. */
static int share_begin(gan *m, int B, error *e)
{
    int P = dist_size();
    if (P == 1) return 0;
    if (B % P)
        return error_set(e, "a step's batch of %d rows (--batch, or every row when fewer) does not divide among %d processes", B, P);
    m->share.B = B, m->share.b = B / P, m->share.first = dist_rank() * (B / P);
    return 0;
}

/* The epoch's sums over every process's share. */
static int reduce_stats(gan_stats *st, error *e)
{
    double v[10] = {st->loss_lab, st->loss_unl, st->loss_g, st->lab_correct, st->real_correct, st->fake_correct, st->rows,
                    st->loss_ent, st->loss_cons, st->loss_vat};
    if (dist_allreduce_sum_f64(v, 10, e) < 0) return -1;
    st->loss_lab = v[0], st->loss_unl = v[1], st->loss_g = v[2];
    st->lab_correct = (int)v[3], st->real_correct = (int)v[4], st->fake_correct = (int)v[5], st->rows = (int)v[6];
    st->loss_ent = v[7], st->loss_cons = v[8], st->loss_vat = v[9];
    return 0;
}

/* x of this process's share of src's next batch of B rows, or NULL with e set. */
static const float *unl_batch(datasource *src, int B, rng *r, error *e)
{
    datasource_batch bt;
    int got = datasource_next(src, (size_t)B, r, &bt, e);
    if (got == 1 && bt.global == (size_t)B) return stream_table_col(bt.rows, "x");
    if (got >= 0) error_set(e, "the rows ran out before the end of the epoch");
    return NULL;
}

/* The epoch's last rows, short of a batch, go unused; a stream reads them (and checks its end). */
static int drain(datasource *src, int B, rng *r, error *e)
{
    datasource_batch bt;
    int got;
    while ((got = datasource_next(src, (size_t)B, r, &bt, e)) == 1) {}
    return got;
}

/* Checks the labels and lists the labelled rows into b->lab; returns their count or -1. */
static long list_labelled(const gan *m, const gan_data *d, int *lab, error *e)
{
    long nlab = 0;
    for (size_t i = 0; d->y && i < d->n; i++) {
        if (d->y[i] >= m->a.classes || d->y[i] < -1)
            return error_set(e, "row %zu: label %d, but the model has %d classes", i + 1, (int)d->y[i], m->a.classes);
        if (d->y[i] < 0) continue;
        lab[nlab++] = (int)i;
    }
    if (!nlab) return error_set(e, "no labelled rows (y >= 0): the discriminator needs some");
    return nlab;
}

/* End-of-epoch metrics: losses, accuracies, the sample spread and the validation accuracy. */
static int epoch_metrics(gan *m, const gan_stats *st, int steps, double data_spread, float *sample,
                         const gan_data *val, trainlog *log, rng *r, error *e)
{
    int nrows = st->rows;
    int ns = data_spread > 0 ? SPREAD_ROWS : 0;
    double spread = NAN;
    if (ns && gan_sample(m, (size_t)ns, -1, r, sample, NULL, e)) return -1;
    if (ns) spread = gan_mean_pairwise_dist(sample, ns, m->a.features) / data_spread;
    if (!log) return 0;
    trainlog_metric(log, "d_loss", (st->loss_lab + st->loss_unl) / steps);
    trainlog_metric(log, "lab_loss", st->loss_lab / steps);
    trainlog_metric(log, "unl_loss", st->loss_unl / steps);
    if (m->ent_weight > 0) trainlog_metric(log, "ent_loss", st->loss_ent / steps);
    if (m->cons_weight > 0) trainlog_metric(log, "cons_loss", st->loss_cons / steps);
    if (vat_active(&m->vat)) trainlog_metric(log, "vat_loss", st->loss_vat / steps);
    trainlog_metric(log, "g_loss", st->loss_g / steps);
    trainlog_metric(log, "train_accuracy", (double)st->lab_correct / nrows);
    trainlog_metric(log, "d_real_acc", (double)st->real_correct / nrows);
    trainlog_metric(log, "d_fake_acc", (double)st->fake_correct / nrows);
    if (ns) trainlog_metric(log, "sample_spread", spread);
    if (val && val->n) {
        double acc;
        if (gan_accuracy(m, val, &acc, e)) return -1;
        trainlog_metric(log, "val_accuracy", acc);
        if (m->a.ema) {   /* and the last weights' accuracy, to see what the average buys */
            m->a.ema = 0;
            int rc = gan_accuracy(m, val, &acc, e);
            m->a.ema = 1;
            if (rc) return -1;
            trainlog_metric(log, "val_accuracy_last", acc);
        }
    }
    return 0;
}

/* One epoch of steps; a diverged loss stops with the place named. */
static int train_epoch(gan *m, const gan_config *c, const gan_source *src, train_bufs *b, long nlab, long *lab_pos,
                       adam *ad, adam *ag, int epoch, gan_stats *st, trainlog *log, rng *r, error *e)
{
    int B = m->ws->B, steps = (int)(datasource_rows(src->unl[0]) / (size_t)B);
    double P = m->share.B ? (double)m->share.B / m->share.b : 1;   /* a share's loss times P: about the step's */
    if (datasource_epoch(src->unl[0], r, e) < 0 || datasource_epoch(src->unl[1], r, e) < 0) return -1;
    nn_params_zero_grad(m->pool, &m->d);   /* once: adam_step_clear leaves them zero for the next step */
    nn_params_zero_grad(m->pool, &m->g);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B; i++) {
            if (*lab_pos == nlab) rng_shuffle(r, b->lab, (size_t)nlab), *lab_pos = 0;
            b->idx_lab[i] = b->lab[(*lab_pos)++];
        }
        const float *unl = unl_batch(src->unl[0], B, r, e);
        if (!unl) return -1;
        double ld = gan_d_grad_rows(m, src->lab.x, src->lab.y, b->idx_lab, unl, r, st);
        if (dist_allreduce_sum(m->d.grad, m->d.total, e) < 0) return -1;
        if (diverged(ld * P, c->max_loss))
            return error_set(e, "epoch %d, batch %d: discriminator loss is %g: training diverged", epoch, s + 1, ld * P);
        adam_step_clear(ad, m->pool, m->d.data, m->d.grad);
        m->eff_d = 0;
        gan_ema_update(m, c->ema_decay, (long)(epoch - 1) * steps + s);
        if (!(unl = unl_batch(src->unl[1], B, r, e))) return -1;
        double lg;
        if (gan_g_grad_rows(m, unl, r, st, &lg, e) < 0 || dist_allreduce_sum(m->g.grad, m->g.total, e) < 0) return -1;
        if (diverged(lg * P, c->max_loss))
            return error_set(e, "epoch %d, batch %d: generator loss is %g: training diverged", epoch, s + 1, lg * P);
        adam_step_clear(ag, m->pool, m->g.data, m->g.grad);
        m->eff_g = 0;
        if (log && trainlog_batch(log, (size_t)s + 1, (size_t)(s + 1) * B, ld)) return 0;   /* interrupted */
    }
    return drain(src->unl[0], B, r, e) < 0 || drain(src->unl[1], B, r, e) < 0 ? -1 : 0;
}

/* The whole training state after an epoch, for trainctl (a checkpoint that also loads as a model). */
static model_file *state_save(const gan *m, const train_bufs *b, long nlab, long lab_pos, const adam *ad,
                              const adam *ag, const rng *r, error *e)
{
    model_file *f = gan_save(m, e);
    if (!f) return NULL;
    trainctl_put_rng(f, "rng", r);
    trainctl_put_num(f, "lab_pos", (double)lab_pos);
    if (trainctl_put_adam(f, "adam_d", ad, e) || trainctl_put_adam(f, "adam_g", ag, e) ||
        trainctl_put_ints(f, "lab", b->lab, (size_t)nlab, e))
        return model_file_free(f), NULL;
    return f;
}

static int state_load(gan *m, const model_file *f, train_bufs *b, long nlab, long *lab_pos, adam *ad, adam *ag,
                      rng *r, error *e)
{
    double pos;
    if (nn_params_load(&m->d, f, e) || nn_params_load(&m->g, f, e) || nn_params_load(&m->stat, f, e) ||
        (m->a.ema && nn_params_load(&m->avg, f, e)) || trainctl_get_rng(f, "rng", r, e) ||
        trainctl_get_num(f, "lab_pos", &pos, e) || trainctl_get_adam(f, "adam_d", ad, e) ||
        trainctl_get_adam(f, "adam_g", ag, e) || trainctl_get_ints(f, "lab", b->lab, (size_t)nlab, e))
        return -1;
    *lab_pos = (long)pos;
    m->eff_d = m->eff_g = 0;
    gan_refresh_weights(m);
    return 0;
}

static int train_loop(gan *m, const gan_config *c, const gan_source *src, const gan_data *val, trainlog *log,
                      gan_epoch_fn cb, void *ctx, train_bufs *b, adam *ad, adam *ag, error *e)
{
    const gan_arch *a = &m->a;
    const gan_data *in = &src->init;
    rng r;
    rng_seed(&r, c->seed);
    long nlab = list_labelled(m, &src->lab, b->lab, e);
    if (nlab < 0) return -1;
    size_t N = datasource_rows(src->unl[0]);
    int B = c->batch < (int)N ? c->batch : (int)N;
    if (gan_init_weights(m, in->x, in->n, B, &r, e) || share_begin(m, B, e) ||
        adam_init_params(ad, &m->d, e) || adam_init_params(ag, &m->g, e))
        return -1;
    ad->beta1 = ag->beta1 = (float)c->beta1;
    /* the authors' Adam (nn.adam_updates): m_hat / sqrt(v_hat + 1e-8). With eps outside the root,
     * weights whose gradients have all but vanished still move by about lr a step, and D's
     * real/fake loss now and then runs away to 0 while G's feature matching loss reaches 50-100 */
    ad->eps = ag->eps = 0.0f;
    ad->eps_sqrt = ag->eps_sqrt = 1e-8f;
    /* the data's own spread, the yardstick of the samples' */
    int ns = in->n >= 2 ? (int)(in->n < SPREAD_ROWS ? in->n : SPREAD_ROWS) : 0;
    for (int i = 0; i < ns; i++) b->perm[i] = (int)rng_below(&r, in->n);
    gan_gather(b->sample, in->x, b->perm, ns, a->features);
    double data_spread = ns == SPREAD_ROWS ? gan_mean_pairwise_dist(b->sample, ns, a->features) : 0;
    int steps = (int)(N / (size_t)B);
    if (log) trainlog_plan(log, c->epochs, (size_t)steps * B, (size_t)steps);
    long lab_pos = nlab;
    trainctl *ctl = log ? log->ctl : NULL;
    int first = trainctl_resume_epoch(ctl) + 1;
    if (ctl && ctl->resume ? trainctl_named(ctl, state_load(m, ctl->resume, b, nlab, &lab_pos, ad, ag, &r, e), e)
                           : ctl && trainctl_epoch_end(ctl, state_save(m, b, nlab, lab_pos, ad, ag, &r, e), 0, e))
        return -1;
    for (int epoch = first; epoch <= c->epochs; epoch++) {
        if (log) trainlog_epoch_begin(log, epoch);
        ad->lr = ag->lr = (float)adam_linear_decay(c->lr, epoch, c->epochs, c->lr_decay_start);
        gan_stats st = {0};
        if (train_epoch(m, c, src, b, nlab, &lab_pos, ad, ag, epoch, &st, log, &r, e)) return -1;
        if (trainlog_stopped(log)) return 0;
        if (reduce_stats(&st, e) || epoch_metrics(m, &st, steps, data_spread, b->sample, val, log, &r, e)) return -1;
        if (log && trainlog_epoch_end(log, e)) return -1;
        if (cb && cb(m, epoch, ctx, e)) return -1;
        if (ctl && trainctl_epoch_end(ctl, state_save(m, b, nlab, lab_pos, ad, ag, &r, e), epoch, e)) return -1;
    }
    if (log) trainlog_finish(log);
    return 0;
}

int gan_train_source(gan *m, const gan_config *c, const gan_source *s, const gan_data *val, trainlog *log,
                     gan_epoch_fn cb, void *ctx, error *e)
{
    size_t N = datasource_rows(s->unl[0]);
    if (N == 0 || s->init.n == 0) return error_set(e, "no rows to train on");
    if (N > (size_t)1 << 30) return error_set(e, "%zu rows: too many", N);
    if (datasource_rows(s->unl[1]) != N) return error_set(e, "the two passes over the rows differ");
    if (c->batch < 1 || c->epochs < 0) return error_set(e, "bad batch size or epoch count");
    if (vat_active(&c->vat) && dist_size() > 1)   /* the directions are drawn for this process's rows alone */
        return error_set(e, "VAT and entropy minimisation train in one process (no mpirun)");
    if (c->vat.fixmatch > 0) return error_set(e, "FixMatch is not a term of the GAN's D (it has --consistency)");
    if ((c->shift > 0 || c->unl_shift > 0 || c->cons_weight > 0) && (c->img_h < 1 || c->img_w < 1 || (long)c->img_h * c->img_w != m->a.features))
        return error_set(e, "shifts and flips need images: %d x %d pixels for %d features", c->img_h, c->img_w, m->a.features);
    m->cond_weight = (float)c->cond_weight;
    m->unl_weight = (float)c->unl_weight;
    m->ent_weight = (float)c->ent_weight;
    m->cons_weight = (float)c->cons_weight;
    m->cons_shift = c->cons_shift, m->cons_flip = c->cons_flip;
    m->ms_weight = (float)c->ms_weight;
    m->shift = c->shift, m->unl_shift = c->unl_shift, m->img_h = c->img_h, m->img_w = c->img_w;
    m->vat = c->vat;
    int B = c->batch < (int)N ? c->batch : (int)N;
    for (int k = 0; k < 2; k++) datasource_shard(s->unl[k], dist_rank(), dist_size());
    train_bufs b = {0};
    b.lab = malloc((s->lab.n ? s->lab.n : 1) * sizeof(int));
    b.perm = malloc((size_t)SPREAD_ROWS * sizeof(int));
    b.idx_lab = malloc((size_t)B * sizeof(int));
    b.sample = malloc((size_t)SPREAD_ROWS * m->a.features * sizeof(float));
    adam ad = {0}, ag = {0};
    int rc = -1;
    if (!b.lab || !b.perm || !b.idx_lab || !b.sample) error_set(e, "out of memory");
    else rc = train_loop(m, c, s, val, log, cb, ctx, &b, &ad, &ag, e);
    memset(&m->share, 0, sizeof m->share);   /* predicting and sampling see every row */
    adam_free(&ad);
    adam_free(&ag);
    bufs_free(&b);
    return rc;
}

int gan_train(gan *m, const gan_config *c, const gan_data *tr, const gan_data *val, trainlog *log,
              gan_epoch_fn cb, void *ctx, error *e)
{
    if (tr->n == 0) return error_set(e, "no rows to train on");
    if (tr->n > (size_t)1 << 30) return error_set(e, "%zu rows: too many", tr->n);
    gan_source s = {*tr, {NULL, NULL}, *tr};
    int rc = -1;
    if ((s.unl[0] = datasource_memory_x(tr->x, tr->n, m->a.features, e)) &&
        (s.unl[1] = datasource_memory_x(tr->x, tr->n, m->a.features, e)))
        rc = gan_train_source(m, c, &s, val, log, cb, ctx, e);
    datasource_free(s.unl[0]);
    datasource_free(s.unl[1]);
    return rc;
}
