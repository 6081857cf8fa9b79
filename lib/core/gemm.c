#include "gemm.h"

/* Rows of C per part are whole blocks of this many: OpenBLAS's sgemm kernels work on 16 rows or
 * columns at a time, so a cut there leaves each part's tail where the whole product has its own. */
#define GEMM_BLOCK 16

typedef struct gemm_job {
    enum CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc, by_rows;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

/* Rows [i0, i1) of C (by_rows), or its columns [i0, i1). */
static void gemm_part(void *ctx, size_t i0, size_t i1)
{
    const gemm_job *j = ctx;
    int n = (int)(i1 - i0), o = (int)i0;
    if (j->by_rows) {
        const float *A = j->ta == CblasNoTrans ? j->A + (size_t)o * j->lda : j->A + o;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, n, j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, j->beta,
                    j->C + (size_t)o * j->ldc, j->ldc);
    } else {
        const float *B = j->tb == CblasNoTrans ? j->B + o : j->B + (size_t)o * j->ldb;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, j->M, n, j->K, j->alpha, j->A, j->lda, B, j->ldb, j->beta,
                    j->C + o, j->ldc);
    }
}

/* Split along C's longer side: each part packs the whole of the other operand, so it should be the
 * smaller one (rows: all of op(B), K x N; columns: all of op(A), M x K). */
static int by_rows(int M, int N) { return M >= N; }

int gemm_splits(const par_pool *p, int M, int N, int K)
{
    int T = par_threads(p);
    long side = by_rows(M, N) ? M : N;
    return T > 1 && side >= 2L * GEMM_BLOCK && (long)M * N * K >= GEMM_SPLIT_MIN;
}

static void compute(par_pool *p, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int T = par_threads(p);
    if (T == 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, by_rows(M, N), alpha, beta, A, B, C};
    int threads = openblas_get_num_threads();
    if (threads != 1) openblas_set_num_threads(1);
    if (!gemm_splits(p, M, N, K)) {
        gemm_part(&j, 0, (size_t)(j.by_rows ? M : N));
    } else {
        /* one part per thread, in whole blocks (the last part takes the rest) */
        size_t n = (size_t)(j.by_rows ? M : N), grain = (n + (size_t)T - 1) / (size_t)T;
        grain = (grain + GEMM_BLOCK - 1) / GEMM_BLOCK * GEMM_BLOCK;
        /* par_for's cost units are ~0.1 ns of one thread; a multiply-add takes ~0.02 ns (5 a unit) */
        size_t cost = (size_t)(j.by_rows ? N : M) * (size_t)K / 5 + 1;
        par_for(p, n, grain, cost, gemm_part, &j);
    }
    if (threads != 1) openblas_set_num_threads(threads);
}

void gemm_observe(par_pool *p, gemm_observer fn, void *ctx) { par_set_hook(p, (par_hook_fn)fn, ctx); }

void gemm_run(par_pool *p, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    void *ctx;
    gemm_observer watch = (gemm_observer)par_hook(p, &ctx);
    gemm_call call = {p, ta, tb, M, N, K, lda, ldb, ldc, alpha, beta};
    if (watch) watch(ctx, &call, 0);
    compute(p, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (watch) watch(ctx, &call, 1);
}
