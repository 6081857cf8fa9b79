#include "conv.h"

#include <stdio.h>
#include <string.h>

#include "gemm.h"

#include "norm.h"

int conv_shape_set(conv_shape *s, int C, int H, int W, int K, int k, int stride, int pad)
{
    memset(s, 0, sizeof *s);
    if (C < 1 || H < 1 || W < 1 || K < 1 || k < 1 || stride < 1 || pad < 0) return -1;
    if (k > H + 2 * pad || k > W + 2 * pad) return -1;
    s->C = C, s->H = H, s->W = W, s->K = K, s->k = k, s->stride = stride, s->pad = pad;
    s->OH = (H + 2 * pad - k) / stride + 1;
    s->OW = (W + 2 * pad - k) / stride + 1;
    return 0;
}

int conv_spec_parse(conv_layer *out, int *n, const char *spec, error *e)
{
    *n = 0;
    for (const char *p = spec; *p;) {
        conv_layer *c = &out[*n];
        int used = 0;
        if (*n == CONV_MAX_LAYERS) return error_set(e, "at most %d layers", CONV_MAX_LAYERS);
        if (sscanf(p, "%d:%d:%d%n", &c->channels, &c->kernel, &c->stride, &used) != 3 || (p[used] && p[used] != ',') ||
            (p[used] == ',' && !p[used + 1]))
            return error_set(e, "'%s' is not a list of channels:kernel:stride (e.g. 32:5:2,64:3:2)", spec);
        if (c->channels < 1 || c->channels > 1 << 16 || c->kernel < 1 || c->kernel > 99 || c->kernel % 2 == 0 ||
            c->stride < 1 || c->stride > 99)
            return error_set(e, "layer %d (%d:%d:%d): channels 1 to 65536, an odd kernel below 100, stride 1 to 99",
                             *n + 1, c->channels, c->kernel, c->stride);
        (*n)++;
        p += used + (p[used] == ',');
    }
    if (!*n) return error_set(e, "no layers in '%s'", spec);
    return 0;
}

void conv_spec_format(const conv_layer *l, int n, char *buf, size_t size)
{
    size_t off = 0;
    if (size) buf[0] = 0;
    for (int c = 0; c < n && off < size; c++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d:%d:%d", c ? "," : "", l[c].channels, l[c].kernel,
                                l[c].stride);
}

int conv_spec_plan(conv_shape *cs, const conv_layer *l, int n, int C, int H, int W, error *e)
{
    int H0 = H, W0 = W;
    for (int c = 0; c < n; c++) {
        if (H < l[c].kernel || W < l[c].kernel ||
            conv_shape_set(&cs[c], C, H, W, l[c].channels, l[c].kernel, l[c].stride, (l[c].kernel - 1) / 2))
            return error_set(e, "layer %d (kernel %d) sees a %d x %d input: too deep for %d x %d images", c + 1,
                             l[c].kernel, H, W, H0, W0);
        C = cs[c].K, H = cs[c].OH, W = cs[c].OW;
    }
    return 0;
}

/* ceil(a / b) for b > 0, and 0 for a <= 0 */
static int ceil_pos(int a, int b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* The output columns [*lo, *hi) whose input column ow stride - pad + kj lies inside [0, W). */
static void col_range(const conv_shape *s, int kj, int *lo, int *hi)
{
    int l = ceil_pos(s->pad - kj, s->stride), h = ceil_pos(s->W + s->pad - kj, s->stride);
    *lo = l < s->OW ? l : s->OW;
    *hi = h < *lo ? *lo : h < s->OW ? h : s->OW;
}

/* One row segment of im2col: r (OW) from the input row xr, valid columns [lo, hi), x0 the input
 * column of output column 0 (may be < 0). */
static void gather_row(float *r, const float *xr, int lo, int hi, int x0, const conv_shape *s)
{
    int st = s->stride;
    for (int ow = 0; ow < lo; ow++) r[ow] = 0.0f;
    if (st == 1)
        memcpy(r + lo, xr + lo + x0, (size_t)(hi - lo) * sizeof(float));
    else
        for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow * st + x0];
    for (int ow = hi; ow < s->OW; ow++) r[ow] = 0.0f;
}

