#include "inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHORT_ARRAY 8 /* meta arrays longer than this are shortened in the text view */

struct inspect {
    stream_schema *schema;   /* owned copy */
    size_t rows;
    /* x: one entry per column */
    int xi;                  /* index of x in the schema, -1 if none */
    size_t ncols;
    double *min, *max, *sum;
    size_t *n;               /* finite values per column */
    size_t nonfinite;
    /* y */
    int yi;                  /* index of y (an integer scalar per row), -1 if none */
    size_t *counts, ncounts; /* counts[k] for labels 0..ncounts-1 */
    size_t unlabelled, invalid;
    /* the first rows */
    size_t head;
    stream_table *first;
};

/* Element i of a column of type t, as a double. */
static double elem(const void *col, stream_dtype t, size_t i)
{
    switch (t) {
    case STREAM_F32: return ((const float *)col)[i];
    case STREAM_F64: return ((const double *)col)[i];
    case STREAM_I32: return ((const int32_t *)col)[i];
    case STREAM_I64: return (double)((const int64_t *)col)[i];
    case STREAM_U8: return ((const uint8_t *)col)[i];
    }
    return NAN;
}

static int is_int_type(stream_dtype t) { return t == STREAM_I32 || t == STREAM_I64 || t == STREAM_U8; }

inspect *inspect_new(const stream_schema *s, size_t head, error *e)
{
    inspect *in = calloc(1, sizeof *in);
    if (!in || !(in->schema = stream_schema_copy(s)) || !(in->first = stream_table_new(s))) {
        inspect_free(in);
        return error_set(e, "out of memory"), NULL;
    }
    in->head = head;
    in->xi = stream_schema_find(s, "x");
    if (in->xi >= 0) in->ncols = s->fields[in->xi].width;   /* their statistics wait for the first row */
    in->yi = stream_schema_find(s, "y");
    if (in->yi >= 0 && (s->fields[in->yi].width != 1 || !is_int_type(s->fields[in->yi].dtype))) in->yi = -1;
    return in;
}

void inspect_free(inspect *in)
{
    if (!in) return;
    stream_schema_free(in->schema);
    stream_table_free(in->first);
    free(in->min);
    free(in->max);
    free(in->sum);
    free(in->n);
    free(in->counts);
    free(in);
}

/* The per-column statistics, allocated when the first row arrives (so a header alone, however wide
 * it claims x is, costs nothing). */
static int column_stats(inspect *in, error *e)
{
    if (in->n) return 0;
    in->min = malloc(in->ncols * sizeof *in->min);
    in->max = malloc(in->ncols * sizeof *in->max);
    in->sum = calloc(in->ncols, sizeof *in->sum);
    in->n = calloc(in->ncols, sizeof *in->n);
    if (!in->min || !in->max || !in->sum || !in->n) return error_set(e, "out of memory for %zu feature columns", in->ncols);
    for (size_t j = 0; j < in->ncols; j++) in->min[j] = INFINITY, in->max[j] = -INFINITY;
    return 0;
}

static void add_features(inspect *in, const stream_table *b)
{
    const void *col = b->cols[in->xi];
    stream_dtype t = in->schema->fields[in->xi].dtype;
    for (size_t r = 0; r < b->nrows; r++)
        for (size_t j = 0; j < in->ncols; j++) {
            double v = elem(col, t, r * in->ncols + j);
            if (!isfinite(v)) {
                in->nonfinite++;
                continue;
            }
            if (v < in->min[j]) in->min[j] = v;
            if (v > in->max[j]) in->max[j] = v;
            in->sum[j] += v;
            in->n[j]++;
        }
}

static int count_label(inspect *in, double y)
{
    if (y == -1) return in->unlabelled++, 0;
    if (y < 0 || y > INSPECT_MAX_LABEL) return in->invalid++, 0;
    size_t k = (size_t)y;
    if (k >= in->ncounts) {
        size_t n = k + 1 > 2 * in->ncounts ? k + 1 : 2 * in->ncounts;
        size_t *c = realloc(in->counts, n * sizeof *c);
        if (!c) return -1;
        memset(c + in->ncounts, 0, (n - in->ncounts) * sizeof *c);
        in->counts = c;
        in->ncounts = n;
    }
    in->counts[k]++;
    return 0;
}

