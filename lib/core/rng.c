#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}


float rng_uniform(rng *r) { return (float)(rng_u64(r) >> 40) * 0x1.0p-24f; }

double rng_uniform_double(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t rng_below(rng *r, uint64_t n)
{
    /* rejection sampling on the top of the range keeps it unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rng_u64(r);
    while (x >= limit);
    return x % n;
}

float rng_normal(rng *r)
{
    double u1 = 1.0 - rng_uniform_double(r); /* (0, 1]: log is finite */
    double u2 = rng_uniform_double(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void rng_fill_normal(rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = rng_normal(r);
}

void rng_fill_uniform(rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = rng_uniform(r);
}

void rng_shuffle(rng *r, int *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        int t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

rng rng_split(rng *r)
{
    rng child;
    rng_seed(&child, rng_u64(r));
    return child;
}
