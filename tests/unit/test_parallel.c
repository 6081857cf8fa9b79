/* lib/parallel: the chunking, the inline threshold, n smaller than the thread count, n = 0, many jobs
 * in a row, and shutdown; the nn kernels that use the pool give the same bytes at every thread count. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "adam.h"
#include "check.h"
#include "gan.h"
#include "m2.h"
#include "mlp.h"
#include "nn.h"
#include "parallel.h"
#include "vae.h"

/* every index written by exactly one chunk; records the chunks and the threads that ran them */
typedef struct marks {
    int *hits;            /* (n) */
    size_t begin[16], end[16];
    pthread_t who[16];
    atomic_int calls;
} marks;

static void mark(void *ctx, size_t b, size_t e)
{
    marks *m = ctx;
    int c = atomic_fetch_add(&m->calls, 1);
    if (c < 16) m->begin[c] = b, m->end[c] = e, m->who[c] = pthread_self();
    for (size_t i = b; i < e; i++) m->hits[i]++;
}

static int covered_once(const marks *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m->hits[i] != 1) return 0;
    return 1;
}

static void run_marks(par_pool *p, marks *m, size_t n, size_t grain, size_t cost)
{
    memset(m->hits, 0, (n + 1) * sizeof(int));
    atomic_store(&m->calls, 0);
    par_for(p, n, grain, cost, mark, m);
}

static void test_chunks(void)
{
    /* 3 chunks of 100 indices in grains of 16 (7 units): [0, 32), [32, 64), [64, 100) */
    CHECK(par_chunk(100, 3, 16, 0) == 0);
    CHECK(par_chunk(100, 3, 16, 1) == 32);
    CHECK(par_chunk(100, 3, 16, 2) == 64);
    CHECK(par_chunk(100, 3, 16, 3) == 100);
    /* more chunks than units: empty chunks */
    CHECK(par_chunk(5, 4, 1, 1) == 1);
    CHECK(par_chunk(2, 4, 1, 1) == 0 && par_chunk(2, 4, 1, 2) == 1 && par_chunk(2, 4, 1, 4) == 2);
    error e;
    par_pool *p = par_new(3, &e);
    CHECK(p && par_threads(p) == 3);
    marks m = {.hits = calloc(1001, sizeof(int))};
    /* 7 units, fewer than 4 x 3 chunks: one chunk per unit, each starting on a grain */
    run_marks(p, &m, 100, 16, PAR_MIN_WORK);
    CHECK(covered_once(&m, 100) && m.hits[100] == 0);
    CHECK(atomic_load(&m.calls) == 7);
    for (int c = 0; c < 7; c++) CHECK(m.begin[c] % 16 == 0 && m.end[c] - m.begin[c] <= 32);
    /* 1000 units: 12 chunks */
    run_marks(p, &m, 1000, 1, PAR_MIN_WORK);
    CHECK(covered_once(&m, 1000) && atomic_load(&m.calls) == 12);
    par_free(p);
    free(m.hits);
}

/* the workers take part: over many jobs, some chunks run off the calling thread */
typedef struct spread {
    pthread_t caller;
    atomic_int off;
} spread;

static void note_thread(void *ctx, size_t b, size_t e)
{
    spread *s = ctx;
    volatile double x = 0;
    for (size_t i = b; i < e; i++) x += (double)i;   /* a little work, so that the workers catch up */
    if (!pthread_equal(pthread_self(), s->caller)) atomic_fetch_add(&s->off, 1);
}

static void test_workers_help(void)
{
    error e;
    par_pool *p = par_new(2, &e);
    spread s = {.caller = pthread_self()};
    atomic_init(&s.off, 0);
    for (int j = 0; j < 2000 && atomic_load(&s.off) == 0; j++) par_for(p, 1 << 16, 1, PAR_MIN_WORK, note_thread, &s);
    CHECK(atomic_load(&s.off) > 0);
    par_free(p);
}

