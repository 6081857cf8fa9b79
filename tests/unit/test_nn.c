/* Gradient checks for lib/nn: every backward against central finite differences, at the layer
 * tolerance of gradcheck.h (gc_check_layer). ReLU inputs are kept away from the kink
 * (|x| > 0.05 >> h). */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "gemm.h"
#include "gradcheck.h"
#include "nn.h"
#include "rng.h"

/* ---- dense + activation: loss = sum c * dense(x) ---- */

enum { B = 3, IN = 4, OUT = 5, K = 4 };

typedef struct dense_ctx {
    float x[B * IN], w[OUT * IN], b[OUT], c[B * OUT], y[B * OUT];
    nn_act a;
} dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *d = p;
    nn_dense_forward(NULL, d->y, d->x, d->w, d->b, B, IN, OUT, d->a);
    double s = 0;
    for (int i = 0; i < B * OUT; i++) s += (double)d->c[i] * d->y[i];
    return s;
}

static void check_dense(nn_act a)
{
    rng r;
    rng_seed(&r, 10 + a);
    dense_ctx d;
    d.a = a;
    gc_fill_sym(&r, d.x, B * IN, 1.0f);
    gc_fill_sym(&r, d.w, OUT * IN, 1.0f);
    gc_fill_sym(&r, d.b, OUT, 0.5f);
    gc_fill_sym(&r, d.c, B * OUT, 1.0f);
    if (a == NN_ACT_RELU) {
        /* keep pre-activations away from 0: nudge the bias until every |pre| > 0.05 */
        for (int again = 1; again;) {
            float pre[B * OUT];
            nn_dense_forward(NULL, pre, d.x, d.w, d.b, B, IN, OUT, NN_ACT_NONE);
            again = 0;
            for (int i = 0; i < B * OUT; i++)
                if (fabsf(pre[i]) < 0.05f) d.b[i % OUT] += 0.13f, again = 1;
        }
    }
    float dy[B * OUT], dx[B * IN], dw[OUT * IN] = {0}, db[OUT] = {0};
    dense_loss(&d);
    memcpy(dy, d.c, sizeof dy);
    nn_dense_backward(NULL, dx, dw, db, dy, d.x, d.w, d.y, B, IN, OUT, a);
    char name[64];
    snprintf(name, sizeof name, "dense(%s).dx", nn_act_name(a));
    gc_check_layer(name, dense_loss, &d, d.x, dx, B * IN);
    snprintf(name, sizeof name, "dense(%s).dw", nn_act_name(a));
    gc_check_layer(name, dense_loss, &d, d.w, dw, OUT * IN);
    snprintf(name, sizeof name, "dense(%s).db", nn_act_name(a));
    gc_check_layer(name, dense_loss, &d, d.b, db, OUT);
}

static void test_dense_linear(void) { check_dense(NN_ACT_NONE); }
static void test_dense_relu(void) { check_dense(NN_ACT_RELU); }
static void test_dense_sigmoid(void) { check_dense(NN_ACT_SIGMOID); }
static void test_dense_softplus(void) { check_dense(NN_ACT_SOFTPLUS); }
static void test_dense_tanh(void) { check_dense(NN_ACT_TANH); }

static void test_dense_accumulates_param_grads(void)
{
    /* the contract: dw and db accumulate, dx is overwritten */
    rng r;
    rng_seed(&r, 3);
    float x[B * IN], w[OUT * IN], y[B * OUT], dy[B * OUT], dx[B * IN], dw[OUT * IN] = {0}, db[OUT] = {0};
    gc_fill_sym(&r, x, B * IN, 1.0f);
    gc_fill_sym(&r, w, OUT * IN, 1.0f);
    gc_fill_sym(&r, dy, B * OUT, 1.0f);
    nn_dense_forward(NULL, y, x, w, NULL, B, IN, OUT, NN_ACT_NONE);
    float dy2[B * OUT];
    memcpy(dy2, dy, sizeof dy);
    nn_dense_backward(NULL, dx, dw, db, dy, x, w, y, B, IN, OUT, NN_ACT_NONE);
    float dx1[B * IN], dw1[OUT * IN], db1[OUT];
    memcpy(dx1, dx, sizeof dx);
    memcpy(dw1, dw, sizeof dw);
    memcpy(db1, db, sizeof db);
    nn_dense_backward(NULL, dx, dw, db, dy2, x, w, y, B, IN, OUT, NN_ACT_NONE);
    for (int i = 0; i < B * IN; i++) CHECK_NEAR(dx[i], dx1[i], 1e-6);
    for (int i = 0; i < OUT * IN; i++) CHECK_NEAR(dw[i], 2 * dw1[i], 1e-5);
    for (int i = 0; i < OUT; i++) CHECK_NEAR(db[i], 2 * db1[i], 1e-5);
}

