/* lib/m2: the M2 step loss against central differences w.r.t. every parameter, for a labelled
 * batch (L + alpha cross-entropy), an unlabelled batch (U: the K class copies weighted by q(y|x),
 * entropy included) and both together; KL weight beta != 1 so its place is checked too. Plus the
 * closed form of U, the save/load round trip and the label check; and the VAT and entropy term of
 * q(y|x): the classifier's input and parameter gradients as vat.h sees it, and the term's parameter
 * gradients (p(x) and x + r_adv held, as the method holds them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "m2.h"

enum { IN = 5, Z = 2, K = 3, NL = 2, NU = 2, A = 3 };

typedef struct ctx {
    m2 m;
    float x[(NL + NU) * IN], eps[(NL + NU * K) * Z + (NL + NU) * A];   /* z's noise, then a's */
    int y[NL];
    int nl, nu;
    float alpha, beta;
} ctx;

static double step_loss(void *p)
{
    ctx *c = p;
    m2_loss l = {0};
    /* the labelled rows come first in x: with nl = 0, skip them */
    m2_forward_backward(&c->m, c->x + (c->nl ? 0 : NL * IN), c->y, c->nl, c->nu, c->eps, c->alpha, c->beta, 0, &l);
    return l.obj;
}

/* An M2 (kind M2_PLAIN) or an auxiliary model with an a of A units. */
static void make_kind(ctx *c, vaenet_lik lik, uint64_t seed, m2_kind kind)
{
    vaenet_arch a = {.in = IN, .latent = Z, .nhidden = 1, .hidden = {4}, .act = NN_ACT_SOFTPLUS, .lik = lik};
    m2_aux aux = {kind, A, 4};
    error e;
    CHECK(m2_new_aux(&c->m, &a, K, &aux, NL, NU, &e) == 0);
    rng r;
    rng_seed(&r, seed);
    m2_init_weights(&c->m, &r);
    for (int i = 0; i < c->m.p.n; i++)
        if (c->m.p.t[i].ndim == 1) gc_fill(&r, nn_data(&c->m.p, i), c->m.p.t[i].size, -0.3f, 0.3f);
    /* the auxiliary models' a feeds three networks: smaller weights keep the bound (and its rounding,
     * which the difference quotients see) at the size of M2's */
    for (size_t i = 0; kind != M2_PLAIN && i < c->m.p.total; i++) c->m.p.data[i] *= 0.4f;
    gc_fill(&r, c->x, (NL + NU) * IN, 0.0f, 1.0f);
    for (size_t i = 0; i < sizeof c->eps / sizeof *c->eps; i++) c->eps[i] = rng_normal(&r);
    c->y[0] = 2, c->y[1] = 0;
    c->alpha = 1.7f, c->beta = 0.6f;
}

static void make(ctx *c, vaenet_lik lik, uint64_t seed) { make_kind(c, lik, seed, M2_PLAIN); }

static void check_case_kind(vaenet_lik lik, int nl, int nu, m2_weighting w, m2_kind kind)
{
    ctx c;
    make_kind(&c, lik, 7 + nl + 3 * nu + lik, kind);
    c.m.weighting = w;
    c.nl = nl, c.nu = nu;
    nn_params_zero_grad(NULL, &c.m.p);
    m2_loss l = {0};
    m2_forward_backward(&c.m, c.x + (nl ? 0 : NL * IN), c.y, nl, nu, c.eps, c.alpha, c.beta, 1, &l);
    CHECK(l.nlab == (size_t)nl && l.nunl == (size_t)nu);
    int bad = 0;
    for (int i = 0; i < c.m.p.n; i++)
        bad += gc_check(c.m.p.t[i].name, step_loss, &c, nn_data(&c.m.p, i), nn_grad(&c.m.p, i), c.m.p.t[i].size);
    /* a labelled-only batch leaves the unused class rows of wy untouched but must reach cls.* */
    CHECK(bad == 0);
    m2_free(&c.m);
}

static void check_case_weighted(vaenet_lik lik, int nl, int nu, m2_weighting w) { check_case_kind(lik, nl, nu, w, M2_PLAIN); }
static void check_case(vaenet_lik lik, int nl, int nu) { check_case_weighted(lik, nl, nu, M2_WEIGHT_MEANS); }

