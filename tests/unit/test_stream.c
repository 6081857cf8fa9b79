/* The tensor stream: round trips, truncation at every byte, corruption, versions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stream.h"

/* A table with one tensor of every dtype, nrows rows, values derived from the row number. */
static stream_table *sample_table(size_t nrows)
{
    stream_schema *s = stream_schema_new();
    int64_t d4[] = {4}, d23[] = {2, 3};
    stream_schema_add(s, "x", STREAM_F32, 1, d4, NULL);
    stream_schema_add(s, "y", STREAM_I32, 0, NULL, NULL);
    stream_schema_add(s, "id", STREAM_I64, 0, NULL, NULL);
    stream_schema_add(s, "img", STREAM_U8, 2, d23, NULL);
    stream_schema_add(s, "d", STREAM_F64, 0, NULL, NULL);
    const char *names[] = {"zero", "one", "two"};
    value_set(s->meta, STREAM_META_CLASSES, value_str_array(names, 3));
    stream_table *t = stream_table_new(s);
    stream_schema_free(s);
    stream_table_resize(t, nrows, NULL);
    float *x = stream_table_col(t, "x");
    int32_t *y = stream_table_col(t, "y");
    int64_t *id = stream_table_col(t, "id");
    uint8_t *img = stream_table_col(t, "img");
    double *d = stream_table_col(t, "d");
    for (size_t r = 0; r < nrows; r++) {
        for (int j = 0; j < 4; j++) x[r * 4 + j] = (float)r * 0.5f + (float)j;
        y[r] = (int32_t)(r % 3) - (r % 7 == 0);
        id[r] = (int64_t)r * 1000000007LL;
        for (int j = 0; j < 6; j++) img[r * 6 + j] = (uint8_t)(r + j);
        d[r] = 1.0 / (double)(r + 1);
    }
    return t;
}

/* Writes t to a memory buffer in batches of batch_rows. */
static char *write_mem(const stream_table *t, size_t batch_rows, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    error e;
    stream_writer *w = stream_writer_open(f, t->schema, &e);
    stream_writer_set_batch_rows(w, batch_rows);
    int wrc = stream_writer_write(w, t, 0, t->nrows, &e);
    CHECK(wrc == 0);
    CHECK(stream_writer_finish(w, &e) == 0);
    fclose(f);
    return buf;
}

static stream_table *read_mem(const char *buf, size_t len, error *e)
{
    FILE *f = fmemopen((void *)buf, len ? len : 1, "rb");
    if (!len) fseek(f, 0, SEEK_END);   /* fmemopen cannot open an empty buffer: an empty file */
    stream_table *t = stream_read_all(f, "mem", e);
    fclose(f);
    return t;
}

static int tables_equal(const stream_table *a, const stream_table *b)
{
    if (a->nrows != b->nrows || !stream_schema_same_fields(a->schema, b->schema)) return 0;
    for (int i = 0; i < a->schema->n; i++) {
        const stream_field *f = &a->schema->fields[i];
        if (memcmp(a->cols[i], b->cols[i], a->nrows * f->width * stream_dtype_size(f->dtype))) return 0;
    }
    return 1;
}

static void test_round_trip_all_dtypes_many_batches(void)
{
    stream_table *t = sample_table(1000);
    size_t batch_sizes[] = {1, 7, 1000, 5000};
    for (int k = 0; k < 4; k++) {
        size_t len;
        char *buf = write_mem(t, batch_sizes[k], &len);
        error e;
        stream_table *back = read_mem(buf, len, &e);
        CHECK(back != NULL);
        if (back) {
            CHECK(tables_equal(t, back));
            CHECK(stream_meta_num_classes(back->schema) == 3);
            CHECK(back->schema->fields[3].ndim == 2 && back->schema->fields[3].dims[1] == 3);
        }
        stream_table_free(back);
        free(buf);
    }
    stream_table_free(t);
}

