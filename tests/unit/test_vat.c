/* vat: the unlabelled losses' parameter gradients against finite differences (p(x) and r_adv held, as
 * the method holds them; FixMatch's pseudo-labels and strong views held), and the float32 adversarial direction against one computed in double; the
 * input gradient of dnet (the VAEs' networks) without its parameters' gradients, as the direction
 * needs it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dnet.h"
#include "gradcheck.h"
#include "nn.h"
#include "vat.h"

enum { B = 4, F = 6, H = 5, K = 3 };

/* A small smooth network: logits = W2 softplus(W1 x + b1) + b2. */
typedef struct net {
    nn_params p;
    int w1, b1, w2, b2;
    float h[B * H], dh[B * H], logits[B * K];
    const float *x;
    int rows;
} net;

static float *net_forward(void *ctx, const float *x, int rows)
{
    net *n = ctx;
    n->x = x, n->rows = rows;
    nn_dense_forward(NULL, n->h, x, nn_data(&n->p, n->w1), nn_data(&n->p, n->b1), rows, F, H, NN_ACT_SOFTPLUS);
    nn_dense_forward(NULL, n->logits, n->h, nn_data(&n->p, n->w2), nn_data(&n->p, n->b2), rows, H, K, NN_ACT_NONE);
    return n->logits;
}

static void net_backward(void *ctx, float *dlogits, float *dx, int params)
{
    net *n = ctx;
    nn_params *P = &n->p;
    nn_dense_backward(NULL, n->dh, params ? nn_grad(P, n->w2) : NULL, params ? nn_grad(P, n->b2) : NULL, dlogits, n->h,
                      nn_data(P, n->w2), n->logits, n->rows, H, K, NN_ACT_NONE);
    nn_dense_backward(NULL, dx, params ? nn_grad(P, n->w1) : NULL, params ? nn_grad(P, n->b1) : NULL, n->dh, n->x,
                      nn_data(P, n->w1), n->h, n->rows, F, H, NN_ACT_SOFTPLUS);
}

static void net_init(net *n, rng *r)
{
    error e;
    nn_params_init(&n->p);
    n->w1 = nn_params_add(&n->p, "w1", 2, (int64_t[]){H, F}, 1, &e);
    n->b1 = nn_params_add(&n->p, "b1", 1, (int64_t[]){H}, 0, &e);
    n->w2 = nn_params_add(&n->p, "w2", 2, (int64_t[]){K, H}, 1, &e);
    n->b2 = nn_params_add(&n->p, "b2", 1, (int64_t[]){K}, 0, &e);
    CHECK(nn_params_alloc(&n->p, &e) == 0);
    gc_fill(r, n->p.data, n->p.total, -1.0f, 1.0f);
}

typedef struct held {
    net *n;
    const vat_config *c;
    const float *x, *xr, *p;   /* the rows, x + r_adv and p(x), held */
} held;

/* log p (K) of a row of logits, in double */
static void log_softmax(double *lp, const float *l)
{
    double mx = l[0], s = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, l[k]);
    for (int k = 0; k < K; k++) s += exp(l[k] - mx);
    for (int k = 0; k < K; k++) lp[k] = l[k] - mx - log(s);
}

/* mean_i KL(p_i || q(xr_i)) + entmin mean_i H(p(x_i)), in double */
static double held_loss(void *ctx)
{
    held *h = ctx;
    double total = 0, lp[K];
    const float *l = net_forward(h->n, h->x, B);
    for (int i = 0; i < B; i++) {
        log_softmax(lp, l + i * K);
        for (int k = 0; k < K; k++) total -= h->c->entmin * exp(lp[k]) * lp[k];
    }
    l = net_forward(h->n, h->xr, B);
    for (int i = 0; i < B; i++) {
        log_softmax(lp, l + i * K);
        for (int k = 0; k < K; k++) total += h->p[i * K + k] * (log(h->p[i * K + k]) - lp[k]);
    }
    return total / B;
}

/* A network with random weights, B random rows, the default configuration and the buffers. */
typedef struct fixture {
    rng r;
    net n;
    float x[B * F];
    vat_config c;
    vat_ws w;
    vat_net v;
} fixture;

static void setup(fixture *f, uint64_t seed)
{
    rng_seed(&f->r, seed);
    net_init(&f->n, &f->r);
    gc_fill(&f->r, f->x, B * F, -2.0f, 2.0f);
    vat_config_default(&f->c);
    error e;
    CHECK(vat_ws_alloc(&f->w, B, F, K, &e) == 0);
    f->v = (vat_net){&f->n, F, K, net_forward, net_backward};
    nn_params_zero_grad(NULL, &f->n.p);
}

static void teardown(fixture *f)
{
    vat_ws_free(&f->w);
    nn_params_free(&f->n.p);
}