/* ---- element-wise activations on their own, at large |x| too ---- */

typedef struct act_ctx {
    float x[8], y[8], c[8];
    nn_act a;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *t = p;
    nn_act_forward(t->y, t->x, 8, t->a);
    double s = 0;
    for (int i = 0; i < 8; i++) s += (double)t->c[i] * t->y[i];
    return s;
}

static void test_activations(void)
{
    const float xs[8] = {-30.0f, -4.0f, -1.2f, -0.3f, 0.2f, 1.1f, 3.5f, 25.0f};
    for (nn_act a = NN_ACT_RELU; a <= NN_ACT_TANH; a++) {
        act_ctx t;
        t.a = a;
        memcpy(t.x, xs, sizeof xs);
        for (int i = 0; i < 8; i++) t.c[i] = 1.0f + 0.1f * (float)i;
        act_loss(&t);
        float g[8];
        nn_act_backward(g, t.c, t.y, 8, a);
        gc_check_layer(nn_act_name(a), act_loss, &t, t.x, g, 8);
        for (int i = 0; i < 8; i++) CHECK(isfinite(t.y[i]));
    }
    /* known values */
    float x[3] = {-100.0f, 0.0f, 100.0f}, y[3];
    nn_act_forward(y, x, 3, NN_ACT_SOFTPLUS);
    CHECK_NEAR(y[0], 0.0, 1e-30);
    CHECK_NEAR(y[1], log(2.0), 1e-6);
    CHECK_NEAR(y[2], 100.0, 1e-4);
    nn_act_forward(y, x, 3, NN_ACT_SIGMOID);
    CHECK_NEAR(y[0], 0.0, 1e-30);
    CHECK_NEAR(y[1], 0.5, 1e-7);
    CHECK_NEAR(y[2], 1.0, 1e-7);
}

/* ---- softmax cross-entropy with weights and an unlabelled row ---- */

typedef struct xent_ctx {
    float l[B * K], p[B * K], w[B];
    int y[B];
    int weighted;
} xent_ctx;

static double xent_loss(void *ctx)
{
    xent_ctx *t = ctx;
    return nn_softmax_xent_forward(t->p, t->l, t->y, t->weighted ? t->w : NULL, B, K) / B;
}

static void test_softmax_xent(void)
{
    rng r;
    rng_seed(&r, 5);
    for (int weighted = 0; weighted <= 1; weighted++) {
        xent_ctx t = {.y = {2, -1, 0}, .w = {0.5f, 3.0f, 2.0f}, .weighted = weighted};
        gc_fill_sym(&r, t.l, B * K, 3.0f);
        xent_loss(&t);
        float d[B * K];
        nn_softmax_xent_backward(d, t.p, t.y, weighted ? t.w : NULL, B, K, 1.0f / B);
        gc_check_layer(weighted ? "xent(weighted)" : "xent", xent_loss, &t, t.l, d, B * K);
        for (int k = 0; k < K; k++) CHECK(d[K + k] == 0.0f);   /* the unlabelled row */
    }
    /* numerically stable: huge logits give a finite loss equal to the margin */
    float l[2] = {1000.0f, 0.0f}, p[2];
    int y = 1;
    double loss = nn_softmax_xent_forward(p, l, &y, NULL, 1, 2);
    CHECK_NEAR(loss, 1000.0, 1e-3);
    CHECK_NEAR(p[0], 1.0, 1e-7);
    /* a hand value: logits (0, log 3) -> p = (1/4, 3/4), loss for y = 0 is log 4 */
    float l2[2] = {0.0f, logf(3.0f)};
    y = 0;
    CHECK_NEAR(nn_softmax_xent_forward(p, l2, &y, NULL, 1, 2), log(4.0), 1e-6);
    CHECK_NEAR(p[1], 0.75, 1e-6);
}

