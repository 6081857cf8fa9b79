/* gan_net.c: the semi-supervised GAN's networks: D's and G's forward and backward passes, the
 * gradients of a training step, initialisation from data, prediction and sampling. */
#include "gan_impl.h"

#include <math.h>
#include <string.h>

#include "dist.h"
#include "imageops.h"
#include "norm.h"

/* ---- D ---- */

/* Mean and standard deviation of each channel of h (n, C, P) over its n P values into mu, sd (C)
 * (P = 1: the columns of a dense layer's output). */
static void chan_stats(const float *h, int n, int C, int P, float *mu, float *sd)
{
    for (int j = 0; j < C; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) s += h[((size_t)i * C + j) * P + p];
        double mean = s / ((double)n * P);
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                double d = h[((size_t)i * C + j) * P + p] - mean;
                ss += d * d;
            }
        mu[j] = (float)mean;
        sd[j] = (float)sqrt(ss / ((double)n * P) + 1e-8);
    }
}

/* y = x + sigma eps on n rows of a layer of D of the given width. Sharded (gan_share), n is parts
 * of b rows: the noise of the whole parts of B rows is drawn and this process keeps its rows. */
static void d_noise(gan *m, float *y, const float *x, float sigma, int n, int width, rng *r)
{
    const gan_share *s = &m->share;
    if (!s->B) norm_noise_add(y, x, sigma, (size_t)n * width, r);
    else norm_noise_add_share(y, x, sigma, (size_t)(n / s->b), s->B, s->first, s->b, width, r);
}

/* The conv layers of D on the first n rows of ws->in[0] (noise already added), each conv, ReLU
 * and (noisy) the hidden noise; init: each layer's bias first set to centre its channels.
 * Returns the dense layers' input (n, dwid 0): the last output, flattened or mean-pooled. */
static const float *d_conv_forward(gan *m, int n, int noisy, int init, rng *r)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    const float *x = w->in[0];
    w->crows = n;
    for (int c = 0; c < a->nc; c++) {
        const conv_shape *s = &m->cs[c];
        size_t out = conv_out_size(s);
        if (init) {
            conv_forward(m->pool, w->cy[c], w->col[c], w->cws, x, Cw(m, c), NULL, n, s);
            chan_stats(w->cy[c], n, s->K, s->OH * s->OW, w->fmean, w->sd);
            for (int j = 0; j < s->K; j++) Cb(m, c)[j] = -w->fmean[j];
        }
        conv_forward(m->pool, w->cy[c], w->col[c], w->cws, x, Cw(m, c), Cb(m, c), n, s);
        nn_act_forward(w->cy[c], w->cy[c], (size_t)n * out, NN_ACT_RELU);
        x = w->cy[c];
        if (noisy && a->hidden_noise > 0) {
            d_noise(m, w->cin[c + 1], x, a->hidden_noise, n, (int)out, r);
            x = w->cin[c + 1];
        }
    }
    if (!a->pool) return x;
    const conv_shape *s = &m->cs[a->nc - 1];
    conv_gpool_forward(w->pooled, x, n, s->K, s->OH * s->OW);
    return w->pooled;
}

/* Back through D's conv layers over rows [r0, r0 + n) of the last forward, from d (n, dwid 0), the
 * gradient of their output; spare: a buffer as large as d (both are overwritten). params:
 * accumulate into m->d.grad (g stays fixed, as in the hidden dense layers). dx (n, features) or NULL. */
static void d_conv_backward(gan *m, int r0, int n, int params, float *d, float *spare, float *dx)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->pool) {
        const conv_shape *s = &m->cs[a->nc - 1];
        conv_gpool_backward(spare, d, n, s->K, s->OH * s->OW);
        float *t = d;
        d = spare;
        spare = t;
    }
    for (int c = a->nc - 1; c >= 0; c--) {
        const conv_shape *s = &m->cs[c];
        size_t out = conv_out_size(s), P = (size_t)s->OH * s->OW;
        /* the noise passes the gradient through; then the ReLU (from its output) */
        nn_act_backward(d, d, w->cy[c] + (size_t)r0 * out, (size_t)n * out, NN_ACT_RELU);
        if (c == 0 && !params && !dx) break;
        int k = Cidx(m, c);
        conv_wn_backward(m->pool, c ? spare : dx, params ? nn_grad(&m->d, k) : NULL, NULL, params ? nn_grad(&m->d, k + 2) : NULL,
                         w->dwk, w->cws, d, w->col[c] + r0 * P, (size_t)w->crows * P, Cw(m, c), Cv(m, c), Cg(m, c),
                         Cn(m, c), n, s);
        float *t = d;
        d = spare;
        spare = t;
    }
}

