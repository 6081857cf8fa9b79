#include "dataset.h"

#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
    if (!path || strcmp(path, "-") == 0) return "stdin";
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Schema x (f32, xdims), y (i32), id (i64) with meta scaling "none" and the source. */
static stream_schema *base_schema(int xndim, const int64_t *xdims, const char *path, error *e)
{
    stream_schema *s = stream_schema_new();
    if (!s) return error_set(e, "out of memory"), NULL;
    if (stream_schema_add(s, "x", STREAM_F32, xndim, xdims, e) < 0 || stream_schema_add(s, "y", STREAM_I32, 0, NULL, e) < 0 ||
        stream_schema_add(s, "id", STREAM_I64, 0, NULL, e) < 0) {
        stream_schema_free(s);
        return NULL;
    }
    value_set(s->meta, STREAM_META_SCALING, value_str("none"));
    value_set(s->meta, DATASET_META_SOURCE, value_str(base_name(path)));
    return s;
}

void dataset_set_range(stream_schema *s, float lo, float hi)
{
    value *r = value_array();
    value_push(r, value_float(lo));
    value_push(r, value_float(hi));
    value_set(s->meta, STREAM_META_RANGE, r);
}

static void range_of(const float *x, size_t n, float *lo, float *hi)
{
    *lo = n ? x[0] : 0;
    *hi = n ? x[0] : 0;
    for (size_t i = 1; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

/* After rows were dropped: the meta x_range, when present, becomes the range of the rows left. */
static void refresh_range(stream_table *t)
{
    int i = stream_schema_find(t->schema, "x");
    if (!value_get(t->schema->meta, STREAM_META_RANGE) || i < 0 || t->schema->fields[i].dtype != STREAM_F32) return;
    if (t->nrows == 0) {
        value_remove(t->schema->meta, STREAM_META_RANGE);
        return;
    }
    float lo, hi;
    range_of(t->cols[i], t->nrows * t->schema->fields[i].width, &lo, &hi);
    dataset_set_range(t->schema, lo, hi);
}

stream_table *dataset_from_tabular(const tabular *t, const char *path, error *e)
{
    int64_t d = (int64_t)t->d;
    stream_schema *s = base_schema(1, &d, path, e);
    if (!s) return NULL;
    /* c1, c2, ... would cost memory per column and say nothing a column's index does not */
    if (t->named) value_set(s->meta, STREAM_META_FEATURES, value_str_array((const char *const *)t->feature_names, t->d));
    if (t->has_labels)
        value_set(s->meta, STREAM_META_CLASSES, value_str_array((const char *const *)t->class_names, (size_t)t->k));
    float lo, hi;
    range_of(t->x, t->n * t->d, &lo, &hi);
    dataset_set_range(s, lo, hi);
    stream_table *tab = stream_table_new(s);
    stream_schema_free(s);
    if (!tab || stream_table_resize(tab, t->n, e)) {
        stream_table_free(tab);
        return error_set(e, "out of memory"), NULL;
    }
    memcpy(tab->cols[0], t->x, t->n * t->d * sizeof(float));
    memcpy(tab->cols[1], t->y, t->n * sizeof(int32_t));
    int64_t *id = tab->cols[2];
    for (size_t i = 0; i < t->n; i++) id[i] = (int64_t)i;
    return tab;
}

/* Class names from a comma-separated list, or "0".."k-1". */
static value *class_list(const char *names, int k)
{
    value *v = value_array();
    if (names) {
        const char *p = names;
        for (;;) {
            const char *comma = strchr(p, ',');
            value_push(v, value_strn(p, comma ? (size_t)(comma - p) : strlen(p)));
            if (!comma) break;
            p = comma + 1;
        }
        return v;
    }
    for (int i = 0; i < k; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        value_push(v, value_str(buf));
    }
    return v;
}

stream_schema *dataset_idx_schema(const idx_array *img, const idx_array *lab, size_t rows, const char *class_names,
                                  const char *path, error *e)
{
    if (img->ndim < 2) return error_set(e, "%s: not an image file: %d dimension", base_name(path), img->ndim), NULL;
    if (lab && lab->ndim != 1) return error_set(e, "not a label file: %d dimensions", lab->ndim), NULL;
    if (lab && lab->count != img->count)
        return error_set(e, "%zu images but %zu labels", img->count, lab->count), NULL;
    int64_t width = (int64_t)img->item;
    stream_schema *s = base_schema(1, &width, path, e);
    if (!s) return NULL;
    value *shape = value_array();
    for (int i = 1; i < img->ndim; i++) value_push(shape, value_int(img->dims[i]));
    value_set(s->meta, DATASET_META_IMAGE_SHAPE, shape);
    if (lab) {
        int k = 0;
        for (size_t i = 0; i < rows; i++)
            if (lab->data[i] + 1 > k) k = lab->data[i] + 1;
        value *names = class_list(class_names, k);
        if (names->n < (size_t)k) {
            error_set(e, "--class-names gives %zu names, the labels go up to %d", names->n, k - 1);
            value_free(names);
            stream_schema_free(s);
            return NULL;
        }
        value_set(s->meta, STREAM_META_CLASSES, names);
    }
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < rows * img->item; i++) {
        if (img->data[i] < lo) lo = img->data[i];
        if (img->data[i] > hi) hi = img->data[i];
    }
    if (rows) dataset_set_range(s, lo / 255.0f, hi / 255.0f);
    return s;
}

int dataset_idx_fill(stream_table *b, const idx_array *img, const idx_array *lab, size_t row0, size_t n, error *e)
{
    if (stream_table_resize(b, n, e)) return -1;
    float *x = b->cols[0];
    int32_t *y = b->cols[1];
    int64_t *id = b->cols[2];
    const uint8_t *px = img->data + row0 * img->item;
    for (size_t i = 0; i < n * img->item; i++) x[i] = px[i] / 255.0f;
    for (size_t i = 0; i < n; i++) {
        y[i] = lab ? lab->data[row0 + i] : -1;
        id[i] = (int64_t)(row0 + i);
    }
    return 0;
}

long dataset_x_width(const stream_schema *s, const char *name, error *e)
{
    int i = stream_schema_find(s, "x");
    if (i < 0) return error_set(e, "%s: the stream has no tensor x", name);
    if (s->fields[i].dtype != STREAM_F32)
        return error_set(e, "%s: tensor x is %s, expected f32", name, stream_dtype_name(s->fields[i].dtype));
    return (long)s->fields[i].width;
}

model_file *dataset_scaler_model(const prep_scaler *sc, const stream_schema *s, error *e)
{
    model_file *m = model_file_new(DATASET_SCALER_KIND);
    if (!m) return error_set(e, "out of memory"), NULL;
    value_set(m->info, "method", value_str(prep_scale_name(sc->method)));
    value_set(m->info, "features", value_int((int64_t)sc->d));
    const value *names = value_get(s->meta, STREAM_META_FEATURES);
    if (names) value_set(m->info, STREAM_META_FEATURES, value_copy(names));
    int64_t d = (int64_t)sc->d;
    if (model_file_add(m, "shift", 1, &d, sc->shift, e) || model_file_add(m, "scale", 1, &d, sc->scale, e)) {
        model_file_free(m);
        return NULL;
    }
    return m;
}

int dataset_scaler_load(const model_file *m, const char *name, size_t d, prep_scaler *sc, error *e)
{
    prep_scale_method method;
    if (prep_scale_parse(value_get_str(m->info, "method", ""), &method))
        return error_set(e, "%s: unknown scaling method '%s'", name, value_get_str(m->info, "method", ""));
    const model_param *shift = model_file_param(m, "shift", e), *scale = shift ? model_file_param(m, "scale", e) : NULL;
    if (!shift || !scale) return error_prefix(e, "%s", name);
    if (shift->size != scale->size) return error_set(e, "%s: shift and scale differ in size", name);
    if (shift->size != d) return error_set(e, "the stream has %zu features, scaler %s has %zu", d, name, shift->size);
    for (size_t j = 0; j < d; j++)
        if (!(scale->data[j] > 0)) return error_set(e, "%s: scale of feature %zu is not positive", name, j + 1);
    return prep_scaler_init(sc, method, d, shift->data, scale->data, e);
}

/* Appends to dst the rows i of src with flag[i] == want, run by run. */
static int append_flagged(stream_table *dst, const stream_table *src, const uint8_t *flag, int want, error *e)
{
    size_t i = 0, n = src->nrows;
    while (i < n) {
        if (flag[i] != want) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && flag[j] == want) j++;
        if (stream_table_append(dst, src, i, j - i, e)) return -1;
        i = j;
    }
    return 0;
}

