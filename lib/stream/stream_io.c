/* Reading and writing tensor streams (the format is in stream.h and docs/stream-format.md). */
#include "stream.h"
#include "mpscan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack/fbuffer.h>

#define READ_CHUNK (64 * 1024)
#define WRITE_BATCH_BYTES (4u << 20)

struct stream_reader {
    FILE *f;
    char name[256];
    msgpack_unpacker up;
    msgpack_unpacked msg;
    mpscan scan;       /* how much of the next message is buffered */
    stream_schema *schema;
    uint64_t rows;     /* rows read so far */
    long nmsg;         /* messages read so far (the header is message 1) */
    int eof;
};

struct stream_writer {
    FILE *f;
    msgpack_packer pk;
    stream_schema *schema;   /* the tensors (no meta) */
    const value *meta;       /* the caller's meta while the header is written */
    uint64_t rows;
    size_t batch_rows;
};

/* ---- reader ---- */

/* The next message into r->msg: 1, or 0 at a clean end of input, or -1 (read error, corrupt, cut).
 * msgpack-c sees a message only once all of it is buffered (mpscan.h: corrupt counts stay cheap);
 * the unparsed bytes start at up.off. */
static int next_message(stream_reader *r, error *e)
{
    for (;;) {
        int whole = mpscan_message(&r->scan, r->up.buffer + r->up.off, r->up.used - r->up.off);
        if (whole == 1) {
            r->scan = (mpscan){0};
            msgpack_unpack_return ret = msgpack_unpacker_next(&r->up, &r->msg);
            if (ret == MSGPACK_UNPACK_SUCCESS) {
                r->nmsg++;
                return 1;
            }
            return error_set(e, "%s: message %ld: %s", r->name, r->nmsg + 1,
                             ret == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory" : "corrupt MessagePack data");
        }
        if (whole < 0) return error_set(e, "%s: message %ld: corrupt MessagePack data", r->name, r->nmsg + 1);
        if (r->eof) {
            if (r->up.used > r->up.off)
                return error_set(e, "%s: truncated stream: input ends inside message %ld", r->name, r->nmsg + 1);
            return 0;
        }
        if (!msgpack_unpacker_reserve_buffer(&r->up, READ_CHUNK)) return error_set(e, "%s: out of memory", r->name);
        size_t n = fread(msgpack_unpacker_buffer(&r->up), 1, READ_CHUNK, r->f);
        if (n < READ_CHUNK) {
            if (ferror(r->f)) return error_set(e, "%s: read error: %s", r->name, strerror(errno));
            r->eof = 1;
        }
        msgpack_unpacker_buffer_consumed(&r->up, n);
    }
}

static int text_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN) && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static int get_rows(const msgpack_object *o, uint64_t *n)
{
    const msgpack_object *rows = stream_msgpack_get(o, "rows");
    if (!rows || rows->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *n = rows->via.u64;
    return 0;
}

static int parse_field(stream_reader *r, const msgpack_object *t, error *e)
{
    const msgpack_object *name = stream_msgpack_get(t, "name"), *type = stream_msgpack_get(t, "type"),
                         *shape = stream_msgpack_get(t, "shape");
    char nbuf[STREAM_NAME_MAX], tbuf[16];
    if (!name || name->type != MSGPACK_OBJECT_STR || name->via.str.size >= sizeof nbuf || !type ||
        type->type != MSGPACK_OBJECT_STR || type->via.str.size >= sizeof tbuf || !shape ||
        shape->type != MSGPACK_OBJECT_ARRAY || shape->via.array.size > STREAM_MAX_DIMS)
        return error_set(e, "a tensor entry needs a name, a type and a shape of at most %d dimensions", STREAM_MAX_DIMS);
    memcpy(nbuf, name->via.str.ptr, name->via.str.size);
    nbuf[name->via.str.size] = '\0';
    memcpy(tbuf, type->via.str.ptr, type->via.str.size);
    tbuf[type->via.str.size] = '\0';
    stream_dtype dt;
    if (stream_dtype_parse(tbuf, &dt)) return error_set(e, "tensor '%s' has unsupported type '%s'", nbuf, tbuf);
    int64_t dims[STREAM_MAX_DIMS];
    for (uint32_t d = 0; d < shape->via.array.size; d++) {
        const msgpack_object *v = &shape->via.array.ptr[d];
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return error_set(e, "tensor '%s' has a bad shape", nbuf);
        dims[d] = v->via.u64 > (1u << 28) ? -1 : (int64_t)v->via.u64;
    }
    return stream_schema_add(r->schema, nbuf, dt, (int)shape->via.array.size, dims, e) < 0 ? -1 : 0;
}

static int parse_header(stream_reader *r, const msgpack_object *o, error *e)
{
    if (!text_is(stream_msgpack_get(o, "format"), STREAM_FORMAT))
        return error_set(e, "not an ssl-tools tensor stream (no \"format\": \"%s\" header)", STREAM_FORMAT);
    const msgpack_object *ver = stream_msgpack_get(o, "version");
    if (!ver || ver->type != MSGPACK_OBJECT_ARRAY || ver->via.array.size < 1 ||
        ver->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return error_set(e, "stream header has no version");
    uint64_t major = ver->via.array.ptr[0].via.u64;
    if (major != STREAM_VERSION_MAJOR)
        return error_set(e, "stream format version %llu is not supported (this program reads version %d)",
                         (unsigned long long)major, STREAM_VERSION_MAJOR);
    const msgpack_object *tensors = stream_msgpack_get(o, "tensors");
    if (!tensors || tensors->type != MSGPACK_OBJECT_ARRAY) return error_set(e, "stream header has no tensor list");
    for (uint32_t i = 0; i < tensors->via.array.size; i++)
        if (parse_field(r, &tensors->via.array.ptr[i], e)) return -1;
    const msgpack_object *meta = stream_msgpack_get(o, "meta");
    if (meta) {
        if (meta->type != MSGPACK_OBJECT_MAP) return error_set(e, "stream meta is not a map");
        value *m = value_from_msgpack(meta, e);
        if (!m) return -1;
        value_free(r->schema->meta);
        r->schema->meta = m;
    }
    return 0;
}

stream_reader *stream_reader_open(FILE *f, const char *name, error *e)
{
    stream_reader *r = calloc(1, sizeof *r);
    if (!r) return error_set(e, "out of memory"), NULL;
    r->f = f;
    snprintf(r->name, sizeof r->name, "%s", !name || !strcmp(name, "-") ? "stdin" : name);
    if (!msgpack_unpacker_init(&r->up, READ_CHUNK)) {
        free(r);
        return error_set(e, "out of memory"), NULL;
    }
    msgpack_unpacked_init(&r->msg);
    r->schema = stream_schema_new();
    int got = next_message(r, e);
    if (got == 0) error_set(e, "%s: empty input (expected a tensor stream)", r->name);
    if (got == 1 && parse_header(r, &r->msg.data, e)) error_prefix(e, "%s: header", r->name), got = -1;
    if (got != 1) {
        stream_reader_close(r);
        return NULL;
    }
    return r;
}

const stream_schema *stream_reader_schema(const stream_reader *r) { return r->schema; }

void stream_reader_close(stream_reader *r)
{
    if (!r) return;
    msgpack_unpacked_destroy(&r->msg);
    msgpack_unpacker_destroy(&r->up);
    stream_schema_free(r->schema);
    free(r);
}

/* The arrays of a batch message of nrows rows, checked against the header (type, shape, and so the
 * bytes present) before anything is allocated for them: a small message cannot claim a large batch. */
static int check_batch(stream_reader *r, const msgpack_object *tensors, uint64_t nrows, stream_ndarray *nd, error *e)
{
    for (int i = 0; i < r->schema->n; i++) {
        const stream_field *f = &r->schema->fields[i];
        const msgpack_object *arr = stream_msgpack_get(tensors, f->name);
        if (!arr) return error_set(e, "batch lacks tensor '%s'", f->name);
        if (stream_parse_ndarray(arr, &nd[i], e)) return error_prefix(e, "tensor '%s'", f->name);
        int ok = nd[i].dtype == f->dtype && nd[i].ndim == f->ndim + 1 && (uint64_t)nd[i].shape[0] == nrows;
        for (int d = 0; ok && d < f->ndim; d++) ok = nd[i].shape[d + 1] == f->dims[d];
        if (!ok) return error_set(e, "tensor '%s' does not match the header's type and shape", f->name);
    }
    return 0;
}

static int parse_batch(stream_reader *r, const msgpack_object *o, uint64_t nrows, stream_table *b, error *e)
{
    const msgpack_object *tensors = stream_msgpack_get(o, "tensors");
    if (!tensors || tensors->type != MSGPACK_OBJECT_MAP) return error_set(e, "batch has no tensor map");
    if (tensors->via.map.size != (uint32_t)r->schema->n)
        return error_set(e, "batch has %u tensors, the header declares %d", tensors->via.map.size, r->schema->n);
    if (r->schema->n == 0 && nrows > 0) return error_set(e, "batch of %llu rows without tensors", (unsigned long long)nrows);
    stream_ndarray *nd = malloc((size_t)(r->schema->n ? r->schema->n : 1) * sizeof *nd);
    if (!nd) return error_set(e, "out of memory");
    int rc = check_batch(r, tensors, nrows, nd, e) || stream_table_resize(b, (size_t)nrows, e) ? -1 : 0;
    for (int i = 0; rc == 0 && i < r->schema->n; i++)
        if (nd[i].nbytes) memcpy(b->cols[i], nd[i].data, nd[i].nbytes);
    free(nd);
    return rc;
}

int stream_reader_next(stream_reader *r, stream_table **batch, error *e)
{
    int got = next_message(r, e);
    if (got < 0) return -1;
    if (got == 0)
        return error_set(e, "%s: truncated stream: it ends after %llu rows without its end message", r->name,
                         (unsigned long long)r->rows);
    const msgpack_object *o = &r->msg.data;
    uint64_t n;
    if (o->type != MSGPACK_OBJECT_MAP || get_rows(o, &n))
        return error_set(e, "%s: message %ld: not a batch or end message", r->name, r->nmsg);
    const msgpack_object *end = stream_msgpack_get(o, "end");
    if (end) {
        if (n != r->rows)
            return error_set(e, "%s: end message counts %llu rows, the stream had %llu", r->name,
                             (unsigned long long)n, (unsigned long long)r->rows);
        return 0;
    }
    if (n > (1u << 30)) return error_set(e, "%s: message %ld: batch of %llu rows is too large", r->name, r->nmsg, (unsigned long long)n);
    if (!*batch && !(*batch = stream_table_new(r->schema))) return error_set(e, "out of memory");
    if (parse_batch(r, o, n, *batch, e)) return error_prefix(e, "%s: message %ld", r->name, r->nmsg);
    r->rows += n;
    return 1;
}

stream_table *stream_read_all(FILE *f, const char *name, error *e)
{
    stream_reader *r = stream_reader_open(f, name, e);
    if (!r) return NULL;
    stream_table *all = stream_table_new(r->schema), *batch = NULL;
    int got;
    while ((got = stream_reader_next(r, &batch, e)) == 1)
        if (stream_table_append(all, batch, 0, batch->nrows, e)) {
            got = -1;
            break;
        }
    stream_table_free(batch);
    stream_reader_close(r);
    if (got < 0) {
        stream_table_free(all);
        return NULL;
    }
    return all;
}

stream_table *stream_load(const char *path, error *e)
{
    int std = !path || !strcmp(path, "-");
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) return error_set(e, "%s: %s", path, strerror(errno)), NULL;
    stream_table *t = stream_read_all(f, path, e);
    if (!std) fclose(f);
    return t;
}

/* ---- writer ---- */

static int check_write(stream_writer *w, int rc, error *e)
{
    if (rc || ferror(w->f)) return error_set(e, "write error: %s", errno ? strerror(errno) : "output failed");
    return 0;
}

static void pack_text(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    if (n) msgpack_pack_str_body(pk, s, n);
}

static int pack_header(stream_writer *w)
{
    msgpack_packer *pk = &w->pk;
    const stream_schema *s = w->schema;
    msgpack_pack_map(pk, 4);
    pack_text(pk, "format");
    pack_text(pk, STREAM_FORMAT);
    pack_text(pk, "version");
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, STREAM_VERSION_MAJOR);
    msgpack_pack_int(pk, STREAM_VERSION_MINOR);
    pack_text(pk, "tensors");
    msgpack_pack_array(pk, (size_t)s->n);
    for (int i = 0; i < s->n; i++) {
        const stream_field *f = &s->fields[i];
        msgpack_pack_map(pk, 3);
        pack_text(pk, "name");
        pack_text(pk, f->name);
        pack_text(pk, "type");
        pack_text(pk, stream_dtype_numpy(f->dtype));
        pack_text(pk, "shape");
        msgpack_pack_array(pk, (size_t)f->ndim);
        for (int d = 0; d < f->ndim; d++) msgpack_pack_int64(pk, f->dims[d]);
    }
    pack_text(pk, "meta");
    return value_pack(pk, w->meta);
}

