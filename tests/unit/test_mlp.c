/* The classifier: learns a small separable problem (with hidden layers and without), same seed
 * same weights, unlabelled rows ignored, labels out of range refused, save/load round trip.
 * With conv layers: a finite-difference check of the whole network's gradient (every parameter and
 * the input, with and without batch norm, flattened and pooled), prediction against the training
 * pass, a save/load round trip, architectures refused, and a small training run (with VAT).
 * The gradient check is gradcheck.h's model tolerance; an element whose difference quotient
 * changes between h and h/2 straddles a ReLU kink and is skipped (a few at most). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gradcheck.h"
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


/* ---- conv layers ---- */

enum { CB = 4, CC = 2, CH = 4, CW = 4, CF = CC * CH * CW, CK = 3 };

/* A conv classifier on CB rows of 2 x 4 x 4 images, with random parameters (batch norm's scales
 * near 1, running variances positive) and inputs. */
static mlp *conv_net(const char *spec, int pool, int bn, float *x, rng *r)
{
    mlp_conv cv = {.c = CC, .h = CH, .w = CW, .pool = pool};
    error e;
    CHECK(conv_spec_parse(cv.layer, &cv.n, spec, &e) == 0);
    int hidden[1] = {5};
    mlp *m = mlp_new_conv(CF, CK, &cv, 1, hidden, bn, &e);
    CHECK(m != NULL);
    if (!m) return NULL;
    gc_fill_sym(r, m->params.data, m->params.total, 0.5f);
    for (int j = 0; j < m->conv.n && bn; j++)
        for (int k = 0; k < m->cs[j].K; k++) {
            nn_data(&m->params, m->icbn[j][0])[k] += 1.0f;
            nn_data(&m->params, m->icbn[j][3])[k] += 1.0f;
        }
    for (int k = 0; bn && k < hidden[0]; k++) {
        nn_data(&m->params, m->igamma[1])[k] += 1.0f;
        nn_data(&m->params, m->ivar[1])[k] += 1.0f;
    }
    gc_fill_sym(r, x, CB * CF, 1.0f);
    return m;
}

typedef struct conv_fd {
    const vat_net *v;
    float *x, c[CB * CK];   /* the loss: sum c * logits */
} conv_fd;

static double conv_fd_loss(void *p)
{
    conv_fd *f = p;
    const float *l = f->v->forward(f->v->ctx, f->x, CB);
    double t = 0;
    for (int i = 0; i < CB * CK; i++) t += (double)f->c[i] * l[i];
    return t;
}

static double central(conv_fd *f, float *x, float h)
{
    float keep = *x;
    *x = keep + h;
    double lp = conv_fd_loss(f);
    *x = keep - h;
    double lm = conv_fd_loss(f);
    *x = keep;
    return (lp - lm) / (2.0 * (double)h);
}

/* g (n) against the difference quotients of the loss in x (n); returns the kinks skipped */
static int check_fd(const char *what, conv_fd *f, float *x, const float *g, size_t n)
{
    int kinks = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double num = central(f, x + i, GC_H), tol = 5e-3 + 2e-2 * fabs(g[i]);
        if (fabs(num - g[i]) > tol && fabs(num - central(f, x + i, GC_H / 2)) > tol / 2) {
            kinks++;
            continue;
        }
        if (fabs(num - g[i]) > tol && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: numeric %.6g, analytic %.6g\n", what, i, num, (double)g[i]);
        CHECK_NEAR(num, g[i], tol);
    }
    return kinks;
}

