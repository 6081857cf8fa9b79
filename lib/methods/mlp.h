/* mlp: the classifier of ssl-fit. A multilayer perceptron, ReLU hidden layers, softmax output,
 * cross-entropy; zero hidden layers is multinomial logistic regression.
 *
 * Training mimics scikit-learn's MLPClassifier (the reference the acceptance numbers compare to):
 * Glorot-uniform weights and intercepts, Adam (lr 1e-3), mini-batches of min(200, n) shuffled
 * every epoch, coupled L2 penalty alpha/2 ||W||^2 / batch_rows on the weights (not the biases),
 * up to 200 epochs, stopping when the epoch's training loss (penalty included) has not improved
 * by tol = 1e-4 for more than `patience` (10) consecutive epochs. With a validation set, the
 * stopping criterion is the validation accuracy instead, and the best weights are kept (as
 * scikit-learn's early_stopping=True does). Extras: per-row weights w (the loss is
 * sum_i w_i l_i / batch_rows), inverted dropout on hidden activations and, for images, random shifts
 * and left-right flips
 * of the training rows.
 *
 * Rows with y < 0 (unlabelled) are ignored by the supervised loss; a label >= K is an error. With an
 * unlabelled term (vat.h: virtual adversarial training, entropy minimisation), each step adds its loss
 * on a batch drawn from every row, and training runs its whole budget of epochs unless a validation
 * set stops it (the unlabelled loss does not settle as the supervised one does).
 *
 * Optionally (mlp_conv) convolution layers come first, on the rows as NCHW images: each a
 * convolution (conv.h), batch norm over its channels when batch_norm is on, then ReLU; the last
 * one's output, flattened or mean-pooled over its pixels, is the dense layers' input. Dropout stays
 * on the dense hidden layers. */
#ifndef SSL_MLP_H
#define SSL_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "datasource.h"
#include "error.h"
#include "model.h"
#include "nn.h"
#include "trainlog.h"
#include "value.h"
#include "vat.h"

#define MLP_MAX_HIDDEN 8
#define MLP_MAX_CONV CONV_MAX_LAYERS
#define MLP_KIND "mlp"

/* The default learning rate of logistic regression (no hidden layer): at 1e-3 a linear model on a
 * few dozen rows (one step an epoch) is still far from its optimum when the loss stops falling by
 * the stopping tolerance; 0.01 scores 6-22 points more on iris, wine, breast cancer and digits at 5
 * labels per class (pipelines/small-data.sh, docs/ssl-fit.md). */
#define MLP_LINEAR_LR 0.01

/* Convolution layers before the dense ones. */
typedef struct mlp_conv {
    int n;                              /* 0: none, the network is an MLP */
    conv_layer layer[MLP_MAX_CONV];     /* channels:kernel:stride, zero padding (kernel-1)/2 (conv.h) */
    int c, h, w;                        /* the rows as images, channels first: c h w = features */
    int pool;                           /* after the last: 1 = global mean pool, 0 = flatten */
} mlp_conv;

typedef struct mlp_config {
    int nhidden, hidden[MLP_MAX_HIDDEN];   /* default 2: 128, 64 */
    int batch_norm;                        /* 0; the network's (mlp_new), recorded with the rest */
    mlp_conv conv;                         /* none; the network's (mlp_new_conv) */
    int epochs;                            /* 200 */
    int batch;                             /* 200 (min with the labelled rows) */
    double lr;                             /* 1e-3 (MLP_LINEAR_LR without hidden layers) */
    int lr_decay_start;                    /* 0; else the epoch from which lr falls linearly to 0 at the
                                            * last epoch (adam_linear_decay) */
    double alpha;                          /* L2 penalty, 1e-4 */
    double dropout;                        /* 0 */
    int patience;                          /* 10 */
    double tol;                            /* 1e-4 */
    int shift, img_h, img_w;               /* 0; else each training row is moved by a random shift in
                                            * [-shift, shift]^2 (rows as img_h x img_w images) */
    int flip;                              /* 0; 1: and mirrored left-right with probability 1/2 */
    vat_config vat;                        /* vat.h: VAT and entropy minimisation on the rows; off */
    int ubatch;                            /* rows of their batch each step (0: batch), drawn at random
                                            * from every training row, labelled or not */
    uint64_t seed;                         /* 0 */
    par_pool *pool;                        /* threads for the element loops, or NULL (the default): the
                                            * caller's; the same model either way */
} mlp_config;

void mlp_config_default(mlp_config *c);

