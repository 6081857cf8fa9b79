#include "norm.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

/* ---- weight-normalised dense ---- */

void norm_wn_weight(float *w, float *vnorm, const float *v, const float *g, int in, int out)
{
    for (int j = 0; j < out; j++) {
        const float *vj = v + (size_t)j * in;   // (in)
        float *wj = w + (size_t)j * in;         // (in)
        double ss = 0.0;
        for (int i = 0; i < in; i++) ss += (double)vj[i] * vj[i];
        float n = (float)sqrt(ss);
        if (n < 1e-12f) n = 1e-12f;             /* a dead row stays finite */
        vnorm[j] = n;
        float s = g[j] / n;
        for (int i = 0; i < in; i++) wj[i] = s * vj[i];
    }
}

void norm_wn_backward(float *dx, float *dv, float *dg, float *db, float *dw, float *dy, const float *x,
                      const float *w, const float *v, const float *g, const float *vnorm, const float *y,
                      int B, int in, int out, nn_act a)
{
    nn_bias_act_backward(dy, db, y, B, out, a);
    if (dv) {
        /* dw (out, in) = dy^T (out, B) . x (B, in) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 0.0f, dw, in);
        for (int j = 0; j < out; j++) {
            const float *dwj = dw + (size_t)j * in, *vj = v + (size_t)j * in;   // (in)
            float *dvj = dv + (size_t)j * in;                                   // (in)
            float s = 0.0f;
            for (int i = 0; i < in; i++) s += dwj[i] * vj[i];
            float n = vnorm[j];
            if (dg) dg[j] += s / n;
            float c = g[j] / n, r = s / (n * n);
            for (int i = 0; i < in; i++) dvj[i] += c * (dwj[i] - r * vj[i]);
        }
    }
    /* dx (B, in) = dy (B, out) . w (out, in) */
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

/* ---- batch normalisation ---- */

void norm_bn_forward_train(float *y, float *xhat, float *istd, const float *x, const float *gamma,
                           const float *beta, float *run_mean, float *run_var, float momentum, int B, int C)
{
    /* istd doubles as the column accumulator: first the mean, then the variance */
    float *mean = istd;
    memset(mean, 0, (size_t)C * sizeof(float));
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * C;
        for (int j = 0; j < C; j++) mean[j] += r[j];
    }
    float invB = 1.0f / (float)B;
    for (int j = 0; j < C; j++) mean[j] *= invB;
    /* xhat holds x - mean until the variance is known */
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * C;
        float *h = xhat + (size_t)i * C;
        for (int j = 0; j < C; j++) h[j] = r[j] - mean[j];
    }
    if (run_mean)
        for (int j = 0; j < C; j++) run_mean[j] += momentum * (mean[j] - run_mean[j]);
    float *var = istd;
    memset(var, 0, (size_t)C * sizeof(float));
    for (int i = 0; i < B; i++) {
        const float *h = xhat + (size_t)i * C;
        for (int j = 0; j < C; j++) var[j] += h[j] * h[j];
    }
    float unbias = B > 1 ? (float)B / (float)(B - 1) : 1.0f;
    for (int j = 0; j < C; j++) {
        var[j] *= invB;
        if (run_var) run_var[j] += momentum * (var[j] * unbias - run_var[j]);
        istd[j] = 1.0f / sqrtf(var[j] + NORM_BN_EPS);
    }
    for (int i = 0; i < B; i++) {
        float *h = xhat + (size_t)i * C, *o = y + (size_t)i * C;
        for (int j = 0; j < C; j++) {
            h[j] *= istd[j];
            o[j] = gamma[j] * h[j] + beta[j];
        }
    }
}

void norm_bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * C;
        float *o = y + (size_t)i * C;
        for (int j = 0; j < C; j++)
            o[j] = gamma[j] * (r[j] - run_mean[j]) / sqrtf(run_var[j] + NORM_BN_EPS) + beta[j];
    }
}

void norm_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat,
                      const float *istd, const float *gamma, int B, int C)
{
    /* column sums of dy and dy * xhat (C is a layer width: a few KiB of stack) */
    float sdy[C], sdyx[C];   // (C) each
    memset(sdy, 0, sizeof sdy);
    memset(sdyx, 0, sizeof sdyx);
    for (int i = 0; i < B; i++) {
        const float *d = dy + (size_t)i * C, *h = xhat + (size_t)i * C;
        for (int j = 0; j < C; j++) {
            sdy[j] += d[j];
            sdyx[j] += d[j] * h[j];
        }
    }
    if (dgamma)
        for (int j = 0; j < C; j++) dgamma[j] += sdyx[j];
    if (dbeta)
        for (int j = 0; j < C; j++) dbeta[j] += sdy[j];
    if (!dx) return;
    float invB = 1.0f / (float)B;
    for (int j = 0; j < C; j++) {
        sdy[j] *= invB;
        sdyx[j] *= invB;
    }
    for (int i = 0; i < B; i++) {
        const float *d = dy + (size_t)i * C, *h = xhat + (size_t)i * C;
        float *o = dx + (size_t)i * C;
        for (int j = 0; j < C; j++) o[j] = gamma[j] * istd[j] * (d[j] - sdy[j] - h[j] * sdyx[j]);
    }
}

/* ---- Gaussian noise ---- */

/* uniform in (-1, 1) from 24 bits */
static inline float sym_uniform(uint64_t bits) { return (float)(int32_t)(bits & 0xFFFFFF) * (1.0f / 8388608.0f) - 1.0f; }

void norm_gauss_fill(float *eps, size_t n, rng *r)
{
    size_t i = 0;
    while (i < n) {
        uint64_t bits = rng_u64(r);
        float u = sym_uniform(bits), v = sym_uniform(bits >> 32);
        float s = u * u + v * v;
        if (s >= 1.0f || s == 0.0f) continue;
        float f = sqrtf(-2.0f * logf(s) / s);
        eps[i++] = u * f;
        if (i < n) eps[i++] = v * f;
    }
}

void norm_noise_forward(float *y, const float *x, const float *eps, float sigma, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] + sigma * eps[i];
}

void norm_noise_backward(float *dx, const float *dy, size_t n)
{
    if (dx != dy) memmove(dx, dy, n * sizeof(float));
}
