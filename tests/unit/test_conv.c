/* Tests of lib/conv: the forward against a direct (six-loop) convolution, finite-difference gradient
 * checks of the convolution (w.r.t. x, w, b) for strides 1 and 2, padding 0 and > 0, several
 * channels, non-square images and batches split into several products; of the weight-normalised convolution (w.r.t. x, v, g, b); of the
 * global mean pool; of the transposed convolution (w.r.t. x, w, b; its forward is the
 * convolution's adjoint). The loss is sum c * softplus(y), so every gradient is a nonlinear one; parameter
 * gradients start at 1 to check that they accumulate, input gradients at garbage to check that they
 * are overwritten. gradcheck.h's layer tolerance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conv.h"
#include "gradcheck.h"
#include "nn.h"
#include "norm.h"
#include "rng.h"

enum { NB = 2 };   /* images per batch */

typedef struct conv_ctx {
    conv_shape s;
    int wn;                                  /* 1: w = g v / ||v|| */
    float *x, *w, *v, *g, *vnorm, *b, *c;    /* input, weights, bias, loss weights */
    float *y, *col, *ws;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *d = p;
    if (d->wn) norm_wn_weight(NULL, d->w, d->vnorm, d->v, d->g, conv_patch(&d->s), d->s.K);
    conv_forward(NULL, d->y, d->col, d->ws, d->x, d->w, d->b, NB, &d->s);
    size_t n = NB * conv_out_size(&d->s);
    nn_act_forward(d->y, d->y, n, NN_ACT_SOFTPLUS);
    double t = 0;
    for (size_t i = 0; i < n; i++) t += (double)d->c[i] * d->y[i];
    return t;
}

static float *fill(rng *r, size_t n, float scale)
{
    float *a = malloc(n * sizeof(float));
    gc_fill_sym(r, a, n, scale);
    return a;
}

static void ctx_init(conv_ctx *d, int C, int H, int W, int K, int k, int stride, int pad, int wn, rng *r)
{
    memset(d, 0, sizeof *d);
    CHECK(conv_shape_set(&d->s, C, H, W, K, k, stride, pad) == 0);
    size_t nw = (size_t)K * conv_patch(&d->s);
    d->wn = wn;
    d->x = fill(r, NB * conv_in_size(&d->s), 1.0f);
    d->w = fill(r, nw, 0.5f);
    d->v = fill(r, nw, 1.0f);
    d->g = fill(r, (size_t)K, 0.5f);
    for (int j = 0; j < K; j++) d->g[j] += 1.0f;
    d->vnorm = fill(r, (size_t)K, 1.0f);
    d->b = fill(r, (size_t)K, 0.5f);
    d->c = fill(r, NB * conv_out_size(&d->s), 1.0f);
    d->y = fill(r, NB * conv_out_size(&d->s), 1.0f);
    d->col = fill(r, NB * conv_col_size(&d->s), 1.0f);
    d->ws = fill(r, conv_ws_size(&d->s, NB), 1.0f);
}

static void ctx_free(conv_ctx *d)
{
    free(d->x), free(d->w), free(d->v), free(d->g), free(d->vnorm), free(d->b), free(d->c), free(d->y), free(d->col), free(d->ws);
}

/* y[i, o, oh, ow] = b_o + sum_{c, ki, kj} w[o, c, ki, kj] x[i, c, oh s - p + ki, ow s - p + kj] */
static void direct_conv(float *y, const float *x, const float *w, const float *b, const conv_shape *s)
{
    for (int i = 0; i < NB; i++)
        for (int o = 0; o < s->K; o++)
            for (int oh = 0; oh < s->OH; oh++)
                for (int ow = 0; ow < s->OW; ow++) {
                    double t = b[o];
                    for (int c = 0; c < s->C; c++)
                        for (int ki = 0; ki < s->k; ki++)
                            for (int kj = 0; kj < s->k; kj++) {
                                int ih = oh * s->stride - s->pad + ki, iw = ow * s->stride - s->pad + kj;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                t += (double)w[((o * s->C + c) * s->k + ki) * s->k + kj] *
                                     x[((size_t)(i * s->C + c) * s->H + ih) * s->W + iw];
                            }
                    y[((size_t)(i * s->K + o) * s->OH + oh) * s->OW + ow] = (float)t;
                }
}

