/* conv: 2-D convolution for batches of images, in nn.h style (plain functions on raw float arrays,
 * parameter gradients ACCUMULATE, input gradients are OVERWRITTEN, dx = NULL skips them, nothing
 * allocates, prints or draws by itself).
 *
 * Layout: images are NCHW, channels first: x (B, C, H, W) row-major, so a row of a stream's x with
 * C = 1 is one image as it stands, and a layer's output (B, K, OH, OW) flattened per row is the
 * input of a dense layer. Weights w (K, C, k, k) = (K, C k k) as in PyTorch, bias b (K).
 *
 * The products go through cblas_sgemm one image at a time: im2col copies the k x k patches of an
 * image into col (C k k, OH OW) (zeros where the patch hangs over the padding), so that
 * y_i (K, OH OW) = w (K, C k k) col; the backward forms dcol = w^T dy_i and col2im adds its patches
 * back into dx_i. The caller owns one col workspace of conv_col_size floats, sized once.
 *
 * Weight normalisation per output channel (Salimans & Kingma 2016): w_j = g_j v_j / ||v_j||, the
 * (K, C k k) matrix treated as a dense layer's (out, in): norm_wn_weight computes it and
 * conv_wn_backward takes the gradient back to v and g. */
#ifndef SSL_CONV_H
#define SSL_CONV_H

#include <stddef.h>

typedef struct conv_shape {
    int C, H, W;           /* input channels, height, width */
    int K, k, stride, pad; /* output channels, kernel size (k x k), stride, zero padding on each side */
    int OH, OW;            /* output height and width: (H + 2 pad - k) / stride + 1 */
} conv_shape;

/* Fills s; -1 when the output would be empty (k > H + 2 pad or k > W + 2 pad) or a size is < 1
 * (pad < 0). */
int conv_shape_set(conv_shape *s, int C, int H, int W, int K, int k, int stride, int pad);
static inline size_t conv_in_size(const conv_shape *s) { return (size_t)s->C * s->H * s->W; }
static inline size_t conv_out_size(const conv_shape *s) { return (size_t)s->K * s->OH * s->OW; }
/* C k k: the width of a weight row (a patch) */
static inline int conv_patch(const conv_shape *s) { return s->C * s->k * s->k; }
/* floats of the col workspace: C k k OH OW */
static inline size_t conv_col_size(const conv_shape *s) { return (size_t)conv_patch(s) * s->OH * s->OW; }

/* col (C k k, OH OW): row (c, ki, kj) holds x[c, oh stride - pad + ki, ow stride - pad + kj] at
 * column (oh, ow), 0 outside the image.  x (C, H, W) one image */
void conv_im2col(float *col, const float *x, const conv_shape *s);
/* The adjoint: dx (C, H, W) += every entry of col at the pixel im2col took it from. */
void conv_col2im_add(float *dx, const float *col, const conv_shape *s);

/* y = w * x + b.  y (B, K, OH, OW), col (conv_col_size) workspace, x (B, C, H, W), w (K, C k k),
 * b (K) or NULL */
void conv_forward(float *y, float *col, const float *x, const float *w, const float *b, int B, const conv_shape *s);
/* From dy, the gradient of the output (the activation's backward already applied):
 * dw += sum_i dy_i col_i^T, db += sum over rows and pixels of dy, dx = the input gradient.
 * dx (B, C, H, W) or NULL, dw (K, C k k) or NULL, db (K) or NULL, col (conv_col_size) workspace,
 * dy (B, K, OH, OW), x (B, C, H, W), w (K, C k k) */
void conv_backward(float *dx, float *dw, float *db, float *col, const float *dy, const float *x, const float *w,
                   int B, const conv_shape *s);

/* The weight-normalised convolution's backward (its forward: norm_wn_weight(w, vnorm, v, g, C k k, K)
 * then conv_forward with that w): dx = the input gradient; with dv != NULL, dw = the gradient of w
 * (a workspace, overwritten), then dv += and dg += (dg may be NULL: g held fixed) as
 * norm_wn_grad does; db += as conv_backward.
 * dx (B, C, H, W) or NULL, dv (K, C k k) or NULL, dg (K) or NULL, db (K) or NULL, dw (K, C k k)
 * workspace, col (conv_col_size) workspace, dy (B, K, OH, OW), x (B, C, H, W), w (K, C k k) the
 * effective weights, v (K, C k k), g (K), vnorm (K) */
void conv_wn_backward(float *dx, float *dv, float *dg, float *db, float *dw, float *col, const float *dy,
                      const float *x, const float *w, const float *v, const float *g, const float *vnorm, int B,
                      const conv_shape *s);

/* ---- global mean pooling: y[i, c] = mean over the P pixels of x[i, c] ---------------------------- */

/* y (B, C), x (B, C, P) */
void conv_gpool_forward(float *y, const float *x, int B, int C, int P);
/* dx[i, c, p] = dy[i, c] / P.  dx (B, C, P), dy (B, C) */
void conv_gpool_backward(float *dx, const float *dy, int B, int C, int P);

#endif
