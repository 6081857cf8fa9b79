#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* How long a worker (and the caller, waiting for the workers) polls before sleeping: a step's
 * element-wise loops come in bursts between products, and a wake-up through the condition variable
 * costs more than the loop in between. Short, so that a worker does not hold a core that one of
 * OpenBLAS's threads needs in the next product. */
#define PAR_SPIN 2000

struct par_pool {
    int threads;               /* in all: workers + the caller */
    int started;               /* workers running */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_ulong gen;          /* job number: a worker runs a job when it changes */
    atomic_int pending;        /* workers still running the current job */
    int stop;                  /* under mu */
    /* the current job, written before gen is bumped */
    par_fn fn;
    void *ctx;
    size_t n, grain;
};

typedef struct worker_arg {
    par_pool *p;
    int index;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

size_t par_chunk(size_t n, int T, size_t grain, int t)
{
    size_t units = (n + grain - 1) / grain;
    size_t b = units * (size_t)t / (size_t)T * grain;
    return b < n ? b : n;
}

static void run_chunk(par_pool *p, int t)
{
    size_t b = par_chunk(p->n, p->threads, p->grain, t), e = par_chunk(p->n, p->threads, p->grain, t + 1);
    if (b < e) p->fn(p->ctx, b, e);
}

/* The next job number after seen (or seen itself when stopping). */
static unsigned long wait_job(par_pool *p, unsigned long seen, int *stop)
{
    unsigned long g = seen;
    for (int i = 0; i < PAR_SPIN && (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen; i++)
        cpu_relax();
    *stop = 0;
    if (g != seen) return g;   /* par_free never bumps gen: a new number is a job */
    pthread_mutex_lock(&p->mu);
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !p->stop)
        pthread_cond_wait(&p->wake, &p->mu);
    *stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker(void *arg)
{
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    par_pool *p = a.p;
    unsigned long seen = 0;
    for (;;) {
        int stop;
        seen = wait_job(p, seen, &stop);
        if (stop) return NULL;
        run_chunk(p, a.index);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

par_pool *par_new(int threads, error *e)
{
    if (threads < 1) threads = 1;
    par_pool *p = calloc(1, sizeof *p);
    if (p) p->tid = calloc((size_t)threads, sizeof(pthread_t));
    if (!p || !p->tid) {
        if (p) free(p);
        error_set(e, "out of memory for a thread pool");
        return NULL;
    }
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    for (int i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        int rc = a ? (a->p = p, a->index = i, pthread_create(&p->tid[i], NULL, worker, a)) : -1;
        if (rc != 0) {
            free(a);
            par_free(p);
            error_set(e, "cannot start thread %d of %d: %s", i + 1, threads, rc > 0 ? strerror(rc) : "out of memory");
            return NULL;
        }
        p->started++;
    }
    return p;
}

void par_free(par_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->started; i++) pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
}

int par_threads(const par_pool *p) { return p ? p->threads : 1; }

/* Waits until every worker has finished the current job. */
static void wait_done(par_pool *p)
{
    for (int i = 0; i < PAR_SPIN && atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void par_for(par_pool *p, size_t n, size_t grain, size_t cost, par_fn fn, void *ctx)
{
    if (grain < 1) grain = 1;
    if (n == 0) return;
    if (!p || p->threads < 2 || n <= grain || n * cost < PAR_MIN_WORK) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store_explicit(&p->pending, p->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    wait_done(p);
}
