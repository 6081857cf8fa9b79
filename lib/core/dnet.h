/* dnet: a stack of dense layers over an nn_params table, with its activation workspaces, for the
 * networks of the VAEs (encoders, decoders, classifier). Generic: it could move into nn.
 *
 * Layers: dims[0] -> dims[1] -> ... -> dims[nl]; hidden layers use `act`, the last is linear.
 * Two extras on the FIRST layer, for M2's networks q(z|x,y) and p(x|y,z):
 *   - class conditioning (ncls > 0): a one-hot class input, stored as an embedding table
 *     "<prefix>.0.wy" (ncls, dims[1]) added to the pre-activation of each row;
 *   - row expansion: output row r reads input row src[r], so the K class copies of an unlabelled
 *     row share ONE product x W^T (computed on the distinct input rows) and one dW reduction.
 * Forward keeps every layer's output; backward takes the output gradient in dout() and fills the
 * parameter gradients (accumulating, as nn does), or (dnet_input_grad) the input gradient alone.
 * Workspaces are sized once by dnet_alloc. */
#ifndef SSL_DNET_H
#define SSL_DNET_H

#include "error.h"
#include "nn.h"
#include "rng.h"

#define DNET_MAX_LAYERS 8

typedef struct dnet {
    int nl, ncls;
    int dims[DNET_MAX_LAYERS + 1];
    nn_act act;
    int iw[DNET_MAX_LAYERS], ib[DNET_MAX_LAYERS], iy;   /* tensor indices in the table */
    int max_in, max_rows;
    float *mem;                                         /* one allocation for all below */
    float *h[DNET_MAX_LAYERS];                          /* (max_rows, dims[l+1]) outputs */
    float *dh[DNET_MAX_LAYERS];                         /* (max_rows, dims[l+1]) their gradients */
    float *xw;                                          /* (max_in, dims[1]) first product, expanded case */
    par_pool *pool;                                     /* the owner's threads for the element loops, or NULL */
} dnet;

/* Registers the tensors "<prefix>.<l>.w" (out, in), "<prefix>.<l>.b" (out) [and "<prefix>.0.wy"]
 * in p. nhidden hidden sizes, then out. */
int dnet_declare(dnet *d, nn_params *p, const char *prefix, int in, int ncls, int nhidden, const int *hidden,
                 int out, nn_act act, error *e);
/* Glorot init of the weights (after nn_params_alloc), zero biases. */
void dnet_init(dnet *d, nn_params *p, rng *r);
/* Workspaces for up to max_in input rows and max_rows output rows. */
int dnet_alloc(dnet *d, int max_in, int max_rows, error *e);
void dnet_free(dnet *d);

static inline int dnet_out_dim(const dnet *d) { return d->dims[d->nl]; }
/* The output (rows, out) of the last forward, and the buffer where the caller writes its gradient. */
static inline float *dnet_out(const dnet *d) { return d->h[d->nl - 1]; }
static inline float *dnet_dout(const dnet *d) { return d->dh[d->nl - 1]; }

/* rows output rows; x (nin, dims[0]); src (rows) or NULL (= identity, nin == rows);
 * cls (rows) class of each row or NULL (ncls must then be 0). Returns dnet_out. */
float *dnet_forward(dnet *d, const nn_params *p, const float *x, int nin, int rows, const int *src,
                    const int *cls);
/* After the same forward and with dnet_dout filled: parameter gradients += , and dx (nin, dims[0]) =
 * the input gradient (summed over the copies of each input row) unless dx is NULL.
 * Destroys the dh buffers. */
void dnet_backward(dnet *d, nn_params *p, float *dx, const float *x, int nin, int rows, const int *src,
                   const int *cls);
/* The same pass for dx alone: the parameter gradients are left as they are (the input gradient of a
 * virtual adversarial direction, vat.h). */
void dnet_input_grad(dnet *d, const nn_params *p, float *dx, const float *x, int nin, int rows, const int *src,
                     const int *cls);

#endif
