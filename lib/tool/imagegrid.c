#include "imagegrid.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

int imagegrid_shape(const value *meta, int D, int *h, int *w, int *c, error *e)
{
    const value *s = value_get(meta, "image_shape");
    if (s && s->kind == VALUE_ARRAY && (s->n == 2 || s->n == 3)) {
        *h = value_size(s->items[0]);
        *w = value_size(s->items[1]);
        *c = s->n == 3 ? value_size(s->items[2]) : 1;
        if (*h <= 0 || *w <= 0 || (*c != 1 && *c != 3) || (long)*h * *w * *c != D)
            return error_set(e, "image_shape does not describe %d values per row as h, w[, 1|3]", D);
        return 0;
    }
    int r = (int)lround(sqrt((double)D));
    if (r * r != D) return error_set(e, "%d values per row are not a square image and the stream has no image_shape", D);
    *h = *w = r;
    *c = 1;
    return 0;
}

static void png_error_fn(png_structp png, png_const_charp msg)
{
    error *e = png_get_error_ptr(png);
    error_set(e, "PNG: %s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* The grid's pixels: (H, W * c) bytes. */
static unsigned char *render(const float *x, int n, int h, int w, int c, int cols, float lo, float hi, int *H,
                             int *W)
{
    int rows = (n + cols - 1) / cols;
    *H = rows * (h + 1) + 1;
    *W = cols * (w + 1) + 1;
    size_t stride = (size_t)*W * c;
    unsigned char *pix = calloc((size_t)*H * stride, 1);
    if (!pix) return NULL;
    float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int i = 0; i < n; i++) {
        int y0 = 1 + (i / cols) * (h + 1), x0 = 1 + (i % cols) * (w + 1);
        const float *img = x + (size_t)i * h * w * c;
        for (int y = 0; y < h; y++) {
            unsigned char *dst = pix + (size_t)(y0 + y) * stride + (size_t)x0 * c;
            for (int j = 0; j < w * c; j++) {
                float v = (img[(size_t)y * w * c + j] - lo) * scale;
                dst[j] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
            }
        }
    }
    return pix;
}

int imagegrid_write_png(FILE *f, const float *x, int n, int h, int w, int c, int cols, float lo, float hi, error *e)
{
    if (n <= 0) return error_set(e, "no images to draw");
    if (cols <= 0) cols = (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int H, W;
    unsigned char *pix = render(x, n, h, w, c, cols, lo, hi, &H, &W);
    if (!pix) return error_set(e, "out of memory for a %d-image grid", n);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rowp = NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(pix);
        return error_set(e, "PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rowp);
        free(pix);
        return -1;
    }
    rowp = malloc((size_t)H * sizeof *rowp);
    if (!rowp) png_error(png, "out of memory");
    for (int y = 0; y < H; y++) rowp[y] = pix + (size_t)y * W * c;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rowp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rowp);
    free(pix);
    return 0;
}

float *imagegrid_pairs(const float *a, const float *b, int n, int D, int cols, int *cells)
{
    int r = (n + cols - 1) / cols;
    float *grid = calloc((size_t)r * 2 * cols * D, sizeof(float));
    for (int i = 0; grid && i < n; i++) {
        size_t top = (size_t)(2 * (i / cols)) * cols + i % cols, size = (size_t)D * sizeof(float);
        memcpy(grid + top * D, a + (size_t)i * D, size);
        memcpy(grid + (top + cols) * D, b + (size_t)i * D, size);
    }
    *cells = 2 * r * cols;
    return grid;
}
