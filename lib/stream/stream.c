#include "stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- element types ---- */

static const struct {
    const char *numpy, *name;
    size_t size;
} DTYPES[] = {
    [STREAM_F32] = {"<f4", "f32", 4}, [STREAM_F64] = {"<f8", "f64", 8}, [STREAM_I32] = {"<i4", "i32", 4},
    [STREAM_I64] = {"<i8", "i64", 8}, [STREAM_U8] = {"|u1", "u8", 1},
};
#define NDTYPES (sizeof DTYPES / sizeof DTYPES[0])

size_t stream_dtype_size(stream_dtype t) { return DTYPES[t].size; }
const char *stream_dtype_numpy(stream_dtype t) { return DTYPES[t].numpy; }
const char *stream_dtype_name(stream_dtype t) { return DTYPES[t].name; }

int stream_dtype_parse(const char *s, stream_dtype *out)
{
    for (size_t i = 0; i < NDTYPES; i++) {
        /* numpy writes "<u1" or "|u1" for bytes, and "=" for native order on little-endian machines */
        const char *n = DTYPES[i].numpy;
        if (strcmp(s, n) == 0 || strcmp(s, DTYPES[i].name) == 0 ||
            ((s[0] == '<' || s[0] == '|' || s[0] == '=') && strcmp(s + 1, n + 1) == 0)) {
            *out = (stream_dtype)i;
            return 0;
        }
    }
    return -1;
}

/* ---- schema ---- */

stream_schema *stream_schema_new(void)
{
    stream_schema *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->meta = value_map();
    return s;
}

stream_schema *stream_schema_copy(const stream_schema *s)
{
    stream_schema *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n = s->n;
    c->fields = malloc((size_t)(s->n ? s->n : 1) * sizeof *c->fields);
    if (s->n) memcpy(c->fields, s->fields, (size_t)s->n * sizeof *c->fields);
    c->meta = value_copy(s->meta);
    return c;
}

void stream_schema_free(stream_schema *s)
{
    if (!s) return;
    free(s->fields);
    value_free(s->meta);
    free(s);
}

int stream_schema_find(const stream_schema *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->fields[i].name, name) == 0) return i;
    return -1;
}

int stream_schema_add(stream_schema *s, const char *name, stream_dtype t, int ndim, const int64_t *dims, error *e)
{
    if (!*name || strlen(name) >= STREAM_NAME_MAX) return error_set(e, "bad tensor name '%s'", name);
    if (stream_schema_find(s, name) >= 0) return error_set(e, "tensor '%s' appears twice", name);
    if (ndim < 0 || ndim > STREAM_MAX_DIMS) return error_set(e, "tensor '%s': %d dimensions (at most %d)", name, ndim, STREAM_MAX_DIMS);
    stream_field f = {0};
    strcpy(f.name, name);
    f.dtype = t;
    f.ndim = ndim;
    f.width = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 1 || dims[d] > STREAM_MAX_WIDTH) return error_set(e, "tensor '%s': bad dimension %lld", name, (long long)dims[d]);
        if (f.width > STREAM_MAX_WIDTH / (size_t)dims[d])
            return error_set(e, "tensor '%s': more than %d values per row", name, STREAM_MAX_WIDTH);
        f.dims[d] = dims[d];
        f.width *= (size_t)dims[d];
    }
    stream_field *nf = realloc(s->fields, (size_t)(s->n + 1) * sizeof *nf);
    if (!nf) return error_set(e, "out of memory");
    s->fields = nf;
    s->fields[s->n] = f;
    return s->n++;
}

/* ---- tables ---- */

static size_t row_bytes(const stream_field *f) { return f->width * stream_dtype_size(f->dtype); }

/* malloc(0) may return NULL: ask for at least one byte */
static size_t at_least_1(size_t n) { return n ? n : 1; }

stream_table *stream_table_new(const stream_schema *s)
{
    stream_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->schema = stream_schema_copy(s);
    t->cols = calloc((size_t)(s->n ? s->n : 1), sizeof *t->cols);
    /* every column exists from the start, so a table of no rows still has its tensors */
    int ok = t->schema && t->cols;
    for (int i = 0; ok && i < s->n; i++) ok = (t->cols[i] = calloc(1, 1)) != NULL;
    if (!ok) {
        if (t->schema && t->cols) stream_table_free(t);
        else free(t->cols), stream_schema_free(t->schema), free(t);
        return NULL;
    }
    return t;
}

