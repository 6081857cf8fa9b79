/* lib/vmath: every function against libm in double rounded to float, over float bit patterns spread
 * evenly over the whole range (every 509th, about 8.4 million per function; `test_vmath --stride 1`
 * checks all 2^32 and prints the maxima), plus the special values vmath.h promises. */
#include <float.h>
#include <pthread.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "vmath.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

static uint32_t stride = 509;

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* |y - ref| in units of the last place of ref rounded to float (denormal spacing below FLT_MIN);
 * 0 when both are the same infinity or both NaN, HUGE_VAL when they disagree there. */
static double ulps(float y, double ref)
{
    float rf = (float)ref;
    if (isnan(ref) || isnan(y)) return isnan(ref) && isnan(y) ? 0 : HUGE_VAL;
    if (isinf(rf) || isinf(y)) return rf == y ? 0 : HUGE_VAL;
    int e;
    frexp(fabs((double)rf), &e);
    double ulp = fmax(ldexp(1.0, e - 24), ldexp(1.0, -149));
    return fabs((double)y - ref) / ulp;
}

static double ref_exp(double x) { return exp(x); }
static double ref_expm1(double x) { return expm1(x); }
static double ref_log1p(double x) { return log1p(x); }
static double ref_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
/* vmath_softplus_grad with dy = 1 is 1 - e^-y */
static double ref_grad(double y) { return -expm1(-y); }
static void grad1(float *out, const float *y, size_t n)
{
    float one[1024];
    for (size_t i = 0; i < n; i++) one[i] = 1.0f;
    vmath_softplus_grad(out, one, y, n);
}

typedef struct fn {
    const char *name;
    void (*f)(float *, const float *, size_t);
    double (*ref)(double);
    double max_ulps;   /* the bound checked: --stride 1 found 1.02, 1.77, 1.44, 1.99, 2.40, 1.77 */
} fn;

/* The largest error over the sweep; prints it and the argument where it happened. */
static double sweep(const fn *t)
{
    enum { N = 1024 };
    float x[N], y[N];
    double worst = 0;
    float at = 0;
    uint64_t b = 0;
    while (b <= UINT32_MAX) {
        size_t n = 0;
        for (; n < N && b <= UINT32_MAX; n++, b += stride) x[n] = from_bits((uint32_t)b);
        t->f(y, x, n);
        for (size_t i = 0; i < n; i++) {
            double u = ulps(y[i], t->ref((double)x[i]));
            if (u > worst) worst = u, at = x[i];
        }
    }
    fprintf(stderr, "  %-14s max %.2f ulp (at %.9g)\n", t->name, worst, (double)at);
    return worst;
}

static const fn FNS[] = {
    {"vmath_exp", vmath_exp, ref_exp, 1.1},
    {"vmath_expm1", vmath_expm1, ref_expm1, 1.8},
    {"vmath_log1p", vmath_log1p, ref_log1p, 1.5},
    {"vmath_softplus", vmath_softplus, ref_softplus, 2},
    {"vmath_sigmoid", vmath_sigmoid, ref_sigmoid, 2.5},
    {"softplus_grad", grad1, ref_grad, 1.8},
};

static void test_accuracy(void)
{
    for (size_t i = 0; i < sizeof FNS / sizeof FNS[0]; i++) CHECK(sweep(&FNS[i]) <= FNS[i].max_ulps);
}

static float f1(void (*f)(float *, const float *, size_t), float x)
{
    float y;
    f(&y, &x, 1);
    return y;
}

