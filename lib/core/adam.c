#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int adam_init(adam *a, size_t n, error *e)
{
    memset(a, 0, sizeof *a);
    a->lr = 1e-3f;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->n = n;
    /* written zeros (nn_alloc_zeroed), not calloc's: calloc leaves fresh pages unmapped, and the
     * first step then reads each one (the shared zero page) and writes it (a copy-on-write fault and
     * a TLB flush per page): on a VM, 5-10% of a short training run went to these faults */
    a->m = nn_alloc_zeroed(n * sizeof(float));
    a->v = nn_alloc_zeroed(n * sizeof(float));
    if (!a->m || !a->v) {
        adam_free(a);
        return error_set(e, "out of memory for the optimiser state (%zu parameters)", n);
    }
    return 0;
}

int adam_init_params(adam *a, const nn_params *p, error *e)
{
    if (adam_init(a, p->total, e) < 0) return -1;
    a->decay = nn_alloc_zeroed(p->total * sizeof(float));
    if (!a->decay) {
        adam_free(a);
        return error_set(e, "out of memory for the optimiser state (%zu parameters)", p->total);
    }
    for (int i = 0; i < p->n; i++)
        if (p->t[i].decay)
            for (size_t j = 0; j < p->t[i].size; j++) a->decay[p->t[i].offset + j] = 1.0f;
    return 0;
}

void adam_free(adam *a)
{
    free(a->m);
    free(a->v);
    free(a->decay);
    a->m = a->v = a->decay = NULL;
}

void adam_reset(adam *a)
{
    a->t = 0;
    memset(a->m, 0, a->n * sizeof(float));
    memset(a->v, 0, a->n * sizeof(float));
}

/* Adam over a million parameters is a large part of a VAE step, so the update loop runs whole
 * vectors: 16 floats at a time with AVX-512, 8 with AVX, 4 with SSE (every x86-64), chosen when the
 * step runs (the widest the CPU has; 2x faster with AVX-512 than with SSE on this project's EPYC).
 * The compiler will not vectorise sqrtf by itself, as it may set errno, and no per-function
 * attribute lifts that. GCC vector extensions do the arithmetic (the same IEEE operations in the
 * same order as the scalar tail, so every width gives the same bytes); only the square root needs
 * the intrinsic. */
typedef struct adam_job adam_job;
typedef size_t adam_lanes_fn(const adam_job *j, size_t i, size_t hi);

/* one step over a range of the parameters: the scalars are the step's, each element independent */
struct adam_job {
    const adam *a;
    float *p;
    const float *g;
    float *clear;   /* g again, to zero as it is read, or NULL */
    float c1, c2;
    adam_lanes_fn *lanes;   /* the vector loop (x86-64), NULL elsewhere */
};

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define ADAM_SIMD 1
typedef float adam_v4 __attribute__((vector_size(16)));
typedef float adam_v8 __attribute__((vector_size(32)));
typedef float adam_v16 __attribute__((vector_size(64)));

/* NAME(j, i, hi): the step for elements i, i+1, ... while a whole vector VT fits before hi; returns
 * the first element left to the scalar loop. TARGET: the instruction set the function may use. */
#define ADAM_LANES(NAME, TARGET, VT, SQRT)                                                              \
    TARGET static size_t NAME(const adam_job *j, size_t i, size_t hi)                                 \
    {                                                                                                   \
        const adam *a = j->a;                                                                           \
        const float c1 = j->c1, c2 = j->c2, b1 = a->beta1, b2 = a->beta2, lr = a->lr, eps = a->eps;      \
        const float es = a->eps_sqrt;                                                                   \
        const size_t w = sizeof(VT) / sizeof(float);                                                    \
        const VT zero = {0};                                                                            \
        for (; i + w <= hi; i += w) {                                                                   \
            VT g, m, v, p;                                                                              \
            memcpy(&g, j->g + i, sizeof g);                                                             \
            memcpy(&m, a->m + i, sizeof m);                                                             \
            memcpy(&v, a->v + i, sizeof v);                                                             \
            memcpy(&p, j->p + i, sizeof p);                                                             \
            m = b1 * m + (1.0f - b1) * g;                                                               \
            v = b2 * v + (1.0f - b2) * g * g;                                                           \
            p = p - lr * (m * c1) / ((VT)SQRT(v * c2 + es) + eps);                                      \
            memcpy(a->m + i, &m, sizeof m);                                                             \
            memcpy(a->v + i, &v, sizeof v);                                                             \
            memcpy(j->p + i, &p, sizeof p);                                                             \
            if (j->clear) memcpy(j->clear + i, &zero, sizeof zero);                                     \
        }                                                                                               \
        return i;                                                                                       \
    }

ADAM_LANES(lanes_sse, , adam_v4, _mm_sqrt_ps)
ADAM_LANES(lanes_avx, __attribute__((target("avx"))), adam_v8, _mm256_sqrt_ps)
ADAM_LANES(lanes_avx512, __attribute__((target("avx512f"))), adam_v16, _mm512_sqrt_ps)

#endif

/* The widest vector loop this CPU runs, or NULL (the scalar loop alone) off x86-64. */
static adam_lanes_fn *widest_lanes(void)
{
#ifdef ADAM_SIMD
    if (__builtin_cpu_supports("avx512f")) return lanes_avx512;
    if (__builtin_cpu_supports("avx")) return lanes_avx;
    return lanes_sse;
#else
    return NULL;
#endif
}

/* p *= 1 - wd * mask (mask NULL: everywhere): the decoupled decay, from p before the step */
static void decay_loop(float *restrict p, const float *restrict mask, float wd, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] -= wd * (mask ? mask[i] : 1.0f) * p[i];
}

static void step_range(void *ctx, size_t lo, size_t hi)
{
    const adam_job *j = ctx;
    const adam *a = j->a;
    float c1 = j->c1, c2 = j->c2, b1 = a->beta1, b2 = a->beta2, lr = a->lr, eps = a->eps, es = a->eps_sqrt;
    float *restrict p = j->p, *restrict m = a->m, *restrict v = a->v;
    const float *g = j->g;
    float *clear = j->clear;
    size_t i = lo;
    if (a->weight_decay != 0.0f)
        decay_loop(p + lo, a->decay ? a->decay + lo : NULL, a->lr * a->weight_decay, hi - lo);
    if (j->lanes) i = j->lanes(j, i, hi);
    for (; i < hi; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * (mi * c1) / (sqrtf(vi * c2 + es) + eps);
        if (clear) clear[i] = 0.0f;
    }
}

static void step(adam *a, par_pool *pool, float *p, const float *g, float *clear)
{
    a->t++;
    /* bias corrections folded into two scalars: mhat = m * c1, vhat = v * c2 */
    adam_job j = {a, p, g, clear, (float)(1.0 / (1.0 - pow(a->beta1, (double)a->t))),
                  (float)(1.0 / (1.0 - pow(a->beta2, (double)a->t))), widest_lanes()};
    /* every element on its own: any split gives the same bytes; chunks of whole cache lines */
    par_for(pool, a->n, 16, 10, step_range, &j);
}

void adam_step(adam *a, par_pool *pool, float *restrict p, const float *restrict g) { step(a, pool, p, g, NULL); }

void adam_step_clear(adam *a, par_pool *pool, float *p, float *g) { step(a, pool, p, g, g); }

double adam_linear_decay(double lr, int epoch, int epochs, int decay_start)
{
    if (decay_start <= 0 || decay_start > epochs || epoch < decay_start) return lr;
    return lr * (double)(epochs - epoch + 1) / (double)(epochs - decay_start + 1);
}
