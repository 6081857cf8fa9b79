#include <string.h>

#include "check.h"
#include "inspect.h"

/* A schema x f32 (2), y i32 scalar, and a batch of n rows filled from arrays. */
static stream_table *batch(const float *x, const int32_t *y, size_t n)
{
    error e;
    stream_schema *s = stream_schema_new();
    int64_t two = 2;
    stream_schema_add(s, "x", STREAM_F32, 1, &two, &e);
    stream_schema_add(s, "y", STREAM_I32, 0, NULL, &e);
    stream_table *t = stream_table_new(s);
    stream_schema_free(s);
    stream_table_resize(t, n, &e);
    memcpy(t->cols[0], x, n * 2 * sizeof *x);
    memcpy(t->cols[1], y, n * sizeof *y);
    return t;
}

static void test_stats_over_batches(void)
{
    error e;
    float x1[] = {1, -1, 3, 0}, x2[] = {2, NAN, -4, 5};
    int32_t y1[] = {0, -1}, y2[] = {2, -7};
    stream_table *a = batch(x1, y1, 2), *b = batch(x2, y2, 2);
    inspect *in = inspect_new(a->schema, 3, &e);
    CHECK(inspect_add(in, a, &e) == 0);
    CHECK(inspect_add(in, b, &e) == 0);
    value *v = inspect_to_value(in);
    CHECK(value_get_num(v, "rows", 0) == 4);
    const value *f = value_get(v, "features");
    /* column 0: 1 3 2 -4; column 1: -1 0 (NaN left out) 5 */
    CHECK(value_get(f, "min")->items[0]->f == -4 && value_get(f, "max")->items[0]->f == 3);
    CHECK_NEAR(value_get(f, "mean")->items[0]->f, 0.5, 1e-12);
    CHECK(value_get(f, "min")->items[1]->f == -1 && value_get(f, "max")->items[1]->f == 5);
    CHECK_NEAR(value_get(f, "mean")->items[1]->f, 4.0 / 3, 1e-12);
    CHECK(value_get_num(f, "nonfinite", 0) == 1);
    const value *c = value_get(v, "classes");
    const value *counts = value_get(c, "counts");
    CHECK(counts->n == 3); /* classes 0..2 seen, none named */
    CHECK(value_get_num(counts->items[0], "count", -1) == 1 && value_get_num(counts->items[1], "count", -1) == 0 &&
          value_get_num(counts->items[2], "count", -1) == 1);
    CHECK(value_get_num(c, "unlabelled", 0) == 1 && value_get_num(c, "invalid", 0) == 1); /* -7 is invalid */
    CHECK(value_get(v, "head")->n == 3); /* the first 3 rows, across the two batches */
    value_free(v);
    inspect_free(in);
    stream_table_free(a);
    stream_table_free(b);
}

static void test_header_value(void)
{
    error e;
    float x[] = {0, 0};
    int32_t y[] = {0};
    stream_table *a = batch(x, y, 1);
    value_set(a->schema->meta, STREAM_META_CLASSES, value_array());
    value *h = inspect_header_value(a->schema);
    CHECK(strcmp(value_get_str(h, "format", ""), "ssl-stream") == 0);
    const value *t = value_get(h, "tensors");
    CHECK(t->n == 2 && strcmp(value_get_str(t->items[0], "type", ""), "f32") == 0);
    CHECK(value_get(t->items[0], "shape")->n == 1 && value_get(t->items[1], "shape")->n == 0);
    CHECK(value_get(value_get(h, "meta"), STREAM_META_CLASSES) != NULL);
    value_free(h);
    stream_table_free(a);
    (void)e;
}

int main(void)
{
    RUN(test_stats_over_batches);
    RUN(test_header_value);
    return check_summary();
}
