/* vat: what a classifier learns from unlabelled rows, as a loss on them added to its supervised loss:
 * virtual adversarial training (Miyato et al. 2018), entropy minimisation (Grandvalet and Bengio
 * 2005) and FixMatch's confident pseudo-labels (Sohn et al. 2020). Any network that gives logits and
 * back-propagates through them (vat_net) can use it.
 *
 * For B rows x and the network's class probabilities p(x) = softmax(f(x)):
 *   VAT: r_adv = eps g / ||g||, where g = grad_r KL(p(x) || p(x + r)) at r = xi d, d a random unit vector
 *     per row, refined by `iters` power iterations (d <- g / ||g||); the loss is
 *     mean_i KL(p(x_i) || p(x_i + r_adv_i)), with p(x) and r_adv held constant in its gradient (as the
 *     paper's code does);
 *   entropy minimisation: entmin * mean_i H(p(x_i)), H = -sum_k p_k log p_k, differentiated through p;
 *   FixMatch: a weak view w(x_i) of each row (moved, mirrored) and a strong one s(x_i) (moved, mirrored,
 *     a square cut out (DeVries and Taylor 2017), contrast and brightness changed); where
 *     max_k p_k(w(x_i)) >= threshold, its argmax is the row's pseudo-label yhat_i, and the loss is
 *     fixmatch * mean_i [confident] -log p_yhat(s(x_i)), the weak view's prediction held constant.
 *
 * xi is the finite-difference step of the power iteration. The paper's 1e-6 is below what float32
 * resolves: on a 784-pixel row of norm ~10, a move of 1e-6 changes the logits by less than their
 * rounding, and the direction comes out as noise. VAT_XI = 1e-3 gives the double-precision direction
 * (tests/unit/test_vat.c checks the cosine). */
#ifndef SSL_VAT_H
#define SSL_VAT_H

#include "error.h"
#include "imageops.h"
#include "rng.h"
#include "value.h"

#define VAT_XI 1e-3

#define VAT_THRESHOLD 0.95

typedef struct vat_config {
    double eps;        /* the adversarial radius ||r_adv|| of each row; 0: no VAT term */
    double xi;         /* VAT_XI */
    int iters;         /* power iterations, 1 */
    double entmin;     /* weight of the entropy term; 0: none */
    double fixmatch;   /* weight of the pseudo-label term; 0: none */
    double threshold;  /* VAT_THRESHOLD: the weak view's top probability a pseudo-label needs */
    image_views views; /* how FixMatch's views are drawn (imageops.h); cutout and jitter: the strong view's */
} vat_config;

void vat_config_default(vat_config *c);
static inline int vat_active(const vat_config *c) { return c->eps > 0 || c->entmin > 0 || c->fixmatch > 0; }
/* The terms in use into map, as a model's info records them (options 0: vat_eps, vat_xi,
 * vat_iterations with VAT, entmin with entropy minimisation, fixmatch, fixmatch_threshold, cutout and
 * jitter with FixMatch) or a run's settings (options 1: the options' names vat, vat-xi, vat-iterations,
 * entmin, fixmatch, fixmatch-threshold, cutout, jitter); nothing without any, so that what was written
 * without them keeps its bytes. */
void vat_config_put(const vat_config *c, value *map, int options);

/* A classifier network, seen through two calls. */
typedef struct vat_net {
    void *ctx;
    int features, classes;
    /* The logits (B, classes) of the network on x (B, features), which stays readable until the next
     * forward; the activations backward needs are kept. No dropout; batch norm, if any, uses the
     * batch's statistics and leaves its running averages alone. */
    float *(*forward)(void *ctx, const float *x, int B);
    /* Back-propagates dlogits (B, classes) (may be overwritten) through the last forward:
     * dx (B, features) = the gradient w.r.t. x when dx is not NULL; the parameters' gradients
     * accumulate when params is 1 and are left alone when 0. */
    void (*backward)(void *ctx, float *dlogits, float *dx, int params);
} vat_net;

/* Buffers for batches of up to cap rows. */
typedef struct vat_ws {
    int cap, F, K;
    float *p;    /* (cap, K) p(x), the constant target */
    float *q;    /* (cap, K) a pass's probabilities, then its dlogits */
    float *r;    /* (cap, F) the direction, then r_adv */
    float *xr;   /* (cap, F) x + r, or a view of x */
    int *label;  /* (cap) FixMatch's pseudo-labels, -1 where the weak view is not confident */
} vat_ws;

int vat_ws_alloc(vat_ws *w, int cap, int features, int classes, error *e);
void vat_ws_free(vat_ws *w);

/* The adversarial direction of each of B rows x (B, F): w->r holds a nonzero start direction per
 * row on entry and the unit direction after c->iters power iterations on return. Needs w->p = p(x).
 * The network's parameter gradients are untouched. */
void vat_direction(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B);

/* The unlabelled loss of B rows x (B, F): adds scale times its gradient to the network's parameter
 * gradients and returns the loss (the mean over rows of KL + entmin H + fixmatch [confident] CE).
 * Draws the start directions and the views from r. Leaves, with VAT or entropy, p(x) in w->p; with
 * VAT and no FixMatch, x + r_adv in w->xr; with FixMatch, the strong views in w->xr and the
 * pseudo-labels in w->label. */
double vat_loss(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, float scale, rng *r);

#endif
