/* bench_fit: how close an ssl-fit training epoch comes to the BLAS floor (GUIDE section 7).
 *
 * For each network (Fashion-MNIST 784-128-64-10 and digits 64-128-64-10, batch 200):
 *   1. times cblas_sgemm alone on exactly the products one training step makes (forward
 *      x W^T per layer; backward dW = dY^T X per layer and dX = dY W for all but the first),
 *      and reports their combined GFLOP/s (2*m*n*k per product);
 *   2. times real training epochs through mlp_train (the same code ssl-fit runs), counts the
 *      same FLOPs per step, and reports the epoch's GFLOP/s;
 *   3. prints the ratio (epoch / sgemm): 1.0 would mean nothing but the products costs time.
 * The data is synthetic (uniform [0,1) features, random labels) of the real data sets' shapes:
 * speed does not depend on the values.
 *
 * Each figure is the best of 3 interleaved repetitions (the machine may be shared).
 *
 * Usage: bench_fit [--threads N] [--quick]   (prints one table on stdout) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "mlp.h"
#include "rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct net {
    const char *name;
    int rows;                 /* rows of one epoch (the training set size) */
    int sizes[4];             /* features, hidden1, hidden2, classes */
} net;

#define BATCH 200
#define LAYERS 3

/* FLOPs of one training step on B rows: 3 products per layer but 2 for the first (no dX). */
static double step_flops(const net *n, int B)
{
    double f = 0;
    for (int l = 0; l < LAYERS; l++) {
        double mnk = (double)B * n->sizes[l] * n->sizes[l + 1];
        f += 2 * mnk * (l == 0 ? 2 : 3);
    }
    return f;
}

/* GFLOP/s of the step's products alone, run back to back for at least `secs` seconds. */
static double sgemm_rate(const net *n, double secs)
{
    int B = BATCH, wmax = 0;
    for (int l = 0; l < 4; l++) wmax = n->sizes[l] > wmax ? n->sizes[l] : wmax;
    size_t big = (size_t)B * wmax;
    float *x = malloc(big * sizeof(float)), *y = malloc(big * sizeof(float)), *dy = malloc(big * sizeof(float)),
          *dx = malloc(big * sizeof(float)), *w = malloc((size_t)wmax * wmax * sizeof(float)),
          *dw = malloc((size_t)wmax * wmax * sizeof(float));
    rng r;
    rng_seed(&r, 1);
    rng_fill_uniform(&r, x, big);
    rng_fill_uniform(&r, dy, big);
    rng_fill_uniform(&r, w, (size_t)wmax * wmax);
    memset(dw, 0, (size_t)wmax * wmax * sizeof(float));
    double t0 = now(), t;
    long steps = 0;
    do {
        for (int l = 0; l < LAYERS; l++) {
            int in = n->sizes[l], out = n->sizes[l + 1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 1.0f, dw, in);
            if (l > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
        }
        steps++;
        t = now() - t0;
    } while (t < secs);
    free(x), free(y), free(dy), free(dx), free(w), free(dw);
    return step_flops(n, B) * (double)steps / t / 1e9;
}

/* GFLOP/s of whole training epochs through mlp_train; *epoch_s gets seconds per epoch. */
static double epoch_rate(const net *n, int epochs, double *epoch_s)
{
    int F = n->sizes[0], K = n->sizes[3];
    size_t N = (size_t)n->rows;
    float *x = malloc(N * F * sizeof(float));
    int32_t *y = malloc(N * sizeof(int32_t));
    rng r;
    rng_seed(&r, 2);
    rng_fill_uniform(&r, x, N * F);
    for (size_t i = 0; i < N; i++) y[i] = (int32_t)rng_below(&r, (uint64_t)K);
    mlp_config c;
    mlp_config_default(&c);
    c.hidden[0] = n->sizes[1];
    c.hidden[1] = n->sizes[2];
    c.epochs = epochs;
    c.patience = epochs;  /* run every epoch */
    error e;
    mlp *m = mlp_new(F, K, 2, c.hidden, &e);
    mlp_data d = {x, y, NULL, N};
    mlp_result res;
    double t0 = now();
    if (!m || mlp_train(m, &c, &d, NULL, NULL, &res, &e) < 0) {
        fprintf(stderr, "bench_fit: %s\n", e.msg);
        exit(1);
    }
    double t = now() - t0;
    *epoch_s = t / res.epochs_run;
    /* FLOPs of one epoch: full batches plus the last partial one */
    double flops = (double)(N / BATCH) * step_flops(n, BATCH) + (N % BATCH ? step_flops(n, (int)(N % BATCH)) : 0);
    mlp_free(m);
    free(x), free(y);
    return flops * res.epochs_run / t / 1e9;
}

int main(int argc, char **argv)
{
    int threads = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else {
            fprintf(stderr, "usage: bench_fit [--threads N] [--quick]\n");
            return 2;
        }
    }
    if (threads > 0) openblas_set_num_threads(threads);
    const net nets[] = {
        {"fashion-mnist 784-128-64-10", 60000, {784, 128, 64, 10}},
        {"digits 64-128-64-10", 1257, {64, 128, 64, 10}},
    };
    printf("ssl-fit training epoch vs cblas_sgemm on the same shapes (batch %d, %d BLAS threads;\n"
           "synthetic data of the data sets' shapes; FLOPs = 2*m*n*k per product, forward and backward)\n\n",
           BATCH, openblas_get_num_threads());
    printf("%-29s %8s %12s %12s %10s %7s\n", "network", "rows", "sgemm GF/s", "epoch GF/s", "epoch s", "ratio");
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        const net *n = &nets[i];
        /* interleaved repetitions, best of each: the machine may be shared, and the best run is
         * the one least disturbed */
        double g = 0, ge = 0, es = 1e30;
        for (int rep = 0; rep < (quick ? 1 : 3); rep++) {
            double gi = sgemm_rate(n, quick ? 0.3 : 0.8), esi;
            double gei = epoch_rate(n, n->rows > 10000 ? 1 : (quick ? 20 : 50), &esi);
            g = gi > g ? gi : g;
            ge = gei > ge ? gei : ge;
            es = esi < es ? esi : es;
        }
        printf("%-29s %8d %12.2f %12.2f %10.4f %7.2f\n", n->name, n->rows, g, ge, es, ge / g);
    }
    return 0;
}
