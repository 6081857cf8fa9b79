#include "nn.h"
#include "gemm.h"
#include "names.h"
#include "vmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <sys/mman.h>

/* ---- the table ---- */

void nn_params_init(nn_params *p) { memset(p, 0, sizeof *p); }

int nn_params_add(nn_params *p, const char *name, int ndim, const int64_t *dims, int decay, error *e)
{
    if (p->data) return error_set(e, "%s: tensor table already allocated", name);
    if (p->n == NN_MAX_TENSORS) return error_set(e, "%s: more than %d tensors", name, NN_MAX_TENSORS);
    if (strlen(name) >= NN_NAME_MAX) return error_set(e, "%s: tensor name too long", name);
    if (ndim < 1 || ndim > 2) return error_set(e, "%s: %d dimensions (1 or 2 supported)", name, ndim);
    if (nn_params_find(p, name) >= 0) return error_set(e, "%s: tensor registered twice", name);
    nn_tensor *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->size = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] <= 0) return error_set(e, "%s: dimension %d is %lld", name, d, (long long)dims[d]);
        t->dims[d] = dims[d];
        t->size *= (size_t)dims[d];
    }
    t->decay = decay;
    t->offset = p->total;
    p->total += (t->size + 15) & ~(size_t)15;
    return p->n++;
}

#define NN_HUGE_PAGE ((size_t)2 << 20)

void *nn_alloc_zeroed(size_t n)
{
    size_t align = n >= NN_HUGE_MIN ? NN_HUGE_PAGE : 64;
    size_t size = n ? (n + align - 1) / align * align : align;   /* aligned_alloc: whole multiples */
    void *p = aligned_alloc(align, size);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == NN_HUGE_PAGE) madvise(p, size, MADV_HUGEPAGE);   /* advice: without it, 4 KB pages */
#endif
    memset(p, 0, size);
    return p;
}

static float *alloc_floats(size_t n) { return nn_alloc_zeroed((n + 16) * sizeof(float)); }   /* a line to spare */

int nn_params_alloc(nn_params *p, error *e)
{
    p->data = alloc_floats(p->total);
    p->grad = alloc_floats(p->total);
    if (!p->data || !p->grad) {
        nn_params_free(p);
        return error_set(e, "out of memory for %zu parameters", p->total);
    }
    return 0;
}

void nn_params_free(nn_params *p)
{
    free(p->data);
    free(p->grad);
    p->data = p->grad = NULL;
}

int nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0) return i;
    return -1;
}

static void zero_range(void *ctx, size_t lo, size_t hi)
{
    float *g = ctx;
    memset(g + lo, 0, (hi - lo) * sizeof(float));
}

void nn_params_zero_grad(par_pool *pool, nn_params *p)
{
    /* a million gradients (M1) take as long to clear as one of the step's small products */
    par_for(pool, p->total, 16, 1, zero_range, p->grad);
}

/* ---- activations ---- */

static const char *const act_names[] = {"none", "relu", "sigmoid", "softplus", "tanh", NULL};

const char *nn_act_name(nn_act a) { return act_names[a]; }

int nn_act_parse(const char *s, nn_act *out)
{
    int i = names_find(act_names, s);
    if (i >= 0) *out = (nn_act)i;
    return i < 0 ? -1 : 0;
}

/* r = max(r + b, 0): the fused bias + ReLU of a hidden layer, one pass. (C) */
NN_VECTORISE static void bias_relu_row(float *restrict r, const float *restrict b, int C)
{
    for (int j = 0; j < C; j++) {
        float t = r[j] + b[j];
        r[j] = t > 0.0f ? t : 0.0f;
    }
}

NN_VECTORISE static void relu_row(float *r, int C)
{
    for (int j = 0; j < C; j++) r[j] = r[j] > 0.0f ? r[j] : 0.0f;
}

NN_VECTORISE static void bias_row(float *restrict r, const float *restrict b, int C)
{
    for (int j = 0; j < C; j++) r[j] += b[j];
}

/* Each activation is written once as a row loop, with the bias add fused in (b may be NULL). */
static void bias_act_rows(float *h, const float *b, int B, int C, nn_act a)
{
    for (int i = 0; i < B; i++) {
        float *r = h + (size_t)i * C;   // (C)
        if (a == NN_ACT_RELU) {
            if (b) bias_relu_row(r, b, C);
            else relu_row(r, C);
            continue;
        }
        if (b) bias_row(r, b, C);
        switch (a) {
        case NN_ACT_NONE:
        case NN_ACT_RELU: break;
        case NN_ACT_SIGMOID: vmath_sigmoid(r, r, (size_t)C); break;
        case NN_ACT_SOFTPLUS: vmath_softplus(r, r, (size_t)C); break;
        case NN_ACT_TANH:
            for (int j = 0; j < C; j++) r[j] = tanhf(r[j]);
            break;
        }
    }
}