stream_writer *stream_writer_open(FILE *f, const stream_schema *s, error *e)
{
    stream_writer *w = calloc(1, sizeof *w);
    if (!w) return error_set(e, "out of memory"), NULL;
    w->f = f;
    /* the writer keeps the fields (to check each batch); the meta only goes into the header */
    stream_schema fields = {.n = s->n, .fields = s->fields, .meta = NULL};
    w->schema = stream_schema_copy(&fields);
    w->meta = s->meta;
    msgpack_packer_init(&w->pk, f, msgpack_fbuffer_write);
    size_t rb = 0;
    for (int i = 0; i < s->n; i++) rb += s->fields[i].width * stream_dtype_size(s->fields[i].dtype);
    w->batch_rows = rb ? WRITE_BATCH_BYTES / rb : 4096;
    if (w->batch_rows < 1) w->batch_rows = 1;
    errno = 0;
    int bad = check_write(w, pack_header(w), e);
    w->meta = NULL;
    if (bad) {
        stream_writer_abort(w);
        return NULL;
    }
    return w;
}

void stream_writer_set_batch_rows(stream_writer *w, size_t rows) { w->batch_rows = rows ? rows : 1; }

static int write_batch(stream_writer *w, const stream_table *t, size_t row0, size_t n, error *e)
{
    msgpack_packer *pk = &w->pk;
    msgpack_pack_map(pk, 2);
    pack_text(pk, "rows");
    msgpack_pack_uint64(pk, n);
    pack_text(pk, "tensors");
    msgpack_pack_map(pk, (size_t)w->schema->n);
    int rc = 0;
    for (int i = 0; i < w->schema->n; i++) {
        const stream_field *f = &w->schema->fields[i];
        int64_t shape[STREAM_MAX_DIMS + 1] = {(int64_t)n};
        memcpy(shape + 1, f->dims, (size_t)f->ndim * sizeof *shape);
        pack_text(pk, f->name);
        size_t rb = f->width * stream_dtype_size(f->dtype);
        rc |= stream_pack_ndarray(pk, f->dtype, f->ndim + 1, shape, (const char *)t->cols[i] + row0 * rb);
    }
    w->rows += n;
    return check_write(w, rc, e);
}

