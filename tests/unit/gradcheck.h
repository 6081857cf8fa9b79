/* gradcheck: central finite differences against analytic gradients, shared by the VAE tests.
 *
 * The code under test computes in float32, with the loss summed in double. With h = 1e-3 and
 * losses of order 1-100, float rounding in the loss (~1e-5 relative to its terms) becomes ~5e-3
 * in the difference quotient; the truncation error h^2 f'''/6 is ~1e-6. So
 * |numeric - analytic| <= 5e-3 + 2e-2 |analytic| catches any wrong term (a missing factor or a
 * wrong sign gives errors of order |analytic|) without flaking. ReLU kinks are avoided by using
 * softplus networks. */
#ifndef SSL_GRADCHECK_H
#define SSL_GRADCHECK_H

#include <math.h>
#include <stdio.h>

#include "check.h"
#include "rng.h"

#define GC_H 1e-3f
#define GC_TOL(a) (5e-3 + 2e-2 * fabs(a))

typedef double (*gc_loss_fn)(void *ctx);

/* Checks g (n), the analytic gradient of f w.r.t. x (n); x is restored. Returns the failures. */
static inline int gc_check(const char *what, gc_loss_fn f, void *ctx, float *x, const float *g, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + GC_H;
        double lp = f(ctx);
        x[i] = keep - GC_H;
        double lm = f(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * (double)GC_H);
        if (fabs(num - g[i]) > GC_TOL(g[i]) && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: numeric %.6g, analytic %.6g\n", what, i, num, (double)g[i]);
        CHECK_NEAR(num, g[i], GC_TOL(g[i]));
    }
    return bad;
}

static inline void gc_fill(rng *r, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_uniform(r);
}

#endif
