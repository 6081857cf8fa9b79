/* dist: data-parallel training over processes, through MPI (OpenMPI), or a single process.
 *
 * Built with `make MPI=1` (mpicc, -DSSL_MPI, into build-mpi/) these wrap MPI_COMM_WORLD; in the
 * ordinary build they are the single-process identity (rank 0 of 1, a sum over one process), so
 * trainers call them unconditionally and carry no #ifdef. A data-parallel step is: each rank
 * computes the gradient of its share of the global batch, normalised by the GLOBAL batch size,
 * then one dist_allreduce_sum over the flat gradient buffer (nn_params.grad) makes every rank's
 * gradient the single-process one, and every rank takes the same optimiser step.
 * Rank 0 alone writes models and outputs. A rank that fails exits non-zero without
 * dist_finalize: mpirun then stops the others. */
#ifndef SSL_DIST_H
#define SSL_DIST_H

#include <stddef.h>

#include "error.h"

/* Starts MPI (once per process; a single process started without mpirun is rank 0 of 1). Before
 * it, or in a program that never calls it, the others are the single-process identity. */
int dist_init(int *argc, char ***argv, error *e);
int dist_rank(void);
int dist_size(void);
/* buf (n) = the element-wise sum of every rank's buf, in place, on every rank. */
int dist_allreduce_sum(float *buf, size_t n, error *e);
int dist_allreduce_sum_f64(double *buf, size_t n, error *e);
/* Ends MPI after a successful run (every rank must call it). */
void dist_finalize(void);

#endif
