#include "imageops.h"

#include <string.h>

void image_shift(float *dst, const float *src, int H, int W, int dy, int dx)
{
    memset(dst, 0, (size_t)H * W * sizeof(float));
    int c0 = dx > 0 ? dx : 0, c1 = dx < 0 ? W + dx : W;
    for (int i = dy > 0 ? dy : 0; i < (dy < 0 ? H + dy : H); i++)
        memcpy(dst + (size_t)i * W + c0, src + (size_t)(i - dy) * W + c0 - dx, (size_t)(c1 - c0) * sizeof(float));
}

void image_flip(float *x, int H, int W)
{
    for (int i = 0; i < H; i++)
        for (int a = 0, b = W - 1; a < b; a++, b--) {
            float t = x[(size_t)i * W + a];
            x[(size_t)i * W + a] = x[(size_t)i * W + b];
            x[(size_t)i * W + b] = t;
        }
}

void image_draw_shift(rng *r, int s, int *dy, int *dx)
{
    *dy = (int)rng_below(r, (uint64_t)(2 * s + 1)) - s;
    *dx = (int)rng_below(r, (uint64_t)(2 * s + 1)) - s;
}
