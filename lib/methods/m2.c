#include "m2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "imageops.h"
#include "m2_impl.h"
#include "params.h"

/* m2_new; with from, the parameters must be in that file (nn_params_check) before anything is allocated. */
static int build(m2 *m, const vaenet_arch *a, int K, const m2_aux *aux, int max_lab, int max_unl,
                 const model_file *from, error *e)
{
    memset(m, 0, sizeof *m);
    m->a = *a;
    m->K = K;
    if (aux) m->aux = *aux;
    rng_seed(&m->pred_rng, 0x5a3b1e);
    int A = m2_aux_width(m);
    m->max_in = max_lab + max_unl;
    m->max_rows = max_lab + max_unl * K;
    int rev[VAENET_MAX_HIDDEN];
    for (int l = 0; l < a->nhidden; l++) rev[l] = a->hidden[a->nhidden - 1 - l];
    nn_params_init(&m->p);
    size_t Z = (size_t)a->latent, D = (size_t)a->in, R = (size_t)m->max_rows, I = (size_t)m->max_in;
    int dec_in = a->latent + (m->aux.kind == M2_SDGM ? A : 0);   /* the classifier and encoder see [x | a] */
    if (dnet_declare(&m->cls, &m->p, "cls", a->in + A, 0, a->nhidden, a->hidden, K, a->act, e) < 0 ||
        dnet_declare(&m->enc, &m->p, "enc", a->in + A, K, a->nhidden, a->hidden, 2 * a->latent, a->act, e) < 0 ||
        dnet_declare(&m->dec, &m->p, "dec", dec_in, K, a->nhidden, rev, vaenet_lik_width(a->lik, a->in), a->act, e) < 0 ||
        (A && m2_aux_declare(m, e) < 0) || (from && nn_params_check(&m->p, from, e) < 0) ||
        nn_params_alloc(&m->p, e) < 0 || dnet_alloc(&m->cls, m->max_in, m->max_in, e) < 0 ||
        dnet_alloc(&m->enc, m->max_in, m->max_rows, e) < 0 || dnet_alloc(&m->dec, m->max_rows, m->max_rows, e) < 0 ||
        (A && m2_aux_alloc(m, e) < 0))
        goto fail;
    size_t floats = I * D + D + 2 * R * Z + (R * Z + I * (size_t)A) + 3 * R + 2 * I * K;   /* eps: z's, a's */
    m->mem = nn_alloc_zeroed(floats * sizeof(float) + (2 * R + I) * sizeof(int));   /* mapped now, as dnet_alloc */
    if (!m->mem) {
        error_set(e, "out of memory for the M2 workspace");
        goto fail;
    }
    float *q = m->mem;
    m->xin = q, q += I * D;
    m->row = q, q += D;
    m->z = q, q += R * Z;
    m->dz = q, q += R * Z;
    m->eps = q, q += R * Z + I * (size_t)A;
    m->rec = q, q += R;
    m->kl = q, q += R;
    m->w = q, q += R;
    m->logq = q, q += I * K;
    m->q = q, q += I * K;
    m->src = (int *)q;
    m->ycls = m->src + R;
    m->yin = m->ycls + R;
    m->info = value_map();
    return 0;
fail:
    m2_free(m);
    return -1;
}

int m2_new(m2 *m, const vaenet_arch *a, int K, int max_lab, int max_unl, error *e)
{
    return build(m, a, K, NULL, max_lab, max_unl, NULL, e);
}

int m2_new_aux(m2 *m, const vaenet_arch *a, int K, const m2_aux *aux, int max_lab, int max_unl, error *e)
{
    if (aux && aux->kind != M2_PLAIN && aux->size < 1) return error_set(e, "the auxiliary variable needs a size >= 1");
    return build(m, a, K, aux, max_lab, max_unl, NULL, e);
}

void m2_set_pool(m2 *m, par_pool *pool)
{
    m->pool = m->cls.pool = m->enc.pool = m->dec.pool = m->qa.pool = m->pa.pool = pool;
}