/* ---- dropout ---- */

typedef struct drop_ctx {
    float x[12], y[12], c[12], mask[12];
} drop_ctx;

static double drop_loss(void *ctx)
{
    drop_ctx *t = ctx;
    nn_dropout_forward(t->y, t->x, t->mask, 12);
    double s = 0;
    for (int i = 0; i < 12; i++) s += (double)t->c[i] * t->y[i];
    return s;
}

static void test_dropout(void)
{
    rng r;
    rng_seed(&r, 9);
    drop_ctx t;
    gc_fill_sym(&r, t.x, 12, 1.0f);
    gc_fill_sym(&r, t.c, 12, 1.0f);
    /* a fixed mask, p = 0.5: kept units are scaled by 2 */
    for (int i = 0; i < 12; i++) t.mask[i] = (i % 3 == 0) ? 0.0f : 2.0f;
    float g[12];
    nn_dropout_backward(g, t.c, t.mask, 12);
    gc_check_layer("dropout", drop_loss, &t, t.x, g, 12);
    for (int i = 0; i < 12; i += 3) CHECK(g[i] == 0.0f);
    /* a drawn mask: values are 0 or 1/(1-p), the kept fraction is about 1-p, same seed same mask */
    enum { N = 20000 };
    static float m1[N], m2[N];
    rng_seed(&r, 1);
    nn_dropout_mask(m1, N, 0.25f, &r);
    rng_seed(&r, 1);
    nn_dropout_mask(m2, N, 0.25f, &r);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        CHECK(m1[i] == 0.0f || fabsf(m1[i] - 1.0f / 0.75f) < 1e-6f);
        kept += m1[i] != 0.0f;
    }
    CHECK(memcmp(m1, m2, sizeof m1) == 0);
    CHECK_NEAR((double)kept / N, 0.75, 0.015);
}

/* ---- a whole small MLP: x -> dense relu -> dropout -> dense -> softmax xent, through a table ---- */

enum { H1 = 6 };

typedef struct net_ctx {
    nn_params p;
    int w1, b1, w2, b2;
    float x[B * IN], h[B * H1], mask[B * H1], l[B * K], prob[B * K];
    int y[B];
} net_ctx;

static double net_loss(void *ctx)
{
    net_ctx *n = ctx;
    nn_dense_forward(NULL, n->h, n->x, nn_data(&n->p, n->w1), nn_data(&n->p, n->b1), B, IN, H1, NN_ACT_RELU);
    nn_dropout_forward(n->h, n->h, n->mask, B * H1);
    nn_dense_forward(NULL, n->l, n->h, nn_data(&n->p, n->w2), nn_data(&n->p, n->b2), B, H1, K, NN_ACT_NONE);
    return nn_softmax_xent_forward(n->prob, n->l, n->y, NULL, B, K) / B;
}

