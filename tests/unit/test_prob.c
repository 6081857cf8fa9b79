/* lib/prob: values against closed forms, gradients against central differences (gradcheck.h). */
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "prob.h"

enum { B = 3, Z = 4, D = 5 };

typedef struct ctx {
    float mu[B * Z], lv[B * Z], eps[B * Z], z[B * Z], c[B * Z], w[B];
    float l[B * D], x[B * D], m[B * D];
} ctx;

static void setup(ctx *c, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    gc_fill(&r, c->mu, B * Z, -1.5f, 1.5f);
    gc_fill(&r, c->lv, B * Z, -2.0f, 1.0f);
    for (int i = 0; i < B * Z; i++) c->eps[i] = rng_normal(&r);
    gc_fill(&r, c->c, B * Z, -1.0f, 1.0f);
    gc_fill(&r, c->w, B, 0.2f, 1.0f);
    gc_fill(&r, c->l, B * D, -6.0f, 6.0f);
    gc_fill(&r, c->x, B * D, 0.0f, 1.0f);
    c->x[0] = 0.0f, c->x[1] = 1.0f;   /* binary pixels too */
    gc_fill(&r, c->m, B * D, -1.0f, 1.0f);
}

/* loss = sum c . z(mu, lv) */
static double sample_loss(void *p)
{
    ctx *c = p;
    prob_gauss_sample_forward(c->z, c->mu, c->lv, c->eps, B * Z);
    double s = 0;
    for (int i = 0; i < B * Z; i++) s += (double)c->c[i] * c->z[i];
    return s;
}

static void test_sample(void)
{
    ctx c;
    setup(&c, 1);
    float dmu[B * Z] = {0}, dlv[B * Z] = {0};
    prob_gauss_sample_backward(dmu, dlv, c.c, c.lv, c.eps, B * Z);
    gc_check("sample.mu", sample_loss, &c, c.mu, dmu, B * Z);
    gc_check("sample.logvar", sample_loss, &c, c.lv, dlv, B * Z);
    /* eps = 0 gives the mean; eps = 1 gives mu + sigma */
    float z, mu = 0.5f, lv = logf(4.0f), e0 = 0.0f, e1 = 1.0f;
    prob_gauss_sample_forward(&z, &mu, &lv, &e0, 1);
    CHECK_NEAR(z, 0.5, 1e-6);
    prob_gauss_sample_forward(&z, &mu, &lv, &e1, 1);
    CHECK_NEAR(z, 2.5, 1e-5);
}

/* loss = sum_i w_i KL_i */
static double kl_loss(void *p)
{
    ctx *c = p;
    float rows[B];
    prob_kl_normal_forward(rows, c->mu, c->lv, B, Z);
    double s = 0;
    for (int i = 0; i < B; i++) s += (double)c->w[i] * rows[i];
    return s;
}

static void test_kl(void)
{
    ctx c;
    setup(&c, 2);
    float dmu[B * Z] = {0}, dlv[B * Z] = {0};
    prob_kl_normal_backward(dmu, dlv, c.mu, c.lv, c.w, 1.0f, B, Z);
    gc_check("kl.mu", kl_loss, &c, c.mu, dmu, B * Z);
    gc_check("kl.logvar", kl_loss, &c, c.lv, dlv, B * Z);
    /* closed forms: KL(N(0,1)||N(0,1)) = 0; KL(N(m, s^2)||N(0,1)) = (s^2 + m^2 - 1 - log s^2) / 2 */
    float mu0[2] = {0, 0}, lv0[2] = {0, 0};
    CHECK_NEAR(prob_kl_normal_forward(NULL, mu0, lv0, 1, 2), 0.0, 1e-7);
    float mu1 = 1.0f, lv1 = logf(0.25f), row;
    double want = 0.5 * (0.25 + 1.0 - 1.0 - log(0.25));
    CHECK_NEAR(prob_kl_normal_forward(&row, &mu1, &lv1, 1, 1), want, 1e-6);
    CHECK_NEAR(row, want, 1e-6);
}

static double bern_loss(void *p)
{
    ctx *c = p;
    float rows[B];
    prob_bernoulli_nll(rows, NULL, c->l, c->x, NULL, 1.0f, B, D);
    double s = 0;
    for (int i = 0; i < B; i++) s += (double)c->w[i] * rows[i];
    return s;
}

