#include "vmath.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* y[i] = F(x[i]) for an inline 8-lane F: whole vectors, then the tail through a padded copy. */
#define VMATH_MAP(name, F)                                                        \
    VMATH_KERNEL void name(float *y, const float *x, size_t n)                    \
    {                                                                             \
        size_t i = 0;                                                             \
        for (; i + 8 <= n; i += 8) vmath_store(y + i, F(vmath_load(x + i, 8)), 8); \
        if (i < n) vmath_store(y + i, F(vmath_load(x + i, (int)(n - i))), (int)(n - i)); \
    }

VMATH_MAP(vmath_exp, vmath_exp8)
VMATH_MAP(vmath_expm1, vmath_expm1_8)
VMATH_MAP(vmath_log1p, vmath_log1p8)
VMATH_MAP(vmath_softplus, vmath_softplus8)
VMATH_MAP(vmath_sigmoid, vmath_sigmoid8)

VMATH_INLINE vmath_f8 softplus_grad8(vmath_f8 dy, vmath_f8 y) { return dy * -vmath_expm1_8(-y); }

VMATH_KERNEL void vmath_softplus_grad(float *dx, const float *dy, const float *y, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vmath_store(dx + i, softplus_grad8(vmath_load(dy + i, 8), vmath_load(y + i, 8)), 8);
    if (i < n) {
        int k = (int)(n - i);
        vmath_store(dx + i, softplus_grad8(vmath_load(dy + i, k), vmath_load(y + i, k)), k);
    }
}

void vmath_flush_denormals(void)
{
#if defined(__SSE__)
    _mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}
