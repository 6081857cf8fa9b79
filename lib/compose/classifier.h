/* classifier: any classifier model of the project behind one interface, so that a stage asking for
 * "a classifier" (ssl-augment's --pseudo, --filter, --labeller) need not know the kinds:
 *   mlp  ssl-fit's MLP                     p = softmax of the network
 *   m2   ssl-vae's M2                      p = q(y|x)
 *   gan  ssl-gan's SSL-GAN discriminator   p = softmax of D's K logits (no noise)
 * A model of a kind that cannot classify (an M1 "vae", a "scaler") is an error naming the kind.
 * Prediction runs in chunks: memory independent of the number of rows. */
#ifndef SSL_CLASSIFIER_H
#define SSL_CLASSIFIER_H

#include <stddef.h>

#include "error.h"
#include "mlp.h"
#include "model.h"

typedef struct classifier classifier;

/* From a loaded model file (not kept: the caller still frees f). */
classifier *classifier_from_model(const model_file *f, error *e);
/* Opens and reads path, then classifier_from_model; errors are prefixed with the path. */
classifier *classifier_load(const char *path, error *e);
/* Wraps an MLP trained in memory; the classifier takes ownership of m. */
classifier *classifier_from_mlp(mlp *m, error *e);
void classifier_free(classifier *c);

const char *classifier_kind(const classifier *c);   /* "mlp", "m2" or "gan" */
int classifier_features(const classifier *c);
int classifier_classes(const classifier *c);
/* The model's class_names (an array value) when its info records them, else NULL. */
const value *classifier_class_names(const classifier *c);

/* p (n, classes) for x (n, features). */
int classifier_predict(classifier *c, const float *x, size_t n, float *p, error *e);

#endif
