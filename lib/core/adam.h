/* adam: the Adam optimiser (Kingma & Ba 2015, Algorithm 1) as one fused loop over a flat parameter
 * buffer (nn_params.data / .grad):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t) + eps_sqrt) + eps)  [+ lr * wd * p, decoupled, see below]
 * eps_sqrt (default 0) is the form of Salimans et al.'s code, eps inside the root: a parameter whose
 * gradients are tiny (|g| << sqrt(eps_sqrt)) then moves by much less than lr a step, not by about lr.
 * Weight decay here is DECOUPLED (AdamW, Loshchilov & Hutter 2019): p -= lr * weight_decay * p,
 * applied to the elements whose decay mask is set (weights, not biases). Coupled L2 (scikit-learn's
 * alpha, added to the gradient) is the model's business: the MLP adds it in its backward pass. */
#ifndef SSL_ADAM_H
#define SSL_ADAM_H

#include <stddef.h>

#include "error.h"
#include "nn.h"

typedef struct adam {
    float lr, beta1, beta2, eps;   /* defaults 1e-3, 0.9, 0.999, 1e-8 */
    float eps_sqrt;                /* default 0: added to v_hat inside the square root */
    float weight_decay;            /* decoupled; default 0 */
    long t;                        /* steps taken */
    size_t n;
    float *m, *v;                  /* (n) moments */
    float *decay;                  /* (n) 1 where decoupled decay applies, else 0; NULL = everywhere */
} adam;

/* Defaults and zeroed moments for n parameters. */
int adam_init(adam *a, size_t n, error *e);
/* Same, for a whole table; the decay mask follows each tensor's decay flag. */
int adam_init_params(adam *a, const nn_params *p, error *e);
void adam_free(adam *a);
/* One step: t += 1, then the fused update of p (n) from g (n), split over the pool's threads (pool
 * may be NULL: the calling thread; the same bytes either way). */
void adam_step(adam *a, par_pool *pool, float *p, const float *g);
/* The same step, and g set to zero as it is read: the next step's gradient needs no zeroing pass
 * over the whole buffer (one pass fewer over a parameter-sized array a step). */
void adam_step_clear(adam *a, par_pool *pool, float *p, float *g);
/* Forgets the moments and the step count (e.g. before training again). */
void adam_reset(adam *a);
/* The learning rate of epoch `epoch` (1-based) of `epochs`: lr, then falling linearly towards 0 from
 * epoch decay_start on (Salimans et al.'s schedule; the last epoch gets lr / (epochs - decay_start + 1)).
 * decay_start <= 0 or > epochs: lr throughout. */
double adam_linear_decay(double lr, int epoch, int epochs, int decay_start);

#endif
