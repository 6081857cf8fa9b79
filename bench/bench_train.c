/* bench_train: one training epoch of a network, timed through the library code the tools run, and
 * its BLAS floor (GUIDE section 7).
 *
 *   bench_train NET [--rows N] [--data DIR] [--threads N] [--reps R]
 *   NET: mlp (ssl-fit 784-128-64-10, batch 200), mlp-digits (64-128-64-10 on 1257 rows),
 *        m1 (ssl-vae M1 784-512-256-32, ReLU, Bernoulli, batch 128),
 *        m2 (ssl-vae M2 as pipelines/fashion-mnist.mk trains it: --hidden 256 --latent 16 --batch 100,
 *            softplus, Bernoulli; q(y|x) 784-256-10, q(z|x,y) 794-256-32, p(x|y,z) 26-256-784; a step is
 *            100 labelled + 100 unlabelled rows, each unlabelled row x 10 classes),
 *        gan (ssl-gan, Salimans et al.'s MNIST shapes: D 784-1000-500-250-250-250-10, G 100-500-500-784,
 *             batch 100 labelled + 100 unlabelled + 100 generated),
 *        vat (ssl-fit --hidden 1200,1200 --batch-norm --vat 2 --entmin 1 --batch 100: Miyato et al.'s MLP;
 *             a step is 100 labelled rows + 250 drawn from every row, each of those through a clean pass,
 *             the power iteration's forward and backward and the adversarial forward and backward)
 *
 * How the floor is measured: the training's pool carries an observer of its products (gemm_observe),
 * so every product of training is recorded (shape, transposes, leading dimensions, beta) and timed
 * as the library computes it (split over the pool's threads).
 * After the epoch, the recorded products are replayed back to back, in the same order with the same
 * arguments, each as one cblas_sgemm call on OpenBLAS's own threads (the pool's thread count for a
 * product the library splits, one thread for one it does not), on buffers of the same sizes: that
 * replay time is the floor, the epoch's time if nothing but its products cost anything, at OpenBLAS's
 * speed for the same shapes. FLOPs = 2 m n k per product.
 *
 * Data: Fashion-MNIST from DIR (default /usr/share/datasets/fashion-mnist), pixels / 255 as
 * `ssl-prep idx` writes them, read through lib/idx (the code ssl-prep uses); without the files,
 * synthetic uniform [0, 1) rows of the same shape. m2 and gan label the first 100 rows only.
 * --rows N trains on the first N rows (an epoch of N rows); the line reports seconds per 60000-row
 * epoch as well (scaled), for the networks too slow to run a whole epoch N times. mlp-digits runs
 * 20 epochs (one is too short to time) and reports per epoch (its own 1257 rows).
 *
 * Prints one line of key=value pairs (bench/report.py reads it):
 *   net rows data threads epoch_s epoch60k_s gflop sgemm_calls in_sgemm_s floor_s rss_mb
 * epoch_s and floor_s are the best of --reps (default 1) runs in this process; rss_mb is the peak
 * resident memory (getrusage) after training, before the floor's buffers exist. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "adam.h"
#include "gan.h"
#include "gemm.h"
#include "idx.h"
#include "m2.h"
#include "mlp.h"
#include "parallel.h"
#include "rng.h"
#include "vae.h"

#define FULL_EPOCH 60000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the product recorder ---- */

typedef struct call {
    int threads;            /* OpenBLAS threads of the floor's call (below) */
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} call;

static struct {
    int on;                 /* recording */
    call *calls;
    size_t n, cap;
    double secs, flops;     /* time inside the products, FLOPs, while recording */
    double t0;              /* when the product under way began */
} rec;

/* The OpenBLAS threads the floor gives a product: the pool's threads for one gemm_run splits over
 * them (OpenBLAS's own threading of the same product), one for a product it runs whole on one thread
 * (below GEMM_SPLIT_MIN, where one OpenBLAS thread is faster than two), OpenBLAS's setting without a
 * pool of several threads (training may lower it, nn_blas_threads_for). */
static int floor_threads(const par_pool *p, int m, int n, int k)
{
    if (par_threads(p) == 1) return openblas_get_num_threads();
    return gemm_splits(p, m, n, k) ? par_threads(p) : 1;
}