/* Forward of D on the first n rows of ws->in[0] (overwritten by the input noise when noisy).
 * init: data-dependent initialisation of each layer's bias (and the output layer's scale) first. */
static void d_forward(gan *m, int n, int noisy, int init, rng *r)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (noisy && a->input_noise > 0) d_noise(m, w->in[0], w->in[0], a->input_noise, n, a->features, r);
    w->cur[0] = a->nc ? d_conv_forward(m, n, noisy, init, r) : w->in[0];
    for (int l = 0; l <= a->nd; l++) {
        int in = dwid(m, l), out = dwid(m, l + 1), top = l == a->nd;
        if (init) {
            float *mu = w->fmean, *sd = w->sd;
            nn_dense_forward(m->pool, w->h[l], w->cur[l], Ew(m, l), NULL, n, in, out, NN_ACT_NONE);
            chan_stats(w->h[l], n, out, 1, mu, sd);
            for (int j = 0; j < out; j++) {
                if (top) Dg(m, l)[j] /= sd[j];
                Db(m, l)[j] = top ? -mu[j] / sd[j] : -mu[j];
            }
            norm_wn_weight(m->pool, Ew(m, l), En(m, l), Dv(m, l), Dg(m, l), in, out);
        }
        nn_dense_forward(m->pool, w->h[l], w->cur[l], Ew(m, l), Db(m, l), n, in, out, top ? NN_ACT_NONE : NN_ACT_RELU);
        if (top) break;
        if (noisy && a->hidden_noise > 0) {
            d_noise(m, w->in[l + 1], w->h[l], a->hidden_noise, n, out, r);
            w->cur[l + 1] = w->in[l + 1];
        } else {
            w->cur[l + 1] = w->h[l];
        }
    }
}

/* Backward of D over rows [r0, r0 + n) of the last forward, from the logit gradient in ws->da
 * (n, K). dfeat (n, C) or NULL: an extra gradient on the feature layer (the last hidden output).
 * params: accumulate into m->d.grad. dx (n, features) or NULL: gradient w.r.t. the input rows. */
static void d_backward(gan *m, int r0, int n, int params, const float *dfeat, float *dx)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    float *d = w->da, *dn = w->db;
    for (int l = a->nd; l >= 0; l--) {
        int in = dwid(m, l), out = dwid(m, l + 1), top = l == a->nd;
        if (l == 0 && !params && !dx) break;
        float *dxl = l > 0 || a->nc ? dn : dx;
        norm_wn_backward(m->pool, dxl, params ? nn_grad(&m->d, 3 * l) : NULL, params && top ? nn_grad(&m->d, 3 * l + 1) : NULL,
                         params ? nn_grad(&m->d, 3 * l + 2) : NULL, w->dwk, d, w->cur[l] + (size_t)r0 * in,
                         Ew(m, l), Dv(m, l), Dg(m, l), En(m, l), w->h[l] + (size_t)r0 * out, n, in, out,
                         top ? NN_ACT_NONE : NN_ACT_RELU);
        if (l == 0) {
            if (a->nc) d_conv_backward(m, r0, n, params, dn, d, dx);
            break;
        }
        /* the noise layer passes the gradient through: dn is now d(h[l-1]) */
        if (top && dfeat)
            for (size_t i = 0; i < (size_t)n * in; i++) dn[i] += dfeat[i];
        float *t = d;
        d = dn;
        dn = t;
    }
}

/* ---- D as vat.h sees it: one realisation of its noise (or none), so that the clean and the moved
 * passes differ by the move alone ---- */

static float *vat_forward(void *ctx, const float *x, int n)
{
    gan *m = ctx;
    gan_ws *w = m->ws;
    gan_refresh_weights(m);
    w->vrows = n;
    memcpy(w->in[0], x, (size_t)n * m->a.features * sizeof(float));
    rng noise = w->vnoise;
    d_forward(m, n, w->vnoisy, 0, &noise);
    return w->h[m->a.nd];
}