static void test_grad_labelled(void) { check_case(VAENET_BERNOULLI, NL, 0); }
static void test_grad_rows(void) { check_case_weighted(VAENET_BERNOULLI, NL, NU, M2_WEIGHT_ROWS); }

/* The two weightings of one batch: means = (lab + alpha xent) / NL + unl / NU, rows = (lab + alpha
 * xent + unl) / (NL + NU), from the same unweighted sums (beta = 1). */
static void test_weightings(void)
{
    ctx c;
    make(&c, VAENET_BERNOULLI, 11);
    c.beta = 1.0f;
    double obj[2];
    m2_loss l[2];
    for (int w = 0; w < 2; w++) {
        c.m.weighting = w ? M2_WEIGHT_ROWS : M2_WEIGHT_MEANS;
        memset(&l[w], 0, sizeof l[w]);
        m2_forward_backward(&c.m, c.x, c.y, NL, NU, c.eps, c.alpha, c.beta, 0, &l[w]);
        obj[w] = l[w].obj;
    }
    CHECK_NEAR(obj[0], (l[0].lab + c.alpha * l[0].xent) / NL + l[0].unl / NU, 1e-3 * fabs(obj[0]));
    CHECK_NEAR(obj[1], (l[1].lab + c.alpha * l[1].xent + l[1].unl) / (NL + NU), 1e-3 * fabs(obj[1]));
    m2_free(&c.m);
}
static void test_grad_unlabelled(void) { check_case(VAENET_BERNOULLI, 0, NU); }
static void test_grad_both(void) { check_case(VAENET_BERNOULLI, NL, NU); }
static void test_grad_gaussian(void) { check_case(VAENET_GAUSSIAN, NL, NU); }

/* U(x) = sum_y q(y|x) L(x,y) - H(q): computed from the labelled losses of each class. */
static void test_unlabelled_is_expectation(void)
{
    ctx c;
    make(&c, VAENET_BERNOULLI, 5);
    const float *x = c.x + NL * IN;   /* one unlabelled row */
    float eps[K * Z];
    memcpy(eps, c.eps, sizeof eps);
    m2_loss u = {0};
    m2_forward_backward(&c.m, x, NULL, 0, 1, eps, 0, 1, 0, &u);
    float q[K];
    m2_predict(&c.m, x, 1, q);
    double want = 0;
    for (int k = 0; k < K; k++) {
        m2_loss lk = {0};
        int y = k;
        m2_forward_backward(&c.m, x, &y, 1, 0, eps + k * Z, 0, 1, 0, &lk);
        want += q[k] * (lk.lab + log(q[k]));
    }
    CHECK_NEAR(u.unl, want, 1e-4 * fabs(want));
    m2_free(&c.m);
}

