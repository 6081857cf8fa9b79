#include "prob.h"

#include <math.h>

#include "vmath.h"

#define LOG_2PI 1.8378770664093453f

void prob_gauss_sample_forward(float *z, const float *mu, const float *logvar, const float *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
}

void prob_gauss_sample_backward(float *dmu, float *dlogvar, const float *dz, const float *logvar,
                                const float *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dmu[i] += dz[i];
        dlogvar[i] += dz[i] * eps[i] * 0.5f * expf(0.5f * logvar[i]);
    }
}

static inline float row_scale(const float *w, float scale, int i) { return w ? scale * w[i] : scale; }

double prob_kl_normal_forward(float *rows, const float *mu, const float *logvar, int B, int Z)
{
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float *m = mu + (size_t)i * Z, *lv = logvar + (size_t)i * Z;   // (Z)
        float s = 0;
        for (int j = 0; j < Z; j++) s += 1.0f + lv[j] - m[j] * m[j] - expf(lv[j]);
        s *= -0.5f;
        if (rows) rows[i] = s;
        total += s;
    }
    return total;
}

void prob_kl_normal_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar,
                             const float *w, float scale, int B, int Z)
{
    for (int i = 0; i < B; i++) {
        float s = row_scale(w, scale, i);
        size_t o = (size_t)i * Z;
        for (int j = 0; j < Z; j++) {
            dmu[o + j] += s * mu[o + j];
            dlogvar[o + j] += s * 0.5f * (expf(logvar[o + j]) - 1.0f);
        }
    }
}

/* One element group: softplus(l) - x l = max(l, 0) + log1p(e^-|l|) - x l, and s (sigmoid(l) - x)
 * into *d, sharing e = e^-|l| and 1 + e between the two. */
VMATH_INLINE vmath_f8 bernoulli8(vmath_f8 *d, vmath_f8 l, vmath_f8 x, float s)
{
    vmath_f8 e = vmath_exp8(-vmath_abs(l)), u = e + 1.0f;
    *d = s * (vmath_sigmoid_eu(l, e, u) - x);
    return vmath_max0(l) + vmath_log1p_core(e, u) - x * l;
}

/* One row: returns its loss (summed in 8 lanes, then vmath_sum), dl = the gradient when not NULL. */
VMATH_KERNEL static float bernoulli_row(float *dl, const float *l, const float *x, float s, int D)
{
    vmath_f8 acc = vmath_splat(0.0f), d;
    int j = 0;
    for (; j + 8 <= D; j += 8) {
        acc += bernoulli8(&d, vmath_load(l + j, 8), vmath_load(x + j, 8), s);
        if (dl) vmath_store(dl + j, d, 8);
    }
    if (j < D) {
        int k = D - j;
        vmath_f8 v = bernoulli8(&d, vmath_load(l + j, k), vmath_load(x + j, k), s);
        acc += vmath_select(vmath_first(k), v, vmath_splat(0.0f));
        if (dl) vmath_store(dl + j, d, k);
    }
    return vmath_sum(acc);
}

double prob_bernoulli_nll(float *rows, float *dlogits, const float *logits, const float *x, const float *w,
                          float scale, int B, int D)
{
    double total = 0;
    for (int i = 0; i < B; i++) {
        size_t o = (size_t)i * D;
        float s = bernoulli_row(dlogits ? dlogits + o : NULL, logits + o, x + o, row_scale(w, scale, i), D);
        if (rows) rows[i] = s;
        total += s;
    }
    return total;
}

double prob_gauss_nll_forward(float *rows, const float *mean, const float *logvar, const float *x, int B, int D)
{
    double total = 0;
    for (int i = 0; i < B; i++) {
        size_t o = (size_t)i * D;
        float s = 0;
        for (int j = 0; j < D; j++) {
            float r = x[o + j] - mean[o + j];
            s += LOG_2PI + logvar[o + j] + r * r * expf(-logvar[o + j]);
        }
        s *= 0.5f;
        if (rows) rows[i] = s;
        total += s;
    }
    return total;
}

void prob_gauss_nll_backward(float *dmean, float *dlogvar, const float *mean, const float *logvar,
                             const float *x, const float *w, float scale, int B, int D)
{
    for (int i = 0; i < B; i++) {
        float s = row_scale(w, scale, i);
        size_t o = (size_t)i * D;
        for (int j = 0; j < D; j++) {
            float r = mean[o + j] - x[o + j], iv = expf(-logvar[o + j]);
            dmean[o + j] = s * r * iv;
            dlogvar[o + j] = s * 0.5f * (1.0f - r * r * iv);
        }
    }
}
