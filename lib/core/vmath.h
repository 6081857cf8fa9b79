/* vmath: e^x, e^x - 1, log(1 + x) and the softplus and sigmoid built on them, 8 floats at a time
 * (GCC vector extensions), for the element-wise loops of training (the Bernoulli likelihood,
 * softplus layers): glibc's expf/log1pf/expm1f are scalar calls, and GCC keeps their loops scalar.
 *
 * How: e^x = 2^n e^r with x = n ln 2 + r, |r| <= ln2 / 2, and e^r - 1 = r + r^2 q(r), q a degree-4
 * polynomial fitted (weighted least squares, iterated towards minimax) to (e^r - 1 - r) / r^2;
 * log(1 + t) = k ln 2 + log(m) with 1 + t = 2^k m, m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh(s),
 * s = (m - 1) / (m + 1), = 2s + 2s z R(z), z = s^2, R a degree-2 fit; plus (t - ((1 + t) - 1)) / (1 + t),
 * the rounding error of 1 + t, so that log1p stays accurate where 1 + t rounds.
 *
 * Accuracy, against libm in double rounded to float, over all 2^32 floats (`test_vmath --stride 1`;
 * `make test` checks every 509th): at most 1.02 ulp for vmath_exp (normal and denormal results),
 * 1.77 ulp for vmath_expm1, 1.44 for vmath_log1p, 1.99 for vmath_softplus, 2.40 for vmath_sigmoid and
 * 1.77 for vmath_softplus_grad (libm's own float functions are within about 1 ulp).
 * Special values: exp(x) is +inf above 88.72 and 0 below -103.97, with denormal results in between
 * (an ulp off at most: they are scaled in two steps); expm1 is -1 below -17.4, +inf above 88.72;
 * log1p(t) is t when 1 + t rounds to 1 (so +-0 and denormals come back as they are), -inf at -1, NaN
 * below -1, +inf at +inf; NaN gives NaN everywhere; softplus(+inf) = +inf, softplus(-inf) = 0.
 *
 * Determinism: every operation is an IEEE operation in a fixed order with no fused multiply-add (C11
 * mode compiles with -ffp-contract=off), so results do not depend on the vector width the compiler
 * chooses: the AVX2 clones (VMATH_KERNEL) give the same bytes as the SSE2 code. */
