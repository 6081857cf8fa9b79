#include "datasource.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Rows are copied column by column: col[i] + row * rowbytes[i]. */
typedef struct rowset {
    int n;
    const char **col;
    size_t *rowbytes;
} rowset;

struct datasource {
    stream_schema *schema;   /* owned copy */
    size_t N;
    int rank, size;
    stream_table *out;       /* this rank's share of the current batch */
    /* memory (also a stream source whose file fits its buffer) */
    rowset mem;              /* the held rows, or the shuffle buffer */
    rowset inrows;           /* the file's current message */
    stream_table *held;      /* the rows read from a file that fits, or the one-column table of a raw x */
    int *perm;               /* (N) */
    int cumulative;          /* perm is shuffled from the last epoch's, not from the identity */
    size_t pos;              /* rows of the epoch handed out (both kinds) */
    /* stream */
    char *path;
    size_t cap;              /* K */
    FILE *f;
    stream_reader *rd;
    stream_table *in;        /* the file's current message */
    size_t in_pos;
    int eof;                 /* the reader has verified the end of the file */
    stream_table *buf;       /* the shuffle buffer: fill rows */
    size_t fill;
    datasource_keep keep;    /* the file's rows the source takes, or NULL: all */
    void *ctx;
};

static void copy_row(stream_table *dst, size_t di, const rowset *src, size_t si)
{
    for (int c = 0; c < src->n; c++)
        memcpy((char *)dst->cols[c] + di * src->rowbytes[c], src->col[c] + si * src->rowbytes[c], src->rowbytes[c]);
}

/* Sizes the rowset for schema s (allocates once). */
static int rowset_init(rowset *rs, const stream_schema *s, error *e)
{
    rs->n = s->n;
    rs->col = calloc((size_t)(s->n ? s->n : 1), sizeof *rs->col);
    rs->rowbytes = malloc((size_t)(s->n ? s->n : 1) * sizeof *rs->rowbytes);
    if (!rs->col || !rs->rowbytes) return error_set(e, "out of memory");
    for (int c = 0; c < s->n; c++) rs->rowbytes[c] = s->fields[c].width * stream_dtype_size(s->fields[c].dtype);
    return 0;
}

/* Aims the rowset at t's columns (t's schema has the rowset's fields). */
static void rowset_point(rowset *rs, const stream_table *t)
{
    for (int c = 0; c < rs->n; c++) rs->col[c] = t->cols[c];
}

static void rowset_free(rowset *rs)
{
    free(rs->col), free(rs->rowbytes);
}

static datasource *source_new(const stream_schema *schema, error *e)
{
    datasource *s = calloc(1, sizeof *s);
    if (!s) return error_set(e, "out of memory"), NULL;
    s->size = 1;
    s->schema = stream_schema_copy(schema);
    s->out = stream_table_new(schema);
    if (!s->schema || !s->out) error_set(e, "out of memory");
    if (!s->schema || !s->out || rowset_init(&s->mem, schema, e) < 0 || rowset_init(&s->inrows, schema, e) < 0) {
        datasource_free(s);
        return NULL;
    }
    return s;
}

/* Memory mode over N rows of t's columns. */
static int hold_rows(datasource *s, const stream_table *t, size_t N, error *e)
{
    s->N = N;
    s->perm = malloc((s->N ? s->N : 1) * sizeof *s->perm);
    if (!s->perm) return error_set(e, "out of memory for %zu rows", s->N);
    for (size_t i = 0; i < s->N; i++) s->perm[i] = (int)i;
    rowset_point(&s->mem, t);
    return 0;
}

datasource *datasource_memory(const stream_table *t, error *e)
{
    datasource *s = source_new(t->schema, e);
    if (s && hold_rows(s, t, t->nrows, e) < 0) datasource_free(s), s = NULL;
    return s;
}

datasource *datasource_memory_x(const float *x, size_t N, int D, error *e)
{
    stream_schema *sc = stream_schema_new();
    int64_t dims[1] = {D};
    datasource *s = NULL;
    if (stream_schema_add(sc, "x", STREAM_F32, 1, dims, e) >= 0) s = source_new(sc, e);
    stream_schema_free(sc);
    if (!s) return NULL;
    /* a table with no rows of its own: only its column pointer is used, aimed at x */
    s->held = stream_table_new(s->schema);
    if (!s->held || hold_rows(s, s->held, N, e) < 0) {
        datasource_free(s);
        return NULL;
    }
    s->mem.col[0] = (const char *)x;
    return s;
}