void stream_table_free(stream_table *t)
{
    if (!t) return;
    for (int i = 0; i < t->schema->n; i++) free(t->cols[i]);
    free(t->cols);
    stream_schema_free(t->schema);
    free(t);
}

int stream_table_reserve(stream_table *t, size_t rows, error *e)
{
    if (rows <= t->cap) return 0;
    /* appended rows: doubling; a table sized at once (a batch, a whole file): just what it holds */
    size_t cap = t->cap ? t->cap : 64;
    while (cap < rows) cap *= 2;
    if (rows > 2 * t->cap) cap = rows;
    for (int i = 0; i < t->schema->n; i++) {
        size_t rb = row_bytes(&t->schema->fields[i]);
        void *p = realloc(t->cols[i], at_least_1(cap * rb));
        if (!p) return error_set(e, "out of memory for %zu rows", rows);
        t->cols[i] = p;
    }
    t->cap = cap;
    return 0;
}

int stream_table_resize(stream_table *t, size_t rows, error *e)
{
    if (stream_table_reserve(t, rows, e)) return -1;
    for (int i = 0; rows > t->nrows && i < t->schema->n; i++) {
        size_t rb = row_bytes(&t->schema->fields[i]);
        memset((char *)t->cols[i] + t->nrows * rb, 0, (rows - t->nrows) * rb);
    }
    t->nrows = rows;
    return 0;
}

int stream_schema_same_fields(const stream_schema *a, const stream_schema *b)
{
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const stream_field *x = &a->fields[i], *y = &b->fields[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->width != y->width) return 0;
    }
    return 1;
}

int stream_table_append(stream_table *t, const stream_table *src, size_t row0, size_t n, error *e)
{
    if (!stream_schema_same_fields(t->schema, src->schema)) return error_set(e, "cannot append rows of a different schema");
    if (stream_table_reserve(t, t->nrows + n, e)) return -1;
    for (int i = 0; i < t->schema->n; i++) {
        size_t rb = row_bytes(&t->schema->fields[i]);
        memcpy((char *)t->cols[i] + t->nrows * rb, (const char *)src->cols[i] + row0 * rb, n * rb);
    }
    t->nrows += n;
    return 0;
}

int stream_table_add_col(stream_table *t, const char *name, stream_dtype dt, int ndim, const int64_t *dims, error *e)
{
    int i = stream_schema_add(t->schema, name, dt, ndim, dims, e);
    if (i < 0) return -1;
    void **cols = realloc(t->cols, (size_t)t->schema->n * sizeof *cols);
    size_t bytes = (t->cap ? t->cap : 1) * row_bytes(&t->schema->fields[i]);
    void *col = calloc(at_least_1(bytes), 1);
    if (!cols || !col) {
        free(col);
        if (cols) t->cols = cols;
        t->schema->n--;
        return error_set(e, "out of memory");
    }
    t->cols = cols;
    t->cols[i] = col;
    return i;
}

void stream_table_drop_col(stream_table *t, const char *name)
{
    int i = stream_schema_find(t->schema, name);
    if (i < 0) return;
    free(t->cols[i]);
    stream_schema *s = t->schema;
    for (int j = i + 1; j < s->n; j++) {
        s->fields[j - 1] = s->fields[j];
        t->cols[j - 1] = t->cols[j];
    }
    s->n--;
}

void *stream_table_col(const stream_table *t, const char *name)
{
    int i = stream_schema_find(t->schema, name);
    return i < 0 ? NULL : t->cols[i];
}

void *stream_table_col_typed(const stream_table *t, const char *name, stream_dtype dt, error *e)
{
    int i = stream_schema_find(t->schema, name);
    if (i < 0) {
        error_set(e, "stream has no tensor '%s'", name);
        return NULL;
    }
    if (t->schema->fields[i].dtype != dt) {
        error_set(e, "tensor '%s' is %s, expected %s", name, stream_dtype_name(t->schema->fields[i].dtype),
                  stream_dtype_name(dt));
        return NULL;
    }
    return t->cols[i];
}