static void check_forward(int C, int H, int W, int K, int k, int stride, int pad)
{
    rng r;
    rng_seed(&r, 100 + k * 10 + stride + pad);
    conv_ctx d;
    ctx_init(&d, C, H, W, K, k, stride, pad, 0, &r);
    size_t n = NB * conv_out_size(&d.s);
    float *want = malloc(n * sizeof(float));
    direct_conv(want, d.x, d.w, d.b, &d.s);
    conv_forward(NULL, d.y, d.col, d.ws, d.x, d.w, d.b, NB, &d.s);
    for (size_t i = 0; i < n; i++) CHECK_NEAR(d.y[i], want[i], 1e-5);
    free(want);
    ctx_free(&d);
}

static void test_shape(void)
{
    conv_shape s;
    CHECK(conv_shape_set(&s, 1, 28, 28, 32, 5, 2, 2) == 0);
    CHECK(s.OH == 14 && s.OW == 14);
    CHECK(conv_shape_set(&s, 32, 14, 14, 64, 3, 2, 1) == 0);
    CHECK(s.OH == 7 && s.OW == 7);
    CHECK(conv_shape_set(&s, 1, 7, 5, 2, 3, 1, 0) == 0);
    CHECK(s.OH == 5 && s.OW == 3);
    CHECK(conv_shape_set(&s, 1, 2, 2, 2, 5, 1, 1) == -1);   /* kernel larger than the padded image */
    CHECK(conv_shape_set(&s, 1, 4, 4, 2, 3, 0, 1) == -1);   /* stride 0 */
    CHECK(conv_shape_set(&s, 0, 4, 4, 2, 3, 1, 1) == -1);   /* no channels */
}

static void test_forward(void)
{
    check_forward(1, 5, 5, 2, 3, 1, 0);
    check_forward(2, 6, 7, 3, 3, 1, 1);
    check_forward(3, 7, 6, 2, 3, 2, 1);
    check_forward(2, 8, 8, 4, 5, 2, 2);
    check_forward(2, 5, 4, 3, 2, 3, 0);
    check_forward(1, 3, 3, 2, 5, 1, 2);   /* the kernel sees more padding than image */
    check_forward(2, 33, 33, 3, 3, 1, 1);  /* 1089 pixels: one image per product (conv_chunk) */
}

/* Gradients of the plain (wn = 0) or weight-normalised (wn = 1) convolution. */
static void check_grad(int C, int H, int W, int K, int k, int stride, int pad, int wn)
{
    rng r;
    rng_seed(&r, 200 + C + k * 10 + stride * 100 + pad + wn * 1000);
    conv_ctx d;
    ctx_init(&d, C, H, W, K, k, stride, pad, wn, &r);
    size_t nin = NB * conv_in_size(&d.s), nout = NB * conv_out_size(&d.s), nw = (size_t)K * conv_patch(&d.s);
    conv_loss(&d);
    float *dy = malloc(nout * sizeof(float)), *dx = fill(&r, nin, 9.0f), *dw = malloc(nw * sizeof(float));
    float *dv = malloc(nw * sizeof(float)), *dg = malloc(K * sizeof(float)), *db = malloc(K * sizeof(float));
    nn_act_backward(dy, d.c, d.y, nout, NN_ACT_SOFTPLUS);
    for (size_t i = 0; i < nw; i++) dw[i] = dv[i] = 1.0f;
    for (int j = 0; j < K; j++) dg[j] = db[j] = 1.0f;
    size_t ld = NB * (size_t)d.s.OH * d.s.OW;
    if (wn)
        conv_wn_backward(NULL, dx, dv, dg, db, dw, d.ws, dy, d.col, ld, d.w, d.v, d.g, d.vnorm, NB, &d.s);
    else
        conv_backward(NULL, dx, dw, db, d.ws, dy, d.col, ld, d.w, NB, &d.s);
    float *dp = wn ? dv : dw;
    for (size_t i = 0; i < nw; i++) dp[i] -= 1.0f;
    for (int j = 0; j < K; j++) dg[j] -= 1.0f, db[j] -= 1.0f;
    CHECK(gc_check_layer("conv.x", conv_loss, &d, d.x, dx, nin) == 0);
    CHECK(gc_check_layer(wn ? "conv.v" : "conv.w", conv_loss, &d, wn ? d.v : d.w, dp, nw) == 0);
    CHECK(gc_check_layer("conv.b", conv_loss, &d, d.b, db, (size_t)K) == 0);
    if (wn) CHECK(gc_check_layer("conv.g", conv_loss, &d, d.g, dg, (size_t)K) == 0);
    free(dy), free(dx), free(dw), free(dv), free(dg), free(db);
    ctx_free(&d);
}

