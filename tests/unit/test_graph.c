/* graph and knn: the neighbour search against a double-precision scan of every pair (with 1 and 3
 * threads), the graph's symmetry and weights, and the two propagations against the equations they
 * solve, checked here independently of the solver. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "graph.h"
#include "knn.h"
#include "rng.h"

enum { N = 300, D = 5, KNN = 6, K = 3 };

/* Three Gaussian clusters in D dimensions, their centres sep apart along different axes; row i is in
 * cluster i % K. */
static void clusters(float *x, double sep)
{
    rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < N; i++)
        for (int f = 0; f < D; f++) x[i * D + f] = (float)(rng_normal(&r) + (f == i % K ? sep : 0));
}

static double dist2(const float *x, int i, int j)
{
    double s = 0;
    for (int f = 0; f < D; f++) s += ((double)x[i * D + f] - x[j * D + f]) * ((double)x[i * D + f] - x[j * D + f]);
    return s;
}

static void test_knn(void)
{
    float x[N * D], d2[N * KNN];
    int32_t idx[N * KNN];
    clusters(x, 6);
    for (int threads = 1; threads <= 3; threads += 2) {
        error e;
        par_pool *pool = par_new(threads, &e);
        par_set_min_work(pool, 0);
        CHECK(knn_search(pool, x, N, D, KNN, idx, d2, &e) == 0);
        par_free(pool);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            /* the k-th distance of a full scan, and every listed row within it, sorted, never i */
            double dk[N];
            int m = 0;
            for (int j = 0; j < N; j++)
                if (j != i) dk[m++] = dist2(x, i, j);
            for (int a = 0; a < KNN; a++) {   /* partial selection of the KNN smallest */
                int b = a;
                for (int c = a + 1; c < m; c++) b = dk[c] < dk[b] ? c : b;
                double t = dk[a]; dk[a] = dk[b]; dk[b] = t;
            }
            for (int t = 0; t < KNN; t++) {
                bad += idx[i * KNN + t] == i;
                bad += fabs(dist2(x, i, idx[i * KNN + t]) - dk[t]) > 1e-3 * (1 + dk[t]);
                bad += fabs(d2[i * KNN + t] - dk[t]) > 1e-3 * (1 + dk[t]);
                bad += t > 0 && d2[i * KNN + t] < d2[i * KNN + t - 1];
            }
        }
        CHECK(bad == 0);
    }
    error e;
    CHECK(knn_search(NULL, x, KNN, D, KNN, idx, d2, &e) < 0);   /* needs k + 1 rows */
}

static double weight(const graph *g, int i, int j)
{
    for (size_t p = g->start[i]; p < g->start[i + 1]; p++)
        if (g->col[p] == j) return g->w[p];
    return 0;
}

static void test_graph_shape(void)
{
    float x[N * D];
    clusters(x, 6);
    graph g;
    error e;
    CHECK(graph_knn(&g, NULL, x, N, D, KNN, &e) == 0);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        double deg = 0;
        for (size_t p = g.start[i]; p < g.start[i + 1]; p++) {
            int j = g.col[p];
            bad += j == i || fabs(weight(&g, j, i) - g.w[p]) > 1e-12;   /* symmetric, no self-loop */
            bad += g.w[p] < exp(-4.0) / 2 - 1e-12 || g.w[p] > 1 + 1e-12;
            bad += p > g.start[i] && g.col[p] <= g.col[p - 1];
            deg += g.w[p];
        }
        bad += fabs(deg - g.degree[i]) > 1e-9;
        bad += g.start[i + 1] - g.start[i] < KNN;
    }
    CHECK(bad == 0);
    graph_free(&g);
}

/* 2 labelled rows per cluster. */
static void seed_labels(int32_t *y)
{
    for (int i = 0; i < N; i++) y[i] = i < 2 * K ? i % K : -1;
}

/* The solutions against the equations, with the operators applied here from the graph's edges:
 * Poisson learning's L u = b (L = D - W, b = onehot - mean at labelled rows) and sum_i d_i u_i = 0;
 * label spreading's (I - alpha S) F = (1 - alpha) Y, S = D^-1/2 W D^-1/2. */