static void test_roundtrip_and_labels(void)
{
    ctx c;
    make(&c, VAENET_BERNOULLI, 9);
    error e;
    char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    model_file *f = m2_save(&c.m, &e);
    FILE *o1 = open_memstream(&b1, &n1);
    CHECK(f && model_file_write(f, o1, &e) == 0);
    fclose(o1);
    FILE *in = fmemopen(b1, n1, "rb");
    model_file *g = model_file_read(in, "mem", &e);
    fclose(in);
    m2 m;
    CHECK(g && m2_load(&m, g, 4, 4, &e) == 0);
    CHECK(m.K == K);
    model_file *h = m2_save(&m, &e);
    FILE *o2 = open_memstream(&b2, &n2);
    CHECK(h && model_file_write(h, o2, &e) == 0);
    fclose(o2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
    int y[3] = {0, -1, K};
    m2_data d;
    CHECK(m2_data_init(&d, c.x, y, 3, K, &e) == -1);
    CHECK(strstr(e.msg, "row 3: label 3") != NULL);
    y[2] = 1;
    CHECK(m2_data_init(&d, c.x, y, 3, K, &e) == 0 && d.nlab == 2 && d.nunl == 1);
    m2_data_free(&d);
    model_file_free(f);
    model_file_free(g);
    model_file_free(h);
    m2_free(&m);
    m2_free(&c.m);
    free(b1);
    free(b2);
}

/* Rows drawn with an sd: x + sd * eps, fresh each draw (mean x, spread sd); without, x itself. */
static void test_rows_drawn_with_sd(void)
{
    enum { N = 2, D = 3, DRAWS = 20000 };
    float x[N * D] = {0, 1, 2, 3, 4, 5}, sd[N * D] = {0, 0.5f, 2, 1, 0, 0.1f}, got[D];
    int y[N] = {0, -1}, idx = 1;
    m2_data d;
    error e;
    CHECK(m2_data_init(&d, x, y, N, 2, &e) == 0 && d.xsd == NULL);
    rng r;
    rng_seed(&r, 4);
    m2_data_rows(&d, &idx, 1, D, got, &r);
    CHECK(memcmp(got, x + D, sizeof got) == 0);
    d.xsd = sd;
    double s[D] = {0}, s2[D] = {0};
    for (int t = 0; t < DRAWS; t++) {
        m2_data_rows(&d, &idx, 1, D, got, &r);
        for (int j = 0; j < D; j++) s[j] += got[j] - x[D + j], s2[j] += (double)(got[j] - x[D + j]) * (got[j] - x[D + j]);
    }
    for (int j = 0; j < D; j++) {
        CHECK_NEAR(s[j] / DRAWS, 0.0, 0.05 * sd[D + j] + 1e-9);
        CHECK_NEAR(sqrt(s2[j] / DRAWS), sd[D + j], 0.03 * sd[D + j] + 1e-9);
    }
    m2_data_free(&d);
}

/* ---- the auxiliary models (m2_aux.c) ---- */

/* Every parameter of ADGM and SDGM (q(a|x) and p(a|.) included) against central differences. */
static void test_grad_aux(void)
{
    for (int kind = M2_ADGM; kind <= M2_SDGM; kind++) {
        check_case_kind(VAENET_BERNOULLI, NL, 0, M2_WEIGHT_MEANS, (m2_kind)kind);
        check_case_kind(VAENET_BERNOULLI, 0, NU, M2_WEIGHT_MEANS, (m2_kind)kind);
        check_case_kind(VAENET_BERNOULLI, NL, NU, M2_WEIGHT_MEANS, (m2_kind)kind);
        check_case_kind(VAENET_GAUSSIAN, NL, NU, M2_WEIGHT_ROWS, (m2_kind)kind);
    }
}

/* U(x) = sum_y q(y|a,x) L(x,y,a) - H(q(y|a,x)) at one draw of a: from the labelled bounds of each
 * class with the same noise (z's for the class, then the same a). */
static void test_aux_unlabelled_is_expectation(void)
{
    for (int kind = M2_ADGM; kind <= M2_SDGM; kind++) {
        ctx c;
        make_kind(&c, VAENET_BERNOULLI, 13, (m2_kind)kind);
        const float *x = c.x + NL * IN;
        float eps[K * Z + A], q[K];
        memcpy(eps, c.eps, sizeof eps);   /* z's K rows, then a's */
        m2_loss u = {0};
        m2_forward_backward(&c.m, x, NULL, 0, 1, eps, 0, 1, 0, &u);
        memcpy(q, c.m.q, sizeof q);
        double want = 0;
        for (int k = 0; k < K; k++) {
            float e1[Z + A];
            memcpy(e1, eps + k * Z, Z * sizeof(float));
            memcpy(e1 + Z, eps + K * Z, A * sizeof(float));
            m2_loss lk = {0};
            int y = k;
            m2_forward_backward(&c.m, x, &y, 1, 0, e1, 0, 1, 0, &lk);
            want += q[k] * (lk.lab + log(q[k]));
        }
        CHECK_NEAR(u.unl, want, 1e-4 * fabs(want));
        m2_free(&c.m);
    }
}

/* The model file keeps the kind, a's size and the draws; predict averages q(y|a,x) over them: rows
 * of probabilities, the same from the same file. */
static void test_aux_roundtrip_and_predict(void)
{
    ctx c;
    make_kind(&c, VAENET_BERNOULLI, 17, M2_SDGM);
    error e;
    model_file *f = m2_save(&c.m, &e);
    CHECK(f != NULL);
    m2 m[2];
    float p[2][NL * K];
    for (int i = 0; i < 2; i++) {
        CHECK(m2_load(&m[i], f, 0, NL, &e) == 0);
        CHECK(m[i].aux.kind == M2_SDGM && m[i].aux.size == A && m[i].aux.samples == 4);
        m2_predict(&m[i], c.x, NL, p[i]);
    }
    CHECK(memcmp(p[0], p[1], sizeof p[0]) == 0);
    for (int i = 0; i < NL; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += p[0][i * K + k];
        CHECK_NEAR(s, 1.0, 1e-5);
    }
    m2_free(&m[0]);
    m2_free(&m[1]);
    value_set(f->info, "model", value_str("xdgm"));
    CHECK(m2_load(&m[0], f, 0, NL, &e) == -1 && strstr(e.msg, "unknown model 'xdgm'") != NULL);
    model_file_free(f);
    m2_free(&c.m);
}

/* Dynamic binarisation: each draw 0 or 1, 1 with probability x. */
static void test_rows_binarised(void)
{
    enum { D = 3, DRAWS = 20000 };
    float x[D] = {0, 0.3f, 1}, got[D];
    int y[1] = {-1}, idx = 0;
    double ones[D] = {0};
    m2_data d;
    error e;
    CHECK(m2_data_init(&d, x, y, 1, 2, &e) == 0);
    d.binarise = 1;
    rng r;
    rng_seed(&r, 6);
    for (int t = 0; t < DRAWS; t++) {
        m2_data_rows(&d, &idx, 1, D, got, &r);
        for (int j = 0; j < D; j++) {
            CHECK(got[j] == 0.0f || got[j] == 1.0f);
            ones[j] += got[j];
        }
    }
    for (int j = 0; j < D; j++) CHECK_NEAR(ones[j] / DRAWS, x[j], 0.01);
    m2_data_free(&d);
}

/* ---- VAT and entropy minimisation of q(y|x) (m2_vat.c) ---- */

enum { NV = NL + NU };

/* sum_ik w_ik logits_ik(x) of the classifier on the NV rows of c->x: its gradients are the
 * backward's from dlogits = w. */
typedef struct lin {
    ctx *c;
    float w[NV * K];
} lin;

static double weighted_logits(void *p)
{
    lin *l = p;
    vat_net n = m2_vat_net(&l->c->m);
    const float *o = n.forward(n.ctx, l->c->x, NV);
    double s = 0;
    for (int i = 0; i < NV * K; i++) s += (double)l->w[i] * o[i];
    return s;
}

/* The input gradient the power iteration uses, against central differences, with the parameters'
 * gradients untouched; then the parameters' gradients of the same backward with params = 1. */
static void test_vat_net_gradients(void)
{
    static ctx c;
    static lin l;
    make(&c, VAENET_BERNOULLI, 21);
    l.c = &c;
    rng r;
    rng_seed(&r, 3);
    gc_fill_sym(&r, l.w, NV * K, 1.0f);
    nn_params_zero_grad(NULL, &c.m.p);
    vat_net n = m2_vat_net(&c.m);
    float dx[NV * IN], dl[NV * K];
    n.forward(n.ctx, c.x, NV);
    memcpy(dl, l.w, sizeof dl);
    n.backward(n.ctx, dl, dx, 0);
    int zero = 1;
    for (size_t i = 0; i < c.m.p.total; i++) zero &= c.m.p.grad[i] == 0.0f;
    CHECK(zero);
    CHECK(gc_check_layer("dx", weighted_logits, &l, c.x, dx, NV * IN) == 0);
    n.forward(n.ctx, c.x, NV);
    memcpy(dl, l.w, sizeof dl);
    n.backward(n.ctx, dl, NULL, 1);
    int bad = 0;
    for (int i = 0; i < c.m.p.n; i++)
        bad += gc_check_layer(c.m.p.t[i].name, weighted_logits, &l, nn_data(&c.m.p, i), nn_grad(&c.m.p, i), c.m.p.t[i].size);
    CHECK(bad == 0);
    m2_free(&c.m);
}

/* The term with p(x) and x + r_adv held: alpha (mean_i KL(p_i || q(y|xr_i)) + entmin mean_i
 * H(q(y|x_i))), in double from the classifier's logits. */
typedef struct held {
    ctx *c;
    const float *xr, *p;
    double entmin;
} held;

static void log_softmax_d(double *lp, const float *l)
{
    double mx = l[0], s = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, l[k]);
    for (int k = 0; k < K; k++) s += exp(l[k] - mx);
    for (int k = 0; k < K; k++) lp[k] = l[k] - mx - log(s);
}

