#include "norm.h"

#include <math.h>
#include <string.h>

#include "gemm.h"

/* ---- weight-normalised dense ---- */

/* sum a[i] b[i] with 8 running sums, a shape the compiler vectorises without -ffast-math */
NN_VECTORISE static float dotf(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* rows [j0, j1) of the weight-norm forward or its gradient: each row on its own, so any split over
 * the pool's threads gives the same bytes */
typedef struct wn_job {
    float *w, *vnorm, *dv, *dg;
    const float *v, *g, *dw, *cvnorm;
    int in;
} wn_job;

NN_VECTORISE static void wn_weight_rows(void *ctx, size_t j0, size_t j1)
{
    const wn_job *t = ctx;
    int in = t->in;
    for (size_t j = j0; j < j1; j++) {
        const float *vj = t->v + j * in;   // (in)
        float *wj = t->w + j * in;         // (in)
        float n = sqrtf(dotf(vj, vj, in));
        if (n < 1e-12f) n = 1e-12f;        /* a dead row stays finite */
        t->vnorm[j] = n;
        float s = t->g[j] / n;
        for (int i = 0; i < in; i++) wj[i] = s * vj[i];
    }
}

void norm_wn_weight(par_pool *pool, float *w, float *vnorm, const float *v, const float *g, int in, int out)
{
    wn_job t = {.w = w, .vnorm = vnorm, .v = v, .g = g, .in = in};
    /* rows in blocks of 16: the threads do not share a line of vnorm (or of dg below) */
    par_for(pool, (size_t)out, 16, 2 * (size_t)in, wn_weight_rows, &t);
}

NN_VECTORISE static void wn_grad_rows(void *ctx, size_t j0, size_t j1)
{
    const wn_job *t = ctx;
    int in = t->in;
    for (size_t j = j0; j < j1; j++) {
        const float *dwj = t->dw + j * in, *vj = t->v + j * in;   // (in)
        float *dvj = t->dv + j * in;                              // (in)
        float s = dotf(dwj, vj, in), n = t->cvnorm[j];
        if (t->dg) t->dg[j] += s / n;
        float c = t->g[j] / n, r = s / (n * n);
        for (int i = 0; i < in; i++) dvj[i] += c * (dwj[i] - r * vj[i]);
    }
}

void norm_wn_grad(par_pool *pool, float *dv, float *dg, const float *dw, const float *v, const float *g,
                  const float *vnorm, int in, int out)
{
    wn_job t = {.dv = dv, .dg = dg, .dw = dw, .v = v, .g = g, .cvnorm = vnorm, .in = in};
    par_for(pool, (size_t)out, 16, 3 * (size_t)in, wn_grad_rows, &t);
}

NN_VECTORISE void norm_wn_backward(par_pool *pool, float *dx, float *dv, float *dg, float *db, float *dw, float *dy,
                      const float *x, const float *w, const float *v, const float *g, const float *vnorm,
                      const float *y, int B, int in, int out, nn_act a)
{
    nn_bias_act_backward(pool, dy, db, y, B, out, a);
    if (dv) {
        /* dw (out, in) = dy^T (out, B) . x (B, in) */
        gemm_run(pool, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 0.0f, dw, in);
        norm_wn_grad(pool, dv, dg, dw, v, g, vnorm, in, out);
    }
    /* dx (B, in) = dy (B, out) . w (out, in) */
    if (dx) gemm_run(pool, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

/* ---- batch normalisation ---- */

NN_VECTORISE void norm_bn_forward_train(float *y, float *xhat, float *istd, const float *x, const float *gamma,
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

NN_VECTORISE void norm_bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var, int B, int C)
{
    for (int i = 0; i < B; i++) {
        const float *r = x + (size_t)i * C;
        float *o = y + (size_t)i * C;
        for (int j = 0; j < C; j++)
            o[j] = gamma[j] * (r[j] - run_mean[j]) / sqrtf(run_var[j] + NORM_BN_EPS) + beta[j];
    }
}

NN_VECTORISE void norm_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat,
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

/* dst (B, P, C) = src (B, C, P) with its last two axes swapped (back = 0), or the inverse
 * (back = 1: dst (B, C, P) from src (B, P, C)). */
static void swap_cp(float *dst, const float *src, int B, int C, int P, int back)
{
    for (int i = 0; i < B; i++) {
        const float *s = src + (size_t)i * C * P;
        float *d = dst + (size_t)i * C * P;
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++) {
                if (back) d[(size_t)c * P + p] = s[(size_t)p * C + c];
                else d[(size_t)p * C + c] = s[(size_t)c * P + p];
            }
    }
}

void norm_bn2d_forward_train(float *y, float *xhat, float *istd, float *t, const float *x, const float *gamma,
                             const float *beta, float *run_mean, float *run_var, float momentum, int B, int C, int P)
{
    swap_cp(t, x, B, C, P, 0);
    norm_bn_forward_train(t, xhat, istd, t, gamma, beta, run_mean, run_var, momentum, B * P, C);
    swap_cp(y, t, B, C, P, 1);
}

void norm_bn2d_forward_eval(float *y, float *t, const float *x, const float *gamma, const float *beta,
                            const float *run_mean, const float *run_var, int B, int C, int P)
{
    swap_cp(t, x, B, C, P, 0);
    norm_bn_forward_eval(t, t, gamma, beta, run_mean, run_var, B * P, C);
    swap_cp(y, t, B, C, P, 1);
}

void norm_bn2d_backward(float *dx, float *dgamma, float *dbeta, float *t, const float *dy, const float *xhat,
                        const float *istd, const float *gamma, int B, int C, int P)
{
    swap_cp(t, dy, B, C, P, 0);
    norm_bn_backward(dx ? t : NULL, dgamma, dbeta, t, xhat, istd, gamma, B * P, C);
    if (dx) swap_cp(dx, t, B, C, P, 1);
}

/* ---- Gaussian noise ---- */

/* Marsaglia & Tsang (2000), "The Ziggurat Method for Generating Random Variables": 128 layers,
 * a 32-bit draw per value in the fast path (~99% of draws). The tables are rebuilt on each call
 * (128 exp/log, microseconds), so nothing global is kept. */
#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3

typedef struct zig {
    uint32_t k[128];
    float w[128], f[128];
    uint64_t bits;
    int have;
    rng *r;
} zig;

static void zig_init(zig *z, rng *r)
{
    const double m1 = 2147483648.0;
    double dn = ZIG_R, tn = dn, q = ZIG_V / exp(-0.5 * dn * dn);
    z->k[0] = (uint32_t)((dn / q) * m1);
    z->k[1] = 0;
    z->w[0] = (float)(q / m1);
    z->w[127] = (float)(dn / m1);
    z->f[0] = 1.0f;
    z->f[127] = (float)exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; i--) {
        dn = sqrt(-2.0 * log(ZIG_V / dn + exp(-0.5 * dn * dn)));
        z->k[i + 1] = (uint32_t)((dn / tn) * m1);
        tn = dn;
        z->f[i] = (float)exp(-0.5 * dn * dn);
        z->w[i] = (float)(dn / m1);
    }
    z->have = 0;
    z->r = r;
}

static inline int32_t zig_next(zig *z)
{
    if (z->have) {
        z->have = 0;
        return (int32_t)(uint32_t)(z->bits >> 32);
    }
    z->bits = rng_u64(z->r);
    z->have = 1;
    return (int32_t)(uint32_t)z->bits;
}

static inline uint32_t abs32(int32_t h) { return h < 0 ? (uint32_t)(-(int64_t)h) : (uint32_t)h; }

/* the rare draws outside the rectangles: the wedges and the tail */
static float zig_slow(zig *z, int32_t hz)
{
    for (;;) {
        int iz = hz & 127;
        float x = (float)hz * z->w[iz];
        if (iz == 0) {
            double a, b;
            do {
                a = -log(1.0 - rng_uniform_double(z->r)) / ZIG_R;
                b = -log(1.0 - rng_uniform_double(z->r));
            } while (b + b < a * a);
            return (float)(hz > 0 ? ZIG_R + a : -ZIG_R - a);
        }
        if (z->f[iz] + rng_uniform(z->r) * (z->f[iz - 1] - z->f[iz]) < expf(-0.5f * x * x)) return x;
        hz = zig_next(z);
        if (abs32(hz) < z->k[hz & 127]) return (float)hz * z->w[hz & 127];
    }
}

static inline float zig_normal(zig *z)
{
    int32_t hz = zig_next(z);
    int iz = hz & 127;
    return abs32(hz) < z->k[iz] ? (float)hz * z->w[iz] : zig_slow(z, hz);
}

/* n values into out, the same as n calls of zig_normal: two at a time from one 64-bit draw while both
 * halves take the fast path (~98% of pairs), which spares the pending-half bookkeeping; otherwise the
 * draw is left as zig_next would leave it and zig_normal goes on until no half is pending. */
static void zig_fill(zig *z, float *out, size_t n)
{
    size_t i = 0;
    while (i < n && z->have) out[i++] = zig_normal(z);
    while (i + 2 <= n) {
        uint64_t b = rng_u64(z->r);
        int32_t lo = (int32_t)(uint32_t)b, hi = (int32_t)(uint32_t)(b >> 32);
        int il = lo & 127, ih = hi & 127;
        if (abs32(lo) < z->k[il] && abs32(hi) < z->k[ih]) {
            out[i++] = (float)lo * z->w[il];
            out[i++] = (float)hi * z->w[ih];
            continue;
        }
        z->bits = b, z->have = 1;
        out[i++] = abs32(lo) < z->k[il] ? (float)lo * z->w[il] : zig_slow(z, lo);
        while (i < n && z->have) out[i++] = zig_normal(z);
    }
    while (i < n) out[i++] = zig_normal(z);
}

void norm_gauss_fill(float *eps, size_t n, rng *r)
{
    zig z;
    zig_init(&z, r);
    zig_fill(&z, eps, n);
}

void norm_noise_add(float *y, const float *x, float sigma, size_t n, rng *r)
{
    zig z;
    zig_init(&z, r);
    float e[256];   /* a block of draws at a time, then a vectorised y = x + sigma e */
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        zig_fill(&z, e, k);
        norm_noise_forward(y + i, x + i, e, sigma, k);
    }
}

void norm_noise_add_share(float *y, const float *x, float sigma, size_t parts, size_t B, size_t first, size_t b,
                          size_t width, rng *r)
{
    zig z;
    zig_init(&z, r);
    size_t before = first * width, kept = b * width, after = (B - first - b) * width;
    for (size_t p = 0; p < parts; p++) {
        for (size_t i = 0; i < before; i++) zig_normal(&z);
        for (size_t i = 0; i < kept; i++, y++, x++) *y = *x + sigma * zig_normal(&z);
        for (size_t i = 0; i < after; i++) zig_normal(&z);
    }
}

NN_VECTORISE void norm_noise_forward(float *y, const float *x, const float *eps, float sigma, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] + sigma * eps[i];
}

void norm_noise_backward(float *dx, const float *dy, size_t n)
{
    if (dx != dy) memmove(dx, dy, n * sizeof(float));
}
