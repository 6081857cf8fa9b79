/* m2_aux.c: the auxiliary variable a of the auxiliary deep generative models (ADGM, SDGM; m2.h):
 * q(a|x), p(a|.), the inputs a joins, their terms of the bound and their gradients. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "m2_impl.h"

#define LOG_2PI 1.8378770664093453f

const char *m2_kind_name(m2_kind k) { return k == M2_ADGM ? "adgm" : k == M2_SDGM ? "sdgm" : "m2"; }

/* The width of the concatenated rows: ADGM's p(a|x,y,z) input [x | z], SDGM's decoder input [z | a]. */
static int cat_width(const m2 *m)
{
    return m->aux.kind == M2_ADGM ? m->a.in + m->a.latent : m->a.latent + m->aux.size;
}

int m2_aux_declare(m2 *m, error *e)
{
    const vaenet_arch *a = &m->a;
    int A = m->aux.size, rev[VAENET_MAX_HIDDEN];
    for (int l = 0; l < a->nhidden; l++) rev[l] = a->hidden[a->nhidden - 1 - l];
    int pa_in = m->aux.kind == M2_ADGM ? a->in + a->latent : a->latent;
    if (dnet_declare(&m->qa, &m->p, "qa", a->in, 0, a->nhidden, a->hidden, 2 * A, a->act, e) < 0) return -1;
    return dnet_declare(&m->pa, &m->p, "pa", pa_in, m->K, a->nhidden, rev, 2 * A, a->act, e);
}

int m2_aux_alloc(m2 *m, error *e)
{
    size_t I = (size_t)m->max_in, R = (size_t)m->max_rows, A = (size_t)m->aux.size, D = (size_t)m->a.in;
    size_t Z = (size_t)m->a.latent, C = (size_t)cat_width(m), K = (size_t)m->K;
    if (dnet_alloc(&m->qa, m->max_in, m->max_in, e) < 0 || dnet_alloc(&m->pa, m->max_rows, m->max_rows, e) < 0)
        return -1;
    size_t floats = I * A + I + 2 * I * (D + A) + I * A + 2 * R * C + R * Z + R + I * K;
    float *q = m->amem = nn_alloc_zeroed(floats * sizeof(float));
    if (!q) return error_set(e, "out of memory for the auxiliary model's workspace");
    m->a_smp = q, q += I * A;
    m->lqa = q, q += I;
    m->xa = q, q += I * (D + A);
    m->dxa = q, q += I * (D + A);
    m->da = q, q += I * A;
    m->cat = q, q += R * C;
    m->dcat = q, q += R * C;
    m->dz2 = q, q += R * Z;
    m->nlla = q, q += R;
    m->pq = q;
    return 0;
}

void m2_aux_free(m2 *m)
{
    dnet_free(&m->qa);
    dnet_free(&m->pa);
    free(m->amem);
    m->amem = NULL;
}

/* m->xa = [x | a] for n rows. */
static const float *join_x_a(m2 *m, const float *x, int n)
{
    size_t D = (size_t)m->a.in, A = (size_t)m->aux.size;
    for (int i = 0; i < n; i++) {
        memcpy(m->xa + i * (D + A), x + i * D, D * sizeof(float));
        memcpy(m->xa + i * (D + A) + D, m->a_smp + i * A, A * sizeof(float));
    }
    return m->xa;
}

const float *m2_aux_draw(m2 *m, const float *x, int nin, const float *eps_a)
{
    int A = m->aux.size;
    float *h = dnet_forward(&m->qa, &m->p, x, nin, nin, NULL, NULL);   // (nin, 2A)
    vaenet_latent_forward(m->a_smp, NULL, h, eps_a, nin, A);
    for (int i = 0; i < nin; i++) {
        const float *lv = h + (size_t)i * 2 * A + A, *ep = eps_a + (size_t)i * A;
        float s = 0;
        for (int j = 0; j < A; j++) s += LOG_2PI + lv[j] + ep[j] * ep[j];
        m->lqa[i] = -0.5f * s;
    }
    return join_x_a(m, x, nin);
}

/* m->cat row r = [u[r] | v[src[r]]] (u (R, nu), v (., nv); src NULL: row r). */
static void join_rows(float *cat, const float *u, int nu, const float *v, int nv, const int *src, int R)
{
    for (int r = 0; r < R; r++) {
        float *c = cat + (size_t)r * (nu + nv);
        memcpy(c, u + (size_t)r * nu, (size_t)nu * sizeof(float));
        memcpy(c + nu, v + (size_t)(src ? src[r] : r) * nv, (size_t)nv * sizeof(float));
    }
}

const float *m2_aux_dec_in(m2 *m, int R)
{
    if (m->aux.kind == M2_ADGM) return m->z;
    join_rows(m->cat, m->z, m->a.latent, m->a_smp, m->aux.size, m->src, R);
    return m->cat;
}

/* The input of p(a|.) for R expanded rows: ADGM's [z | x[src]] (in m->cat), SDGM's z. */
static const float *pa_input(m2 *m, const float *x, int R)
{
    if (m->aux.kind == M2_SDGM) return m->z;
    join_rows(m->cat, m->z, m->a.latent, x, m->a.in, m->src, R);
    return m->cat;
}

