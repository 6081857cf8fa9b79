/* conv: 2-D convolution for batches of images, in nn.h style (plain functions on raw float arrays,
 * parameter gradients ACCUMULATE, input gradients are OVERWRITTEN, dx = NULL skips them, nothing
 * allocates, prints or draws by itself).
 *
 * Layout: images are NCHW, channels first: x (B, C, H, W) row-major, so a row of a stream's x with
 * C = 1 is one image as it stands, and a layer's output (B, K, OH, OW) flattened per row is the
 * input of a dense layer. Weights w (K, C, k, k) = (K, C k k) as in PyTorch, bias b (K).
 *
 * The products go through gemm_run (gemm.h; `pool` below: the threads they are split over, NULL for
 * one cblas_sgemm call each) on chunks of images (conv_chunk): im2col copies the k x k
 * patches of the B images into col (C k k, B OH OW), image i in columns [i OH OW, (i + 1) OH OW)
 * (zeros where a patch hangs over the padding), so that t (K, chunk OH OW) = w (K, C k k) col, then
 * reordered into y (B, K, OH, OW) with the bias. The forward keeps col for the backward:
 * dw += dy' col^T and dcol = w^T dy' (dy' = dy in the (K, chunk OH OW) order), and col2im adds
 * dcol's patches back into dx. The caller owns col (B conv_col_size floats) per layer and a
 * workspace ws (conv_ws_size floats), sized once.
 *
 * Weight normalisation per output channel (Salimans & Kingma 2016): w_j = g_j v_j / ||v_j||, the
 * (K, C k k) matrix treated as a dense layer's (out, in): norm_wn_weight computes it and
 * conv_wn_backward takes the gradient back to v and g. */
#ifndef SSL_CONV_H
#define SSL_CONV_H

#include <stddef.h>

#include "error.h"
#include "parallel.h"

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
/* floats of one image's patches: C k k OH OW */
static inline size_t conv_col_size(const conv_shape *s) { return (size_t)conv_patch(s) * s->OH * s->OW; }

/* ---- a stack of layers given as text ("32:5:2,64:3:2": channels:kernel:stride per layer, zero
 * padding (kernel - 1) / 2 so that stride 1 keeps the size), as the tools' options and the model
 * files hold it ---------------------------------------------------------------------------------- */

#define CONV_MAX_LAYERS 8

typedef struct conv_layer {
    int channels, kernel, stride;   /* channels 1..65536, an odd kernel below 100, stride 1..99 */
} conv_layer;

/* Parses spec into out[0..CONV_MAX_LAYERS), *n; -1 with e set (without the option's name: the
 * caller prefixes it) when spec is not such a list. */
int conv_spec_parse(conv_layer *out, int *n, const char *spec, error *e);
/* The layers back as text ("" for none), truncated to size. */
void conv_spec_format(const conv_layer *l, int n, char *buf, size_t size);
/* The shapes cs[0..n) of the layers on (C, H, W) images, each layer's output the next one's input;
 * -1 with e set when a layer's input is smaller than its kernel (the stack is too deep). */
int conv_spec_plan(conv_shape *cs, const conv_layer *l, int n, int C, int H, int W, error *e);

/* Images per product: about CONV_COLS columns, enough for sgemm to run near its peak, few enough
 * that a chunk's patches stay in cache between im2col and sgemm. Forward + backward of 32:5:2 and
 * 64:3:2 on 300 Fashion-MNIST images (one thread, best of 15, loaded machine): 40 ms with 2048
 * columns, 41-44 ms with 1024 or 4096, 48 ms one image per product, 53 ms one product per batch. */
#define CONV_COLS 2048
static inline int conv_chunk(const conv_shape *s, int B)
{
    int n = CONV_COLS / (s->OH * s->OW);
    n = n < 1 ? 1 : n;
    return n < B ? n : B;
}
/* floats of the workspace for batches of up to B: t (K, chunk OH OW) and dcol (C k k, chunk OH OW) */
static inline size_t conv_ws_size(const conv_shape *s, int B)
{
    return (size_t)conv_chunk(s, B) * s->OH * s->OW * (size_t)(s->K + conv_patch(s));
}

/* Row (c, ki, kj) of col (C k k, ld), starting at col + (c k k + ki k + kj) ld, receives
 * x_i[c, oh stride - pad + ki, ow stride - pad + kj] in column i OH OW + oh OW + ow (0 outside the
 * image), for the B images x (B, C, H, W); ld >= B OH OW. */
void conv_im2col(float *col, size_t ld, const float *x, int B, const conv_shape *s);
/* The adjoint: dx (B, C, H, W) = for each pixel, the sum of the entries of col (C k k, ld) that
 * im2col would copy it to (dx is overwritten). */
