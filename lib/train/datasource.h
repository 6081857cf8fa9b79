/* datasource: where a trainer's batches come from, in memory or out of core, whole or sharded.
 *
 *   memory  the rows are held (a loaded table, or a raw x array): each epoch shuffles a permutation of
 *           all N rows with rng_shuffle, then hands out consecutive slices of it; this is the order
 *           every trainer used before, so the same seed gives the same bytes.
 *   stream  (--stream-data) the training stream is read again from its file every epoch through a
 *           shuffle buffer of K rows: the buffer fills from the file, each row handed out is drawn
 *           uniformly from the buffer (rng_below) and its slot refilled with the file's next row. Peak
 *           memory is K rows, one batch and one stream message, whatever N is. It is a local shuffle
 *           (the i-th row handed out is one of the file's first K + i rows), so a file sorted by
 *           class should be shuffled once beforehand (ssl-prep split does).
 *           When the whole file fits in the buffer (N <= K), the source keeps it and behaves exactly
 *           as the memory source: same order, same draws, bit-identical training.
 *   shards  with P processes (dist.h), rank r takes rows [r G/P, (r+1) G/P) of every global batch of
 *           G rows. Every rank makes the same draws, so the ranks' shares put together are the
 *           single-process batch, and a step that all-reduces gradients normalised by G equals the
 *           single-process step.
 * The rng passed to datasource_epoch and datasource_next must be the trainer's own (the draws
 * interleave with its noise draws), identical on every rank. */
#ifndef SSL_DATASOURCE_H
#define SSL_DATASOURCE_H

#include <stddef.h>

#include "error.h"
#include "rng.h"
#include "stream.h"

typedef struct datasource datasource;

/* The shuffle buffer's rows when a program's --shuffle-buffer is not given. */
#define DATASOURCE_BUFFER_ROWS 10000

/* A check of each batch read in the first pass of a stream source (row0: the batch's first row
 * in the file, 0-based); -1 with an error stops datasource_stream. */
typedef int (*datasource_check)(const stream_table *batch, size_t row0, void *ctx, error *e);

/* Rows of t, which must outlive the source. */
datasource *datasource_memory(const stream_table *t, error *e);
/* Rows of a raw x (N, D) (one f32 column "x"), which must outlive the source. */
datasource *datasource_memory_x(const float *x, size_t N, int D, error *e);
/* Whether a stream source keeps row `row` of a batch read from its file (1) or skips it (0). */
typedef int (*datasource_keep)(const stream_table *batch, size_t row, void *ctx);

/* The stream file at path, shuffled through a buffer of buffer_rows rows (>= 1). Opens it and reads
 * it once to count its rows, calling check (may be NULL) on each batch. Errors name the file. */
datasource *datasource_stream(const char *path, size_t buffer_rows, datasource_check check, void *ctx, error *e);
/* The same over the rows keep (may be NULL: all) accepts, e.g. the labelled ones: the source's rows
 * are those, in file order (check still sees every row; keep is called after it, with the same ctx). */
datasource *datasource_stream_where(const char *path, size_t buffer_rows, datasource_check check, datasource_keep keep,
                                    void *ctx, error *e);
void datasource_free(datasource *s);

const stream_schema *datasource_schema(const datasource *s);
size_t datasource_rows(const datasource *s);            /* N */
/* 1 when the rows are read from the file every epoch (a stream source whose file exceeds the buffer) */
int datasource_streaming(const datasource *s);
/* Held rows (memory, or a stream that fits its buffer): each epoch shuffles the previous epoch's
 * order instead of the rows' own order (ssl-fit's order since its first version). */
void datasource_cumulative_shuffle(datasource *s);
/* Held rows: their order of the last epoch (N entries), which a checkpoint saves and a resumed run
 * restores before the next epoch (a cumulative shuffle goes on from it); NULL when streaming (each
 * epoch's order then depends on the rng alone). */
int *datasource_order(const datasource *s, size_t *n);
/* This process is rank of size (0 <= rank < size); default 0 of 1. */
void datasource_shard(datasource *s, int rank, int size);

/* This rank's share of one global batch. */
typedef struct datasource_batch {
    stream_table *rows;    /* the share (owned by the source, valid until the next call) */
    size_t global;         /* G: rows in the global batch, the loss normaliser */
    size_t first;          /* index of rows' first row within the global batch (per-row noise slices) */
} datasource_batch;

/* Starts an epoch: memory, shuffles; stream, reopens the file and fills the buffer. */
int datasource_epoch(datasource *s, rng *r, error *e);
/* The next global batch of min(batch, rows left) rows: 1, 0 at the end of the epoch, -1 on error. */
int datasource_next(datasource *s, size_t batch, rng *r, datasource_batch *b, error *e);

#endif