/* The walk both directions share, over the B images x (B, C, H, W) and col (row r at col + r ld,
 * image i's columns from i OH OW): for each kernel offset (c, ki, kj), image and output row oh,
 * the col row segment (OW) and the input row it reads (none in the padding). The images are the
 * inner loop so that col is walked in order, row by row (image-major order jumped ld floats, a
 * new page, at every step: 4x slower).  add = 0: col = x (im2col); add = 1: x += col (col2im). */
static void patches(float *col, size_t ld, float *x, int B, const conv_shape *s, int add)
{
    size_t P = (size_t)s->OH * s->OW, in = conv_in_size(s);
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < s->k; ki++)
            for (int kj = 0; kj < s->k; kj++) {
                float *row = col + ((size_t)(c * s->k + ki) * s->k + kj) * ld;   // (B, OH, OW)
                int lo, hi, x0 = kj - s->pad, st = s->stride;
                col_range(s, kj, &lo, &hi);
                for (int i = 0; i < B; i++) {
                    float *xc = x + i * in + (size_t)c * s->H * s->W;   // (H, W)
                    for (int oh = 0; oh < s->OH; oh++) {
                        float *r = row + i * P + (size_t)oh * s->OW;
                        int ih = oh * st - s->pad + ki;
                        if (ih < 0 || ih >= s->H) {
                            if (!add) memset(r, 0, (size_t)s->OW * sizeof(float));
                        } else if (!add) {
                            gather_row(r, xc + (size_t)ih * s->W, lo, hi, x0, s);
                        } else {
                            float *xr = xc + (size_t)ih * s->W;
                            for (int ow = lo; ow < hi; ow++) xr[ow * st + x0] += r[ow];
                        }
                    }
                }
            }
}

void conv_im2col(float *col, size_t ld, const float *x, int B, const conv_shape *s)
{
    patches(col, ld, (float *)x, B, s, 0);   /* x is only read when add = 0 */
}

void conv_col2im(float *dx, const float *col, size_t ld, int B, const conv_shape *s)
{
    memset(dx, 0, (size_t)B * conv_in_size(s) * sizeof(float));
    patches((float *)col, ld, dx, B, s, 1);   /* col is only read when add = 1 */
}

void conv_forward(par_pool *pool, float *y, float *col, float *ws, const float *x, const float *w, const float *b,
                  int B, const conv_shape *s)
{
    int K = s->K, Kp = conv_patch(s), nb = conv_chunk(s, B);
    size_t P = (size_t)s->OH * s->OW, N = (size_t)B * P, in = conv_in_size(s);
    float *t = ws;
    for (int i0 = 0; i0 < B; i0 += nb) {
        int bn = B - i0 < nb ? B - i0 : nb;
        size_t n = (size_t)bn * P;
        float *cc = col + i0 * P;   // (Kp, n) of ld N
        conv_im2col(cc, N, x + i0 * in, bn, s);
        /* t (K, n) = w (K, Kp) . cc (Kp, n), then to NCHW with the bias */
        gemm_run(pool, CblasNoTrans, CblasNoTrans, K, (int)n, Kp, 1.0f, w, Kp, cc, (int)N, 0.0f, t, (int)n);
        for (int i = 0; i < bn; i++)
            for (int k = 0; k < K; k++) {
                float *yr = y + ((size_t)(i0 + i) * K + k) * P, bk = b ? b[k] : 0.0f;
                const float *tr = t + (size_t)k * n + i * P;
                for (size_t p = 0; p < P; p++) yr[p] = tr[p] + bk;
            }
    }
}