static void vat_backward(void *ctx, float *dlogits, float *dx, int params)
{
    gan *m = ctx;
    gan_ws *w = m->ws;
    memcpy(w->da, dlogits, (size_t)w->vrows * m->a.classes * sizeof(float));
    d_backward(m, 0, w->vrows, params, NULL, dx);
}

vat_net gan_vat_net(gan *m, const rng *noise)
{
    m->ws->vnoisy = noise != NULL;
    if (noise) m->ws->vnoise = *noise;
    return (vat_net){m, m->a.features, m->a.classes, vat_forward, vat_backward};
}

/* The VAT and entropy term of L_D on a step's n labelled and unlabelled rows (ws->vx, kept before
 * D's noise), weight 1, its gradient into m->d.grad: D with one draw of its noise for all the
 * term's passes (the noisy D is the one the step trains: without noise, the term is met by a D
 * whose noise-free predictions go flat, and the predictions with them), the directions drawn from r. */
static double vat_term(gan *m, int n, rng *r)
{
    rng noise = rng_split(r);
    vat_net net = gan_vat_net(m, &noise);
    return vat_loss(&net, &m->vat, &m->ws->vat, m->ws->vx, n, 1.0f, r);
}

/* ---- G ---- */

/* z ~ U(0,1)^noise_dim per row, followed by one-hot(ycond) when conditional. */
static void g_input(gan *m, int n, rng *r)
{
    gan_ws *w = m->ws;
    for (int i = 0; i < n; i++) {
        float *z = w->gz + (size_t)i * m->gin;
        rng_fill_uniform(r, z, (size_t)m->a.noise_dim);
        if (m->a.conditional) {
            memset(z + m->a.noise_dim, 0, (size_t)m->a.classes * sizeof(float));
            z[m->a.noise_dim + w->ycond[i]] = 1.0f;
        }
    }
}

/* Batch norm over stage j's channels (train: batch statistics, the running ones updated), then
 * ReLU: ws->ga[j] from ws->gu[j]. */
static void g_stage_forward(gan *m, int j, int n, int train)
{
    gan_ws *w = m->ws;
    int C, P;
    gstage(m, j, &C, &P);
    float *mean = nn_data(&m->stat, 2 * j), *var = nn_data(&m->stat, 2 * j + 1);
    if (train)
        norm_bn2d_forward_train(w->ga[j], w->gxh[j], w->gistd[j], w->gbn, w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean,
                                var, BN_MOMENTUM, n, C, P);
    else
        norm_bn2d_forward_eval(w->ga[j], w->gbn, w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var, n, C, P);
    nn_act_forward(w->ga[j], w->ga[j], (size_t)n * C * P, NN_ACT_RELU);
}

/* A convolutional G: dense to the seed, then the transposed convolutions. */
static void g_conv_forward(gan *m, int n, int train)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    const int *s = a->g_seed;
    nn_dense_forward(m->pool, w->gu[0], w->gz, Gt(m, 0, 0), NULL, n, m->gin, s[0] * s[1] * s[2], NN_ACT_NONE);
    g_stage_forward(m, 0, n, train);
    for (int j = 1; j <= a->ngc; j++) {
        int last = j == a->ngc;
        conv_t_forward(m->pool, last ? w->gx : w->gu[j], w->gcws, w->ga[j - 1], Gt(m, j, 0), last ? Gt(m, j, 1) : NULL, n,
                       &m->gs[j - 1]);
        if (!last) g_stage_forward(m, j, n, train);
    }
    nn_act_forward(w->gx, w->gx, (size_t)n * a->features, a->g_out);
}

