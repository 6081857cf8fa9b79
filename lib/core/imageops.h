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

#endif
