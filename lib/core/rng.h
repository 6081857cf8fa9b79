/* rng: the seeded random generator (xoshiro256**, seeded through splitmix64).
 * There is no global generator: every function that draws takes an rng* explicitly,
 * so the same seed always gives the same bytes out. */
#ifndef SSL_RNG_H
#define SSL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
/* The next 64 bits (xoshiro256**). Inline: the ziggurat's fast path (norm.c) and the uniform fills
 * draw millions a step, and a call each cost a third of their time. */
static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t rng_u64(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng_rotl(s[3], 45);
    return result;
}
/* Uniform in [0, 1), 24 random bits (float) or 53 (double). */
float rng_uniform(rng *r);
double rng_uniform_double(rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t rng_below(rng *r, uint64_t n);
/* Standard normal N(0, 1) (Box-Muller, both values used in turn is NOT done: one draw, one value,
 * so the sequence does not depend on call parity). */
float rng_normal(rng *r);
/* Fills out[0..n) with independent N(0,1) / U[0,1) draws. */
void rng_fill_normal(rng *r, float *out, size_t n);
void rng_fill_uniform(rng *r, float *out, size_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(rng *r, int *idx, size_t n);
/* A child generator whose stream is independent of the parent's next draws (for splitting work). */
rng rng_split(rng *r);

#endif