/* Its backward (training mode) from d(gx) in ws->gda, into m->g.grad. */
static void g_conv_backward(gan *m, int n)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    float *d = w->gda, *dn = w->gdb;
    nn_act_backward(d, d, w->gx, (size_t)n * a->features, a->g_out);
    for (int j = a->ngc; j >= 0; j--) {
        if (j < a->ngc) {   /* back through stage j's ReLU and batch norm */
            int C, P;
            gstage(m, j, &C, &P);
            nn_act_backward(d, d, w->ga[j], (size_t)n * C * P, NN_ACT_RELU);
            norm_bn2d_backward(d, Gd(m, j, 1), Gd(m, j, 2), w->gbn, d, w->gxh[j], w->gistd[j], Gt(m, j, 1), n, C, P);
        }
        if (j == 0) break;
        conv_t_backward(m->pool, dn, Gd(m, j, 0), j == a->ngc ? Gd(m, j, 1) : NULL, w->gcol, w->gcws, d, w->ga[j - 1],
                        Gt(m, j, 0), n, &m->gs[j - 1]);
        float *t = d;
        d = dn;
        dn = t;
    }
    const int *s = a->g_seed;
    nn_dense_backward(m->pool, NULL, Gd(m, 0, 0), NULL, d, w->gz, Gt(m, 0, 0), NULL, n, m->gin, s[0] * s[1] * s[2], NN_ACT_NONE);
}

static void g_forward(gan *m, int n, int train)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->ngc) {
        g_conv_forward(m, n, train);
        return;
    }
    const float *in = w->gz;
    for (int j = 0; j < a->ng; j++) {
        int c = a->g_hidden[j];
        float *mean = nn_data(&m->stat, 2 * j), *var = nn_data(&m->stat, 2 * j + 1);
        nn_dense_forward(m->pool, w->gu[j], in, Gt(m, j, 0), NULL, n, gwid(m, j), c, NN_ACT_NONE);
        if (train)
            norm_bn_forward_train(w->ga[j], w->gxh[j], w->gistd[j], w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var,
                                  BN_MOMENTUM, n, c);
        else
            norm_bn_forward_eval(w->ga[j], w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var, n, c);
        nn_bias_act_forward(m->pool, w->ga[j], NULL, n, c, NN_ACT_SOFTPLUS);
        in = w->ga[j];
    }
    int o = a->nd + 1;
    nn_dense_forward(m->pool, w->gx, in, Ew(m, o), Gt(m, a->ng, 2), n, gwid(m, a->ng), a->features, a->g_out);
}

/* Backward of G (training mode) from d(gx) in ws->gda (n, features), into m->g.grad. */
static void g_backward(gan *m, int n)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->ngc) {
        g_conv_backward(m, n);
        return;
    }
    float *d = w->gda, *dn = w->gdb;
    int ng = a->ng, o = a->nd + 1;
    const float *in = ng ? w->ga[ng - 1] : w->gz;
    norm_wn_backward(m->pool, ng ? dn : NULL, Gd(m, ng, 0), Gd(m, ng, 1), Gd(m, ng, 2), w->dwk, d, in, Ew(m, o), Gt(m, ng, 0),
                     Gt(m, ng, 1), En(m, o), w->gx, n, gwid(m, ng), a->features, a->g_out);
    for (int j = ng - 1; j >= 0; j--) {
        float *t = d;
        d = dn;
        dn = t;
        int c = a->g_hidden[j];
        nn_bias_act_backward(m->pool, d, NULL, w->ga[j], n, c, NN_ACT_SOFTPLUS);
        /* the authors' G: batch norm with a shift and no scale (gamma stays 1, no gradient) */
        norm_bn_backward(d, NULL, Gd(m, j, 2), d, w->gxh[j], w->gistd[j], Gt(m, j, 1), n, c);
        nn_dense_backward(m->pool, j ? dn : NULL, Gd(m, j, 0), NULL, d, j ? w->ga[j - 1] : w->gz, Gt(m, j, 0), NULL, n,
                          gwid(m, j), c, NN_ACT_NONE);
    }
}

/* B generated rows in ws->gx (training mode), with their classes drawn when conditional. */
static void generate_batch(gan *m, rng *r)
{
    gan_ws *w = m->ws;
    if (m->a.conditional)
        for (int i = 0; i < w->B; i++)   /* mode seeking pairs rows 2i, 2i+1: the same class */
            w->ycond[i] = m->ms_weight > 0 && i % 2 ? w->ycond[i - 1] : (int32_t)rng_below(r, (uint64_t)m->a.classes);
    g_input(m, w->B, r);
    g_forward(m, w->B, 1);
}

