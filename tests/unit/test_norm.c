/* Gradient checks for lib/norm: weight-normalised dense (w.r.t. v, g, b and the input), batch norm
 * in training mode (w.r.t. x, gamma, beta), the noise layer with fixed noise; plus the inference
 * mode of batch norm and the moments of the Gaussian generator; the fused noise (the same draws)
 * and the vectorised softplus (gradient and accuracy against libm). The checks use gradcheck.h's layer
 * tolerance (gc_check_layer), as test_nn.c does. ReLU pre-activations are kept away from 0. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "gradcheck.h"
#include "norm.h"
#include "rng.h"

static double weighted_sum(const float *c, const float *y, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)c[i] * y[i];
    return s;
}

/* ---- weight norm: loss = sum c * act(x W(v, g)^T + b) ---- */

enum { B = 4, IN = 5, OUT = 3, C = 6 };

typedef struct wn_ctx {
    float x[B * IN], v[OUT * IN], g[OUT], b[OUT], c[B * OUT];
    float w[OUT * IN], vnorm[OUT], y[B * OUT];
    nn_act a;
} wn_ctx;

static double wn_loss(void *p)
{
    wn_ctx *d = p;
    norm_wn_weight(NULL, d->w, d->vnorm, d->v, d->g, IN, OUT);
    nn_dense_forward(NULL, d->y, d->x, d->w, d->b, B, IN, OUT, d->a);
    return weighted_sum(d->c, d->y, B * OUT);
}

static void check_wn(nn_act a)
{
    rng r;
    rng_seed(&r, 20 + a);
    wn_ctx d;
    d.a = a;
    gc_fill_sym(&r, d.x, B * IN, 1.0f);
    gc_fill_sym(&r, d.v, OUT * IN, 1.0f);
    for (int j = 0; j < OUT; j++) d.g[j] = 0.5f + rng_uniform(&r);
    gc_fill_sym(&r, d.b, OUT, 0.5f);
    gc_fill_sym(&r, d.c, B * OUT, 1.0f);
    for (int again = 1; a == NN_ACT_RELU && again;) {
        float pre[B * OUT];
        norm_wn_weight(NULL, d.w, d.vnorm, d.v, d.g, IN, OUT);
        nn_dense_forward(NULL, pre, d.x, d.w, d.b, B, IN, OUT, NN_ACT_NONE);
        again = 0;
        for (int i = 0; i < B * OUT; i++)
            if (fabsf(pre[i]) < 0.05f) d.b[i % OUT] += 0.13f, again = 1;
    }
    wn_loss(&d);
    float dy[B * OUT], dx[B * IN], dv[OUT * IN], dg[OUT], db[OUT], dw[OUT * IN];
    memcpy(dy, d.c, sizeof dy);
    /* accumulation: start the parameter gradients at 1 and subtract it afterwards */
    for (int i = 0; i < OUT * IN; i++) dv[i] = 1.0f;
    for (int j = 0; j < OUT; j++) dg[j] = db[j] = 1.0f;
    norm_wn_backward(NULL, dx, dv, dg, db, dw, dy, d.x, d.w, d.v, d.g, d.vnorm, d.y, B, IN, OUT, a);
    for (int i = 0; i < OUT * IN; i++) dv[i] -= 1.0f;
    for (int j = 0; j < OUT; j++) dg[j] -= 1.0f, db[j] -= 1.0f;
    gc_check_layer("wn.x", wn_loss, &d, d.x, dx, B * IN);
    gc_check_layer("wn.v", wn_loss, &d, d.v, dv, OUT * IN);
    gc_check_layer("wn.g", wn_loss, &d, d.g, dg, OUT);
    gc_check_layer("wn.b", wn_loss, &d, d.b, db, OUT);
    /* the weight has norm |g| per row */
    for (int j = 0; j < OUT; j++) {
        double s = 0;
        for (int i = 0; i < IN; i++) s += (double)d.w[j * IN + i] * d.w[j * IN + i];
        CHECK_NEAR(sqrt(s), fabsf(d.g[j]), 1e-5);
    }
}

static void test_wn_none(void) { check_wn(NN_ACT_NONE); }
static void test_wn_relu(void) { check_wn(NN_ACT_RELU); }
static void test_wn_sigmoid(void) { check_wn(NN_ACT_SIGMOID); }

/* ---- batch norm (training mode): loss = sum c * softplus(bn(x)) ---- */

