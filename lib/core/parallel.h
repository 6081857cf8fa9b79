/* parallel: a small persistent thread pool for a training step's matrix products (gemm.h) and the
 * element-wise work between them (bias + activation, the likelihood, Adam).
 *
 * The pool belongs to whoever owns the training (a tool's main, bench_train) and is handed to the
 * model it trains (vae.pool, m2.pool, gan.pool, mlp_config.pool); NULL everywhere means "run on the
 * calling thread". The products of training run on the pool too (gemm.h), OpenBLAS at one thread.
 * Workers sleep on a condition variable between jobs, after a spin of ~0.1 ms.
 *
 * par_for splits [0, n) into contiguous chunks, a few per thread, each boundary a multiple of `grain`;
 * the caller and the workers take the chunks in turn, so a worker that is slow to wake (the machine may
 * be shared) delays nothing: the caller runs what no worker has taken. Which thread runs which chunk,
 * and the chunks themselves, vary; so a caller whose result must not depend on the thread count gives
 * each index its own output (element-wise work, per-row losses summed afterwards in order, column sums
 * split over columns): every thread count then computes the same bytes. */
#ifndef SSL_PARALLEL_H
#define SSL_PARALLEL_H

#include <stddef.h>

#include "error.h"

/* Below this much work (n x cost per index, in units of about 0.1 ns on one thread: a vectorised
 * ReLU is 1 per element, a transcendental function 16, an Adam update 10) par_for runs inline:
 * handing a chunk to a worker costs microseconds, so a job is split from about 50 us up. */
#define PAR_MIN_WORK (1 << 19)

typedef struct par_pool par_pool;

/* fn(ctx, begin, end) handles the indices [begin, end). */
typedef void (*par_fn)(void *ctx, size_t begin, size_t end);

/* A pool of `threads` threads in all, the caller included (threads - 1 workers); threads >= 1.
 * NULL with e set when a thread cannot be started. */
par_pool *par_new(int threads, error *e);
/* Stops and joins the workers; p may be NULL. */
void par_free(par_pool *p);
/* Sets the pool's inline threshold (PAR_MIN_WORK by default); 0 splits every job of more than one
 * grain (tests use it, to run small networks through the workers). */
void par_set_min_work(par_pool *p, size_t work);
/* Threads of the pool (1 for NULL). */
int par_threads(const par_pool *p);
/* The cores this process may run on: the CPUs of its affinity mask (taskset, cpusets), at most its
 * cgroup's CPU quota rounded up (a container given 2 CPUs of a 64-core host gets 2), at least 1. */
int par_cores(void);
/* A hook the pool carries for the code that runs on it (gemm.h's product observer), or NULL. */
typedef void (*par_hook_fn)(void);
void par_set_hook(par_pool *p, par_hook_fn fn, void *ctx);
/* The hook and its ctx (NULL for no pool or no hook). */
par_hook_fn par_hook(const par_pool *p, void **ctx);
/* Chunk t of T over [0, n): [par_chunk(n, T, grain, t), par_chunk(n, T, grain, t + 1)), boundaries
 * multiples of grain; par_for cuts min(units, 4 x threads) chunks, units = ceil(n / grain). */
size_t par_chunk(size_t n, int T, size_t grain, int t);
/* Runs fn over [0, n) in contiguous chunks on the pool's threads, the caller among them; returns when
 * every chunk is done. Inline (one call fn(ctx, 0, n)) when p is NULL, has one thread, n is within
 * one grain, or n * cost is below the threshold (PAR_MIN_WORK). One caller at a time, and fn must
 * not call par_for on the same pool. */
void par_for(par_pool *p, size_t n, size_t grain, size_t cost, par_fn fn, void *ctx);

#endif
