/* m2: the semi-supervised M2 model (Kingma, Rezende, Mohamed, Welling 2014, section 3.1.2).
 *
 *   classifier q(y|x)      x -> hidden... -> K logits
 *   encoder    q(z|x,y)    [x, onehot y] -> hidden... -> [mu | logvar]
 *   decoder    p(x|y,z)    [z, onehot y] -> hidden reversed... -> Bernoulli logits / Gaussian [mean | logvar]
 *   priors     p(y) = 1/K, p(z) = N(0, I)
 *
 *   labelled    L(x,y) = -log p(x|y,z) + KL(q(z|x,y) || p(z)) + log K       (one z draw)
 *   unlabelled  U(x)   = sum_y q(y|x) L(x,y) - H(q(y|x))                    (all K classes, explicitly)
 *   step loss   mean_lab L + mean_unl U + alpha * mean_lab [-log q(y|x)]   (or every row alike:
 *               m2_weighting)
 * The tool passes alpha = a * N_total / N_labelled (the paper's weighting, a = 0.1 by default).
 * Optionally (m2_set_vat) q(y|x) also learns from virtual adversarial training and entropy
 * minimisation (vat.h) on every row of a step, labelled or not, weighted as its cross-entropy:
 *   + alpha * mean_{lab + unl} [KL(q(y|x) || q(y|x + r_adv)) + entmin H(q(y|x))]
 * (under either weighting: the rows weighting gives the cross-entropy alpha / (rows of the step)
 * per labelled row, the means weighting alpha / labelled rows; this term alpha / (rows of the step)
 * per row, so that it stands to the cross-entropy as ssl-fit's does).
 * The K copies of each unlabelled row go through the encoder and decoder as one batch of
 * (nl + nu K) rows; the encoder's first product is shared by the copies (dnet row expansion).
 *
 * The auxiliary deep generative models (Maaloe, Sonderby, Sonderby, Winther 2016; m2_aux) are M2 with
 * an auxiliary variable a (m2_aux.c), drawn once per row and shared by its K class copies:
 *   q(a|x)        x -> hidden... -> [mu | logvar] of a                  ("qa")
 *   q(y|a,x)      [x, a] -> hidden... -> K logits                       (the classifier)
 *   q(z|a,x,y)    [x, a, onehot y] -> hidden... -> [mu | logvar]        (the encoder)
 *   ADGM          p(a|x,y,z) [x, z, onehot y] -> hidden reversed... -> [mu | logvar] of a ("pa"),
 *                 p(x|y,z) as M2's decoder
 *   SDGM          p(a|y,z) [z, onehot y] -> ... ("pa"), p(x|a,y,z) [z, a, onehot y] -> ... (the decoder)
 * L(x,y) gains beta [log q(a|x) - log p(a|.)] (the KL term of a, sampled); U(x) and the cross-entropy
 * use q(y|a,x) at the row's a; m2_predict averages q(y|a,x) over aux.samples draws of a. */
#ifndef SSL_M2_H
#define SSL_M2_H

#include <stddef.h>

#include "adam.h"
#include "datasource.h"
#include "dnet.h"
#include "error.h"
#include "model.h"
#include "rng.h"
#include "trainctl.h"
#include "trainlog.h"
#include "vaenet.h"
#include "vat.h"

/* How a step weighs its rows (the tool's --weighting):
 *   M2_WEIGHT_MEANS  mean_lab L + mean_unl U + alpha mean_lab [-log q(y|x)]: the labelled and the
 *                    unlabelled parts weigh the same whatever their sizes
 *   M2_WEIGHT_ROWS   (sum_lab [L + alpha (-log q(y|x))] + sum_unl U) / (rows of the step): every row
 *                    alike, as Kingma's code (learn_yz_x_ss.py) */
typedef enum m2_weighting { M2_WEIGHT_MEANS, M2_WEIGHT_ROWS } m2_weighting;

/* The model: M2, or an auxiliary model with an a of `size` units, predicting with `samples` draws. */
typedef enum m2_kind { M2_PLAIN, M2_ADGM, M2_SDGM } m2_kind;
typedef struct m2_aux {
    m2_kind kind;
    int size, samples;
} m2_aux;
const char *m2_kind_name(m2_kind k);   /* "m2", "adgm", "sdgm" */

