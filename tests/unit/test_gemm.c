/* gemm_run: products split over a pool against a double-precision reference, for every pair of
 * transposes, splits by rows and by columns with ragged last parts, beta 0 and 1, and leading
 * dimensions wider than the matrices; one thread is cblas_sgemm itself. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"

typedef struct shape {
    enum CBLAS_TRANSPOSE ta, tb;
    int M, N, K;
} shape;

/* The element (i, j) of op(X) for X row-major with leading dimension ld. */
static double at(const float *X, int ld, enum CBLAS_TRANSPOSE t, int i, int j)
{
    return t == CblasNoTrans ? X[(size_t)i * ld + j] : X[(size_t)j * ld + i];
}

static float *filled(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed) % 2001) / 1000.0f - 1.0f;
    return x;
}

/* gemm_run on pool p against the reference for shape s (leading dimensions 3 wider than needed, C
 * starting from `beta` times its fill); the padding columns of C must stay as they were. */
static void check_shape(par_pool *p, shape s, float beta)
{
    int ar = s.ta == CblasNoTrans ? s.M : s.K, ac = s.ta == CblasNoTrans ? s.K : s.M;
    int br = s.tb == CblasNoTrans ? s.K : s.N, bc = s.tb == CblasNoTrans ? s.N : s.K;
    int lda = ac + 3, ldb = bc + 3, ldc = s.N + 3;
    float *A = filled((size_t)ar * lda, 1), *B = filled((size_t)br * ldb, 2), *C = filled((size_t)s.M * ldc, 3);
    float *C0 = filled((size_t)s.M * ldc, 3);
    gemm_run(p, s.ta, s.tb, s.M, s.N, s.K, 0.5f, A, lda, B, ldb, beta, C, ldc);
    int bad = 0;
    for (int i = 0; i < s.M; i++) {
        for (int j = 0; j < s.N; j++) {
            double ref = beta * (double)C0[(size_t)i * ldc + j];
            for (int k = 0; k < s.K; k++) ref += 0.5 * at(A, lda, s.ta, i, k) * at(B, ldb, s.tb, k, j);
            bad += !(fabs(C[(size_t)i * ldc + j] - ref) <= 1e-4 * (1.0 + fabs(ref)));
        }
        bad += memcmp(C + (size_t)i * ldc + s.N, C0 + (size_t)i * ldc + s.N, 3 * sizeof(float)) != 0;
    }
    if (bad) fprintf(stderr, "  %dx%dx%d ta %d tb %d beta %g threads %d: %d elements wrong\n", s.M, s.N, s.K,
                     s.ta == CblasTrans, s.tb == CblasTrans, beta, par_threads(p), bad);
    CHECK(bad == 0);
    free(A), free(B), free(C), free(C0);
}

/* M >= N: split by rows (200 = 112 + 88 on two threads; three parts of 80, 80, 40 on three);
 * M < N: by columns (700 = 352 + 348) */
static const shape shapes[] = {
    {CblasNoTrans, CblasNoTrans, 200, 130, 170}, {CblasNoTrans, CblasTrans, 200, 130, 170},
    {CblasTrans, CblasNoTrans, 200, 130, 170},   {CblasTrans, CblasTrans, 200, 130, 170},
    {CblasNoTrans, CblasNoTrans, 40, 700, 160},  {CblasNoTrans, CblasTrans, 40, 700, 160},
    {CblasTrans, CblasNoTrans, 40, 700, 160},    {CblasTrans, CblasTrans, 40, 700, 160},
};

static void test_split_products_are_right(void)
{
    error e;
    for (int T = 2; T <= 3; T++) {
        par_pool *p = par_new(T, &e);
        CHECK(p != NULL);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            CHECK(gemm_splits(p, shapes[i].M, shapes[i].N, shapes[i].K));
            check_shape(p, shapes[i], 0.0f);
            check_shape(p, shapes[i], 1.0f);
        }
        par_free(p);
    }
}

static void test_small_products_run_whole(void)
{
    error e;
    par_pool *p = par_new(2, &e);
    CHECK(!gemm_splits(p, 200, 128, 64));      /* 1.6 M multiply-adds */
    CHECK(!gemm_splits(p, 20, 24, 10000));     /* 4.8 M, but less than a block for each thread */
    CHECK(gemm_splits(p, 16, 100000, 100));    /* one block of rows: split by columns */
    CHECK(!gemm_splits(NULL, 2000, 2000, 2000));
    check_shape(p, (shape){CblasTrans, CblasNoTrans, 30, 20, 10}, 1.0f);
    par_free(p);
}

/* op(A) op(B) for shape s, A and B packed (leading dimensions their widths), into a new C. */
static float *product(par_pool *p, shape s, const float *A, const float *B)
{
    float *C = calloc((size_t)s.M * s.N, sizeof(float));
    gemm_run(p, s.ta, s.tb, s.M, s.N, s.K, 1.0f, A, s.ta == CblasNoTrans ? s.K : s.M, B,
             s.tb == CblasNoTrans ? s.N : s.K, 0.0f, C, s.N);
    return C;
}

/* Without a pool (or with one thread) gemm_run is one cblas_sgemm call: the same bytes. */
static void test_one_thread_is_cblas(void)
{
    error e;
    par_pool *one = par_new(1, &e);
    shape s = shapes[1];
    float *A = filled((size_t)s.M * s.K, 1), *B = filled((size_t)s.N * s.K, 2);
    float *C1 = calloc((size_t)s.M * s.N, sizeof(float));
    cblas_sgemm(CblasRowMajor, s.ta, s.tb, s.M, s.N, s.K, 1.0f, A, s.K, B, s.K, 0.0f, C1, s.N);
    float *C2 = product(NULL, s, A, B), *C3 = product(one, s, A, B);
    CHECK(memcmp(C1, C2, (size_t)s.M * s.N * sizeof(float)) == 0);
    CHECK(memcmp(C1, C3, (size_t)s.M * s.N * sizeof(float)) == 0);
    free(A), free(B), free(C1), free(C2), free(C3);
    par_free(one);
}

/* A split product gives the same bytes every time, and leaves OpenBLAS's thread setting alone. */
static void test_split_is_repeatable(void)
{
    error e;
    par_pool *p = par_new(2, &e);
    shape s = shapes[2];
    float *A = filled((size_t)s.K * s.M, 1), *B = filled((size_t)s.K * s.N, 2);
    openblas_set_num_threads(2);
    float *C1 = product(p, s, A, B);
    CHECK(openblas_get_num_threads() == 2);
    float *C2 = product(p, s, A, B);
    CHECK(memcmp(C1, C2, (size_t)s.M * s.N * sizeof(float)) == 0);
    free(A), free(B), free(C1), free(C2);
    par_free(p);
}

int main(void)
{
    RUN(test_split_products_are_right);
    RUN(test_small_products_run_whole);
    RUN(test_one_thread_is_cblas);
    RUN(test_split_is_repeatable);
    return check_summary();
}