static stream_table *part(const stream_table *t, const uint8_t *flag, int want, const char *label, error *e)
{
    stream_table *p = stream_table_new(t->schema);
    if (!p) return error_set(e, "out of memory"), NULL;
    value_set(p->schema->meta, DATASET_META_SPLIT, value_str(label));
    if (append_flagged(p, t, flag, want, e)) {
        stream_table_free(p);
        return NULL;
    }
    refresh_range(p);
    return p;
}

int dataset_split(const stream_table *t, double test, uint64_t seed, stream_table **train, stream_table **test_out,
                  error *e)
{
    *train = *test_out = NULL;
    const int32_t *y = stream_table_col_typed(t, "y", STREAM_I32, e);
    if (!y || stream_class_count(t->schema, y, t->nrows, 0, 0, e) < 0) return -1;
    uint8_t *is_test = malloc(t->nrows ? t->nrows : 1);
    if (!is_test) return error_set(e, "out of memory");
    rng r;
    rng_seed(&r, seed);
    int rc = prep_split(y, t->nrows, test, &r, is_test, e);
    if (!rc && (!(*train = part(t, is_test, 0, "train", e)) || !(*test_out = part(t, is_test, 1, "test", e)))) rc = -1;
    free(is_test);
    if (rc) {
        stream_table_free(*train);
        *train = NULL;
    }
    return rc;
}

