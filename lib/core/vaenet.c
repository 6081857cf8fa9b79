#include "vaenet.h"

#include <math.h>
#include <string.h>

#include "names.h"
#include "prob.h"
#include "vmath.h"

static const char *const lik_names[] = {"bernoulli", "gaussian", NULL};

const char *vaenet_lik_name(vaenet_lik l) { return lik_names[l]; }

int vaenet_lik_parse(const char *s, vaenet_lik *out)
{
    int i = names_find(lik_names, s);
    if (i >= 0) *out = (vaenet_lik)i;
    return i < 0 ? -1 : 0;
}

void vaenet_clamp_logvar(float *lv, int n)
{
    for (int j = 0; j < n; j++) lv[j] = fminf(fmaxf(lv[j], -VAENET_LOGVAR_MAX), VAENET_LOGVAR_MAX);
}

/* At a bound, only the gradient that would move a log-variance further out is cut: a wall, not
 * a trap (a clamped value whose gradient points back inside keeps it and recovers). */
static void mask_logvar_grad(float *dlv, const float *lv, int n)
{
    for (int j = 0; j < n; j++)
        if ((lv[j] >= VAENET_LOGVAR_MAX && dlv[j] < 0) || (lv[j] <= -VAENET_LOGVAR_MAX && dlv[j] > 0)) dlv[j] = 0.0f;
}

double vaenet_latent_forward(float *z, float *kl, float *h, const float *eps, int R, int Z)
{
    double total = 0;
    for (int r = 0; r < R; r++) {
        float *mu = h + (size_t)r * 2 * Z, *lv = mu + Z;   // (Z), (Z)
        vaenet_clamp_logvar(lv, Z);
        float *zr = z + (size_t)r * Z;
        if (eps) prob_gauss_sample_forward(zr, mu, lv, eps + (size_t)r * Z, (size_t)Z);
        else memcpy(zr, mu, (size_t)Z * sizeof(float));
        total += prob_kl_normal_forward(kl ? kl + r : NULL, mu, lv, 1, Z);
    }
    return total;
}

void vaenet_latent_backward(float *dh, const float *h, const float *dz, const float *eps, const float *w,
                         float klscale, int R, int Z)
{
    memset(dh, 0, (size_t)R * 2 * Z * sizeof(float));
    for (int r = 0; r < R; r++) {
        const float *mu = h + (size_t)r * 2 * Z, *lv = mu + Z;
        float *dmu = dh + (size_t)r * 2 * Z, *dlv = dmu + Z;
        const float *dzr = dz + (size_t)r * Z;
        if (eps) prob_gauss_sample_backward(dmu, dlv, dzr, lv, eps + (size_t)r * Z, (size_t)Z);
        else
            for (int j = 0; j < Z; j++) dmu[j] += dzr[j];
        prob_kl_normal_backward(dmu, dlv, mu, lv, NULL, klscale * (w ? w[r] : 1.0f), 1, Z);
        mask_logvar_grad(dlv, lv, Z);
    }
}

int vaenet_lik_width(vaenet_lik l, int D) { return l == VAENET_GAUSSIAN ? 2 * D : D; }

/* One row of the Gaussian: -log p(x | o), o = [mean | logvar] (2D, logvar clamped in place), and
 * its gradient scaled by s into d when d is not NULL. */
static float gauss_row(float *d, float *o, const float *x, float s, int D)
{
    float row;
    vaenet_clamp_logvar(o + D, D);
    prob_gauss_nll_forward(&row, o, o + D, x, 1, D);
    if (d) {
        prob_gauss_nll_backward(d, d + D, o, o + D, x, NULL, s, 1, D);
        mask_logvar_grad(d + D, o + D, D);
    }
    return row;
}

/* one likelihood job: rows [r0, r1) of vaenet_lik_nll's arguments */
typedef struct lik_job {
    vaenet_lik l;
    float *rows, *dout, *out;
    const float *x, *w;
    const int *src;
    float scale;
    int D;
} lik_job;

static float lik_row(const lik_job *j, int r)
{
    size_t W = (size_t)vaenet_lik_width(j->l, j->D);
    float *o = j->out + r * W, *d = j->dout ? j->dout + r * W : NULL, row;
    const float *xr = j->x + (size_t)(j->src ? j->src[r] : r) * j->D;
    float s = j->scale * (j->w ? j->w[r] : 1.0f);
    if (j->l == VAENET_BERNOULLI) prob_bernoulli_nll(&row, d, o, xr, NULL, s, 1, j->D);
    else row = gauss_row(d, o, xr, s, j->D);
    return row;
}

static void lik_rows(void *ctx, size_t r0, size_t r1)
{
    const lik_job *j = ctx;
    for (size_t r = r0; r < r1; r++) j->rows[r] = lik_row(j, (int)r);
}

double vaenet_lik_nll(par_pool *pool, vaenet_lik l, float *rows, float *dout, float *out, const float *x, const int *src,
                   const float *w, float scale, int R, int D)
{
    lik_job j = {l, rows, dout, out, x, w, src, scale, D};
    double total = 0;
    if (!rows) {
        for (int r = 0; r < R; r++) total += lik_row(&j, r);
        return total;
    }
    /* the rows on the pool's threads, each into its own slot; the sum in row order, as without a pool */
    par_for(pool, (size_t)R, 1, (size_t)D * 16, lik_rows, &j);
    for (int r = 0; r < R; r++) total += rows[r];
    return total;
}

void vaenet_lik_mean(vaenet_lik l, float *mean, const float *out, int R, int D)
{
    if (l == VAENET_BERNOULLI) {
        vmath_sigmoid(mean, out, (size_t)R * D);
        return;
    }
    for (int r = 0; r < R; r++) memcpy(mean + (size_t)r * D, out + (size_t)r * 2 * D, (size_t)D * sizeof(float));
}

void vaenet_arch_to_info(const vaenet_arch *a, value *info)
{
    value_set(info, "in", value_int(a->in));
    value_set(info, "latent", value_int(a->latent));
    value *h = value_array();
    for (int l = 0; l < a->nhidden; l++) value_push(h, value_int(a->hidden[l]));
    value_set(info, "hidden", h);
    value_set(info, "activation", value_str(nn_act_name(a->act)));
    value_set(info, "likelihood", value_str(vaenet_lik_name(a->lik)));
}

int vaenet_arch_from_info(vaenet_arch *a, const value *info, error *e)
{
    memset(a, 0, sizeof *a);
    a->in = value_get_size(info, "in");
    a->latent = value_get_size(info, "latent");
    const value *h = value_get(info, "hidden");
    if (a->in <= 0 || a->latent <= 0 || !h || h->kind != VALUE_ARRAY || h->n > VAENET_MAX_HIDDEN)
        return error_set(e, "model info: bad architecture (in, latent, hidden)");
    a->nhidden = (int)h->n;
    for (size_t l = 0; l < h->n; l++)
        if ((a->hidden[l] = value_size(h->items[l])) <= 0) return error_set(e, "model info: bad hidden size");
    if (nn_act_parse(value_get_str(info, "activation", ""), &a->act) < 0)
        return error_set(e, "model info: unknown activation '%s'", value_get_str(info, "activation", ""));
    if (vaenet_lik_parse(value_get_str(info, "likelihood", ""), &a->lik) < 0)
        return error_set(e, "model info: unknown likelihood '%s'", value_get_str(info, "likelihood", ""));
    return 0;
}
