/* lib/vae (M1): the whole -ELBO against central differences w.r.t. every parameter, on a tiny
 * softplus network with fixed noise, for both likelihoods; save/load round trip; a short training
 * run lowers the loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "vae.h"

enum { B = 3, IN = 6, Z = 2 };

typedef struct ctx {
    vae v;
    float x[B * IN], eps[B * Z];
    float beta;
} ctx;

static double elbo_loss(void *p)
{
    ctx *c = p;
    vae_loss l = {0, 0, 0};
    vae_forward_backward(&c->v, c->x, B, c->eps, c->beta, 0, &l);
    return (l.rec + c->beta * l.kl) / B;
}

static void make(ctx *c, vaenet_lik lik, int nhidden, uint64_t seed)
{
    vaenet_arch a = {.in = IN, .latent = Z, .nhidden = nhidden, .hidden = {5, 4}, .act = NN_ACT_SOFTPLUS, .lik = lik};
    error e;
    CHECK(vae_new(&c->v, &a, B, &e) == 0);
    rng r;
    rng_seed(&r, seed);
    vae_init_weights(&c->v, &r);
    /* non-zero biases so their gradients are exercised in a generic state */
    for (int i = 0; i < c->v.p.n; i++)
        if (c->v.p.t[i].ndim == 1) gc_fill(&r, nn_data(&c->v.p, i), c->v.p.t[i].size, -0.3f, 0.3f);
    gc_fill(&r, c->x, B * IN, lik == VAENET_BERNOULLI ? 0.0f : -1.5f, lik == VAENET_BERNOULLI ? 1.0f : 1.5f);
    for (int i = 0; i < B * Z; i++) c->eps[i] = rng_normal(&r);
    c->beta = 0.7f;
}

static void check_all_params(vaenet_lik lik, int nhidden)
{
    ctx c;
    make(&c, lik, nhidden, 11 + lik + 10 * nhidden);
    nn_params_zero_grad(NULL, &c.v.p);
    vae_loss l = {0, 0, 0};
    vae_forward_backward(&c.v, c.x, B, c.eps, c.beta, 1, &l);
    CHECK(l.rows == B);
    for (int i = 0; i < c.v.p.n; i++)
        gc_check(c.v.p.t[i].name, elbo_loss, &c, nn_data(&c.v.p, i), nn_grad(&c.v.p, i), c.v.p.t[i].size);
    vae_free(&c.v);
}

static void test_grad_bernoulli(void) { check_all_params(VAENET_BERNOULLI, 2); }
static void test_grad_gaussian(void) { check_all_params(VAENET_GAUSSIAN, 2); }
static void test_grad_one_hidden(void) { check_all_params(VAENET_BERNOULLI, 1); }

/* encode_sd: mu as vae_encode gives it, and the sds agree with the KL of the forward pass,
 * KL = -1/2 sum (1 + log sd^2 - mu^2 - sd^2). */
static void test_encode_sd(void)
{
    ctx c;
    make(&c, VAENET_BERNOULLI, 2, 5);
    float mu[B * Z], mu2[B * Z], sd[B * Z];
    vae_encode(&c.v, c.x, B, mu);
    vae_encode_sd(&c.v, c.x, B, mu2, sd);
    CHECK(memcmp(mu, mu2, sizeof mu) == 0);
    double kl = 0;
    for (int i = 0; i < B * Z; i++) {
        CHECK(sd[i] > 0);
        kl -= 0.5 * (1 + 2 * log(sd[i]) - (double)mu[i] * mu[i] - (double)sd[i] * sd[i]);
    }
    vae_loss l = {0, 0, 0};
    vae_forward_backward(&c.v, c.x, B, c.eps, 1.0f, 0, &l);
    CHECK_NEAR(l.kl, kl, 1e-5 * fabs(kl) + 1e-6);
    vae_free(&c.v);
}

/* Written, read back, written again: the same bytes. */
static void test_roundtrip(void)
{
    ctx c;
    make(&c, VAENET_BERNOULLI, 2, 3);
    value_set(c.v.info, "seed", value_int(3));
    error e;
    char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f1 = open_memstream(&b1, &n1);
    model_file *m = vae_save(&c.v, &e);
    CHECK(m && model_file_write(m, f1, &e) == 0);
    fclose(f1);
    FILE *in = fmemopen(b1, n1, "rb");
    model_file *m2 = model_file_read(in, "mem", &e);
    fclose(in);
    CHECK(m2 != NULL);
    vae v2;
    CHECK(vae_load(&v2, m2, 4, &e) == 0);
    model_file *m3 = vae_save(&v2, &e);
    FILE *f2 = open_memstream(&b2, &n2);
    CHECK(m3 && model_file_write(m3, f2, &e) == 0);
    fclose(f2);
    CHECK(n1 == n2 && n1 > 0 && memcmp(b1, b2, n1) == 0);
    CHECK(v2.a.in == IN && v2.a.latent == Z && v2.a.nhidden == 2 && v2.a.hidden[1] == 4);
    model_file_free(m);
    model_file_free(m2);
    model_file_free(m3);
    vae_free(&v2);
    vae_free(&c.v);
    free(b1);
    free(b2);
}

/* A few epochs on 64 rows of two binary patterns: the ELBO improves. */
static void test_training_lowers_loss(void)
{
    enum { N = 64, D = 8 };
    float x[N * D];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = (float)((i % 2) ? (j < D / 2) : (j >= D / 2));
    vaenet_arch a = {.in = D, .latent = 2, .nhidden = 1, .hidden = {16}, .act = NN_ACT_RELU, .lik = VAENET_BERNOULLI};
    vae v;
    error e;
    CHECK(vae_new(&v, &a, 16, &e) == 0);
    rng r;
    rng_seed(&r, 1);
    vae_init_weights(&v, &r);
    adam opt;
    CHECK(adam_init_params(&opt, &v.p, &e) == 0);
    opt.lr = 1e-2f;
    double first = 0, last = 0;
    for (int ep = 0; ep < 30; ep++) {
        vae_loss l = {0, 0, 0};
        CHECK(vae_train_epoch(&v, &opt, x, N, 16, 1.0f, &r, NULL, &l, &e) == 0);
        double per = (l.rec + l.kl) / (double)l.rows;
        if (ep == 0) first = per;
        last = per;
    }
    CHECK(last < 0.5 * first);
    adam_free(&opt);
    vae_free(&v);
}

int main(void)
{
    RUN(test_grad_bernoulli);
    RUN(test_grad_gaussian);
    RUN(test_grad_one_hidden);
    RUN(test_roundtrip);
    RUN(test_encode_sd);
    RUN(test_training_lowers_loss);
    return check_summary();
}