int stream_x_width(const stream_schema *s, error *e)
{
    int ix = stream_schema_find(s, "x");
    if (ix < 0) return error_set(e, "stream has no tensor 'x' (features)");
    if (s->fields[ix].dtype != STREAM_F32)
        return error_set(e, "tensor 'x' is %s, expected f32", stream_dtype_name(s->fields[ix].dtype));
    return (int)s->fields[ix].width;
}

int stream_table_labels(const stream_table *t, const int32_t **y, error *e)
{
    int iy = stream_schema_find(t->schema, "y");
    *y = NULL;
    if (iy < 0) return 0;
    if (!(*y = stream_table_col_typed(t, "y", STREAM_I32, e))) return -1;
    if (t->schema->fields[iy].width != 1) return error_set(e, "tensor 'y' has several values per row");
    return 0;
}

int stream_check_sd(const stream_table *t, const char *name, int D, size_t row0, error *e)
{
    int i = stream_schema_find(t->schema, name);
    if (i < 0) return 0;
    const float *sd = stream_table_col_typed(t, name, STREAM_F32, e);
    if (!sd) return -1;
    if (t->schema->fields[i].width != (size_t)D)
        return error_set(e, "%s has %zu values per row, x has %d", name, t->schema->fields[i].width, D);
    for (size_t k = 0; k < t->nrows * (size_t)D; k++)
        if (!(sd[k] >= 0) || !isfinite(sd[k]))
            return error_set(e, "row %zu: %s must be finite and >= 0", row0 + k / (size_t)D + 1, name);
    return 0;
}

int stream_table_select(stream_table *t, const int *idx, size_t n, error *e)
{
    for (size_t r = 0; r < n; r++)
        if (idx[r] < 0 || (size_t)idx[r] >= t->nrows) return error_set(e, "row index %d out of range", idx[r]);
    for (int i = 0; i < t->schema->n; i++) {
        size_t rb = row_bytes(&t->schema->fields[i]);
        char *col = malloc(at_least_1(n * rb));
        if (!col) return error_set(e, "out of memory");
        for (size_t r = 0; r < n; r++) memcpy(col + r * rb, (char *)t->cols[i] + (size_t)idx[r] * rb, rb);
        free(t->cols[i]);
        t->cols[i] = col;
    }
    t->nrows = t->cap = n;
    return 0;
}

/* ---- msgpack helpers ---- */

static int key_is(const msgpack_object *k, const char *key)
{
    size_t n = strlen(key);
    if (k->type == MSGPACK_OBJECT_STR) return k->via.str.size == n && memcmp(k->via.str.ptr, key, n) == 0;
    if (k->type == MSGPACK_OBJECT_BIN) return k->via.bin.size == n && memcmp(k->via.bin.ptr, key, n) == 0;
    return 0;
}

const msgpack_object *stream_msgpack_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (key_is(&o->via.map.ptr[i].key, key)) return &o->via.map.ptr[i].val;
    return NULL;
}

/* str or bin contents into buf (NUL-terminated); -1 if o is neither or too long */
static int get_text(const msgpack_object *o, char *buf, size_t size)
{
    if (!o || (o->type != MSGPACK_OBJECT_STR && o->type != MSGPACK_OBJECT_BIN)) return -1;
    size_t n = o->via.str.size;
    if (n >= size) return -1;
    memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    return 0;
}

static int get_uint(const msgpack_object *o, uint64_t *out)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return -1;
    *out = o->via.u64;
    return 0;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || (n && msgpack_pack_str_body(pk, s, n));
}

static int pack_bkey(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_bin(pk, n) || msgpack_pack_bin_body(pk, s, n);
}

/* ---- msgpack-numpy arrays ----
 * (Bodies of length 0 are never packed: msgpack_fbuffer_write reports fwrite's 0 items as an error.) */

int stream_pack_ndarray(msgpack_packer *pk, stream_dtype t, int ndim, const int64_t *shape, const void *data)
{
    size_t count = 1;
    int rc = msgpack_pack_map(pk, 5);
    rc |= pack_bkey(pk, "nd") || msgpack_pack_true(pk);
    rc |= pack_bkey(pk, "type") || pack_cstr(pk, stream_dtype_numpy(t));
    rc |= pack_bkey(pk, "kind") || msgpack_pack_bin(pk, 0);
    rc |= pack_bkey(pk, "shape") || msgpack_pack_array(pk, (size_t)ndim);
    for (int d = 0; d < ndim; d++) {
        rc |= msgpack_pack_int64(pk, shape[d]);
        count *= (size_t)shape[d];
    }
    size_t bytes = count * stream_dtype_size(t);
    rc |= pack_bkey(pk, "data") || msgpack_pack_bin(pk, bytes) || (bytes && msgpack_pack_bin_body(pk, data, bytes));
    return rc ? -1 : 0;
}

