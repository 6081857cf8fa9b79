/* gan_impl.h: what the parts of the semi-supervised GAN share (gan.c construction, gan_net.c
 * forward and backward passes, gan_loss.c, gan_train.c, gan_file.c); not for other modules. */
#ifndef SSL_GAN_IMPL_H
#define SSL_GAN_IMPL_H

#include "gan.h"

#define BN_MOMENTUM 0.1f

/* width of the dense layers' input: the pixels, or the last conv layer's output (pooled or not) */
static inline int dense_in(const gan *m)
{
    if (!m->a.nc) return m->a.features;
    const conv_shape *s = &m->cs[m->a.nc - 1];
    return m->a.pool ? s->K : (int)conv_out_size(s);
}

/* width of D's dense layer boundary l: 0 = their input, nd + 1 = logits */
static inline int dwid(const gan *m, int l)
{
    const gan_arch *a = &m->a;
    return l == 0 ? dense_in(m) : l <= a->nd ? a->d_hidden[l - 1] : a->classes;
}
static inline int gwid(const gan *m, int j) { return j == 0 ? m->gin : m->a.g_hidden[j - 1]; }
/* a convolutional G's batch-normalised stage j as *C channels of *P pixels: j = 0 the seed's dense
 * layer, normalised per unit (as the authors' CIFAR G: per channel, the differences between its
 * pixels' means would outweigh those between rows, and the samples would hardly differ), j > 0
 * transposed convolution j's output, normalised per channel */
static inline void gstage(const gan *m, int j, int *C, int *P)
{
    const int *s = m->a.g_seed;
    *C = j ? m->gs[j - 1].C : s[0] * s[1] * s[2];
    *P = j ? m->gs[j - 1].H * m->gs[j - 1].W : 1;
}

/* D layer l (0..nd): v, g, b */
static inline float *Dv(const gan *m, int l) { return nn_data(&m->d, 3 * l); }
static inline float *Dg(const gan *m, int l) { return nn_data(&m->d, 3 * l + 1); }
static inline float *Db(const gan *m, int l) { return nn_data(&m->d, 3 * l + 2); }
/* G hidden j: w, gamma, beta; output: v, g, b at j = ng. A convolutional G: j = 0 the seed's
 * dense layer (w, gamma, beta), j = t + 1 transposed convolution t (w, gamma, beta; the last: w, b) */
static inline float *Gt(const gan *m, int j, int k) { return nn_data(&m->g, 3 * j + k); }
static inline float *Gd(const gan *m, int j, int k) { return nn_grad(&m->g, 3 * j + k); }
/* effective weights: D layer l -> 2l (w), 2l + 1 (row norms); G output after them */
static inline float *Ew(const gan *m, int l) { return nn_data(&m->eff, 2 * l); }
static inline float *En(const gan *m, int l) { return nn_data(&m->eff, 2 * l + 1); }
/* D conv layer c: v, g, b after the dense layers (so an MLP D keeps its table); effective weights
 * after G's output layer */
static inline int Cidx(const gan *m, int c) { return 3 * (m->a.nd + 1) + 3 * c; }
static inline float *Cv(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c)); }
static inline float *Cg(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c) + 1); }
static inline float *Cb(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c) + 2); }
static inline int Ceff(const gan *m, int c) { return 2 * (m->a.nd + 1 + !m->a.ngc + c); }   /* G.out when G is an MLP */
static inline float *Cw(const gan *m, int c) { return nn_data(&m->eff, Ceff(m, c)); }
static inline float *Cn(const gan *m, int c) { return nn_data(&m->eff, Ceff(m, c) + 1); }

/* ---- the workspace ---- */

struct gan_ws {
    int B, R;                             /* R = 3B rows through D (4B with the consistency term) */
    float *block;
    float *in[GAN_MAX_LAYERS + 1];        /* (R, dwid l) noisy input of D layer l */
    float *h[GAN_MAX_LAYERS + 1];         /* (R, dwid l+1) output of D layer l (logits last) */
    const float *cur[GAN_MAX_LAYERS + 1]; /* the input each layer saw in the last forward */
    float *cy[GAN_MAX_LAYERS];            /* (R, conv out c) output of conv layer c (after ReLU) */
    float *cin[GAN_MAX_LAYERS + 1];       /* (R, conv in c) noisy input of conv layer c (cin[0] = in[0]) */
    float *pooled;                        /* (R, channels) the mean-pooled last conv output */
    float *col[GAN_MAX_LAYERS];           /* (conv patch c, R OH OW) conv layer c's patches (im2col) */
    float *cws;                           /* (max conv_ws_size for R rows) conv workspace */
    int crows;                            /* rows of the last forward (the patches' layout) */
    float *sd, *da, *db;                  /* (max D width) init scratch; (R, max D width) gradient ping-pong */
    float *dwk;                           /* (max out * in) weight-norm gradient workspace */
    float *fmean, *dfeat;                 /* (2C), (B, C): feature matching, C = dwid nd */
    float *p;                             /* (R, K) probabilities of a predict chunk */
    float *gz;                            /* (B, gin) G's input */
    float *gu[GAN_MAX_LAYERS], *gxh[GAN_MAX_LAYERS], *gistd[GAN_MAX_LAYERS], *ga[GAN_MAX_LAYERS];
    float *gx;                            /* (B, features) G's output */
    float *gda, *gdb;                     /* (B, max G width) */
    float *gcol, *gcws, *gbn;             /* conv G: patches (max B conv_col_size), conv workspace, (B, max width) */
    int32_t *ylab, *ycond;                /* (B) labels of the labelled and the generated rows */
    vat_ws vat;                           /* with gan.vat on: the VAT buffers for 2B rows (in block) */
    float *vx;                            /* (2B, features) the step's labelled and unlabelled rows, noiseless */
    int vrows;                            /* rows of the last pass of gan_vat_net */
    int vnoisy;                           /* its passes add D's noise: each pass the draws of vnoise */
    rng vnoise;
};

/* Parts of a training step through D: labelled | unlabelled | generated (| augmented unlabelled). */
static inline int gan_d_parts(const gan *m) { return m->cons_weight > 0 ? 4 : 3; }

/* gan.c */
gan *gan_build(const gan_arch *a, const model_file *from, error *e);
void gan_refresh_weights(gan *m);
void gan_swap_avg(gan *m);

/* gan_net.c: the halves of a training step on this process's share of the rows */
void gan_gather(float *dst, const float *x, const int *idx, int n, int F);
double gan_d_grad_rows(gan *m, const float *x, const int32_t *y, const int *idx_lab, const float *unl, rng *r,
                       gan_stats *st);
int gan_g_grad_rows(gan *m, const float *unl, rng *r, gan_stats *st, double *loss, error *e);

/* gan_loss.c: feature matching in two steps, so that sharded training all-reduces the sums */
void gan_col_sums(float *s, const float *a, int n, int C);
double gan_fm_from_sums(float *df, int n, int nf, int nr, int C, float *sums);

#endif