static void test_inline(void)
{
    error e;
    par_pool *p = par_new(2, &e);
    marks m = {.hits = calloc(1001, sizeof(int))};
    /* below the work threshold: one call, on the caller */
    run_marks(p, &m, 1000, 1, PAR_MIN_WORK / 1000 - 1);   /* just below it */
    CHECK(covered_once(&m, 1000) && atomic_load(&m.calls) == 1);
    CHECK(pthread_equal(m.who[0], pthread_self()) && m.begin[0] == 0 && m.end[0] == 1000);
    /* at it: split (8 chunks for 2 threads) */
    run_marks(p, &m, 1000, 1, PAR_MIN_WORK);
    CHECK(covered_once(&m, 1000) && atomic_load(&m.calls) == 8);
    /* NULL pool and a 1-thread pool: inline */
    run_marks(NULL, &m, 1000, 1, PAR_MIN_WORK);
    CHECK(covered_once(&m, 1000) && atomic_load(&m.calls) == 1);
    par_pool *one = par_new(1, &e);
    CHECK(one && par_threads(one) == 1 && par_threads(NULL) == 1);
    run_marks(one, &m, 1000, 1, PAR_MIN_WORK);
    CHECK(covered_once(&m, 1000) && atomic_load(&m.calls) == 1);
    par_free(one);
    par_free(NULL);
    par_free(p);
    free(m.hits);
}

static void test_small_n(void)
{
    error e;
    par_pool *p = par_new(4, &e);
    marks m = {.hits = calloc(4, sizeof(int))};
    /* n = 0: nothing called */
    run_marks(p, &m, 0, 1, 1 << 20);
    CHECK(atomic_load(&m.calls) == 0);
    /* n = 3 < 4 threads: three chunks of one, no empty call */
    run_marks(p, &m, 3, 1, 1 << 20);
    CHECK(covered_once(&m, 3) && atomic_load(&m.calls) == 3);
    /* n within one grain: inline */
    run_marks(p, &m, 3, 16, 1 << 20);
    CHECK(covered_once(&m, 3) && atomic_load(&m.calls) == 1);
    /* a threshold of 0 splits any job of two grains or more */
    par_set_min_work(p, 0);
    run_marks(p, &m, 2, 1, 0);
    CHECK(covered_once(&m, 2) && atomic_load(&m.calls) == 2);
    par_free(p);
    free(m.hits);
}

/* par_cores: within the online CPUs; pinned to one CPU (as taskset -c 0 does), one core */
static void test_cores(void)
{
    int all = par_cores();
    CHECK(all >= 1 && all <= sysconf(_SC_NPROCESSORS_ONLN));
    cpu_set_t saved, one;
    CHECK(sched_getaffinity(0, sizeof saved, &saved) == 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &saved)) {
            CPU_SET(c, &one);
            break;
        }
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(par_cores() == 1);
    CHECK(sched_setaffinity(0, sizeof saved, &saved) == 0);
    CHECK(par_cores() == all);
}

/* many jobs back to back (workers asleep or spinning in between): every one complete */
static void add_one(void *ctx, size_t b, size_t e)
{
    long *v = ctx;
    for (size_t i = b; i < e; i++) v[i]++;
}

static void test_many_jobs(void)
{
    error e;
    par_pool *p = par_new(2, &e);
    enum { N = 4096, JOBS = 20000 };
    long *v = calloc(N, sizeof(long));
    for (int j = 0; j < JOBS; j++) par_for(p, N, 1, PAR_MIN_WORK, add_one, v);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= v[i] == JOBS;
    CHECK(ok);
    par_free(p);
    /* a pool that never ran a job shuts down too */
    par_free(par_new(3, &e));
    free(v);
}

/* nn's pooled kernels: the same bytes at 1, 2 and 3 threads (and as without a pool) */
static void fill(float *x, size_t n, unsigned s)
{
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((int)(s >> 9) % 2001 - 1000) / 250.0f;
    }
}

static void test_nn_kernels(void)
{
    enum { B = 300, C = 257 };
    error e;
    par_pool *pools[4] = {NULL, par_new(1, &e), par_new(2, &e), par_new(3, &e)};
    for (int t = 1; t < 4; t++) par_set_min_work(pools[t], 0);
    nn_act acts[] = {NN_ACT_RELU, NN_ACT_SOFTPLUS, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_NONE};
    float *h = malloc(4 * B * C * sizeof(float)), *dh = malloc(4 * B * C * sizeof(float)), b[C], db[4][C];
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        for (int t = 0; t < 4; t++) {
            float *ht = h + (size_t)t * B * C, *dt = dh + (size_t)t * B * C;
            fill(ht, (size_t)B * C, 1), fill(dt, (size_t)B * C, 2), fill(b, C, 3), fill(db[t], C, 4);
            nn_bias_act_forward(pools[t], ht, b, B, C, acts[a]);
            nn_bias_act_backward(pools[t], dt, db[t], ht, B, C, acts[a]);
        }
        for (int t = 1; t < 4; t++) {
            CHECK(memcmp(h, h + (size_t)t * B * C, (size_t)B * C * sizeof(float)) == 0);
            CHECK(memcmp(dh, dh + (size_t)t * B * C, (size_t)B * C * sizeof(float)) == 0);
            CHECK(memcmp(db[0], db[t], sizeof db[0]) == 0);
        }
    }
    for (int t = 0; t < 4; t++) par_free(pools[t]);
    free(h);
    free(dh);
}

