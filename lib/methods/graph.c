#include "graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"

void graph_free(graph *g)
{
    if (!g) return;
    free(g->start);
    free(g->col);
    free(g->w);
    free(g->degree);
    free(g->order);
    free(g->cstart);
    memset(g, 0, sizeof *g);
}

typedef struct edge {
    int32_t col;
    double w;
} edge;

static int by_col(const void *a, const void *b)
{
    int32_t x = ((const edge *)a)->col, y = ((const edge *)b)->col;
    return (x > y) - (x < y);
}

/* Row i's neighbour t weighs exp(-4 d^2 / d_k^2); a row whose k neighbours all sit at distance 0 (copies
 * of it) is linked to them with weight 1. */
static double gaussian_weight(const float *dist2, int k, size_t i, int t)
{
    double dk2 = dist2[i * k + k - 1];
    return dk2 > 0 ? exp(-4.0 * dist2[i * k + t] / dk2) : 1.0;
}

/* Each row's edges sorted by neighbour, the two halves of a symmetrised edge merged into one. */
static void merge_rows(graph *g, edge *edges, const size_t *fill_start)
{
    size_t out = 0;
    for (size_t i = 0; i < g->n; i++) {
        edge *row = edges + fill_start[i];
        size_t len = fill_start[i + 1] - fill_start[i];
        qsort(row, len, sizeof *row, by_col);
        g->start[i] = out;
        g->degree[i] = 0;
        for (size_t a = 0; a < len; a++) {
            if (out > g->start[i] && g->col[out - 1] == row[a].col) {
                g->w[out - 1] += row[a].w;
            } else {
                g->col[out] = row[a].col;
                g->w[out++] = row[a].w;
            }
            g->degree[i] += row[a].w;
        }
    }
    g->start[g->n] = out;
}

/* The connected components, breadth first from the lowest unvisited row (g->order, g->cstart). */
static void find_components(graph *g, uint8_t *seen)
{
    size_t head = 0, tail = 0;
    g->ncomp = 0;
    memset(seen, 0, g->n);
    for (size_t r = 0; r < g->n; r++) {
        if (seen[r]) continue;
        g->cstart[g->ncomp++] = tail;
        seen[r] = 1;
        g->order[tail++] = (int32_t)r;
        while (head < tail) {
            int32_t i = g->order[head++];
            for (size_t p = g->start[i]; p < g->start[i + 1]; p++)
                if (!seen[g->col[p]]) seen[g->col[p]] = 1, g->order[tail++] = g->col[p];
        }
    }
    g->cstart[g->ncomp] = tail;
}

int graph_from_neighbours(graph *g, const int32_t *idx, const float *dist2, size_t n, int k, error *e)
{
    memset(g, 0, sizeof *g);
    size_t nnz = 2 * n * (size_t)k;
    size_t *fill = calloc(n + 1, sizeof *fill);
    edge *edges = malloc(nnz * sizeof *edges);
    g->n = n;
    g->start = malloc((n + 1) * sizeof *g->start);
    g->col = malloc(nnz * sizeof *g->col);
    g->w = malloc(nnz * sizeof *g->w);
    g->degree = malloc(n * sizeof *g->degree);
    g->order = malloc(n * sizeof *g->order);
    g->cstart = malloc((n + 1) * sizeof *g->cstart);
    if (!fill || !edges || !g->start || !g->col || !g->w || !g->degree || !g->order || !g->cstart) {
        free(fill);
        free(edges);
        graph_free(g);
        return error_set(e, "out of memory for the graph of %zu rows", n);
    }
    /* row i holds its k out-edges and one edge per row that has i among its neighbours */
    for (size_t i = 0; i < n; i++) {
        fill[i + 1] += k;
        for (int t = 0; t < k; t++) fill[idx[i * k + t] + 1]++;
    }
    for (size_t i = 0; i < n; i++) fill[i + 1] += fill[i];
    size_t *pos = malloc(n * sizeof *pos);
    if (!pos) {
        free(fill);
        free(edges);
        graph_free(g);
        return error_set(e, "out of memory for the graph of %zu rows", n);
    }
    memcpy(pos, fill, n * sizeof *pos);
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < k; t++) {
            int32_t j = idx[i * k + t];
            double w = gaussian_weight(dist2, k, i, t) / 2;
            edges[pos[i]++] = (edge){j, w};
            edges[pos[j]++] = (edge){(int32_t)i, w};
        }
    merge_rows(g, edges, fill);
    find_components(g, (uint8_t *)pos);   /* pos is no longer needed: n bytes of it mark the rows seen */
    free(pos);
    free(fill);
    free(edges);
    return 0;
}

int graph_knn(graph *g, par_pool *pool, const float *x, size_t n, int d, int k, error *e)
{
    memset(g, 0, sizeof *g);
    if (k < 1 || n <= (size_t)k) return knn_search(pool, x, n, d, k, NULL, NULL, e);
    int32_t *idx = malloc(n * (size_t)k * sizeof *idx);
    float *dist2 = malloc(n * (size_t)k * sizeof *dist2);
    int rc = idx && dist2 ? knn_search(pool, x, n, d, k, idx, dist2, e)
                          : error_set(e, "out of memory for the neighbours of %zu rows", n);
    if (rc == 0) rc = graph_from_neighbours(g, idx, dist2, n, k, e);
    free(idx);
    free(dist2);
    return rc;
}

