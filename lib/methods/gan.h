/* gan: the semi-supervised GAN of Salimans et al. 2016 ("Improved Techniques for Training GANs"),
 * after the authors' MNIST code (openai/improved-gan), and its generator for augmentation.
 *
 * Discriminator D: Gaussian noise (sd input_noise) on the input, then weight-normalised dense
 * ReLU layers (d_hidden, default 1000-500-250-250-250) each followed by noise (sd hidden_noise),
 * then K logits l(x). Optionally (arch.nc > 0) weight-normalised convolutions come first, on the
 * rows as images, each followed by ReLU and the hidden noise, their output flattened (or
 * mean-pooled over the pixels) into the dense layers (lib/conv).
 * p(y|x) = softmax(l); the implicit fake class has logit 0, so
 * D(x) = Z/(Z+1) with Z = sum_k exp(l_k), i.e. D(x) = sigmoid(LSE(l)).
 * Generator G: noise z ~ U(0,1)^noise_dim (plus one-hot(y) when conditional), dense layers
 * (g_hidden, default 500-500) with batch norm and softplus, then a weight-normalised dense output
 * with sigmoid (data in [0, 1]) or no activation. Or (arch.ngc > 0) a convolutional G (DCGAN-style,
 * as the authors' CIFAR model): a dense layer to a seed image (g_seed channels x height x width)
 * with batch norm over channels and ReLU, then transposed convolutions (each doubling the size at
 * stride 2), batch norm and ReLU but the last, which has a bias and G's output activation and must
 * give the data's images (img_c x img_h x img_w).
 *
 * Losses (per training step, B labelled + B unlabelled + B generated rows, D run ONCE on the 3B):
 *   L_lab  = mean_lab [LSE(l) - l_y]
 *   L_unl  = 0.5 mean_unl softplus(-LSE(l)) + 0.5 mean_fake softplus(LSE(l))
 *            (= -0.5 log D(x_unl) - 0.5 log(1 - D(G(z))), written stably)
 *   L_D    = L_lab + L_unl
 *   L_G    = mean_j (mean_fake f_j - mean_unl f_j)^2, f = the last hidden layer of D (feature
 *            matching on a second unlabelled batch), + cond_weight * mean_fake [LSE(l) - l_y]
 *            when conditional (the generated row should be classified as its class).
 *   Options: L_unl weighted (unl_weight); the entropy of p(y|x) on unlabelled rows added to L_D
 *   (ent_weight, gan_loss_ent); a consistency term between each unlabelled row's p(y|x) and its
 *   randomly shifted (and mirrored) copy's (cons_weight, gan_loss_cons); a mode-seeking term in L_G (ms_weight, gan_loss_ms); the labelled rows shifted at random by up to `shift`
 *   pixels (images, zero fill), a regulariser against D memorising few labels; D's prediction from
 *   an exponential moving average of its weights (Polyak averaging, arch.ema); virtual adversarial
 *   training and entropy minimisation (vat.h) of p(y|x) = softmax over D's K class logits on the
 *   step's labelled and unlabelled rows, added to L_D with weight 1 (as to ssl-fit's cross-entropy),
 *   all their passes through D with one draw of its noise (the same in each pass, so that the clean
 *   and the moved passes differ by the move alone; D has no batch norm to leave alone).
 * Hidden layers of D keep their weight-norm scale g fixed at 1 (as the authors do, so the noise
 * keeps its meaning); the output layer trains g. D is initialised from the data (Salimans &
 * Kingma): biases (and the output scale) set so pre-activations start centred (unit variance for
 * the logits) on a first unlabelled batch. */
#ifndef SSL_GAN_H
#define SSL_GAN_H

#include <stddef.h>
#include <stdint.h>

#include "adam.h"
#include "conv.h"
#include "datasource.h"
#include "error.h"
#include "model.h"
#include "nn.h"
#include "rng.h"
#include "trainlog.h"
#include "vat.h"

#define GAN_KIND "gan"
#define GAN_MAX_LAYERS 8
_Static_assert(GAN_MAX_LAYERS >= CONV_MAX_LAYERS, "a conv spec fits gan_arch's layers");

/* A convolution layer of D or G: channels out, kernel (odd, kernel x kernel, zero padding
 * (kernel-1)/2 so that stride 1 keeps the size), stride (conv.h's spec). */
typedef conv_layer gan_conv;