static void grad_check(const char *spec, int pool, int bn, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    float x[CB * CF], dx[CB * CF], dl[CB * CK];
    mlp *m = conv_net(spec, pool, bn, x, &r);
    if (!m) return;
    error e;
    mlp_net *n = mlp_net_new(m, CB, NULL, &e);
    CHECK(n != NULL);
    conv_fd f = {mlp_net_vat(n), x, {0}};
    gc_fill_sym(&r, f.c, CB * CK, 1.0f);
    CHECK(f.v->features == CF && f.v->classes == CK);
    size_t np = m->params.total;
    float *keep = malloc(np * sizeof(float)), *g = malloc(np * sizeof(float));
    memcpy(keep, m->params.data, np * sizeof(float));
    nn_params_zero_grad(NULL, &m->params);
    conv_fd_loss(&f);
    memcpy(dl, f.c, sizeof dl);
    f.v->backward(f.v->ctx, dl, dx, 1);
    memcpy(g, m->params.grad, np * sizeof(float));
    double gmax = 0, dxmax = 0;
    for (size_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g[i]));
    for (int i = 0; i < CB * CF; i++) dxmax = fmax(dxmax, fabs(dx[i]));
    CHECK(gmax > 1e-2 && dxmax > 1e-3);   /* the comparison has teeth */
    int kinks = check_fd("params", &f, m->params.data, g, np) + check_fd("x", &f, x, dx, CB * CF);
    if (kinks > (int)(np + CB * CF) / 20 + 2) fprintf(stderr, "  %s: %d kinks\n", spec, kinks);
    CHECK(kinks <= (int)(np + CB * CF) / 20 + 2);
    /* the passes leave the running averages alone, and the parameters */
    CHECK(memcmp(keep, m->params.data, np * sizeof(float)) == 0);
    /* the gradient of x alone, params = 0: the same dx, no parameter gradient added */
    float dx2[CB * CF];
    conv_fd_loss(&f);
    memcpy(dl, f.c, sizeof dl);
    f.v->backward(f.v->ctx, dl, dx2, 0);
    CHECK(memcmp(dx, dx2, sizeof dx) == 0);
    CHECK(memcmp(g, m->params.grad, np * sizeof(float)) == 0);
    free(keep), free(g);
    mlp_net_free(n);
    mlp_free(m);
}

static void test_conv_gradients(void)
{
    grad_check("3:3:1,4:3:2", 0, 0, 11);
    grad_check("3:3:1,4:3:2", 0, 1, 12);
    grad_check("3:3:2", 1, 1, 13);
    grad_check("4:1:1,3:3:1", 1, 0, 14);
}

/* Without batch norm, prediction is the training pass's softmax. */
static void test_conv_predict_matches(void)
{
    rng r;
    rng_seed(&r, 21);
    float x[CB * CF], p[CB * CK], q[CB * CK];
    mlp *m = conv_net("3:3:1,4:3:2", 0, 0, x, &r);
    error e;
    mlp_net *n = mlp_net_new(m, CB, NULL, &e);
    const vat_net *v = mlp_net_vat(n);
    memcpy(q, v->forward(v->ctx, x, CB), sizeof q);
    nn_softmax_forward(q, q, CB, CK);
    CHECK(mlp_predict(m, x, CB, p, &e) == 0);
    for (int i = 0; i < CB * CK; i++) CHECK_NEAR(p[i], q[i], 1e-6);
    mlp_net_free(n);
    mlp_free(m);
}

static void test_conv_save_load(void)
{
    rng r;
    rng_seed(&r, 31);
    float x[CB * CF], p1[CB * CK], p2[CB * CK];
    mlp *m = conv_net("3:3:1,4:3:2", 1, 1, x, &r);
    error e;
    mlp_config c;
    mlp_config_default(&c);
    model_file *f = mlp_save(m, &c, NULL, NULL, &e);
    CHECK(f != NULL);
    CHECK(strcmp(value_get_str(f->info, "conv", ""), "3:3:1,4:3:2") == 0);
    const value *im = value_get(f->info, "conv_image");
    CHECK(im && im->n == 3 && value_size(im->items[0]) == CC && value_size(im->items[2]) == CW);
    CHECK(value_get_num(f->info, "conv_pool", 0) == 1);
    mlp *m2 = mlp_load(f, &e);
    CHECK(m2 && mlp_features(m2) == CF && m2->conv.n == 2 && m2->conv.pool && m2->batch_norm);
    for (int i = 0; m2 && i < m->params.n; i++)   /* tensor by tensor: the padding between them is not saved */
        CHECK(memcmp(nn_data(&m->params, i), nn_data(&m2->params, i), m->params.t[i].size * sizeof(float)) == 0);
    CHECK(mlp_predict(m, x, CB, p1, &e) == 0);
    if (m2) CHECK(mlp_predict(m2, x, CB, p2, &e) == 0 && memcmp(p1, p2, sizeof p1) == 0);
    /* info that disagrees with the tensors is refused */
    value_set(f->info, "conv", value_str("3:3:1"));
    CHECK(mlp_load(f, &e) == NULL);
    value_set(f->info, "conv", value_str("3:3"));
    CHECK(mlp_load(f, &e) == NULL && strstr(e.msg, "conv"));
    model_file_free(f);
    mlp_free(m), mlp_free(m2);
}