typedef struct bn_ctx {
    float x[B * C], gamma[C], beta[C], c[B * C];
    float y[B * C], xhat[B * C], istd[C];
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *d = p;
    norm_bn_forward_train(d->y, d->xhat, d->istd, d->x, d->gamma, d->beta, NULL, NULL, 0.1f, B, C);
    nn_act_forward(d->y, d->y, B * C, NN_ACT_SOFTPLUS);
    return weighted_sum(d->c, d->y, B * C);
}

static void test_bn_train(void)
{
    rng r;
    rng_seed(&r, 31);
    bn_ctx d;
    gc_fill_sym(&r, d.x, B * C, 2.0f);
    for (int j = 0; j < C; j++) d.gamma[j] = 0.5f + rng_uniform(&r);
    gc_fill_sym(&r, d.beta, C, 0.5f);
    gc_fill_sym(&r, d.c, B * C, 1.0f);
    bn_loss(&d);
    float dy[B * C], dx[B * C], dgamma[C] = {0}, dbeta[C] = {0};
    nn_act_backward(dy, d.c, d.y, B * C, NN_ACT_SOFTPLUS);
    norm_bn_backward(dx, dgamma, dbeta, dy, d.xhat, d.istd, d.gamma, B, C);
    gc_check_layer("bn.x", bn_loss, &d, d.x, dx, B * C);
    gc_check_layer("bn.gamma", bn_loss, &d, d.gamma, dgamma, C);
    gc_check_layer("bn.beta", bn_loss, &d, d.beta, dbeta, C);
    /* dx may equal dy (forward again: the checks left the buffers at a perturbed point) */
    bn_loss(&d);
    norm_bn_backward(dx, NULL, NULL, dy, d.xhat, d.istd, d.gamma, B, C);
    nn_act_backward(dy, d.c, d.y, B * C, NN_ACT_SOFTPLUS);
    norm_bn_backward(dy, NULL, NULL, dy, d.xhat, d.istd, d.gamma, B, C);
    for (int i = 0; i < B * C; i++) CHECK_NEAR(dy[i], dx[i], 1e-6);
}

/* ---- batch norm over channels: loss = sum c * softplus(bn2d(x)), x (B2, C2, P2) ---- */

enum { B2 = 3, C2 = 2, P2 = 5, N2 = B2 * C2 * P2 };

typedef struct bn2d_ctx {
    float x[N2], gamma[C2], beta[C2], c[N2];
    float y[N2], xhat[N2], istd[C2], t[N2];
} bn2d_ctx;

static double bn2d_loss(void *p)
{
    bn2d_ctx *d = p;
    norm_bn2d_forward_train(d->y, d->xhat, d->istd, d->t, d->x, d->gamma, d->beta, NULL, NULL, 0.1f, B2, C2, P2);
    nn_act_forward(d->y, d->y, N2, NN_ACT_SOFTPLUS);
    return weighted_sum(d->c, d->y, N2);
}

static void test_bn2d_train(void)
{
    rng r;
    rng_seed(&r, 33);
    bn2d_ctx d;
    gc_fill_sym(&r, d.x, N2, 2.0f);
    for (int j = 0; j < C2; j++) d.gamma[j] = 0.5f + rng_uniform(&r);
    gc_fill_sym(&r, d.beta, C2, 0.5f);
    gc_fill_sym(&r, d.c, N2, 1.0f);
    bn2d_loss(&d);
    float dy[N2], dx[N2], dgamma[C2] = {0}, dbeta[C2] = {0};
    nn_act_backward(dy, d.c, d.y, N2, NN_ACT_SOFTPLUS);
    norm_bn2d_backward(dx, dgamma, dbeta, d.t, dy, d.xhat, d.istd, d.gamma, B2, C2, P2);
    CHECK(gc_check_layer("bn2d.x", bn2d_loss, &d, d.x, dx, N2) == 0);
    CHECK(gc_check_layer("bn2d.gamma", bn2d_loss, &d, d.gamma, dgamma, C2) == 0);
    CHECK(gc_check_layer("bn2d.beta", bn2d_loss, &d, d.beta, dbeta, C2) == 0);
    /* per channel, the B2 P2 outputs have mean beta and (biased) sd gamma */
    bn2d_loss(&d);
    norm_bn2d_forward_train(d.y, d.xhat, d.istd, d.t, d.x, d.gamma, d.beta, NULL, NULL, 0.1f, B2, C2, P2);
    for (int c = 0; c < C2; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < B2; i++)
            for (int p = 0; p < P2; p++) m += d.y[(i * C2 + c) * P2 + p];
        m /= B2 * P2;
        for (int i = 0; i < B2; i++)
            for (int p = 0; p < P2; p++) v += pow(d.y[(i * C2 + c) * P2 + p] - m, 2);
        CHECK_NEAR(m, d.beta[c], 1e-5);
        CHECK_NEAR(sqrt(v / (B2 * P2)), fabs(d.gamma[c]), 1e-3);
    }
    /* inference with the batch's statistics (momentum 1, variance back to biased) gives the same */
    float rm[C2] = {0}, rv[C2] = {0}, ye[N2];
    norm_bn2d_forward_train(d.y, d.xhat, d.istd, d.t, d.x, d.gamma, d.beta, rm, rv, 1.0f, B2, C2, P2);
    for (int c = 0; c < C2; c++) rv[c] = rv[c] * (B2 * P2 - 1) / (B2 * P2);
    norm_bn2d_forward_eval(ye, d.t, d.x, d.gamma, d.beta, rm, rv, B2, C2, P2);
    for (int i = 0; i < N2; i++) CHECK_NEAR(ye[i], d.y[i], 1e-4);
}

