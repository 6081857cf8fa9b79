/* Checks of lib/gan: the K+1 losses (labelled, unsupervised real and fake parts) and feature
 * matching against central finite differences; then a whole tiny D and G: the gradient of L_D
 * w.r.t. every trained parameter of D, and of L_G w.r.t. every parameter of G (through D, batch
 * norm, noise), with the noise held fixed by re-seeding the generator before each evaluation;
 * the same with the labelled (and the unlabelled) rows shifted and L_unl weighted (and mode seeking for the conditional
 * G, whose term is also checked alone); image shifts, Polyak averaging; D as vat.h sees it (its
 * input and parameter gradients, without noise as prediction and with one fixed draw of it) and the
 * VAT and entropy term of L_D (its parameter gradients with p(x) and x + r_adv held, and its place
 * in the step);
 * the model file round trip, sampling, and a small training run.
 *
 * Float32 layers, losses summed in double, h = 1e-3. The losses of the whole networks are small
 * (feature matching is a mean of squared differences), so the tolerance is relative to the
 * largest gradient of the tensor: |numeric - analytic| <= 2e-2 max|g| + 2e-2 |g|, and each check
 * first asserts that max|g| is not negligible, so the comparison has teeth. An element whose
 * difference quotient changes between h and h/2 sits on a ReLU kink and is skipped (a few at most). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gan.h"
#include "rng.h"

#define H 1e-3f

typedef double (*loss_fn)(void *ctx);

static double central(loss_fn f, void *ctx, float *x, float h)
{
    float keep = *x;
    *x = keep + h;
    double lp = f(ctx);
    *x = keep - h;
    double lm = f(ctx);
    *x = keep;
    return (lp - lm) / (2.0 * (double)h);
}

/* A difference quotient that changes between h and h/2 straddles a ReLU kink (the noise puts
 * pre-activations anywhere): such elements are skipped; a unit at its kink spoils the row of v
 * feeding it, so up to n/4 + 2 per tensor. A wrong gradient is stable in h, so it is never skipped. */
static void check_grad_rel(const char *what, loss_fn f, void *ctx, float *x, const float *g, size_t n, float h)
{
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    CHECK(gmax > 1e-5);
    int bad = 0, kinks = 0;
    for (size_t i = 0; i < n; i++) {
        double num = central(f, ctx, x + i, h), tol = 2e-2 * gmax + 2e-2 * fabs(g[i]);
        if (fabs(num - g[i]) > tol && fabs(num - central(f, ctx, x + i, h / 2)) > tol / 2) {
            kinks++;
            continue;
        }
        if (fabs(num - g[i]) > tol && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: numeric %.6g, analytic %.6g (max %.3g)\n", what, i, num, (double)g[i], gmax);
        CHECK_NEAR(num, g[i], tol);
    }
    if (kinks > (int)n / 4 + 2) fprintf(stderr, "  %s: %d kinks\n", what, kinks);
    CHECK(kinks <= (int)n / 4 + 2);
}

static void fill(rng *r, float *a, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) a[i] = (2.0f * rng_uniform(r) - 1.0f) * scale;
}

/* ---- the losses alone ---- */

enum { N = 5, K = 4, C = 6 };

typedef struct loss_ctx {
    float l[N * K], d[N * K];
    int32_t y[N];
    int which;          /* 0 lab, 1 real, 2 fake, 3 entropy */
} loss_ctx;

static double loss_of(void *p)
{
    loss_ctx *c = p;
    if (c->which == 0) return gan_loss_lab(c->d, c->l, c->y, N, K, 1.0f, NULL);
    if (c->which == 3) return gan_loss_ent(memset(c->d, 0, sizeof c->d), c->l, N, K, 1.0f);
    return gan_loss_unl(c->d, c->l, N, K, c->which == 2, 1.0f, NULL);
}

static void test_losses_grad(void)
{
    rng r;
    rng_seed(&r, 40);
    for (int which = 0; which < 4; which++) {
        loss_ctx c;
        c.which = which;
        fill(&r, c.l, N * K, 3.0f);
        for (int i = 0; i < N; i++) c.y[i] = (int32_t)rng_below(&r, K);
        float g[N * K] = {0};
        if (which == 0) gan_loss_lab(g, c.l, c.y, N, K, 1.0f, NULL);
        else if (which == 3) gan_loss_ent(g, c.l, N, K, 1.0f);
        else gan_loss_unl(g, c.l, N, K, which == 2, 1.0f, NULL);
        static const char *name[] = {"lab", "real", "fake", "entropy"};
        check_grad_rel(name[which], loss_of, &c, c.l, g, N * K, H);
    }
}

/* The values: L_lab = -log softmax_y, real = -log D, fake = -log(1 - D), D = Z / (Z + 1); the
 * scale multiplies the gradient only; huge logits stay finite; the hit counts. */
