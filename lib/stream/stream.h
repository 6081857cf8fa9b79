/* stream: the tensor stream every stage reads and writes (docs/stream-format.md).
 *
 * A stream is a sequence of MessagePack messages:
 *   header  {"format": "ssl-stream", "version": [1, 0], "tensors": [...], "meta": {...}}
 *   batch*  {"rows": n, "tensors": {name: ndarray, ...}}     ndarray = msgpack-numpy's map
 *   end     {"end": true, "rows": total}
 * A stream without its end message, or whose count disagrees, is truncated: an error.
 *
 * In memory, rows live in a stream_table: one contiguous column per tensor, row-major,
 * in the schema's order. A batch read from a stream is a stream_table too. */
#ifndef SSL_STREAM_H
#define SSL_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "value.h"

#include <msgpack/fbuffer.h>

#define STREAM_FORMAT "ssl-stream"
#define STREAM_VERSION_MAJOR 1
#define STREAM_VERSION_MINOR 0
#define STREAM_MAX_DIMS 4
/* The most values one row of a tensor may hold (a 4096 x 4096 image): larger declarations are refused
 * before anything is allocated for them. */
#define STREAM_MAX_WIDTH (1 << 24)
/* The most classes labels may number when no class_names name them. */
#define STREAM_MAX_CLASSES 65536
#define STREAM_NAME_MAX 64

typedef enum stream_dtype {
    STREAM_F32,
    STREAM_F64,
    STREAM_I32,
    STREAM_I64,
    STREAM_U8,
} stream_dtype;

size_t stream_dtype_size(stream_dtype t);
const char *stream_dtype_numpy(stream_dtype t);      /* "<f4", "<f8", "<i4", "<i8", "|u1" */
const char *stream_dtype_name(stream_dtype t);       /* "f32", "f64", "i32", "i64", "u8" */
int stream_dtype_parse(const char *numpy_str, stream_dtype *out); /* accepts numpy strings; -1 if unknown */

/* One named tensor: its element type and the shape of ONE row (ndim 0 = a scalar per row). */
typedef struct stream_field {
    char name[STREAM_NAME_MAX];
    stream_dtype dtype;
    int ndim;
    int64_t dims[STREAM_MAX_DIMS];
    size_t width;      /* elements per row: product of dims (1 for a scalar) */
} stream_field;

typedef struct stream_schema {
    int n;
    stream_field *fields;
    value *meta;       /* always a map; owned */
} stream_schema;

stream_schema *stream_schema_new(void);
stream_schema *stream_schema_copy(const stream_schema *s);
void stream_schema_free(stream_schema *s);
/* Adds a field; returns its index, or -1 (error set) if the name exists or is too long. */
int stream_schema_add(stream_schema *s, const char *name, stream_dtype t, int ndim, const int64_t *dims, error *e);
int stream_schema_find(const stream_schema *s, const char *name);   /* index or -1 */
/* 1 if both have the same fields (name, type, row width) in the same order. */
int stream_schema_same_fields(const stream_schema *a, const stream_schema *b);

/* Rows in memory, one column per schema field. */
typedef struct stream_table {
    stream_schema *schema;   /* owned */
    size_t nrows, cap;
    void **cols;             /* cols[i]: cap * fields[i].width elements of fields[i].dtype */
} stream_table;

/* A table with a copy of the schema and no rows. */
stream_table *stream_table_new(const stream_schema *s);
void stream_table_free(stream_table *t);
int stream_table_reserve(stream_table *t, size_t rows, error *e);
/* Sets nrows (reserving as needed); new rows are zeroed. */
int stream_table_resize(stream_table *t, size_t rows, error *e);
/* Appends rows [row0, row0+n) of src, whose schema must have the same fields in the same order. */
int stream_table_append(stream_table *t, const stream_table *src, size_t row0, size_t n, error *e);
/* Adds a zero-filled column (schema field too); returns its index or -1. */
int stream_table_add_col(stream_table *t, const char *name, stream_dtype dt, int ndim, const int64_t *dims, error *e);
/* Removes a column (schema field too) if present. */
void stream_table_drop_col(stream_table *t, const char *name);
/* Column by name, or NULL. */
void *stream_table_col(const stream_table *t, const char *name);
/* Column by name with a required dtype: NULL and an error naming the problem otherwise. */
void *stream_table_col_typed(const stream_table *t, const char *name, stream_dtype dt, error *e);
/* The width of the f32 tensor "x" of s, or -1 with an error ("stream has no tensor 'x' (features)",
 * "tensor 'x' is i32, expected f32"). */
int stream_x_width(const stream_schema *s, error *e);
/* The labels of t into *y: the i32 scalar "y", or NULL when t has none; -1 with an error when "y" is
 * not an i32 scalar. */