static void test_grad_stride1_pad0(void) { check_grad(2, 5, 6, 3, 3, 1, 0, 0); }
static void test_grad_stride1_pad1(void) { check_grad(3, 6, 5, 2, 3, 1, 1, 0); }
static void test_grad_stride2_pad0(void) { check_grad(2, 7, 7, 3, 3, 2, 0, 0); }
static void test_grad_stride2_pad2(void) { check_grad(2, 8, 7, 4, 5, 2, 2, 0); }
static void test_grad_kernel1(void) { check_grad(4, 3, 4, 2, 1, 1, 0, 0); }
static void test_grad_chunks(void) { check_grad(1, 33, 33, 2, 3, 1, 1, 0); }   /* a product per image */
static void test_wn_grad_stride1(void) { check_grad(2, 6, 6, 3, 3, 1, 1, 1); }
static void test_wn_grad_stride2(void) { check_grad(3, 8, 8, 2, 5, 2, 2, 1); }

/* The optional gradients are independent of each other; and a backward over the second image
 * alone, from the patches of a forward over both (col offset, ld of two images), equals the
 * backward after a forward over that image alone. */
static void test_optional_grads(void)
{
    rng r;
    rng_seed(&r, 7);
    conv_ctx d;
    ctx_init(&d, 2, 5, 5, 3, 3, 2, 1, 0, &r);
    size_t in = conv_in_size(&d.s), out = conv_out_size(&d.s), nw = 3 * (size_t)conv_patch(&d.s);
    size_t P = (size_t)d.s.OH * d.s.OW;
    float *dy = fill(&r, NB * out, 1.0f), *dx1 = malloc(NB * in * sizeof(float)), *dx2 = malloc(NB * in * sizeof(float));
    float *dw1 = calloc(nw, sizeof(float)), *dw2 = calloc(nw, sizeof(float));
    float db1[3] = {0}, db2[3] = {0};
    conv_forward(NULL, d.y, d.col, d.ws, d.x, d.w, d.b, NB, &d.s);
    conv_backward(NULL, dx1, NULL, db1, d.ws, dy, d.col, NB * P, d.w, NB, &d.s);
    conv_backward(NULL, dx2, NULL, NULL, d.ws, dy, d.col, NB * P, d.w, NB, &d.s);
    conv_backward(NULL, NULL, NULL, db2, d.ws, dy, d.col, NB * P, d.w, NB, &d.s);
    for (size_t i = 0; i < NB * in; i++) CHECK(dx1[i] == dx2[i]);
    for (int j = 0; j < 3; j++) CHECK(db1[j] == db2[j]);
    /* the second image from the two-image forward ... */
    conv_backward(NULL, dx1, dw1, NULL, d.ws, dy + out, d.col + P, NB * P, d.w, 1, &d.s);
    /* ... and from its own forward */
    conv_forward(NULL, d.y, d.col, d.ws, d.x + in, d.w, d.b, 1, &d.s);
    conv_backward(NULL, dx2, dw2, NULL, d.ws, dy + out, d.col, P, d.w, 1, &d.s);
    for (size_t i = 0; i < in; i++) CHECK_NEAR(dx1[i], dx2[i], 1e-6);
    for (size_t i = 0; i < nw; i++) CHECK_NEAR(dw1[i], dw2[i], 1e-5);
    free(dy), free(dx1), free(dx2), free(dw1), free(dw2);
    ctx_free(&d);
}