void m2_aux_bound(m2 *m, const float *x, int nin, int R, float beta, int grad)
{
    int A = m->aux.size;
    float *o = dnet_forward(&m->pa, &m->p, pa_input(m, x, R), R, R, NULL, m->ycls);   // (R, 2A)
    float *dout = grad ? dnet_dout(&m->pa) : NULL;
    vaenet_lik_nll(m->pool, VAENET_GAUSSIAN, m->nlla, dout, o, m->a_smp, m->src, grad ? m->w : NULL, beta, R, A);
    for (int r = 0; r < R; r++) m->kl[r] += m->nlla[r] + m->lqa[m->src[r]];
    if (!grad) return;
    /* -log p(a|.) depends on a through (a - mean)^2: its gradient in a is minus the mean's */
    memset(m->da, 0, (size_t)nin * A * sizeof(float));
    for (int r = 0; r < R; r++) {
        float *da = m->da + (size_t)m->src[r] * A;
        const float *d = dout + (size_t)r * 2 * A;
        for (int j = 0; j < A; j++) da[j] -= d[j];
    }
}

void m2_aux_gen_backward(m2 *m, int R)
{
    int Z = m->a.latent, A = m->aux.size, D = m->a.in;
    if (m->aux.kind == M2_SDGM) {   /* the decoder's input [z | a[src]]: split its gradient */
        for (int r = 0; r < R; r++) {
            const float *g = m->dcat + (size_t)r * (Z + A);
            float *da = m->da + (size_t)m->src[r] * A;
            memcpy(m->dz + (size_t)r * Z, g, (size_t)Z * sizeof(float));
            for (int j = 0; j < A; j++) da[j] += g[Z + j];
        }
        dnet_backward(&m->pa, &m->p, m->dz2, m->z, R, R, NULL, m->ycls);
        for (size_t k = 0; k < (size_t)R * Z; k++) m->dz[k] += m->dz2[k];
        return;
    }
    dnet_backward(&m->pa, &m->p, m->dcat, m->cat, R, R, NULL, m->ycls);   /* [z | x[src]]: z's part */
    for (int r = 0; r < R; r++)
        for (int j = 0; j < Z; j++) m->dz[(size_t)r * Z + j] += m->dcat[(size_t)r * (Z + D) + j];
}

void m2_aux_add_da(m2 *m, int nin)
{
    size_t D = (size_t)m->a.in, A = (size_t)m->aux.size;
    for (int i = 0; i < nin; i++)
        for (size_t j = 0; j < A; j++) m->da[i * A + j] += m->dxa[i * (D + A) + D + j];
}

void m2_aux_inf_backward(m2 *m, const float *x, const float *eps_a, int nl, int nu, float wl, float wu, float beta)
{
    int A = m->aux.size, nin = nl + nu;
    const float *h = dnet_out(&m->qa);
    float *dh = dnet_dout(&m->qa);
    vaenet_latent_backward(dh, h, m->da, eps_a, NULL, 0.0f, nin, A);
    /* log q(a|x) at a = mu + sigma eps: -1/2 sum_j (log 2pi + logvar_j + eps_j^2), whose gradient is
     * -1/2 in each logvar (none in mu); cut at the clamp's upper bound, as the other log-variances */
    for (int i = 0; i < nin; i++) {
        float g = -0.5f * beta * (i < nl ? wl : wu);
        const float *lv = h + (size_t)i * 2 * A + A;
        float *dlv = dh + (size_t)i * 2 * A + A;
        for (int j = 0; j < A; j++)
            if (lv[j] < VAENET_LOGVAR_MAX) dlv[j] += g;
    }
    dnet_backward(&m->qa, &m->p, NULL, x, nin, nin, NULL, NULL);
}

void m2_aux_predict(m2 *m, const float *x, int B, float *p, rng *r)
{
    int A = m->aux.size, K = m->K, S = m->aux.samples > 0 ? m->aux.samples : 1;
    float *h = dnet_forward(&m->qa, &m->p, x, B, B, NULL, NULL), *eps = m->da;   /* da: scratch for the draws */
    memset(p, 0, (size_t)B * K * sizeof(float));
    for (int s = 0; s < S; s++) {
        rng_fill_normal(r, eps, (size_t)B * A);
        vaenet_latent_forward(m->a_smp, NULL, h, eps, B, A);
        const float *logits = dnet_forward(&m->cls, &m->p, join_x_a(m, x, B), B, B, NULL, NULL);
        m2_log_softmax(m->logq, m->pq, logits, B, K);
        for (size_t k = 0; k < (size_t)B * K; k++) p[k] += m->pq[k] / (float)S;
    }
}

const float *m2_aux_mean_input(m2 *m, const float *x, int B)
{
    float *h = dnet_forward(&m->qa, &m->p, x, B, B, NULL, NULL);
    vaenet_latent_forward(m->a_smp, NULL, h, NULL, B, m->aux.size);
    return join_x_a(m, x, B);
}

void m2_aux_decode(m2 *m, const float *z, const int *cls, int B, float *xmean)
{
    int A = m->aux.size, Z = m->a.latent;
    const float *in = z;
    if (m->aux.kind == M2_SDGM) {   /* a at the mean of p(a|y,z) */
        const float *h = dnet_forward(&m->pa, &m->p, z, B, B, NULL, cls);
        for (int r = 0; r < B; r++) {
            memcpy(m->cat + (size_t)r * (Z + A), z + (size_t)r * Z, (size_t)Z * sizeof(float));
            memcpy(m->cat + (size_t)r * (Z + A) + Z, h + (size_t)r * 2 * A, (size_t)A * sizeof(float));
        }
        in = m->cat;
    }
    const float *o = dnet_forward(&m->dec, &m->p, in, B, B, NULL, cls);
    vaenet_lik_mean(m->a.lik, xmean, o, B, m->a.in);
}