/* gemm_observe's observer: every product of the library's training, before (done 0) and after (1). */
static void record(void *ctx, const gemm_call *g, int done)
{
    (void)ctx;
    if (!rec.on) return;
    if (!done) {
        rec.t0 = now();
        return;
    }
    rec.secs += now() - rec.t0;
    rec.flops += 2.0 * g->M * g->N * g->K;
    if (rec.n == rec.cap) {
        rec.cap = rec.cap ? 2 * rec.cap : 4096;
        rec.calls = realloc(rec.calls, rec.cap * sizeof(call));
        if (!rec.calls) exit(1);
    }
    rec.calls[rec.n++] = (call){floor_threads(g->pool, g->M, g->N, g->K), g->ta, g->tb, g->M, g->N, g->K, g->lda,
                                g->ldb, g->ldc, g->alpha, g->beta};
}

/* Row-major sizes of a call's operands, in floats. */
static size_t size_a(const call *c) { return (size_t)(c->ta == CblasNoTrans ? c->m : c->k) * c->lda; }
static size_t size_b(const call *c) { return (size_t)(c->tb == CblasNoTrans ? c->k : c->n) * c->ldb; }
static size_t size_c(const call *c) { return (size_t)c->m * c->ldc; }

/* Replays the recorded calls in order; each distinct shape gets its own operands (as the layers
 * have their own buffers), filled with small values. Returns the seconds taken. */
static double replay(void)
{
    enum { MAXSIG = 256 };
    call sig[MAXSIG];
    float *buf[MAXSIG][3];
    int nsig = 0;
    int *which = malloc(rec.n * sizeof(int));
    rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < rec.n; i++) {
        const call *c = &rec.calls[i];
        int s = 0;
        while (s < nsig && memcmp(&sig[s], c, sizeof *c) != 0) s++;
        if (s == nsig) {
            if (nsig == MAXSIG) {
                fprintf(stderr, "bench_train: more than %d sgemm shapes\n", MAXSIG);
                exit(1);
            }
            sig[nsig] = *c;
            size_t sz[3] = {size_a(c), size_b(c), size_c(c)};
            for (int j = 0; j < 3; j++) {
                buf[nsig][j] = malloc(sz[j] * sizeof(float));
                rng_fill_uniform(&r, buf[nsig][j], sz[j]);
                for (size_t q = 0; q < sz[j]; q++) buf[nsig][j][q] *= 0.01f;
            }
            nsig++;
        }
        which[i] = s;
    }
    int threads = openblas_get_num_threads();
    double t0 = now();
    for (size_t i = 0; i < rec.n; i++) {
        const call *c = &rec.calls[i];
        float **b = buf[which[i]];
        if (c->threads != openblas_get_num_threads()) openblas_set_num_threads(c->threads);
        cblas_sgemm(CblasRowMajor, c->ta, c->tb, c->m, c->n, c->k, c->alpha, b[0], c->lda, b[1], c->ldb, c->beta, b[2],
                    c->ldc);
    }
    double t = now() - t0;
    openblas_set_num_threads(threads);
    for (int s = 0; s < nsig; s++) free(buf[s][0]), free(buf[s][1]), free(buf[s][2]);
    free(which);
    return t;
}

/* ---- data ---- */

typedef struct data {
    float *x;        /* (n, f) */
    int32_t *y;      /* (n) */
    size_t n;
    int f, k;
    const char *kind;
} data;

static int read_idx_file(const char *dir, const char *name, idx_array *a)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    error e;
    int rc = idx_read(f, path, a, &e);
    fclose(f);
    if (rc < 0) fprintf(stderr, "bench_train: %s\n", e.msg);
    return rc;
}

/* The first n rows of Fashion-MNIST's training set (pixels / 255), or synthetic rows. */
static void load(data *d, const char *dir, size_t n, int digits)
{
    idx_array img = {0}, lab = {0};
    d->f = digits ? 64 : 784;
    d->k = 10;
    d->n = n;
    d->x = malloc(n * d->f * sizeof(float));
    d->y = malloc(n * sizeof(int32_t));
    if (!digits && read_idx_file(dir, "train-images-idx3-ubyte.gz", &img) == 0 &&
        read_idx_file(dir, "train-labels-idx1-ubyte.gz", &lab) == 0 && img.item == 784 && img.count >= n) {
        for (size_t i = 0; i < n * 784; i++) d->x[i] = (float)img.data[i] / 255.0f;
        for (size_t i = 0; i < n; i++) d->y[i] = lab.data[i];
        d->kind = "fashion-mnist";
    } else {
        rng r;
        rng_seed(&r, 2);
        rng_fill_uniform(&r, d->x, n * d->f);
        for (size_t i = 0; i < n; i++) d->y[i] = (int32_t)rng_below(&r, (uint64_t)d->k);
        d->kind = "synthetic";
    }
    idx_free(&img);
    idx_free(&lab);
}