static void test_losses_values(void)
{
    float l[2 * K] = {0.5f, -1.0f, 2.0f, 0.0f, -3.0f, -2.5f, -4.0f, -1.5f}, d[2 * K], d2[2 * K];
    int32_t y[2] = {2, 0};
    for (int i = 0; i < 2; i++) {
        double Z = 0;
        for (int k = 0; k < K; k++) Z += exp(l[i * K + k]);
        double D = Z / (Z + 1);
        int hit = 0;
        CHECK_NEAR(gan_loss_lab(d, l + i * K, y + i, 1, K, 1.0f, &hit), -log(exp(l[i * K + y[i]]) / Z), 1e-6);
        CHECK(hit == (i == 0));
        hit = 0;
        CHECK_NEAR(gan_loss_unl(d, l + i * K, 1, K, 0, 1.0f, &hit), -log(D), 1e-6);
        CHECK(hit == (i == 0));   /* row 0: D > 1/2; row 1: D < 1/2 */
        hit = 0;
        CHECK_NEAR(gan_loss_unl(d, l + i * K, 1, K, 1, 1.0f, &hit), -log(1 - D), 1e-6);
        CHECK(hit == (i == 1));
    }
    gan_loss_unl(d, l, 2, K, 0, 1.0f, NULL);
    gan_loss_unl(d2, l, 2, K, 0, 0.25f, NULL);
    for (int i = 0; i < 2 * K; i++) CHECK_NEAR(d2[i], 0.25f * d[i], 1e-7);
    float big[K] = {200.0f, 150.0f, -300.0f, 0.0f};
    int32_t yb = 2;
    CHECK(isfinite(gan_loss_lab(d, big, &yb, 1, K, 1.0f, NULL)));
    CHECK_NEAR(gan_loss_unl(d, big, 1, K, 1, 1.0f, NULL), 200.0, 1e-3);   /* softplus(200) */
    CHECK_NEAR(gan_loss_unl(d, big, 1, K, 0, 1.0f, NULL), 0.0, 1e-6);
    for (int k = 0; k < K; k++) CHECK(isfinite(d[k]));
}

/* The consistency loss: its gradient w.r.t. both rows' logits, added to what is there; 0 (and no
 * gradient) for logits that differ by a constant; by hand for one pair. */
typedef struct cons_ctx {
    float l[2 * N * K], d[2 * N * K];
} cons_ctx;

static double cons_loss(void *p)
{
    cons_ctx *c = p;
    memset(c->d, 0, sizeof c->d);
    return gan_loss_cons(c->d, c->d + N * K, c->l, c->l + N * K, N, K, 1.0f);
}

static void test_consistency(void)
{
    rng r;
    rng_seed(&r, 42);
    cons_ctx c;
    fill(&r, c.l, 2 * N * K, 3.0f);
    cons_loss(&c);
    float g[2 * N * K];
    memcpy(g, c.d, sizeof g);
    check_grad_rel("consistency", cons_loss, &c, c.l, g, 2 * N * K, H);
    float a[K] = {0.5f, -1.0f, 2.0f, 0.0f}, b[K] = {3.5f, 2.0f, 5.0f, 3.0f}, da[K] = {1, 1, 1, 1}, db[K] = {0};
    CHECK_NEAR(gan_loss_cons(da, db, a, b, 1, K, 1.0f), 0.0, 1e-12);
    for (int k = 0; k < K; k++) {
        CHECK_NEAR(da[k], 1.0, 1e-6);
        CHECK_NEAR(db[k], 0.0, 1e-6);
    }
    float u[K] = {0, 0, 0, 0}, v[K] = {(float)log(5.0), 0, 0, 0}, du[K] = {0}, dv[K] = {0};
    /* softmax(u) = 1/4 each; softmax(v) = (5/8, 1/8, 1/8, 1/8): (3/8)^2 + 3 (1/8)^2 = 12/64 */
    CHECK_NEAR(gan_loss_cons(du, dv, u, v, 1, K, 0.5f), 12.0 / 64.0, 1e-6);
    for (int k = 0; k < K; k++) CHECK(isfinite(du[k]) && isfinite(dv[k]));
}

/* The entropy: log K for equal logits (and no gradient there), 0 for a sure row; the gradient is
 * added to dl, scaled; huge logits stay finite. */
static void test_entropy_values(void)
{
    float eq[K] = {1.5f, 1.5f, 1.5f, 1.5f}, d[K] = {1, 2, 3, 4};
    CHECK_NEAR(gan_loss_ent(d, eq, 1, K, 1.0f), log(K), 1e-6);
    for (int k = 0; k < K; k++) CHECK_NEAR(d[k], k + 1, 1e-6);
    float l[K] = {0.5f, -1.0f, 2.0f, 0.0f}, d1[K] = {0}, d2[K] = {0};
    double Z = 0, h = 0;
    for (int k = 0; k < K; k++) Z += exp(l[k]);
    for (int k = 0; k < K; k++) h -= exp(l[k]) / Z * log(exp(l[k]) / Z);
    CHECK_NEAR(gan_loss_ent(d1, l, 1, K, 1.0f), h, 1e-6);
    gan_loss_ent(d2, l, 1, K, 0.25f);
    for (int k = 0; k < K; k++) CHECK_NEAR(d2[k], 0.25f * d1[k], 1e-7);
    float big[K] = {200.0f, 150.0f, -300.0f, 0.0f}, db[K] = {0};
    CHECK_NEAR(gan_loss_ent(db, big, 1, K, 1.0f), 0.0, 1e-6);
    for (int k = 0; k < K; k++) CHECK(isfinite(db[k]));
}

typedef struct fm_ctx {
    float ff[N * C], fr[3 * C], df[N * C], mean[2 * C];
} fm_ctx;

static double fm_loss(void *p)
{
    fm_ctx *c = p;
    return gan_loss_fm(c->df, c->ff, N, c->fr, 3, C, c->mean);
}

static void test_fm(void)
{
    rng r;
    rng_seed(&r, 41);
    fm_ctx c;
    fill(&r, c.ff, N * C, 2.0f);
    fill(&r, c.fr, 3 * C, 2.0f);
    double loss = fm_loss(&c);
    float g[N * C];
    memcpy(g, c.df, sizeof g);
    check_grad_rel("fm", fm_loss, &c, c.ff, g, N * C, H);
    /* the value by hand */
    double ref = 0;
    for (int j = 0; j < C; j++) {
        double a = 0, b = 0;
        for (int i = 0; i < N; i++) a += c.ff[i * C + j];
        for (int i = 0; i < 3; i++) b += c.fr[i * C + j];
        ref += (a / N - b / 3) * (a / N - b / 3);
    }
    CHECK_NEAR(loss, ref / C, 1e-5);
}

