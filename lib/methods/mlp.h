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
 * of the training rows.
 *
 * Rows with y < 0 (unlabelled) are ignored by the supervised loss; a label >= K is an error. With an
 * unlabelled term (vat.h: virtual adversarial training, entropy minimisation), each step adds its loss
 * on a batch drawn from every row, and training runs its whole budget of epochs unless a validation
 * set stops it (the unlabelled loss does not settle as the supervised one does). */
#ifndef SSL_MLP_H
#define SSL_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "datasource.h"
#include "error.h"
#include "model.h"
#include "nn.h"
#include "trainlog.h"
#include "value.h"
#include "vat.h"

#define MLP_MAX_HIDDEN 8
#define MLP_KIND "mlp"

/* The default learning rate of logistic regression (no hidden layer): at 1e-3 a linear model on a
 * few dozen rows (one step an epoch) is still far from its optimum when the loss stops falling by
 * the stopping tolerance; 0.01 scores 6-22 points more on iris, wine, breast cancer and digits at 5
 * labels per class (pipelines/small-data.sh, docs/ssl-fit.md). */
#define MLP_LINEAR_LR 0.01

typedef struct mlp_config {
    int nhidden, hidden[MLP_MAX_HIDDEN];   /* default 2: 128, 64 */
    int batch_norm;                        /* 0; the network's (mlp_new), recorded with the rest */
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
    vat_config vat;                        /* vat.h: VAT and entropy minimisation on the rows; off */
    int ubatch;                            /* rows of their batch each step (0: batch), drawn at random
                                            * from every training row, labelled or not */
    uint64_t seed;                         /* 0 */
    par_pool *pool;                        /* threads for the element loops, or NULL (the default): the
                                            * caller's; the same model either way */
} mlp_config;

void mlp_config_default(mlp_config *c);

typedef struct mlp {
    int nlayers;                        /* dense layers: nhidden + 1 */
    int sizes[MLP_MAX_HIDDEN + 2];      /* sizes[0] = features ... sizes[nlayers] = classes */
    nn_params params;                   /* "layer1.w" (sizes[1], sizes[0]), "layer1.b" (sizes[1]), ... */
    int iw[MLP_MAX_HIDDEN + 1], ib[MLP_MAX_HIDDEN + 1];
    int batch_norm;                     /* 1: batch normalisation before each hidden ReLU */
    int igamma[MLP_MAX_HIDDEN + 1], ibeta[MLP_MAX_HIDDEN + 1];   /* "bn<l>.gamma", "bn<l>.beta" of hidden layer l */
    int imean[MLP_MAX_HIDDEN + 1], ivar[MLP_MAX_HIDDEN + 1];     /* "bn<l>.mean", "bn<l>.var": running averages */
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
void mlp_free(mlp *m);
static inline int mlp_features(const mlp *m) { return m->sizes[0]; }
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

/* Model files: info holds the architecture, the hyper-parameters, the provenance and, from the
 * training stream's meta (may be NULL), class_names and feature_names. */
model_file *mlp_save(const mlp *m, const mlp_config *c, const mlp_result *r, const value *meta, error *e);
mlp *mlp_load(const model_file *f, error *e);

#endif
