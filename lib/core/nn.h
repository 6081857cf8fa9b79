/* nn: the layer library every trainer builds on (MLP classifier, VAE M1/M2, SSL-GAN).
 *
 * Style (after llm.c): plain functions on raw float arrays, `<layer>_forward` / `<layer>_backward`
 * pairs, gradients named with a `d` prefix, the shape of every tensor in a comment, B = rows of
 * the batch. Nothing here allocates, prints or draws randomness by itself: a training step is
 * forward + backward + adam_step over buffers sized once.
 *
 * Conventions shared by every backward:
 *   - parameter gradients ACCUMULATE (dw += ..., db += ...): they start each step at zero,
 *     from nn_params_zero_grad or from the last step's adam_step_clear (so a weight used twice,
 *     e.g. M2 summing over classes, just works);
 *   - input gradients are OVERWRITTEN (dx = ...); pass dx = NULL to skip it (first layer).
 *
 * Parameters: an nn_params table hands out named slices of ONE contiguous float buffer, with a
 * gradient buffer of the same layout, so Adam is one flat loop and an all-reduce of the gradients
 * is one call. The same table type serves as a workspace for activations (data) and their
 * gradients (grad): register every tensor with its largest shape, allocate once. */
#ifndef SSL_NN_H
#define SSL_NN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parallel.h"
#include "rng.h"

#define NN_MAX_TENSORS 64
#define NN_NAME_MAX 64   /* same as STREAM_NAME_MAX, so names travel into model files */

/* Element loops that vectorise with GCC's dynamic cost model but not with -O2's "very cheap" one
 * (which refuses any loop whose trip count may not be a multiple of the vector width), on a function.
 * The vectorised loops do the same IEEE operations per element (no reassociation), so the results are
 * the same bytes. clang does not know the attribute (and vectorises at -O2 anyway). */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_VECTORISE __attribute__((optimize("vect-cost-model=dynamic")))
#else
#define NN_VECTORISE
#endif

/* ---- the parameter (or workspace) table ------------------------------------------------------ */

typedef struct nn_tensor {
    char name[NN_NAME_MAX];
    int ndim;                 /* 1 or 2 */
    int64_t dims[2];
    size_t offset, size;      /* in floats, into data/grad */
    int decay;                /* 1 for weight matrices (L2 / weight decay applies), 0 for biases */
} nn_tensor;

typedef struct nn_params {
    int n;
    nn_tensor t[NN_MAX_TENSORS];
    size_t total;             /* floats in data and in grad */
    float *data;              /* (total) 64-byte aligned, zeroed by nn_params_alloc */
    float *grad;              /* (total) same layout */
} nn_params;

/* n bytes, zeroed, 64-byte aligned (NULL when out of memory; free() releases them). Written here,
 * so the pages are mapped before training, not faulted in one at a time inside the first step.
 * From NN_HUGE_MIN bytes up, on 2 MB pages where the kernel offers them (transparent huge pages,
 * "madvise" mode on Debian): training's passes over parameters, gradients, Adam's state and
 * workspaces (the GAN's: ~60 MB) then miss the TLB once per 2 MB rather than once per 4 KB, and
 * on a VM each miss is a two-level page walk. Such a buffer is rounded up to whole 2 MB pages. */
#define NN_HUGE_MIN ((size_t)4 << 20)
void *nn_alloc_zeroed(size_t n);

void nn_params_init(nn_params *p);
/* Registers a tensor (before nn_params_alloc); returns its index or -1 (too many, name too long,
 * duplicate). Each slice starts on a 16-float boundary so every tensor is aligned for SIMD. */
int nn_params_add(nn_params *p, const char *name, int ndim, const int64_t *dims, int decay, error *e);
int nn_params_alloc(nn_params *p, error *e);
void nn_params_free(nn_params *p);
static inline float *nn_data(const nn_params *p, int i) { return p->data + p->t[i].offset; }
static inline float *nn_grad(const nn_params *p, int i) { return p->grad + p->t[i].offset; }
int nn_params_find(const nn_params *p, const char *name);     /* index or -1 */
/* grad = 0, split over the pool's threads (pool may be NULL). */
void nn_params_zero_grad(par_pool *pool, nn_params *p);

/* ---- dense layer: y = act(x W^T + b), W stored (out, in) row-major as in PyTorch ----------------- */

typedef enum nn_act {
    NN_ACT_NONE,
    NN_ACT_RELU,       /* max(0, x) */
    NN_ACT_SIGMOID,    /* 1 / (1 + e^-x) */
    NN_ACT_SOFTPLUS,   /* log(1 + e^x) */
    NN_ACT_TANH,
} nn_act;

/* Every activation's derivative is computed from its OUTPUT y (relu: y > 0; sigmoid: y(1-y);
 * softplus: 1 - e^-y = sigmoid(x); tanh: 1 - y^2), so activations may run in place. */
const char *nn_act_name(nn_act a);
int nn_act_parse(const char *s, nn_act *out);   /* "relu", "sigmoid", ...; -1 if unknown */