int inspect_add(inspect *in, const stream_table *b, error *e)
{
    if (in->xi >= 0 && b->nrows) {
        if (column_stats(in, e) < 0) return -1;
        add_features(in, b);
    }
    if (in->yi >= 0)
        for (size_t r = 0; r < b->nrows; r++)
            if (count_label(in, elem(b->cols[in->yi], in->schema->fields[in->yi].dtype, r)))
                return error_set(e, "out of memory counting classes");
    size_t want = in->head - in->first->nrows;
    if (want > b->nrows) want = b->nrows;
    if (want && stream_table_append(in->first, b, 0, want, e)) return -1;
    in->rows += b->nrows;
    return 0;
}

/* ---- header ---- */

static value *field_value(const stream_field *f)
{
    value *v = value_map(), *shape = value_array();
    value_set(v, "name", value_str(f->name));
    value_set(v, "type", value_str(stream_dtype_name(f->dtype)));
    for (int d = 0; d < f->ndim; d++) value_push(shape, value_int(f->dims[d]));
    value_set(v, "shape", shape);
    return v;
}

value *inspect_header_value(const stream_schema *s)
{
    value *v = value_map(), *tensors = value_array();
    value_set(v, "format", value_str(STREAM_FORMAT));
    value_set(v, "version", value_int(STREAM_VERSION_MAJOR));
    for (int i = 0; i < s->n; i++) value_push(tensors, field_value(&s->fields[i]));
    value_set(v, "tensors", tensors);
    value_set(v, "meta", value_copy(s->meta));
    return v;
}

/* A copy of v whose arrays longer than SHORT_ARRAY keep their first items and a note. */
static value *shortened(const value *v)
{
    if (v->kind != VALUE_ARRAY && v->kind != VALUE_MAP) return value_copy(v);
    value *c = v->kind == VALUE_MAP ? value_map() : value_array();
    for (size_t i = 0; i < v->n; i++) {
        if (v->kind == VALUE_MAP) {
            value_set(c, v->keys[i], shortened(v->items[i]));
            continue;
        }
        if (i == SHORT_ARRAY) {
            char note[64];
            snprintf(note, sizeof note, "... %zu more (--all shows them)", v->n - SHORT_ARRAY);
            value_push(c, value_str(note));
            break;
        }
        value_push(c, shortened(v->items[i]));
    }
    return c;
}

static void print_shape(FILE *f, const stream_field *fd)
{
    if (!fd->ndim) {
        fprintf(f, "scalar");
        return;
    }
    fputc('(', f);
    for (int d = 0; d < fd->ndim; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)fd->dims[d]);
    fputc(')', f);
}

/* s for a terminal: control characters (escape sequences among them) shown as '?'; into buf (n). */
static const char *printable(const char *s, char *buf, size_t n)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

void inspect_print_header(FILE *f, const stream_schema *s, int all)
{
    fprintf(f, "format    %s version %d\n", STREAM_FORMAT, STREAM_VERSION_MAJOR);
    int w = 1;
    for (int i = 0; i < s->n; i++)
        if ((int)strlen(s->fields[i].name) > w) w = (int)strlen(s->fields[i].name);
    for (int i = 0; i < s->n; i++) {
        char tn[STREAM_NAME_MAX];
        fprintf(f, "%-10s%-*s  %-3s  ", i ? "" : "tensors", w, printable(s->fields[i].name, tn, sizeof tn),
                stream_dtype_name(s->fields[i].dtype));
        print_shape(f, &s->fields[i]);
        fputc('\n', f);
    }
    if (!s->n) fprintf(f, "tensors   (none)\n");
    value *meta = all ? value_copy(s->meta) : shortened(s->meta);
    fprintf(f, "meta      ");
    value_print_json(f, meta, meta->n ? 2 : -1);
    fputc('\n', f);
    value_free(meta);
}

/* ---- body ---- */

static const char *class_name(const inspect *in, size_t k)
{
    const value *names = value_get(in->schema->meta, STREAM_META_CLASSES);
    if (names && names->kind == VALUE_ARRAY && k < names->n && names->items[k]->kind == VALUE_STR)
        return names->items[k]->s;
    return NULL;
}

static const char *feature_name(const inspect *in, size_t j)
{
    const value *names = value_get(in->schema->meta, STREAM_META_FEATURES);
    if (names && names->kind == VALUE_ARRAY && j < names->n && names->items[j]->kind == VALUE_STR)
        return names->items[j]->s;
    return NULL;
}