int stream_writer_write(stream_writer *w, const stream_table *t, size_t row0, size_t n, error *e)
{
    if (!stream_schema_same_fields(w->schema, t->schema)) return error_set(e, "rows do not match the stream's tensors");
    if (row0 + n > t->nrows) return error_set(e, "rows %zu..%zu out of range", row0, row0 + n);
    errno = 0;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < w->batch_rows ? n - done : w->batch_rows;
        if (write_batch(w, t, row0 + done, k, e)) return -1;
        done += k;
    }
    return 0;
}

int stream_writer_finish(stream_writer *w, error *e)
{
    msgpack_packer *pk = &w->pk;
    errno = 0;
    msgpack_pack_map(pk, 2);
    pack_text(pk, "end");
    msgpack_pack_true(pk);
    pack_text(pk, "rows");
    msgpack_pack_uint64(pk, w->rows);
    int rc = check_write(w, fflush(w->f), e);
    stream_writer_abort(w);
    return rc;
}

void stream_writer_abort(stream_writer *w)
{
    if (!w) return;
    stream_schema_free(w->schema);
    free(w);
}

int stream_write_all(FILE *f, const stream_table *t, error *e)
{
    stream_writer *w = stream_writer_open(f, t->schema, e);
    if (!w) return -1;
    if (stream_writer_write(w, t, 0, t->nrows, e)) {
        stream_writer_abort(w);
        return -1;
    }
    return stream_writer_finish(w, e);
}