void graph_config_default(graph_config *c)
{
    c->method = GRAPH_POISSON;
    c->alpha = 0.99;
    c->tol = 1e-6;
    c->max_iter = 5000;
}

/* ---- conjugate gradients on (I - a S) X = B, X and B (n, K), one cg_system per column ------------- */

typedef struct cg_system {
    const graph *g;
    const double *isd;   /* 1 / sqrt(degree) */
    double a;
    int K;
    double *acc, *rs, *rs_new, *curv, *step;   /* K each: workspace */
} cg_system;

/* y = (I - a S) x, S = D^-1/2 W D^-1/2 */
static void apply(const cg_system *s, const double *x, double *y)
{
    const graph *g = s->g;
    int K = s->K;
    double *acc = s->acc;
    for (size_t i = 0; i < g->n; i++) {
        memset(acc, 0, K * sizeof *acc);
        for (size_t p = g->start[i]; p < g->start[i + 1]; p++) {
            double wj = g->w[p] * s->isd[g->col[p]];
            const double *xj = x + (size_t)g->col[p] * K;
            for (int c = 0; c < K; c++) acc[c] += wj * xj[c];
        }
        for (int c = 0; c < K; c++) y[i * K + c] = x[i * K + c] - s->a * s->isd[i] * acc[c];
    }
}

/* Column sums of a .* b (n, K) into out (K). */
static void column_dots(const double *a, const double *b, size_t n, int K, double *out)
{
    memset(out, 0, K * sizeof *out);
    for (size_t i = 0; i < n * K; i++) out[i % K] += a[i] * b[i];
}

static double total(const double *v, int K)
{
    double t = 0;
    for (int c = 0; c < K; c++) t += v[c];
    return t;
}

/* x = the solution from 0, columns independent; a column whose residual vanished (or whose curvature
 * p.Ap does: a singular cg_system's end) stops moving. work: 3 n K doubles. */
static void solve(const cg_system *s, const graph_config *c, const double *b, double *x, double *work, graph_result *r)
{
    size_t n = s->g->n, nk = n * s->K;
    int K = s->K;
    double *res = work, *dir = work + nk, *adir = work + 2 * nk;
    double *rs = s->rs, *rs_new = s->rs_new, *curv = s->curv, *step = s->step;
    memset(x, 0, nk * sizeof *x);
    memcpy(res, b, nk * sizeof *res);
    memcpy(dir, b, nk * sizeof *dir);
    column_dots(res, res, n, K, rs);
    double bnorm = sqrt(total(rs, K)), rnorm = bnorm;
    int it = 0;
    while (rnorm > c->tol * bnorm && it < c->max_iter) {
        apply(s, dir, adir);
        column_dots(dir, adir, n, K, curv);
        for (int k = 0; k < K; k++) step[k] = rs[k] > 0 && curv[k] > 0 ? rs[k] / curv[k] : 0;
        for (size_t i = 0; i < nk; i++) {
            x[i] += step[i % K] * dir[i];
            res[i] -= step[i % K] * adir[i];
        }
        column_dots(res, res, n, K, rs_new);
        for (size_t i = 0; i < nk; i++) dir[i] = res[i] + (rs[i % K] > 0 ? rs_new[i % K] / rs[i % K] : 0) * dir[i];
        memcpy(rs, rs_new, K * sizeof *rs);
        rnorm = sqrt(total(rs, K));
        it++;
    }
    r->iterations = it;
    r->residual = bnorm > 0 ? rnorm / bnorm : 0;
}

/* ---- the two methods' right-hand sides and outputs -------------------------------------------- */

/* Poisson learning's source D^-1/2 b: b_i = y_i - the mean one-hot of the labelled rows of i's
 * component, at labelled rows (0 elsewhere; each component's b sums to 0, so its system has a
 * solution). mean: K doubles of workspace. */
static void poisson_source(const graph *g, const int32_t *y, int K, const double *isd, double *mean, double *b)
{
    memset(b, 0, g->n * K * sizeof *b);
    for (size_t c = 0; c < g->ncomp; c++) {
        const int32_t *rows = g->order + g->cstart[c];
        size_t len = g->cstart[c + 1] - g->cstart[c], m = 0;
        memset(mean, 0, K * sizeof *mean);
        for (size_t a = 0; a < len; a++)
            if (y[rows[a]] >= 0) mean[y[rows[a]]]++, m++;
        for (size_t a = 0; a < len; a++) {
            int32_t i = rows[a];
            if (y[i] >= 0)
                for (int k = 0; k < K; k++) b[(size_t)i * K + k] = ((k == y[i]) - mean[k] / m) * isd[i];
        }
    }
}

/* u = D^-1/2 v, then each column's degree-weighted mean in each component taken out (the solution
 * Poisson learning defines: v's component along the null vectors D^1/2 1_c is rounding drift). */
