/* filter: the loop every streaming filter shares (predict, encode, reconstruct, ...): read a stream
 * batch by batch, compute one f32 tensor from each batch's x, and write it with every other tensor of
 * the input passed through unchanged. Memory is bounded by the batch size, whatever the row count. */
#ifndef SSL_FILTER_H
#define SSL_FILTER_H

#include <stdio.h>

#include "error.h"
#include "stream.h"
#include "value.h"

/* Fills out (rows, width) from x (rows, in_width) of one batch. */
typedef int (*filter_fn)(void *ctx, const float *x, size_t rows, float *out, error *e);

typedef struct filter {
    const char *output;      /* the tensor written: "p", "z", or "x" (then it replaces the input's x) */
    int width;               /* its row width */
    int in_width;            /* the width x must have (the model's) */
    const char *drop;        /* an input tensor left out of the output (e.g. "x" when z replaces it), or NULL */
    int classes;             /* > 0 when output is p: the stream may not name another number of classes */
    const value *class_names;/* written to meta when the stream has none (may be NULL) */
    filter_fn fn;
    void *ctx;
} filter;

/* Checks the input's x (f32, in_width wide: "test.ssl: x has 784 features, the model expects 64"),
 * then streams r through f into out (header, batches, end). Messages name the input as r does. */
int filter_run(stream_reader *r, FILE *out, const filter *f, error *e);

#endif
