#include "parallel.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How long a worker (and the caller, waiting for the workers) polls before sleeping: a step's
 * products (gemm.h) and element-wise loops come one after the other, and a wake-up through the
 * condition variable costs more than many of them. 5000 pauses are ~0.1 ms (19 ns each on the bench
 * machine): across the gaps of serial work between jobs, not longer (a spin of ~0.4 ms makes the
 * GAN's epoch slower, its caller drawing the noise alone while the workers spin;
 * docs/notes/2026-12-06-speed-history.md). */
#ifndef PAR_SPIN
#define PAR_SPIN 5000
#endif
/* chunks per thread of a job (at most): the threads take them in turn */
#define PAR_CHUNKS_PER_THREAD 4

struct par_pool {
    int threads;               /* in all: workers + the caller */
    int started;               /* workers running */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    int stop;                  /* under mu */
    size_t min_work;           /* inline below this (par_set_min_work) */
    par_hook_fn hook;          /* par_set_hook */
    void *hook_ctx;
    atomic_ulong gen;          /* job number: a worker looks for chunks to run when it changes */
    /* the current job's chunks: job number (32 bits) | chunks (16) | next chunk to claim (16). A
     * thread claims a chunk by a compare-and-swap on the whole word, so a worker that wakes late (or
     * was descheduled: the machine may be shared) finds the job done or gone and claims nothing, while
     * the caller runs whatever no worker has claimed: it never waits for a thread that did not start. */
    _Atomic uint64_t claim;
    atomic_uint finished;      /* chunks of the current job done */
    /* the current job, written before claim is published; atomics because a late worker may read them
     * while the next job is being written (its claim then fails, and it discards what it read) */
    _Atomic(par_fn) fn;
    _Atomic(void *) ctx;
    atomic_size_t n, grain;
};

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

#define CLAIM(job, chunks, next) (((uint64_t)(uint32_t)(job) << 32) | ((uint64_t)(chunks) << 16) | (uint64_t)(next))

/* Claims and runs chunks of job number `job` until none is left (or the job is no longer current). */
static void help(par_pool *p, uint32_t job)
{
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        unsigned chunks = (unsigned)(c >> 16) & 0xffff, k = (unsigned)c & 0xffff;
        if ((uint32_t)(c >> 32) != job || k >= chunks) return;
        par_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        size_t n = atomic_load_explicit(&p->n, memory_order_relaxed);
        size_t grain = atomic_load_explicit(&p->grain, memory_order_relaxed);
        /* success: the word did not change since it was read, so neither did the job */
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        size_t b = par_chunk(n, (int)chunks, grain, (int)k), e = par_chunk(n, (int)chunks, grain, (int)k + 1);
        if (b < e) fn(ctx, b, e);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == chunks) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

/* The next job number after seen; *stop when the pool is shutting down. */
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
    par_pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        int stop;
        seen = wait_job(p, seen, &stop);
        if (stop) return NULL;
        help(p, (uint32_t)seen);
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
    p->min_work = PAR_MIN_WORK;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->claim, CLAIM(0, 0, 0));
    atomic_init(&p->finished, 0);
    atomic_init(&p->fn, NULL);
    atomic_init(&p->ctx, NULL);
    atomic_init(&p->n, 0);
    atomic_init(&p->grain, 1);
    for (int i = 1; i < threads; i++) {
        int rc = pthread_create(&p->tid[i], NULL, worker, p);
        if (rc != 0) {
            par_free(p);
            error_set(e, "cannot start thread %d of %d: %s", i + 1, threads, strerror(rc));
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

/* Reads two numbers "quota period" from path (cgroup v2 cpu.max; "max" fails the read). */
static int read_quota(const char *path, long *quota, long *period)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = fscanf(f, "%ld %ld", quota, period);
    fclose(f);
    return n == 2;
}

/* Reads one number from path (cgroup v1's cfs files). */
static int read_long(const char *path, long *v)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = fscanf(f, "%ld", v);
    fclose(f);
    return n == 1;
}

/* The cgroup's CPU quota in whole CPUs, rounded up; 0 when there is none. */
static long cgroup_cpus(void)
{
    long quota = 0, period = 0;
    if (!read_quota("/sys/fs/cgroup/cpu.max", &quota, &period) &&
        !(read_long("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", &quota) &&
          read_long("/sys/fs/cgroup/cpu/cpu.cfs_period_us", &period)))
        return 0;
    return quota > 0 && period > 0 ? (quota + period - 1) / period : 0;
}

int par_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
    long quota = cgroup_cpus();
    if (quota > 0 && quota < n) n = quota;
    return n > 0 ? (int)n : 1;
}

void par_set_hook(par_pool *p, par_hook_fn fn, void *ctx) { p->hook = fn, p->hook_ctx = ctx; }

par_hook_fn par_hook(const par_pool *p, void **ctx)
{
    *ctx = p ? p->hook_ctx : NULL;
    return p ? p->hook : NULL;
}

void par_set_min_work(par_pool *p, size_t work) { p->min_work = work; }

/* Waits until the chunks still running on workers are done. */
static void wait_done(par_pool *p, unsigned chunks)
{
    for (int i = 0; i < PAR_SPIN && atomic_load_explicit(&p->finished, memory_order_acquire) < chunks; i++)
        cpu_relax();
    if (atomic_load_explicit(&p->finished, memory_order_acquire) == chunks) return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->finished, memory_order_acquire) < chunks) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void par_for(par_pool *p, size_t n, size_t grain, size_t cost, par_fn fn, void *ctx)
{
    if (grain < 1) grain = 1;
    if (n == 0) return;
    size_t units = (n + grain - 1) / grain;
    if (!p || p->threads < 2 || units < 2 || n * cost < p->min_work) {
        fn(ctx, 0, n);
        return;
    }
    /* a few chunks per thread: whoever is running takes the next, so a late thread costs little */
    size_t want = (size_t)PAR_CHUNKS_PER_THREAD * (size_t)p->threads;
    unsigned chunks = (unsigned)(units < want ? units : want);
    if (chunks > 0xffff) chunks = 0xffff;
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->n, n, memory_order_relaxed);
    atomic_store_explicit(&p->grain, grain, memory_order_relaxed);
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    unsigned long job = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    /* the chunks first, then the job number the workers watch: a worker that sees the number sees them */
    atomic_store_explicit(&p->claim, CLAIM(job, chunks, 0), memory_order_release);
    atomic_store_explicit(&p->gen, job, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    help(p, (uint32_t)job);
    wait_done(p, chunks);
}
