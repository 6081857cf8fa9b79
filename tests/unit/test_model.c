/* Model files: round trip, identical bytes on re-save, clear errors for wrong kind, truncation,
 * unknown version and garbage. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"

static model_file *sample_model(void)
{
    error e;
    model_file *m = model_file_new("mlp");
    value_set(m->info, "hidden", value_int(128));
    value_set(m->info, "lr", value_float(1e-3));
    const char *names[2] = {"cat", "dog"};
    value_set(m->info, "class_names", value_str_array(names, 2));
    float w[6] = {1, -2, 3.5f, 4, 5, -6.25f}, b[3] = {0.1f, 0.2f, 0.3f};
    int64_t dw[2] = {3, 2}, db[1] = {3};
    CHECK(model_file_add(m, "l1.w", 2, dw, w, &e) == 0);
    CHECK(model_file_add(m, "l1.b", 1, db, b, &e) == 0);
    CHECK(model_file_add(m, "l1.b", 1, db, b, &e) < 0);
    return m;
}

/* The bytes of m as written, in a malloc'd buffer. */
static char *to_bytes(const model_file *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    error e;
    CHECK(model_file_write(m, f, &e) == 0);
    fclose(f);
    return buf;
}

static model_file *from_bytes(const char *buf, size_t len, error *e)
{
    FILE *f = fmemopen((void *)buf, len ? len : 1, "rb");
    if (len == 0) fgetc(f);   /* an empty stream: fmemopen refuses size 0 */
    model_file *m = model_file_read(f, "m.model", e);
    fclose(f);
    return m;
}

static void test_round_trip_same_bytes(void)
{
    model_file *m = sample_model();
    size_t n1, n2;
    char *b1 = to_bytes(m, &n1);
    error e;
    model_file *r = from_bytes(b1, n1, &e);
    CHECK(r != NULL);
    if (!r) return;
    CHECK(strcmp(r->kind, "mlp") == 0);
    CHECK(r->nparams == 2);
    const model_param *p = model_file_param(r, "l1.w", &e);
    CHECK(p && p->ndim == 2 && p->dims[0] == 3 && p->dims[1] == 2 && p->data[5] == -6.25f);
    CHECK(model_file_param(r, "nope", &e) == NULL && strstr(e.msg, "nope"));
    CHECK(value_get_num(r->info, "hidden", 0) == 128);
    CHECK(value_get(r->info, "class_names")->n == 2);
    char *b2 = to_bytes(r, &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
    /* and the same model built twice gives the same bytes */
    model_file *m2 = sample_model();
    size_t n3;
    char *b3 = to_bytes(m2, &n3);
    CHECK(n3 == n1 && memcmp(b1, b3, n1) == 0);
    free(b1), free(b2), free(b3);
    model_file_free(m), model_file_free(m2), model_file_free(r);
}

static void test_truncated_and_garbage(void)
{
    model_file *m = sample_model();
    size_t n;
    char *b = to_bytes(m, &n);
    error e;
    for (size_t cut = 0; cut < n; cut += 7) {
        model_file *r = from_bytes(b, cut, &e);
        CHECK(r == NULL);
        if (r) model_file_free(r);
        else CHECK(strncmp(e.msg, "m.model: ", 9) == 0);
    }
    CHECK(from_bytes(b, n - 1, &e) == NULL && strstr(e.msg, "truncated"));
    CHECK(from_bytes(b, 0, &e) == NULL && strstr(e.msg, "empty"));
    const char text[] = "hello, I am not a model\n";
    CHECK(from_bytes(text, sizeof text - 1, &e) == NULL);
    /* a valid MessagePack map that is not a model */
    const char map[] = "\x81\xa1" "a" "\x01";
    CHECK(from_bytes(map, 4, &e) == NULL && strstr(e.msg, "not an ssl-tools model"));
    free(b);
    model_file_free(m);
}

static void test_unknown_version(void)
{
    model_file *m = sample_model();
    size_t n;
    char *b = to_bytes(m, &n);
    /* the version array [1, 0] is packed as 0x92 0x01 0x00: make it [9, 0] */
    char *v = memmem(b, n, "version\x92\x01\x00", 10);
    CHECK(v != NULL);
    if (v) v[8] = 9;
    error e;
    CHECK(from_bytes(b, n, &e) == NULL && strstr(e.msg, "version 9 is not supported"));
    free(b);
    model_file_free(m);
}

static void test_load_checks_kind(void)
{
    char path[] = "/tmp/test_model_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    model_file *m = sample_model();
    error e;
    CHECK(model_file_write(m, f, &e) == 0);
    fclose(f);
    model_file *r = model_file_load(path, "vae", &e);
    CHECK(r == NULL && strstr(e.msg, "model is of kind 'mlp', expected 'vae'") && strstr(e.msg, path));
    r = model_file_load(path, "mlp", &e);
    CHECK(r != NULL);
    model_file_free(r);
    unlink(path);
    CHECK(model_file_load(path, NULL, &e) == NULL && strstr(e.msg, "No such file"));
    model_file_free(m);
}

int main(void)
{
    RUN(test_round_trip_same_bytes);
    RUN(test_truncated_and_garbage);
    RUN(test_unknown_version);
    RUN(test_load_checks_kind);
    return check_summary();
}