/* ---- stream ---- */

static int open_file(datasource *s, error *e)
{
    s->f = fopen(s->path, "rb");
    if (!s->f) return error_set(e, "%s: %s", s->path, strerror(errno));
    s->rd = stream_reader_open(s->f, s->path, e);
    if (!s->rd) return -1;
    s->in_pos = s->in ? s->in->nrows : 0;
    s->eof = 0;
    return 0;
}

static void close_file(datasource *s)
{
    if (s->rd) stream_reader_close(s->rd);
    if (s->f) fclose(s->f);
    s->rd = NULL, s->f = NULL;
}

static int kept(const datasource *s, const stream_table *t, size_t row)
{
    return !s->keep || s->keep(t, row, s->ctx);
}

/* The file's next kept row: 1 with *t, *row set; 0 at its end; -1 on error. */
static int next_file_row(datasource *s, const stream_table **t, size_t *row, error *e)
{
    do {
        while (!s->in || s->in_pos == s->in->nrows) {
            int got = s->eof ? 0 : stream_reader_next(s->rd, &s->in, e);
            s->eof = got == 0;
            if (got <= 0) return got;
            s->in_pos = 0;
            rowset_point(&s->inrows, s->in);
        }
        *t = s->in, *row = s->in_pos++;
    } while (!kept(s, *t, *row));
    return 1;
}

/* Counts the kept rows of the message s->in, appending them to *all while they fit the buffer
 * (runs of consecutive kept rows at a time); past the buffer, *all is dropped. */
static int take_rows(datasource *s, stream_table **all, error *e)
{
    const stream_table *in = s->in;
    for (size_t i = 0; i < in->nrows;) {
        size_t j = i;
        while (j < in->nrows && kept(s, in, j)) j++;
        s->N += j - i;
        if (*all && s->N > s->cap) stream_table_free(*all), *all = NULL;
        if (*all && j > i && stream_table_append(*all, in, i, j - i, e) < 0) return -1;
        for (i = j; i < in->nrows && !kept(s, in, i); i++) {}
    }
    return 0;
}

/* The first pass: counts the rows, checks each batch, and keeps them all if they fit the buffer. */
static int first_pass(datasource *s, datasource_check check, void *ctx, error *e)
{
    stream_table *all = stream_table_new(s->schema);
    size_t seen = 0;   /* the file's rows, kept or not */
    int got;
    if (!all) return error_set(e, "out of memory");
    while ((got = stream_reader_next(s->rd, &s->in, e)) == 1) {
        if (check && check(s->in, seen, ctx, e) < 0) break;
        seen += s->in->nrows;
        if (take_rows(s, &all, e) < 0) break;
    }
    close_file(s);
    if (got == 0 && all) {
        s->held = all;
        return hold_rows(s, all, all->nrows, e);
    }
    stream_table_free(all);
    return got == 0 ? 0 : -1;
}

datasource *datasource_stream(const char *path, size_t buffer_rows, datasource_check check, void *ctx, error *e)
{
    return datasource_stream_where(path, buffer_rows, check, NULL, ctx, e);
}

datasource *datasource_stream_where(const char *path, size_t buffer_rows, datasource_check check, datasource_keep keep,
                                    void *ctx, error *e)
{
    if (!path || !strcmp(path, "-")) return error_set(e, "stdin: a streamed data source must be a file (it is read every epoch)"), NULL;
    if (buffer_rows == 0) return error_set(e, "the shuffle buffer needs at least 1 row"), NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, "%s: %s", path, strerror(errno)), NULL;
    stream_reader *rd = stream_reader_open(f, path, e);
    datasource *s = rd ? source_new(stream_reader_schema(rd), e) : NULL;
    if (!s) {
        if (rd) stream_reader_close(rd);
        fclose(f);
        return NULL;
    }
    s->f = f, s->rd = rd, s->cap = buffer_rows;
    s->keep = keep, s->ctx = ctx;
    s->path = strdup(path);
    if (!s->path || first_pass(s, check, ctx, e) < 0) {
        datasource_free(s);
        return NULL;
    }
    return s;
}