typedef struct m2 {
    vaenet_arch a;          /* in, latent, hidden (each network), activation, likelihood */
    int K;
    m2_aux aux;             /* M2_PLAIN, or the auxiliary model's (m2_new_aux) */
    m2_weighting weighting;   /* M2_WEIGHT_MEANS unless set after m2_new */
    int shift, img_h, img_w;  /* 0; else m2_train_epoch moves each labelled row it draws by a random
                               * shift in [-shift, shift]^2 (rows as img_h x img_w images) */
    nn_params p;
    dnet cls, enc, dec;
    dnet qa, pa;            /* the auxiliary models' q(a|x) and p(a|.) (unused by M2) */
    value *info;
    int max_in, max_rows;   /* rows given (labelled + unlabelled), rows expanded (nl + nu K) */
    float *mem;
    float *xin, *row, *z, *dz, *eps, *rec, *kl, *w, *logq, *q;   /* row: one input row (a shift's source) */
    int *src, *ycls, *yin;
    par_pool *pool;         /* threads for the element loops (m2_set_pool), or NULL */
    vat_config vat;         /* off unless m2_set_vat */
    vat_ws vws;             /* its buffers, for max_in rows */
    const float *vx;        /* the rows of the classifier's last pass as vat.h sees it, and their count */
    int vrows;
    float *amem;            /* the auxiliary models' workspace (m2_aux.c), or NULL */
    float *a_smp, *lqa, *xa, *dxa, *da, *cat, *dcat, *dz2, *nlla, *pq;   /* a_smp: the draws of a */
    rng pred_rng;           /* the draws of a in m2_predict (the same seed every model) */
} m2;

typedef struct m2_loss {
    double lab;       /* sum over labelled rows of L(x,y) */
    double unl;       /* sum over unlabelled rows of U(x) */
    double xent;      /* sum over labelled rows of -log q(y|x) */
    size_t nlab, nunl, correct;   /* correct: labelled rows where argmax q(y|x) = y */
    double obj;       /* the step loss itself (KL weighted by beta, means, alpha), summed over calls */
    double vat;       /* with m2_set_vat: the VAT + entropy term (its mean over a step's rows), summed over steps */
    size_t steps;     /* calls summed */
} m2_loss;

/* Parameters (zero) and workspaces for batches of up to max_lab labelled + max_unl unlabelled rows. */
int m2_new(m2 *m, const vaenet_arch *a, int K, int max_lab, int max_unl, error *e);
/* The same for M2 (aux NULL or kind M2_PLAIN, the same model as m2_new) or an auxiliary model. */
int m2_new_aux(m2 *m, const vaenet_arch *a, int K, const m2_aux *aux, int max_lab, int max_unl, error *e);
void m2_init_weights(m2 *m, rng *r);
/* As vae_set_pool: the element-wise loops of training on the pool's threads (NULL: the caller's). */
void m2_set_pool(m2 *m, par_pool *pool);
void m2_free(m2 *m);

/* VAT and entropy minimisation of q(y|x) (c, vat.h; nothing when neither is on) in every step of
 * m2_train_epoch: buffers for max_in rows; c recorded in m->info (vat_config_put). The rows are
 * drawn whole in each process, the directions too: one process only (-1 under mpirun). */
int m2_set_vat(m2 *m, const vat_config *c, error *e);
/* The classifier q(y|x) as vat.h sees it, on up to max_in rows (its passes leave m->p.grad alone
 * unless asked). */
vat_net m2_vat_net(m2 *m);
/* The term of a step on its n rows x (n, in), n <= max_in: adds alpha times the gradient of its mean
 * to m->p.grad (the directions drawn from r) and returns the mean (vat_loss). */
double m2_vat_loss(m2 *m, const float *x, int n, float alpha, rng *r);

/* x (nl + nu, in): nl labelled rows (labels y (nl), 0 <= y < K) then nu unlabelled rows; eps
 * (nl + nu K, Z) noise of z, then, for the auxiliary models, (nl + nu, aux.size) noise of a
 * (m2_noise_size floats in all). Adds to *loss (unweighted bounds); with grad, the backward of the step loss
 * (KL weighted by beta) into m->p.grad (accumulating). */
void m2_forward_backward(m2 *m, const float *x, const int *y, int nl, int nu, const float *eps, float alpha,
                         float beta, int grad, m2_loss *loss);
size_t m2_noise_size(const m2 *m, int nl, int nu);