/* Work per element for par_for (parallel.h's units): a vectorised loop's element, or a transcendental */
static size_t act_cost(nn_act a) { return a == NN_ACT_NONE || a == NN_ACT_RELU ? 1 : 16; }

/* one bias + activation job over rows (forward) or columns (backward) */
typedef struct act_job {
    float *h, *db;
    const float *b, *y;
    int B, C;
    nn_act a;
} act_job;

static void forward_rows(void *ctx, size_t r0, size_t r1)
{
    const act_job *j = ctx;
    bias_act_rows(j->h + r0 * (size_t)j->C, j->b, (int)(r1 - r0), j->C, j->a);
}

void nn_bias_act_forward(par_pool *pool, float *h, const float *b, int B, int C, nn_act a)
{
    act_job j = {.h = h, .b = b, .B = B, .C = C, .a = a};
    par_for(pool, (size_t)B, 1, (size_t)C * act_cost(a), forward_rows, &j);
}

void nn_act_forward(float *y, const float *x, size_t n, nn_act a)
{
    if (y != x) memcpy(y, x, n * sizeof(float));
    /* one row of n columns: rows fit in int for every use here; loop in chunks to be safe */
    while (n) {
        int c = n > (1u << 30) ? (1 << 30) : (int)n;
        bias_act_rows(y, NULL, 1, c, a);
        y += c;
        n -= (size_t)c;
    }
}

/* dh *= act'(y), from the output y */
NN_VECTORISE static void act_grad_row(float *restrict dh, const float *restrict y, int C, nn_act a)
{
    switch (a) {
    case NN_ACT_NONE: break;
    case NN_ACT_RELU:
        for (int j = 0; j < C; j++) dh[j] = y[j] > 0.0f ? dh[j] : 0.0f;
        break;
    case NN_ACT_SIGMOID:
        for (int j = 0; j < C; j++) dh[j] *= y[j] * (1.0f - y[j]);
        break;
    case NN_ACT_SOFTPLUS: vmath_softplus_grad(dh, dh, y, (size_t)C); break;
    case NN_ACT_TANH:
        for (int j = 0; j < C; j++) dh[j] *= 1.0f - y[j] * y[j];
        break;
    }
}

/* dh = y > 0 ? dh : 0 and db += dh, one pass: the fused ReLU + bias backward. (C) */
NN_VECTORISE static void relu_bias_grad_row(float *restrict dh, float *restrict db, const float *restrict y, int C)
{
    for (int j = 0; j < C; j++) {
        float d = y[j] > 0.0f ? dh[j] : 0.0f;
        dh[j] = d;
        db[j] += d;
    }
}

NN_VECTORISE void nn_add_row(float *restrict acc, const float *restrict d, int C)
{
    for (int j = 0; j < C; j++) acc[j] += d[j];
}

/* Columns [c0, c1) of every row, the rows in order: each bias gradient is summed over the rows in the
 * same order whatever the split over columns, so every thread count gives the same bytes. The ReLU
 * is applied here too (fused, one pass), or none: a transcendental one went over the rows first. */
static void backward_cols(void *ctx, size_t c0, size_t c1)
{
    const act_job *j = ctx;
    int n = (int)(c1 - c0);
    for (int i = 0; i < j->B; i++) {
        float *d = j->h + (size_t)i * j->C + c0;  // (n)
        if (j->a == NN_ACT_RELU) relu_bias_grad_row(d, j->db + c0, j->y + (size_t)i * j->C + c0, n);
        else nn_add_row(j->db + c0, d, n);
    }
}

static void act_grad_rows(void *ctx, size_t r0, size_t r1)
{
    const act_job *j = ctx;
    for (size_t i = r0; i < r1; i++) act_grad_row(j->h + i * (size_t)j->C, j->y + i * (size_t)j->C, j->C, j->a);
}

void nn_bias_act_backward(par_pool *pool, float *dh, float *db, const float *y, int B, int C, nn_act a)
{
    act_job j = {.h = dh, .db = db, .y = y, .B = B, .C = C, .a = a};
    /* a transcendental derivative over whole rows: split over columns, its vector loop would run on
     * rows of C / chunks values, and the calls cost more than a second thread saved (M2: 2x slower) */
    if (a != NN_ACT_NONE && (a != NN_ACT_RELU || !db)) {
        par_for(pool, (size_t)B, 1, (size_t)C * act_cost(a), act_grad_rows, &j);
        j.a = NN_ACT_NONE;
    }
    /* chunks of at least 64 columns, whole cache lines: the threads do not write the same line of db */
    if (db) par_for(pool, (size_t)C, 64, (size_t)B, backward_cols, &j);
}

