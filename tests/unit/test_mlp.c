/* The classifier: learns a small separable problem (with hidden layers and without), same seed
 * same weights, unlabelled rows ignored, labels out of range refused, save/load round trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlp.h"
#include "rng.h"

enum { N = 300, F = 2, K = 3, NU = 50 };

/* Three Gaussian blobs in 2-D around well separated centres; the last NU rows are unlabelled
 * noise (y = -1). */
typedef struct blobs {
    float x[(N + NU) * F];
    int32_t y[N + NU];
    float w[N + NU];
} blobs;

static void make_blobs(blobs *b, uint64_t seed)
{
    static const float cx[K] = {-3, 3, 0}, cy[K] = {0, 0, 4};
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < N + NU; i++) {
        int k = i % K;
        b->y[i] = i < N ? k : -1;
        b->x[i * F] = i < N ? cx[k] + 0.7f * rng_normal(&r) : 100 * rng_normal(&r);
        b->x[i * F + 1] = i < N ? cy[k] + 0.7f * rng_normal(&r) : 100 * rng_normal(&r);
        b->w[i] = 1.0f;
    }
}

static double train_accuracy(int nhidden, const int *hidden, mlp **out)
{
    static blobs b;
    make_blobs(&b, 1);
    mlp_config c;
    mlp_config_default(&c);
    c.epochs = 60;
    c.batch = 32;
    c.lr = 1e-2;
    error e;
    mlp *m = mlp_new(F, K, nhidden, hidden, 0, &e);
    mlp_result res;
    mlp_data d = {b.x, b.y, NULL, N + NU};
    CHECK(mlp_train(m, &c, &d, NULL, NULL, &res, &e) == 0);
    CHECK(res.rows == N);
    make_blobs(&b, 2);   /* fresh test rows */
    double loss, acc;
    d.n = N;
    CHECK(mlp_evaluate(m, &d, &loss, &acc, &e) == 0);
    if (out) *out = m;
    else mlp_free(m);
    return acc;
}

static void test_learns_blobs(void)
{
    int hidden[2] = {16, 8};
    double acc = train_accuracy(2, hidden, NULL);
    CHECK(acc > 0.97);
    /* zero hidden layers: multinomial logistic regression, also separates blobs */
    double acc0 = train_accuracy(0, NULL, NULL);
    CHECK(acc0 > 0.97);
}

static void test_same_seed_same_weights(void)
{
    int hidden[1] = {8};
    mlp *a, *b;
    train_accuracy(1, hidden, &a);
    train_accuracy(1, hidden, &b);
    CHECK(a->params.total == b->params.total);
    CHECK(memcmp(a->params.data, b->params.data, a->params.total * sizeof(float)) == 0);
    mlp_free(a), mlp_free(b);
}

static void test_unlabelled_rows_are_ignored(void)
{
    /* the labelled rows alone and with unlabelled noise appended give the same weights */
    static blobs b;
    make_blobs(&b, 3);
    mlp_config c;
    mlp_config_default(&c);
    c.epochs = 5;
    c.hidden[0] = 8;
    c.nhidden = 1;
    error e;
    mlp_result res;
    mlp *m1 = mlp_new(F, K, c.nhidden, c.hidden, c.batch_norm, &e), *m2 = mlp_new(F, K, c.nhidden, c.hidden, c.batch_norm, &e);
    mlp_data all = {b.x, b.y, NULL, N + NU}, lab = {b.x, b.y, NULL, N};
    CHECK(mlp_train(m1, &c, &all, NULL, NULL, &res, &e) == 0);
    CHECK(mlp_train(m2, &c, &lab, NULL, NULL, &res, &e) == 0);
    CHECK(memcmp(m1->params.data, m2->params.data, m1->params.total * sizeof(float)) == 0);
    /* weights of 2 on every row = the same fit as a doubled learning signal: not the same weights */
    for (int i = 0; i < N; i++) b.w[i] = 2.0f;
    mlp_data wd = {b.x, b.y, b.w, N};
    CHECK(mlp_train(m2, &c, &wd, NULL, NULL, &res, &e) == 0);
    CHECK(memcmp(m1->params.data, m2->params.data, m1->params.total * sizeof(float)) != 0);
    mlp_free(m1), mlp_free(m2);
}