static void test_special(void)
{
    float inf = INFINITY, den = from_bits(5);
    CHECK(f1(vmath_exp, inf) == inf && f1(vmath_exp, -inf) == 0 && isnan(f1(vmath_exp, NAN)));
    CHECK(f1(vmath_exp, 0.0f) == 1 && f1(vmath_exp, -0.0f) == 1 && f1(vmath_exp, 88.8f) == inf);
    CHECK(f1(vmath_exp, -104.0f) == 0 && f1(vmath_exp, -100.0f) > 0);   /* denormal results */
    CHECK(f1(vmath_expm1, inf) == inf && f1(vmath_expm1, -inf) == -1 && isnan(f1(vmath_expm1, NAN)));
    CHECK(f1(vmath_expm1, den) == den && f1(vmath_expm1, 1e-30f) == 1e-30f);
    CHECK(f1(vmath_log1p, -1.0f) == -inf && isnan(f1(vmath_log1p, -2.0f)) && isnan(f1(vmath_log1p, -inf)));
    CHECK(f1(vmath_log1p, inf) == inf && isnan(f1(vmath_log1p, NAN)) && f1(vmath_log1p, FLT_MAX) < inf);
    float nz = f1(vmath_log1p, -0.0f);
    CHECK(nz == 0 && signbit(nz) && f1(vmath_log1p, den) == den && f1(vmath_log1p, -den) == -den);
    CHECK(f1(vmath_softplus, inf) == inf && f1(vmath_softplus, -inf) == 0 && isnan(f1(vmath_softplus, NAN)));
    CHECK(f1(vmath_softplus, -200.0f) == 0 && f1(vmath_softplus, 200.0f) == 200.0f);
    CHECK(f1(vmath_sigmoid, inf) == 1 && f1(vmath_sigmoid, -inf) == 0 && f1(vmath_sigmoid, 0.0f) == 0.5f);
}

/* A tail (n not a multiple of 8) gives the values the whole vectors give, and writes nothing past n. */
static void test_tail(void)
{
    float x[19], a[19], b[20];
    for (int i = 0; i < 19; i++) x[i] = -3.0f + 0.37f * (float)i;
    vmath_softplus(a, x, 19);
    for (int k = 0; k < 8; k++) {
        b[19 - 8 + k] = -7.0f;
        b[19] = 42.0f;
        vmath_softplus(b + 11, x + 11, (size_t)k);   /* only the first k of the last 8 */
        for (int i = 0; i < k; i++) CHECK(b[11 + i] == a[11 + i]);
        CHECK(b[19] == 42.0f);
        if (k < 8) CHECK(b[11 + k] == -7.0f);
    }
    float y[16];
    memcpy(y, x, sizeof y);
    vmath_softplus(y, y, 16);   /* in place */
    for (int i = 0; i < 16; i++) CHECK(y[i] == a[i]);
}

/* vmath_softplus_grad is the derivative of vmath_softplus: loss = sum c softplus(x) */
enum { SPN = 23 };   /* not a multiple of 8: the tail too */
typedef struct sp_ctx {
    float x[SPN], c[SPN], y[SPN];
} sp_ctx;

static double sp_loss(void *p)
{
    sp_ctx *d = p;
    vmath_softplus(d->y, d->x, SPN);
    double s = 0;
    for (int i = 0; i < SPN; i++) s += (double)d->c[i] * d->y[i];
    return s;
}

static void test_softplus_grad(void)
{
    rng r;
    rng_seed(&r, 36);
    sp_ctx d;
    gc_fill_sym(&r, d.x, SPN, 6.0f);
    gc_fill_sym(&r, d.c, SPN, 1.0f);
    sp_loss(&d);
    float dx[SPN];
    vmath_softplus_grad(dx, d.c, d.y, SPN);
    gc_check_layer("softplus.x", sp_loss, &d, d.x, dx, SPN);
}

/* vmath_flush_denormals: a denormal operand reads as 0 and a denormal result is 0, in this thread and
 * in one started afterwards; the thread's mode is restored after the test. */
static void *denormal_product(void *out)
{
    volatile float tiny = 1e-39f, one = 1.0f;
    *(float *)out = tiny * one;
    return NULL;
}

static void test_flush_denormals(void)
{
#if defined(__SSE__)
    unsigned saved = _mm_getcsr();
    float r = -1;
    denormal_product(&r);
    CHECK(r > 0 && r < FLT_MIN);   /* denormals by default */
    vmath_flush_denormals();
    denormal_product(&r);
    CHECK(r == 0);
    volatile float a = 1e-20f, b = 1e-20f;
    CHECK(a * b == 0);            /* a denormal result flushed */
    pthread_t t;
    r = -1;
    CHECK(pthread_create(&t, NULL, denormal_product, &r) == 0 && pthread_join(t, NULL) == 0);
    CHECK(r == 0);
    _mm_setcsr(saved);
#endif
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--stride") == 0) stride = (uint32_t)strtoul(argv[2], NULL, 10);
    if (stride == 0) stride = 1;
    RUN(test_accuracy);
    RUN(test_special);
    RUN(test_tail);
    RUN(test_softplus_grad);
    RUN(test_flush_denormals);
    return check_summary();
}