static double equation_error(const graph *g, const graph_config *c, const int32_t *y, const double *u)
{
    double mean[K] = {0}, worst = 0, dmean[K] = {0}, dsum = 0;
    int m = 0;
    for (int i = 0; i < N; i++) m += y[i] >= 0;
    for (int i = 0; i < N; i++)
        if (y[i] >= 0) mean[y[i]] += 1.0 / m;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) {
            double lhs, rhs, yk = y[i] == k;
            if (c->method == GRAPH_POISSON) {
                lhs = g->degree[i] * u[i * K + k];
                for (size_t p = g->start[i]; p < g->start[i + 1]; p++) lhs -= g->w[p] * u[g->col[p] * K + k];
                rhs = y[i] >= 0 ? yk - mean[k] : 0;
                dmean[k] += g->degree[i] * u[i * K + k];
            } else {
                lhs = u[i * K + k];
                for (size_t p = g->start[i]; p < g->start[i + 1]; p++)
                    lhs -= c->alpha * g->w[p] / sqrt(g->degree[i] * g->degree[g->col[p]]) * u[g->col[p] * K + k];
                rhs = (1 - c->alpha) * yk;
            }
            worst = fmax(worst, fabs(lhs - rhs));
        }
    for (int i = 0; i < N; i++) dsum += g->degree[i];
    for (int k = 0; k < K; k++) worst = fmax(worst, fabs(dmean[k] / dsum));
    return worst;
}

static void test_propagate(void)
{
    float x[N * D], p[N * K];
    double u[N * K];
    int32_t y[N];
    clusters(x, 3);
    seed_labels(y);
    graph g;
    error e;
    CHECK(graph_knn(&g, NULL, x, N, D, KNN, &e) == 0);
    CHECK(g.ncomp == 1);
    for (int m = 0; m < 2; m++) {
        graph_config c;
        graph_config_default(&c);
        c.method = m ? GRAPH_SPREAD : GRAPH_POISSON;
        c.tol = 1e-10;
        graph_result r;
        CHECK(graph_solve(&g, &c, y, K, u, &r, &e) == 0);
        CHECK(r.labelled == 2 * K && r.residual <= c.tol);
        CHECK(equation_error(&g, &c, y, u) < 1e-8);
        CHECK(graph_propagate(&g, &c, y, K, p, &r, &e) == 0);
        int right = 0, sums = 0, same = 0;
        for (int i = 0; i < N; i++) {
            int best = 0, ubest = 0;
            double s = 0;
            for (int k = 0; k < K; k++) {
                best = p[i * K + k] > p[i * K + best] ? k : best;
                ubest = u[i * K + k] > u[i * K + ubest] ? k : ubest;
                s += p[i * K + k];
            }
            right += best == i % K;
            same += best == ubest;
            sums += fabs(s - 1) < 1e-5;
        }
        CHECK(right >= N * 9 / 10);   /* clusters 3 sd apart: most rows */
        CHECK(same == N && sums == N);
    }
    int32_t bad[N];
    memcpy(bad, y, sizeof bad);
    bad[10] = K;
    graph_config c;
    graph_config_default(&c);
    graph_result r;
    CHECK(graph_propagate(&g, &c, bad, K, p, &r, &e) < 0);
    for (int i = 0; i < N; i++) bad[i] = -1;
    CHECK(graph_propagate(&g, &c, bad, K, p, &r, &e) < 0);
    graph_free(&g);
}

/* Clusters 6 sd apart: three components. The first has labels of two classes, the second of one,
 * the third none: the first's rows go by Poisson learning, the second's are its class, the third's 1/K. */
static void test_components(void)
{
    float x[N * D], p[N * K];
    int32_t y[N];
    clusters(x, 6);
    for (int i = 0; i < N; i++) y[i] = -1;
    y[0] = 0, y[3] = 2;   /* cluster 0: labels 0 and 2 */
    y[1] = 1, y[4] = 1;   /* cluster 1: 1 and 1 */
    graph g;
    error e;
    CHECK(graph_knn(&g, NULL, x, N, D, KNN, &e) == 0);
    CHECK(g.ncomp == K);
    graph_config c;
    graph_config_default(&c);
    graph_result r;
    CHECK(graph_propagate(&g, &c, y, K, p, &r, &e) == 0);
    CHECK(r.residual <= c.tol && r.unreached == N / K);
    int zeros = 0, ones = 0, flat = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int k = 0; k < K; k++) best = p[i * K + k] > p[i * K + best] ? k : best;
        zeros += i % K == 0 && best != 1 && p[i * K + best] < 1;
        ones += i % K == 1 && p[i * K + 1] == 1;
        flat += i % K == 2 && fabsf(p[i * K] - 1.0f / K) < 1e-7f && fabsf(p[i * K + 2] - 1.0f / K) < 1e-7f;
    }
    CHECK(zeros == N / K);   /* Poisson learning between the two classes of its labels */
    CHECK(ones == N / K && flat == N / K);
    graph_free(&g);
}

int main(void)
{
    RUN(test_knn);
    RUN(test_graph_shape);
    RUN(test_propagate);
    RUN(test_components);
    return check_summary();
}
