/* knn: exact k nearest neighbours of every row of a data set, by Euclidean distance.
 *
 * Brute force in tiles: the squared distances |q|^2 + |t|^2 - 2 q.t of a tile of query rows to a tile
 * of candidate rows come from one product (gemm_run, split over the pool's threads), and each query
 * row keeps its k best candidates in a sorted list as the tiles go by. Memory is the tiles' (a few
 * MB) and the output, whatever the number of rows; time is n^2 d multiply-adds (70,000 images of 784
 * pixels: about two minutes of one core). Ties go to the lower row index, so the result depends on
 * the data and the thread count only (the products' bytes do, gemm.h). */
#ifndef SSL_KNN_H
#define SSL_KNN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "parallel.h"

/* For each row i of x (n, d), its k nearest other rows (never i itself) by increasing distance:
 * idx (n, k) their row numbers, dist2 (n, k) their squared distances (float32 arithmetic, clamped
 * at 0). pool: the threads, or NULL for one. -1 with e set when n <= k or memory runs out. */
int knn_search(par_pool *pool, const float *x, size_t n, int d, int k, int32_t *idx, float *dist2, error *e);

#endif