static void test_conv_refused(void)
{
    mlp_conv cv = {.c = 1, .h = 4, .w = 4};
    error e;
    CHECK(conv_spec_parse(cv.layer, &cv.n, "2:3:2,2:3:2,2:3:1", &e) == 0);
    CHECK(mlp_new_conv(16, 3, &cv, 0, NULL, 0, &e) == NULL && strstr(e.msg, "too deep"));   /* 4 -> 2 -> 1 < 3 */
    cv.n = 1;
    CHECK(mlp_new_conv(15, 3, &cv, 0, NULL, 0, &e) == NULL && strstr(e.msg, "15 features"));
    CHECK(conv_spec_parse(cv.layer, &cv.n, "2:4:1", &e) == -1 && strstr(e.msg, "odd kernel"));
}

/* Rows of 1 x 6 x 6 images: a bright vertical (class 0) or horizontal (class 1) bar in noise. */
static void make_bars(float *x, int32_t *y, int n, rng *r)
{
    for (int i = 0; i < n; i++) {
        y[i] = i % 2;
        int at = (int)rng_below(r, 6);
        for (int p = 0; p < 36; p++) {
            int on = y[i] ? p / 6 == at : p % 6 == at;
            x[i * 36 + p] = (on ? 1.0f : 0.0f) + 0.2f * rng_normal(r);
        }
    }
}

static void test_conv_learns_bars(void)
{
    enum { NBAR = 200 };
    static float x[NBAR * 36], tx[NBAR * 36];
    static int32_t y[NBAR], ty[NBAR];
    rng r;
    rng_seed(&r, 41);
    make_bars(x, y, NBAR, &r);
    make_bars(tx, ty, NBAR, &r);
    mlp_config c;
    mlp_config_default(&c);
    c.epochs = 40, c.batch = 50, c.lr = 1e-2, c.nhidden = 1, c.hidden[0] = 8, c.batch_norm = 1;
    c.vat.eps = 1.0;   /* the unlabelled term through the conv layers */
    error e;
    CHECK(conv_spec_parse(c.conv.layer, &c.conv.n, "4:3:1,4:3:2", &e) == 0);
    c.conv.c = 1, c.conv.h = c.conv.w = 6;
    mlp *m[2];
    mlp_result res;
    mlp_data d = {x, y, NULL, NBAR}, t = {tx, ty, NULL, NBAR};
    for (int k = 0; k < 2; k++) {
        m[k] = mlp_new_conv(36, 2, &c.conv, c.nhidden, c.hidden, c.batch_norm, &e);
        CHECK(m[k] && mlp_train(m[k], &c, &d, NULL, NULL, &res, &e) == 0);
    }
    double loss, acc;
    CHECK(mlp_evaluate(m[0], &t, &loss, &acc, &e) == 0);
    if (acc <= 0.9) fprintf(stderr, "  bars: accuracy %.3f\n", acc);
    CHECK(acc > 0.9);
    CHECK(memcmp(m[0]->params.data, m[1]->params.data, m[0]->params.total * sizeof(float)) == 0);
    mlp_free(m[0]), mlp_free(m[1]);
}

int main(void)
{
    RUN(test_learns_blobs);
    RUN(test_same_seed_same_weights);
    RUN(test_unlabelled_rows_are_ignored);
    RUN(test_errors);
    RUN(test_early_stopping_on_val);
    RUN(test_save_load);
    RUN(test_conv_gradients);
    RUN(test_conv_predict_matches);
    RUN(test_conv_save_load);
    RUN(test_conv_refused);
    RUN(test_conv_learns_bars);
    return check_summary();
}
