#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "datasource.h"
#include "dist.h"

enum { N = 203, D = 3 };

/* A table of N rows: x[i] = (i, -i, 2i), id[i] = i. */
static stream_table *make_table(void)
{
    error e;
    stream_schema *s = stream_schema_new();
    int64_t dx[1] = {D};
    stream_schema_add(s, "x", STREAM_F32, 1, dx, &e);
    stream_schema_add(s, "id", STREAM_I64, 0, NULL, &e);
    stream_table *t = stream_table_new(s);
    stream_schema_free(s);
    stream_table_resize(t, N, &e);
    float *x = t->cols[0];
    int64_t *id = t->cols[1];
    for (int i = 0; i < N; i++) x[i * D] = (float)i, x[i * D + 1] = (float)-i, x[i * D + 2] = 2.0f * (float)i, id[i] = i;
    return t;
}

/* Writes the table as a stream file in small messages (so the buffer crosses message bounds). */
static void write_file(const stream_table *t, char *path)
{
    error e;
    strcpy(path, "/tmp/test_datasource_XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb");
    stream_writer *w = stream_writer_open(f, t->schema, &e);
    stream_writer_set_batch_rows(w, 17);
    CHECK(stream_writer_write(w, t, 0, t->nrows, &e) == 0);
    CHECK(stream_writer_finish(w, &e) == 0);
    fclose(f);
}

/* One epoch of ids, batch by batch, into ids (N); per batch, checks the source's own consistency
 * (rows are whole: x matches id) and the draws of a trainer (a normal per global row). */
static int epoch_ids(datasource *s, size_t batch, rng *r, int64_t *ids, size_t *nbatches)
{
    error e;
    datasource_batch b;
    size_t n = 0;
    int got;
    *nbatches = 0;
    if (datasource_epoch(s, r, &e) < 0) return -1;
    while ((got = datasource_next(s, batch, r, &b, &e)) == 1) {
        const int64_t *id = stream_table_col(b.rows, "id");
        const float *x = stream_table_col(b.rows, "x");
        for (size_t i = 0; i < b.rows->nrows; i++) {
            CHECK(x[i * D] == (float)id[i] && x[i * D + 2] == 2.0f * (float)id[i]);
            ids[n++] = id[i];
        }
        CHECK(b.global <= batch);
        rng_fill_normal(r, (float[64]){0}, b.global < 64 ? b.global : 64);   /* the trainer's noise */
        (*nbatches)++;
    }
    return got < 0 ? -1 : (int)n;
}

static int is_permutation(const int64_t *ids, int n)
{
    char seen[N] = {0};
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= N || seen[ids[i]]) return 0;
        seen[ids[i]] = 1;
    }
    return n == N;
}

static void test_memory_order_is_rng_shuffle(void)
{
    error e;
    stream_table *t = make_table();
    datasource *s = datasource_memory(t, &e);
    CHECK(s && datasource_rows(s) == N && !datasource_streaming(s));
    rng r, ref;
    rng_seed(&r, 7), rng_seed(&ref, 7);
    int64_t ids[N];
    size_t nb;
    CHECK(epoch_ids(s, 50, &r, ids, &nb) == N);
    CHECK(nb == 5);
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    rng_shuffle(&ref, perm, N);
    int same = 1;
    for (int i = 0; i < N; i++) same &= ids[i] == perm[i];
    CHECK(same);
    datasource_free(s);
    stream_table_free(t);
}

/* datasource_cumulative_shuffle: epoch 2 shuffles epoch 1's order (one perm shuffled twice). */
static void test_cumulative_shuffle(void)
{
    error e;
    stream_table *t = make_table();
    datasource *s = datasource_memory(t, &e);
    datasource_cumulative_shuffle(s);
    rng r, ref;
    rng_seed(&r, 9), rng_seed(&ref, 9);
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    int same = 1;
    for (int ep = 0; ep < 2; ep++) {
        int64_t ids[N];
        CHECK(datasource_epoch(s, &r, &e) == 0);
        rng_shuffle(&ref, perm, N);
        datasource_batch b;
        size_t n = 0;
        while (datasource_next(s, 64, &r, &b, &e) == 1)
            for (size_t i = 0; i < b.rows->nrows; i++) ids[n++] = ((const int64_t *)stream_table_col(b.rows, "id"))[i];
        for (int i = 0; i < N; i++) same &= n == N && ids[i] == perm[i];
    }
    CHECK(same);
    datasource_free(s);
    stream_table_free(t);
}