void conv_backward(par_pool *pool, float *dx, float *dw, float *db, float *ws, const float *dy, const float *col,
                   size_t ld, const float *w, int B, const conv_shape *s)
{
    int K = s->K, Kp = conv_patch(s), nb = conv_chunk(s, B);
    size_t P = (size_t)s->OH * s->OW, in = conv_in_size(s);
    float *t = ws, *dcol = ws + (size_t)K * nb * P;
    for (int i0 = 0; i0 < B; i0 += nb) {
        int bn = B - i0 < nb ? B - i0 : nb;
        size_t n = (size_t)bn * P;
        /* t (K, n) = dy in channel-major order; db += its row sums */
        for (int i = 0; i < bn; i++)
            for (int k = 0; k < K; k++) {
                const float *dr = dy + ((size_t)(i0 + i) * K + k) * P;
                float *tr = t + (size_t)k * n + i * P, sum = 0.0f;
                for (size_t p = 0; p < P; p++) sum += tr[p] = dr[p];
                if (db) db[k] += sum;
            }
        /* dw (K, Kp) += t (K, n) . col (Kp, n)^T */
        if (dw)
            gemm_run(pool, CblasNoTrans, CblasTrans, K, Kp, (int)n, 1.0f, t, (int)n, col + i0 * P, (int)ld, 1.0f,
                     dw, Kp);
        if (!dx) continue;
        /* dcol (Kp, n) = w (K, Kp)^T . t (K, n), then back to the pixels */
        gemm_run(pool, CblasTrans, CblasNoTrans, Kp, (int)n, K, 1.0f, w, Kp, t, (int)n, 0.0f, dcol, (int)n);
        conv_col2im(dx + i0 * in, dcol, n, bn, s);
    }
}

void conv_wn_backward(par_pool *pool, float *dx, float *dv, float *dg, float *db, float *dw, float *ws,
                      const float *dy, const float *col, size_t ld, const float *w, const float *v, const float *g,
                      const float *vnorm, int B, const conv_shape *s)
{
    int Kp = conv_patch(s);
    if (dv) memset(dw, 0, (size_t)s->K * Kp * sizeof(float));
    conv_backward(pool, dx, dv ? dw : NULL, db, ws, dy, col, ld, w, B, s);
    if (dv) norm_wn_grad(NULL, dv, dg, dw, v, g, vnorm, Kp, s->K);
}
int conv_t_shape_set(conv_shape *s, int K, int h, int w, int C, int H, int W, int k, int stride, int pad)
{
    if (conv_shape_set(s, C, H, W, K, k, stride, pad) || s->OH != h || s->OW != w) {
        memset(s, 0, sizeof *s);
        return -1;
    }
    return 0;
}

void conv_t_forward(par_pool *pool, float *y, float *ws, const float *x, const float *w, const float *b, int B,
                    const conv_shape *s)
{
    /* the convolution's dx = w^T dy with dy = x (col unused without dw) */
    conv_backward(pool, y, NULL, NULL, ws, x, NULL, 0, w, B, s);
    if (!b) return;
    size_t P = (size_t)s->H * s->W;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < s->C; c++) {
            float *yr = y + ((size_t)i * s->C + c) * P;
            for (size_t p = 0; p < P; p++) yr[p] += b[c];
        }
}

void conv_t_backward(par_pool *pool, float *dx, float *dw, float *db, float *col, float *ws, const float *dy,
                     const float *x, const float *w, int B, const conv_shape *s)
{
    size_t P = (size_t)s->H * s->W, N = (size_t)B * s->OH * s->OW;
    for (int i = 0; db && i < B; i++)
        for (int c = 0; c < s->C; c++) {
            const float *dr = dy + ((size_t)i * s->C + c) * P;
            float sum = 0.0f;
            for (size_t p = 0; p < P; p++) sum += dr[p];
            db[c] += sum;
        }
    /* the convolution of dy: its patches into col, dx = w col */
    if (dx)
        conv_forward(pool, dx, col, ws, dy, w, NULL, B, s);
    else if (dw)
        conv_im2col(col, N, dy, B, s);
    /* the convolution's weight gradient with x in the place of its output gradient */
    if (dw) conv_backward(pool, NULL, dw, NULL, ws, x, col, N, w, B, s);
}

void conv_gpool_forward(float *y, const float *x, int B, int C, int P)
{
    float inv = 1.0f / (float)P;
    for (size_t r = 0; r < (size_t)B * C; r++) {
        const float *xr = x + r * P;
        float t = 0.0f;
        for (int p = 0; p < P; p++) t += xr[p];
        y[r] = t * inv;
    }
}

void conv_gpool_backward(float *dx, const float *dy, int B, int C, int P)
{
    float inv = 1.0f / (float)P;
    for (size_t r = 0; r < (size_t)B * C; r++) {
        float g = dy[r] * inv, *dr = dx + r * P;
        for (int p = 0; p < P; p++) dr[p] = g;
    }
}
