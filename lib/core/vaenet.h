/* vaenet: what the variational autoencoders (M1, M2 and the ones to come) share: the architecture of
 * an encoder/decoder pair, the Gaussian latent layer (reparameterisation and KL), and the likelihoods
 * p(x|z) (Bernoulli logits, or a Gaussian mean and log-variance per feature).
 *
 *   latent   h = [mu | logvar] (R, 2Z) per row -> z = mu + e^(logvar/2) eps, KL(N(mu, e^logvar) || N(0, I))
 *   Bernoulli  out (R, D) logits,  -log p(x|out) = sum_j softplus(out_j) - x_j out_j
 *   Gaussian   out (R, 2D) [mean | logvar],  -log p(x|out) = 1/2 sum_j log 2pi + logvar_j + (x_j - mean_j)^2 e^-logvar_j */
#ifndef SSL_VAENET_H
#define SSL_VAENET_H

#include "dnet.h"
#include "error.h"
#include "nn.h"
#include "parallel.h"
#include "value.h"

#define VAENET_MAX_HIDDEN (DNET_MAX_LAYERS - 1)

typedef enum vaenet_lik { VAENET_BERNOULLI, VAENET_GAUSSIAN } vaenet_lik;
const char *vaenet_lik_name(vaenet_lik l);
int vaenet_lik_parse(const char *s, vaenet_lik *out);   /* -1 if unknown */

typedef struct vaenet_arch {
    int in, latent, nhidden;
    int hidden[VAENET_MAX_HIDDEN];   /* encoder sizes; the decoder mirrors them */
    nn_act act;
    vaenet_lik lik;
} vaenet_arch;
/* The architecture from / into a model file's info map (in, latent, hidden, activation, likelihood). */
void vaenet_arch_to_info(const vaenet_arch *a, value *info);
int vaenet_arch_from_info(vaenet_arch *a, const value *info, error *e);

/* Log-variances (of q(z|x) and of a Gaussian p(x|z)) are clamped to [-VAENET_LOGVAR_MAX, VAENET_LOGVAR_MAX]
 * in place as a safety net (an outlier in unscaled data must not overflow exp() at the first
 * step); at a bound, the gradient pushing further out is cut. Inside the bounds nothing changes. */
#define VAENET_LOGVAR_MAX 15.0f
/* Clamps n log-variances in place, as above. */
void vaenet_clamp_logvar(float *lv, int n);

/* From encoder rows h (R, 2Z) = [mu | logvar] (logvar clamped in place): z (R, Z) = mu + sigma eps
 * (eps NULL: z = mu), and kl (R) per-row KL (or NULL). Returns the KL summed. */
double vaenet_latent_forward(float *z, float *kl, float *h, const float *eps, int R, int Z);
/* dh (R, 2Z) = d/dh of [sum_r s_r (dz_r . z_r) via the sample] + klscale w_r KL_r.
 * dz (R, Z) already carries its scale; w (R) or NULL. Overwrites dh. */
void vaenet_latent_backward(float *dh, const float *h, const float *dz, const float *eps, const float *w,
                         float klscale, int R, int Z);
/* Decoder output width for D data columns: D (Bernoulli) or 2D (Gaussian). */
int vaenet_lik_width(vaenet_lik l, int D);
/* -log p(x | out) per row into rows (R) (or NULL); returns the sum. out (R, width) (Gaussian:
 * logvar clamped in place); row r's data is x's row src[r] (src (R) or NULL: row r), x (., D).
 * With dout (R, width) not NULL, also the gradient dout = scale w_r d(-log p)/d out, w (R) or NULL
 * (Bernoulli: in the same pass over the logits). With rows, the rows are split over the pool's threads
 * (pool may be NULL) and summed in row order afterwards: the same bytes at any thread count. */
double vaenet_lik_nll(par_pool *pool, vaenet_lik l, float *rows, float *dout, float *out, const float *x, const int *src,
                   const float *w, float scale, int R, int D);
/* The data-space mean of p(x | out): sigmoid(logits) or the Gaussian mean. mean (R, D) */
void vaenet_lik_mean(vaenet_lik l, float *mean, const float *out, int R, int D);

#endif