/* ---- transposed convolution: loss = sum c * softplus(conv_t(x)) ---- */

typedef struct convt_ctx {
    conv_shape s;
    float *x, *w, *b, *c, *y, *col, *ws;   /* x (NB, K, OH, OW), y (NB, C, H, W) */
} convt_ctx;

static double convt_loss(void *p)
{
    convt_ctx *d = p;
    conv_t_forward(NULL, d->y, d->ws, d->x, d->w, d->b, NB, &d->s);
    size_t n = NB * conv_in_size(&d->s);
    nn_act_forward(d->y, d->y, n, NN_ACT_SOFTPLUS);
    double t = 0;
    for (size_t i = 0; i < n; i++) t += (double)d->c[i] * d->y[i];
    return t;
}

/* From K x h x w to C x H x W. */
static void convt_init(convt_ctx *d, int K, int h, int w, int C, int H, int W, int k, int stride, int pad, rng *r)
{
    memset(d, 0, sizeof *d);
    CHECK(conv_t_shape_set(&d->s, K, h, w, C, H, W, k, stride, pad) == 0);
    d->x = fill(r, NB * conv_out_size(&d->s), 1.0f);
    d->w = fill(r, (size_t)K * conv_patch(&d->s), 0.5f);
    d->b = fill(r, (size_t)C, 0.5f);
    d->c = fill(r, NB * conv_in_size(&d->s), 1.0f);
    d->y = fill(r, NB * conv_in_size(&d->s), 1.0f);
    d->col = fill(r, NB * conv_col_size(&d->s), 1.0f);
    d->ws = fill(r, conv_ws_size(&d->s, NB), 1.0f);
}

static void convt_free(convt_ctx *d) { free(d->x), free(d->w), free(d->b), free(d->c), free(d->y), free(d->col), free(d->ws); }

static void test_t_shape(void)
{
    conv_shape s;
    CHECK(conv_t_shape_set(&s, 64, 7, 7, 32, 14, 14, 5, 2, 2) == 0);
    CHECK(s.C == 32 && s.K == 64 && s.OH == 7 && s.H == 14);
    CHECK(conv_t_shape_set(&s, 32, 14, 14, 1, 28, 28, 5, 2, 2) == 0);
    CHECK(conv_t_shape_set(&s, 2, 7, 7, 1, 13, 13, 5, 2, 2) == 0);   /* 13 -> 7 as well */
    CHECK(conv_t_shape_set(&s, 2, 7, 7, 1, 16, 16, 5, 2, 2) == -1);  /* 16 -> 8 */
    CHECK(conv_t_shape_set(&s, 2, 7, 7, 1, 14, 14, 9, 1, 0) == -1);  /* 14 -> 6 */
}

/* <conv(u), x> = <u, conv_t(x)>: the transposed convolution is the convolution's adjoint. */
static void check_t_adjoint(int K, int h, int w, int C, int H, int W, int k, int stride, int pad)
{
    rng r;
    rng_seed(&r, 300 + k + stride * 10 + pad * 100);
    convt_ctx d;
    convt_init(&d, K, h, w, C, H, W, k, stride, pad, &r);
    size_t nin = NB * conv_in_size(&d.s), nout = NB * conv_out_size(&d.s);
    float *u = fill(&r, nin, 1.0f), *cu = malloc(nout * sizeof(float));
    conv_forward(NULL, cu, d.col, d.ws, u, d.w, NULL, NB, &d.s);
    conv_t_forward(NULL, d.y, d.ws, d.x, d.w, NULL, NB, &d.s);
    double a = 0, b = 0;
    for (size_t i = 0; i < nout; i++) a += (double)cu[i] * d.x[i];
    for (size_t i = 0; i < nin; i++) b += (double)u[i] * d.y[i];
    CHECK_NEAR(a, b, 1e-4 * (1 + fabs(a)));
    free(u), free(cu);
    convt_free(&d);
}

