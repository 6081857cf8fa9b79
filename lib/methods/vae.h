/* vae: the M1 variational autoencoder (Kingma, Rezende, Mohamed, Welling 2014; Kingma & Welling 2014).
 *
 *   encoder  x -> hidden... -> [mu | logvar]        q(z|x) = N(mu, diag e^logvar)   (B, 2Z) per row
 *   sample   z = mu + e^(logvar/2) eps,  eps ~ N(0, I)
 *   decoder  z -> hidden reversed... -> out          p(x|z): Bernoulli logits (B, D), or Gaussian
 *                                                    [mean | logvar] (B, 2D) per row
 *   loss     -ELBO = -log p(x|z) + beta KL(q(z|x) || N(0, I)),  beta < 1 during KL warm-up
 *
 * The architecture, latent and likelihood pieces it shares with M2 are lib/core/vaenet.h. */
#ifndef SSL_VAE_H
#define SSL_VAE_H

#include <stddef.h>

#include "adam.h"
#include "datasource.h"
#include "dnet.h"
#include "error.h"
#include "model.h"
#include "nn.h"
#include "rng.h"
#include "trainctl.h"
#include "trainlog.h"
#include "vaenet.h"

/* ---- M1 ---- */

typedef struct vae {
    vaenet_arch a;
    nn_params p;
    dnet enc, dec;
    value *info;        /* the model file's info map (provenance kept through load/save) */
    int max_rows;
    float *mem;         /* workspaces below, one allocation */
    float *z, *dz, *eps;        /* (max_rows, Z) x3 */
    float *rec;                 /* (max_rows) -log p(x|z) per row */
    par_pool *pool;             /* threads for the element loops (vae_set_pool), or NULL */
} vae;

typedef struct vae_loss {
    double rec, kl;    /* sums over the rows: -log p(x|z) and KL; -ELBO = rec + kl */
    size_t rows;
} vae_loss;

/* The sizes left unset in a (nhidden 0, latent 0) for a->in features: two hidden layers of
 * clamp(4 in, 256, 500) units and a latent of clamp(in / 8, 8, 50). Tables of up to 64 features get
 * 256,256 and 8: with 5 labels a class, M1 and an MLP on its latents come within 2.2 points of the
 * best sizes tried on iris, wine and breast cancer, where 500,500 and 50 lose 8 on the last two
 * (docs/notes/2026-12-07-small-data-defaults.md). From 125 features the hidden layers, from 400 the
 * latent are the MNIST recipe's 500,500 and 50. */
void vae_default_sizes(vaenet_arch *a);
/* Declares and allocates the parameters (zero) and the workspaces for batches of max_rows rows. */
int vae_new(vae *v, const vaenet_arch *a, int max_rows, error *e);
void vae_init_weights(vae *v, rng *r);
/* Runs the element-wise loops of training (activations, likelihood, Adam) on the pool's threads;
 * the pool stays the caller's. NULL (the default): on the calling thread. */
void vae_set_pool(vae *v, par_pool *pool);
void vae_free(vae *v);

/* One forward on B rows of x (B, in) with noise eps (B, Z) (NULL: z = mu, no sampling), adding to
 * *loss; with grad, also the backward of (rec + beta KL) / B into v->p.grad (accumulating). */
void vae_forward_backward(vae *v, const float *x, int B, const float *eps, float beta, int grad, vae_loss *loss);
/* The same with the backward of scale (rec + beta KL): scale = 1/G for a share of a global batch of G rows. */
void vae_forward_backward_scaled(vae *v, const float *x, int B, const float *eps, float beta, float scale, int grad,
                                 vae_loss *loss);
/* One epoch over the source's rows (its column x (N, in)), in its order and this process's shard
 * (datasource.h): per global batch, zero grads, forward/backward of the share normalised by the
 * global batch, the gradients summed over the processes (dist.h), Adam step, progress to log (or
 * NULL). loss gets the epoch's sums over every process. A non-finite loss stops with an error
 * naming the batch. One process with a memory source gives the bytes vae_train_epoch gave. */
int vae_train_source(vae *v, adam *opt, datasource *src, int batch, float beta, rng *r, trainlog *log,
                     vae_loss *loss, error *e);
/* One epoch over the rows x (N, in) held in memory: vae_train_source over datasource_memory_x. */
int vae_train_epoch(vae *v, adam *opt, const float *x, size_t N, int batch, float beta, rng *r, trainlog *log,
                    vae_loss *loss, error *e);
/* -ELBO summed over x (N, in) with one noise draw per row (seeded by r). */
void vae_evaluate(vae *v, const float *x, size_t N, rng *r, vae_loss *loss);
/* The standard deviation over the rows of src (one pass, this process's share reduced over the
 * processes of dist.h) of each unit of the posterior mean: sd (Z). A unit whose mean barely moves
 * (sd < 0.1: Kingma et al.) carries no information about x. r shuffles the pass. */
int vae_latent_spread(vae *v, datasource *src, rng *r, double *sd, error *e);
/* Training settings of vae_train. */
typedef struct vae_config {
    int epochs;        /* 10 */
    int batch;         /* 128 rows a step (at most the vae's max_rows) */
    double lr;         /* Adam's, 1e-3 */
    int warmup;        /* 0; else the KL weight rises over the first `warmup` epochs: min(1, e/(warmup+1)) */
    uint64_t seed;     /* of the weights, the batches and the noise */
} vae_config;

void vae_config_default(vae_config *c);

/* Trains v (made by vae_new, its pool set) on the rows of src (sharded over the processes of
 * dist.h): weights drawn from c->seed, Adam, one pass over src an epoch. Each epoch logs elbo, rec,
 * kl, kl_weight (and val_elbo on vx (vn, in) when vx is not NULL, with the same noise every epoch;
 * also kept in v->info as train_elbo and val_elbo), hands log's trainctl the whole training state
 * (and, when it holds a state to resume from, starts after it), then calls cb (may be NULL). At the
 * end, v->info gets latent_sd (vae_latent_spread). Returns 0 (also when log says training stopped
 * early: trainlog_stopped), or -1 with e, its message beginning "epoch N, " for a failed epoch. */
int vae_train(vae *v, const vae_config *c, datasource *src, const float *vx, size_t vn, trainlog *log,
              train_epoch_fn cb, void *ctx, error *e);

/* Posterior means mu (B, Z) of x (B, in), B <= max_rows. */
void vae_encode(vae *v, const float *x, int B, float *mu);
/* The same, with the posterior sds sigma (B, Z) (logvar clamped as in training) when sd is not NULL. */
void vae_encode_sd(vae *v, const float *x, int B, float *mu, float *sd);
/* Data-space means (B, in) of p(x | z), z (B, Z). */
void vae_decode(vae *v, const float *z, int B, float *xmean);
/* Data-space means (B, in) of p(x | z = mu(x)). */
void vae_reconstruct(vae *v, const float *x, int B, float *xmean);

/* Model files: kind "vae". vae_save copies v->info, sets the architecture keys, adds the parameters. */
model_file *vae_save(const vae *v, error *e);
/* Builds v (with workspaces for max_rows) from a model file of kind "vae". */
int vae_load(vae *v, const model_file *m, int max_rows, error *e);

#endif