/* ---- the two halves of a step ---- */

/* dst (n, F) = the rows idx of x */
void gan_gather(float *dst, const float *x, const int *idx, int n, int F)
{
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * F, x + (size_t)idx[i] * F, (size_t)F * sizeof(float));
}

/* Rows of each part of a step this process feeds D (all B of them on one process), and the first. */
static int share_rows(const gan *m) { return m->share.B ? m->share.b : m->ws->B; }
static int share_first(const gan *m) { return m->share.B ? m->share.first : 0; }

/* This process's share of the B labelled rows idx of x into dst, each moved by a random shift in
 * [-shift, shift]^2 when m->shift > 0 (drawn for every row of the batch, as one process does). */
static void gather_labelled(gan *m, float *dst, const float *x, const int *idx, rng *r)
{
    int F = m->a.features, s = m->shift, o = share_first(m), b = share_rows(m);
    if (s <= 0) {
        gan_gather(dst, x, idx + o, b, F);
        return;
    }
    for (int i = 0; i < m->ws->B; i++) {
        int dy, dx;
        image_draw_shift(r, s, &dy, &dx);
        if (i >= o && i < o + b)
            image_shift(dst + (size_t)(i - o) * F, x + (size_t)idx[i] * F, m->img_h, m->img_w, dy, dx);
    }
}

/* This process's share of the unlabelled rows src (b rows) into dst (which may be src), each moved
 * by a random shift in [-shift, shift]^2 and, with flip, mirrored with probability 1/2 (drawn for
 * every row of the batch, as one process does). */
static void move_unlabelled(gan *m, float *dst, const float *src, int shift, int flip, rng *r)
{
    int F = m->a.features, o = share_first(m), b = share_rows(m);
    for (int i = 0; i < m->ws->B; i++) {
        int mirror = flip ? (int)rng_below(r, 2) : 0;
        int dy, dx;
        image_draw_shift(r, shift, &dy, &dx);
        if (i < o || i >= o + b) continue;
        const float *row = src + (size_t)(i - o) * F;
        float *d = dst + (size_t)(i - o) * F;
        if (row == d) row = memcpy(m->ws->sd, row, (size_t)F * sizeof(float));   /* sd holds >= F floats */
        image_shift(d, row, m->img_h, m->img_w, dy, dx);
        if (mirror) image_flip(d, m->img_h, m->img_w);
    }
}

/* The unlabelled rows D's and G's steps see, into dst: moved by up to unl_shift pixels when it is
 * set, so that D cannot learn the few thousand real images by heart. */
static void place_unlabelled(gan *m, float *dst, const float *unl, rng *r)
{
    if (m->unl_shift > 0)
        move_unlabelled(m, dst, unl, m->unl_shift, 0, r);
    else if (dst != unl)
        memcpy(dst, unl, (size_t)share_rows(m) * m->a.features * sizeof(float));
}

/* L_D's gradient on this process's share of the step: of the B labelled rows idx_lab of x (labels
 * y[idx]), of the unlabelled rows (unl: the share's b rows) and of B generated rows. The effective
 * weights are refreshed only where stale (training keeps the flags). Returns this share's part. */
