#include "filter.h"

#include <math.h>
#include <string.h>

static int check_input(const stream_schema *in, const filter *f, error *e)
{
    int ix = stream_schema_find(in, "x");
    if (ix < 0) return error_set(e, "stream has no tensor 'x' (features)");
    const stream_field *x = &in->fields[ix];
    if (x->dtype != STREAM_F32) return error_set(e, "tensor 'x' is %s, expected f32", stream_dtype_name(x->dtype));
    if (x->width != (size_t)f->in_width)
        return error_set(e, "x has %zu features, the model expects %d", x->width, f->in_width);
    int named = stream_meta_num_classes(in);
    if (f->classes > 0 && named && named != f->classes)
        return error_set(e, "the stream names %d classes, the model has %d", named, f->classes);
    return 0;
}

/* The input's schema without the output's name and f->drop, then the output (f32, width) appended. */
static stream_schema *output_schema(const stream_schema *in, const filter *f, error *e)
{
    stream_schema *s = stream_schema_new();
    value_free(s->meta);
    s->meta = value_copy(in->meta);
    for (int i = 0; i < in->n; i++) {
        const stream_field *fi = &in->fields[i];
        if (strcmp(fi->name, f->output) == 0 || (f->drop && strcmp(fi->name, f->drop) == 0) ||
            (f->output2 && strcmp(fi->name, f->output2) == 0))
            continue;
        if (stream_schema_add(s, fi->name, fi->dtype, fi->ndim, fi->dims, e) < 0) goto fail;
    }
    int64_t dims[1] = {f->width};
    if (stream_schema_add(s, f->output, STREAM_F32, 1, dims, e) < 0) goto fail;
    int64_t dims2[1] = {f->width2};
    if (f->output2 && stream_schema_add(s, f->output2, STREAM_F32, 1, dims2, e) < 0) goto fail;
    /* the model's class names, when they name its every class (a model file may say otherwise) */
    const value *cn = f->class_names;
    if (cn && cn->kind == VALUE_ARRAY && cn->n == (size_t)f->classes && !stream_meta_num_classes(in))
        value_set(s->meta, STREAM_META_CLASSES, value_copy(cn));
    for (const char *const *k = f->drop_meta; k && *k; k++) value_remove(s->meta, *k);
    if (f->history) stream_meta_add_history(s, f->history);
    return s;
fail:
    stream_schema_free(s);
    return NULL;
}

/* Copies the columns out shares with in (by name), except the outputs, which f computes. */
static void pass_through(stream_table *out, const stream_table *in, const filter *f)
{
    for (int i = 0; i < out->schema->n; i++) {
        const stream_field *fo = &out->schema->fields[i];
        int j = stream_schema_find(in->schema, fo->name);
        if (j < 0 || strcmp(fo->name, f->output) == 0 || (f->output2 && strcmp(fo->name, f->output2) == 0)) continue;
        memcpy(out->cols[i], in->cols[j], in->nrows * fo->width * stream_dtype_size(fo->dtype));
    }
}

/* The batch's x has finite values only (a model would turn NaN or infinity into numbers that look
 * valid, or spread it); the batch's first row is row row0 + 1 of the stream. */
static int check_finite(const stream_table *batch, size_t row0, error *e)
{
    int ix = stream_schema_find(batch->schema, "x");
    size_t D = batch->schema->fields[ix].width;
    const float *x = batch->cols[ix];
    for (size_t i = 0; i < batch->nrows * D; i++)
        if (!isfinite(x[i])) return error_set(e, "row %zu: x has a non-finite value", row0 + i / D + 1);
    return 0;
}

/* One batch through f into ot (resized to the batch's rows); other tensors pass through. */
static int filter_batch(const filter *f, stream_table *ot, const stream_table *batch, size_t row0, error *e)
{
    if (check_finite(batch, row0, e)) return f->name ? error_prefix(e, "%s", f->name) : -1;
    if (stream_table_resize(ot, batch->nrows, e)) return -1;
    float *out = stream_table_col(ot, f->output);
    int bad = f->output2    ? f->batch2_fn(f->ctx, batch, out, stream_table_col(ot, f->output2), e)
              : f->batch_fn ? f->batch_fn(f->ctx, batch, out, e)
                            : f->fn(f->ctx, stream_table_col(batch, "x"), batch->nrows, out, e);
    if (bad) return f->name ? error_prefix(e, "%s", f->name) : -1;
    pass_through(ot, batch, f);
    return 0;
}

int filter_run(stream_reader *r, FILE *out, const filter *f, error *e)
{
    const stream_schema *in = stream_reader_schema(r);
    if (check_input(in, f, e)) return f->name ? error_prefix(e, "%s", f->name) : -1;
    stream_schema *os = output_schema(in, f, e);
    if (!os) return -1;
    stream_writer *w = out ? stream_writer_open(out, os, e) : NULL;
    stream_table *batch = NULL, *ot = stream_table_new(os);
    stream_schema_free(os);
    int got = w || !out ? 1 : -1;
    size_t row0 = 0;
    while (got == 1 && (got = stream_reader_next(r, &batch, e)) == 1) {
        if (filter_batch(f, ot, batch, row0, e) || (w && stream_writer_write(w, ot, 0, ot->nrows, e)))
            got = -1;
        row0 += batch->nrows;
    }
    if (got == 0 && w) got = stream_writer_finish(w, e);
    else if (w) stream_writer_abort(w);
    stream_table_free(batch);
    stream_table_free(ot);
    return got;
}

int filter_table(const stream_table *t, FILE *out, const filter *f, error *e)
{
    if (check_input(t->schema, f, e)) return f->name ? error_prefix(e, "%s", f->name) : -1;
    stream_schema *os = output_schema(t->schema, f, e);
    if (!os) return -1;
    stream_writer *w = stream_writer_open(out, os, e);
    stream_table *ot = stream_table_new(os);
    stream_schema_free(os);
    int rc = w && !filter_batch(f, ot, t, 0, e) && !stream_writer_write(w, ot, 0, ot->nrows, e) ? 0 : -1;
    if (rc == 0) rc = stream_writer_finish(w, e);
    else if (w) stream_writer_abort(w);
    stream_table_free(ot);
    return rc;
}