int stream_parse_ndarray(const msgpack_object *o, stream_ndarray *out, error *e)
{
    const msgpack_object *nd = stream_msgpack_get(o, "nd");
    if (!nd || nd->type != MSGPACK_OBJECT_BOOLEAN || !nd->via.boolean)
        return error_set(e, "not an array (expected a msgpack-numpy map with nd: true)");
    char type[16];
    if (get_text(stream_msgpack_get(o, "type"), type, sizeof type) || stream_dtype_parse(type, &out->dtype))
        return error_set(e, "array has an unsupported element type");
    const msgpack_object *shape = stream_msgpack_get(o, "shape");
    if (!shape || shape->type != MSGPACK_OBJECT_ARRAY || shape->via.array.size > STREAM_MAX_DIMS + 1)
        return error_set(e, "array has a bad shape");
    out->ndim = (int)shape->via.array.size;
    size_t count = 1;
    for (int d = 0; d < out->ndim; d++) {
        uint64_t v;
        if (get_uint(&shape->via.array.ptr[d], &v) || v > (1u << 31)) return error_set(e, "array has a bad shape");
        out->shape[d] = (int64_t)v;
        if (v && count > SIZE_MAX / 16 / v) return error_set(e, "array is too large");
        count *= v;
    }
    const msgpack_object *data = stream_msgpack_get(o, "data");
    if (!data || (data->type != MSGPACK_OBJECT_BIN && data->type != MSGPACK_OBJECT_STR))
        return error_set(e, "array has no binary data");
    out->data = data->via.bin.ptr;
    out->nbytes = data->via.bin.size;
    if (out->nbytes != count * stream_dtype_size(out->dtype))
        return error_set(e, "array data has %zu bytes, its shape and type need %zu", out->nbytes,
                         count * stream_dtype_size(out->dtype));
    return 0;
}

/* ---- meta helpers ---- */

int stream_meta_num_classes(const stream_schema *s)
{
    const value *c = value_get(s->meta, STREAM_META_CLASSES);
    return c && c->kind == VALUE_ARRAY ? (int)c->n : 0;
}

int stream_classes_k(int named, int given, int maxy, error *e)
{
    if (named && given && named != given) return error_set(e, "the stream names %d classes, --classes says %d", named, given);
    if (named || given) return named ? named : given;
    if (maxy >= STREAM_MAX_CLASSES)
        return error_set(e, "label %d: more than %d classes need their class_names in the stream", maxy, STREAM_MAX_CLASSES);
    return maxy + 1 < 2 ? 2 : maxy + 1;
}

int stream_class_count(const stream_schema *s, const int32_t *y, size_t n, int given, size_t row0, error *e)
{
    int named = stream_meta_num_classes(s);
    if (named && given && named != given) return error_set(e, "the stream names %d classes, --classes says %d", named, given);
    int K = named ? named : given;
    int32_t mx = -1;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < -1) return error_set(e, "row %zu: label %d is neither a class nor -1 (unlabelled)", row0 + i + 1, (int)y[i]);
        if ((K && y[i] >= K) || (!K && y[i] >= STREAM_MAX_CLASSES))
            return error_set(e, "row %zu: label %d is not one of the %d classes%s", row0 + i + 1, (int)y[i],
                             K ? K : STREAM_MAX_CLASSES, K ? "" : " a stream may number without class_names");
        mx = y[i] > mx ? y[i] : mx;
    }
    return K ? K : mx + 1 < 2 ? 2 : mx + 1;
}

void stream_meta_add_history(stream_schema *s, const char *line)
{
    value *h = value_get(s->meta, STREAM_META_HISTORY);
    if (!h || h->kind != VALUE_ARRAY) {
        h = value_array();
        value_set(s->meta, STREAM_META_HISTORY, h);
    }
    value_push(h, value_str(line));
}