static void test_gradients(void)
{
    static fixture f;
    setup(&f, 7);
    f.c.eps = 0.8, f.c.entmin = 0.6, f.c.iters = 2;
    double loss = vat_loss(&f.v, &f.c, &f.w, f.x, B, 1.0f, &f.r);
    size_t np = f.n.p.total;
    float *g = malloc(np * sizeof(float)), p[B * K], xr[B * F];
    memcpy(g, f.n.p.grad, np * sizeof(float));
    memcpy(p, f.w.p, sizeof p);
    memcpy(xr, f.w.xr, sizeof xr);
    held h = {&f.n, &f.c, f.x, xr, p};
    CHECK_NEAR(held_loss(&h), loss, 1e-5);
    gc_check_layer("params", held_loss, &h, f.n.p.data, g, np);
    for (int i = 0; i < B; i++) {   /* each row moved by eps */
        double sq = 0;
        for (int j = 0; j < F; j++) sq += pow(xr[i * F + j] - f.x[i * F + j], 2);
        CHECK_NEAR(sqrt(sq), f.c.eps, 1e-5);
    }
    free(g);
    teardown(&f);
}

/* KL(p || softmax(f(x + r))) of one row, in double */
static double kl_double(const net *n, const double *x, const double *p)
{
    const float *W1 = nn_data(&n->p, n->w1), *b1 = nn_data(&n->p, n->b1);
    const float *W2 = nn_data(&n->p, n->w2), *b2 = nn_data(&n->p, n->b2);
    double h[H], l[K], mx = -INFINITY, s = 0, kl = 0;
    for (int j = 0; j < H; j++) {
        double a = b1[j];
        for (int f = 0; f < F; f++) a += (double)W1[j * F + f] * x[f];
        h[j] = a > 30 ? a : log1p(exp(a));
    }
    for (int k = 0; k < K; k++) {
        l[k] = b2[k];
        for (int j = 0; j < H; j++) l[k] += (double)W2[k * H + j] * h[j];
        mx = fmax(mx, l[k]);
    }
    for (int k = 0; k < K; k++) s += exp(l[k] - mx);
    for (int k = 0; k < K; k++) kl += p[k] * (log(p[k]) - (l[k] - mx - log(s)));
    return kl;
}

/* The direction of one power iteration at r = xi d against the gradient of KL computed in double. */
static void test_direction(void)
{
    static fixture f;
    setup(&f, 3);
    f.c.eps = 1;
    float d[B * F];
    rng_fill_normal(&f.r, d, B * F);
    nn_softmax_forward(f.w.p, net_forward(&f.n, f.x, B), B, K);
    memcpy(f.w.r, d, sizeof d);
    vat_direction(&f.v, &f.c, &f.w, f.x, B);
    for (size_t i = 0; i < f.n.p.total; i++) CHECK(f.n.p.grad[i] == 0.0f);   /* the parameters untouched */
    for (int i = 0; i < B; i++) {
        double p[K], xd[F], dn = 0, g[F], gn = 0, dot = 0;
        for (int k = 0; k < K; k++) p[k] = f.w.p[i * K + k];
        for (int j = 0; j < F; j++) dn += (double)d[i * F + j] * d[i * F + j];
        for (int j = 0; j < F; j++) xd[j] = f.x[i * F + j] + f.c.xi * d[i * F + j] / sqrt(dn);
        for (int j = 0; j < F; j++) {   /* central differences of KL at x + xi d */
            double keep = xd[j], step = 1e-7;
            xd[j] = keep + step;
            double up = kl_double(&f.n, xd, p);
            xd[j] = keep - step;
            g[j] = (up - kl_double(&f.n, xd, p)) / (2 * step);
            xd[j] = keep;
            gn += g[j] * g[j];
        }
        for (int j = 0; j < F; j++) dot += g[j] * f.w.r[i * F + j];
        CHECK(dot / sqrt(gn) > 0.999);   /* w.r has unit norm */
    }
    teardown(&f);
}

/* Entropy alone: no VAT pass, and a zero weight of both leaves the gradients at zero. */
static void test_entropy_only(void)
{
    static fixture f;
    setup(&f, 5);
    f.c.entmin = 1;
    double loss = vat_loss(&f.v, &f.c, &f.w, f.x, B, 1.0f, &f.r);
    CHECK(loss > 0 && loss < log(K) + 1e-6);
    size_t np = f.n.p.total;
    float *g = malloc(np * sizeof(float)), xr[B * F], p[B * K];
    memcpy(g, f.n.p.grad, np * sizeof(float));
    memcpy(xr, f.x, sizeof xr);
    nn_softmax_forward(p, net_forward(&f.n, f.x, B), B, K);
    held h = {&f.n, &f.c, f.x, xr, p};   /* xr = x, p = p(x): the KL term is 0 there, its gradient too */
    gc_check_layer("entropy", held_loss, &h, f.n.p.data, g, np);
    vat_config none = f.c;
    none.entmin = 0;
    nn_params_zero_grad(NULL, &f.n.p);
    CHECK(vat_loss(&f.v, &none, &f.w, f.x, B, 1.0f, &f.r) == 0.0);
    for (size_t i = 0; i < np; i++) CHECK(f.n.p.grad[i] == 0.0f);
    free(g);
    teardown(&f);
}

/* FixMatch's term with the pseudo-labels and strong views it drew held: fixmatch mean_i [y_i >= 0]
 * CE(y_i, f(xs_i)), in double */
