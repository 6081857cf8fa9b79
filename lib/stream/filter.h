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
/* The same from the whole batch, for a computation that also reads other tensors (e.g. y). */
typedef int (*filter_batch_fn)(void *ctx, const stream_table *batch, float *out, error *e);
/* The same with a second output tensor out2 (rows, width2), e.g. encode's z and its sd. */
typedef int (*filter_batch2_fn)(void *ctx, const stream_table *batch, float *out, float *out2, error *e);

typedef struct filter {
    const char *output;      /* the tensor written: "p", "z", or "x" (then it replaces the input's x) */
    int width;               /* its row width */
    int in_width;            /* the width x must have (the model's) */
    const char *drop;        /* an input tensor left out of the output (e.g. "x" when z replaces it), or NULL */
    int classes;             /* > 0 when output is p: the stream may not name another number of classes */
    const value *class_names;/* written to meta when the stream has none (may be NULL) */
    const char *const *drop_meta; /* NULL-terminated meta keys left out of the output (may be NULL) */
    const char *history;     /* appended to the output's meta history (may be NULL) */
    const char *name;        /* the input's name, prefixed to filter_run's own messages (may be NULL) */
    filter_fn fn;
    filter_batch_fn batch_fn;/* used instead of fn when set */
    const char *output2;     /* a second f32 tensor written (replacing an input one of that name), or NULL */
    int width2;              /* its row width */
    filter_batch2_fn batch2_fn; /* computes both; used when output2 is set */
    void *ctx;
} filter;

/* Checks the input's x (f32, in_width wide: "x has 784 features, the model expects 64", prefixed
 * by f->name when set), then streams r through f into out (header, batches, end). The reader's and
 * writer's messages are theirs (the reader's name the input). out may be NULL: the batches are
 * computed (for what fn keeps aside) but nothing is written. */
int filter_run(stream_reader *r, FILE *out, const filter *f, error *e);
/* The same over a stream held in memory, t, as one batch: for a stage that needs every row before it
 * can write the first (ssl-graph). */
int filter_table(const stream_table *t, FILE *out, const filter *f, error *e);

#endif