/* P shards of a global batch, put together in rank order, are the single-process batch. */
static void check_shards(datasource *(*open)(const stream_table *, const char *), size_t batch)
{
    stream_table *t = make_table();
    char path[64];
    write_file(t, path);
    int64_t one[N], parts[3][N];
    int counts[3];
    size_t nb;
    rng r;
    datasource *s = open(t, path);
    rng_seed(&r, 11);
    CHECK(epoch_ids(s, batch, &r, one, &nb) == N);
    CHECK(is_permutation(one, N));
    datasource_free(s);
    for (int k = 0; k < 3; k++) {
        s = open(t, path);
        datasource_shard(s, k, 3);
        rng_seed(&r, 11);
        counts[k] = epoch_ids(s, batch, &r, parts[k], &nb);
        datasource_free(s);
    }
    CHECK(counts[0] + counts[1] + counts[2] == N);
    /* interleave back: global batch g holds rank 0's share, then rank 1's, then rank 2's */
    int pos[3] = {0, 0, 0}, ok = 1;
    size_t g0 = 0;
    for (size_t G; g0 < N; g0 += G) {
        G = N - g0 < batch ? N - g0 : batch;
        size_t i = g0;
        for (int k = 0; k < 3; k++)
            for (size_t n = (size_t)(k + 1) * G / 3 - (size_t)k * G / 3; n > 0; n--) ok &= parts[k][pos[k]++] == one[i++];
    }
    CHECK(ok);
    unlink(path);
    stream_table_free(t);
}

static datasource *open_memory(const stream_table *t, const char *path)
{
    (void)path;
    error e;
    return datasource_memory(t, &e);
}

static datasource *open_stream_small(const stream_table *t, const char *path)
{
    (void)t;
    error e;
    datasource *s = datasource_stream(path, 40, NULL, NULL, &e);
    CHECK(s && datasource_streaming(s));
    return s;
}

static void test_shards_memory(void) { check_shards(open_memory, 64); }
static void test_shards_stream(void) { check_shards(open_stream_small, 64); }
static void test_shards_tiny_last_batch(void) { check_shards(open_memory, 101); }   /* last batch: 1 row, 3 ranks */