static double held_vat(void *ctx_)
{
    held *h = ctx_;
    vat_net n = m2_vat_net(&h->c->m);
    double total = 0, lp[K];
    const float *l = n.forward(n.ctx, h->c->x, NV);
    for (int i = 0; i < NV; i++) {
        log_softmax_d(lp, l + i * K);
        for (int k = 0; k < K; k++) total -= h->entmin * exp(lp[k]) * lp[k];
    }
    l = n.forward(n.ctx, h->xr, NV);
    for (int i = 0; i < NV; i++) {
        log_softmax_d(lp, l + i * K);
        for (int k = 0; k < K; k++) total += h->p[i * K + k] * (log(h->p[i * K + k]) - lp[k]);
    }
    return h->c->alpha * total / NV;
}

/* m2_vat_loss, the step's term: its value and its parameter gradients (the classifier's; the
 * encoder's and decoder's stay zero) against the held loss; each row moved by eps; the options in
 * the model's info only when on. */
static void test_vat_term(void)
{
    static ctx c;
    make(&c, VAENET_BERNOULLI, 23);
    vat_config v;
    vat_config_default(&v);
    error e;
    CHECK(m2_set_vat(&c.m, &v, &e) == 0 && value_get(c.m.info, "vat_eps") == NULL);
    v.eps = 0.7, v.entmin = 0.4, v.iters = 2;
    CHECK(m2_set_vat(&c.m, &v, &e) == 0);
    CHECK(value_get(c.m.info, "vat_eps") && value_get(c.m.info, "vat_iterations") && value_get(c.m.info, "entmin"));
    nn_params_zero_grad(NULL, &c.m.p);
    rng r;
    rng_seed(&r, 5);
    double loss = m2_vat_loss(&c.m, c.x, NV, c.alpha, &r);
    static float xr[NV * IN], p[NV * K];
    memcpy(xr, c.m.vws.xr, sizeof xr);
    memcpy(p, c.m.vws.p, sizeof p);
    held h = {&c, xr, p, v.entmin};
    CHECK(loss > 0);
    CHECK_NEAR(held_vat(&h), c.alpha * loss, 1e-5 * c.alpha * loss);
    for (int i = 0; i < NV; i++) {
        double sq = 0;
        for (int j = 0; j < IN; j++) sq += pow(xr[i * IN + j] - c.x[i * IN + j], 2);
        CHECK_NEAR(sqrt(sq), v.eps, 1e-5);
    }
    float *g = malloc(c.m.p.total * sizeof(float));
    memcpy(g, c.m.p.grad, c.m.p.total * sizeof(float));
    int bad = 0;
    for (int i = 0; i < c.m.p.n; i++)
        bad += gc_check(c.m.p.t[i].name, held_vat, &h, nn_data(&c.m.p, i), g + c.m.p.t[i].offset, c.m.p.t[i].size);
    CHECK(bad == 0);
    free(g);
    m2_free(&c.m);
}

int main(void)
{
    RUN(test_grad_labelled);
    RUN(test_grad_rows);
    RUN(test_weightings);
    RUN(test_grad_unlabelled);
    RUN(test_grad_both);
    RUN(test_grad_gaussian);
    RUN(test_unlabelled_is_expectation);
    RUN(test_roundtrip_and_labels);
    RUN(test_rows_drawn_with_sd);
    RUN(test_grad_aux);
    RUN(test_aux_unlabelled_is_expectation);
    RUN(test_aux_roundtrip_and_predict);
    RUN(test_rows_binarised);
    RUN(test_vat_net_gradients);
    RUN(test_vat_term);
    return check_summary();
}