typedef struct gan_arch {
    int features, classes;
    int nc;                               /* 0: D is an MLP; else its first layers are convolutions */
    gan_conv conv[GAN_MAX_LAYERS];        /* each: conv, ReLU, hidden noise; NCHW images */
    int img_c, img_h, img_w;              /* D's input image when nc > 0 (img_c img_h img_w = features) */
    int pool;                             /* after the last conv: 1 = global mean pool, 0 = flatten */
    int nd, d_hidden[GAN_MAX_LAYERS];     /* default 5: 1000, 500, 250, 250, 250 */
    int ng, g_hidden[GAN_MAX_LAYERS];     /* default 2: 500, 500 */
    int noise_dim;                        /* 100 */
    float input_noise, hidden_noise;      /* 0.3, 0.5 */
    int conditional;                      /* 0 */
    nn_act g_out;                         /* NN_ACT_SIGMOID or NN_ACT_NONE */
    int ema;                              /* 0; 1: D keeps a moving average of its weights (predicts with it) */
    int ngc;                              /* 0: G is an MLP (g_hidden); else its transposed convolutions */
    int g_seed[3];                        /* with ngc: the dense layer's output as channels, height, width */
    gan_conv gconv[GAN_MAX_LAYERS];       /* with ngc: channels out, kernel (odd), stride; output = input x stride */
} gan_arch;

void gan_arch_default(gan_arch *a);
/* Parses a --d-conv spec "32:5:2,64:3:2" (channels:kernel:stride per layer) into a->conv, a->nc;
 * -1 with e set ("--d-conv: ..."). */
int gan_conv_parse(gan_arch *a, const char *spec, error *e);
/* The spec of a->conv back as text ("32:5:2,64:3:2"; "" without conv layers). */
void gan_conv_format(const gan_arch *a, char *buf, size_t size);
/* Parses a --g-deconv spec "64x7x7,32:5:2,1:5:2" (the seed image channels x height x width, then
 * channels:kernel:stride per transposed convolution) into a->g_seed, a->gconv, a->ngc; -1 with e
 * set ("--g-deconv: ..."). */
int gan_deconv_parse(gan_arch *a, const char *spec, error *e);
/* The spec of a convolutional G back as text ("" without one). */
void gan_deconv_format(const gan_arch *a, char *buf, size_t size);

typedef struct gan_config {
    int epochs;              /* 10 */
    int batch;               /* 100: rows of each of the three parts */
    double lr;               /* 0.003 */
    double beta1;            /* 0.5 */
    int lr_decay_start;      /* epoch (1-based) from which lr falls linearly to 0 at the end; 0 = never */
    double cond_weight;      /* 1: weight of the class term of a conditional generator's loss */
    double unl_weight;       /* 1: weight of L_unl in L_D */
    double ms_weight;        /* 0: weight of the mode-seeking term in L_G (gan_loss_ms) */
    double ent_weight;       /* 0: weight of the entropy of p(y|x) on unlabelled rows in L_D (gan_loss_ent) */
    double cons_weight;      /* 0: weight of the consistency term in L_D (gan_loss_cons): an augmented copy of
                              * each unlabelled row (a 4th part of D's batch) should get the row's p(y|x) */
    int cons_shift;          /* 2: the copy is shifted by up to this many pixels each way (images) */
    int cons_flip;           /* 0: the copy is also mirrored left-right with probability 1/2 */
    double ema_decay;        /* 0.999: decay of D's weight average (arch.ema); early steps average faster */
    int shift;               /* 0: labelled rows moved by up to this many pixels each way (images) */
    int unl_shift;           /* 0: the unlabelled rows D and G see moved so too (images) */
    int img_h, img_w;        /* the image shape the shift needs (img_h img_w = features) */
    double max_loss;         /* 1e4: a loss above it (or NaN) stops training as diverged */
    vat_config vat;          /* off: VAT and entropy minimisation on the step's labelled and unlabelled rows */
    uint64_t seed;           /* 0 */
} gan_config;

void gan_config_default(gan_config *c);

typedef struct gan_ws gan_ws;   /* activations and gradients, sized for a batch (gan.c) */

/* Data-parallel training (dist.h): this process feeds D rows [first, first + b) of each part
 * (labelled, unlabelled, generated) of a step whose parts have B rows; G generates all B rows on
 * every process (its batch norm sees the whole batch). D's noise is drawn for the whole batch and
 * this process keeps its rows (norm_noise_add_share), so the draws are the single process's.
 * B = 0: one process (set by gan_train for the steps only). */
typedef struct gan_share {
    int b, B, first;
} gan_share;