static void test_errors(void)
{
    static blobs b;
    make_blobs(&b, 4);
    mlp_config c;
    mlp_config_default(&c);
    error e;
    mlp_result res;
    mlp *m = mlp_new(F, K, 0, NULL, 0, &e);
    b.y[7] = 3;
    mlp_data d = {b.x, b.y, NULL, N};
    CHECK(mlp_train(m, &c, &d, NULL, NULL, &res, &e) < 0 && strstr(e.msg, "row 8: label 3"));
    mlp_data none = {b.x + N * F, b.y + N, NULL, NU};
    CHECK(mlp_train(m, &c, &none, NULL, NULL, &res, &e) < 0 && strstr(e.msg, "no labelled rows"));
    CHECK(mlp_new(F, 1, 0, NULL, 0, &e) == NULL);
    mlp_free(m);
}

static void test_early_stopping_on_val(void)
{
    static blobs b, v;
    make_blobs(&b, 5);
    make_blobs(&v, 6);
    mlp_config c;
    mlp_config_default(&c);
    c.nhidden = 1;
    c.hidden[0] = 8;
    c.patience = 5;
    c.batch = 32;
    c.lr = 1e-2;
    c.dropout = 0.1;
    error e;
    mlp_result res;
    mlp *m = mlp_new(F, K, c.nhidden, c.hidden, c.batch_norm, &e);
    mlp_data d = {b.x, b.y, NULL, N}, dv = {v.x, v.y, NULL, N};
    CHECK(mlp_train(m, &c, &d, &dv, NULL, &res, &e) == 0);
    /* blobs are separable: validation accuracy saturates, so it stops long before 200 epochs */
    CHECK(res.epochs_run < 100);
    CHECK(res.best_epoch >= 1 && res.best_epoch <= res.epochs_run - c.patience);
    double loss, acc;
    CHECK(mlp_evaluate(m, &dv, &loss, &acc, &e) == 0);
    CHECK_NEAR(acc, res.best_val_accuracy, 1e-12);   /* the best weights were kept */
    CHECK(acc > 0.95);
    mlp_free(m);
}

static void test_save_load(void)
{
    int hidden[2] = {5, 4};
    mlp *m;
    train_accuracy(2, hidden, &m);
    error e;
    mlp_config c;
    mlp_config_default(&c);
    mlp_result r = {.epochs_run = 3, .rows = 10, .final_loss = 0.5, .best_val_accuracy = NAN};
    value *meta = value_map();
    const char *cn[3] = {"a", "b", "c"};
    value_set(meta, "class_names", value_str_array(cn, 3));
    model_file *f = mlp_save(m, &c, &r, meta, &e);
    CHECK(f && strcmp(f->kind, "mlp") == 0 && f->nparams == 6);
    CHECK(value_get(f->info, "class_names") && value_get(f->info, "class_names")->n == 3);
    mlp *m2 = mlp_load(f, &e);
    CHECK(m2 && mlp_features(m2) == F && mlp_classes(m2) == K && m2->nlayers == 3);
    if (m2) CHECK(memcmp(m->params.data, m2->params.data, m->params.total * sizeof(float)) == 0);
    /* a model whose tensor shape disagrees with its info is refused */
    value_set(f->info, "hidden", value_array());
    CHECK(mlp_load(f, &e) == NULL && strstr(e.msg, "layer1.w"));
    float x[4] = {-3, 0, 0, 4}, p1[6], p2[6];
    mlp_predict(m, x, 2, p1, &e);
    if (m2) mlp_predict(m2, x, 2, p2, &e);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    CHECK_NEAR(p1[0] + p1[1] + p1[2], 1.0, 1e-6);
    value_free(meta);
    model_file_free(f);
    mlp_free(m), mlp_free(m2);
}

int main(void)
{
    RUN(test_learns_blobs);
    RUN(test_same_seed_same_weights);
    RUN(test_unlabelled_rows_are_ignored);
    RUN(test_errors);
    RUN(test_early_stopping_on_val);
    RUN(test_save_load);
    return check_summary();
}
