/* imageops: geometric operations on rows that are H x W images (one channel, row-major), for
 * augmenting training rows. */
#ifndef SSL_IMAGEOPS_H
#define SSL_IMAGEOPS_H

#include "rng.h"

/* dst = src moved dy rows down and dx columns right (negative: up, left), zero fill; dst != src. */
void image_shift(float *dst, const float *src, int H, int W, int dy, int dx);
/* Mirrors x left-right in place. */
void image_flip(float *x, int H, int W);
/* A shift (dy, dx) drawn uniformly from [-s, s]^2 (two draws from r: dy, then dx). */
void image_draw_shift(rng *r, int s, int *dy, int *dx);
/* Sets to 0 the side x side square of x whose top-left corner is (cy - side/2, cx - side/2), clipped
 * to the image (Cutout: DeVries and Taylor 2017). */
void image_cutout(float *x, int H, int W, int cy, int cx, int side);

/* A random view of rows that are images: moved, mirrored, a square cut out, contrast and brightness
 * changed. */
typedef struct image_views {
    int h, w;      /* the rows' image shape, h w = features; 0: not images, every view is the row */
    int shift;     /* moved by a shift drawn from [-shift, shift]^2 */
    int flip;      /* 1: mirrored left-right with probability 1/2 */
    int cutout;    /* side of the square set to 0, its centre drawn over the image; 0: none */
    float jitter;  /* 0: none; else each value v becomes a v + b, clipped to [lo, hi], with the contrast a
                    * drawn from [1 - jitter, 1 + jitter] and the brightness b from
                    * [-0.3 jitter, 0.3 jitter] (hi - lo) */
    float lo, hi;  /* the range of the values */
} image_views;

/* A view of each of n rows x (n, features) into out, out != x, with draws from r in this order per
 * row: the shift (if any), the mirror (if flip), the centre (if cutout), a and b (if jitter); the rows
 * themselves when v->h is 0. */
void image_draw_views(const image_views *v, float *out, const float *x, int n, int features, rng *r);

#endif
