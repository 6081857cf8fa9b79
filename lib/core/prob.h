/* prob: the probabilistic pieces of the variational autoencoders (Kingma & Welling 2014; Kingma et
 * al. 2014), as forward/backward pairs on raw float arrays in the nn.h style.
 *
 * Every loss here is a NEGATIVE log-density (a cost), summed per row into rows (B) when rows is not
 * NULL, and returned summed over the batch in double. Backward functions take per-row weights w (B)
 * (NULL = 1) times a common scale (1/B for a mean), so M2 can weight each class copy by q(y|x).
 *
 * Gradient convention: gradients w.r.t. mu and logvar ACCUMULATE (+=), since they receive terms from
 * both the reparameterised sample and the KL; gradients of decoder outputs are OVERWRITTEN (=).
 * Nothing allocates or draws randomness: the noise eps is given explicitly. */
#ifndef SSL_PROB_H
#define SSL_PROB_H

#include <stddef.h>

/* z = mu + exp(logvar / 2) * eps.  z, mu, logvar, eps (n) */
void prob_gauss_sample_forward(float *z, const float *mu, const float *logvar, const float *eps, size_t n);
/* dmu += dz;  dlogvar += dz * eps * exp(logvar / 2) / 2.  (n) */
void prob_gauss_sample_backward(float *dmu, float *dlogvar, const float *dz, const float *logvar,
                                const float *eps, size_t n);

/* KL(N(mu, diag e^logvar) || N(0, I)) = -1/2 sum_j (1 + logvar - mu^2 - e^logvar), per row.
 * rows (B) or NULL, mu (B, Z), logvar (B, Z) */
double prob_kl_normal_forward(float *rows, const float *mu, const float *logvar, int B, int Z);
/* dmu += s_i mu;  dlogvar += s_i (e^logvar - 1) / 2, with s_i = scale * w_i.  w (B) or NULL */
void prob_kl_normal_backward(float *dmu, float *dlogvar, const float *mu, const float *logvar,
                             const float *w, float scale, int B, int Z);

/* Bernoulli with logits l: -log p(x | l) = softplus(l) - x l (stable for any l; x in [0, 1] may be
 * fractional, the usual "continuous Bernoulli-free" relaxation of grey levels), per row into rows (B)
 * or NULL; returns the sum. With dlogits (B, D) not NULL, also its gradient in the same pass:
 * dlogits = s_i (sigmoid(l) - x), s_i = scale * w_i, w (B) or NULL. One pass, 8 pixels at a time
 * (vmath.h; each row's sum in 8 lanes). logits (B, D), x (B, D) */
double prob_bernoulli_nll(float *rows, float *dlogits, const float *logits, const float *x, const float *w,
                          float scale, int B, int D);

/* Diagonal Gaussian: -log N(x; m, e^lv) = 1/2 (log 2 pi + lv + (x - m)^2 e^-lv), per row.
 * rows (B) or NULL, mean (B, D), logvar (B, D), x (B, D) */
double prob_gauss_nll_forward(float *rows, const float *mean, const float *logvar, const float *x, int B, int D);
/* dmean = s_i (m - x) e^-lv;  dlogvar = s_i (1 - (x - m)^2 e^-lv) / 2. */
void prob_gauss_nll_backward(float *dmean, float *dlogvar, const float *mean, const float *logvar,
                             const float *x, const float *w, float scale, int B, int D);

#endif