typedef struct mlp {
    int features;                       /* a row's values: sizes[0], or conv.c conv.h conv.w */
    int nlayers;                        /* dense layers: nhidden + 1 */
    int sizes[MLP_MAX_HIDDEN + 2];      /* sizes[0] = the dense input ... sizes[nlayers] = classes */
    nn_params params;                   /* "layer1.w" (sizes[1], sizes[0]), "layer1.b" (sizes[1]), ... */
    int iw[MLP_MAX_HIDDEN + 1], ib[MLP_MAX_HIDDEN + 1];
    int batch_norm;                     /* 1: batch normalisation before each hidden (and conv) ReLU */
    int igamma[MLP_MAX_HIDDEN + 1], ibeta[MLP_MAX_HIDDEN + 1];   /* "bn<l>.gamma", "bn<l>.beta" of hidden layer l */
    int imean[MLP_MAX_HIDDEN + 1], ivar[MLP_MAX_HIDDEN + 1];     /* "bn<l>.mean", "bn<l>.var": running averages */
    mlp_conv conv;                      /* conv.n = 0: none */
    conv_shape cs[MLP_MAX_CONV];        /* each conv layer's shapes */
    int icw[MLP_MAX_CONV], icb[MLP_MAX_CONV];   /* "conv<j>.w" (K, C k k), "conv<j>.b" (K) */
    int icbn[MLP_MAX_CONV][4];          /* with batch norm: "conv<j>.{gamma,beta,mean,var}" (K) */
} mlp;

/* Rows to train or evaluate on: x (n, features), y (n) with -1 = unlabelled, w (n) or NULL. */
typedef struct mlp_data {
    const float *x;
    const int32_t *y;
    const float *w;
    size_t n;
} mlp_data;

/* Checks the rows of d, its first row being row row0 + 1 of its stream: labels in -1..K-1, the
 * weights of labelled rows finite and >= 0; their number into *nlab. */
int mlp_check_rows(const mlp_data *d, int K, size_t row0, size_t *nlab, error *e);

/* What training did (provenance for the model file). */
typedef struct mlp_result {
    int epochs_run;
    int best_epoch;           /* the epoch whose weights were kept */
    size_t rows;              /* labelled rows trained on */
    double final_loss;        /* training loss of the last epoch */
    double best_val_accuracy; /* NAN without a validation set */
} mlp_result;

/* A network with zeroed parameters. hidden may be NULL when nhidden = 0. batch_norm: batch
 * normalisation (Ioffe and Szegedy 2015) between each hidden layer's product and its ReLU, with the
 * batch's statistics in training (the running averages moving 0.1 of the way each step, the
 * unlabelled terms' passes leaving them alone) and the running averages in prediction. */
mlp *mlp_new(int features, int classes, int nhidden, const int *hidden, int batch_norm, error *e);
/* The same with convolution layers first (conv NULL or conv->n = 0: mlp_new); features must be
 * conv->c conv->h conv->w, and each layer's input at least its kernel. */
mlp *mlp_new_conv(int features, int classes, const mlp_conv *conv, int nhidden, const int *hidden, int batch_norm,
                  error *e);
void mlp_free(mlp *m);
static inline int mlp_features(const mlp *m) { return m->features; }
static inline int mlp_classes(const mlp *m) { return m->sizes[m->nlayers]; }

/* Glorot-uniform initialisation from the seed, then training. log may be NULL. */
int mlp_train(mlp *m, const mlp_config *c, const mlp_data *train, const mlp_data *val, trainlog *log,
              mlp_result *res, error *e);
/* The same from a source of labelled rows (x f32, y i32, w f32 when present, checked with
 * mlp_check_rows as they were read), read batch by batch (ssl-fit --stream-data). Its rows held in
 * memory (a stream that fits its buffer) give mlp_train's model on them, byte for byte. */
int mlp_train_source(mlp *m, const mlp_config *c, datasource *src, const mlp_data *val, trainlog *log,
                     mlp_result *res, error *e);
/* p (n, classes) = softmax of the network on x (n, features), in chunks (memory independent of n). */
int mlp_predict(const mlp *m, const float *x, size_t n, float *p, error *e);
/* Mean cross-entropy and accuracy on the labelled rows of d (NAN if none). */
int mlp_evaluate(const mlp *m, const mlp_data *d, double *loss, double *accuracy, error *e);

/* The network's training-mode passes on batches of up to cap rows, as vat.h sees a network (the
 * unlabelled terms' passes, a gradient check): no dropout, batch norm on the batch's statistics with
 * its running averages left alone; the parameter gradients accumulate into m->params.grad. */
typedef struct mlp_net mlp_net;
mlp_net *mlp_net_new(const mlp *m, int cap, par_pool *pool, error *e);
const vat_net *mlp_net_vat(const mlp_net *n);
void mlp_net_free(mlp_net *n);

/* Model files: info holds the architecture, the hyper-parameters, the provenance and, from the
 * training stream's meta (may be NULL), class_names and feature_names. */
model_file *mlp_save(const mlp *m, const mlp_config *c, const mlp_result *r, const value *meta, error *e);
/* A model file's network: info's features, classes, hidden, batch_norm and, for a convolutional
 * one, conv (the spec, "32:5:2,64:3:2"), conv_image ([c, h, w]) and conv_pool. */
mlp *mlp_load(const model_file *f, error *e);

#endif