/* With momentum 1 the running statistics are the batch's (variance unbiased), so inference mode
 * reproduces training mode up to the B/(B-1) variance factor; with momentum 0 they do not move. */
static void test_bn_eval(void)
{
    rng r;
    rng_seed(&r, 32);
    float x[B * C], gamma[C], beta[C], y[B * C], xhat[B * C], istd[C], ye[B * C];
    float rm[C], rv[C];
    gc_fill_sym(&r, x, B * C, 2.0f);
    gc_fill_sym(&r, gamma, C, 1.0f);
    gc_fill_sym(&r, beta, C, 1.0f);
    for (int j = 0; j < C; j++) rm[j] = 7.0f, rv[j] = 3.0f;
    norm_bn_forward_train(y, xhat, istd, x, gamma, beta, rm, rv, 0.0f, B, C);
    for (int j = 0; j < C; j++) CHECK(rm[j] == 7.0f && rv[j] == 3.0f);
    norm_bn_forward_train(y, xhat, istd, x, gamma, beta, rm, rv, 1.0f, B, C);
    for (int j = 0; j < C; j++) rv[j] = rv[j] * (B - 1) / B;   /* back to the biased variance */
    norm_bn_forward_eval(ye, x, gamma, beta, rm, rv, B, C);
    for (int i = 0; i < B * C; i++) CHECK_NEAR(ye[i], y[i], 1e-4);
    /* each column of xhat has mean 0 and variance ~1 */
    for (int j = 0; j < C; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < B; i++) m += xhat[i * C + j];
        for (int i = 0; i < B; i++) v += (double)xhat[i * C + j] * xhat[i * C + j];
        CHECK_NEAR(m / B, 0.0, 1e-5);
        CHECK_NEAR(v / B, 1.0, 1e-3);
    }
}

/* ---- noise with fixed eps: loss = sum c * tanh(x + sigma eps) ---- */

typedef struct noise_ctx {
    float x[B * C], eps[B * C], c[B * C], y[B * C];
} noise_ctx;

static double noise_loss(void *p)
{
    noise_ctx *d = p;
    norm_noise_forward(d->y, d->x, d->eps, 0.5f, B * C);
    nn_act_forward(d->y, d->y, B * C, NN_ACT_TANH);
    return weighted_sum(d->c, d->y, B * C);
}

static void test_noise(void)
{
    rng r;
    rng_seed(&r, 33);
    noise_ctx d;
    gc_fill_sym(&r, d.x, B * C, 1.0f);
    norm_gauss_fill(d.eps, B * C, &r);
    gc_fill_sym(&r, d.c, B * C, 1.0f);
    noise_loss(&d);
    float dy[B * C], dx[B * C];
    nn_act_backward(dy, d.c, d.y, B * C, NN_ACT_TANH);
    norm_noise_backward(dx, dy, B * C);
    gc_check_layer("noise.x", noise_loss, &d, d.x, dx, B * C);
    /* the noise really is added */
    float y0[B * C];
    norm_noise_forward(y0, d.x, d.eps, 0.5f, B * C);
    for (int i = 0; i < B * C; i++) CHECK_NEAR(y0[i], d.x[i] + 0.5f * d.eps[i], 1e-6);
}

/* N(0, 1) on 200000 draws: mean within 0.01, variance within 0.02, kurtosis 3 within 0.1
 * (standard errors 0.0022, 0.0032, 0.011); the tails: P(|x| > 3) = 0.0027 within 0.0005 (sd
 * 0.00012) and P(|x| > 3.5) = 0.000465 within 0.0002 (beyond the ziggurat's base, sd 0.00005);
 * P(x < -1) = 0.1587 within 0.004; and the same seed gives the same draws. */