/* h = act(h + b), in place: the fused bias + activation loop after a product, its rows split over
 * the pool's threads (pool may be NULL: the calling thread).  h (B, C), b (C) or NULL */
void nn_bias_act_forward(par_pool *pool, float *h, const float *b, int B, int C, nn_act a);
/* dh *= act'(from y), in place, and db += sum over rows of the result (db may be NULL), its columns
 * split over the pool's threads: each db[j] adds the rows in order, the same bytes at any thread count.
 * dh (B, C), y (B, C) the forward output, db (C) */
void nn_bias_act_backward(par_pool *pool, float *dh, float *db, const float *y, int B, int C, nn_act a);
/* acc += d, vectorised. acc (C), d (C), not overlapping */
void nn_add_row(float *restrict acc, const float *restrict d, int C);
/* Element-wise activation alone: y = act(x) (y may equal x). (n) */
void nn_act_forward(float *y, const float *x, size_t n, nn_act a);
/* dx = dy * act'(from y) (dx may equal dy). (n) */
void nn_act_backward(float *dx, const float *dy, const float *y, size_t n, nn_act a);

/* y = act(x W^T + b)
 * y (B, out), x (B, in), w (out, in), b (out) or NULL */
void nn_dense_forward(par_pool *pool, float *y, const float *x, const float *w, const float *b, int B, int in,
                      int out, nn_act a);
/* dy is turned in place into the gradient of the pre-activation; then
 * dw += dy^T x, db += sum_rows dy, dx = dy W.
 * dx (B, in) or NULL, dw (out, in) or NULL (a gradient with respect to the input alone, e.g. a
 * virtual adversarial direction), db (out) or NULL, dy (B, out), x (B, in), w (out, in),
 * y (B, out) the forward output (unused when a = NN_ACT_NONE) */
void nn_dense_backward(par_pool *pool, float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                       const float *y, int B, int in, int out, nn_act a);
/* Glorot/Xavier uniform init as scikit-learn's MLP does: W ~ U(-s, s), s = gain * sqrt(6 / (in + out)),
 * gain = 1 for ReLU/tanh (scikit-learn's logistic activation corresponds to gain = 1/sqrt(3)).
 * draw_bias: b ~ U(-s, s) too, as scikit-learn draws its intercepts; else b = 0.
 * w (out, in), b (out) or NULL */
void nn_dense_init_glorot(float *w, float *b, int in, int out, float gain, int draw_bias, rng *r);

/* ---- softmax and cross-entropy ----------------------------------------------------------------- */

/* p = softmax(logits) row by row, with the max subtracted. p (B, K) may equal logits (B, K) */
void nn_softmax_forward(float *p, const float *logits, int B, int K);
/* Cross-entropy of softmax(logits) against labels: p = softmax(logits), and returns
 * sum_i w_i * -log p[i, y_i] (log-sum-exp form, never log(0)), over rows with y_i >= 0 only
 * (rows with y < 0 contribute nothing: unlabelled). w (B) optional per-row weights (NULL = 1).
 * The caller normalises (e.g. divides by B). p (B, K), logits (B, K), y (B) */
double nn_softmax_xent_forward(float *p, const float *logits, const int *y, const float *w, int B, int K);
/* dlogits = scale * w_i * (p - onehot(y_i)) for rows with y_i >= 0, 0 for others.
 * Use the same scale as the loss normalisation (1/B for a mean). dlogits may equal p.
 * dlogits (B, K), p (B, K), y (B), w (B) or NULL */
void nn_softmax_xent_backward(float *dlogits, const float *p, const int *y, const float *w, int B, int K,
                              float scale);

/* ---- dropout (inverted: kept units are scaled by 1/(1-p) at training time, identity at test) ---- */

/* mask[i] = 0 with probability p, else 1/(1-p). mask (n) */
void nn_dropout_mask(float *mask, size_t n, float p, rng *r);
/* y = x * mask (y may equal x). (n) */
void nn_dropout_forward(float *y, const float *x, const float *mask, size_t n);
/* dx = dy * mask (dx may equal dy). (n) */
void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n);
/* Coupled L2 on weights W (n): dW += a W (each element as a scalar loop would round it); returns
 * the sum of W^2, summed in 8 lanes (vmath_sum): a float running sum could not be vectorised. */
float nn_l2_add(float *dW, const float *W, float a, size_t n);

/* ---- BLAS threads -------------------------------------------------------------------------------- */

/* For a training loop whose largest product has mnk multiply-adds: sets OpenBLAS to one thread when
 * mnk < GEMM_SPLIT_MIN (gemm.h: below it a second thread costs more than it saves; digits' 200x128x64
 * MLP trained 1.4-5x slower with 2 threads than with 1 on a 2-core machine, bench/report.py).
 * Returns the thread count before, for nn_blas_threads_restore. */
int nn_blas_threads_for(long mnk);
void nn_blas_threads_restore(int threads);

#endif