#ifndef SSL_VMATH_H
#define SSL_VMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The 8-lane vectors are twice SSE's width: GCC notes that passing them to a function would change
 * the ABI without AVX. They never cross a call (every function taking one is always inlined), so the
 * Makefile builds with -Wno-psabi (a pragma silences the warning but not GCC's "note"). */
#if defined(__GNUC__)   /* GCC and clang */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float vmath_f8 __attribute__((vector_size(32)));
typedef int32_t vmath_i8 __attribute__((vector_size(32)));
typedef uint32_t vmath_u8 __attribute__((vector_size(32)));   /* bit arithmetic: no signed overflow */

/* A loop over arrays built on the inline functions below: compiled twice (AVX2 and baseline x86-64,
 * chosen when the program starts), where GCC can (x86-64, ifunc). Same results either way (above). */
#ifndef VMATH_KERNEL   /* -DVMATH_KERNEL= builds the baseline code alone */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VMATH_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define VMATH_KERNEL
#endif
#endif
#define VMATH_INLINE static inline __attribute__((always_inline))

/* ---- lanes ---- */

VMATH_INLINE vmath_f8 vmath_splat(float a) { return (vmath_f8){a, a, a, a, a, a, a, a}; }
/* mask ? a : b per lane, the mask from a vector comparison (all bits set or clear) */
VMATH_INLINE vmath_f8 vmath_select(vmath_i8 mask, vmath_f8 a, vmath_f8 b)
{
    return (vmath_f8)((mask & (vmath_i8)a) | (~mask & (vmath_i8)b));
}
VMATH_INLINE vmath_i8 vmath_selecti(vmath_i8 mask, vmath_i8 a, vmath_i8 b) { return (mask & a) | (~mask & b); }
/* The first k <= 8 floats of p, the other lanes 0 (loads of a row's tail). */
VMATH_INLINE vmath_f8 vmath_load(const float *p, int k)
{
    vmath_f8 v = vmath_splat(0.0f);
    memcpy(&v, p, (size_t)k * sizeof(float));
    return v;
}
VMATH_INLINE void vmath_store(float *p, vmath_f8 v, int k) { memcpy(p, &v, (size_t)k * sizeof(float)); }
/* All bits set in the first k lanes. */
VMATH_INLINE vmath_i8 vmath_first(int k)
{
    return (vmath_i8){0, 1, 2, 3, 4, 5, 6, 7} < (vmath_i8){k, k, k, k, k, k, k, k};
}
/* The lanes' sum in a fixed order (pairs, then pairs of pairs), whatever the vector width. */
VMATH_INLINE float vmath_sum(vmath_f8 v)
{
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
VMATH_INLINE vmath_f8 vmath_abs(vmath_f8 x) { return (vmath_f8)((vmath_i8)x & 0x7fffffff); }
VMATH_INLINE vmath_f8 vmath_max0(vmath_f8 x) { return vmath_select(x > 0.0f, x, vmath_splat(0.0f)); }
/* 2^n for n in [-126, 127] */
VMATH_INLINE vmath_f8 vmath_pow2i(vmath_i8 n) { return (vmath_f8)(((vmath_u8)n + 127u) << 23); }

/* ---- e^x ---- */

#define VMATH_LN2_HI 0.693145751953125f      /* ln 2 to 16 bits: n VMATH_LN2_HI is exact for |n| < 256 */
#define VMATH_LN2_LO 1.42860676533018704e-6f /* ln 2 - VMATH_LN2_HI */

/* x = n ln2 + r with n = round(x / ln 2) (|x| < 2^21); returns e^r - 1 and n. */
VMATH_INLINE vmath_f8 vmath_reduce(vmath_f8 x, vmath_i8 *n)
{
    const float shift = 12582912.0f;    /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
    vmath_f8 t = x * 1.44269504088896341f + shift;
    vmath_f8 nf = t - shift;
    *n = (vmath_i8)((vmath_u8)t - (vmath_u8)vmath_splat(shift));
    vmath_f8 r = (x - nf * VMATH_LN2_HI) - nf * VMATH_LN2_LO;
    vmath_f8 q = 1.388252014e-3f * r + 8.366513997e-3f;
    q = q * r + 4.166720062e-2f;
    q = q * r + 1.666654348e-1f;
    q = q * r + 4.999999702e-1f;
    return r + r * r * q;
}

VMATH_INLINE vmath_f8 vmath_exp8(vmath_f8 x)
{
    x = vmath_select(x < -104.0f, vmath_splat(-104.0f), x);   /* NaN stays: it compares false */
    x = vmath_select(x > 89.0f, vmath_splat(89.0f), x);
    vmath_i8 n;
    vmath_f8 p = vmath_reduce(x, &n);
    /* 2^n in two factors, both normal for n in [-150, 128]: denormal results and e^88.7 come out right */
    vmath_i8 n1 = n >> 1;
    vmath_f8 s1 = vmath_pow2i(n1);
    return (p * s1 + s1) * vmath_pow2i(n - n1);
}

VMATH_INLINE vmath_f8 vmath_expm1_8(vmath_f8 x)
{
    x = vmath_select(x < -80.0f, vmath_splat(-80.0f), x);
    x = vmath_select(x > 89.0f, vmath_splat(89.0f), x);
    vmath_i8 n;
    vmath_f8 p = vmath_reduce(x, &n);
    /* n <= 1: (2^n - 1) + 2^n p, exact near 0; above, e^x - 1 has no cancellation */
    vmath_i8 small = n <= 1;
    vmath_f8 s = vmath_pow2i(vmath_selecti(small, n, (vmath_i8){0}));
    vmath_i8 n1 = n >> 1;
    vmath_f8 s1 = vmath_pow2i(n1);
    vmath_f8 big = (p * s1 + s1) * vmath_pow2i(n - n1) - 1.0f;
    return vmath_select(small, (s - 1.0f) + s * p, big);
}

/* ---- log(1 + t) ---- */

/* log(u) + the rounding error of u = 1 + t, for t in (-1, FLT_MAX] (no special values). */
VMATH_INLINE vmath_f8 vmath_log1p_core(vmath_f8 t, vmath_f8 u)
{
    const uint32_t sqrt_half = 0x3f3504f3;   /* the bits of sqrt(1/2) */
    vmath_i8 b = (vmath_i8)((vmath_u8)u - sqrt_half);
    vmath_i8 k = b >> 23;                   /* u = 2^k m, m in [sqrt(1/2), sqrt(2)) */
    vmath_f8 f = (vmath_f8)(((vmath_u8)b & 0x007fffffu) + sqrt_half) - 1.0f;
    vmath_f8 s = f / (f + 2.0f), z = s * s, hf = 0.5f * f * f;
    vmath_f8 R2 = z * ((2.987173200e-1f * z + 3.997754157e-1f) * z + 6.666677594e-1f);   /* 2 z R(z) */
    /* log(m) = 2s + 2s z R = f - (f^2/2 - s (f^2/2 + 2 z R)), since 2s = f - s f: f is exact, the
     * rounding errors land in the smaller terms */
    vmath_f8 logm = f - (hf - s * (hf + R2));
    vmath_f8 kf = __builtin_convertvector(k, vmath_f8);
    /* the rounding error of u: u - 1 is exact below 2, u - t above (Sterbenz) */
    vmath_f8 err = vmath_select(t < 1.0f, t - (u - 1.0f), 1.0f - (u - t));
    vmath_f8 y = kf * VMATH_LN2_HI + ((logm + kf * VMATH_LN2_LO) + err / u);
    return vmath_select(u == 1.0f, t, y);
}

VMATH_INLINE vmath_f8 vmath_log1p8(vmath_f8 t)
{
    vmath_f8 y = vmath_log1p_core(t, t + 1.0f);
    y = vmath_select(t == __builtin_inff(), t, y);
    y = vmath_select(t == -1.0f, vmath_splat(-__builtin_inff()), y);
    return vmath_select(t < -1.0f, vmath_splat(__builtin_nanf("")), y);
}

/* ---- softplus, sigmoid ---- */

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
VMATH_INLINE vmath_f8 vmath_softplus8(vmath_f8 x)
{
    vmath_f8 e = vmath_exp8(-vmath_abs(x));
    return vmath_max0(x) + vmath_log1p_core(e, e + 1.0f);
}

/* 1 / (1 + e^-x), from e = e^-|x| and u = 1 + e */
VMATH_INLINE vmath_f8 vmath_sigmoid_eu(vmath_f8 x, vmath_f8 e, vmath_f8 u)
{
    return vmath_select(x >= 0.0f, vmath_splat(1.0f), e) / u;
}

VMATH_INLINE vmath_f8 vmath_sigmoid8(vmath_f8 x)
{
    vmath_f8 e = vmath_exp8(-vmath_abs(x));
    return vmath_sigmoid_eu(x, e, e + 1.0f);
}

/* ---- on arrays (y may equal x) ---- */

void vmath_exp(float *y, const float *x, size_t n);
void vmath_expm1(float *y, const float *x, size_t n);
void vmath_log1p(float *y, const float *x, size_t n);
void vmath_softplus(float *y, const float *x, size_t n);
void vmath_sigmoid(float *y, const float *x, size_t n);
/* dx = dy * sigmoid(x) = dy (1 - e^-y), from the softplus output y >= 0 (dx may equal dy). */
void vmath_softplus_grad(float *dx, const float *dy, const float *y, size_t n);

/* Denormal floats (below 1.2e-38) as zero, in and out, in the calling thread and the threads it
 * starts afterwards (x86's MXCSR flush-to-zero and denormals-are-zero; nothing elsewhere). Training
 * makes them: the error signal of a pixel that is always 0 (MNIST's border) shrinks as the decoder
 * learns it, and Intel cores take a microcode assist for every denormal operand of the products: an
 * M2 epoch on MNIST grows from 6 s to 100 s over 70 epochs without this. The trainers call it first. */
void vmath_flush_denormals(void);

#endif