/* With the whole file in the buffer, the stream source gives the memory source's rows and draws. */
static void test_stream_that_fits_equals_memory(void)
{
    error e;
    stream_table *t = make_table();
    char path[64];
    write_file(t, path);
    datasource *m = datasource_memory(t, &e), *s = datasource_stream(path, N, NULL, NULL, &e);
    CHECK(s && !datasource_streaming(s) && datasource_rows(s) == N);
    rng rm, rs;
    rng_seed(&rm, 3), rng_seed(&rs, 3);
    for (int ep = 0; ep < 2; ep++) {
        int64_t a[N], b[N];
        size_t nb;
        CHECK(epoch_ids(m, 32, &rm, a, &nb) == N && epoch_ids(s, 32, &rs, b, &nb) == N);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    CHECK(rng_u64(&rm) == rng_u64(&rs));
    datasource_free(m), datasource_free(s);
    unlink(path);
    stream_table_free(t);
}

/* A buffer smaller than the file: every row once per epoch, a new order each epoch, the same
 * order for the same seed, and not the file's order. */
static void test_stream_buffer(void)
{
    error e;
    stream_table *t = make_table();
    char path[64];
    write_file(t, path);
    datasource *s = datasource_stream(path, 25, NULL, NULL, &e), *s2 = datasource_stream(path, 25, NULL, NULL, &e);
    rng r, r2;
    rng_seed(&r, 5), rng_seed(&r2, 5);
    int64_t a[N], b[N], c[N];
    size_t nb;
    CHECK(epoch_ids(s, 16, &r, a, &nb) == N && is_permutation(a, N));
    CHECK(epoch_ids(s, 16, &r, b, &nb) == N && is_permutation(b, N));
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(epoch_ids(s2, 16, &r2, c, &nb) == N && memcmp(a, c, sizeof a) == 0);
    int in_order = 1;
    for (int i = 0; i < N; i++) in_order &= a[i] == i;
    CHECK(!in_order);
    /* bounded: the first row out is among the file's first K rows */
    CHECK(a[0] < 25);
    datasource_free(s), datasource_free(s2);
    unlink(path);
    stream_table_free(t);
}

static int reject_row_100(const stream_table *batch, size_t row0, void *ctx, error *e)
{
    (*(int *)ctx)++;
    const int64_t *id = stream_table_col(batch, "id");
    for (size_t i = 0; i < batch->nrows; i++)
        if (id[i] == 100) return error_set(e, "row %zu: bad", row0 + i + 1);
    return 0;
}

static void test_stream_errors(void)
{
    error e;
    CHECK(datasource_stream("-", 10, NULL, NULL, &e) == NULL && strstr(e.msg, "stdin"));
    CHECK(datasource_stream("/nonexistent/x.ssl", 10, NULL, NULL, &e) == NULL && strstr(e.msg, "/nonexistent/x.ssl"));
    stream_table *t = make_table();
    char path[64];
    write_file(t, path);
    int calls = 0;
    CHECK(datasource_stream(path, 10, reject_row_100, &calls, &e) == NULL && strcmp(e.msg, "row 101: bad") == 0);
    CHECK(calls == 6);   /* messages of 17 rows: row 100 is in the sixth */
    unlink(path);
    stream_table_free(t);
}

static int not_multiple_of_3(const stream_table *batch, size_t row, void *ctx)
{
    (void)ctx;
    return ((const int64_t *)stream_table_col(batch, "id"))[row] % 3 != 0;
}

/* A row filter (datasource_stream_where): the source's rows are the kept ones; when they fit the
 * buffer, the memory source over a table of them; otherwise each kept row once an epoch. The check
 * still sees every row of the file (row numbers of the file). */
static void test_stream_where(void)
{
    error e;
    stream_table *t = make_table(), *kept = stream_table_new(t->schema);
    for (size_t i = 0; i < N; i++)
        if (not_multiple_of_3(t, i, NULL)) stream_table_append(kept, t, i, 1, &e);
    const size_t NK = kept->nrows;   /* 135 */
    char path[64];
    write_file(t, path);
    int calls = 0;
    CHECK(datasource_stream_where(path, NK, reject_row_100, not_multiple_of_3, &calls, &e) == NULL &&
          strcmp(e.msg, "row 101: bad") == 0);
    datasource *m = datasource_memory(kept, &e), *s = datasource_stream_where(path, NK, NULL, not_multiple_of_3, NULL, &e);
    CHECK(s && !datasource_streaming(s) && datasource_rows(s) == NK);
    rng rm, rs;
    rng_seed(&rm, 3), rng_seed(&rs, 3);
    int64_t a[N], b[N];
    size_t nb;
    CHECK(epoch_ids(m, 32, &rm, a, &nb) == (int)NK && epoch_ids(s, 32, &rs, b, &nb) == (int)NK);
    CHECK(memcmp(a, b, NK * sizeof *a) == 0);
    datasource_free(s);
    s = datasource_stream_where(path, 20, NULL, not_multiple_of_3, NULL, &e);
    CHECK(s && datasource_streaming(s) && datasource_rows(s) == NK);
    for (int ep = 0; ep < 2; ep++) {
        CHECK(epoch_ids(s, 16, &rs, b, &nb) == (int)NK);
        char seen[N] = {0};
        int ok = 1;
        for (size_t i = 0; i < NK; i++) ok &= b[i] % 3 != 0 && !seen[b[i]]++;
        CHECK(ok);
    }
    datasource_free(m), datasource_free(s);
    unlink(path);
    stream_table_free(kept), stream_table_free(t);
}

static void test_dist_single_process(void)
{
    error e;
    CHECK(dist_rank() == 0 && dist_size() == 1);
    float g[3] = {1.5f, -2, 0};
    CHECK(dist_allreduce_sum(g, 3, &e) == 0 && g[0] == 1.5f && g[1] == -2 && g[2] == 0);
}

int main(int argc, char **argv)
{
    error e;
    if (dist_init(&argc, &argv, &e) < 0) return 1;
    RUN(test_memory_order_is_rng_shuffle);
    RUN(test_cumulative_shuffle);
    RUN(test_shards_memory);
    RUN(test_shards_stream);
    RUN(test_shards_tiny_last_batch);
    RUN(test_stream_that_fits_equals_memory);
    RUN(test_stream_buffer);
    RUN(test_stream_errors);
    RUN(test_stream_where);
    RUN(test_dist_single_process);
    dist_finalize();
    return check_summary();
}