static void poisson_scores(const graph *g, const double *isd, int K, double *mean, double *v)
{
    for (size_t i = 0; i < g->n * K; i++) v[i] *= isd[i / K];
    for (size_t c = 0; c < g->ncomp; c++) {
        const int32_t *rows = g->order + g->cstart[c];
        size_t len = g->cstart[c + 1] - g->cstart[c];
        double dsum = 0;
        memset(mean, 0, K * sizeof *mean);
        for (size_t a = 0; a < len; a++) {
            for (int k = 0; k < K; k++) mean[k] += g->degree[rows[a]] * v[(size_t)rows[a] * K + k];
            dsum += g->degree[rows[a]];
        }
        for (size_t a = 0; a < len; a++)
            for (int k = 0; k < K; k++) v[(size_t)rows[a] * K + k] -= mean[k] / dsum;
    }
}

/* The rows of a component without labels: 1/K each; of one whose labels are all one class: that
 * class. Their number without labels into *unreached. */
static void settle_components(const graph *g, const int32_t *y, int K, float *p, size_t *unreached)
{
    *unreached = 0;
    for (size_t c = 0; c < g->ncomp; c++) {
        const int32_t *rows = g->order + g->cstart[c];
        size_t len = g->cstart[c + 1] - g->cstart[c];
        int cls = -1, mixed = 0;
        for (size_t a = 0; a < len; a++) {
            int32_t l = y[rows[a]];
            if (l >= 0 && cls >= 0 && l != cls) mixed = 1;
            if (l >= 0) cls = l;
        }
        if (mixed) continue;
        *unreached += cls < 0 ? len : 0;
        for (size_t a = 0; a < len; a++)
            for (int k = 0; k < K; k++) p[(size_t)rows[a] * K + k] = cls < 0 ? 1.0f / K : k == cls;
    }
}

/* p_i = s_i / sum(s_i), s >= 0; 1/K where the row's sum is 0. */
static void rows_to_p(const double *s, size_t n, int K, float *p)
{
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int c = 0; c < K; c++) sum += s[i * K + c];
        for (int c = 0; c < K; c++) p[i * K + c] = (float)(sum > 0 ? s[i * K + c] / sum : 1.0 / K);
    }
}

/* u scaled into [0, 1] over every row and class (shifted and scaled alike, so each row keeps its order). */
static void unit_scale(double *u, size_t nk)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < nk; i++) lo = u[i] < lo ? u[i] : lo, hi = u[i] > hi ? u[i] : hi;
    for (size_t i = 0; i < nk; i++) u[i] = hi > lo ? (u[i] - lo) / (hi - lo) : 0;
}

static int count_labelled(const int32_t *y, size_t n, int K, size_t *m, error *e)
{
    *m = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < -1 || y[i] >= K) return error_set(e, "row %zu: label %d is not -1 or a class 0..%d", i + 1, y[i], K - 1);
        *m += y[i] >= 0;
    }
    return *m ? 0 : error_set(e, "no labelled rows to propagate (every y is -1)");
}

int graph_solve(const graph *g, const graph_config *c, const int32_t *y, int K, double *u, graph_result *r, error *e)
{
    size_t n = g->n, nk = n * K, m;
    if (count_labelled(y, n, K, &m, e) < 0) return -1;
    double *mem = malloc((4 * nk + n + 5 * (size_t)K) * sizeof *mem);
    if (!mem) return error_set(e, "out of memory for the propagation over %zu rows", n);
    double *b = mem, *work = mem + nk, *isd = mem + 4 * nk, *kw = isd + n;
    for (size_t i = 0; i < n; i++) isd[i] = g->degree[i] > 0 ? 1 / sqrt(g->degree[i]) : 0;
    cg_system s = {g, isd, c->method == GRAPH_SPREAD ? c->alpha : 1.0, K, kw, kw + K, kw + 2 * K, kw + 3 * K, kw + 4 * K};
    if (c->method == GRAPH_SPREAD) {
        memset(b, 0, nk * sizeof *b);
        for (size_t i = 0; i < n; i++)
            if (y[i] >= 0) b[i * K + y[i]] = 1 - c->alpha;
    } else {
        poisson_source(g, y, K, isd, kw, b);
    }
    solve(&s, c, b, u, work, r);
    r->labelled = m;
    if (c->method == GRAPH_POISSON) poisson_scores(g, isd, K, kw, u);
    free(mem);
    return 0;
}

int graph_propagate(const graph *g, const graph_config *c, const int32_t *y, int K, float *p, graph_result *r,
                    error *e)
{
    size_t nk = g->n * K;
    double *u = malloc(nk * sizeof *u);
    if (!u) return error_set(e, "out of memory for the propagation over %zu rows", g->n);
    if (graph_solve(g, c, y, K, u, r, e) < 0) {
        free(u);
        return -1;
    }
    if (c->method == GRAPH_SPREAD) {
        for (size_t i = 0; i < nk; i++) u[i] = u[i] > 0 ? u[i] : 0;
    } else {
        unit_scale(u, nk);
    }
    rows_to_p(u, g->n, K, p);
    settle_components(g, y, K, p, &r->unreached);
    free(u);
    return 0;
}
