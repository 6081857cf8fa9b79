#include "knn.h"

#include <math.h>
#include <stdlib.h>

#include "gemm.h"

/* Tile sizes: a 256 x 2048 block of dot products is 2 MB, and 2048 candidate rows of a few hundred
 * features stay in cache while the query tile goes through them. */
enum { QUERY_TILE = 256, CAND_TILE = 2048 };

typedef struct tile_job {
    const float *dots;       /* (nq, nc) q.t of the tile */
    const float *qnorm, *cnorm;   /* |q|^2 of the query rows, |t|^2 of the candidate rows */
    size_t q0, c0, nc;       /* first query row, first candidate row, candidates in the tile */
    int k;
    int32_t *idx;
    float *dist2;
} tile_job;

/* Puts candidate j at squared distance d into row i's sorted list when it beats the last one (a tie
 * keeps the earlier, lower-numbered row: candidates come in increasing order). */
static void keep_best(int32_t *idx, float *dist2, int k, int32_t j, float d)
{
    if (!(d < dist2[k - 1])) return;
    int p = k - 1;
    while (p > 0 && d < dist2[p - 1]) {
        dist2[p] = dist2[p - 1];
        idx[p] = idx[p - 1];
        p--;
    }
    dist2[p] = d;
    idx[p] = j;
}

static void scan_tile(void *ctx, size_t begin, size_t end)
{
    const tile_job *t = ctx;
    for (size_t r = begin; r < end; r++) {
        size_t i = t->q0 + r;
        int32_t *idx = t->idx + i * (size_t)t->k;
        float *dist2 = t->dist2 + i * (size_t)t->k;
        const float *dots = t->dots + r * t->nc;
        for (size_t c = 0; c < t->nc; c++) {
            size_t j = t->c0 + c;
            if (j == i) continue;
            float d = t->qnorm[r] + t->cnorm[c] - 2 * dots[c];
            keep_best(idx, dist2, t->k, (int32_t)j, d > 0 ? d : 0);
        }
    }
}

int knn_search(par_pool *pool, const float *x, size_t n, int d, int k, int32_t *idx, float *dist2, error *e)
{
    if (k < 1 || n <= (size_t)k)
        return error_set(e, "%zu rows: the %d nearest neighbours of a row need at least %d rows", n, k, k + 1);
    if (d < 1) return error_set(e, "rows of %d features", d);
    if (n > INT32_MAX) return error_set(e, "%zu rows: at most %d", n, INT32_MAX);
    float *norm = malloc(n * sizeof *norm), *dots = malloc((size_t)QUERY_TILE * CAND_TILE * sizeof *dots);
    if (!norm || !dots) {
        free(norm);
        free(dots);
        return error_set(e, "out of memory for the neighbour search of %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int f = 0; f < d; f++) s += (double)x[i * d + f] * x[i * d + f];
        norm[i] = (float)s;
    }
    for (size_t i = 0; i < n * (size_t)k; i++) idx[i] = -1, dist2[i] = INFINITY;
    for (size_t q0 = 0; q0 < n; q0 += QUERY_TILE) {
        size_t nq = n - q0 < QUERY_TILE ? n - q0 : QUERY_TILE;
        for (size_t c0 = 0; c0 < n; c0 += CAND_TILE) {
            size_t nc = n - c0 < CAND_TILE ? n - c0 : CAND_TILE;
            gemm_run(pool, CblasNoTrans, CblasTrans, (int)nq, (int)nc, d, 1.0f, x + q0 * d, d, x + c0 * d, d, 0.0f,
                     dots, (int)nc);
            tile_job t = {dots, norm + q0, norm + c0, q0, c0, nc, k, idx, dist2};
            par_for(pool, nq, 1, nc, scan_tile, &t);
        }
    }
    free(norm);
    free(dots);
    return 0;
}
