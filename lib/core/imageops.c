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

void image_cutout(float *x, int H, int W, int cy, int cx, int side)
{
    int y0 = cy - side / 2, x0 = cx - side / 2;
    int y1 = y0 + side < H ? y0 + side : H, x1 = x0 + side < W ? x0 + side : W;
    y0 = y0 > 0 ? y0 : 0, x0 = x0 > 0 ? x0 : 0;
    for (int i = y0; i < y1 && x0 < x1; i++) memset(x + (size_t)i * W + x0, 0, (size_t)(x1 - x0) * sizeof(float));
}

void image_draw_views(const image_views *v, float *out, const float *x, int n, int features, rng *r)
{
    size_t F = (size_t)features;
    if (!v->h) {
        memcpy(out, x, (size_t)n * F * sizeof(float));
        return;
    }
    for (int i = 0; i < n; i++) {
        float *o = out + i * F;
        int dy = 0, dx = 0;
        if (v->shift > 0) image_draw_shift(r, v->shift, &dy, &dx);
        image_shift(o, x + i * F, v->h, v->w, dy, dx);
        if (v->flip && rng_below(r, 2)) image_flip(o, v->h, v->w);
        if (v->cutout > 0) {
            int cy = (int)rng_below(r, (uint64_t)v->h), cx = (int)rng_below(r, (uint64_t)v->w);
            image_cutout(o, v->h, v->w, cy, cx, v->cutout);
        }
        if (v->jitter > 0) {
            float a = 1 + v->jitter * (2 * rng_uniform(r) - 1);
            float b = 0.3f * v->jitter * (v->hi - v->lo) * (2 * rng_uniform(r) - 1);
            for (size_t j = 0; j < F; j++) {
                float t = a * o[j] + b;
                o[j] = t < v->lo ? v->lo : t > v->hi ? v->hi : t;
            }
        }
    }
}