void nn_act_backward(float *dx, const float *dy, const float *y, size_t n, nn_act a)
{
    if (dx != dy) memcpy(dx, dy, n * sizeof(float));
    while (n) {
        int c = n > (1u << 30) ? (1 << 30) : (int)n;
        act_grad_row(dx, y, c, a);
        dx += c;
        y += c;
        n -= (size_t)c;
    }
}

/* ---- dense ---- */

void nn_dense_forward(par_pool *pool, float *y, const float *x, const float *w, const float *b, int B, int in,
                      int out, nn_act a)
{
    /* y (B, out) = x (B, in) . w^T (in, out) */
    gemm_run(pool, CblasNoTrans, CblasTrans, B, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    nn_bias_act_forward(pool, y, b, B, out, a);
}

void nn_dense_backward(par_pool *pool, float *dx, float *dw, float *db, float *dy, const float *x, const float *w,
                       const float *y, int B, int in, int out, nn_act a)
{
    nn_bias_act_backward(pool, dy, db, y, B, out, a);
    /* dw (out, in) += dy^T (out, B) . x (B, in) */
    if (dw) gemm_run(pool, CblasTrans, CblasNoTrans, out, in, B, 1.0f, dy, out, x, in, 1.0f, dw, in);
    /* dx (B, in) = dy (B, out) . w (out, in) */
    if (dx) gemm_run(pool, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void nn_dense_init_glorot(float *w, float *b, int in, int out, float gain, int draw_bias, rng *r)
{
    float s = gain * sqrtf(6.0f / (float)(in + out));
    size_t n = (size_t)in * out;
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * rng_uniform(r) - 1.0f) * s;
    if (b)
        for (int j = 0; j < out; j++) b[j] = draw_bias ? (2.0f * rng_uniform(r) - 1.0f) * s : 0.0f;
}

/* ---- softmax, cross-entropy ---- */

/* Writes softmax into p and returns log(sum exp(l - max)) + max = log-sum-exp of the row. */
static float softmax_row(float *p, const float *l, int K)
{
    float mx = l[0];
    for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
    float s = 0.0f;
    for (int k = 0; k < K; k++) {
        p[k] = expf(l[k] - mx);
        s += p[k];
    }
    float inv = 1.0f / s;
    for (int k = 0; k < K; k++) p[k] *= inv;
    return mx + logf(s);
}

void nn_softmax_forward(float *p, const float *logits, int B, int K)
{
    for (int i = 0; i < B; i++) softmax_row(p + (size_t)i * K, logits + (size_t)i * K, K);
}

double nn_softmax_xent_forward(float *p, const float *logits, const int *y, const float *w, int B, int K)
{
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K;  // (K)
        /* read the label's logit before p may overwrite logits (in place) */
        float ly = y[i] >= 0 ? l[y[i]] : 0.0f;
        float lse = softmax_row(p + (size_t)i * K, l, K);
        if (y[i] >= 0) loss += (double)(w ? w[i] : 1.0f) * (double)(lse - ly);
    }
    return loss;
}

void nn_softmax_xent_backward(float *dlogits, const float *p, const int *y, const float *w, int B, int K,
                              float scale)
{
    for (int i = 0; i < B; i++) {
        float *d = dlogits + (size_t)i * K;     // (K)
        const float *pr = p + (size_t)i * K;    // (K)
        float s = y[i] >= 0 ? scale * (w ? w[i] : 1.0f) : 0.0f;
        for (int k = 0; k < K; k++) d[k] = s * pr[k];
        if (y[i] >= 0) d[y[i]] -= s;
    }
}

/* ---- dropout ---- */

void nn_dropout_mask(float *mask, size_t n, float p, rng *r)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) mask[i] = rng_uniform(r) < p ? 0.0f : keep;
}

void nn_dropout_forward(float *y, const float *x, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n)
{
    nn_dropout_forward(dx, dy, mask, n);   /* the same product: d(x m)/dx = m */
}

VMATH_KERNEL float nn_l2_add(float *dW, const float *W, float a, size_t n)
{
    vmath_f8 acc = vmath_splat(0.0f), va = vmath_splat(a);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vmath_f8 w = vmath_load(W + i, 8);
        vmath_store(dW + i, vmath_load(dW + i, 8) + va * w, 8);
        acc += w * w;
    }
    int k = (int)(n - i);   /* the tail: lanes past n load as 0 and add 0 */
    vmath_f8 w = vmath_load(W + i, k);
    vmath_store(dW + i, vmath_load(dW + i, k) + va * w, k);
    return vmath_sum(acc + w * w);
}

/* ---- BLAS threads ---- */

int nn_blas_threads_for(long mnk)
{
    int threads = openblas_get_num_threads();
    if (threads > 1 && mnk < GEMM_SPLIT_MIN) openblas_set_num_threads(1);
    return threads;
}

void nn_blas_threads_restore(int threads)
{
    if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
}