/* ---- mode seeking: 3 pairs of 5-value rows (a 7th row unpaired), noises of 4 of stride 6 ---- */

enum { MSN = 7, MSF = 5, MSZ = 4, MSS = 6 };

typedef struct ms_ctx {
    float x[MSN * MSF], z[MSN * MSS], dx[MSN * MSF];
} ms_ctx;

static double ms_loss(void *p)
{
    ms_ctx *c = p;
    memset(c->dx, 0, sizeof c->dx);
    return gan_loss_ms(c->dx, c->x, c->z, MSN, MSF, MSZ, MSS, 0.7f);
}

static void test_ms(void)
{
    rng r;
    rng_seed(&r, 43);
    ms_ctx c;
    fill(&r, c.x, MSN * MSF, 1.0f);
    fill(&r, c.z, MSN * MSS, 1.0f);
    double loss = ms_loss(&c);
    float g[MSN * MSF];
    memcpy(g, c.dx, sizeof g);
    check_grad_rel("ms", ms_loss, &c, c.x, g, MSN * MSF, H);
    for (int k = 0; k < MSF; k++) CHECK(g[6 * MSF + k] == 0.0f);   /* the unpaired row */
    /* the value by hand; the values past Z in each noise row are not compared */
    double ref = 0;
    for (int p = 0; p < 3; p++) {
        double dz = 0, dd = 0;
        for (int j = 0; j < MSZ; j++) dz += fabs(c.z[2 * p * MSS + j] - c.z[(2 * p + 1) * MSS + j]);
        for (int k = 0; k < MSF; k++) dd += fabs(c.x[2 * p * MSF + k] - c.x[(2 * p + 1) * MSF + k]);
        ref += (dz / MSZ) / (dd / MSF + 1e-3);
    }
    CHECK_NEAR(loss, 0.7 * ref / 3, 1e-5);
    c.z[MSZ] += 5.0f;
    CHECK_NEAR(ms_loss(&c), loss, 1e-9);
}

/* ---- a whole tiny GAN ---- */

enum { F = 4, NX = 12, BT = 3, FI = 16 /* 4 x 4 images for a conv D */ };

typedef struct net_ctx {
    gan *m;
    float x[NX * FI];
    int32_t y[NX];
    int lab[BT], unl[BT];
    uint64_t seed;
} net_ctx;

static double d_loss(void *p)
{
    net_ctx *c = p;
    rng r;
    rng_seed(&r, c->seed);
    gan_stats st = {0};
    return gan_d_grad(c->m, c->x, c->y, c->lab, c->unl, &r, &st);
}

static double g_loss(void *p)
{
    net_ctx *c = p;
    rng r;
    rng_seed(&r, c->seed);
    gan_stats st = {0};
    return gan_g_grad(c->m, c->x, c->unl, &r, &st);
}

/* conv: NULL, or a --d-conv spec for a D on 4 x 4 images (pool: mean-pooled); deconv: NULL, or a
 * --g-deconv spec for a G of 4 x 4 images */
static gan *tiny_arch(int conditional, const char *conv, int pool, int ema, const char *deconv, net_ctx *c)
{
    gan_arch a;
    gan_arch_default(&a);
    a.features = conv || deconv ? FI : F;
    error e;
    if (conv) CHECK(gan_conv_parse(&a, conv, &e) == 0);
    if (deconv) CHECK(gan_deconv_parse(&a, deconv, &e) == 0);
    if (conv || deconv) a.img_c = 1, a.img_h = a.img_w = 4, a.pool = pool;
    a.ema = ema;
    a.classes = 3;
    a.nd = 2, a.d_hidden[0] = 6, a.d_hidden[1] = 5;
    a.ng = deconv ? 0 : 1, a.g_hidden[0] = 5;
    a.noise_dim = 3;
    a.conditional = conditional;
    gan *m = gan_new(&a, &e);
    CHECK(m != NULL);
    rng r;
    rng_seed(&r, 42 + conditional);
    for (int i = 0; i < NX * a.features; i++) c->x[i] = rng_uniform(&r);
    for (int i = 0; i < NX; i++) c->y[i] = i % 3;
    for (int i = 0; i < BT; i++) c->lab[i] = 2 * i, c->unl[i] = NX - 1 - i;
    CHECK(gan_init_weights(m, c->x, NX, BT, &r, &e) == 0);
    /* move the parameters off their initial values (zero biases, unit scales) */
    for (size_t i = 0; i < m->d.total; i++) m->d.data[i] += 0.05f * (2.0f * rng_uniform(&r) - 1.0f);
    for (size_t i = 0; i < m->g.total; i++) m->g.data[i] += 0.05f * (2.0f * rng_uniform(&r) - 1.0f);
    m->cond_weight = 0.7f;
    m->unl_weight = 0.6f;
    m->ms_weight = conditional ? 0.5f : 0.0f;
    c->m = m;
    c->seed = 77;
    return m;
}

static gan *tiny(int conditional, net_ctx *c) { return tiny_arch(conditional, NULL, 0, 0, NULL, c); }

