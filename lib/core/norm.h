/* norm: the normalisation and noise layers of the SSL-GAN (Salimans et al. 2016), in nn.h style:
 * forward/backward pairs on raw float arrays, B = rows, parameter gradients ACCUMULATE, input
 * gradients are OVERWRITTEN (dx = NULL skips them), nothing allocates, prints or draws by itself.
 *
 *  - weight-normalised dense (Salimans & Kingma 2016): W_j = g_j v_j / ||v_j|| for each output
 *    unit j (v stored (out, in) like nn's dense), y = act(x W^T + b). The effective W is computed
 *    once per parameter update (norm_wn_weight) and reused by every forward until the next one.
 *  - batch normalisation (Ioffe & Szegedy 2015): y = gamma (x - mean) / sqrt(var + eps) + beta per
 *    column, with batch statistics in training mode (running averages updated) and the running
 *    averages in inference mode.
 *  - additive Gaussian noise y = x + sigma eps, with eps drawn by the caller (norm_gauss_fill), so
 *    that a gradient check can hold the noise fixed. */
#ifndef SSL_NORM_H
#define SSL_NORM_H

#include <stddef.h>

#include "nn.h"
#include "rng.h"

#define NORM_BN_EPS 1e-5f

/* ---- weight-normalised dense ------------------------------------------------------------------ */

/* w = g v / ||v|| row by row (the rows split over the pool's threads; pool may be NULL); vnorm (out)
 * keeps ||v_j|| for the backward.
 * w (out, in), vnorm (out), v (out, in), g (out) */
void norm_wn_weight(par_pool *pool, float *w, float *vnorm, const float *v, const float *g, int in, int out);
/* From dw (out, in), the gradient of the effective weights: dg_j += dw_j . v_j / ||v_j|| (dg may be
 * NULL when g is held fixed), dv_j += (g_j / ||v_j||) (dw_j - (dw_j . v_j / ||v_j||^2) v_j).
 * Rows split over the pool's threads (pool may be NULL).
 * dv (out, in), dg (out) or NULL, dw (out, in), v (out, in), g (out), vnorm (out) */
void norm_wn_grad(par_pool *pool, float *dv, float *dg, const float *dw, const float *v, const float *g,
                  const float *vnorm, int in, int out);
/* The forward is nn_dense_forward(y, x, w, b, ...) with the w above.
 * Backward: dy becomes the pre-activation gradient (in place); dx = dy W;
 * with dv != NULL: dw = dy^T x (a workspace, overwritten), then
 *   dg_j += dw_j . v_j / ||v_j||,   dv_j += (g_j / ||v_j||) (dw_j - (dg_j-part / ||v_j||) v_j),
 *   db += sum_rows dy (db may be NULL; dg may be NULL when g is held fixed).
 * dx (B, in) or NULL, dv (out, in) or NULL, dg (out) or NULL, db (out) or NULL, dw (out, in)
 * workspace, dy (B, out), x (B, in), w (out, in), v (out, in), g (out), vnorm (out), y (B, out) */
void norm_wn_backward(par_pool *pool, float *dx, float *dv, float *dg, float *db, float *dw, float *dy, const float *x,
                      const float *w, const float *v, const float *g, const float *vnorm, const float *y,
                      int B, int in, int out, nn_act a);

/* ---- batch normalisation ------------------------------------------------------------------------ */

/* Training mode: batch mean and (biased) variance per column; xhat (B, C) and istd (C) are kept
 * for the backward. When run_mean/run_var are not NULL they move towards the batch statistics:
 * run = (1 - momentum) run + momentum stat (the variance unbiased, as PyTorch does).
 * y (B, C) may equal x (B, C); xhat (B, C), istd (C), gamma (C), beta (C), run_* (C) */
void norm_bn_forward_train(float *y, float *xhat, float *istd, const float *x, const float *gamma,
                           const float *beta, float *run_mean, float *run_var, float momentum, int B, int C);
/* Inference mode: y = gamma (x - run_mean) / sqrt(run_var + eps) + beta.  y may equal x. (B, C) */
void norm_bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                          const float *run_mean, const float *run_var, int B, int C);
/* Training-mode backward: dgamma += sum dy xhat, dbeta += sum dy,
 * dx = gamma istd / B (B dy - sum dy - xhat sum(dy xhat)).  dx may equal dy. (B, C) */
void norm_bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat,
                      const float *istd, const float *gamma, int B, int C);

/* Batch norm over channels (images NCHW, a convolutional generator's layers): per channel, the
 * statistics over the B rows and P pixels. The dense functions above on the (B P, C) layout,
 * with x transposed into a workspace t (B, C, P) first and the result transposed back; the
 * running variance is unbiased over the B P values. xhat (B P, C), istd (C), t (B C P);
 * the rest as the dense functions with y, x, dx, dy (B, C, P); y may equal x, dx may equal dy. */
void norm_bn2d_forward_train(float *y, float *xhat, float *istd, float *t, const float *x, const float *gamma,
                             const float *beta, float *run_mean, float *run_var, float momentum, int B, int C, int P);
void norm_bn2d_forward_eval(float *y, float *t, const float *x, const float *gamma, const float *beta,
                            const float *run_mean, const float *run_var, int B, int C, int P);
void norm_bn2d_backward(float *dx, float *dgamma, float *dbeta, float *t, const float *dy, const float *xhat,
                        const float *istd, const float *gamma, int B, int C, int P);

/* ---- Gaussian noise ----------------------------------------------------------------------------- */

/* eps[0..n) ~ N(0, 1) by the ziggurat method (Marsaglia & Tsang 2000), about 32 random bits per
 * value: several times faster than rng_normal's Box-Muller, which matters, as the discriminator
 * draws ~1.5M values per training step. */
void norm_gauss_fill(float *eps, size_t n, rng *r);
/* y = x + sigma eps with eps drawn as norm_gauss_fill would (the same values, in the same order),
 * in one pass and without an eps buffer: the layer's forward in training. y may equal x. (n) */
void norm_noise_add(float *y, const float *x, float sigma, size_t n, rng *r);
/* A share of norm_noise_add's rows: the noise of `parts` consecutive blocks of B rows of `width`
 * values is drawn as norm_noise_add would draw it, and y = x + sigma eps is made for rows [first,
 * first + b) of each block only (y, x: parts blocks of b rows; the other draws are dropped). A
 * process training on a share of a batch then draws the whole batch's noise (dist.h). y may equal x. */
void norm_noise_add_share(float *y, const float *x, float sigma, size_t parts, size_t B, size_t first, size_t b,
                          size_t width, rng *r);
/* y = x + sigma eps (y may equal x). (n) */
void norm_noise_forward(float *y, const float *x, const float *eps, float sigma, size_t n);
/* dx = dy: the noise is additive (dx may equal dy). (n) */
void norm_noise_backward(float *dx, const float *dy, size_t n);

#endif