/* Number of classes to list: the declared ones, or up to the largest label seen. */
static size_t nclasses(const inspect *in)
{
    size_t k = (size_t)stream_meta_num_classes(in->schema), last = 0;
    for (size_t i = 0; i < in->ncounts; i++)
        if (in->counts[i]) last = i + 1;
    return last > k ? last : k;
}

static size_t count_of(const inspect *in, size_t k) { return k < in->ncounts ? in->counts[k] : 0; }

static int col_seen(const inspect *in, size_t j) { return in->n && in->n[j]; }
static double col_mean(const inspect *in, size_t j) { return col_seen(in, j) ? in->sum[j] / (double)in->n[j] : NAN; }
static double col_min(const inspect *in, size_t j) { return col_seen(in, j) ? in->min[j] : NAN; }
static double col_max(const inspect *in, size_t j) { return col_seen(in, j) ? in->max[j] : NAN; }

static value *num_or_null(double x) { return isfinite(x) ? value_float(x) : value_nil(); }

static value *classes_value(const inspect *in)
{
    value *v = value_map(), *counts = value_array();
    for (size_t k = 0; k < nclasses(in); k++) {
        value *c = value_map();
        const char *name = class_name(in, k);
        value_set(c, "class", value_int((int64_t)k));
        value_set(c, "name", name ? value_str(name) : value_nil());
        value_set(c, "count", value_int((int64_t)count_of(in, k)));
        value_push(counts, c);
    }
    value_set(v, "counts", counts);
    value_set(v, "unlabelled", value_int((int64_t)in->unlabelled));
    value_set(v, "invalid", value_int((int64_t)in->invalid));
    return v;
}

static value *features_value(const inspect *in)
{
    value *v = value_map(), *mn = value_array(), *mean = value_array(), *mx = value_array();
    for (size_t j = 0; in->n && j < in->ncols; j++) {   /* no rows: no per-column values */
        value_push(mn, num_or_null(col_min(in, j)));
        value_push(mean, num_or_null(col_mean(in, j)));
        value_push(mx, num_or_null(col_max(in, j)));
    }
    value_set(v, "tensor", value_str("x"));
    value_set(v, "columns", value_int((int64_t)in->ncols));
    value_set(v, "min", mn);
    value_set(v, "mean", mean);
    value_set(v, "max", mx);
    value_set(v, "nonfinite", value_int((int64_t)in->nonfinite));
    return v;
}

/* Row r of column i: a number for a scalar tensor, else a flat array. */
static value *cell_value(const stream_table *t, int i, size_t r)
{
    const stream_field *f = &t->schema->fields[i];
    if (!f->ndim) {
        double x = elem(t->cols[i], f->dtype, r);
        return is_int_type(f->dtype) ? value_int((int64_t)x) : num_or_null(x);
    }
    value *a = value_array();
    for (size_t j = 0; j < f->width; j++) {
        double x = elem(t->cols[i], f->dtype, r * f->width + j);
        value_push(a, is_int_type(f->dtype) ? value_int((int64_t)x) : num_or_null(x));
    }
    return a;
}

value *inspect_to_value(const inspect *in)
{
    value *v = inspect_header_value(in->schema), *head = value_array();
    value_set(v, "rows", value_int((int64_t)in->rows));
    if (in->yi >= 0) value_set(v, "classes", classes_value(in));
    if (in->xi >= 0) value_set(v, "features", features_value(in));
    for (size_t r = 0; r < in->first->nrows; r++) {
        value *row = value_map();
        for (int i = 0; i < in->schema->n; i++) value_set(row, in->schema->fields[i].name, cell_value(in->first, i, r));
        value_push(head, row);
    }
    value_set(v, "head", head);
    return v;
}

static void print_classes(FILE *f, const inspect *in)
{
    size_t k = nclasses(in);
    fprintf(f, "classes   %zu", k);
    if (in->unlabelled) fprintf(f, ", %zu unlabelled rows", in->unlabelled);
    if (in->invalid) fprintf(f, ", %zu rows with an invalid label", in->invalid);
    fprintf(f, "\n  %5s  %-16s %10s\n", "class", "name", "rows");
    for (size_t c = 0; c < k; c++) {
        const char *name = class_name(in, c);
        char buf[256];
        fprintf(f, "  %5zu  %-16s %10zu\n", c, printable(name, buf, sizeof buf), count_of(in, c));
    }
    if (in->unlabelled) fprintf(f, "  %5s  %-16s %10zu\n", "-1", "(unlabelled)", in->unlabelled);
}