/* Reopens the file and fills the buffer with its first K rows. */
static int stream_epoch(datasource *s, error *e)
{
    close_file(s);
    if (open_file(s, e) < 0) return -1;
    if (!stream_schema_same_fields(stream_reader_schema(s->rd), s->schema))
        return error_set(e, "%s: the file's tensors changed since training started", s->path);
    if (!s->buf && !(s->buf = stream_table_new(s->schema))) return error_set(e, "out of memory");
    if (stream_table_resize(s->buf, s->cap, e) < 0) return -1;
    rowset_point(&s->mem, s->buf);
    const stream_table *t;
    size_t row;
    int got = 1;
    for (s->fill = 0; s->fill < s->cap && (got = next_file_row(s, &t, &row, e)) == 1; s->fill++)
        copy_row(s->buf, s->fill, &s->inrows, row);
    return got < 0 ? -1 : 0;
}

/* Hands out one row drawn from the buffer (into out at di when keep) and refills its slot. */
static int stream_row(datasource *s, rng *r, int keep, size_t di, error *e)
{
    if (s->fill == 0) return error_set(e, "%s: the file has fewer rows than when training started", s->path);
    size_t j = (size_t)rng_below(r, s->fill);
    if (keep) copy_row(s->out, di, &s->mem, j);
    const stream_table *t;
    size_t row;
    int got = next_file_row(s, &t, &row, e);
    if (got < 0) return -1;
    if (got == 1) copy_row(s->buf, j, &s->inrows, row);
    else if (j != --s->fill) copy_row(s->buf, j, &s->mem, s->fill);   /* the file is done: the buffer shrinks */
    return 0;
}

/* ---- the shared interface ---- */

void datasource_free(datasource *s)
{
    if (!s) return;
    close_file(s);
    stream_table_free(s->in);
    stream_table_free(s->buf);
    stream_table_free(s->held);
    stream_table_free(s->out);
    stream_schema_free(s->schema);
    rowset_free(&s->mem);
    rowset_free(&s->inrows);
    free(s->perm);
    free(s->path);
    free(s);
}

const stream_schema *datasource_schema(const datasource *s) { return s->schema; }
size_t datasource_rows(const datasource *s) { return s->N; }
int datasource_streaming(const datasource *s) { return s->perm == NULL; }

void datasource_cumulative_shuffle(datasource *s) { s->cumulative = 1; }

int *datasource_order(const datasource *s, size_t *n)
{
    *n = s->perm ? s->N : 0;
    return s->perm;
}

void datasource_shard(datasource *s, int rank, int size)
{
    s->rank = rank;
    s->size = size;
}

int datasource_epoch(datasource *s, rng *r, error *e)
{
    s->pos = 0;
    if (!datasource_streaming(s)) {
        for (size_t i = 0; i < s->N && !s->cumulative; i++) s->perm[i] = (int)i;
        rng_shuffle(r, s->perm, s->N);
        return 0;
    }
    return stream_epoch(s, e);
}

int datasource_next(datasource *s, size_t batch, rng *r, datasource_batch *b, error *e)
{
    size_t G = s->N - s->pos < batch ? s->N - s->pos : batch;
    if (G == 0) {
        close_file(s);
        if (datasource_streaming(s) && s->fill)
            return error_set(e, "%s: the file has more rows than when training started", s->path);
        return 0;
    }
    size_t lo = (size_t)s->rank * G / (size_t)s->size, hi = (size_t)(s->rank + 1) * G / (size_t)s->size;
    if (stream_table_resize(s->out, hi - lo, e) < 0) return -1;
    if (!datasource_streaming(s))
        for (size_t g = lo; g < hi; g++) copy_row(s->out, g - lo, &s->mem, (size_t)s->perm[s->pos + g]);
    else
        for (size_t g = 0; g < G; g++)
            if (stream_row(s, r, g >= lo && g < hi, g - lo, e) < 0) return -1;
    s->pos += G;
    b->rows = s->out, b->global = G, b->first = lo;
    return 1;
}