/* ---- the trainers: the same parameters with no pool and with pools of 2 and 3 threads ----
 * OpenBLAS runs on one thread here. The pools split every element-wise job (par_set_min_work 0),
 * however small, and that must never change a byte. Products of GEMM_SPLIT_MIN multiply-adds and more
 * are split over the pool too (gemm.h), and OpenBLAS's result depends on how a product is cut: for
 * networks with such products (the MLP, which uses its pool only then, and the default GAN) the check
 * is the same bytes from the same thread count, and parameters close to one thread's. */

enum { NX = 400, F = 64, K = 10 };

static float *data_x(void)
{
    float *x = malloc((size_t)NX * F * sizeof(float));
    rng r;
    rng_seed(&r, 11);
    rng_fill_uniform(&r, x, (size_t)NX * F);
    return x;
}

static void vaenet_arch_for(vaenet_arch *a, nn_act act)
{
    memset(a, 0, sizeof *a);
    a->in = F, a->latent = 8, a->nhidden = 1, a->hidden[0] = 256, a->act = act, a->lik = VAENET_BERNOULLI;
}

/* three steps of M1 (100 rows, ReLU) or of M2 (20 labelled + 20 unlabelled rows, 220 expanded rows,
 * softplus); the parameters into out, their number returned */
static size_t train_vae_kind(par_pool *pool, const float *x, float *out, int is_m2)
{
    vae v;
    m2 m;
    vaenet_arch a;
    vaenet_arch_for(&a, is_m2 ? NN_ACT_SOFTPLUS : NN_ACT_RELU);
    error e;
    adam opt;
    rng r;
    rng_seed(&r, 1 + (uint64_t)is_m2);
    nn_params *p = is_m2 ? &m.p : &v.p;
    if (is_m2) {
        CHECK(m2_new(&m, &a, K, 20, 20, &e) == 0);
        m2_init_weights(&m, &r);
        m2_set_pool(&m, pool);
    } else {
        CHECK(vae_new(&v, &a, 100, &e) == 0);
        vae_init_weights(&v, &r);
        vae_set_pool(&v, pool);
    }
    CHECK(adam_init_params(&opt, p, &e) == 0);
    int y[20];
    for (int i = 0; i < 20; i++) y[i] = i % K;
    float eps[(20 + 20 * K) * 8];
    for (int s = 0; s < 3; s++) {
        rng_fill_normal(&r, eps, is_m2 ? sizeof eps / sizeof eps[0] : 100 * 8);
        nn_params_zero_grad(pool, p);
        if (is_m2) {
            m2_loss l;
            memset(&l, 0, sizeof l);
            m2_forward_backward(&m, x + (size_t)s * 40 * F, y, 20, 20, eps, 1.0f, 1.0f, 1, &l);
        } else {
            vae_loss l = {0, 0, 0};
            vae_forward_backward(&v, x + (size_t)s * 100 * F, 100, eps, 1.0f, 1, &l);
        }
        adam_step(&opt, pool, p->data, p->grad);
    }
    size_t n = p->total;
    memcpy(out, p->data, n * sizeof(float));
    adam_free(&opt);
    if (is_m2) m2_free(&m);
    else vae_free(&v);
    return n;
}

static size_t train_m1(par_pool *pool, const float *x, float *out) { return train_vae_kind(pool, x, out, 0); }
static size_t train_m2(par_pool *pool, const float *x, float *out) { return train_vae_kind(pool, x, out, 1); }

/* two epochs of the MLP F-256-256-K on 400 rows, batch 200 (products above GEMM_SPLIT_MIN, so the
 * pool is used, and the products are split over it) */
static size_t train_mlp(par_pool *pool, const float *x, float *out)
{
    int32_t y[NX];
    for (int i = 0; i < NX; i++) y[i] = i % K;
    mlp_config c;
    mlp_config_default(&c);
    c.nhidden = 2, c.hidden[0] = c.hidden[1] = 256, c.epochs = 2, c.pool = pool;
    error e;
    mlp *m = mlp_new(F, K, c.nhidden, c.hidden, c.batch_norm, &e);
    mlp_data d = {x, y, NULL, NX};
    mlp_result res;
    CHECK(m && mlp_train(m, &c, &d, NULL, NULL, &res, &e) == 0);
    size_t n = m->params.total;
    memcpy(out, m->params.data, n * sizeof(float));
    mlp_free(m);
    return n;
}

