/* model: trained-model files (GUIDE section 3). One MessagePack map per file:
 *   {"format": "ssl-model", "version": [1, 0], "kind": "mlp"|"vae"|"m2"|"gan"|"scaler"|...,
 *    "info": {architecture, hyper-parameters, provenance, class_names, ...},
 *    "params": {name: ndarray (msgpack-numpy encoding, float32), ...}}
 * Parameters keep insertion order, so the same model gives the same bytes. Tools write model files
 * through cli_open_out (atomic rename) and read them with model_file_load. */
#ifndef SSL_MODEL_H
#define SSL_MODEL_H

#include <stdio.h>

#include "error.h"
#include "stream.h"
#include "value.h"

#define MODEL_FORMAT "ssl-model"
#define MODEL_VERSION_MAJOR 1
#define MODEL_VERSION_MINOR 0

typedef struct model_param {
    char name[STREAM_NAME_MAX];
    int ndim;
    int64_t dims[STREAM_MAX_DIMS];
    size_t size;        /* number of floats */
    float *data;        /* owned */
} model_param;

typedef struct model_file {
    char kind[32];
    value *info;        /* a map; owned */
    int nparams;
    model_param *params;
} model_file;

model_file *model_file_new(const char *kind);
void model_file_free(model_file *m);
/* Adds a parameter tensor (copied). */
int model_file_add(model_file *m, const char *name, int ndim, const int64_t *dims, const float *data, error *e);
/* Parameter by name, or NULL with an error naming the missing tensor. */
const model_param *model_file_param(const model_file *m, const char *name, error *e);
int model_file_write(const model_file *m, FILE *f, error *e);
/* Writes m to path atomically (atomicfile.h): the old file stays whole until the new one is. */
int model_file_save(const model_file *m, const char *path, error *e);
/* Reads and checks format and version. name is used in messages. */
model_file *model_file_read(FILE *f, const char *name, error *e);
/* Opens path and reads it; expect_kind (or NULL for any) is checked:
 * "m.vae: model is of kind 'vae', expected 'mlp'". */
model_file *model_file_load(const char *path, const char *expect_kind, error *e);

#endif
