#include "dist.h"

#ifdef SSL_MPI

#include <limits.h>
#include <mpi.h>

static int mpi_failed(int rc, const char *what, error *e)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return error_set(e, "MPI %s: %.*s", what, len, msg);
}

/* Whether MPI is up: a program of the MPI build that never called dist_init (ssl-augment training
 * its MLPs, a unit test) is one process, and MPI's calls before MPI_Init would abort it. Both
 * queries may be made at any time. */
static int mpi_running(void)
{
    int started = 0, ended = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&ended);
    return started && !ended;
}

int dist_init(int *argc, char ***argv, error *e)
{
    if (mpi_running()) return 0;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return mpi_failed(rc, "init", e);
    /* errors come back as codes (and then a message), not an abort from inside the library */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return 0;
}

int dist_rank(void)
{
    int r = 0;
    if (mpi_running()) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int dist_size(void)
{
    int n = 1;
    if (mpi_running()) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* One call for any buffer below 2^31 elements (MPI counts are int). */
static int allreduce(void *buf, size_t n, size_t esize, MPI_Datatype t, error *e)
{
    if (!mpi_running()) return 0;   /* one process: the sum is the buffer */
    for (size_t i = 0; i < n; i += INT_MAX) {
        int k = n - i < (size_t)INT_MAX ? (int)(n - i) : INT_MAX;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * esize, k, t, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_failed(rc, "allreduce", e);
    }
    return 0;
}

int dist_allreduce_sum(float *buf, size_t n, error *e) { return allreduce(buf, n, sizeof *buf, MPI_FLOAT, e); }
int dist_allreduce_sum_f64(double *buf, size_t n, error *e) { return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, e); }

void dist_finalize(void)
{
    if (mpi_running()) MPI_Finalize();
}

#else /* one process: rank 0 of 1, and a sum over one process is the identity */

int dist_init(int *argc, char ***argv, error *e)
{
    (void)argc, (void)argv, (void)e;
    return 0;
}

int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }

int dist_allreduce_sum(float *buf, size_t n, error *e)
{
    (void)buf, (void)n, (void)e;
    return 0;
}

int dist_allreduce_sum_f64(double *buf, size_t n, error *e)
{
    (void)buf, (void)n, (void)e;
    return 0;
}

void dist_finalize(void) {}

#endif