/* one epoch of the GAN on 400 rows, 100 labelled: D and G as by default (products split), or small
 * enough that no product is split (D 64-128-64-10, G 100-128) */
static size_t train_gan_sized(par_pool *pool, const float *x, float *out, int small)
{
    int32_t y[NX];
    for (int i = 0; i < NX; i++) y[i] = i < 100 ? i % K : -1;
    gan_arch a;
    gan_arch_default(&a);
    a.features = F, a.classes = K;
    if (small) a.nd = 2, a.d_hidden[0] = 128, a.d_hidden[1] = 64, a.ng = 1, a.g_hidden[0] = 128;
    gan_config c;
    gan_config_default(&c);
    c.epochs = 1;
    error e;
    gan *m = gan_new(&a, &e);
    CHECK(m != NULL);
    m->pool = pool;
    gan_data d = {x, y, NX};
    CHECK(gan_train(m, &c, &d, NULL, NULL, NULL, NULL, &e) == 0);
    memcpy(out, m->d.data, m->d.total * sizeof(float));
    memcpy(out + m->d.total, m->g.data, m->g.total * sizeof(float));
    size_t n = m->d.total + m->g.total;
    gan_free(m);
    return n;
}

static size_t train_gan(par_pool *pool, const float *x, float *out) { return train_gan_sized(pool, x, out, 0); }
static size_t train_gan_small(par_pool *pool, const float *x, float *out) { return train_gan_sized(pool, x, out, 1); }

/* ||a - b|| / ||b|| */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), nb += (double)b[i] * b[i];
    return sqrt(d / nb);
}

static void test_trainers(void)
{
    size_t (*train[])(par_pool *, const float *, float *) = {train_m1, train_m2, train_gan_small, train_mlp, train_gan};
    const char *names[] = {"m1", "m2", "gan (small)", "mlp", "gan"};
    /* 0: byte-identical to one thread's parameters (no product split); else the trainer splits
     * products, and this is how far from one thread's parameters (relative) it may be: the GAN
     * amplifies last-bit differences (after its 4 steps, OpenBLAS's own 2 threads against 1 already
     * give 2.6e-4, a 3-way split 6e-3); a wrong split gives differences of order 1 */
    const double close[] = {0, 0, 0, 1e-4, 5e-2};
    int blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    float *x = data_x();
    error e;
    par_pool *pools[3] = {NULL, par_new(2, &e), par_new(3, &e)};
    par_set_min_work(pools[1], 0);
    par_set_min_work(pools[2], 0);
    enum { MAXP = 4 << 20 };
    float *ref = malloc(MAXP * sizeof(float)), *got = malloc(MAXP * sizeof(float));
    float *again = malloc(MAXP * sizeof(float));
    for (size_t k = 0; k < sizeof close / sizeof close[0]; k++) {
        size_t n = train[k](NULL, x, ref);
        for (int t = 1; t < 3; t++) {
            size_t n2 = train[k](pools[t], x, got);
            int same = n2 == n && memcmp(ref, got, n * sizeof(float)) == 0;
            if (close[k] > 0) {   /* the same bytes from the same pool instead */
                same = n2 == n && train[k](pools[t], x, again) == n && memcmp(got, again, n * sizeof(float)) == 0;
                double d = n2 == n ? rel_diff(got, ref, n) : INFINITY;
                if (!(d < close[k]))
                    fprintf(stderr, "%s: %d threads %g from one thread's\n", names[k], par_threads(pools[t]), d);
                CHECK(d < close[k]);
            }
            if (!same) fprintf(stderr, "%s: %d threads differ\n", names[k], par_threads(pools[t]));
            CHECK(same);
        }
    }
    for (int t = 0; t < 3; t++) par_free(pools[t]);
    free(ref), free(got), free(again), free(x);
    openblas_set_num_threads(blas);
}

int main(void)
{
    RUN(test_chunks);
    RUN(test_workers_help);
    RUN(test_inline);
    RUN(test_small_n);
    RUN(test_cores);
    RUN(test_many_jobs);
    RUN(test_nn_kernels);
    RUN(test_trainers);
    return check_summary();
}