typedef struct held_fm {
    net *n;
    double weight;
    const float *xs;
    const int *label;
} held_fm;

static double fixmatch_loss(void *ctx)
{
    held_fm *h = ctx;
    const float *l = net_forward(h->n, h->xs, B);
    double total = 0, lp[K];
    for (int i = 0; i < B; i++) {
        if (h->label[i] < 0) continue;
        log_softmax(lp, l + i * K);
        total -= lp[h->label[i]];
    }
    return h->weight * total / B;
}

/* The rows as 2 x 3 images, moved, mirrored, cut and jittered: every row confident at threshold 0, its
 * gradient against finite differences; at threshold 1 (never reached by a softmax of finite logits
 * of three classes) no row is, and the loss and gradients are 0. */
static void test_fixmatch(void)
{
    static fixture f;
    setup(&f, 11);
    f.c.fixmatch = 0.7, f.c.threshold = 0;
    f.c.views = (image_views){2, 3, 1, 1, 1, 0.5f, -2, 2};
    double loss = vat_loss(&f.v, &f.c, &f.w, f.x, B, 1.0f, &f.r);
    size_t np = f.n.p.total;
    float *g = malloc(np * sizeof(float)), xs[B * F];
    int label[B];
    memcpy(g, f.n.p.grad, np * sizeof(float));
    memcpy(xs, f.w.xr, sizeof xs);
    memcpy(label, f.w.label, sizeof label);
    for (int i = 0; i < B; i++) CHECK(label[i] >= 0 && label[i] < K);
    held_fm h = {&f.n, f.c.fixmatch, xs, label};
    CHECK(loss > 0);
    CHECK_NEAR(fixmatch_loss(&h), loss, 1e-5);
    gc_check_layer("fixmatch", fixmatch_loss, &h, f.n.p.data, g, np);
    f.c.threshold = 1;
    nn_params_zero_grad(NULL, &f.n.p);
    CHECK(vat_loss(&f.v, &f.c, &f.w, f.x, B, 1.0f, &f.r) == 0.0);
    for (int i = 0; i < B; i++) CHECK(f.w.label[i] == -1);
    for (size_t i = 0; i < np; i++) CHECK(f.n.p.grad[i] == 0.0f);
    free(g);
    teardown(&f);
}

/* A dnet with class inputs on 2 input rows expanded to B output rows (as M2's encoder), and
 * sum_ik w_ik out_ik as the loss. */
typedef struct dctx {
    dnet d;
    nn_params p;
    float x[2 * F], w[B * K];
    int src[B], cls[B];
} dctx;

static double dnet_weighted(void *ctx)
{
    dctx *c = ctx;
    const float *o = dnet_forward(&c->d, &c->p, c->x, 2, B, c->src, c->cls);
    double s = 0;
    for (int i = 0; i < B * K; i++) s += (double)c->w[i] * o[i];
    return s;
}

/* dnet_input_grad: the input gradient against central differences and the same as dnet_backward's,
 * the parameters' gradients untouched. */
static void test_dnet_input_grad(void)
{
    static dctx c;
    error e;
    rng r;
    rng_seed(&r, 9);
    nn_params_init(&c.p);
    CHECK(dnet_declare(&c.d, &c.p, "t", F, 3, 1, (const int[]){H}, K, NN_ACT_SOFTPLUS, &e) == 0);
    CHECK(nn_params_alloc(&c.p, &e) == 0 && dnet_alloc(&c.d, 2, B, &e) == 0);
    dnet_init(&c.d, &c.p, &r);
    gc_fill(&r, c.x, 2 * F, -1.0f, 1.0f);
    gc_fill_sym(&r, c.w, B * K, 1.0f);
    memcpy(c.src, (const int[]){0, 0, 1, 1}, sizeof c.src);
    memcpy(c.cls, (const int[]){0, 2, 1, 2}, sizeof c.cls);
    nn_params_zero_grad(NULL, &c.p);
    float dx[2 * F], dx2[2 * F];
    dnet_forward(&c.d, &c.p, c.x, 2, B, c.src, c.cls);
    memcpy(dnet_dout(&c.d), c.w, sizeof c.w);
    dnet_input_grad(&c.d, &c.p, dx, c.x, 2, B, c.src, c.cls);
    int zero = 1;
    for (size_t i = 0; i < c.p.total; i++) zero &= c.p.grad[i] == 0.0f;
    CHECK(zero);
    CHECK(gc_check_layer("dx", dnet_weighted, &c, c.x, dx, 2 * F) == 0);
    dnet_forward(&c.d, &c.p, c.x, 2, B, c.src, c.cls);
    memcpy(dnet_dout(&c.d), c.w, sizeof c.w);
    dnet_backward(&c.d, &c.p, dx2, c.x, 2, B, c.src, c.cls);
    CHECK(memcmp(dx, dx2, sizeof dx) == 0);
    dnet_free(&c.d);
    nn_params_free(&c.p);
}

int main(void)
{
    RUN(test_gradients);
    RUN(test_direction);
    RUN(test_entropy_only);
    RUN(test_fixmatch);
    RUN(test_dnet_input_grad);
    return check_summary();
}