int stream_table_labels(const stream_table *t, const int32_t **y, error *e);
/* An f32 tensor `name` of t, when present, as wide as D with every value finite and >= 0 (sds; t's
 * first row is row row0 + 1 in messages); 0 also when absent. */
int stream_check_sd(const stream_table *t, const char *name, int D, size_t row0, error *e);
/* Keeps only the rows idx[0..n) in that order (rows may repeat). */
int stream_table_select(stream_table *t, const int *idx, size_t n, error *e);

/* Reading. name is used in messages ("train.ssl: message 3: ..."); "-" or NULL shows as "stdin". */
typedef struct stream_reader stream_reader;
stream_reader *stream_reader_open(FILE *f, const char *name, error *e);   /* reads and checks the header */
const stream_schema *stream_reader_schema(const stream_reader *r);
/* Reads the next batch into *batch (allocated or reused; its schema is the stream's).
 * Returns 1 with rows, 0 at a verified end of stream, -1 on error (truncated, corrupt, mismatch). */
int stream_reader_next(stream_reader *r, stream_table **batch, error *e);
void stream_reader_close(stream_reader *r);
/* Reads a whole stream into one table. */
stream_table *stream_read_all(FILE *f, const char *name, error *e);
/* Opens path ("-" = stdin) and reads it all. */
stream_table *stream_load(const char *path, error *e);

/* Writing. The writer splits what it is given into batches of at most batch_rows rows
 * (default: as many as fit in about 4 MiB, at least 1). */
typedef struct stream_writer stream_writer;
stream_writer *stream_writer_open(FILE *f, const stream_schema *s, error *e); /* writes the header */
void stream_writer_set_batch_rows(stream_writer *w, size_t rows);
/* Writes rows [row0, row0+n) of t, whose fields must match the writer's schema. */
int stream_writer_write(stream_writer *w, const stream_table *t, size_t row0, size_t n, error *e);
/* Writes the end message and flushes; reports any write error (e.g. disk full). Frees w. */
int stream_writer_finish(stream_writer *w, error *e);
/* Frees without writing the end message (after an error). */
void stream_writer_abort(stream_writer *w);
/* Header + all rows of t + end. */
int stream_write_all(FILE *f, const stream_table *t, error *e);

/* msgpack-numpy's array encoding, shared with model files: a map with the keys packed as bin
 * {nd: true, type: "<f4", kind: b"", shape: [...], data: <bin>}. Readers accept str or bin keys. */
typedef struct stream_ndarray {
    stream_dtype dtype;
    int ndim;
    int64_t shape[STREAM_MAX_DIMS + 1];
    const void *data;     /* points into the unpacked message: copy it out, it may be unaligned */
    size_t nbytes;
} stream_ndarray;
int stream_pack_ndarray(msgpack_packer *pk, stream_dtype t, int ndim, const int64_t *shape, const void *data);
/* 0 if o is such an array (data size checked against type and shape), else -1 with an error. */
int stream_parse_ndarray(const msgpack_object *o, stream_ndarray *out, error *e);
/* Looks up key (str or bin) in a MessagePack map; NULL if absent or o is not a map. */
const msgpack_object *stream_msgpack_get(const msgpack_object *o, const char *key);

/* Well-known meta keys */
#define STREAM_META_FEATURES "feature_names"   /* array of str, one per column of x */
#define STREAM_META_CLASSES  "class_names"     /* array of str, index = class id */
#define STREAM_META_SCALING  "scaling"         /* str: none|minmax|standard */
#define STREAM_META_RANGE    "x_range"         /* [lo, hi] of x values when known, e.g. [0, 1] */
#define STREAM_META_HISTORY  "history"         /* array of str: the commands that made this stream */

/* Number of classes a stream declares (length of class_names), or 0 if none. */
int stream_meta_num_classes(const stream_schema *s);
/* The class count K of the labels y (n rows, the first being row row0 + 1 of its stream): the number
 * of class_names in s's meta, else `given` (a program's --classes; 0 = none; must agree with
 * class_names), else max(y) + 1 (at least 2). One rule for every program: a label is -1 (unlabelled)
 * or a class 0..K-1, and K is at most STREAM_MAX_CLASSES unless class_names name more; else -1 with
 * e naming the row and the label. */
int stream_class_count(const stream_schema *s, const int32_t *y, size_t n, int given, size_t row0, error *e);
/* The same K from the class_names' count (named, 0 = none) and the largest label maxy (-1: none)
 * already seen, without the row checks. */
int stream_classes_k(int named, int given, int maxy, error *e);
/* Appends a provenance line to meta.history. */
void stream_meta_add_history(stream_schema *s, const char *line);

#endif