static void test_t_adjoint(void)
{
    check_t_adjoint(3, 4, 4, 2, 8, 8, 5, 2, 2);
    check_t_adjoint(2, 5, 3, 3, 5, 3, 3, 1, 1);
    check_t_adjoint(2, 3, 4, 1, 7, 9, 3, 2, 0);
}

static void check_t_grad(int K, int h, int w, int C, int H, int W, int k, int stride, int pad)
{
    rng r;
    rng_seed(&r, 400 + K + k * 10 + stride * 100 + pad);
    convt_ctx d;
    convt_init(&d, K, h, w, C, H, W, k, stride, pad, &r);
    size_t nx = NB * conv_out_size(&d.s), ny = NB * conv_in_size(&d.s), nw = (size_t)K * conv_patch(&d.s);
    convt_loss(&d);
    float *dy = malloc(ny * sizeof(float)), *dx = fill(&r, nx, 9.0f), *dw = malloc(nw * sizeof(float));
    float *db = malloc((size_t)C * sizeof(float));
    nn_act_backward(dy, d.c, d.y, ny, NN_ACT_SOFTPLUS);
    for (size_t i = 0; i < nw; i++) dw[i] = 1.0f;
    for (int j = 0; j < C; j++) db[j] = 1.0f;
    conv_t_backward(NULL, dx, dw, db, d.col, d.ws, dy, d.x, d.w, NB, &d.s);
    for (size_t i = 0; i < nw; i++) dw[i] -= 1.0f;
    for (int j = 0; j < C; j++) db[j] -= 1.0f;
    CHECK(gc_check_layer("convt.x", convt_loss, &d, d.x, dx, nx) == 0);
    CHECK(gc_check_layer("convt.w", convt_loss, &d, d.w, dw, nw) == 0);
    CHECK(gc_check_layer("convt.b", convt_loss, &d, d.b, db, (size_t)C) == 0);
    /* dx = NULL gives the same dw */
    float *dw2 = calloc(nw, sizeof(float));
    conv_t_backward(NULL, NULL, dw2, NULL, d.col, d.ws, dy, d.x, d.w, NB, &d.s);
    for (size_t i = 0; i < nw; i++) CHECK_NEAR(dw2[i], dw[i], 1e-5 * (1 + fabs(dw[i])));
    free(dy), free(dx), free(dw), free(dw2), free(db);
    convt_free(&d);
}

static void test_t_grad_stride1_pad1(void) { check_t_grad(2, 5, 4, 3, 5, 4, 3, 1, 1); }
static void test_t_grad_stride1_pad0(void) { check_t_grad(3, 3, 4, 2, 5, 6, 3, 1, 0); }
static void test_t_grad_stride2_pad2(void) { check_t_grad(3, 3, 4, 2, 6, 8, 5, 2, 2); }
static void test_t_grad_stride2_pad1(void) { check_t_grad(2, 4, 3, 3, 7, 5, 3, 2, 1); }
static void test_t_grad_chunks(void) { check_t_grad(2, 33, 33, 1, 33, 33, 3, 1, 1); }   /* a product per image */

/* ---- global mean pool: loss = sum c * softplus(pool(x)) ---- */

enum { PC = 3, PP = 5 };

typedef struct pool_ctx {
    float x[NB * PC * PP], y[NB * PC], c[NB * PC];
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *d = p;
    conv_gpool_forward(d->y, d->x, NB, PC, PP);
    nn_act_forward(d->y, d->y, NB * PC, NN_ACT_SOFTPLUS);
    double t = 0;
    for (int i = 0; i < NB * PC; i++) t += (double)d->c[i] * d->y[i];
    return t;
}

