/* imagegrid: rows of image data drawn as one PNG grid (libpng), so a user sees what a generative
 * model learnt. Grey images (c = 1) or interleaved RGB (c = 3, row-major h, w, c); values mapped
 * linearly from [lo, hi] to 0..255 (clamped for display only); a 1-pixel dark gap between cells. */
#ifndef SSL_IMAGEGRID_H
#define SSL_IMAGEGRID_H

#include <stdio.h>

#include "error.h"
#include "value.h"

/* The shape of one row of D values: meta "image_shape" ([h, w] or [h, w, c]) when present (its
 * product must be D), else a square h = w = sqrt(D) when D is a perfect square, else an error. */
int imagegrid_shape(const value *meta, int D, int *h, int *w, int *c, error *e);
/* n images x (n, h*w*c) written as a PNG of `cols` images per row (cols <= 0: about square). */
int imagegrid_write_png(FILE *f, const float *x, int n, int h, int w, int c, int cols, float lo, float hi, error *e);
/* Pairs of images (n each, D values) laid out for a grid of `cols` a row: rows of `cols` of a, each
 * above the same `cols` of b (the last rows padded with zeros). A new array of 2 ceil(n / cols) cols
 * images (their count into *cells), or NULL when out of memory. */
float *imagegrid_pairs(const float *a, const float *b, int n, int D, int cols, int *cells);

#endif
