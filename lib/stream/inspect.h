/* inspect: a summary of a tensor stream for people (ssl-show), built batch by batch.
 *
 * Kept in memory, whatever the number of rows: per-column min/max/sum/count of x (non-finite
 * values counted apart and left out), class counts of y (labels 0..INSPECT_MAX_LABEL; -1 counted
 * as unlabelled; anything else counted as invalid), and the first `head` rows of every tensor. */
#ifndef SSL_INSPECT_H
#define SSL_INSPECT_H

#include <stdio.h>

#include "error.h"
#include "stream.h"
#include "value.h"

#define INSPECT_MAX_LABEL 65535
#define INSPECT_SHOW_FEATURES 8   /* features listed one by one unless all are asked for */

typedef struct inspect inspect;

inspect *inspect_new(const stream_schema *s, size_t head, error *e);
void inspect_free(inspect *in);
/* Adds a batch read from the stream whose schema was given to inspect_new. */
int inspect_add(inspect *in, const stream_table *batch, error *e);

/* The header alone: {format, version, tensors: [{name, type, shape}], meta}. */
value *inspect_header_value(const stream_schema *s);
/* The header for people; long arrays in meta are shortened unless all. */
void inspect_print_header(FILE *f, const stream_schema *s, int all);

/* Everything: the header plus rows, classes {counts: [{class, name, count}], unlabelled,
 * invalid}, features {tensor, columns, min, mean, max, nonfinite} (all columns), head (rows). */
value *inspect_to_value(const inspect *in);
/* Everything for people: features beyond INSPECT_SHOW_FEATURES are summarised unless all. */
void inspect_print_text(FILE *f, const inspect *in, int all);

#endif