void conv_col2im(float *dx, const float *col, size_t ld, int B, const conv_shape *s);

/* y = w * x + b.  y (B, K, OH, OW), col (C k k, B OH OW) receives the patches (for the backward),
 * ws (conv_ws_size) workspace, x (B, C, H, W), w (K, C k k), b (K) or NULL */
void conv_forward(par_pool *pool, float *y, float *col, float *ws, const float *x, const float *w, const float *b,
                  int B, const conv_shape *s);
/* From dy, the gradient of the output (the activation's backward already applied):
 * dw += the weight gradient, db += sum over rows and pixels of dy, dx = the input gradient.
 * col (C k k, ld): the forward's patches of these B images (a forward of more rows: its col with
 * ld = its B OH OW, offset by r0 OH OW for rows from r0 on).
 * dx (B, C, H, W) or NULL, dw (K, C k k) or NULL, db (K) or NULL, ws (conv_ws_size) workspace,
 * dy (B, K, OH, OW), w (K, C k k) */
void conv_backward(par_pool *pool, float *dx, float *dw, float *db, float *ws, const float *dy, const float *col,
                   size_t ld, const float *w, int B, const conv_shape *s);

/* The weight-normalised convolution's backward (its forward: norm_wn_weight(w, vnorm, v, g, C k k, K)
 * then conv_forward with that w): dx = the input gradient; with dv != NULL, dw = the gradient of w
 * (a workspace, overwritten), then dv += and dg += (dg may be NULL: g held fixed) as
 * norm_wn_grad does; db += as conv_backward.
 * dx (B, C, H, W) or NULL, dv (K, C k k) or NULL, dg (K) or NULL, db (K) or NULL, dw (K, C k k)
 * workspace, ws (conv_ws_size) workspace, dy (B, K, OH, OW), col (C k k, ld) as conv_backward,
 * w (K, C k k) the effective weights, v (K, C k k), g (K), vnorm (K) */
void conv_wn_backward(par_pool *pool, float *dx, float *dv, float *dg, float *db, float *dw, float *ws,
                      const float *dy, const float *col, size_t ld, const float *w, const float *v, const float *g,
                      const float *vnorm, int B, const conv_shape *s);

/* ---- transposed convolution (the convolution's adjoint in x, a generator's upsampling) ----------
 *
 * It maps (B, K, OH, OW) to (B, C, H, W): the shape s is the convolution FROM the transposed
 * convolution's output (C, H, W) TO its input (K, OH, OW), and the weights w (K, C k k) are that
 * convolution's. Forward: the convolution's input-gradient path (per chunk t = x in channel-major
 * order, col = w^T t, col2im), plus a bias per output channel; backward: the convolution's
 * forward on dy (its im2col into col, dx = w col) and its weight-gradient path (dw += x col^T).
 * Workspace ws: conv_ws_size(s, B) floats as for the convolution. */

/* s for a transposed convolution from (K, h, w) images to (C, H, W) ones with kernel k, stride and
 * zero padding pad; -1 when the convolution back from (C, H, W) does not give (h, w) (e.g. odd k,
 * pad (k-1)/2 and H = h stride, W = w stride always do). */
int conv_t_shape_set(conv_shape *s, int K, int h, int w, int C, int H, int W, int k, int stride, int pad);
/* y = w^T * x + b.  y (B, C, H, W), ws (conv_ws_size) workspace, x (B, K, OH, OW), w (K, C k k),
 * b (C) or NULL */
void conv_t_forward(par_pool *pool, float *y, float *ws, const float *x, const float *w, const float *b, int B,
                    const conv_shape *s);
/* From dy (B, C, H, W): dx = the input gradient (B, K, OH, OW) or NULL (overwritten), dw (K, C k k)
 * += or NULL, db (C) += or NULL. col (C k k, B OH OW) workspace (B conv_col_size floats), ws
 * (conv_ws_size) workspace, x (B, K, OH, OW) the forward's input, w (K, C k k). */
void conv_t_backward(par_pool *pool, float *dx, float *dw, float *db, float *col, float *ws, const float *dy,
                     const float *x, const float *w, int B, const conv_shape *s);

/* ---- global mean pooling: y[i, c] = mean over the P pixels of x[i, c] ---------------------------- */

/* y (B, C), x (B, C, P) */
void conv_gpool_forward(float *y, const float *x, int B, int C, int P);
/* dx[i, c, p] = dy[i, c] / P.  dx (B, C, P), dy (B, C) */
void conv_gpool_backward(float *dx, const float *dy, int B, int C, int P);

#endif