static void print_feature(FILE *f, const inspect *in, size_t j)
{
    const char *name = feature_name(in, j);
    char buf[256];
    fprintf(f, "  %7zu  %-16s %12.6g %12.6g %12.6g\n", j, printable(name, buf, sizeof buf), col_min(in, j), col_mean(in, j),
            col_max(in, j));
}

/* One line for the columns from `from` on: overall range, mean of all their values, constant columns. */
static void print_rest(FILE *f, const inspect *in, size_t from)
{
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t n = 0, constant = 0;
    for (size_t j = from; j < in->ncols; j++) {
        if (!col_seen(in, j)) continue;
        lo = fmin(lo, in->min[j]);
        hi = fmax(hi, in->max[j]);
        sum += in->sum[j];
        n += in->n[j];
        constant += in->min[j] == in->max[j];
    }
    fprintf(f, "  ... %zu more features (--all lists them): min %g, mean %g, max %g, %zu constant\n", in->ncols - from,
            n ? lo : NAN, n ? sum / (double)n : NAN, n ? hi : NAN, constant);
}

static void print_features(FILE *f, const inspect *in, int all)
{
    fprintf(f, "features  x has %zu columns", in->ncols);
    if (!in->n) {
        fprintf(f, " (no rows)\n");
        return;
    }
    if (in->nonfinite) fprintf(f, ", %zu non-finite values (left out below)", in->nonfinite);
    fprintf(f, "\n  %7s  %-16s %12s %12s %12s\n", "feature", "name", "min", "mean", "max");
    size_t shown = all || in->ncols <= INSPECT_SHOW_FEATURES + 1 ? in->ncols : INSPECT_SHOW_FEATURES;
    for (size_t j = 0; j < shown; j++) print_feature(f, in, j);
    if (shown < in->ncols) print_rest(f, in, shown);
}

/* A row's value of one tensor: a scalar, or its first values and the count. */
static void print_cell(FILE *f, const stream_table *t, int i, size_t r, int all)
{
    const stream_field *fd = &t->schema->fields[i];
    if (!fd->ndim) {
        fprintf(f, "%g", elem(t->cols[i], fd->dtype, r));
        return;
    }
    size_t shown = all || fd->width <= INSPECT_SHOW_FEATURES + 1 ? fd->width : INSPECT_SHOW_FEATURES;
    fputc('[', f);
    for (size_t j = 0; j < shown; j++) fprintf(f, "%s%g", j ? ", " : "", elem(t->cols[i], fd->dtype, r * fd->width + j));
    if (shown < fd->width) fprintf(f, ", ... %zu values", fd->width);
    fputc(']', f);
}

static void print_head(FILE *f, const inspect *in, int all)
{
    fprintf(f, "first %zu rows\n", in->first->nrows);
    for (size_t r = 0; r < in->first->nrows; r++) {
        fprintf(f, "  %zu:", r);
        for (int i = 0; i < in->schema->n; i++) {
            char tn[STREAM_NAME_MAX];
            fprintf(f, "  %s ", printable(in->schema->fields[i].name, tn, sizeof tn));
            print_cell(f, in->first, i, r, all);
            double y = i == in->yi ? elem(in->first->cols[i], in->schema->fields[i].dtype, r) : -1;
            const char *name = y >= 0 && y <= INSPECT_MAX_LABEL ? class_name(in, (size_t)y) : NULL;
            char num[24];
            snprintf(num, sizeof num, "%g", y);
            char buf[256];
            if (name && strcmp(name, num) != 0) fprintf(f, " (%s)", printable(name, buf, sizeof buf)); /* "3" adds nothing */
        }
        fputc('\n', f);
    }
}

void inspect_print_text(FILE *f, const inspect *in, int all)
{
    inspect_print_header(f, in->schema, all);
    fprintf(f, "rows      %zu\n", in->rows);
    if (in->yi >= 0) print_classes(f, in);
    if (in->xi >= 0) print_features(f, in, all);
    if (in->first->nrows) print_head(f, in, all);
}
