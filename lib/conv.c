#include "conv.h"

#include <string.h>

#include <cblas.h>

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

/* ceil(a / b) for b > 0, and 0 for a <= 0 */
static int ceil_pos(int a, int b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* The output columns [*lo, *hi) whose input column ow stride - pad + kj lies inside [0, W). */
static void col_range(const conv_shape *s, int kj, int *lo, int *hi)
{
    int l = ceil_pos(s->pad - kj, s->stride), h = ceil_pos(s->W + s->pad - kj, s->stride);
    *lo = l < s->OW ? l : s->OW;
    *hi = h < *lo ? *lo : h < s->OW ? h : s->OW;
}

/* The walk both directions share: for each kernel offset (c, ki, kj) and output row oh, the col
 * row segment r (OW) and the input row it reads (xr, NULL when the row lies in the padding), with
 * the valid columns [lo, hi). add = 0: col = x (im2col); add = 1: x += col (col2im). */
static void patches(float *col, float *x, const conv_shape *s, int add)
{
    int P = s->OH * s->OW, st = s->stride;
    for (int c = 0; c < s->C; c++)
        for (int ki = 0; ki < s->k; ki++)
            for (int kj = 0; kj < s->k; kj++) {
                float *row = col + ((size_t)(c * s->k + ki) * s->k + kj) * P;   // (OH, OW)
                float *xc = x + (size_t)c * s->H * s->W;                         // (H, W)
                int lo, hi;
                col_range(s, kj, &lo, &hi);
                for (int oh = 0; oh < s->OH; oh++) {
                    float *r = row + (size_t)oh * s->OW;
                    int ih = oh * st - s->pad + ki;
                    if (ih < 0 || ih >= s->H) {
                        if (!add) memset(r, 0, (size_t)s->OW * sizeof(float));
                        continue;
                    }
                    float *xr = xc + (size_t)ih * s->W;
                    int x0 = kj - s->pad;   /* input column of output column 0 (may be < 0) */
                    if (add) {
                        for (int ow = lo; ow < hi; ow++) xr[ow * st + x0] += r[ow];
                        continue;
                    }
                    for (int ow = 0; ow < lo; ow++) r[ow] = 0.0f;
                    if (st == 1) memcpy(r + lo, xr + lo + x0, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ow = lo; ow < hi; ow++) r[ow] = xr[ow * st + x0];
                    for (int ow = hi; ow < s->OW; ow++) r[ow] = 0.0f;
                }
            }
}

void conv_im2col(float *col, const float *x, const conv_shape *s)
{
    patches(col, (float *)x, s, 0);   /* read only when add = 0 */
}

void conv_col2im_add(float *dx, const float *col, const conv_shape *s)
{
    patches((float *)col, dx, s, 1);   /* read only when add = 1 */
}

void conv_forward(float *y, float *col, const float *x, const float *w, const float *b, int B, const conv_shape *s)
{
    int K = s->K, P = s->OH * s->OW, Kp = conv_patch(s);
    size_t in = conv_in_size(s), out = conv_out_size(s);
    for (int i = 0; i < B; i++) {
        float *yi = y + (size_t)i * out;   // (K, P)
        conv_im2col(col, x + (size_t)i * in, s);
        /* yi (K, P) = w (K, Kp) . col (Kp, P) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, P, Kp, 1.0f, w, Kp, col, P, 0.0f, yi, P);
        for (int k = 0; b && k < K; k++)
            for (int p = 0; p < P; p++) yi[(size_t)k * P + p] += b[k];
    }
}

void conv_backward(float *dx, float *dw, float *db, float *col, const float *dy, const float *x, const float *w,
                   int B, const conv_shape *s)
{
    int K = s->K, P = s->OH * s->OW, Kp = conv_patch(s);
    size_t in = conv_in_size(s), out = conv_out_size(s);
    for (int i = 0; i < B; i++) {
        const float *dyi = dy + (size_t)i * out;   // (K, P)
        for (int k = 0; db && k < K; k++) {
            float t = 0.0f;
            for (int p = 0; p < P; p++) t += dyi[(size_t)k * P + p];
            db[k] += t;
        }
        if (dw) {
            /* dw (K, Kp) += dyi (K, P) . col (Kp, P)^T */
            conv_im2col(col, x + (size_t)i * in, s);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, Kp, P, 1.0f, dyi, P, col, P, 1.0f, dw, Kp);
        }
        if (dx) {
            /* dcol (Kp, P) = w (K, Kp)^T . dyi (K, P), then back to the pixels */
            float *dxi = dx + (size_t)i * in;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kp, P, K, 1.0f, w, Kp, dyi, P, 0.0f, col, P);
            memset(dxi, 0, in * sizeof(float));
            conv_col2im_add(dxi, col, s);
        }
    }
}

void conv_wn_backward(float *dx, float *dv, float *dg, float *db, float *dw, float *col, const float *dy,
                      const float *x, const float *w, const float *v, const float *g, const float *vnorm, int B,
                      const conv_shape *s)
{
    int Kp = conv_patch(s);
    if (dv) memset(dw, 0, (size_t)s->K * Kp * sizeof(float));
    conv_backward(dx, dv ? dw : NULL, db, col, dy, x, w, B, s);
    if (dv) norm_wn_grad(dv, dg, dw, v, g, vnorm, Kp, s->K);
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