typedef struct gan {
    gan_arch a;
    nn_params d, g;          /* trained parameters of D and G */
    nn_params stat;          /* batch-norm running statistics of G (saved, not trained) */
    nn_params eff;           /* derived: effective weight-normalised weights and row norms */
    conv_shape cs[GAN_MAX_LAYERS];   /* derived: the shapes of D's conv layers */
    conv_shape gs[GAN_MAX_LAYERS];   /* derived: the shapes of G's transposed convolutions */
    int gin;                 /* G's input width: noise_dim (+ classes when conditional) */
    float cond_weight;       /* weight of the class term in L_G (conditional; gan_config) */
    float unl_weight;        /* weight of L_unl in L_D (gan_config) */
    float ms_weight;         /* weight of the mode-seeking term in L_G (gan_config) */
    float ent_weight;        /* weight of the entropy term in L_D (gan_config) */
    float cons_weight;       /* weight of the consistency term in L_D (gan_config) */
    int cons_shift, cons_flip;   /* the augmentation of the consistency term (gan_config) */
    int shift, img_h, img_w; /* random shifts of the labelled rows (gan_config) */
    int unl_shift;           /* and of the unlabelled ones (gan_config) */
    vat_config vat;          /* VAT and entropy minimisation in L_D (gan_config; one process) */
    gan_share share;         /* under mpirun, this process's share of each training step */
    nn_params avg;           /* arch.ema: the moving average of d, same layout ("ema.d.l1.v", ...) */
    int eff_d, eff_g;        /* eff holds the weights of the current d (resp. G's output layer) */
    gan_ws *ws;
    int ws_batch;
    par_pool *pool;          /* threads for the element loops of training, or NULL (the default): the
                              * caller's; set by the owner, the same model either way */
} gan;

/* A network with zeroed parameters; checks the architecture ("--d-hidden: at least one layer"). */
gan *gan_new(const gan_arch *a, error *e);
void gan_free(gan *m);
/* Sizes the workspace for batches of B rows (training uses 3B rows in D). Idempotent. */
int gan_workspace(gan *m, int B, error *e);

/* The moving average of D's weights after a step: avg = decay_t avg + (1 - decay_t) d with
 * decay_t = min(decay, (1 + t) / (10 + t)) at step t (0-based). No-op without arch.ema. */
void gan_ema_update(gan *m, double decay, long t);

/* Random initialisation (D: v ~ N(0, 0.05^2), G: Glorot uniform), then D's data-dependent init
 * on up to 3B rows of x (n, features), drawn with r. */
int gan_init_weights(gan *m, const float *x, size_t n, int B, rng *r, error *e);

/* ---- the losses (each returns the SUM over its rows; dl = scale * d(sum)/dl) ---- */

/* sum_i LSE(l_i) - l_{i,y_i}; dl = scale (softmax(l_i) - onehot(y_i)); *correct += argmax hits.
 * dl (n, K) may equal l (n, K); y (n) in [0, K) */
double gan_loss_lab(float *dl, const float *l, const int32_t *y, int n, int K, float scale, int *correct);
/* fake = 0: sum_i softplus(-LSE(l_i)) (real rows), *correct += rows with LSE > 0;
 * fake = 1: sum_i softplus(LSE(l_i)) (generated rows), *correct += rows with LSE < 0.
 * dl = scale d/dl. dl (n, K) may equal l (n, K) */
double gan_loss_unl(float *dl, const float *l, int n, int K, int fake, float scale, int *correct);
/* Entropy minimisation (Grandvalet & Bengio 2005; in a GAN's D, Dai et al. 2017): sum_i H(softmax(l_i)),
 * H = -sum_k p_k log p_k, for unlabelled real rows. dl += scale d/dl (ADDS: it joins L_unl's gradient). */
double gan_loss_ent(float *dl, const float *l, int n, int K, float scale);
/* Consistency (the Pi-model of Laine & Aila 2017, Sajjadi et al. 2016): sum_i ||softmax(a_i) -
 * softmax(b_i)||^2 for the logits la, lb (n, K) of an unlabelled row and of its augmented copy.
 * da += scale d/dla, db += scale d/dlb (ADDS). */
double gan_loss_cons(float *da, float *db, const float *la, const float *lb, int n, int K, float scale);
/* Feature matching: loss = mean_j (mf_j - mr_j)^2 with mf, mr the column means of ff (nf, C) and
 * fr (nr, C); df (nf, C) = its gradient w.r.t. ff. mean (2C) workspace. */
double gan_loss_fm(float *df, const float *ff, int nf, const float *fr, int nr, int C, float *mean);

/* Mode seeking (Mao et al. 2019, "Mode Seeking GANs"), for a conditional G that ignores its noise:
 * rows (2p, 2p+1) of x (n, F) are generated from noises z (rows of stride zstride, the first Z
 * values compared) and the same class; loss = weight mean_p d_z / (d_x + 1e-3), d the mean absolute
 * difference, so G gains by making the two rows differ as their noises do. dx += d loss/dx. */
double gan_loss_ms(float *dx, const float *x, const float *z, int n, int F, int Z, int zstride, float weight);

/* ---- one training step's two halves (gradients ACCUMULATE into m->d.grad / m->g.grad) ---- */