/* Keeps the rows with y >= 0. */
static int drop_unlabelled(stream_table *t, const int32_t *y, error *e)
{
    int *idx = malloc((t->nrows ? t->nrows : 1) * sizeof *idx);
    if (!idx) return error_set(e, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < t->nrows; i++)
        if (y[i] >= 0) idx[n++] = (int)i;
    int rc = stream_table_select(t, idx, n, e);
    free(idx);
    return rc;
}

/* class_names of the meta as a char* array (pointing into the meta), or NULL. */
static char **class_names(const stream_schema *s, int k)
{
    const value *v = value_get(s->meta, STREAM_META_CLASSES);
    if (!v || v->kind != VALUE_ARRAY || k <= 0) return NULL;
    char **names = calloc((size_t)k, sizeof *names);
    for (int i = 0; names && i < k; i++) names[i] = v->items[i]->kind == VALUE_STR ? v->items[i]->s : "?";
    return names;
}

long dataset_mask(stream_table *t, dataset_mask_mode mode, double amount, uint64_t seed, int drop, error *e)
{
    int32_t *y = stream_table_col_typed(t, "y", STREAM_I32, e);
    if (!y) return -1;
    int k = stream_class_count(t->schema, y, t->nrows, 0, 0, e);
    if (k < 0) return -1;
    rng r;
    rng_seed(&r, seed);
    long kept = 0;
    if (mode == DATASET_MASK_PER_CLASS) {
        char **names = class_names(t->schema, k);
        kept = prep_mask_per_class(y, t->nrows, k, (long)amount, &r, names, e);
        free(names);
    } else if (mode == DATASET_MASK_COUNT) {
        kept = prep_mask_count(y, t->nrows, k, (long)amount, &r, e);
    } else if (mode == DATASET_MASK_FRACTION) {
        kept = prep_mask_fraction(y, t->nrows, k, amount, &r, e);
    } else {
        for (size_t i = 0; i < t->nrows; i++) kept += y[i] >= 0;
    }
    if (kept < 0) return -1;
    if (drop) {
        if (drop_unlabelled(t, y, e)) return -1;
        refresh_range(t);
    }
    value_set(t->schema->meta, DATASET_META_LABELS_KEPT, value_int(kept));
    return kept;
}
