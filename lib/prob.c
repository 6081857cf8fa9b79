#include "prob.h"

#include <math.h>

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

/* softplus(l) - x l, with softplus(l) = max(l, 0) + log1p(e^-|l|) */
double prob_bernoulli_nll_forward(float *rows, const float *logits, const float *x, int B, int D)
{
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * D, *xi = x + (size_t)i * D;   // (D)
        float s = 0;
        for (int j = 0; j < D; j++) s += fmaxf(l[j], 0.0f) + log1pf(expf(-fabsf(l[j]))) - xi[j] * l[j];
        if (rows) rows[i] = s;
        total += s;
    }
    return total;
}

static inline float sigmoidf(float x)
{
    float e = expf(-fabsf(x));   /* never exp of a large positive number */
    return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

void prob_bernoulli_nll_backward(float *dlogits, const float *logits, const float *x, const float *w,
                                 float scale, int B, int D)
{
    for (int i = 0; i < B; i++) {
        float s = row_scale(w, scale, i);
        size_t o = (size_t)i * D;
        for (int j = 0; j < D; j++) dlogits[o + j] = s * (sigmoidf(logits[o + j]) - x[o + j]);
    }
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

void prob_sigmoid(float *y, const float *l, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = sigmoidf(l[i]);
}