static void test_empty_stream(void)
{
    stream_table *t = sample_table(0);
    size_t len;
    char *buf = write_mem(t, 10, &len);
    error e;
    stream_table *back = read_mem(buf, len, &e);
    CHECK(back && back->nrows == 0 && back->schema->n == 5);
    stream_table_free(back);
    free(buf);
    stream_table_free(t);
    /* and no bytes at all is an error, not an empty stream */
    CHECK(read_mem("", 0, &e) == NULL);
    CHECK(strstr(e.msg, "empty input") != NULL);
}

static void test_every_truncation_is_detected(void)
{
    stream_table *t = sample_table(20);
    size_t len;
    char *buf = write_mem(t, 6, &len);
    int detected = 0;
    for (size_t cut = 0; cut < len; cut++) {
        error e;
        stream_table *back = read_mem(buf, cut, &e);
        detected += back == NULL;
        stream_table_free(back);
    }
    CHECK(detected == (int)len);
    stream_table_free(t);
    free(buf);
}

static void test_corruption_never_crashes(void)
{
    /* flips bytes one at a time; the reader must fail cleanly or read something consistent */
    stream_table *t = sample_table(5);
    size_t len;
    char *buf = write_mem(t, 2, &len);
    char *bad = malloc(len);
    int read_ok = 0;
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 0x5a;
        error e;
        stream_table *back = read_mem(bad, len, &e);
        if (back) read_ok++;
        stream_table_free(back);
    }
    CHECK(read_ok < (int)len); /* most flips must be caught */
    free(bad);
    free(buf);
    stream_table_free(t);
}

static void test_unknown_version_and_wrong_format(void)
{
    char *buf = NULL;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    msgpack_packer pk;
    msgpack_packer_init(&pk, f, msgpack_fbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "format", 6);
    msgpack_pack_str_with_body(&pk, "ssl-stream", 10);
    msgpack_pack_str_with_body(&pk, "version", 7);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_str_with_body(&pk, "tensors", 7);
    msgpack_pack_array(&pk, 0);
    fclose(f);
    error e;
    CHECK(read_mem(buf, len, &e) == NULL);
    CHECK(strstr(e.msg, "version 2 is not supported") != NULL);
    free(buf);
    CHECK(read_mem("\x81\xa1" "a\x01", 4, &e) == NULL);
    CHECK(strstr(e.msg, "not an ssl-tools tensor stream") != NULL);
}

static void test_end_count_mismatch(void)
{
    /* the end message's row count is the last byte (a fixint): make it disagree */
    stream_table *t = sample_table(4);
    size_t len;
    char *buf = write_mem(t, 2, &len);
    CHECK(buf[len - 1] == 4);
    buf[len - 1] = 5;
    error e;
    stream_table *back = read_mem(buf, len, &e);
    CHECK(back == NULL);
    CHECK(strstr(e.msg, "end message counts 5 rows, the stream had 4") != NULL);
    free(buf);
    stream_table_free(t);
}

static void test_table_ops(void)
{
    stream_table *t = sample_table(5);
    int idx[] = {4, 0, 4};
    error e;
    CHECK(stream_table_select(t, idx, 3, &e) == 0);
    CHECK(t->nrows == 3 && ((int64_t *)stream_table_col(t, "id"))[0] == 4 * 1000000007LL);
    int64_t k[] = {3};
    int pi = stream_table_add_col(t, "p", STREAM_F32, 1, k, &e);
    CHECK(pi == 5 && ((float *)t->cols[pi])[8] == 0.0f);
    CHECK(stream_table_add_col(t, "p", STREAM_F32, 1, k, &e) < 0);
    stream_table_drop_col(t, "x");
    CHECK(stream_schema_find(t->schema, "x") < 0 && stream_schema_find(t->schema, "p") == 4);
    CHECK(stream_table_col_typed(t, "y", STREAM_F32, &e) == NULL && strstr(e.msg, "is i32, expected f32"));
    stream_table_free(t);
}

int main(void)
{
    RUN(test_round_trip_all_dtypes_many_batches);
    RUN(test_empty_stream);
    RUN(test_every_truncation_is_detected);
    RUN(test_corruption_never_crashes);
    RUN(test_unknown_version_and_wrong_format);
    RUN(test_end_count_mismatch);
    RUN(test_table_ops);
    return check_summary();
}