static void die(const error *e)
{
    fprintf(stderr, "bench_train: %s\n", e->msg);
    exit(1);
}

/* ---- the networks: each trains one epoch on d ---- */

/* the training's thread pool, as many threads as OpenBLAS's (--threads), as the tools make it */
static par_pool *g_pool;
/* epochs of the timed run: 1, but 20 for digits, whose epoch is too short to time alone */
static int g_epochs = 1;
/* seconds a run spent on one-time setup, not timed (m2, gan: creating and initialising the model,
 * which the 3000-row epoch would otherwise count 20 times in the 60000-row figure; the PyTorch
 * scripts time the epoch alone too) */
static double g_untimed;

static void run_mlp(const data *d)
{
    mlp_config c;
    mlp_config_default(&c);
    c.epochs = c.patience = g_epochs;
    c.pool = g_pool;
    error e;
    mlp *m = mlp_new(d->f, d->k, c.nhidden, c.hidden, c.batch_norm, &e);
    mlp_data md = {d->x, d->y, NULL, d->n};
    mlp_result res;
    if (!m || mlp_train(m, &c, &md, NULL, NULL, &res, &e) < 0) die(&e);
    mlp_free(m);
}

static void run_vat(const data *d)
{
    mlp_config c;
    mlp_config_default(&c);
    c.epochs = c.patience = g_epochs;
    c.nhidden = 2, c.hidden[0] = c.hidden[1] = 1200;
    c.batch = 100, c.ubatch = 250, c.batch_norm = 1;
    c.vat.eps = 2, c.vat.entmin = 1;
    c.pool = g_pool;
    error e;
    mlp *m = mlp_new(d->f, d->k, c.nhidden, c.hidden, c.batch_norm, &e);
    mlp_data md = {d->x, d->y, NULL, d->n};
    mlp_result res;
    if (!m || mlp_train(m, &c, &md, NULL, NULL, &res, &e) < 0) die(&e);
    mlp_free(m);
}

/* A Bernoulli VAE on 784 pixels with hidden layers h0 (and h1 when > 0). */
static void image_vae_arch(vaenet_arch *a, int latent, int h0, int h1, nn_act act)
{
    memset(a, 0, sizeof *a);
    a->in = 784;
    a->latent = latent;
    a->nhidden = h1 > 0 ? 2 : 1;
    a->hidden[0] = h0;
    a->hidden[1] = h1;
    a->act = act;
    a->lik = VAENET_BERNOULLI;
}

static void run_m1(const data *d)
{
    vae v;
    vaenet_arch a;
    image_vae_arch(&a, 32, 512, 256, NN_ACT_RELU);
    error e;
    adam opt;
    if (vae_new(&v, &a, 128, &e) < 0) die(&e);
    vae_set_pool(&v, g_pool);
    rng r;
    rng_seed(&r, 0);
    vae_init_weights(&v, &r);
    if (adam_init_params(&opt, &v.p, &e) < 0) die(&e);
    vae_loss loss = {0, 0, 0};
    if (vae_train_epoch(&v, &opt, d->x, d->n, 128, 1.0f, &r, NULL, &loss, &e) < 0) die(&e);
    adam_free(&opt);
    vae_free(&v);
}

#define NLAB 100

static void run_m2(const data *d)
{
    enum { BATCH = 100 };   /* unlabelled rows per step; labelled: min(BATCH, NLAB), as ssl-vae */
    double t0 = now();      /* the setup and the teardown are not timed, as in torch_m2.py */
    m2 m;
    vaenet_arch a;
    image_vae_arch(&a, 16, 256, 0, NN_ACT_SOFTPLUS);   /* M2_ARGS of pipelines/fashion-mnist.mk; ssl-vae's default activation */
    error e;
    adam opt;
    int *y = malloc(d->n * sizeof(int));
    for (size_t i = 0; i < d->n; i++) y[i] = i < NLAB ? d->y[i] : -1;
    m2_data md;
    if (m2_new(&m, &a, d->k, NLAB, BATCH, &e) < 0 || m2_data_init(&md, d->x, y, d->n, d->k, &e) < 0) die(&e);
    m2_set_pool(&m, g_pool);
    rng r;
    rng_seed(&r, 0);
    m2_init_weights(&m, &r);
    if (adam_init_params(&opt, &m.p, &e) < 0) die(&e);
    m2_loss loss;
    memset(&loss, 0, sizeof loss);
    float alpha = 0.1f * (float)d->n / NLAB;
    g_untimed = now() - t0;
    if (m2_train_epoch(&m, &opt, &md, NLAB, BATCH, alpha, 1.0f, &r, NULL, &loss, &e) < 0) die(&e);
    t0 = now();
    m2_data_free(&md);
    adam_free(&opt);
    m2_free(&m);
    free(y);
    g_untimed += now() - t0;
}

