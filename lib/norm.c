#include "norm.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

/* ---- weight-normalised dense ---- */

/* sum a[i] b[i] with 8 running sums, a shape the compiler vectorises without -ffast-math */
static float dotf(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void norm_wn_weight(float *w, float *vnorm, const float *v, const float *g, int in, int out)
{
    for (int j = 0; j < out; j++) {
        const float *vj = v + (size_t)j * in;   // (in)
        float *wj = w + (size_t)j * in;         // (in)
        float n = sqrtf(dotf(vj, vj, in));
        if (n < 1e-12f) n = 1e-12f;             /* a dead row stays finite */
        vnorm[j] = n;
        float s = g[j] / n;
        for (int i = 0; i < in; i++) wj[i] = s * vj[i];
    }
}

void norm_wn_grad(float *dv, float *dg, const float *dw, const float *v, const float *g, const float *vnorm, int in,
                  int out)
{
    for (int j = 0; j < out; j++) {
        const float *dwj = dw + (size_t)j * in, *vj = v + (size_t)j * in;   // (in)
        float *dvj = dv + (size_t)j * in;                                   // (in)
        float s = dotf(dwj, vj, in), n = vnorm[j];
        if (dg) dg[j] += s / n;
        float c = g[j] / n, r = s / (n * n);
        for (int i = 0; i < in; i++) dvj[i] += c * (dwj[i] - r * vj[i]);
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
        norm_wn_grad(dv, dg, dw, v, g, vnorm, in, out);
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

void norm_gauss_fill(float *eps, size_t n, rng *r)
{
    zig z;
    zig_init(&z, r);
    for (size_t i = 0; i < n; i++) eps[i] = zig_normal(&z);
}

void norm_noise_add(float *y, const float *x, float sigma, size_t n, rng *r)
{
    zig z;
    zig_init(&z, r);
    for (size_t i = 0; i < n; i++) y[i] = x[i] + sigma * zig_normal(&z);
}

void norm_noise_forward(float *y, const float *x, const float *eps, float sigma, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] + sigma * eps[i];
}

void norm_noise_backward(float *dx, const float *dy, size_t n)
{
    if (dx != dy) memmove(dx, dy, n * sizeof(float));
}

/* ---- softplus ---- */

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f splat(float a) { return (v4f){a, a, a, a}; }
static inline v4i splati(int32_t a) { return (v4i){a, a, a, a}; }
/* mask ? a : b, the mask from a vector comparison (all bits set or clear) */
static inline v4f blend(v4i mask, v4f a, v4f b) { return (v4f)((mask & (v4i)a) | (~mask & (v4i)b)); }

/* e^x for x <= 0 (Cephes expf: x = k ln2 + r, |r| <= ln2/2, a degree-7 polynomial); 0 below -87 */
static inline v4f vexp_neg(v4f x)
{
    v4i under = x < splat(-87.0f);
    x = blend(under, splat(-87.0f), x);
    v4f fx = x * splat(1.44269504088896341f) - splat(0.5f);   /* x <= 0: truncation of fx is ceil */
    v4i k = __builtin_convertvector(fx, v4i);                 /* round(x log2 e), away from ties */
    v4f kf = __builtin_convertvector(k, v4f);
    v4f r = x - kf * splat(0.693359375f) + kf * splat(2.12194440e-4f);
    v4f p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    v4f two_k = (v4f)((k + splati(127)) << 23);
    return blend(under, splat(0.0f), p * two_k);
}

/* log(u) for u in [1, 2] (Cephes logf: u = 2^e m, m in [sqrt(1/2), sqrt(2)), a degree-9 polynomial) */
static inline v4f vlog_1_2(v4f u)
{
    v4i bits = (v4i)u;
    v4i e = ((bits >> 23) & splati(0xff)) - splati(126);
    v4f m = (v4f)((bits & splati(0x007fffff)) | splati(0x3f000000));   /* [0.5, 1) */
    v4i small = m < splat(0.707106781186547524f);
    e = e + small;                                                     /* e - 1 where small */
    m = blend(small, m + m, m) - splat(1.0f);
    v4f ef = __builtin_convertvector(e, v4f);
    v4f z = m * m;
    v4f y = splat(7.0376836292e-2f);
    y = y * m - splat(1.1514610310e-1f);
    y = y * m + splat(1.1676998740e-1f);
    y = y * m - splat(1.2420140846e-1f);
    y = y * m + splat(1.4249322787e-1f);
    y = y * m - splat(1.6668057665e-1f);
    y = y * m + splat(2.0000714765e-1f);
    y = y * m - splat(2.4999993993e-1f);
    y = y * m + splat(3.3333331174e-1f);
    y = y * m * z;
    y = y - ef * splat(2.12194440e-4f) - splat(0.5f) * z;
    return m + y + ef * splat(0.693359375f);
}

static inline v4f vsoftplus(v4f x)
{
    v4f ax = (v4f)((v4i)x & splati(0x7fffffff));
    v4f t = vexp_neg(-ax);                      /* (0, 1] */
    v4f u = splat(1.0f) + t;
    v4f d = u - splat(1.0f);
    v4i exact = d == splat(0.0f);               /* t below half an ulp of 1: log1p(t) = t */
    v4f l1p = blend(exact, t, vlog_1_2(u) * (t / blend(exact, splat(1.0f), d)));
    v4f pos = blend(x > splat(0.0f), x, splat(0.0f));
    return pos + l1p;
}

static void softplus4(float *y, const float *x, int k)
{
    v4f v = splat(0.0f);
    memcpy(&v, x, (size_t)k * sizeof(float));
    v = vsoftplus(v);
    memcpy(y, &v, (size_t)k * sizeof(float));
}

static void softplus_grad4(float *dx, const float *dy, const float *y, int k)
{
    v4f d = splat(0.0f), h = splat(0.0f);
    memcpy(&d, dy, (size_t)k * sizeof(float));
    memcpy(&h, y, (size_t)k * sizeof(float));
    d = d * (splat(1.0f) - vexp_neg(-h));
    memcpy(dx, &d, (size_t)k * sizeof(float));
}

/* the tails of the two loops below go through softplus4's padded copy */
void norm_softplus_forward(float *y, const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) softplus4(y + i, x + i, 4);
    if (i < n) softplus4(y + i, x + i, (int)(n - i));
}

void norm_softplus_backward(float *dx, const float *dy, const float *y, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) softplus_grad4(dx + i, dy + i, y + i, 4);
    if (i < n) softplus_grad4(dx + i, dy + i, y + i, (int)(n - i));
}
