/* params: a parameter table (nn.h) to and from a model file (model.h), by tensor name. */
#ifndef SSL_PARAMS_H
#define SSL_PARAMS_H

#include "error.h"
#include "model.h"
#include "nn.h"

/* Copies every tensor into m (in table order, so the same parameters give the same bytes). */
int nn_params_save(const nn_params *p, model_file *m, error *e);
/* Fills every tensor of p from m by name, checking shapes: "layer1.w: shape (64, 784) in the model,
 * expected (64, 100)". */
int nn_params_load(nn_params *p, const model_file *m, error *e);
/* Whether m holds every tensor p declares, with its shape (call before nn_params_alloc when building
 * a network from a file: sizes the file's bytes do not back are refused before anything is allocated). */
int nn_params_check(const nn_params *p, const model_file *m, error *e);

#endif