static void test_gpool(void)
{
    rng r;
    rng_seed(&r, 9);
    pool_ctx d;
    gc_fill_sym(&r, d.x, NB * PC * PP, 2.0f);
    gc_fill_sym(&r, d.c, NB * PC, 1.0f);
    pool_loss(&d);
    float dy[NB * PC], dx[NB * PC * PP];
    nn_act_backward(dy, d.c, d.y, NB * PC, NN_ACT_SOFTPLUS);
    conv_gpool_backward(dx, dy, NB, PC, PP);
    CHECK(gc_check_layer("gpool.x", pool_loss, &d, d.x, dx, NB * PC * PP) == 0);
    /* the forward is the mean */
    conv_gpool_forward(d.y, d.x, NB, PC, PP);
    double t = 0;
    for (int p = 0; p < PP; p++) t += d.x[PC * PP + p];
    CHECK_NEAR(d.y[PC], t / PP, 1e-6);
}

/* Layer specs as text: parsed, formatted back, planned on an image; malformed ones refused. */
static void test_spec(void)
{
    conv_layer l[CONV_MAX_LAYERS];
    int n;
    error e;
    char buf[64];
    CHECK(conv_spec_parse(l, &n, "32:5:2,64:3:1", &e) == 0 && n == 2 && l[1].channels == 64 && l[0].kernel == 5);
    conv_spec_format(l, n, buf, sizeof buf);
    CHECK(strcmp(buf, "32:5:2,64:3:1") == 0);
    conv_shape cs[CONV_MAX_LAYERS];
    CHECK(conv_spec_plan(cs, l, n, 2, 28, 20, &e) == 0);   /* 28 x 20 -> 14 x 10 (pad 2), then stride 1 pad 1 */
    CHECK(cs[0].C == 2 && cs[0].pad == 2 && cs[0].OH == 14 && cs[0].OW == 10);
    CHECK(cs[1].C == 32 && cs[1].K == 64 && cs[1].pad == 1 && cs[1].OH == 14 && cs[1].OW == 10);
    CHECK(conv_spec_parse(l, &n, "4:3:2,4:3:2,4:3:1", &e) == 0);
    CHECK(conv_spec_plan(cs, l, n, 1, 8, 8, &e) == -1 && strstr(e.msg, "layer 3 (kernel 3) sees a 2 x 2 input"));
    const char *bad[] = {"", "8:3", "8:4:1", "8:3:0", "0:3:1", "8:3:1,", "8:3:1x", "abc",
                         "1:1:1,1:1:1,1:1:1,1:1:1,1:1:1,1:1:1,1:1:1,1:1:1,1:1:1"};   /* 9 layers */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(conv_spec_parse(l, &n, bad[i], &e) == -1);
    CHECK(conv_spec_parse(l, &n, "8:3", &e) == -1 && strstr(e.msg, "channels:kernel:stride"));
}

int main(void)
{
    RUN(test_spec);
    RUN(test_shape);
    RUN(test_forward);
    RUN(test_grad_stride1_pad0);
    RUN(test_grad_stride1_pad1);
    RUN(test_grad_stride2_pad0);
    RUN(test_grad_stride2_pad2);
    RUN(test_grad_kernel1);
    RUN(test_grad_chunks);
    RUN(test_wn_grad_stride1);
    RUN(test_wn_grad_stride2);
    RUN(test_optional_grads);
    RUN(test_gpool);
    RUN(test_t_shape);
    RUN(test_t_adjoint);
    RUN(test_t_grad_stride1_pad1);
    RUN(test_t_grad_stride1_pad0);
    RUN(test_t_grad_stride2_pad2);
    RUN(test_t_grad_stride2_pad1);
    RUN(test_t_grad_chunks);
    return check_summary();
}