double gan_d_grad_rows(gan *m, const float *x, const int32_t *y, const int *idx_lab, const float *unl, rng *r,
                       gan_stats *st)
{
    gan_ws *w = m->ws;
    int B = w->B, b = share_rows(m), o = share_first(m), F = m->a.features, K = m->a.classes;
    size_t rows = (size_t)b * F;
    gan_refresh_weights(m);
    generate_batch(m, r);
    /* D's batch: labelled | unlabelled | generated */
    gather_labelled(m, w->in[0], x, idx_lab, r);
    place_unlabelled(m, w->in[0] + rows, unl, r);
    memcpy(w->in[0] + 2 * rows, w->gx + (size_t)o * F, rows * sizeof(float));
    int parts = gan_d_parts(m);
    if (parts == 4) move_unlabelled(m, w->in[0] + 3 * rows, unl, m->cons_shift, m->cons_flip, r);   /* the copy x' */
    for (int i = 0; i < b; i++) w->ylab[i] = y[idx_lab[o + i]];
    int vat = vat_active(&m->vat);   /* one process (gan_train_source): b = B */
    if (vat) memcpy(w->vx, w->in[0], 2 * rows * sizeof(float));   /* before D's noise */
    d_forward(m, parts * b, 1, 0, r);
    const float *l = w->h[m->a.nd];
    size_t part = (size_t)b * K;
    float s = 1.0f / (float)B;   /* the means are over the whole step's rows */
    double lab = gan_loss_lab(w->da, l, w->ylab, b, K, s, &st->lab_correct);
    float su = 0.5f * s * m->unl_weight;
    double real = gan_loss_unl(w->da + part, l + part, b, K, 0, su, &st->real_correct);
    double fake = gan_loss_unl(w->da + 2 * part, l + 2 * part, b, K, 1, su, &st->fake_correct);
    double ent = m->ent_weight > 0 ? gan_loss_ent(w->da + part, l + part, b, K, s * m->ent_weight) / B : 0;
    double cons = 0;
    if (parts == 4) {
        memset(w->da + 3 * part, 0, part * sizeof(float));
        cons = gan_loss_cons(w->da + part, w->da + 3 * part, l + part, l + 3 * part, b, K, s * m->cons_weight) / B;
    }
    d_backward(m, 0, parts * b, 1, NULL, NULL);
    double v = vat ? vat_term(m, 2 * b, r) : 0;
    double unl_loss = 0.5 * (real + fake) / B;
    st->loss_lab += lab / B;
    st->loss_unl += unl_loss;
    st->loss_ent += ent;
    st->loss_cons += cons;
    st->loss_vat += v;
    st->rows += b;
    return lab / B + m->unl_weight * unl_loss + m->ent_weight * ent + m->cons_weight * cons + v;
}

double gan_d_grad(gan *m, const float *x, const int32_t *y, const int *idx_lab, const int *idx_unl, rng *r,
                  gan_stats *st)
{
    m->eff_d = m->eff_g = 0;   /* the caller may have changed any parameter */
    float *unl = m->ws->in[0] + (size_t)m->ws->B * m->a.features;
    gan_gather(unl, x, idx_unl, m->ws->B, m->a.features);
    return gan_d_grad_rows(m, x, y, idx_lab, unl, r, st);
}

/* L_G's gradient: B generated rows (on every process: G's batch norm sees them all) against the
 * unlabelled rows unl (this process's share: b rows). Feature matching compares means over the
 * whole batch: sharded, the feature sums are all-reduced before the backward. *loss: this
 * process's part of L_G (the terms of the whole batch counted by the first process). */
int gan_g_grad_rows(gan *m, const float *unl, rng *r, gan_stats *st, double *loss, error *e)
{
    gan_ws *w = m->ws;
    const gan_arch *a = &m->a;
    int B = w->B, b = share_rows(m), o = share_first(m), F = a->features, K = a->classes, C = dwid(m, a->nd);
    size_t rows = (size_t)b * F;
    gan_refresh_weights(m);
    generate_batch(m, r);
    /* D's batch: generated | unlabelled */
    memcpy(w->in[0], w->gx + (size_t)o * F, rows * sizeof(float));
    place_unlabelled(m, w->in[0] + rows, unl, r);
    d_forward(m, 2 * b, 1, 0, r);
    const float *f = w->h[a->nd - 1];
    gan_col_sums(w->fmean, f, b, C);
    gan_col_sums(w->fmean + C, f + (size_t)b * C, b, C);
    if (m->share.B && dist_allreduce_sum(w->fmean, 2 * (size_t)C, e) < 0) return -1;
    double fm = gan_fm_from_sums(w->dfeat, b, B, B, C, w->fmean), l = o == 0 ? fm : 0;
    if (a->conditional) {
        float cw = m->cond_weight;
        l += cw * gan_loss_lab(w->da, w->h[a->nd], w->ycond + o, b, K, cw / (float)B, NULL) / B;
    } else {
        memset(w->da, 0, (size_t)b * K * sizeof(float));
    }
    /* d(gx): this process's rows from D, zero elsewhere (the processes' gradients add up) */
    if (b < B) memset(w->gda, 0, (size_t)B * F * sizeof(float));
    d_backward(m, 0, b, 0, w->dfeat, w->gda + (size_t)o * F);
    if (m->ms_weight > 0 && o == 0)   /* pairs of rows of the whole batch: added by one process */
        l += gan_loss_ms(w->gda, w->gx, w->gz, B, F, a->noise_dim, m->gin, m->ms_weight);
    g_backward(m, B);
    st->loss_g += l;
    *loss = l;
    return 0;
}

