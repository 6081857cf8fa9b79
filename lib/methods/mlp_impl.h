/* mlp_impl.h: what the parts of the classifier share (mlp.c construction and model files, mlp_net.c
 * the forward and backward passes and prediction, mlp_train.c training); not for other modules. */
#ifndef SSL_MLP_IMPL_H
#define SSL_MLP_IMPL_H

#include "mlp.h"
#include "rng.h"

#define BN_MOMENTUM 0.1f   /* running averages move by 0.1 of the batch statistics a step (PyTorch's) */

/* A forward pass's activations, kept for its backward, with their gradients in t's .grad:
 * "a<l>" (cap, sizes[l]) the output of dense layer l (hidden: after ReLU and dropout; last: the
 * logits), a0 (cap, features) the rows when first = 0; with batch norm, "xhat<l>" (cap, sizes[l])
 * and "istd<l>" (sizes[l]) of each hidden layer. Conv layer j: "c<j>" (cap, its output) after ReLU,
 * with batch norm "cxhat<j>", "cistd<j>"; "pool" (cap, channels) the mean-pooled last output. The
 * buffers no gradient goes through are in block: each conv layer's patches col[j] (cap
 * conv_col_size), the conv workspace cws, and ct (cap, the widest conv output) for batch norm's
 * transposes. */
typedef struct mlp_acts {
    nn_params t;
    int ia[MLP_MAX_HIDDEN + 2], ixhat[MLP_MAX_HIDDEN + 1], istd[MLP_MAX_HIDDEN + 1];
    int icy[MLP_MAX_CONV], icxhat[MLP_MAX_CONV], icistd[MLP_MAX_CONV], ipool;
    float *block, *col[MLP_MAX_CONV], *cws, *ct;
} mlp_acts;

/* mlp.c */
/* Glorot-uniform weights and intercepts from r; batch norm's scales and running variances 1. */
void mlp_init_weights(mlp *m, rng *r);

/* mlp_net.c */
/* Activations a<first>..aL (and the conv layers') of batches of up to cap rows. */
int mlp_acts_alloc(mlp_acts *A, const mlp *m, int first, int cap, error *e);
void mlp_acts_free(mlp_acts *A);
/* Forward through every layer on B rows x0 (B, features), in training mode, keeping the activations
 * in A: returns the logits aL (B, K). Batch norm uses the batch's statistics, and moves the running
 * averages towards them when update_stats. masks[l], the dropout mask of hidden layer l for these
 * rows, or masks NULL: no dropout. */
float *mlp_forward(const mlp *m, par_pool *pool, mlp_acts *A, const float *x0, float *const *masks, int B,
                   int update_stats);
/* Back-propagates the logits' gradient (the grad of aL in A) through the mlp_forward that filled A:
 * the parameters' gradients accumulate when params; dx (B, features) = the gradient w.r.t. x0 when
 * not NULL. */
void mlp_backward(const mlp *m, par_pool *pool, mlp_acts *A, const float *x0, float *const *masks, int B, float *dx,
                  int params);

#endif