static void run_gan(const data *d)
{
    gan_arch a;
    gan_arch_default(&a);
    a.features = d->f;
    a.classes = d->k;
    gan_config c;
    gan_config_default(&c);
    c.epochs = 1;
    error e;
    int32_t *y = malloc(d->n * sizeof(int32_t));
    for (size_t i = 0; i < d->n; i++) y[i] = i < NLAB ? d->y[i] : -1;
    gan_data gd = {d->x, y, d->n};
    /* the setup alone (allocation, random and data-dependent init, Adam's state): a 0-epoch run,
     * untimed and unrecorded; then the whole run, setup included, from which main subtracts it */
    c.epochs = 0;
    rec.on = 0;
    double t0 = now();
    gan *m = gan_new(&a, &e);
    if (!m || gan_train(m, &c, &gd, NULL, NULL, NULL, NULL, &e) < 0) die(&e);
    gan_free(m);
    g_untimed = now() - t0;
    rec.on = 1;
    c.epochs = 1;
    m = gan_new(&a, &e);
    if (m) m->pool = g_pool;
    if (!m || gan_train(m, &c, &gd, NULL, NULL, NULL, NULL, &e) < 0) die(&e);
    gan_free(m);
    free(y);
}

static const struct {
    const char *name;
    void (*run)(const data *);
    size_t rows;       /* default rows of the timed epoch */
    int digits;
} NETS[] = {
    {"mlp", run_mlp, 60000, 0},  {"mlp-digits", run_mlp, 1257, 1}, {"m1", run_m1, 60000, 0},
    {"m2", run_m2, 6000, 0},     {"gan", run_gan, 6000, 0},      {"vat", run_vat, 3000, 0},
};

static void usage(void)
{
    fprintf(stderr, "usage: bench_train mlp|mlp-digits|m1|m2|gan|vat [--rows N] [--data DIR] [--threads N] [--reps R]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    int net = -1;
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++)
        if (strcmp(argv[1], NETS[i].name) == 0) net = (int)i;
    if (net < 0) usage();
    size_t rows = NETS[net].rows;
    int threads = 0, reps = 1;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 2; i < argc; i++) {
        if (i + 1 == argc) usage();
        if (strcmp(argv[i], "--rows") == 0) rows = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--data") == 0) dir = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[++i]);
        else usage();
    }
    if (rows < 200 || reps < 1) usage();
    if (threads > 0) openblas_set_num_threads(threads);
    error pe;
    if (!(g_pool = par_new(openblas_get_num_threads(), &pe))) die(&pe);
    gemm_observe(g_pool, record, NULL);
    data d;
    load(&d, dir, rows, NETS[net].digits);
    if (NETS[net].digits) g_epochs = 20;
    double best = INFINITY, in_sgemm = 0, flops = 0, floor_s = INFINITY;
    size_t ncalls = 0;
    for (int rep = 0; rep < reps; rep++) {
        free(rec.calls);
        memset(&rec, 0, sizeof rec);
        rec.on = 1;
        g_untimed = 0;
        double t0 = now();
        NETS[net].run(&d);
        double t = now() - t0 - g_untimed;
        rec.on = 0;
        if (t < best) best = t, in_sgemm = rec.secs;
        flops = rec.flops;
        ncalls = rec.n;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    for (int rep = 0; rep < reps; rep++) {
        double t = replay();
        floor_s = t < floor_s ? t : floor_s;
    }
    /* per epoch; the 60000-row figure is scaled (digits: its own 1257-row epoch) */
    best /= g_epochs, in_sgemm /= g_epochs, floor_s /= g_epochs, flops /= g_epochs;
    double scale = (double)FULL_EPOCH / (double)rows;
    printf("net=%s rows=%zu data=%s threads=%d epoch_s=%.4f epoch60k_s=%.4f gflop=%.3f sgemm_calls=%zu "
           "in_sgemm_s=%.4f floor_s=%.4f rss_mb=%.1f\n",
           NETS[net].name, rows, d.kind, openblas_get_num_threads(), best, NETS[net].digits ? best : best * scale,
           flops / 1e9, ncalls, in_sgemm, floor_s, (double)ru.ru_maxrss / 1024.0);
    free(rec.calls);
    par_free(g_pool);
    free(d.x);
    free(d.y);
    return 0;
}