double gan_g_grad(gan *m, const float *x, const int *idx_unl, rng *r, gan_stats *st)
{
    m->eff_d = m->eff_g = 0;
    float *unl = m->ws->in[0] + (size_t)m->ws->B * m->a.features;
    gan_gather(unl, x, idx_unl, m->ws->B, m->a.features);
    double loss = 0;
    error e;
    gan_g_grad_rows(m, unl, r, st, &loss, &e);   /* one process: nothing to fail */
    return loss;
}

/* ---- initialisation ---- */

/* An MLP G's weight-normalised output layer: v ~ N(0, 0.05^2), g = 1, b = 0. */
static void g_out_init(gan *m, rng *r)
{
    const gan_arch *a = &m->a;
    size_t k = (size_t)a->features * gwid(m, a->ng);
    norm_gauss_fill(Gt(m, a->ng, 0), k, r);
    for (size_t i = 0; i < k; i++) Gt(m, a->ng, 0)[i] *= 0.05f;
    for (int j = 0; j < a->features; j++) Gt(m, a->ng, 1)[j] = 1.0f, Gt(m, a->ng, 2)[j] = 0.0f;
}

/* A convolutional G: the seed's dense layer Glorot uniform, the transposed convolutions
 * N(0, 0.05^2) (batch norm follows all but the last), gamma 1, beta 0, the bias 0, the running
 * statistics those of unit Gaussians. */
static void g_conv_init(gan *m, rng *r)
{
    const gan_arch *a = &m->a;
    const int *s = a->g_seed;
    nn_dense_init_glorot(Gt(m, 0, 0), NULL, m->gin, s[0] * s[1] * s[2], 1.0f, 0, r);
    for (int j = 0; j <= a->ngc; j++) {
        if (j) {
            size_t k = (size_t)m->gs[j - 1].K * conv_patch(&m->gs[j - 1]);
            norm_gauss_fill(Gt(m, j, 0), k, r);
            for (size_t i = 0; i < k; i++) Gt(m, j, 0)[i] *= 0.05f;
        }
        if (j == a->ngc) {
            memset(Gt(m, j, 1), 0, (size_t)a->img_c * sizeof(float));
            break;
        }
        int C, P;
        gstage(m, j, &C, &P);
        for (int c = 0; c < C; c++) {
            Gt(m, j, 1)[c] = 1.0f, Gt(m, j, 2)[c] = 0.0f;
            nn_data(&m->stat, 2 * j)[c] = 0.0f, nn_data(&m->stat, 2 * j + 1)[c] = 1.0f;
        }
    }
}

int gan_init_weights(gan *m, const float *x, size_t n, int B, rng *r, error *e)
{
    const gan_arch *a = &m->a;
    if (gan_workspace(m, B, e)) return -1;
    m->eff_d = m->eff_g = 0;
    for (int l = 0; l <= a->nd; l++) {
        size_t k = (size_t)dwid(m, l) * dwid(m, l + 1);
        norm_gauss_fill(Dv(m, l), k, r);
        for (size_t i = 0; i < k; i++) Dv(m, l)[i] *= 0.05f;
        for (int j = 0; j < dwid(m, l + 1); j++) Dg(m, l)[j] = 1.0f, Db(m, l)[j] = 0.0f;
    }
    for (int c = 0; c < a->nc; c++) {
        size_t k = (size_t)m->cs[c].K * conv_patch(&m->cs[c]);
        norm_gauss_fill(Cv(m, c), k, r);
        for (size_t i = 0; i < k; i++) Cv(m, c)[i] *= 0.05f;
        for (int j = 0; j < m->cs[c].K; j++) Cg(m, c)[j] = 1.0f, Cb(m, c)[j] = 0.0f;
    }
    for (int j = 0; j < a->ng; j++) {
        int c = a->g_hidden[j];
        nn_dense_init_glorot(Gt(m, j, 0), NULL, gwid(m, j), c, 1.0f, 0, r);
        for (int k = 0; k < c; k++) {
            Gt(m, j, 1)[k] = 1.0f, Gt(m, j, 2)[k] = 0.0f;
            nn_data(&m->stat, 2 * j)[k] = 0.0f, nn_data(&m->stat, 2 * j + 1)[k] = 1.0f;
        }
    }
    if (a->ngc)
        g_conv_init(m, r);
    else
        g_out_init(m, r);
    gan_refresh_weights(m);
    /* data-dependent init of D on up to 3B rows drawn at random */
    int n0 = n < (size_t)m->ws->R ? (int)n : m->ws->R;
    for (int i = 0; i < n0; i++)
        memcpy(m->ws->in[0] + (size_t)i * a->features, x + (size_t)rng_below(r, n) * a->features,
               (size_t)a->features * sizeof(float));
    d_forward(m, n0, 1, 1, r);
    if (a->ema) memcpy(m->avg.data, m->d.data, m->d.total * sizeof(float));
    return 0;
}