typedef struct gan_stats {
    double loss_lab, loss_unl, loss_g;    /* means over their rows (L_unl with its 0.5 factors) */
    double loss_ent;                      /* mean entropy of p(y|x) over the unlabelled rows (ent_weight > 0) */
    double loss_cons;                     /* mean consistency loss over the unlabelled rows (cons_weight > 0) */
    double loss_vat;                      /* the VAT + entropy term (vat_loss: its mean over the rows) */
    int lab_correct, real_correct, fake_correct, rows;
} gan_stats;

/* L_D for the labelled rows idx_lab (B) of x with labels y[idx], the unlabelled rows idx_unl (B)
 * and B rows generated from noise drawn from r (as is D's noise). Returns L_D. */
double gan_d_grad(gan *m, const float *x, const int32_t *y, const int *idx_lab, const int *idx_unl, rng *r,
                  gan_stats *st);
/* D's K class logits as vat.h sees them, on up to the workspace's rows (gan_workspace): with noise
 * NULL without D's noise (as gan_predict, but with the current weights); else every pass adds D's
 * noise drawn from a copy of *noise, the same draws each pass (one realisation of the noisy D). The
 * passes leave m->d.grad alone unless asked. */
vat_net gan_vat_net(gan *m, const rng *noise);
/* L_G for B generated rows against the unlabelled rows idx_unl (B). Returns L_G. */
double gan_g_grad(gan *m, const float *x, const int *idx_unl, rng *r, gan_stats *st);

/* ---- training, prediction, sampling ---- */

typedef struct gan_data {
    const float *x;          /* (n, features) */
    const int32_t *y;        /* (n), -1 = unlabelled; NULL = none labelled */
    size_t n;
} gan_data;

/* The training rows as gan_train_source reads them: the labelled rows held, the unlabelled passes
 * from data sources (in memory, or a file read every epoch: --stream-data). */
typedef struct gan_source {
    gan_data lab;            /* rows holding the labelled ones (y >= 0; rows with y = -1 are skipped) */
    datasource *unl[2];      /* every row (column x f32), one pass each an epoch: D's unlabelled
                              * batches and G's (feature matching); gan_train_source shards them */
    gan_data init;           /* rows for D's data-dependent init and the data spread (y unused) */
} gan_source;

/* Called after each epoch (after the trainlog line): e.g. a checkpoint. Nonzero stops with e set. */
typedef int (*gan_epoch_fn)(gan *m, int epoch, void *ctx, error *e);

/* Trains from scratch (gan_init_weights, then c->epochs epochs of n/B steps). An epoch is one pass over all
 * rows as unlabelled data; the labelled rows are re-drawn in a shuffled cycle. Per-epoch metrics go
 * to log: d_loss, lab_loss, unl_loss, g_loss, train_accuracy, d_real_acc, d_fake_acc,
 * sample_spread (mean pairwise distance of 100 generated rows / that of 100 data rows: near 0 =
 * mode collapse), val_accuracy with val (and val_accuracy_last, the last weights', with arch.ema). A NaN or exploding loss stops with "epoch E, batch B: ...".
 * log, val, cb may be NULL. */
int gan_train(gan *m, const gan_config *c, const gan_data *train, const gan_data *val, trainlog *log,
              gan_epoch_fn cb, void *ctx, error *e);

/* gan_train over a gan_source. The unlabelled rows are N = datasource_rows(unl[0]) (unl[1] the
 * same rows); gan_train is this with every row held: lab = init = train, unl = memory sources.
 * Under mpirun (dist.h) each process takes its share of every step (gan_share; the batch must
 * divide by the number of processes), D's and G's gradients are all-reduced once a step (and the
 * feature means of G's step, which compares means over the whole batch), the epoch's metrics summed
 * over the processes; every process holds the same model. */
int gan_train_source(gan *m, const gan_config *c, const gan_source *s, const gan_data *val, trainlog *log,
                     gan_epoch_fn cb, void *ctx, error *e);

/* p (n, classes) = softmax(l(x)) with D deterministic (no noise), in chunks; D's weight average
 * when the model has one. */
int gan_predict(gan *m, const float *x, size_t n, float *p, error *e);
/* Accuracy of D on the labelled rows of d (NAN if none). */
int gan_accuracy(gan *m, const gan_data *d, double *acc, error *e);
/* n rows from G (batch norm in inference mode): x (n, features); y (n) receives the class of each
 * row for a conditional G (cls >= 0: all cls; cls < 0: 0, 1, ..., K-1 in turn), may be NULL. */
int gan_sample(gan *m, size_t n, int cls, rng *r, float *x, int32_t *y, error *e);
/* Mean Euclidean distance between the rows of x (n, d), n >= 2. */
double gan_mean_pairwise_dist(const float *x, int n, int d);

/* ---- model files: kind "gan", info holds the architecture (and what the caller adds) ---- */

model_file *gan_save(const gan *m, error *e);
gan *gan_load(const model_file *f, error *e);

#endif