void m2_init_weights(m2 *m, rng *r)
{
    dnet_init(&m->cls, &m->p, r);
    dnet_init(&m->enc, &m->p, r);
    dnet_init(&m->dec, &m->p, r);
    if (m2_aux_width(m)) {
        dnet_init(&m->qa, &m->p, r);
        dnet_init(&m->pa, &m->p, r);
    }
}

void m2_free(m2 *m)
{
    dnet_free(&m->cls);
    dnet_free(&m->enc);
    dnet_free(&m->dec);
    m2_aux_free(m);
    nn_params_free(&m->p);
    vat_ws_free(&m->vws);
    free(m->mem);
    value_free(m->info);
    m->mem = NULL;
    m->info = NULL;
}

void m2_log_softmax(float *logq, float *q, const float *logits, int B, int K)
{
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K;
        float *lq = logq + (size_t)i * K, *p = q + (size_t)i * K;
        float mx = l[0], s = 0;
        for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < K; k++) s += expf(l[k] - mx);
        float lse = mx + logf(s);
        for (int k = 0; k < K; k++) {
            lq[k] = l[k] - lse;
            p[k] = expf(lq[k]);
        }
    }
}

static int argmax(const float *p, int K)
{
    int best = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* The rows of the expanded batch, as indices into the input rows (src) and classes (ycls): labelled
 * row i keeps its label; unlabelled row u becomes K rows. */
static int expand_rows(m2 *m, const int *y, int nl, int nu)
{
    int K = m->K, R = 0;
    for (int i = 0; i < nl; i++, R++) m->src[R] = i, m->ycls[R] = y[i];
    for (int u = 0; u < nu; u++)
        for (int k = 0; k < K; k++, R++) m->src[R] = nl + u, m->ycls[R] = k;
    return R;
}

/* The step loss's weight of each labelled row's L (*wl), of each unlabelled row's U (*wu) and of each
 * labelled row's -log q(y|x) (*wx), for a global batch of NL labelled and NU unlabelled rows. */
static void row_weights(const m2 *m, int NL, int NU, float alpha, float *wl, float *wu, float *wx)
{
    if (m->weighting == M2_WEIGHT_ROWS) {
        *wl = *wu = 1.0f / (float)(NL + NU);
    } else {
        *wl = NL ? 1.0f / (float)NL : 0.0f;
        *wu = NU ? 1.0f / (float)NU : 0.0f;
    }
    *wx = alpha * *wl;
}

/* The step loss (m2_weighting) from the forward's buffers, over NL labelled and NU unlabelled rows
 * (the global batch's, of which these are a share). */
static double step_objective(const m2 *m, const int *y, int nl, int nu, int NL, int NU, float alpha, float beta)
{
    int K = m->K;
    double logK = log((double)K), lab = 0, unl = 0, xent = 0;
    for (int i = 0; i < nl; i++) {
        lab += (double)m->rec[i] + beta * m->kl[i] + logK;
        xent -= m->logq[(size_t)i * K + y[i]];
    }
    for (int u = 0; u < nu; u++)
        for (int k = 0; k < K; k++) {
            size_t r = (size_t)nl + (size_t)u * K + k, c = (size_t)(nl + u) * K + k;
            unl += (double)m->q[c] * (m->rec[r] + beta * m->kl[r] + logK + m->logq[c]);
        }
    float wl, wu, wx;
    row_weights(m, NL, NU, alpha, &wl, &wu, &wx);
    return wl * lab + wx * xent + wu * unl;
}

/* The per-row weights of L in the gradient: wl for labelled rows, wu q(k|x) for the class copies. */
static void lik_weights(m2 *m, int nl, int nu, float wl, float wu)
{
    int K = m->K;
    for (int i = 0; i < nl; i++) m->w[i] = wl;
    for (int u = 0; u < nu; u++)
        for (int k = 0; k < K; k++) m->w[nl + u * K + k] = wu * m->q[(size_t)(nl + u) * K + k];
}

/* m2_forward_backward over a share (nl, nu rows) of a global batch of NL labelled and NU unlabelled
 * rows: the step loss's means and gradients are over the global batch (dist.h). */
static void forward_backward(m2 *m, const float *x, const int *y, int nl, int nu, int NL, int NU, const float *eps,
                             float alpha, float beta, int grad, m2_loss *loss)
{
    int K = m->K, Z = m->a.latent, D = m->a.in, nin = nl + nu, aux = m2_aux_width(m) > 0;
    float logK = logf((float)K);
    const float *eps_a = eps + (size_t)(nl + nu * K) * Z;
    const float *xin = aux ? m2_aux_draw(m, x, nin, eps_a) : x;   /* the classifier's and encoder's input */
    const float *logits = dnet_forward(&m->cls, &m->p, xin, nin, nin, NULL, NULL);   // (nin, K)
    m2_log_softmax(m->logq, m->q, logits, nin, K);
    int R = expand_rows(m, y, nl, nu);
    float *h = dnet_forward(&m->enc, &m->p, xin, nin, R, m->src, m->ycls);     // (R, 2Z)
    vaenet_latent_forward(m->z, m->kl, h, eps, R, Z);
    const float *zin = aux ? m2_aux_dec_in(m, R) : m->z;
    float *o = dnet_forward(&m->dec, &m->p, zin, R, R, NULL, m->ycls);        // (R, width)
    float wl, wu, wx;
    row_weights(m, NL, NU, alpha, &wl, &wu, &wx);
    if (grad) lik_weights(m, nl, nu, wl, wu);
    vaenet_lik_nll(m->pool, m->a.lik, m->rec, grad ? dnet_dout(&m->dec) : NULL, o, x, m->src, m->w, 1.0f, R, D);
    if (aux) m2_aux_bound(m, x, nin, R, beta, grad);   /* kl: z's KL and a's term */
    for (int i = 0; i < nl; i++) {
        loss->lab += (double)m->rec[i] + m->kl[i] + logK;
        loss->xent -= m->logq[(size_t)i * K + y[i]];
        loss->correct += argmax(m->q + (size_t)i * K, K) == y[i];
    }
    for (int u = 0; u < nu; u++) {
        const float *q = m->q + (size_t)(nl + u) * K, *lq = m->logq + (size_t)(nl + u) * K;
        const float *rec = m->rec + nl + (size_t)u * K, *kl = m->kl + nl + (size_t)u * K;
        for (int k = 0; k < K; k++) loss->unl += (double)q[k] * (rec[k] + kl[k] + logK + lq[k]);
    }
    loss->nlab += (size_t)nl;
    loss->nunl += (size_t)nu;
    loss->obj += step_objective(m, y, nl, nu, NL, NU, alpha, beta);
    loss->steps++;
    if (!grad) return;

    dnet_backward(&m->dec, &m->p, m->aux.kind == M2_SDGM ? m->dcat : m->dz, zin, R, R, NULL, m->ycls);
    if (aux) m2_aux_gen_backward(m, R);
    vaenet_latent_backward(dnet_dout(&m->enc), h, m->dz, eps, m->w, beta, R, Z);
    dnet_backward(&m->enc, &m->p, aux ? m->dxa : NULL, xin, nin, R, m->src, m->ycls);
    if (aux) m2_aux_add_da(m, nin);

    /* classifier: wx (q - onehot) on labelled rows; on unlabelled rows U = sum_k q_k g_k with
     * g_k = L_k + log q_k (the +1 of d(q log q) vanishes since sum_k dq_k = 0), so
     * dU/dlogit_j = q_j (g_j - sum_k q_k g_k), scaled by wu. */
    float *dl = dnet_dout(&m->cls);   // (nin, K)
    for (int i = 0; i < nl; i++) {
        float *d = dl + (size_t)i * K;
        const float *q = m->q + (size_t)i * K;
        for (int k = 0; k < K; k++) d[k] = wx * q[k];
        d[y[i]] -= wx;
    }
    for (int u = 0; u < nu; u++) {
        float *d = dl + (size_t)(nl + u) * K;
        const float *q = m->q + (size_t)(nl + u) * K, *lq = m->logq + (size_t)(nl + u) * K;
        const float *rec = m->rec + nl + (size_t)u * K, *kl = m->kl + nl + (size_t)u * K;
        float mean = 0;
        for (int k = 0; k < K; k++) {
            d[k] = rec[k] + beta * kl[k] + logK + lq[k];
            mean += q[k] * d[k];
        }
        for (int k = 0; k < K; k++) d[k] = wu * q[k] * (d[k] - mean);
    }
    dnet_backward(&m->cls, &m->p, aux ? m->dxa : NULL, xin, nin, nin, NULL, NULL);
    if (!aux) return;
    m2_aux_add_da(m, nin);
    m2_aux_inf_backward(m, x, eps_a, nl, nu, wl, wu, beta);
}

void m2_forward_backward(m2 *m, const float *x, const int *y, int nl, int nu, const float *eps, float alpha,
                         float beta, int grad, m2_loss *loss)
{
    forward_backward(m, x, y, nl, nu, nl, nu, eps, alpha, beta, grad, loss);
}

size_t m2_noise_size(const m2 *m, int nl, int nu)
{
    return (size_t)(nl + nu * m->K) * m->a.latent + (size_t)(nl + nu) * m2_aux_width(m);
}

/* ---- training data ---- */

int m2_data_init(m2_data *d, const float *x, const int *y, size_t N, int K, error *e)
{
    memset(d, 0, sizeof *d);
    d->x = x, d->y = y, d->N = N;
    d->lab = malloc((N ? N : 1) * sizeof(int));
    d->unl = malloc((N ? N : 1) * sizeof(int));
    if (!d->lab || !d->unl) {
        m2_data_free(d);
        return error_set(e, "out of memory");
    }
    for (size_t i = 0; i < N; i++) {
        if (y[i] >= K || y[i] < -1) {
            m2_data_free(d);
            if (y[i] < -1) return error_set(e, "row %zu: label %d is negative (-1 marks an unlabelled row)", i + 1, y[i]);
            return error_set(e, "row %zu: label %d >= the model's %d classes", i + 1, y[i], K);
        }
        if (y[i] >= 0) d->lab[d->nlab++] = (int)i;
        else d->unl[d->nunl++] = (int)i;
    }
    return 0;
}

void m2_data_free(m2_data *d)
{
    free(d->lab);
    free(d->unl);
    d->lab = d->unl = NULL;
}

/* Copies the row x (D) into dst, plus sd * eps when sd is not NULL, binarised (Bernoulli draws with
 * means x) with binarise. */
static void copy_noisy(float *dst, const float *x, const float *sd, int binarise, int D, rng *r)
{
    memcpy(dst, x, (size_t)D * sizeof(float));
    for (int j = 0; sd && j < D; j++) dst[j] += sd[j] * rng_normal(r);
    for (int j = 0; binarise && j < D; j++) dst[j] = rng_uniform(r) < dst[j] ? 1.0f : 0.0f;
}

/* Copies row `row` of d->x into dst (D), plus d->xsd * eps when the rows carry an sd. */
static void copy_row(float *dst, const m2_data *d, size_t row, int D, rng *r)
{
    copy_noisy(dst, d->x + row * (size_t)D, d->xsd ? d->xsd + row * (size_t)D : NULL, d->binarise, D, r);
}

void m2_data_rows(const m2_data *d, const int *idx, int n, int D, float *dst, rng *r)
{
    for (int i = 0; i < n; i++) copy_row(dst + (size_t)i * D, d, (size_t)idx[i], D, r);
}

/* The next n labelled rows into m->xin / m->yin, reshuffling the labelled set when it runs out. */
static void draw_labelled(m2 *m, m2_data *d, int n, rng *r)
{
    int D = m->a.in;
    for (int i = 0; i < n; i++) {
        if (d->lab_pos == 0) rng_shuffle(r, d->lab, d->nlab);
        int row = d->lab[d->lab_pos];
        d->lab_pos = (d->lab_pos + 1) % d->nlab;
        float *dst = m->xin + (size_t)i * D;
        copy_row(m->shift ? m->row : dst, d, (size_t)row, D, r);
        if (m->shift) {
            int dy, dx;
            image_draw_shift(r, m->shift, &dy, &dx);
            image_shift(dst, m->row, m->img_h, m->img_w, dy, dx);
        }
        m->yin[i] = d->y[row];
    }
}

/* Keeps this process's share (dist.h) of the step's nl labelled and nu unlabelled rows in xin, yin
 * and eps, packed as forward_backward wants them (labelled, then unlabelled); the share's counts
 * into *snl, *snu. Every process drew the whole step, so the shares together are the whole step. */
static void keep_share(m2 *m, int nl, int nu, int *snl, int *snu)
{
    size_t rank = (size_t)dist_rank(), P = (size_t)dist_size(), L = (size_t)nl, U = (size_t)nu;
    size_t ll = rank * L / P, a = (rank + 1) * L / P - ll, ul = rank * U / P, b = (rank + 1) * U / P - ul;
    size_t D = (size_t)m->a.in, Z = (size_t)m->a.latent, K = (size_t)m->K;
    memmove(m->xin, m->xin + ll * D, a * D * sizeof(float));
    memmove(m->xin + a * D, m->xin + (L + ul) * D, b * D * sizeof(float));
    memmove(m->yin, m->yin + ll, a * sizeof(int));
    memmove(m->eps, m->eps + ll * Z, a * Z * sizeof(float));
    memmove(m->eps + a * Z, m->eps + (L + ul * K) * Z, b * K * Z * sizeof(float));
    size_t A = (size_t)m2_aux_width(m), ea = (L + U * K) * Z, sa = (a + b * K) * Z;   /* a's noise, after z's */
    memmove(m->eps + sa, m->eps + ea + ll * A, a * A * sizeof(float));
    memmove(m->eps + sa + a * A, m->eps + ea + (L + ul) * A, b * A * sizeof(float));
    *snl = (int)a, *snu = (int)b;
}

/* The step's nu unlabelled rows (from i0 of the epoch's order) into dst (nu, D): from d->unl, or
 * the next batch of d->unl_src. */
static int unlabelled_rows(const m2_data *d, size_t i0, int nu, int D, float *dst, rng *r, error *e)
{
    if (!d->unl_src) {
        m2_data_rows(d, d->unl + i0, nu, D, dst, r);
        return 0;
    }
    datasource_batch b;
    int got = datasource_next(d->unl_src, (size_t)nu, r, &b, e);
    if (got < 0) return -1;
    if (got == 0 || b.global != (size_t)nu) return error_set(e, "the unlabelled rows ran out early");
    const float *x = stream_table_col(b.rows, "x"), *sd = d->xsd ? stream_table_col(b.rows, "x_sd") : NULL;
    for (int i = 0; i < nu; i++)
        copy_noisy(dst + (size_t)i * D, x + (size_t)i * D, sd ? sd + (size_t)i * D : NULL, d->binarise, D, r);
    return 0;
}

/* The epoch's sums over every process's share (steps are the same on every process). */
static int reduce_loss(m2_loss *l, error *e)
{
    double v[8] = {l->lab, l->unl, l->xent, l->obj, (double)l->nlab, (double)l->nunl, (double)l->correct, l->vat};
    if (dist_allreduce_sum_f64(v, 8, e) < 0) return -1;
    l->lab = v[0], l->unl = v[1], l->xent = v[2], l->obj = v[3];
    l->nlab = (size_t)v[4], l->nunl = (size_t)v[5], l->correct = (size_t)v[6], l->vat = v[7];
    return 0;
}

/* The VAT and entropy term on the step's n rows in xin (labelled, as shifted, then unlabelled), one
 * process (m2_set_vat): into l's step loss, weighted alpha (m2.h). */
static void vat_term(m2 *m, int n, float alpha, rng *r, m2_loss *l)
{
    double v = m2_vat_loss(m, m->xin, n, alpha, r);
    l->vat += v;
    l->obj += alpha * v;
}

int m2_train_epoch(m2 *m, adam *opt, m2_data *d, int bl, int bu, float alpha, float beta, rng *r, trainlog *log,
                   m2_loss *loss, error *e)
{
    int D = m->a.in;
    if (bl > (int)d->nlab) bl = (int)d->nlab;
    int from_unl = d->nunl > 0;
    size_t n = from_unl ? d->nunl : d->nlab;
    int step = from_unl ? bu : bl;
    if (from_unl && d->unl_src && datasource_epoch(d->unl_src, r, e) < 0) return -1;
    if (from_unl && !d->unl_src) rng_shuffle(r, d->unl, d->nunl);
    nn_params_zero_grad(m->pool, &m->p);   /* once: adam_step_clear leaves them zero for the next step */
    m2_loss ep = {0};
    long nb = 0;
    for (size_t i0 = 0; i0 < n && step > 0; i0 += (size_t)step, nb++) {
        int b = (int)(n - i0 < (size_t)step ? n - i0 : (size_t)step);
        int nl = from_unl ? bl : b, nu = from_unl ? b : 0, snl, snu;
        draw_labelled(m, d, nl, r);
        if (nu && unlabelled_rows(d, i0, nu, D, m->xin + (size_t)nl * D, r, e) < 0) return -1;
        rng_fill_normal(r, m->eps, m2_noise_size(m, nl, nu));
        keep_share(m, nl, nu, &snl, &snu);
        m2_loss b_loss = {0};
        if (snl + snu) forward_backward(m, m->xin, m->yin, snl, snu, nl, nu, m->eps, alpha, beta, 1, &b_loss);
        if (vat_active(&m->vat)) vat_term(m, snl + snu, alpha, r, &b_loss);
        if (dist_allreduce_sum(m->p.grad, m->p.total, e) < 0) return -1;
        double total = b_loss.lab + b_loss.unl + b_loss.xent + b_loss.vat;
        if (!isfinite(total)) return error_set(e, "batch %ld: the loss is not finite (%g): lower --lr, or standardise x", nb + 1, total);
        adam_step_clear(opt, m->pool, m->p.data, m->p.grad);
        ep.lab += b_loss.lab, ep.unl += b_loss.unl, ep.xent += b_loss.xent;
        ep.nlab += b_loss.nlab, ep.nunl += b_loss.nunl, ep.correct += b_loss.correct;
        ep.obj += b_loss.obj, ep.vat += b_loss.vat, ep.steps++;
        if (log && trainlog_batch(log, (size_t)nb + 1, i0 + (size_t)b, ep.obj / (double)(nb + 1))) break;   /* interrupted */
    }
    if (reduce_loss(&ep, e) < 0) return -1;
    loss->lab += ep.lab, loss->unl += ep.unl, loss->xent += ep.xent;
    loss->nlab += ep.nlab, loss->nunl += ep.nunl, loss->correct += ep.correct;
    loss->obj += ep.obj, loss->vat += ep.vat, loss->steps += ep.steps;
    return 0;
}

void m2_config_default(m2_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->batch = c->lab_batch = 128;
    c->lr = 1e-3;
    c->alpha = 1.0f;
}

/* The model as m2_save writes it, with the cycles over the labelled and unlabelled rows (the training
 * state of trainctl.h), and their restore from a resumed state. */
static model_file *state_save(m2 *m, const m2_data *d, error *e)
{
    model_file *f = m2_save(m, e);
    if (f) trainctl_put_num(f, "lab_pos", (double)d->lab_pos);
    if (f && (trainctl_put_ints(f, "lab", d->lab, d->nlab, e) < 0 ||
              (!d->unl_src && trainctl_put_ints(f, "unl", d->unl, d->nunl, e) < 0)))
        return model_file_free(f), NULL;
    return f;
}

static int state_load(const model_file *f, m2_data *d, error *e)
{
    double pos;
    if (trainctl_get_num(f, "lab_pos", &pos, e) < 0 || trainctl_get_ints(f, "lab", d->lab, d->nlab, e) < 0 ||
        trainctl_get_ints(f, "unl", d->unl, d->nunl, e) < 0)
        return -1;
    d->lab_pos = (size_t)pos;
    return 0;
}

static void epoch_metrics(m2 *m, const m2_config *c, const m2_loss *l, const float *vx, const int *vy, size_t vn,
                          trainlog *log)
{
    trainlog_metric(log, "loss", l->steps ? l->obj / (double)l->steps : 0);
    if (l->nunl) trainlog_metric(log, "unl_elbo", -l->unl / (double)l->nunl);
    trainlog_metric(log, "lab_elbo", -l->lab / (double)l->nlab);
    trainlog_metric(log, "xent", l->xent / (double)l->nlab);
    trainlog_metric(log, "accuracy", (double)l->correct / (double)l->nlab);
    if (vat_active(&m->vat)) trainlog_metric(log, "vat_loss", l->steps ? l->vat / (double)l->steps : 0);
    if (!vx) return;
    m2_loss vl = {0};
    rng vr;
    rng_seed(&vr, c->seed ^ 0x5eed);
    m2_evaluate(m, vx, vy, vn, &vr, &vl);
    trainlog_metric(log, "val_elbo", vl.nunl ? -vl.unl / (double)vl.nunl : 0);
    if (vl.nlab) trainlog_metric(log, "val_accuracy", (double)vl.correct / (double)vl.nlab);
    value_set(m->info, "val_elbo", value_float(vl.nunl ? -vl.unl / (double)vl.nunl : 0));
}

int m2_train(m2 *m, const m2_config *c, m2_data *d, const float *vx, const int *vy, size_t vn, trainlog *log,
             train_epoch_fn cb, void *ctx, error *e)
{
    rng r;
    rng_seed(&r, c->seed);
    m2_init_weights(m, &r);
    adam opt;
    if (adam_init_params(&opt, &m->p, e) < 0) return -1;
    opt.lr = (float)c->lr;
    size_t per_epoch = d->nunl ? d->nunl : d->nlab;
    trainlog_plan(log, c->epochs, per_epoch, (per_epoch + (size_t)c->batch - 1) / (size_t)c->batch);
    trainctl *ctl = log ? log->ctl : NULL;
    int rc = ctl && ctl->resume ? trainctl_named(ctl, state_load(ctl->resume, d, e), e) : 0;
    int ep = rc < 0 ? -1 : trainctl_start(ctl, state_save(m, d, e), &m->p, &opt, &r, e);
    for (rc = ep < 0 ? -1 : 0; rc == 0 && ep <= c->epochs; ep++) {
        trainlog_epoch_begin(log, ep);
        m2_loss l = {0};
        float beta = c->warmup && ep <= c->warmup ? (float)ep / (float)(c->warmup + 1) : 1.0f;
        if (m2_train_epoch(m, &opt, d, c->lab_batch, c->batch, c->alpha, beta, &r, log, &l, e) < 0) {
            rc = trainctl_epoch_failed(e, ep);
            break;
        }
        if (trainlog_stopped(log)) break;
        epoch_metrics(m, c, &l, vx, vy, vn, log);
        if (trainlog_epoch_end(log, e) < 0 || trainctl_epoch_end(ctl, trainctl_state_new(state_save(m, d, e), &opt, &r, e), ep, e) < 0 ||
            (cb && cb(ep, ctx, e) < 0))
            rc = -1;
    }
    if (rc == 0 && !trainlog_stopped(log)) trainlog_finish(log);
    adam_free(&opt);
    return rc;
}

void m2_evaluate(m2 *m, const float *x, const int *y, size_t N, rng *r, m2_loss *loss)
{
    int K = m->K, chunk = (m->max_rows / K) < m->max_in ? m->max_rows / K : m->max_in;
    for (size_t i0 = 0; i0 < N; i0 += (size_t)chunk) {
        int b = (int)(N - i0 < (size_t)chunk ? N - i0 : (size_t)chunk);
        rng_fill_normal(r, m->eps, m2_noise_size(m, 0, b));
        m2_forward_backward(m, x + i0 * m->a.in, NULL, 0, b, m->eps, 0, 1, 0, loss);
        if (y && m2_aux_width(m)) m2_aux_predict(m, x + i0 * m->a.in, b, m->q, r);   /* as predict: draws of a averaged */
        for (int i = 0; y && i < b; i++)
            if (y[i0 + i] >= 0) {
                loss->nlab++;
                loss->correct += argmax(m->q + (size_t)i * K, K) == y[i0 + i];
            }
    }
}

void m2_predict(m2 *m, const float *x, int B, float *p)
{
    if (m2_aux_width(m)) {
        m2_aux_predict(m, x, B, p, &m->pred_rng);
        return;
    }
    const float *logits = dnet_forward(&m->cls, &m->p, x, B, B, NULL, NULL);
    m2_log_softmax(m->logq, p, logits, B, m->K);
}

void m2_decode(m2 *m, const float *z, const int *cls, int B, float *xmean)
{
    if (m2_aux_width(m)) {
        m2_aux_decode(m, z, cls, B, xmean);
        return;
    }
    const float *o = dnet_forward(&m->dec, &m->p, z, B, B, NULL, cls);
    vaenet_lik_mean(m->a.lik, xmean, o, B, m->a.in);
}

void m2_reconstruct(m2 *m, const float *x, const int *y, int B, float *xmean)
{
    int K = m->K, Z = m->a.latent;
    m2_predict(m, x, B, m->q);
    for (int i = 0; i < B; i++) m->ycls[i] = y && y[i] >= 0 ? y[i] : argmax(m->q + (size_t)i * K, K);
    const float *xin = m2_aux_width(m) ? m2_aux_mean_input(m, x, B) : x;   /* [x | the mean of q(a|x)] */
    float *h = dnet_forward(&m->enc, &m->p, xin, B, B, NULL, m->ycls);
    vaenet_latent_forward(m->z, NULL, h, NULL, B, Z);
    m2_decode(m, m->z, m->ycls, B, xmean);
}

/* ---- model files ---- */

model_file *m2_save(const m2 *m, error *e)
{
    model_file *f = model_file_new("m2");
    if (!f) {
        error_set(e, "out of memory");
        return NULL;
    }
    value_free(f->info);
    f->info = value_copy(m->info);
    value_set(f->info, "model", value_str(m2_kind_name(m->aux.kind)));
    vaenet_arch_to_info(&m->a, f->info);
    value_set(f->info, "classes", value_int(m->K));
    if (m2_aux_width(m)) {
        value_set(f->info, "aux", value_int(m->aux.size));
        value_set(f->info, "samples", value_int(m->aux.samples));
    }
    if (nn_params_save(&m->p, f, e) < 0) {
        model_file_free(f);
        return NULL;
    }
    return f;
}

/* The model kind (info "model": m2, adgm or sdgm; absent: m2) with its "aux" and "samples". */
static int aux_from_info(m2_aux *aux, const value *info, error *e)
{
    const char *name = value_get_str(info, "model", "m2");
    if (strcmp(name, "m2") == 0) return 0;
    aux->kind = strcmp(name, "adgm") == 0 ? M2_ADGM : strcmp(name, "sdgm") == 0 ? M2_SDGM : M2_PLAIN;
    if (aux->kind == M2_PLAIN) return error_set(e, "model info: unknown model '%s' (m2, adgm or sdgm)", name);
    aux->size = value_get_size(info, "aux");
    aux->samples = value_get_size(info, "samples");
    if (aux->size < 1 || aux->samples < 1) return error_set(e, "model info: bad aux size %d or samples %d", aux->size, aux->samples);
    return 0;
}

int m2_load(m2 *m, const model_file *f, int max_lab, int max_unl, error *e)
{
    vaenet_arch a;
    if (vaenet_arch_from_info(&a, f->info, e) < 0) return -1;
    int K = value_get_size(f->info, "classes");
    if (K < 2) return error_set(e, "model info: bad number of classes %d", K);
    m2_aux aux = {M2_PLAIN, 0, 0};
    if (aux_from_info(&aux, f->info, e) < 0 || build(m, &a, K, &aux, max_lab, max_unl, f, e) < 0) return -1;
    if (nn_params_load(&m->p, f, e) < 0) {
        m2_free(m);
        return -1;
    }
    value_free(m->info);
    m->info = value_copy(f->info);
    return 0;
}