static void check_table(const char *what, nn_params *p, loss_fn f, net_ctx *c, int skip_hidden_g, int nd)
{
    float *g = malloc(p->total * sizeof(float));
    memcpy(g, p->grad, p->total * sizeof(float));
    for (int t = 0; t < p->n; t++) {
        /* scales fixed by design, no gradient: the weight norm of D's hidden layers (dense, then conv), the
         * batch norm of an MLP G's hidden layers (nd: the table's last layer, whose scale is trained) */
        if (skip_hidden_g && t % 3 == 1 && t / 3 != nd) {
            for (size_t i = 0; i < p->t[t].size; i++) CHECK(g[p->t[t].offset + i] == 0.0f);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%s %s", what, p->t[t].name);
        check_grad_rel(name, f, c, nn_data(p, t), g + p->t[t].offset, p->t[t].size, H);
    }
    free(g);
}

static void check_gan(gan *m, net_ctx *c);

static void check_net(int conditional)
{
    net_ctx c;
    check_gan(tiny(conditional, &c), &c);
}

/* D with convolutions first (stride 1 then 2, flattened or pooled): the same checks, through the
 * conv layers (D's parameters) and back to G (their input gradient). */
static void test_net_conv(void)
{
    net_ctx c;
    gan *m = tiny_arch(0, "3:3:1,2:3:2", 0, 0, NULL, &c);
    CHECK(m->d.n == 3 * 3 + 3 * 2);   /* d.l1..3, then d.c1, d.c2 */
    CHECK(strcmp(m->d.t[9].name, "d.c1.v") == 0 && m->d.t[9].dims[0] == 3 && m->d.t[9].dims[1] == 9);
    CHECK(m->d.t[12].dims[0] == 2 && m->d.t[12].dims[1] == 27);
    CHECK(m->d.t[0].dims[1] == 8);   /* 2 channels of 2 x 2 flattened */
    check_gan(m, &c);
    m = tiny_arch(0, "3:3:1,4:3:2", 1, 0, NULL, &c);
    CHECK(m->d.t[0].dims[1] == 4);   /* pooled: one value per channel */
    check_gan(m, &c);
}

/* n rows from a and from b (its reload), x1 and x2 (n, features), drawn with the same seed: equal;
 * y1 (n) or NULL receives a's classes. */
static void same_samples(gan *a, gan *b, int n, float *x1, float *x2, int32_t *y1)
{
    error e;
    rng r;
    rng_seed(&r, 5);
    CHECK(gan_sample(a, (size_t)n, -1, &r, x1, y1, &e) == 0);
    rng_seed(&r, 5);
    CHECK(gan_sample(b, (size_t)n, -1, &r, x2, NULL, &e) == 0);
    CHECK(memcmp(x1, x2, (size_t)n * a->a.features * sizeof(float)) == 0);
}

/* The model f with info[key] = shape (a spec whose tensor `tensor` has another shape than the
 * file's) and = bad (no spec) does not load; f is freed. */
static void refuse_specs(model_file *f, const char *key, const char *shape, const char *tensor, const char *bad)
{
    error e;
    value_set(f->info, key, value_str(shape));
    CHECK(gan_load(f, &e) == NULL && strstr(e.msg, tensor) != NULL);
    value_set(f->info, key, value_str(bad));
    CHECK(gan_load(f, &e) == NULL && strstr(e.msg, "model info") != NULL);
    model_file_free(f);
}

/* A convolutional G (dense to the seed, transposed convolutions at strides 1 and 2, batch norm over
 * channels): the same checks, G's tables through its layers; with an MLP D and a conv D, plain and
 * conditional. */
static void test_net_deconv(void)
{
    net_ctx c;
    gan *m = tiny_arch(0, NULL, 0, 0, "2x1x1,3:3:2,1:3:2", &c);
    /* g.seed.{w,gamma,beta}, g.t1.{w,gamma,beta}, g.t2.{w,b} */
    CHECK(m->g.n == 8);
    CHECK(strcmp(m->g.t[0].name, "g.seed.w") == 0 && m->g.t[0].dims[0] == 2 && m->g.t[0].dims[1] == 3);
    CHECK(strcmp(m->g.t[3].name, "g.t1.w") == 0 && m->g.t[3].dims[0] == 2 && m->g.t[3].dims[1] == 27);
    CHECK(strcmp(m->g.t[7].name, "g.t2.b") == 0 && m->g.t[7].dims[0] == 1);
    CHECK(m->stat.n == 4);
    check_gan(m, &c);
    check_gan(tiny_arch(0, "3:3:1,2:3:2", 0, 0, "3x2x2,2:3:1,1:3:2", &c), &c);
    check_gan(tiny_arch(1, NULL, 0, 0, "2x2x2,1:3:2", &c), &c);
}

/* --g-deconv specs: parsing, formatting, and the shape G reaches against the data's images. */
static void test_deconv_arch(void)
{
    gan_arch a;
    error e;
    gan_arch_default(&a);
    a.features = 16, a.classes = 3, a.img_c = 1, a.img_h = a.img_w = 4, a.ng = 0;
    CHECK(gan_deconv_parse(&a, "8x1x1,4:3:2,1:3:2", &e) == 0 && a.ngc == 2 && a.g_seed[0] == 8);
    char buf[64];
    gan_deconv_format(&a, buf, sizeof buf);
    CHECK(strcmp(buf, "8x1x1,4:3:2,1:3:2") == 0);
    gan *m = gan_new(&a, &e);
    CHECK(m != NULL);
    gan_free(m);
    CHECK(gan_deconv_parse(&a, "8x1x1,4:3:2,2:3:2", &e) == 0);   /* 2 channels, the images have 1 */
    CHECK(gan_new(&a, &e) == NULL && strstr(e.msg, "G ends in 2 x 4 x 4 images, the data's are 1 x 4 x 4") != NULL);
    CHECK(gan_deconv_parse(&a, "8x1x1,1:3:2", &e) == 0);   /* 2 x 2 */
    CHECK(gan_new(&a, &e) == NULL && strstr(e.msg, "G ends in 1 x 2 x 2") != NULL);
    a.ng = 1;
    CHECK(gan_deconv_parse(&a, "8x2x2,1:3:2", &e) == 0);
    CHECK(gan_new(&a, &e) == NULL && strstr(e.msg, "replaces --g-hidden") != NULL);
    CHECK(gan_deconv_parse(&a, "4:3:2", &e) == -1 && strstr(e.msg, "CxHxW") != NULL);
    CHECK(gan_deconv_parse(&a, "8x2x2", &e) == -1);
    CHECK(gan_deconv_parse(&a, "8x2x2,", &e) == -1);
    CHECK(gan_deconv_parse(&a, "8x2x2,1:4:2", &e) == -1 && strstr(e.msg, "odd kernel") != NULL);
    CHECK(gan_deconv_parse(&a, "0x2x2,1:3:2", &e) == -1 && strstr(e.msg, "seed image") != NULL);
}

/* A convolutional G through a model file: the same samples, the spec checked on load. */
static void test_deconv_roundtrip(void)
{
    net_ctx c;
    gan *m = tiny_arch(0, NULL, 0, 0, "4x1x1,3:3:2,1:3:2", &c);
    for (size_t i = 0; i < m->stat.total; i++) m->stat.data[i] *= 0.9f;   /* inference uses the statistics */
    error e;
    model_file *f = gan_save(m, &e);
    CHECK(f != NULL);
    gan *m2 = gan_load(f, &e);
    CHECK(m2 != NULL && m2->a.ngc == 2 && m2->a.img_h == 4 && m2->a.ng == 0);
    float x1[5 * FI], x2[5 * FI];
    same_samples(m, m2, 5, x1, x2, NULL);
    int differ = 0;
    for (int i = 0; i < 4 * FI; i++) differ |= x1[i] != x1[FI + i];   /* the rows differ */
    CHECK(differ);
    gan_free(m2);
    refuse_specs(f, "g_deconv", "4x1x1,4:3:2,1:3:2", "g.t1.w", "2x1x1");
    gan_free(m);
}

/* Specs that do not fit the image, and spec parsing. */
static void test_conv_arch(void)
{
    gan_arch a;
    error e;
    gan_arch_default(&a);
    a.features = 16, a.classes = 3, a.img_c = 1, a.img_h = a.img_w = 4;
    CHECK(gan_conv_parse(&a, "8:3:2,8:3:2,8:3:2", &e) == 0 && a.nc == 3);
    CHECK(gan_new(&a, &e) == NULL && strstr(e.msg, "too deep") != NULL);   /* 4 -> 2 -> 1 < 3 */
    CHECK(gan_conv_parse(&a, "8:3:2", &e) == 0 && a.nc == 1);
    a.img_w = 5;
    CHECK(gan_new(&a, &e) == NULL && strstr(e.msg, "16 features") != NULL);
    CHECK(gan_conv_parse(&a, "8:4:2", &e) == -1 && strstr(e.msg, "odd kernel") != NULL);
    CHECK(gan_conv_parse(&a, "8:3", &e) == -1 && strstr(e.msg, "channels:kernel:stride") != NULL);
    CHECK(gan_conv_parse(&a, "8:3:1x", &e) == -1);
    CHECK(gan_conv_parse(&a, "", &e) == -1);
    CHECK(gan_conv_parse(&a, "8:3:0", &e) == -1);
    CHECK(gan_conv_parse(&a, "32:5:2,64:3:1", &e) == 0);
    char buf[64];
    gan_conv_format(&a, buf, sizeof buf);
    CHECK(strcmp(buf, "32:5:2,64:3:1") == 0);
}

/* A conv D with a weight average through a model file: same predictions, shapes checked on load. */
static void test_conv_roundtrip(void)
{
    net_ctx c;
    gan *m = tiny_arch(0, "3:3:1,2:3:2", 1, 1, NULL, &c);
    for (size_t i = 0; i < m->avg.total; i++) m->avg.data[i] = m->d.data[i] * 0.9f;
    error e;
    model_file *f = gan_save(m, &e);
    CHECK(f != NULL);
    gan *m2 = gan_load(f, &e);
    CHECK(m2 != NULL && m2->a.nc == 2 && m2->a.pool == 1 && m2->a.img_h == 4);
    float p1[NX * 3], p2[NX * 3];
    CHECK(gan_predict(m, c.x, NX, p1, &e) == 0);
    CHECK(gan_predict(m2, c.x, NX, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    /* the average is what predicts: the last weights give other probabilities */
    m->a.ema = 0;
    CHECK(gan_predict(m, c.x, NX, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) != 0);
    gan_free(m2);
    refuse_specs(f, "d_conv", "4:3:1,2:3:2", "d.c1.v", "4:3");
    gan_free(m);
}

static void check_gan(gan *m, net_ctx *c0)
{
    net_ctx c = *c0;
    nn_params_zero_grad(NULL, &m->d);
    d_loss(&c);
    check_table("D", &m->d, d_loss, &c, 1, m->a.nd);
    nn_params_zero_grad(NULL, &m->g);
    g_loss(&c);
    /* an MLP G's batch norm has no scale (gamma fixed at 1: zero gradient), a conv G's has */
    check_table("G", &m->g, g_loss, &c, !m->a.ngc, m->a.ng);
    /* the G step leaves D's gradient alone */
    nn_params_zero_grad(NULL, &m->d);
    g_loss(&c);
    int zero = 1;
    for (size_t i = 0; i < m->d.total; i++) zero &= m->d.grad[i] == 0.0f;
    CHECK(zero);
    gan_free(m);
}

static void test_net(void) { check_net(0); }

/* With the labelled rows shifted at random (F = 4 as 2 x 2 images): the same draws in every
 * evaluation, so the check still holds; and the shift really changes the loss. */
static void test_net_shift(void)
{
    net_ctx c;
    gan *m = tiny(0, &c);
    double plain = d_loss(&c);
    m->shift = 1, m->img_h = 2, m->img_w = 2;
    nn_params_zero_grad(NULL, &m->d);
    double shifted = d_loss(&c);
    CHECK(fabs(shifted - plain) > 1e-6);
    check_table("D shifted", &m->d, d_loss, &c, 1, m->a.nd);
    /* the unlabelled rows of D's and G's steps shifted too (gathered in place: the row scratch) */
    double g_plain = g_loss(&c);
    m->unl_shift = 1;
    nn_params_zero_grad(NULL, &m->d);
    CHECK(fabs(d_loss(&c) - shifted) > 1e-6);
    check_table("D, unlabelled shifted", &m->d, d_loss, &c, 1, m->a.nd);
    nn_params_zero_grad(NULL, &m->g);
    CHECK(fabs(g_loss(&c) - g_plain) > 1e-6);
    check_table("G, unlabelled shifted", &m->g, g_loss, &c, 1, m->a.ng);
    gan_free(m);
}

/* With the entropy and the consistency terms (a 4th part of D's batch: the unlabelled rows shifted
 * and mirrored as 2 x 2 images, the same draws in every evaluation): each changes the loss, and D's
 * gradient still checks; G's step is unchanged. */
static void test_net_unlabelled_terms(void)
{
    net_ctx c;
    gan *m = tiny(0, &c);
    error e;
    double plain = d_loss(&c);
    m->ent_weight = 0.3f;
    double ent = d_loss(&c);
    CHECK(fabs(ent - plain) > 1e-6);
    nn_params_zero_grad(NULL, &m->d);
    d_loss(&c);
    check_table("D entropy", &m->d, d_loss, &c, 1, m->a.nd);
    c.seed = 78;   /* seed 77's noise puts one ReLU input of the 4th part within h of its kink */
    ent = d_loss(&c);
    m->cons_weight = 0.8f, m->cons_shift = 1, m->cons_flip = 1, m->img_h = 2, m->img_w = 2;
    CHECK(gan_workspace(m, BT, &e) == 0);   /* room for the 4th part */
    nn_params_zero_grad(NULL, &m->d);
    double both = d_loss(&c);
    CHECK(fabs(both - ent) > 1e-6);
    check_table("D entropy + consistency", &m->d, d_loss, &c, 1, m->a.nd);
    gan_free(m);
}

/* ---- D as vat.h sees it, and the VAT and entropy term of L_D ---- */

enum { NV = 2 * BT };   /* a step's labelled and unlabelled rows */
static float vat_w[NV * 3];   /* the weights of the logits in weighted_logits */
static const rng *vat_noise;  /* the noise of its passes, or NULL */

/* sum_ik vat_w_ik logits_ik of D on the first NV rows of c->x */
static double weighted_logits(void *p)
{
    net_ctx *c = p;
    c->m->eff_d = 0;   /* a parameter moved */
    vat_net n = gan_vat_net(c->m, vat_noise);
    const float *o = n.forward(n.ctx, c->x, NV);
    double s = 0;
    for (int i = 0; i < NV * 3; i++) s += (double)vat_w[i] * o[i];
    return s;
}

/* Without the noise, the data-dependent init leaves about half the hidden ReLU inputs near 0, where
 * a difference quotient straddles the kink: the hidden biases moved up keep most of them clear. */
static void clear_kinks(gan *m)
{
    for (int t = 2; t < m->d.n; t += 3)
        if (t / 3 != m->a.nd)
            for (size_t i = 0; i < m->d.t[t].size; i++) nn_data(&m->d, t)[i] += 0.5f;
    m->eff_d = 0;
}

/* The input gradient the power iteration uses against central differences, D's gradients untouched;
 * with params, D's gradients (the passes with vat_noise). */
static void check_vat_gradients(gan *m, net_ctx *c)
{
    int F = m->a.features;
    vat_net n = gan_vat_net(m, vat_noise);
    float dl[NV * 3], *dx = malloc((size_t)NV * F * sizeof(float));
    n.forward(n.ctx, c->x, NV);
    nn_params_zero_grad(NULL, &m->d);
    memcpy(dl, vat_w, sizeof dl);
    n.backward(n.ctx, dl, dx, 0);
    int zero = 1;
    for (size_t i = 0; i < m->d.total; i++) zero &= m->d.grad[i] == 0.0f;
    CHECK(zero);
    check_grad_rel("D dx", weighted_logits, c, c->x, dx, (size_t)NV * F, H);
    n.forward(n.ctx, c->x, NV);
    memcpy(dl, vat_w, sizeof dl);
    n.backward(n.ctx, dl, NULL, 1);
    check_table("D logits", &m->d, weighted_logits, c, 1, m->a.nd);
    free(dx);
}

/* Without noise, the passes are prediction's (the same probabilities); with a noise generator, two
 * passes agree, and differ from the noise-free one. The gradients, both ways. */
static void check_vat_net(gan *m, net_ctx *c)
{
    error e;
    rng r, noise;
    rng_seed(&r, 8);
    rng_seed(&noise, 31);
    fill(&r, vat_w, NV * 3, 1.0f);
    clear_kinks(m);
    vat_net n = gan_vat_net(m, NULL);
    float p1[NV * 3], p2[NV * 3], l1[NV * 3];
    CHECK(gan_predict(m, c->x, NV, p2, &e) == 0);
    nn_softmax_forward(p1, n.forward(n.ctx, c->x, NV), NV, 3);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    n = gan_vat_net(m, &noise);
    memcpy(l1, n.forward(n.ctx, c->x, NV), sizeof l1);
    CHECK(memcmp(l1, n.forward(n.ctx, c->x, NV), sizeof l1) == 0);
    nn_softmax_forward(p1, l1, NV, 3);
    CHECK(memcmp(p1, p2, sizeof p1) != 0);
    for (int k = 0; k < 2; k++) {
        vat_noise = k ? &noise : NULL;
        check_vat_gradients(m, c);
    }
    vat_noise = NULL;
    gan_free(m);
}

static void test_vat_net(void)
{
    net_ctx c;
    check_vat_net(tiny(0, &c), &c);
    check_vat_net(tiny_arch(0, "3:3:1,2:3:2", 0, 0, NULL, &c), &c);
    check_vat_net(tiny_arch(0, "3:3:1,4:3:2", 1, 0, NULL, &c), &c);
}

/* The term with p(x) and x + r_adv held: mean_i KL(p_i || p(y|xr_i)) + entmin mean_i H(p(y|x_i)) */
typedef struct held {
    net_ctx c;
    const float *x, *xr, *p;
    double entmin;
    const rng *noise;   /* of D's passes */
} held;

static double held_vat(void *ctx)
{
    held *h = ctx;
    h->c.m->eff_d = 0;
    vat_net n = gan_vat_net(h->c.m, h->noise);
    double total = 0;
    for (int pass = 0; pass < 2; pass++) {
        const float *l = n.forward(n.ctx, pass ? h->xr : h->x, NV);
        for (int i = 0; i < NV; i++) {
            const float *li = l + i * 3;
            double mx = fmax(li[0], fmax(li[1], li[2])), s = 0;
            for (int k = 0; k < 3; k++) s += exp(li[k] - mx);
            for (int k = 0; k < 3; k++) {
                double lp = li[k] - mx - log(s), p = h->p[i * 3 + k];
                total += pass ? p * (log(p) - lp) : -h->entmin * exp(lp) * lp;
            }
        }
    }
    return total / NV;
}

/* L_D with the term: the step without it plus vat_loss on its labelled and unlabelled rows (after the
 * step's other draws: a generator split off for D's noise, then the directions), value and gradient;
 * and the term's gradient against central differences of the held loss. */
static void test_vat_term(void)
{
    static held h;
    gan *m = tiny(0, &h.c);
    net_ctx *c = &h.c;
    clear_kinks(m);
    error e;
    vat_config v;
    vat_config_default(&v);
    v.eps = 0.5, v.entmin = 0.3;
    size_t nd = m->d.total, F = (size_t)m->a.features;
    float *g0 = malloc(nd * sizeof(float)), *rows = malloc(NV * F * sizeof(float));
    for (int i = 0; i < BT; i++) {
        memcpy(rows + i * F, c->x + (size_t)c->lab[i] * F, F * sizeof(float));
        memcpy(rows + (BT + i) * F, c->x + (size_t)c->unl[i] * F, F * sizeof(float));
    }
    m->vat = v;
    CHECK(gan_workspace(m, BT, &e) == 0);   /* room for the term's buffers */
    nn_params_zero_grad(NULL, &m->d);
    gan_stats st = {0}, st0 = {0};
    rng r;
    rng_seed(&r, 77);
    double with = gan_d_grad(m, c->x, c->y, c->lab, c->unl, &r, &st);
    memcpy(g0, m->d.grad, nd * sizeof(float));
    m->vat.eps = m->vat.entmin = 0;
    nn_params_zero_grad(NULL, &m->d);
    rng_seed(&r, 77);
    double without = gan_d_grad(m, c->x, c->y, c->lab, c->unl, &r, &st0);
    rng noise = rng_split(&r);
    vat_net n = gan_vat_net(m, &noise);
    vat_ws w;
    CHECK(vat_ws_alloc(&w, NV, (int)F, 3, &e) == 0);
    double term = vat_loss(&n, &v, &w, rows, NV, 1.0f, &r);
    CHECK(term > 0 && st0.loss_vat == 0);
    CHECK_NEAR(st.loss_vat, term, 1e-6 * term);
    CHECK_NEAR(with, without + term, 1e-6 * fabs(with));
    double gmax = 0, diff = 0;
    for (size_t i = 0; i < nd; i++) gmax = fmax(gmax, fabs(g0[i])), diff = fmax(diff, fabs(g0[i] - m->d.grad[i]));
    CHECK(diff <= 1e-6 * gmax);
    /* the term alone, held */
    nn_params_zero_grad(NULL, &m->d);
    rng_seed(&r, 5);
    noise = rng_split(&r);
    n = gan_vat_net(m, &noise);
    term = vat_loss(&n, &v, &w, rows, NV, 1.0f, &r);
    static float xr[NV * FI], p[NV * 3];
    memcpy(xr, w.xr, NV * F * sizeof(float));
    memcpy(p, w.p, sizeof p);
    h.x = rows, h.xr = xr, h.p = p, h.entmin = v.entmin, h.noise = &noise;
    CHECK_NEAR(held_vat(&h), term, 1e-5 * term);
    check_table("D vat", &m->d, held_vat, c, 1, m->a.nd);
    vat_ws_free(&w);
    free(g0);
    free(rows);
    gan_free(m);
}

/* Polyak averaging: the average starts at D's weights, predict uses it (a change of d alone does
 * not move predictions), an update with decay 0 copies d, one with decay 0.9 at a late step mixes
 * 0.9 / 0.1, and the model file keeps it. */
static void test_ema(void)
{
    net_ctx c;
    gan_arch a;
    gan *plain = tiny(0, &c);
    a = plain->a;
    a.ema = 1;
    error e;
    gan *m = gan_new(&a, &e);
    CHECK(m != NULL);
    CHECK(gan_workspace(m, BT, &e) == 0);
    memcpy(m->d.data, plain->d.data, m->d.total * sizeof(float));
    memcpy(m->g.data, plain->g.data, m->g.total * sizeof(float));
    memcpy(m->avg.data, plain->d.data, m->d.total * sizeof(float));
    float p0[NX * 3], p1[NX * 3], p2[NX * 3];
    CHECK(gan_predict(plain, c.x, NX, p0, &e) == 0);
    CHECK(gan_predict(m, c.x, NX, p1, &e) == 0);
    CHECK(memcmp(p0, p1, sizeof p0) == 0);
    for (size_t i = 0; i < m->d.total; i++) m->d.data[i] *= 1.5f;
    CHECK(gan_predict(m, c.x, NX, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    float keep = m->avg.data[0], cur = m->d.data[0];
    gan_ema_update(m, 0.9, 1000000);
    CHECK_NEAR(m->avg.data[0], 0.9 * keep + 0.1 * cur, 1e-6 * (fabs(keep) + fabs(cur)));
    gan_ema_update(m, 0.0, 0);
    CHECK(memcmp(m->avg.data, m->d.data, m->d.total * sizeof(float)) == 0);
    CHECK(gan_predict(m, c.x, NX, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) != 0);
    model_file *f = gan_save(m, &e);
    gan *m2 = f ? gan_load(f, &e) : NULL;
    CHECK(m2 != NULL && m2->a.ema == 1);
    int same = m2 != NULL;   /* tensor by tensor: the padding between them is not saved */
    for (int t = 0; same && t < m->avg.n; t++)
        same = memcmp(nn_data(&m2->avg, t), nn_data(&m->avg, t), m->avg.t[t].size * sizeof(float)) == 0;
    CHECK(same);
    model_file_free(f);
    gan_free(m2);
    gan_free(m);
    gan_free(plain);
}
static void test_net_conditional(void) { check_net(1); }

/* Model file round trip: same predictions, same samples; class checks of gan_sample. */
static void test_model_roundtrip(void)
{
    net_ctx c;
    gan *m = tiny(1, &c);
    error e;
    model_file *f = gan_save(m, &e);
    CHECK(f != NULL);
    gan *m2 = gan_load(f, &e);
    CHECK(m2 != NULL);
    float p1[NX * 3], p2[NX * 3], s1[7 * F], s2[7 * F];
    int32_t y1[7];
    CHECK(gan_predict(m, c.x, NX, p1, &e) == 0);
    CHECK(gan_predict(m2, c.x, NX, p2, &e) == 0);
    CHECK(memcmp(p1, p2, sizeof p1) == 0);
    for (int i = 0; i < NX; i++) CHECK_NEAR(p1[i * 3] + p1[i * 3 + 1] + p1[i * 3 + 2], 1.0, 1e-5);
    same_samples(m, m2, 7, s1, s2, y1);
    rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < 7; i++) CHECK(y1[i] == i % 3);
    for (int i = 0; i < 7 * F; i++) CHECK(s1[i] > 0.0f && s1[i] < 1.0f);   /* sigmoid output */
    CHECK(gan_sample(m, 2, 3, &r, s1, y1, &e) == -1);
    CHECK(strstr(e.msg, "out of range") != NULL);
    model_file_free(f);
    gan_free(m);
    gan_free(m2);
    /* a class asked of an unconditional generator */
    m = tiny(0, &c);
    CHECK(gan_sample(m, 2, 1, &r, s1, NULL, &e) == -1);
    CHECK(strstr(e.msg, "not conditional") != NULL);
    gan_free(m);
}

/* Two well separated clusters in 8 dimensions, 2 labels per class: D classifies the held-out rows;
 * the same seed gives the same parameters; a label >= K is refused. */
static void test_train_small(void)
{
    enum { NT = 400, FD = 8 };
    static float x[NT * FD];
    static int32_t y[NT], yt[NT];
    rng r;
    rng_seed(&r, 50);
    for (int i = 0; i < NT; i++) {
        int k = i % 2;
        yt[i] = k;
        y[i] = i < 4 ? k : -1;
        for (int j = 0; j < FD; j++) {
            float v = (j % 2 == k ? 0.75f : 0.25f) + 0.08f * rng_normal(&r);
            x[i * FD + j] = fminf(fmaxf(v, 0.0f), 1.0f);
        }
    }
    gan_arch a;
    gan_arch_default(&a);
    a.features = FD, a.classes = 2;
    a.nd = 2, a.d_hidden[0] = 32, a.d_hidden[1] = 16;
    a.ng = 1, a.g_hidden[0] = 16;
    a.noise_dim = 8;
    gan_config cfg;
    gan_config_default(&cfg);
    cfg.epochs = 3;
    cfg.batch = 20;
    error e;
    gan *m = gan_new(&a, &e), *m2 = gan_new(&a, &e);
    gan_data tr = {x, y, NT}, te = {x, yt, NT};
    CHECK(gan_train(m, &cfg, &tr, NULL, NULL, NULL, NULL, &e) == 0);
    double acc = 0;
    CHECK(gan_accuracy(m, &te, &acc, &e) == 0);
    CHECK(acc > 0.9);
    CHECK(gan_train(m2, &cfg, &tr, NULL, NULL, NULL, NULL, &e) == 0);
    CHECK(memcmp(m->d.data, m2->d.data, m->d.total * sizeof(float)) == 0);
    CHECK(memcmp(m->g.data, m2->g.data, m->g.total * sizeof(float)) == 0);
    y[0] = 2;
    CHECK(gan_train(m2, &cfg, &tr, NULL, NULL, NULL, NULL, &e) == -1);
    CHECK(strstr(e.msg, "label 2") != NULL);
    gan_free(m);
    gan_free(m2);
}

int main(void)
{
    RUN(test_losses_grad);
    RUN(test_losses_values);
    RUN(test_entropy_values);
    RUN(test_consistency);
    RUN(test_fm);
    RUN(test_ms);
    RUN(test_net);
    RUN(test_net_conditional);
    RUN(test_net_conv);
    RUN(test_net_deconv);
    RUN(test_deconv_arch);
    RUN(test_deconv_roundtrip);
    RUN(test_conv_arch);
    RUN(test_conv_roundtrip);
    RUN(test_net_shift);
    RUN(test_net_unlabelled_terms);
    RUN(test_vat_net);
    RUN(test_vat_term);
    RUN(test_ema);
    RUN(test_model_roundtrip);
    RUN(test_train_small);
    return check_summary();
}
