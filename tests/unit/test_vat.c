/* vat: the unlabelled losses' parameter gradients against finite differences (p(x) and r_adv held, as
 * the method holds them), and the float32 adversarial direction against one computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
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
    vat_net v;
    const vat_config *c;
    const float *x, *xr, *p;   /* the rows, x + r_adv and p(x), held */
} held;

/* mean_i KL(p_i || q(xr_i)) + entmin mean_i H(p(x_i)), in double */
static double held_loss(void *ctx)
{
    held *h = ctx;
    double total = 0;
    const float *l = net_forward(h->n, h->x, B);
    for (int i = 0; i < B; i++) {
        double mx = l[i * K], s = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, l[i * K + k]);
        for (int k = 0; k < K; k++) s += exp(l[i * K + k] - mx);
        for (int k = 0; k < K; k++) {
            double lp = l[i * K + k] - mx - log(s);
            total -= h->c->entmin * exp(lp) * lp;
        }
    }
    l = net_forward(h->n, h->xr, B);
    for (int i = 0; i < B; i++) {
        double mx = l[i * K], s = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, l[i * K + k]);
        for (int k = 0; k < K; k++) s += exp(l[i * K + k] - mx);
        for (int k = 0; k < K; k++) {
            double p = h->p[i * K + k];
            total += p * (log(p) - (l[i * K + k] - mx - log(s)));
        }
    }
    return total / B;
}

static void test_gradients(void)
{
    rng r;
    rng_seed(&r, 7);
    net n;
    net_init(&n, &r);
    float x[B * F];
    gc_fill(&r, x, B * F, -2.0f, 2.0f);
    vat_config c;
    vat_config_default(&c);
    c.eps = 0.8, c.entmin = 0.6, c.iters = 2;
    vat_ws w;
    error e;
    CHECK(vat_ws_alloc(&w, B, F, K, &e) == 0);
    vat_net v = {&n, F, K, net_forward, net_backward};
    nn_params_zero_grad(NULL, &n.p);
    double loss = vat_loss(&v, &c, &w, x, B, 1.0f, &r);
    float *g = malloc(n.p.total * sizeof(float)), *p = malloc(B * K * sizeof(float)), *xr = malloc(B * F * sizeof(float));
    memcpy(g, n.p.grad, n.p.total * sizeof(float));
    memcpy(p, w.p, B * K * sizeof(float));
    memcpy(xr, w.xr, B * F * sizeof(float));
    held h = {&n, v, &c, x, xr, p};
    CHECK_NEAR(held_loss(&h), loss, 1e-5);
    gc_check_layer("params", held_loss, &h, n.p.data, g, n.p.total);
    /* each row moved by eps */
    for (int i = 0; i < B; i++) {
        double sq = 0;
        for (int j = 0; j < F; j++) sq += (double)(xr[i * F + j] - x[i * F + j]) * (xr[i * F + j] - x[i * F + j]);
        CHECK_NEAR(sqrt(sq), c.eps, 1e-5);
    }
    free(g), free(p), free(xr);
    vat_ws_free(&w);
    nn_params_free(&n.p);
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
    rng r;
    rng_seed(&r, 3);
    net n;
    net_init(&n, &r);
    float x[B * F], d[B * F];
    gc_fill(&r, x, B * F, -2.0f, 2.0f);
    rng_fill_normal(&r, d, B * F);
    vat_config c;
    vat_config_default(&c);
    c.eps = 1;
    vat_ws w;
    error e;
    CHECK(vat_ws_alloc(&w, B, F, K, &e) == 0);
    vat_net v = {&n, F, K, net_forward, net_backward};
    nn_softmax_forward(w.p, net_forward(&n, x, B), B, K);
    memcpy(w.r, d, sizeof d);
    nn_params_zero_grad(NULL, &n.p);
    vat_direction(&v, &c, &w, x, B);
    for (size_t i = 0; i < n.p.total; i++) CHECK(n.p.grad[i] == 0.0f);   /* the parameters untouched */
    for (int i = 0; i < B; i++) {
        double p[K], xd[F], dn = 0, g[F], gn = 0, dot = 0;
        for (int k = 0; k < K; k++) p[k] = w.p[i * K + k];
        for (int f = 0; f < F; f++) dn += (double)d[i * F + f] * d[i * F + f];
        for (int f = 0; f < F; f++) xd[f] = x[i * F + f] + c.xi * d[i * F + f] / sqrt(dn);
        for (int f = 0; f < F; f++) {   /* central differences of KL at x + xi d */
            double keep = xd[f], step = 1e-7;
            xd[f] = keep + step;
            double up = kl_double(&n, xd, p);
            xd[f] = keep - step;
            g[f] = (up - kl_double(&n, xd, p)) / (2 * step);
            xd[f] = keep;
            gn += g[f] * g[f];
        }
        for (int f = 0; f < F; f++) dot += g[f] * w.r[i * F + f];
        CHECK(dot / sqrt(gn) > 0.999);   /* w.r has unit norm */
    }
    vat_ws_free(&w);
    nn_params_free(&n.p);
}

/* Entropy alone: no VAT pass, and a zero weight of both leaves the gradients at zero. */
static void test_entropy_only(void)
{
    rng r;
    rng_seed(&r, 5);
    net n;
    net_init(&n, &r);
    float x[B * F];
    gc_fill(&r, x, B * F, -2.0f, 2.0f);
    vat_config c;
    vat_config_default(&c);
    c.entmin = 1;
    vat_ws w;
    error e;
    CHECK(vat_ws_alloc(&w, B, F, K, &e) == 0);
    vat_net v = {&n, F, K, net_forward, net_backward};
    nn_params_zero_grad(NULL, &n.p);
    double loss = vat_loss(&v, &c, &w, x, B, 1.0f, &r);
    CHECK(loss > 0 && loss < log(K) + 1e-6);
    float *g = malloc(n.p.total * sizeof(float));
    memcpy(g, n.p.grad, n.p.total * sizeof(float));
    vat_config none = c;
    none.entmin = 0;
    float xr[B * F], p[B * K];
    memcpy(xr, x, sizeof xr);
    nn_softmax_forward(p, net_forward(&n, x, B), B, K);
    held h = {&n, v, &c, x, xr, p};   /* xr = x, p = p(x): the KL term is 0 there, its gradient too */
    gc_check_layer("entropy", held_loss, &h, n.p.data, g, n.p.total);
    nn_params_zero_grad(NULL, &n.p);
    CHECK(vat_loss(&v, &none, &w, x, B, 1.0f, &r) == 0.0);
    for (size_t i = 0; i < n.p.total; i++) CHECK(n.p.grad[i] == 0.0f);
    free(g);
    vat_ws_free(&w);
    nn_params_free(&n.p);
}

int main(void)
{
    RUN(test_gradients);
    RUN(test_direction);
    RUN(test_entropy_only);
    return check_summary();
}
