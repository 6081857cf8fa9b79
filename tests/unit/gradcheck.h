/* gradcheck: central finite differences against analytic gradients, shared by the gradient tests
 * (layers: test_nn, test_norm; models: test_prob, test_vae, test_m2).
 *
 * The code under test computes in float32, with the loss summed in double; h = 1e-3, and the
 * truncation error h^2 f'''/6 is ~1e-6. Two tolerances |numeric - analytic| <= abs + rel |analytic|:
 * - gc_check_layer (3e-3 + 1e-2 |a|): one layer, losses of order 1-10, whose float rounding
 *   (~1e-6 absolute) becomes ~5e-4 in the difference quotient;
 * - gc_check (5e-3 + 2e-2 |a|): whole models, losses of order 1-100, whose rounding (~1e-5
 *   relative to their terms) becomes ~5e-3.
 * Both catch any wrong term (a missing factor, a wrong sign or transpose gives errors of order
 * |analytic|) without flaking. Keep ReLU inputs away from the kink (|x| >> h), or use softplus. */
#ifndef SSL_GRADCHECK_H
#define SSL_GRADCHECK_H

#include <math.h>
#include <stdio.h>

#include "check.h"
#include "rng.h"

#define GC_H 1e-3f

typedef double (*gc_loss_fn)(void *ctx);

/* Checks g (n), the analytic gradient of f w.r.t. x (n), within atol + rtol |g|; x is restored.
 * Returns the failures (the first three are printed). */
static inline int gc_check_tol(const char *what, gc_loss_fn f, void *ctx, float *x, const float *g, size_t n,
                               double atol, double rtol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + GC_H;
        double lp = f(ctx);
        x[i] = keep - GC_H;
        double lm = f(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * (double)GC_H), tol = atol + rtol * fabs(g[i]);
        if (fabs(num - g[i]) > tol && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: numeric %.6g, analytic %.6g\n", what, i, num, (double)g[i]);
        CHECK_NEAR(num, g[i], tol);
    }
    return bad;
}

static inline int gc_check(const char *what, gc_loss_fn f, void *ctx, float *x, const float *g, size_t n)
{
    return gc_check_tol(what, f, ctx, x, g, n, 5e-3, 2e-2);
}

static inline int gc_check_layer(const char *what, gc_loss_fn f, void *ctx, float *x, const float *g, size_t n)
{
    return gc_check_tol(what, f, ctx, x, g, n, 3e-3, 1e-2);
}

/* Uniform in [lo, hi). */
static inline void gc_fill(rng *r, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_uniform(r);
}

/* Uniform in [-scale, scale). */
static inline void gc_fill_sym(rng *r, float *a, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) a[i] = (2.0f * rng_uniform(r) - 1.0f) * scale;
}

#endif
