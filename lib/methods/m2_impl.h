/* m2_impl.h: what m2.c (M2's bound, training, model files) and m2_aux.c (the auxiliary variable of
 * ADGM and SDGM) share; not for other modules. */
#ifndef SSL_M2_IMPL_H
#define SSL_M2_IMPL_H

#include "m2.h"

/* The width of a (0 for M2). */
static inline int m2_aux_width(const m2 *m) { return m->aux.kind == M2_PLAIN ? 0 : m->aux.size; }

/* Declares q(a|x) and p(a|.) in m->p (after M2's three networks), and allocates their workspaces. */
int m2_aux_declare(m2 *m, error *e);
int m2_aux_alloc(m2 *m, error *e);
void m2_aux_free(m2 *m);

/* The forward pass's auxiliary parts, in order:
 *   m2_aux_draw     a = mu + sigma eps_a from q(a|x) for nin rows, log q(a|x) kept; returns [x | a]
 *                   (nin, in + A), the input of the classifier and the encoder
 *   m2_aux_dec_in   the decoder's input for R expanded rows: z (ADGM), or [z | a[src]] (SDGM)
 *   m2_aux_bound    p(a|.) on the R rows: kl[r] += log q(a|x) - log p(a|.); with grad, its gradient
 *                   (weighted beta w[r]) into pa's output gradient, and a's share of it into m->da */
const float *m2_aux_draw(m2 *m, const float *x, int nin, const float *eps_a);
const float *m2_aux_dec_in(m2 *m, int R);
void m2_aux_bound(m2 *m, const float *x, int nin, int R, float beta, int grad);

/* The backward pass's: m2_aux_gen_backward after the decoder's backward (its input gradient in
 * m->dcat for SDGM, in m->dz for ADGM) leaves the whole gradient of z in m->dz; m2_aux_add_da adds
 * the a part of an [x | a] input gradient (m->dxa, nin rows) to m->da; m2_aux_inf_backward ends
 * with q(a|x): the path gradient m->da and beta times log q(a|x)'s own, weighted wl in the nl
 * labelled rows and wu in the nu unlabelled ones. */
void m2_aux_gen_backward(m2 *m, int R);
void m2_aux_add_da(m2 *m, int nin);
void m2_aux_inf_backward(m2 *m, const float *x, const float *eps_a, int nl, int nu, float wl, float wu, float beta);

/* Prediction (the draws of a from r), decoding and reconstruction with a (m2.h's m2_predict,
 * m2_decode, m2_reconstruct). */
void m2_aux_predict(m2 *m, const float *x, int B, float *p, rng *r);
void m2_aux_decode(m2 *m, const float *z, const int *cls, int B, float *xmean);
/* [x | the mean of q(a|x)] (B, in + A), for the reconstruction's encoder and classifier. */
const float *m2_aux_mean_input(m2 *m, const float *x, int B);

/* logq (B, K) = log softmax(logits), q = exp(logq). */
void m2_log_softmax(float *logq, float *q, const float *logits, int B, int K);

#endif