/* ---- prediction and sampling ---- */

int gan_predict(gan *m, const float *x, size_t n, float *p, error *e)
{
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    m->eff_d = 0;   /* the caller may have changed the parameters */
    if (m->a.ema) gan_swap_avg(m);
    gan_refresh_weights(m);
    int F = m->a.features, K = m->a.classes, R = m->ws->R;
    for (size_t i = 0; i < n; i += (size_t)R) {
        int k = n - i < (size_t)R ? (int)(n - i) : R;
        memcpy(m->ws->in[0], x + i * F, (size_t)k * F * sizeof(float));
        d_forward(m, k, 0, 0, NULL);
        nn_softmax_forward(p + i * K, m->ws->h[m->a.nd], k, K);
    }
    if (m->a.ema) gan_swap_avg(m);
    return 0;
}

int gan_accuracy(gan *m, const gan_data *d, double *acc, error *e)
{
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    int F = m->a.features, K = m->a.classes, R = m->ws->R;
    size_t hit = 0, lab = 0;
    for (size_t i = 0; i < d->n; i += (size_t)R) {
        int k = d->n - i < (size_t)R ? (int)(d->n - i) : R;
        if (gan_predict(m, d->x + i * F, (size_t)k, m->ws->p, e)) return -1;
        for (int r = 0; r < k; r++) {
            int y = d->y ? d->y[i + r] : -1;
            if (y < 0) continue;
            const float *p = m->ws->p + (size_t)r * K;
            int arg = 0;
            for (int c = 1; c < K; c++)
                if (p[c] > p[arg]) arg = c;
            hit += arg == y;
            lab++;
        }
    }
    *acc = lab ? (double)hit / lab : NAN;
    return 0;
}

int gan_sample(gan *m, size_t n, int cls, rng *r, float *x, int32_t *y, error *e)
{
    const gan_arch *a = &m->a;
    if (cls >= a->classes) return error_set(e, "class %d out of range: the model has %d classes", cls, a->classes);
    if (cls >= 0 && !a->conditional) return error_set(e, "class %d asked of a generator that is not conditional", cls);
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    m->eff_g = 0;
    gan_refresh_weights(m);
    int B = m->ws->B, F = a->features;
    for (size_t i = 0; i < n; i += (size_t)B) {
        int k = n - i < (size_t)B ? (int)(n - i) : B;
        for (int j = 0; j < k; j++) m->ws->ycond[j] = cls >= 0 ? cls : (int32_t)((i + j) % a->classes);
        g_input(m, k, r);
        g_forward(m, k, 0);
        memcpy(x + i * F, m->ws->gx, (size_t)k * F * sizeof(float));
        if (y) memcpy(y + i, m->ws->ycond, (size_t)k * sizeof(int32_t));
    }
    return 0;
}

double gan_mean_pairwise_dist(const float *x, int n, int d)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const float *a = x + (size_t)i * d, *b = x + (size_t)j * d;
            float ss = 0;
            for (int k = 0; k < d; k++) ss += (a[k] - b[k]) * (a[k] - b[k]);
            sum += sqrt(ss);
        }
    return n >= 2 ? sum / ((double)n * (n - 1) / 2) : 0;
}
