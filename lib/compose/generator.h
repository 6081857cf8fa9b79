/* generator: the generative models of the project behind one interface, for augmentation:
 *   m2   ssl-vae's M2       class-conditional: z ~ N(0, I), x = mean of p(x | y, z)
 *   vae  ssl-vae's M1       unconditional: x = mean of p(x | z), z ~ N(0, I); and latent jitter:
 *                           x' = mean of p(x | mu(x) + s eps), eps ~ N(0, I)
 *   gan  ssl-gan's G        class-conditional when trained with --conditional, else unconditional
 * Every draw comes from the rng passed in; work runs in chunks (memory independent of n). */
#ifndef SSL_GENERATOR_H
#define SSL_GENERATOR_H

#include <stddef.h>

#include "error.h"
#include "model.h"
#include "rng.h"

typedef struct generator generator;

/* A model of another kind (mlp, scaler) is an error naming the kind. f is not kept. */
generator *generator_from_model(const model_file *f, error *e);
/* Opens and reads path; errors are prefixed with the path. */
generator *generator_load(const char *path, error *e);
void generator_free(generator *g);

const char *generator_kind(const generator *g);     /* "m2", "vae" or "gan" */
int generator_features(const generator *g);
/* Classes of a conditional generator, else 0. */
int generator_classes(const generator *g);
/* 1 if generator_jitter works (M1). */
int generator_can_jitter(const generator *g);

/* x (n, features): n rows of class cls (0 <= cls < classes). Conditional generators only. */
int generator_sample_class(generator *g, size_t n, int cls, rng *r, float *x, error *e);
/* x (n, features): n rows without a class (M1, unconditional G). */
int generator_sample(generator *g, size_t n, rng *r, float *x, error *e);
/* out (n, features): row i decoded from mu(x_i) + s eps_i (M1 only); out may be x. */
int generator_jitter(generator *g, const float *x, size_t n, float s, rng *r, float *out, error *e);

#endif
