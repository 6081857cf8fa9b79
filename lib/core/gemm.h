/* gemm: the matrix products of training, split over the pool's threads.
 *
 * With a pool of T > 1 threads, a product runs as T single-threaded OpenBLAS calls on the pool, each
 * computing a block of C's rows (or of its columns), instead of one call on OpenBLAS's own threads.
 * Two sets of threads on the same cores would get in each other's way: OpenBLAS's threads spin for a
 * while after each product, taking cores from the pool's element-wise jobs between products, and the
 * pool's worker, sleeping during a product, would have to be woken for each job. So the pool's threads
 * do both, and on the networks' shapes the split products are as fast as OpenBLAS's threaded ones or
 * faster (docs/notes/2026-12-06-speed-history.md has the measurements).
 *
 * Bytes: OpenBLAS's result depends on how a product is cut (its blocking follows the shape), so a
 * product split over T threads is not bit for bit the whole product on one thread, as OpenBLAS's own
 * threads are not either. Same thread count, same bytes: the cut depends on the shape and T only. */
#ifndef SSL_GEMM_H
#define SSL_GEMM_H

#include <cblas.h>

#include "parallel.h"

/* Below this many multiply-adds a second thread costs more than it saves, so a product is not split
 * (200 x 128 x 64: 35 us split in two, 32 us whole on one thread), and an MLP whose products are all
 * smaller trains on one thread (nn_blas_threads_for). */
#define GEMM_SPLIT_MIN (1L << 22)

/* C (M, N) = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm. With a pool of more than one
 * thread, OpenBLAS runs at one thread for the call (its setting restored after), and the product is
 * split over the pool when gemm_splits says so; without a pool (or one of one thread), one
 * cblas_sgemm call at OpenBLAS's current threads. */
void gemm_run(par_pool *p, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* A product's shape, as gemm_run was asked for it. */
typedef struct gemm_call {
    const par_pool *pool;
    enum CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc;
    float alpha, beta;
} gemm_call;
/* An observer of the products run on a pool (measuring: bench/bench_train.c records and times each):
 * fn(ctx, call, 0) before and fn(ctx, call, 1) after each. NULL fn: none. */
typedef void (*gemm_observer)(void *ctx, const gemm_call *c, int done);
void gemm_observe(par_pool *p, gemm_observer fn, void *ctx);
/* 1 when gemm_run splits an M x N x K product over p's threads. */
int gemm_splits(const par_pool *p, int M, int N, int K);

#endif