static void test_gauss(void)
{
    enum { N = 200000 };
    static float e[N], f[N];
    rng r;
    rng_seed(&r, 34);
    norm_gauss_fill(e, N, &r);
    double m = 0, v = 0, k = 0;
    for (int i = 0; i < N; i++) m += e[i];
    m /= N;
    for (int i = 0; i < N; i++) {
        double d = e[i] - m;
        v += d * d;
        k += d * d * d * d;
    }
    v /= N;
    k /= N * v * v;
    int t3 = 0, t35 = 0, lo = 0;
    for (int i = 0; i < N; i++) t3 += fabsf(e[i]) > 3.0f, t35 += fabsf(e[i]) > 3.5f, lo += e[i] < -1.0f;
    CHECK_NEAR((double)t3 / N, 0.0027, 0.0005);
    CHECK_NEAR((double)t35 / N, 0.000465, 0.0002);
    CHECK_NEAR((double)lo / N, 0.1587, 0.004);
    CHECK_NEAR(m, 0.0, 0.01);
    CHECK_NEAR(v, 1.0, 0.02);
    CHECK_NEAR(k, 3.0, 0.1);
    rng_seed(&r, 34);
    norm_gauss_fill(f, N, &r);
    CHECK(memcmp(e, f, sizeof e) == 0);
    /* the draws are those the one-value-at-a-time ziggurat gave (the FNV-1a hash of the values and the
     * generator's next word, recorded with that code before the two-at-a-time fast path), and do not
     * depend on how many are asked at once (odd counts end on half a 64-bit draw) */
    uint32_t h = 2166136261u;
    const unsigned char *p = (const unsigned char *)e;
    for (size_t i = 0; i < sizeof e; i++) h = (h ^ p[i]) * 16777619u;
    CHECK(h == 0xcad44634u);
    CHECK(rng_u64(&r) == 0x14062b82944bbeeaull);
    for (int n = 1; n <= 9; n += 2) {
        rng_seed(&r, 34);
        norm_gauss_fill(f, (size_t)n * 1001, &r);
        CHECK(memcmp(e, f, (size_t)n * 1001 * sizeof(float)) == 0);
    }
}

/* norm_noise_add = norm_gauss_fill then norm_noise_forward, bit for bit, in place too */
static void test_noise_add(void)
{
    enum { N = 1003 };
    static float x[N], e[N], y0[N], y1[N];
    rng r;
    rng_seed(&r, 35);
    gc_fill_sym(&r, x, N, 1.0f);
    rng a = r, b = r;
    norm_gauss_fill(e, N, &a);
    norm_noise_forward(y0, x, e, 0.3f, N);
    memcpy(y1, x, sizeof y1);
    norm_noise_add(y1, y1, 0.3f, N, &b);
    CHECK(memcmp(y0, y1, sizeof y0) == 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0);   /* the same draws consumed */
}

/* norm_noise_add_share: this share's rows of norm_noise_add over the whole blocks, the same draws */
static void test_noise_add_share(void)
{
    enum { PARTS = 3, B = 6, W = 17, N = PARTS * B * W };
    static float x[N], whole[N], xs[N], ys[N];
    rng r;
    rng_seed(&r, 36);
    gc_fill_sym(&r, x, N, 1.0f);
    rng a = r;
    norm_noise_add(whole, x, 0.3f, N, &a);
    for (size_t first = 0; first < B; first += 2) {   /* the shares of 3 processes, 2 rows each */
        size_t b = 2, k = 0;
        for (size_t p = 0; p < PARTS; p++)
            for (size_t i = 0; i < b * W; i++) xs[k++] = x[(p * B + first) * W + i];
        rng c = r;
        norm_noise_add_share(ys, xs, 0.3f, PARTS, B, first, b, W, &c);
        k = 0;
        for (size_t p = 0; p < PARTS; p++)
            for (size_t i = 0; i < b * W; i++, k++) CHECK(ys[k] == whole[(p * B + first) * W + i]);
        CHECK(memcmp(&a, &c, sizeof a) == 0);
    }
}

int main(void)
{
    RUN(test_wn_none);
    RUN(test_wn_relu);
    RUN(test_wn_sigmoid);
    RUN(test_bn_train);
    RUN(test_bn_eval);
    RUN(test_bn2d_train);
    RUN(test_noise);
    RUN(test_gauss);
    RUN(test_noise_add);
    RUN(test_noise_add_share);
    return check_summary();
}