static void test_bernoulli(void)
{
    ctx c;
    setup(&c, 3);
    float dl[B * D];
    prob_bernoulli_nll(NULL, dl, c.l, c.x, c.w, 1.0f, B, D);
    gc_check("bernoulli.logits", bern_loss, &c, c.l, dl, B * D);
    /* -log sigmoid(l) for x = 1, -log(1 - sigmoid(l)) for x = 0; stable for huge logits */
    float l[3] = {2.0f, -100.0f, 100.0f}, x[3] = {1.0f, 1.0f, 0.0f};
    CHECK_NEAR(prob_bernoulli_nll(NULL, NULL, l, x, NULL, 1.0f, 1, 1), log1p(exp(-2.0)), 1e-6);
    CHECK_NEAR(prob_bernoulli_nll(NULL, NULL, l + 1, x + 1, NULL, 1.0f, 1, 1), 100.0, 1e-4);
    CHECK_NEAR(prob_bernoulli_nll(NULL, NULL, l + 2, x + 2, NULL, 1.0f, 1, 1), 100.0, 1e-4);
    float d[2];
    prob_bernoulli_nll(NULL, d, l + 1, x + 1, NULL, 1.0f, 1, 2);
    CHECK(isfinite(d[0]) && isfinite(d[1]));
    CHECK_NEAR(d[0], -1.0, 1e-6);
    CHECK_NEAR(d[1], 1.0, 1e-6);
}

/* Rows wider than a vector (8 lanes) with a tail: each row's loss and gradient against double
 * precision, and the loss the same bytes with or without the gradient. */
static void test_bernoulli_wide(void)
{
    enum { W = 2, DW = 8 * 5 + 3 };
    rng r;
    rng_seed(&r, 9);
    float l[W * DW], x[W * DW], w[W] = {0.5f, 2.0f}, dl[W * DW], rows[W], rows2[W];
    gc_fill(&r, l, W * DW, -30.0f, 30.0f);
    gc_fill(&r, x, W * DW, 0.0f, 1.0f);
    double total = prob_bernoulli_nll(rows, dl, l, x, w, 0.1f, W, DW);
    CHECK(prob_bernoulli_nll(rows2, NULL, l, x, NULL, 1.0f, W, DW) == total);
    for (int i = 0; i < W; i++) {
        double want = 0;
        for (int j = 0; j < DW; j++) {
            double lj = l[i * DW + j], xj = x[i * DW + j];
            want += fmax(lj, 0) + log1p(exp(-fabs(lj))) - xj * lj;
            double g = 0.1 * w[i] * (1 / (1 + exp(-lj)) - xj);
            CHECK_NEAR(dl[i * DW + j], g, 1e-7);
        }
        CHECK_NEAR(rows[i], want, 1e-5 * fabs(want));
        CHECK(rows2[i] == rows[i]);
    }
}

/* lv reuses the first B*D entries of a (B, D) array in ctx.l, the mean is ctx.m */
static double gauss_loss(void *p)
{
    ctx *c = p;
    float rows[B];
    prob_gauss_nll_forward(rows, c->m, c->l, c->x, B, D);
    double s = 0;
    for (int i = 0; i < B; i++) s += (double)c->w[i] * rows[i];
    return s;
}

static void test_gauss(void)
{
    ctx c;
    setup(&c, 4);
    for (int i = 0; i < B * D; i++) c.l[i] *= 0.3f;   /* log-variances in [-1.8, 1.8] */
    float dm[B * D], dlv[B * D];
    prob_gauss_nll_backward(dm, dlv, c.m, c.l, c.x, c.w, 1.0f, B, D);
    gc_check("gauss.mean", gauss_loss, &c, c.m, dm, B * D);
    gc_check("gauss.logvar", gauss_loss, &c, c.l, dlv, B * D);
    /* standard normal at 0: log(2 pi) / 2 */
    float m = 0, lv = 0, x = 0;
    CHECK_NEAR(prob_gauss_nll_forward(NULL, &m, &lv, &x, 1, 1), 0.5 * log(2 * M_PI), 1e-6);
}

static void test_scale(void)
{
    ctx c;
    setup(&c, 5);
    float a[B * D], b[B * D];
    prob_bernoulli_nll(NULL, a, c.l, c.x, NULL, 1.0f, B, D);
    prob_bernoulli_nll(NULL, b, c.l, c.x, NULL, 0.25f, B, D);
    for (int i = 0; i < B * D; i++) CHECK_NEAR(b[i], 0.25f * a[i], 1e-6);
}

int main(void)
{
    RUN(test_sample);
    RUN(test_kl);
    RUN(test_bernoulli);
    RUN(test_bernoulli_wide);
    RUN(test_gauss);
    RUN(test_scale);
    return check_summary();
}