static void test_small_mlp(void)
{
    static net_ctx n;
    error e;
    nn_params_init(&n.p);
    int64_t d1[2] = {H1, IN}, d2[2] = {K, H1}, b1[1] = {H1}, b2[1] = {K};
    n.w1 = nn_params_add(&n.p, "l1.w", 2, d1, 1, &e);
    n.b1 = nn_params_add(&n.p, "l1.b", 1, b1, 0, &e);
    n.w2 = nn_params_add(&n.p, "l2.w", 2, d2, 1, &e);
    n.b2 = nn_params_add(&n.p, "l2.b", 1, b2, 0, &e);
    CHECK(n.b2 == 3);
    CHECK(nn_params_alloc(&n.p, &e) == 0);
    CHECK(n.p.t[1].offset % 16 == 0 && n.p.t[2].offset % 16 == 0);
    CHECK(nn_params_add(&n.p, "late", 1, b1, 0, &e) < 0);
    rng r;
    rng_seed(&r, 11);
    nn_dense_init_glorot(nn_data(&n.p, n.w1), nn_data(&n.p, n.b1), IN, H1, 1.0f, 1, &r);
    nn_dense_init_glorot(nn_data(&n.p, n.w2), nn_data(&n.p, n.b2), H1, K, 1.0f, 1, &r);
    gc_fill_sym(&r, n.x, B * IN, 2.0f);
    n.y[0] = 1, n.y[1] = 3, n.y[2] = 0;
    for (int i = 0; i < B * H1; i++) n.mask[i] = (i % 4 == 1) ? 0.0f : 4.0f / 3.0f;
    /* keep the hidden pre-activations away from the ReLU kink */
    for (int again = 1; again;) {
        float pre[B * H1];
        nn_dense_forward(NULL, pre, n.x, nn_data(&n.p, n.w1), nn_data(&n.p, n.b1), B, IN, H1, NN_ACT_NONE);
        again = 0;
        for (int i = 0; i < B * H1; i++)
            if (fabsf(pre[i]) < 0.05f) nn_data(&n.p, n.b1)[i % H1] += 0.13f, again = 1;
    }

    net_loss(&n);
    float dl[B * K], dh[B * H1];
    nn_params_zero_grad(NULL, &n.p);
    nn_softmax_xent_backward(dl, n.prob, n.y, NULL, B, K, 1.0f / B);
    nn_dense_backward(NULL, dh, nn_grad(&n.p, n.w2), nn_grad(&n.p, n.b2), dl, n.h, nn_data(&n.p, n.w2), n.l, B, H1, K,
                      NN_ACT_NONE);
    nn_dropout_backward(dh, dh, n.mask, B * H1);
    /* the ReLU derivative needs the activation before dropout: recompute it (masked units have dh = 0) */
    float h1[B * H1];
    nn_dense_forward(NULL, h1, n.x, nn_data(&n.p, n.w1), nn_data(&n.p, n.b1), B, IN, H1, NN_ACT_RELU);
    nn_dense_backward(NULL, NULL, nn_grad(&n.p, n.w1), nn_grad(&n.p, n.b1), dh, n.x, nn_data(&n.p, n.w1), h1, B, IN, H1,
                      NN_ACT_RELU);
    /* one flat check over the whole parameter buffer (padding included: its gradient is 0) */
    float g[128];
    CHECK(n.p.total <= 128);
    memcpy(g, n.p.grad, n.p.total * sizeof(float));
    gc_check_layer("mlp", net_loss, &n, n.p.data, g, n.p.total);
    nn_params_free(&n.p);
}

static void test_params_table(void)
{
    nn_params p;
    error e;
    nn_params_init(&p);
    int64_t d[2] = {3, 5};
    CHECK(nn_params_add(&p, "a", 2, d, 1, &e) == 0);
    CHECK(nn_params_add(&p, "a", 2, d, 1, &e) < 0);
    CHECK(strstr(e.msg, "twice") != NULL);
    int64_t bad[1] = {0};
    CHECK(nn_params_add(&p, "b", 1, bad, 0, &e) < 0);
    CHECK(nn_params_find(&p, "a") == 0 && nn_params_find(&p, "zz") == -1);
    CHECK(p.total == 16);
    CHECK(nn_params_alloc(&p, &e) == 0);
    CHECK(((uintptr_t)p.data % 64) == 0);
    for (size_t i = 0; i < p.total; i++) CHECK(p.data[i] == 0.0f && p.grad[i] == 0.0f);
    nn_params_free(&p);
}

/* Small products drop to one BLAS thread for the loop, large ones keep the setting; restore undoes it. */
static void test_blas_threads(void)
{
    openblas_set_num_threads(2);
    int before = nn_blas_threads_for(GEMM_SPLIT_MIN - 1);
    CHECK(before == openblas_get_num_threads() || before == 2);
    if (before > 1) CHECK(openblas_get_num_threads() == 1);
    nn_blas_threads_restore(before);
    CHECK(openblas_get_num_threads() == before);
    int big = nn_blas_threads_for(GEMM_SPLIT_MIN);
    CHECK(openblas_get_num_threads() == big);
    nn_blas_threads_restore(big);
}

int main(void)
{
    RUN(test_dense_linear);
    RUN(test_dense_relu);
    RUN(test_dense_sigmoid);
    RUN(test_dense_softplus);
    RUN(test_dense_tanh);
    RUN(test_dense_accumulates_param_grads);
    RUN(test_activations);
    RUN(test_softmax_xent);
    RUN(test_dropout);
    RUN(test_small_mlp);
    RUN(test_params_table);
    RUN(test_blas_threads);
    return check_summary();
}