/* The training rows split into labelled and unlabelled index lists, with their draw state. */
typedef struct m2_data {
    const float *x;      /* (N, in) */
    const int *y;        /* (N), -1 = unlabelled */
    const float *xsd;    /* (N, in) or NULL: each time a row is drawn, x + xsd * eps, eps ~ N(0, I) fresh
                          * (x and xsd the mean and sd of M1's q(z|x): M1+M2 on samples, as Kingma's) */
    int binarise;        /* each time a row is drawn, each x_j in [0, 1] replaced by a draw of
                          * Bernoulli(x_j) (dynamic binarisation, as the ADGM authors train) */
    size_t N, nlab, nunl, lab_pos;
    int *lab, *unl;      /* (nlab), (nunl) row indices, reshuffled as they are used */
    datasource *unl_src; /* or NULL; else the unlabelled rows come from it (--stream-data: x, and x_sd
                          * when xsd is set), nunl its rows, unl unused; not sharded (every process
                          * draws the whole step); not owned */
} m2_data;
/* Checks the labels (< K: "row 12: label 10 >= the model's 10 classes"); xsd starts NULL. */
int m2_data_init(m2_data *d, const float *x, const int *y, size_t N, int K, error *e);
void m2_data_free(m2_data *d);
/* Rows idx[0..n) of d->x (each D wide) into dst (n, D), as training draws them: plus xsd * eps when
 * d->xsd is set, binarised with d->binarise (draws from r). */
void m2_data_rows(const m2_data *d, const int *idx, int n, int D, float *dst, rng *r);

/* One epoch: a pass over the unlabelled rows in batches of bu (or over the labelled rows when there
 * are none); every step also draws bl labelled rows, cycling through a reshuffled labelled set.
 * Under mpirun (dist.h) every process draws the whole step (rows, noise) and computes its share of
 * it, the means over the whole step; one all-reduce of the gradient per step; *loss sums all shares. */
int m2_train_epoch(m2 *m, adam *opt, m2_data *d, int bl, int bu, float alpha, float beta, rng *r, trainlog *log,
                   m2_loss *loss, error *e);
/* Training settings of m2_train. */
typedef struct m2_config {
    int epochs;        /* 10 */
    int batch;         /* 128 unlabelled rows a step */
    int lab_batch;     /* labelled rows a step (at most the m2's max_lab) */
    double lr;         /* Adam's, 1e-3 */
    int warmup;        /* KL warm-up epochs, as vae_config */
    float alpha;       /* the weight of -log q(y|x) (the tool's --alpha x N / N_labelled) */
    uint64_t seed;
} m2_config;

void m2_config_default(m2_config *c);

/* Trains m (made by m2_new, its pool, weighting and shift set) on d: weights drawn from c->seed,
 * Adam, m2_train_epoch epochs. Each epoch logs loss, unl_elbo, lab_elbo, xent, accuracy (and val_elbo,
 * val_accuracy on vx (vn, in) with labels vy (or NULL), the same noise every epoch; val_elbo also in
 * m->info), hands log's trainctl the whole training state (the cycles over d's rows included; a state
 * to resume from is restored first), then calls cb (may be NULL). Returns 0 (also when training stopped
 * early: trainlog_stopped), or -1 with e, "epoch N, ..." for a failed epoch. */
int m2_train(m2 *m, const m2_config *c, m2_data *d, const float *vx, const int *vy, size_t vn, trainlog *log,
             train_epoch_fn cb, void *ctx, error *e);

/* Every row of x (N, in) as unlabelled (U bound, one noise draw); accuracy against y (N) where y >= 0
 * (counted in nlab/correct; the auxiliary models' q(y|x) averaged over draws of a, as m2_predict). */
void m2_evaluate(m2 *m, const float *x, const int *y, size_t N, rng *r, m2_loss *loss);

/* q(y|x): p (B, K) for x (B, in), B <= max_in (auxiliary models: the mean of q(y|a,x) over
 * aux.samples draws of a, from m->pred_rng). */
void m2_predict(m2 *m, const float *x, int B, float *p);
/* Data-space means (B, in) of p(x | y = cls[i], z[i]), z (B, Z), B <= max_rows. */
void m2_decode(m2 *m, const float *z, const int *cls, int B, float *xmean);
/* Reconstruction through z = mu(x, y), y the given label when >= 0 else argmax q(y|x). */
void m2_reconstruct(m2 *m, const float *x, const int *y, int B, float *xmean);

/* Model files of kind "m2" (info: the vaenet_arch keys plus "classes", for the auxiliary models
 * "model" adgm or sdgm, "aux" and "samples", and what the trainer added). */
model_file *m2_save(const m2 *m, error *e);
int m2_load(m2 *m, const model_file *f, int max_lab, int max_unl, error *e);

#endif
