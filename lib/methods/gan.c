#include "gan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "imageops.h"
#include "norm.h"
#include "params.h"
#include "trainctl.h"
#include "vmath.h"

#define BN_MOMENTUM 0.1f

void gan_arch_default(gan_arch *a)
{
    memset(a, 0, sizeof *a);
    a->nd = 5;
    const int dh[] = {1000, 500, 250, 250, 250};
    memcpy(a->d_hidden, dh, sizeof dh);
    a->ng = 2;
    a->g_hidden[0] = a->g_hidden[1] = 500;
    a->noise_dim = 100;
    a->input_noise = 0.3f;
    a->hidden_noise = 0.5f;
    a->g_out = NN_ACT_SIGMOID;
}

void gan_config_default(gan_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 10;
    c->batch = 100;
    c->lr = 0.003;
    c->beta1 = 0.5;
    c->cond_weight = 1.0;
    c->unl_weight = 1.0;
    c->cons_shift = 2;
    c->ema_decay = 0.999;
    c->max_loss = 1e4;
}

/* A list of channels:kernel:stride layers (--d-conv, the layers of --g-deconv) from p into out,
 * *n; -1 with e set naming opt and the whole spec. */
static int parse_layers(gan_conv *out, int *n, const char *p, const char *opt, const char *spec, const char *eg,
                        error *e)
{
    *n = 0;
    for (; *p;) {
        gan_conv *c = &out[*n];
        int used = 0;
        if (*n == GAN_MAX_LAYERS) return error_set(e, "%s: at most %d layers", opt, GAN_MAX_LAYERS);
        if (sscanf(p, "%d:%d:%d%n", &c->channels, &c->kernel, &c->stride, &used) != 3 || (p[used] && p[used] != ',') ||
            (p[used] == ',' && !p[used + 1]))
            return error_set(e, "%s: '%s' is not %s (e.g. %s)", opt, spec,
                             *opt == '-' && opt[2] == 'd' ? "a list of channels:kernel:stride"
                                                          : "CxHxW then a list of channels:kernel:stride", eg);
        if (c->channels < 1 || c->channels > 1 << 16 || c->kernel < 1 || c->kernel > 99 || c->kernel % 2 == 0 ||
            c->stride < 1 || c->stride > 99)
            return error_set(e, "%s: layer %d (%d:%d:%d): channels 1 to 65536, an odd kernel below 100, "
                             "stride 1 to 99", opt, *n + 1, c->channels, c->kernel, c->stride);
        (*n)++;
        p += used + (p[used] == ',');
    }
    if (!*n) return error_set(e, "%s: no layers in '%s'", opt, spec);
    return 0;
}

int gan_conv_parse(gan_arch *a, const char *spec, error *e)
{
    return parse_layers(a->conv, &a->nc, spec, "--d-conv", spec, "32:5:2,64:3:2", e);
}

int gan_deconv_parse(gan_arch *a, const char *spec, error *e)
{
    int *g = a->g_seed, used = 0;
    a->ngc = 0;
    if (sscanf(spec, "%dx%dx%d%n", &g[0], &g[1], &g[2], &used) != 3 || spec[used] != ',')
        return error_set(e, "--g-deconv: '%s' is not CxHxW then a list of channels:kernel:stride (e.g. %s)", spec,
                         "64x7x7,32:5:2,1:5:2");
    if (g[0] < 1 || g[0] > 1 << 16 || g[1] < 1 || g[1] > 1 << 12 || g[2] < 1 || g[2] > 1 << 12)
        return error_set(e, "--g-deconv: seed image %dx%dx%d: 1 to 65536 channels, sides 1 to 4096", g[0], g[1], g[2]);
    return parse_layers(a->gconv, &a->ngc, spec + used + 1, "--g-deconv", spec, "64x7x7,32:5:2,1:5:2", e);
}

/* The layers back as text, appended at buf + off. */
static void format_layers(const gan_conv *l, int n, char *buf, size_t size, size_t off)
{
    for (int c = 0; c < n && off < size; c++)
        off += (size_t)snprintf(buf + off, size - off, "%s%d:%d:%d", c ? "," : "", l[c].channels, l[c].kernel,
                                l[c].stride);
}

void gan_conv_format(const gan_arch *a, char *buf, size_t size)
{
    buf[0] = 0;
    format_layers(a->conv, a->nc, buf, size, 0);
}

void gan_deconv_format(const gan_arch *a, char *buf, size_t size)
{
    buf[0] = 0;
    if (!a->ngc) return;
    int k = snprintf(buf, size, "%dx%dx%d,", a->g_seed[0], a->g_seed[1], a->g_seed[2]);
    if (k > 0 && (size_t)k < size) format_layers(a->gconv, a->ngc, buf, size, (size_t)k);
}

/* ---- layer widths and tensor indices (tables are registered in a fixed order) ---- */

/* The shapes of D's conv layers from the image (img_c, img_h, img_w); -1 with e set when a layer's
 * input is smaller than its kernel (the spec is too deep for the image). */
static int conv_plan(const gan_arch *a, conv_shape *cs, error *e)
{
    int C = a->img_c, H = a->img_h, W = a->img_w;
    if (a->nc && (C < 1 || H < 1 || W < 1 || (long)C * H * W != a->features))
        return error_set(e, "--d-conv: images of %d x %d x %d values, but rows of %d features", C, H, W, a->features);
    for (int c = 0; c < a->nc; c++) {
        const gan_conv *g = &a->conv[c];
        if (H < g->kernel || W < g->kernel || conv_shape_set(&cs[c], C, H, W, g->channels, g->kernel, g->stride,
                                                            (g->kernel - 1) / 2))
            return error_set(e, "--d-conv: layer %d (kernel %d) sees a %d x %d input: too deep for %d x %d images",
                             c + 1, g->kernel, H, W, a->img_h, a->img_w);
        C = cs[c].K, H = cs[c].OH, W = cs[c].OW;
    }
    return 0;
}

/* The shapes of G's transposed convolutions from its seed image, each output = input x stride
 * (padding (kernel-1)/2); -1 with e set when the last does not give the data's images. */
static int g_plan(const gan_arch *a, conv_shape *gs, error *e)
{
    if (!a->ngc) return 0;
    int C = a->g_seed[0], H = a->g_seed[1], W = a->g_seed[2];
    for (int t = 0; t < a->ngc; t++) {
        const gan_conv *g = &a->gconv[t];
        int K = C;
        C = g->channels, H *= g->stride, W *= g->stride;
        if ((long)C * H * W > 1L << 26 ||
            conv_t_shape_set(&gs[t], K, H / g->stride, W / g->stride, C, H, W, g->kernel, g->stride, (g->kernel - 1) / 2))
            return error_set(e, "--g-deconv: layer %d gives %d x %d x %d images: too large", t + 1, C, H, W);
    }
    if (C != a->img_c || H != a->img_h || W != a->img_w)
        return error_set(e, "--g-deconv: G ends in %d x %d x %d images, the data's are %d x %d x %d", C, H, W, a->img_c,
                         a->img_h, a->img_w);
    return 0;
}

/* width of the dense layers' input: the pixels, or the last conv layer's output (pooled or not) */
static int dense_in(const gan *m)
{
    if (!m->a.nc) return m->a.features;
    const conv_shape *s = &m->cs[m->a.nc - 1];
    return m->a.pool ? s->K : (int)conv_out_size(s);
}

/* width of D's dense layer boundary l: 0 = their input, nd + 1 = logits */
static int dwid(const gan *m, int l)
{
    const gan_arch *a = &m->a;
    return l == 0 ? dense_in(m) : l <= a->nd ? a->d_hidden[l - 1] : a->classes;
}
static int gwid(const gan *m, int j) { return j == 0 ? m->gin : m->a.g_hidden[j - 1]; }
/* a convolutional G's batch-normalised stage j as *C channels of *P pixels: j = 0 the seed's dense
 * layer, normalised per unit (as the authors' CIFAR G: per channel, the differences between its
 * pixels' means would outweigh those between rows, and the samples would hardly differ), j > 0
 * transposed convolution j's output, normalised per channel */
static void gstage(const gan *m, int j, int *C, int *P)
{
    const int *s = m->a.g_seed;
    *C = j ? m->gs[j - 1].C : s[0] * s[1] * s[2];
    *P = j ? m->gs[j - 1].H * m->gs[j - 1].W : 1;
}

/* D layer l (0..nd): v, g, b */
static float *Dv(const gan *m, int l) { return nn_data(&m->d, 3 * l); }
static float *Dg(const gan *m, int l) { return nn_data(&m->d, 3 * l + 1); }
static float *Db(const gan *m, int l) { return nn_data(&m->d, 3 * l + 2); }
/* G hidden j: w, gamma, beta; output: v, g, b at j = ng. A convolutional G: j = 0 the seed's
 * dense layer (w, gamma, beta), j = t + 1 transposed convolution t (w, gamma, beta; the last: w, b) */
static float *Gt(const gan *m, int j, int k) { return nn_data(&m->g, 3 * j + k); }
static float *Gd(const gan *m, int j, int k) { return nn_grad(&m->g, 3 * j + k); }
/* effective weights: D layer l -> 2l (w), 2l + 1 (row norms); G output after them */
static float *Ew(const gan *m, int l) { return nn_data(&m->eff, 2 * l); }
static float *En(const gan *m, int l) { return nn_data(&m->eff, 2 * l + 1); }
/* D conv layer c: v, g, b after the dense layers (so an MLP D keeps its table); effective weights
 * after G's output layer */
static int Cidx(const gan *m, int c) { return 3 * (m->a.nd + 1) + 3 * c; }
static float *Cv(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c)); }
static float *Cg(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c) + 1); }
static float *Cb(const gan *m, int c) { return nn_data(&m->d, Cidx(m, c) + 2); }
static int Ceff(const gan *m, int c) { return 2 * (m->a.nd + 1 + !m->a.ngc + c); }   /* G.out when G is an MLP */
static float *Cw(const gan *m, int c) { return nn_data(&m->eff, Ceff(m, c)); }
static float *Cn(const gan *m, int c) { return nn_data(&m->eff, Ceff(m, c) + 1); }

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
};

static float *carve(float *base, size_t *off, size_t n)
{
    float *p = base ? base + *off : NULL;
    *off += (n + 15) & ~(size_t)15;
    return p;
}

/* Lays the buffers out from base (NULL: only counts); returns the floats needed. */
static size_t ws_layout(const gan *m, gan_ws *w, float *base)
{
    const gan_arch *a = &m->a;
    size_t off = 0, B = (size_t)w->B, R = (size_t)w->R;
    int maxd = a->features, maxg = a->features;
    size_t maxw = (size_t)a->features * gwid(m, a->ng);
    for (int l = 0; l <= a->nd + 1; l++) maxd = dwid(m, l) > maxd ? dwid(m, l) : maxd;
    for (int l = 0; l <= a->nd; l++) {
        size_t s = (size_t)dwid(m, l) * dwid(m, l + 1);
        maxw = s > maxw ? s : maxw;
        w->in[l] = carve(base, &off, R * (l ? dwid(m, l) : a->features));
        w->h[l] = carve(base, &off, R * dwid(m, l + 1));
    }
    w->cin[0] = w->in[0];
    size_t maxcws = 0;
    for (int c = 0; c < a->nc; c++) {
        const conv_shape *s = &m->cs[c];
        size_t out = conv_out_size(s), k = (size_t)s->K * conv_patch(s), cws = conv_ws_size(s, w->R);
        maxd = (int)out > maxd ? (int)out : maxd;
        maxw = k > maxw ? k : maxw;
        maxcws = cws > maxcws ? cws : maxcws;
        w->cy[c] = carve(base, &off, R * out);
        w->cin[c + 1] = carve(base, &off, R * out);
        w->col[c] = carve(base, &off, R * conv_col_size(s));
    }
    w->pooled = carve(base, &off, a->nc && a->pool ? R * dwid(m, 0) : 0);
    w->cws = carve(base, &off, maxcws);
    w->sd = carve(base, &off, (size_t)maxd);
    w->da = carve(base, &off, R * maxd);
    w->db = carve(base, &off, R * maxd);
    w->dwk = carve(base, &off, maxw);
    /* also the column means of the data-dependent init (any layer's width) */
    w->fmean = carve(base, &off, 2 * (size_t)dwid(m, a->nd) > (size_t)maxd ? 2 * (size_t)dwid(m, a->nd) : (size_t)maxd);
    w->dfeat = carve(base, &off, B * dwid(m, a->nd));
    w->p = carve(base, &off, R * a->classes);
    w->gz = carve(base, &off, B * m->gin);
    for (int j = 0; j < a->ng; j++) {
        size_t c = (size_t)a->g_hidden[j];
        maxg = (int)c > maxg ? (int)c : maxg;
        w->gu[j] = carve(base, &off, B * c);
        w->gxh[j] = carve(base, &off, B * c);
        w->gistd[j] = carve(base, &off, c);
        w->ga[j] = carve(base, &off, B * c);
    }
    size_t gcol = 0, gcws = 0;
    for (int j = 0; j < a->ngc; j++) {   /* a convolutional G's batch-normalised stages */
        int C, P;
        gstage(m, j, &C, &P);
        maxg = C * P > maxg ? C * P : maxg;
        w->gu[j] = carve(base, &off, B * C * P);
        w->gxh[j] = carve(base, &off, B * C * P);
        w->gistd[j] = carve(base, &off, (size_t)C);
        w->ga[j] = carve(base, &off, B * C * P);
        size_t col = B * conv_col_size(&m->gs[j]), cws = conv_ws_size(&m->gs[j], w->B);
        gcol = col > gcol ? col : gcol;
        gcws = cws > gcws ? cws : gcws;
    }
    w->gcol = carve(base, &off, gcol);
    w->gcws = carve(base, &off, gcws);
    w->gbn = carve(base, &off, a->ngc ? B * maxg : 0);
    w->gx = carve(base, &off, B * a->features);
    w->gda = carve(base, &off, B * maxg);
    w->gdb = carve(base, &off, B * maxg);
    return off;
}

static void ws_free(gan_ws *w)
{
    if (!w) return;
    free(w->block);
    free(w->ylab);
    free(w);
}

/* Parts of a training step through D: labelled | unlabelled | generated (| augmented unlabelled). */
static int d_parts(const gan *m) { return m->cons_weight > 0 ? 4 : 3; }

int gan_workspace(gan *m, int B, error *e)
{
    if (m->ws && m->ws_batch == B && m->ws->R == d_parts(m) * B) return 0;
    ws_free(m->ws);
    m->ws = NULL;
    gan_ws *w = calloc(1, sizeof *w);
    if (!w) return error_set(e, "out of memory");
    w->B = B;
    w->R = d_parts(m) * B;
    size_t n = ws_layout(m, w, NULL);
    w->block = nn_alloc_zeroed(n * sizeof(float));
    w->ylab = calloc(2 * (size_t)B, sizeof(int32_t));
    if (!w->block || !w->ylab) {
        ws_free(w);
        return error_set(e, "out of memory for a batch of %d rows", B);
    }
    w->ycond = w->ylab + B;
    ws_layout(m, w, w->block);
    m->ws = w;
    m->ws_batch = B;
    return 0;
}

/* ---- construction ---- */

/* Registers "<layer>.<what>" of shape (d0) or (d0, d1). */
static int add(nn_params *p, error *e, const char *layer, const char *what, int64_t d0, int64_t d1, int decay)
{
    char name[NN_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    int64_t dims[2] = {d0, d1};
    return nn_params_add(p, name, d1 ? 2 : 1, dims, decay, e) < 0 ? -1 : 0;
}

/* Registers a weight-normalised layer "<layer>.{v,g,b}" into p (v (out, in), decay as given) and,
 * with eff, its effective weights "<layer>.{w,vnorm}" into eff. */
static int add_wn(nn_params *p, nn_params *eff, error *e, const char *layer, int out, int in, int decay)
{
    if (add(p, e, layer, "v", out, in, decay) || add(p, e, layer, "g", out, 0, 0) || add(p, e, layer, "b", out, 0, 0))
        return -1;
    return eff && (add(eff, e, layer, "w", out, in, 0) || add(eff, e, layer, "vnorm", out, 0, 0)) ? -1 : 0;
}

/* The conv layers of D ("d.cN", after its dense layers "d.lN" so that an MLP D keeps its table),
 * into p (prefix "d" or "ema.d") and their effective weights into eff (or NULL). */
static int add_conv(const gan *m, nn_params *p, nn_params *eff, error *e, const char *prefix, int decay)
{
    char ln[32];
    for (int c = 0; c < m->a.nc; c++) {
        snprintf(ln, sizeof ln, "%s.c%d", prefix, c + 1);
        if (add_wn(p, eff, e, ln, m->cs[c].K, conv_patch(&m->cs[c]), decay)) return -1;
    }
    return 0;
}

/* A convolutional G's tables: "g.seed.{w,gamma,beta}" (the dense layer to the seed image, batch
 * norm per channel), "g.tN.{w,gamma,beta}" per transposed convolution but the last, "g.tN.{w,b}"
 * for the last (w (in channels, out channels k k)); the statistics "<layer>.{mean,var}". */
static int g_conv_tables(gan *m, error *e)
{
    const gan_arch *a = &m->a;
    char ln[32];
    for (int j = 0; j <= a->ngc; j++) {
        int C, P, last = j == a->ngc;
        if (j) snprintf(ln, sizeof ln, "g.t%d", j);
        else snprintf(ln, sizeof ln, "g.seed");
        const conv_shape *s = j ? &m->gs[j - 1] : NULL;
        if (add(&m->g, e, ln, "w", j ? s->K : (int64_t)a->g_seed[0] * a->g_seed[1] * a->g_seed[2],
                j ? conv_patch(s) : m->gin, 1))
            return -1;
        if (last) {
            if (add(&m->g, e, ln, "b", s->C, 0, 0)) return -1;
            continue;
        }
        gstage(m, j, &C, &P);
        if (add(&m->g, e, ln, "gamma", C, 0, 0) || add(&m->g, e, ln, "beta", C, 0, 0) ||
            add(&m->stat, e, ln, "mean", C, 0, 0) || add(&m->stat, e, ln, "var", C, 0, 0))
            return -1;
    }
    return 0;
}

static int check_arch(const gan_arch *a, error *e)
{
    if (a->features < 1) return error_set(e, "no features");
    if (a->classes < 2) return error_set(e, "%d classes: at least 2 are needed", a->classes);
    if (a->nd < 1 || a->nd > GAN_MAX_LAYERS)
        return error_set(e, "--d-hidden: 1 to %d layers are needed", GAN_MAX_LAYERS);
    if (a->nc < 0 || a->nc > GAN_MAX_LAYERS) return error_set(e, "--d-conv: at most %d layers", GAN_MAX_LAYERS);
    if (a->ng < 0 || a->ng > GAN_MAX_LAYERS) return error_set(e, "--g-hidden: at most %d layers", GAN_MAX_LAYERS);
    if (a->ngc < 0 || a->ngc > GAN_MAX_LAYERS - 1) return error_set(e, "--g-deconv: at most %d layers", GAN_MAX_LAYERS - 1);
    if (a->ngc && a->ng) return error_set(e, "--g-deconv replaces --g-hidden's layers");
    for (int l = 0; l < a->nd; l++)
        if (a->d_hidden[l] < 1) return error_set(e, "--d-hidden: layer %d has no units", l + 1);
    for (int j = 0; j < a->ng; j++)
        if (a->g_hidden[j] < 1) return error_set(e, "--g-hidden: layer %d has no units", j + 1);
    if (a->noise_dim < 1) return error_set(e, "--noise-dim must be at least 1");
    if (!(a->input_noise >= 0) || !(a->hidden_noise >= 0)) return error_set(e, "noise levels must be >= 0");
    return 0;
}

/* The parameter tables; with from, the trained ones must be in that file (nn_params_check) before
 * anything is allocated. */
static int build_tables(gan *m, const model_file *from, error *e)
{
    const gan_arch *a = &m->a;
    char ln[32];
    for (int l = 0; l <= a->nd; l++) {
        int in = dwid(m, l), out = dwid(m, l + 1);
        snprintf(ln, sizeof ln, "d.l%d", l + 1);
        if (add_wn(&m->d, &m->eff, e, ln, out, in, 1)) return -1;
    }
    for (int j = 0; j < a->ng; j++) {
        int in = gwid(m, j), out = gwid(m, j + 1);
        snprintf(ln, sizeof ln, "g.l%d", j + 1);
        if (add(&m->g, e, ln, "w", out, in, 1) || add(&m->g, e, ln, "gamma", out, 0, 0) ||
            add(&m->g, e, ln, "beta", out, 0, 0) || add(&m->stat, e, ln, "mean", out, 0, 0) ||
            add(&m->stat, e, ln, "var", out, 0, 0))
            return -1;
    }
    if ((a->ngc ? g_conv_tables(m, e) : add_wn(&m->g, &m->eff, e, "g.out", a->features, gwid(m, a->ng), 1)) ||
        add_conv(m, &m->d, &m->eff, e, "d", 1))
        return -1;
    for (int l = 0; a->ema && l <= a->nd; l++) {
        int in = dwid(m, l), out = dwid(m, l + 1);
        snprintf(ln, sizeof ln, "ema.d.l%d", l + 1);
        if (add_wn(&m->avg, NULL, e, ln, out, in, 0)) return -1;
    }
    if (a->ema && add_conv(m, &m->avg, NULL, e, "ema.d", 0)) return -1;
    /* a generator without hidden layers has no statistics: keep the table allocatable */
    if (a->ng == 0 && a->ngc == 0 && add(&m->stat, e, "g", "none", 1, 0, 0)) return -1;
    if (from && (nn_params_check(&m->d, from, e) || nn_params_check(&m->g, from, e) || nn_params_check(&m->stat, from, e) ||
                 (a->ema && nn_params_check(&m->avg, from, e))))
        return -1;
    if (nn_params_alloc(&m->d, e) || nn_params_alloc(&m->g, e) || nn_params_alloc(&m->stat, e) ||
        nn_params_alloc(&m->eff, e) || (a->ema && nn_params_alloc(&m->avg, e)))
        return -1;
    return 0;
}

/* gan_new; with from, its parameters must be in that file (build_tables). */
static gan *build(const gan_arch *a, const model_file *from, error *e)
{
    conv_shape cs[GAN_MAX_LAYERS], gs[GAN_MAX_LAYERS];
    if (check_arch(a, e) || conv_plan(a, cs, e) || g_plan(a, gs, e)) return NULL;
    gan *m = calloc(1, sizeof *m);
    if (!m) {
        error_set(e, "out of memory");
        return NULL;
    }
    m->a = *a;
    memcpy(m->cs, cs, sizeof cs);
    memcpy(m->gs, gs, sizeof gs);
    m->gin = a->noise_dim + (a->conditional ? a->classes : 0);
    m->cond_weight = 1.0f;
    m->unl_weight = 1.0f;
    nn_params_init(&m->d);
    nn_params_init(&m->avg);
    nn_params_init(&m->g);
    nn_params_init(&m->stat);
    nn_params_init(&m->eff);
    if (build_tables(m, from, e)) {
        gan_free(m);
        return NULL;
    }
    return m;
}

gan *gan_new(const gan_arch *a, error *e) { return build(a, NULL, e); }

void gan_free(gan *m)
{
    if (!m) return;
    nn_params_free(&m->d);
    nn_params_free(&m->g);
    nn_params_free(&m->stat);
    nn_params_free(&m->eff);
    nn_params_free(&m->avg);
    ws_free(m->ws);
    free(m);
}

/* Effective weights from (v, g), once per parameter update, before any forward: D's layers and
 * G's output layer each when their flag says they changed since (eff_d, eff_g). */
static void refresh_weights(gan *m)
{
    const gan_arch *a = &m->a;
    for (int l = 0; !m->eff_d && l <= a->nd; l++)
        norm_wn_weight(m->pool, Ew(m, l), En(m, l), Dv(m, l), Dg(m, l), dwid(m, l), dwid(m, l + 1));
    for (int c = 0; !m->eff_d && c < a->nc; c++)
        norm_wn_weight(m->pool, Cw(m, c), Cn(m, c), Cv(m, c), Cg(m, c), conv_patch(&m->cs[c]), m->cs[c].K);
    int o = a->nd + 1;
    if (!m->eff_g && !a->ngc) norm_wn_weight(m->pool, Ew(m, o), En(m, o), Gt(m, a->ng, 0), Gt(m, a->ng, 1), gwid(m, a->ng), a->features);
    m->eff_d = m->eff_g = 1;
}

/* Swaps d's values with their average (same layout): predict with the average, then swap back. */
static void swap_avg(gan *m)
{
    float *t = m->d.data;
    m->d.data = m->avg.data;
    m->avg.data = t;
    m->eff_d = 0;
}

void gan_ema_update(gan *m, double decay, long t)
{
    if (!m->a.ema) return;
    double k = (1.0 + (double)t) / (10.0 + (double)t);
    float dk = (float)(k < decay ? k : decay), ck = 1.0f - dk;
    float *avg = m->avg.data;
    const float *d = m->d.data;
    for (size_t i = 0; i < m->d.total; i++) avg[i] = dk * avg[i] + ck * d[i];
}

/* ---- D ---- */

/* Mean and standard deviation of each channel of h (n, C, P) over its n P values into mu, sd (C)
 * (P = 1: the columns of a dense layer's output). */
static void chan_stats(const float *h, int n, int C, int P, float *mu, float *sd)
{
    for (int j = 0; j < C; j++) {
        double s = 0, ss = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) s += h[((size_t)i * C + j) * P + p];
        double mean = s / ((double)n * P);
        for (int i = 0; i < n; i++)
            for (int p = 0; p < P; p++) {
                double d = h[((size_t)i * C + j) * P + p] - mean;
                ss += d * d;
            }
        mu[j] = (float)mean;
        sd[j] = (float)sqrt(ss / ((double)n * P) + 1e-8);
    }
}

/* y = x + sigma eps on n rows of a layer of D of the given width. Sharded (gan_share), n is parts
 * of b rows: the noise of the whole parts of B rows is drawn and this process keeps its rows. */
static void d_noise(gan *m, float *y, const float *x, float sigma, int n, int width, rng *r)
{
    const gan_share *s = &m->share;
    if (!s->B) norm_noise_add(y, x, sigma, (size_t)n * width, r);
    else norm_noise_add_share(y, x, sigma, (size_t)(n / s->b), s->B, s->first, s->b, width, r);
}

/* The conv layers of D on the first n rows of ws->in[0] (noise already added), each conv, ReLU
 * and (noisy) the hidden noise; init: each layer's bias first set to centre its channels.
 * Returns the dense layers' input (n, dwid 0): the last output, flattened or mean-pooled. */
static const float *d_conv_forward(gan *m, int n, int noisy, int init, rng *r)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    const float *x = w->in[0];
    w->crows = n;
    for (int c = 0; c < a->nc; c++) {
        const conv_shape *s = &m->cs[c];
        size_t out = conv_out_size(s);
        if (init) {
            conv_forward(m->pool, w->cy[c], w->col[c], w->cws, x, Cw(m, c), NULL, n, s);
            chan_stats(w->cy[c], n, s->K, s->OH * s->OW, w->fmean, w->sd);
            for (int j = 0; j < s->K; j++) Cb(m, c)[j] = -w->fmean[j];
        }
        conv_forward(m->pool, w->cy[c], w->col[c], w->cws, x, Cw(m, c), Cb(m, c), n, s);
        nn_act_forward(w->cy[c], w->cy[c], (size_t)n * out, NN_ACT_RELU);
        x = w->cy[c];
        if (noisy && a->hidden_noise > 0) {
            d_noise(m, w->cin[c + 1], x, a->hidden_noise, n, (int)out, r);
            x = w->cin[c + 1];
        }
    }
    if (!a->pool) return x;
    const conv_shape *s = &m->cs[a->nc - 1];
    conv_gpool_forward(w->pooled, x, n, s->K, s->OH * s->OW);
    return w->pooled;
}

/* Back through D's conv layers over rows [r0, r0 + n) of the last forward, from d (n, dwid 0), the
 * gradient of their output; spare: a buffer as large as d (both are overwritten). params:
 * accumulate into m->d.grad (g stays fixed, as in the hidden dense layers). dx (n, features) or NULL. */
static void d_conv_backward(gan *m, int r0, int n, int params, float *d, float *spare, float *dx)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->pool) {
        const conv_shape *s = &m->cs[a->nc - 1];
        conv_gpool_backward(spare, d, n, s->K, s->OH * s->OW);
        float *t = d;
        d = spare;
        spare = t;
    }
    for (int c = a->nc - 1; c >= 0; c--) {
        const conv_shape *s = &m->cs[c];
        size_t out = conv_out_size(s), P = (size_t)s->OH * s->OW;
        /* the noise passes the gradient through; then the ReLU (from its output) */
        nn_act_backward(d, d, w->cy[c] + (size_t)r0 * out, (size_t)n * out, NN_ACT_RELU);
        if (c == 0 && !params && !dx) break;
        int k = Cidx(m, c);
        conv_wn_backward(m->pool, c ? spare : dx, params ? nn_grad(&m->d, k) : NULL, NULL, params ? nn_grad(&m->d, k + 2) : NULL,
                         w->dwk, w->cws, d, w->col[c] + r0 * P, (size_t)w->crows * P, Cw(m, c), Cv(m, c), Cg(m, c),
                         Cn(m, c), n, s);
        float *t = d;
        d = spare;
        spare = t;
    }
}

/* Forward of D on the first n rows of ws->in[0] (overwritten by the input noise when noisy).
 * init: data-dependent initialisation of each layer's bias (and the output layer's scale) first. */
static void d_forward(gan *m, int n, int noisy, int init, rng *r)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (noisy && a->input_noise > 0) d_noise(m, w->in[0], w->in[0], a->input_noise, n, a->features, r);
    w->cur[0] = a->nc ? d_conv_forward(m, n, noisy, init, r) : w->in[0];
    for (int l = 0; l <= a->nd; l++) {
        int in = dwid(m, l), out = dwid(m, l + 1), top = l == a->nd;
        if (init) {
            float *mu = w->fmean, *sd = w->sd;
            nn_dense_forward(m->pool, w->h[l], w->cur[l], Ew(m, l), NULL, n, in, out, NN_ACT_NONE);
            chan_stats(w->h[l], n, out, 1, mu, sd);
            for (int j = 0; j < out; j++) {
                if (top) Dg(m, l)[j] /= sd[j];
                Db(m, l)[j] = top ? -mu[j] / sd[j] : -mu[j];
            }
            norm_wn_weight(m->pool, Ew(m, l), En(m, l), Dv(m, l), Dg(m, l), in, out);
        }
        nn_dense_forward(m->pool, w->h[l], w->cur[l], Ew(m, l), Db(m, l), n, in, out, top ? NN_ACT_NONE : NN_ACT_RELU);
        if (top) break;
        if (noisy && a->hidden_noise > 0) {
            d_noise(m, w->in[l + 1], w->h[l], a->hidden_noise, n, out, r);
            w->cur[l + 1] = w->in[l + 1];
        } else {
            w->cur[l + 1] = w->h[l];
        }
    }
}

/* Backward of D over rows [r0, r0 + n) of the last forward, from the logit gradient in ws->da
 * (n, K). dfeat (n, C) or NULL: an extra gradient on the feature layer (the last hidden output).
 * params: accumulate into m->d.grad. dx (n, features) or NULL: gradient w.r.t. the input rows. */
static void d_backward(gan *m, int r0, int n, int params, const float *dfeat, float *dx)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    float *d = w->da, *dn = w->db;
    for (int l = a->nd; l >= 0; l--) {
        int in = dwid(m, l), out = dwid(m, l + 1), top = l == a->nd;
        if (l == 0 && !params && !dx) break;
        float *dxl = l > 0 || a->nc ? dn : dx;
        norm_wn_backward(m->pool, dxl, params ? nn_grad(&m->d, 3 * l) : NULL, params && top ? nn_grad(&m->d, 3 * l + 1) : NULL,
                         params ? nn_grad(&m->d, 3 * l + 2) : NULL, w->dwk, d, w->cur[l] + (size_t)r0 * in,
                         Ew(m, l), Dv(m, l), Dg(m, l), En(m, l), w->h[l] + (size_t)r0 * out, n, in, out,
                         top ? NN_ACT_NONE : NN_ACT_RELU);
        if (l == 0) {
            if (a->nc) d_conv_backward(m, r0, n, params, dn, d, dx);
            break;
        }
        /* the noise layer passes the gradient through: dn is now d(h[l-1]) */
        if (top && dfeat)
            for (size_t i = 0; i < (size_t)n * in; i++) dn[i] += dfeat[i];
        float *t = d;
        d = dn;
        dn = t;
    }
}

/* ---- G ---- */

/* z ~ U(0,1)^noise_dim per row, followed by one-hot(ycond) when conditional. */
static void g_input(gan *m, int n, rng *r)
{
    gan_ws *w = m->ws;
    for (int i = 0; i < n; i++) {
        float *z = w->gz + (size_t)i * m->gin;
        rng_fill_uniform(r, z, (size_t)m->a.noise_dim);
        if (m->a.conditional) {
            memset(z + m->a.noise_dim, 0, (size_t)m->a.classes * sizeof(float));
            z[m->a.noise_dim + w->ycond[i]] = 1.0f;
        }
    }
}

/* Batch norm over stage j's channels (train: batch statistics, the running ones updated), then
 * ReLU: ws->ga[j] from ws->gu[j]. */
static void g_stage_forward(gan *m, int j, int n, int train)
{
    gan_ws *w = m->ws;
    int C, P;
    gstage(m, j, &C, &P);
    float *mean = nn_data(&m->stat, 2 * j), *var = nn_data(&m->stat, 2 * j + 1);
    if (train)
        norm_bn2d_forward_train(w->ga[j], w->gxh[j], w->gistd[j], w->gbn, w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean,
                                var, BN_MOMENTUM, n, C, P);
    else
        norm_bn2d_forward_eval(w->ga[j], w->gbn, w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var, n, C, P);
    nn_act_forward(w->ga[j], w->ga[j], (size_t)n * C * P, NN_ACT_RELU);
}

/* A convolutional G: dense to the seed, then the transposed convolutions. */
static void g_conv_forward(gan *m, int n, int train)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    const int *s = a->g_seed;
    nn_dense_forward(m->pool, w->gu[0], w->gz, Gt(m, 0, 0), NULL, n, m->gin, s[0] * s[1] * s[2], NN_ACT_NONE);
    g_stage_forward(m, 0, n, train);
    for (int j = 1; j <= a->ngc; j++) {
        int last = j == a->ngc;
        conv_t_forward(m->pool, last ? w->gx : w->gu[j], w->gcws, w->ga[j - 1], Gt(m, j, 0), last ? Gt(m, j, 1) : NULL, n,
                       &m->gs[j - 1]);
        if (!last) g_stage_forward(m, j, n, train);
    }
    nn_act_forward(w->gx, w->gx, (size_t)n * a->features, a->g_out);
}

/* Its backward (training mode) from d(gx) in ws->gda, into m->g.grad. */
static void g_conv_backward(gan *m, int n)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    float *d = w->gda, *dn = w->gdb;
    nn_act_backward(d, d, w->gx, (size_t)n * a->features, a->g_out);
    for (int j = a->ngc; j >= 0; j--) {
        if (j < a->ngc) {   /* back through stage j's ReLU and batch norm */
            int C, P;
            gstage(m, j, &C, &P);
            nn_act_backward(d, d, w->ga[j], (size_t)n * C * P, NN_ACT_RELU);
            norm_bn2d_backward(d, Gd(m, j, 1), Gd(m, j, 2), w->gbn, d, w->gxh[j], w->gistd[j], Gt(m, j, 1), n, C, P);
        }
        if (j == 0) break;
        conv_t_backward(m->pool, dn, Gd(m, j, 0), j == a->ngc ? Gd(m, j, 1) : NULL, w->gcol, w->gcws, d, w->ga[j - 1],
                        Gt(m, j, 0), n, &m->gs[j - 1]);
        float *t = d;
        d = dn;
        dn = t;
    }
    const int *s = a->g_seed;
    nn_dense_backward(m->pool, NULL, Gd(m, 0, 0), NULL, d, w->gz, Gt(m, 0, 0), NULL, n, m->gin, s[0] * s[1] * s[2], NN_ACT_NONE);
}

static void g_forward(gan *m, int n, int train)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->ngc) {
        g_conv_forward(m, n, train);
        return;
    }
    const float *in = w->gz;
    for (int j = 0; j < a->ng; j++) {
        int c = a->g_hidden[j];
        float *mean = nn_data(&m->stat, 2 * j), *var = nn_data(&m->stat, 2 * j + 1);
        nn_dense_forward(m->pool, w->gu[j], in, Gt(m, j, 0), NULL, n, gwid(m, j), c, NN_ACT_NONE);
        if (train)
            norm_bn_forward_train(w->ga[j], w->gxh[j], w->gistd[j], w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var,
                                  BN_MOMENTUM, n, c);
        else
            norm_bn_forward_eval(w->ga[j], w->gu[j], Gt(m, j, 1), Gt(m, j, 2), mean, var, n, c);
        nn_bias_act_forward(m->pool, w->ga[j], NULL, n, c, NN_ACT_SOFTPLUS);
        in = w->ga[j];
    }
    int o = a->nd + 1;
    nn_dense_forward(m->pool, w->gx, in, Ew(m, o), Gt(m, a->ng, 2), n, gwid(m, a->ng), a->features, a->g_out);
}

/* Backward of G (training mode) from d(gx) in ws->gda (n, features), into m->g.grad. */
static void g_backward(gan *m, int n)
{
    const gan_arch *a = &m->a;
    gan_ws *w = m->ws;
    if (a->ngc) {
        g_conv_backward(m, n);
        return;
    }
    float *d = w->gda, *dn = w->gdb;
    int ng = a->ng, o = a->nd + 1;
    const float *in = ng ? w->ga[ng - 1] : w->gz;
    norm_wn_backward(m->pool, ng ? dn : NULL, Gd(m, ng, 0), Gd(m, ng, 1), Gd(m, ng, 2), w->dwk, d, in, Ew(m, o), Gt(m, ng, 0),
                     Gt(m, ng, 1), En(m, o), w->gx, n, gwid(m, ng), a->features, a->g_out);
    for (int j = ng - 1; j >= 0; j--) {
        float *t = d;
        d = dn;
        dn = t;
        int c = a->g_hidden[j];
        nn_bias_act_backward(m->pool, d, NULL, w->ga[j], n, c, NN_ACT_SOFTPLUS);
        norm_bn_backward(d, Gd(m, j, 1), Gd(m, j, 2), d, w->gxh[j], w->gistd[j], Gt(m, j, 1), n, c);
        nn_dense_backward(m->pool, j ? dn : NULL, Gd(m, j, 0), NULL, d, j ? w->ga[j - 1] : w->gz, Gt(m, j, 0), NULL, n,
                          gwid(m, j), c, NN_ACT_NONE);
    }
}

/* B generated rows in ws->gx (training mode), with their classes drawn when conditional. */
static void generate_batch(gan *m, rng *r)
{
    gan_ws *w = m->ws;
    if (m->a.conditional)
        for (int i = 0; i < w->B; i++)   /* mode seeking pairs rows 2i, 2i+1: the same class */
            w->ycond[i] = m->ms_weight > 0 && i % 2 ? w->ycond[i - 1] : (int32_t)rng_below(r, (uint64_t)m->a.classes);
    g_input(m, w->B, r);
    g_forward(m, w->B, 1);
}

/* ---- losses ---- */

static inline double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
static inline double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* log-sum-exp of a row and the index of its maximum */
static double row_lse(const float *l, int K, int *arg)
{
    int k0 = 0;
    for (int k = 1; k < K; k++)
        if (l[k] > l[k0]) k0 = k;
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)l[k] - l[k0]);
    if (arg) *arg = k0;
    return l[k0] + log(s);
}

/* dl = c softmax(l) for one row, lse its log-sum-exp (dl may equal l) */
static void scaled_softmax(float *dl, const float *l, int K, double lse, double c)
{
    for (int k = 0; k < K; k++) dl[k] = (float)(c * exp((double)l[k] - lse));
}

double gan_loss_lab(float *dl, const float *l, const int32_t *y, int n, int K, float scale, int *correct)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        float *di = dl + (size_t)i * K;
        int arg;
        double lse = row_lse(li, K, &arg);
        loss += lse - li[y[i]];
        if (correct) *correct += arg == y[i];
        scaled_softmax(di, li, K, lse, scale);
        di[y[i]] -= scale;
    }
    return loss;
}

double gan_loss_unl(float *dl, const float *l, int n, int K, int fake, float scale, int *correct)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        double lse = row_lse(li, K, NULL);
        /* real: softplus(-lse) = -log D;  fake: softplus(lse) = -log(1 - D) */
        loss += fake ? softplus(lse) : softplus(-lse);
        if (correct) *correct += fake ? lse < 0 : lse > 0;
        double c = fake ? sigmoid(lse) : -sigmoid(-lse);
        scaled_softmax(dl + (size_t)i * K, li, K, lse, c * scale);
    }
    return loss;
}

double gan_loss_ent(float *dl, const float *l, int n, int K, float scale)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *li = l + (size_t)i * K;
        double lse = row_lse(li, K, NULL), h = 0;
        for (int k = 0; k < K; k++) {
            double lp = (double)li[k] - lse;
            h -= exp(lp) * lp;
        }
        loss += h;
        /* dH/dl_k = -p_k (log p_k + H) */
        for (int k = 0; k < K; k++) {
            double lp = (double)li[k] - lse;
            dl[(size_t)i * K + k] -= (float)(scale * exp(lp) * (lp + h));
        }
    }
    return loss;
}

/* softmax(l)_k from the row's log-sum-exp */
static double soft_k(const float *l, int k, double lse) { return exp((double)l[k] - lse); }

double gan_loss_cons(float *da, float *db, const float *la, const float *lb, int n, int K, float scale)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *a = la + (size_t)i * K, *b = lb + (size_t)i * K;
        double lsa = row_lse(a, K, NULL), lsb = row_lse(b, K, NULL), pd = 0, qd = 0;
        for (int k = 0; k < K; k++) {
            double p = soft_k(a, k, lsa), q = soft_k(b, k, lsb);
            loss += (p - q) * (p - q);
            pd += p * (p - q);
            qd += q * (p - q);
        }
        /* d/da_k = 2 p_k ((p_k - q_k) - sum_j p_j (p_j - q_j)); d/db_k likewise with q, negated */
        for (int k = 0; k < K; k++) {
            double p = soft_k(a, k, lsa), q = soft_k(b, k, lsb);
            da[(size_t)i * K + k] += (float)(2 * scale * p * ((p - q) - pd));
            db[(size_t)i * K + k] -= (float)(2 * scale * q * ((p - q) - qd));
        }
    }
    return loss;
}

/* s (C) = the column sums of a (n, C) */
static void col_sums(float *s, const float *a, int n, int C)
{
    memset(s, 0, (size_t)C * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) s[j] += a[(size_t)i * C + j];
}

/* The feature matching loss from sums (2C: the column sums of nf generated rows' features, then of
 * nr real rows'), and df (n, C) its gradient w.r.t. n generated rows (every row's is the same; n <
 * nf for a share of the rows). sums is overwritten. */
static double fm_from_sums(float *df, int n, int nf, int nr, int C, float *sums)
{
    float *mf = sums, *mr = sums + C;
    double loss = 0;
    for (int j = 0; j < C; j++) {
        mf[j] = mf[j] / nf - mr[j] / nr;   /* mf now holds the difference */
        loss += (double)mf[j] * mf[j];
    }
    float c = 2.0f / ((float)C * nf);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) df[(size_t)i * C + j] = c * mf[j];
    return loss / C;
}

double gan_loss_fm(float *df, const float *ff, int nf, const float *fr, int nr, int C, float *mean)
{
    col_sums(mean, ff, nf, C);
    col_sums(mean + C, fr, nr, C);
    return fm_from_sums(df, nf, nf, nr, C, mean);
}

#define MS_EPS 1e-3

double gan_loss_ms(float *dx, const float *x, const float *z, int n, int F, int Z, int zstride, float weight)
{
    int np = n / 2;
    double loss = 0;
    for (int p = 0; p < np; p++) {
        const float *x1 = x + (size_t)2 * p * F, *x2 = x1 + F;
        const float *z1 = z + (size_t)2 * p * zstride, *z2 = z1 + zstride;
        double dz = 0, dd = 0;
        for (int j = 0; j < Z; j++) dz += fabs((double)z1[j] - z2[j]);
        for (int k = 0; k < F; k++) dd += fabs((double)x1[k] - x2[k]);
        dz /= Z, dd /= F;
        double q = dd + MS_EPS;
        loss += dz / q;
        /* d(dz / q)/d x1_k = -dz / q^2 sign(x1_k - x2_k) / F, the opposite for x2 */
        float c = (float)(weight / np * (-dz / (q * q)) / F);
        float *d1 = dx + (size_t)2 * p * F, *d2 = d1 + F;
        for (int k = 0; k < F; k++) {
            float g = x1[k] > x2[k] ? c : x1[k] < x2[k] ? -c : 0.0f;
            d1[k] += g;
            d2[k] -= g;
        }
    }
    return np ? weight * loss / np : 0;
}

/* ---- the two halves of a step ---- */

static void gather(float *dst, const float *x, const int *idx, int n, int F)
{
    for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * F, x + (size_t)idx[i] * F, (size_t)F * sizeof(float));
}

/* Rows of each part of a step this process feeds D (all B of them on one process), and the first. */
static int share_rows(const gan *m) { return m->share.B ? m->share.b : m->ws->B; }
static int share_first(const gan *m) { return m->share.B ? m->share.first : 0; }

/* This process's share of the B labelled rows idx of x into dst, each moved by a random shift in
 * [-shift, shift]^2 when m->shift > 0 (drawn for every row of the batch, as one process does). */
static void gather_labelled(gan *m, float *dst, const float *x, const int *idx, rng *r)
{
    int F = m->a.features, s = m->shift, o = share_first(m), b = share_rows(m);
    if (s <= 0) {
        gather(dst, x, idx + o, b, F);
        return;
    }
    for (int i = 0; i < m->ws->B; i++) {
        int dy, dx;
        image_draw_shift(r, s, &dy, &dx);
        if (i >= o && i < o + b)
            image_shift(dst + (size_t)(i - o) * F, x + (size_t)idx[i] * F, m->img_h, m->img_w, dy, dx);
    }
}

/* dst: this process's share of the unlabelled rows unl (b rows), each shifted by a random (dy, dx)
 * in [-cons_shift, cons_shift]^2 and, with cons_flip, mirrored with probability 1/2 (drawn for
 * every row of the batch, as one process does). */
static void augment_unlabelled(gan *m, float *dst, const float *unl, rng *r)
{
    int F = m->a.features, s = m->cons_shift, o = share_first(m), b = share_rows(m);
    for (int i = 0; i < m->ws->B; i++) {
        int flip = m->cons_flip ? (int)rng_below(r, 2) : 0;
        int dy, dx;
        image_draw_shift(r, s, &dy, &dx);
        if (i < o || i >= o + b) continue;
        float *d = dst + (size_t)(i - o) * F;
        image_shift(d, unl + (size_t)(i - o) * F, m->img_h, m->img_w, dy, dx);
        if (flip) image_flip(d, m->img_h, m->img_w);
    }
}

/* L_D's gradient on this process's share of the step: of the B labelled rows idx_lab of x (labels
 * y[idx]), of the unlabelled rows (unl: the share's b rows) and of B generated rows. The effective
 * weights are refreshed only where stale (training keeps the flags). Returns this share's part. */
static double d_grad(gan *m, const float *x, const int32_t *y, const int *idx_lab, const float *unl, rng *r,
                     gan_stats *st)
{
    gan_ws *w = m->ws;
    int B = w->B, b = share_rows(m), o = share_first(m), F = m->a.features, K = m->a.classes;
    size_t rows = (size_t)b * F;
    refresh_weights(m);
    generate_batch(m, r);
    /* D's batch: labelled | unlabelled | generated */
    gather_labelled(m, w->in[0], x, idx_lab, r);
    if (unl != w->in[0] + rows) memcpy(w->in[0] + rows, unl, rows * sizeof(float));
    memcpy(w->in[0] + 2 * rows, w->gx + (size_t)o * F, rows * sizeof(float));
    int parts = d_parts(m);
    if (parts == 4) augment_unlabelled(m, w->in[0] + 3 * rows, unl, r);
    for (int i = 0; i < b; i++) w->ylab[i] = y[idx_lab[o + i]];
    d_forward(m, parts * b, 1, 0, r);
    const float *l = w->h[m->a.nd];
    size_t part = (size_t)b * K;
    float s = 1.0f / (float)B;   /* the means are over the whole step's rows */
    double lab = gan_loss_lab(w->da, l, w->ylab, b, K, s, &st->lab_correct);
    float su = 0.5f * s * m->unl_weight;
    double real = gan_loss_unl(w->da + part, l + part, b, K, 0, su, &st->real_correct);
    double fake = gan_loss_unl(w->da + 2 * part, l + 2 * part, b, K, 1, su, &st->fake_correct);
    double ent = m->ent_weight > 0 ? gan_loss_ent(w->da + part, l + part, b, K, s * m->ent_weight) / B : 0;
    double cons = 0;
    if (parts == 4) {
        memset(w->da + 3 * part, 0, part * sizeof(float));
        cons = gan_loss_cons(w->da + part, w->da + 3 * part, l + part, l + 3 * part, b, K, s * m->cons_weight) / B;
    }
    d_backward(m, 0, parts * b, 1, NULL, NULL);
    double unl_loss = 0.5 * (real + fake) / B;
    st->loss_lab += lab / B;
    st->loss_unl += unl_loss;
    st->loss_ent += ent;
    st->loss_cons += cons;
    st->rows += b;
    return lab / B + m->unl_weight * unl_loss + m->ent_weight * ent + m->cons_weight * cons;
}

double gan_d_grad(gan *m, const float *x, const int32_t *y, const int *idx_lab, const int *idx_unl, rng *r,
                  gan_stats *st)
{
    m->eff_d = m->eff_g = 0;   /* the caller may have changed any parameter */
    float *unl = m->ws->in[0] + (size_t)m->ws->B * m->a.features;
    gather(unl, x, idx_unl, m->ws->B, m->a.features);
    return d_grad(m, x, y, idx_lab, unl, r, st);
}

/* L_G's gradient: B generated rows (on every process: G's batch norm sees them all) against the
 * unlabelled rows unl (this process's share: b rows). Feature matching compares means over the
 * whole batch: sharded, the feature sums are all-reduced before the backward. *loss: this
 * process's part of L_G (the terms of the whole batch counted by the first process). */
static int g_grad(gan *m, const float *unl, rng *r, gan_stats *st, double *loss, error *e)
{
    gan_ws *w = m->ws;
    const gan_arch *a = &m->a;
    int B = w->B, b = share_rows(m), o = share_first(m), F = a->features, K = a->classes, C = dwid(m, a->nd);
    size_t rows = (size_t)b * F;
    refresh_weights(m);
    generate_batch(m, r);
    /* D's batch: generated | unlabelled */
    memcpy(w->in[0], w->gx + (size_t)o * F, rows * sizeof(float));
    if (unl != w->in[0] + rows) memcpy(w->in[0] + rows, unl, rows * sizeof(float));
    d_forward(m, 2 * b, 1, 0, r);
    const float *f = w->h[a->nd - 1];
    col_sums(w->fmean, f, b, C);
    col_sums(w->fmean + C, f + (size_t)b * C, b, C);
    if (m->share.B && dist_allreduce_sum(w->fmean, 2 * (size_t)C, e) < 0) return -1;
    double fm = fm_from_sums(w->dfeat, b, B, B, C, w->fmean), l = o == 0 ? fm : 0;
    if (a->conditional) {
        float cw = m->cond_weight;
        l += cw * gan_loss_lab(w->da, w->h[a->nd], w->ycond + o, b, K, cw / (float)B, NULL) / B;
    } else {
        memset(w->da, 0, (size_t)b * K * sizeof(float));
    }
    /* d(gx): this process's rows from D, zero elsewhere (the processes' gradients add up) */
    if (b < B) memset(w->gda, 0, (size_t)B * F * sizeof(float));
    d_backward(m, 0, b, 0, w->dfeat, w->gda + (size_t)o * F);
    if (m->ms_weight > 0 && o == 0)   /* pairs of rows of the whole batch: added by one process */
        l += gan_loss_ms(w->gda, w->gx, w->gz, B, F, a->noise_dim, m->gin, m->ms_weight);
    g_backward(m, B);
    st->loss_g += l;
    *loss = l;
    return 0;
}

double gan_g_grad(gan *m, const float *x, const int *idx_unl, rng *r, gan_stats *st)
{
    m->eff_d = m->eff_g = 0;
    float *unl = m->ws->in[0] + (size_t)m->ws->B * m->a.features;
    gather(unl, x, idx_unl, m->ws->B, m->a.features);
    double loss = 0;
    error e;
    g_grad(m, unl, r, st, &loss, &e);   /* one process: nothing to fail */
    return loss;
}

/* ---- initialisation and training ---- */

/* An MLP G's weight-normalised output layer: v ~ N(0, 0.05^2), g = 1, b = 0. */
static void g_out_init(gan *m, rng *r)
{
    const gan_arch *a = &m->a;
    size_t k = (size_t)a->features * gwid(m, a->ng);
    norm_gauss_fill(Gt(m, a->ng, 0), k, r);
    for (size_t i = 0; i < k; i++) Gt(m, a->ng, 0)[i] *= 0.05f;
    for (int j = 0; j < a->features; j++) Gt(m, a->ng, 1)[j] = 1.0f, Gt(m, a->ng, 2)[j] = 0.0f;
}

/* A convolutional G: the seed's dense layer Glorot uniform, the transposed convolutions
 * N(0, 0.05^2) (batch norm follows all but the last), gamma 1, beta 0, the bias 0, the running
 * statistics those of unit Gaussians. */
static void g_conv_init(gan *m, rng *r)
{
    const gan_arch *a = &m->a;
    const int *s = a->g_seed;
    nn_dense_init_glorot(Gt(m, 0, 0), NULL, m->gin, s[0] * s[1] * s[2], 1.0f, 0, r);
    for (int j = 0; j <= a->ngc; j++) {
        if (j) {
            size_t k = (size_t)m->gs[j - 1].K * conv_patch(&m->gs[j - 1]);
            norm_gauss_fill(Gt(m, j, 0), k, r);
            for (size_t i = 0; i < k; i++) Gt(m, j, 0)[i] *= 0.05f;
        }
        if (j == a->ngc) {
            memset(Gt(m, j, 1), 0, (size_t)a->img_c * sizeof(float));
            break;
        }
        int C, P;
        gstage(m, j, &C, &P);
        for (int c = 0; c < C; c++) {
            Gt(m, j, 1)[c] = 1.0f, Gt(m, j, 2)[c] = 0.0f;
            nn_data(&m->stat, 2 * j)[c] = 0.0f, nn_data(&m->stat, 2 * j + 1)[c] = 1.0f;
        }
    }
}

int gan_init(gan *m, const float *x, size_t n, int B, rng *r, error *e)
{
    const gan_arch *a = &m->a;
    if (gan_workspace(m, B, e)) return -1;
    m->eff_d = m->eff_g = 0;
    for (int l = 0; l <= a->nd; l++) {
        size_t k = (size_t)dwid(m, l) * dwid(m, l + 1);
        norm_gauss_fill(Dv(m, l), k, r);
        for (size_t i = 0; i < k; i++) Dv(m, l)[i] *= 0.05f;
        for (int j = 0; j < dwid(m, l + 1); j++) Dg(m, l)[j] = 1.0f, Db(m, l)[j] = 0.0f;
    }
    for (int c = 0; c < a->nc; c++) {
        size_t k = (size_t)m->cs[c].K * conv_patch(&m->cs[c]);
        norm_gauss_fill(Cv(m, c), k, r);
        for (size_t i = 0; i < k; i++) Cv(m, c)[i] *= 0.05f;
        for (int j = 0; j < m->cs[c].K; j++) Cg(m, c)[j] = 1.0f, Cb(m, c)[j] = 0.0f;
    }
    for (int j = 0; j < a->ng; j++) {
        int c = a->g_hidden[j];
        nn_dense_init_glorot(Gt(m, j, 0), NULL, gwid(m, j), c, 1.0f, 0, r);
        for (int k = 0; k < c; k++) {
            Gt(m, j, 1)[k] = 1.0f, Gt(m, j, 2)[k] = 0.0f;
            nn_data(&m->stat, 2 * j)[k] = 0.0f, nn_data(&m->stat, 2 * j + 1)[k] = 1.0f;
        }
    }
    if (a->ngc)
        g_conv_init(m, r);
    else
        g_out_init(m, r);
    refresh_weights(m);
    /* data-dependent init of D on up to 3B rows drawn at random */
    int n0 = n < (size_t)m->ws->R ? (int)n : m->ws->R;
    for (int i = 0; i < n0; i++)
        memcpy(m->ws->in[0] + (size_t)i * a->features, x + (size_t)rng_below(r, n) * a->features,
               (size_t)a->features * sizeof(float));
    d_forward(m, n0, 1, 1, r);
    if (a->ema) memcpy(m->avg.data, m->d.data, m->d.total * sizeof(float));
    return 0;
}

#define SPREAD_ROWS 100

static int diverged(double loss, double max) { return !isfinite(loss) || loss > max; }

/* The learning rate of an epoch (1-based): constant, then linear towards 0 from lr_decay_start. */
static double epoch_lr(const gan_config *c, int epoch)
{
    if (c->lr_decay_start <= 0 || epoch < c->lr_decay_start) return c->lr;
    return c->lr * (double)(c->epochs - epoch + 1) / (double)(c->epochs - c->lr_decay_start + 1);
}

typedef struct train_bufs {
    int *lab, *perm, *idx_lab;   /* perm: the rows of the data spread */
    float *sample;
} train_bufs;

static void bufs_free(train_bufs *b)
{
    free(b->lab);
    free(b->perm);
    free(b->idx_lab);
    free(b->sample);
}

/* This process's share of every step (dist.h), from the global batch of B rows a part: rows
 * [rank b, (rank + 1) b) of each part; nothing on one process. */
static int share_begin(gan *m, int B, error *e)
{
    int P = dist_size();
    if (P == 1) return 0;
    if (B % P)
        return error_set(e, "a step's batch of %d rows (--batch, or every row when fewer) does not divide among %d processes", B, P);
    m->share.B = B, m->share.b = B / P, m->share.first = dist_rank() * (B / P);
    return 0;
}

/* The epoch's sums over every process's share. */
static int reduce_stats(gan_stats *st, error *e)
{
    double v[9] = {st->loss_lab, st->loss_unl, st->loss_g, st->lab_correct, st->real_correct, st->fake_correct, st->rows,
                   st->loss_ent, st->loss_cons};
    if (dist_allreduce_sum_f64(v, 9, e) < 0) return -1;
    st->loss_lab = v[0], st->loss_unl = v[1], st->loss_g = v[2];
    st->lab_correct = (int)v[3], st->real_correct = (int)v[4], st->fake_correct = (int)v[5], st->rows = (int)v[6];
    st->loss_ent = v[7], st->loss_cons = v[8];
    return 0;
}

/* x of this process's share of src's next batch of B rows, or NULL with e set. */
static const float *unl_batch(datasource *src, int B, rng *r, error *e)
{
    datasource_batch bt;
    int got = datasource_next(src, (size_t)B, r, &bt, e);
    if (got == 1 && bt.global == (size_t)B) return stream_table_col(bt.rows, "x");
    if (got >= 0) error_set(e, "the rows ran out before the end of the epoch");
    return NULL;
}

/* The epoch's last rows, short of a batch, go unused; a stream reads them (and checks its end). */
static int drain(datasource *src, int B, rng *r, error *e)
{
    datasource_batch bt;
    int got;
    while ((got = datasource_next(src, (size_t)B, r, &bt, e)) == 1) {}
    return got;
}

/* Checks the labels and lists the labelled rows into b->lab; returns their count or -1. */
static long list_labelled(const gan *m, const gan_data *d, int *lab, error *e)
{
    long nlab = 0;
    for (size_t i = 0; d->y && i < d->n; i++) {
        if (d->y[i] >= m->a.classes || d->y[i] < -1)
            return error_set(e, "row %zu: label %d, but the model has %d classes", i + 1, (int)d->y[i], m->a.classes);
        if (d->y[i] < 0) continue;
        lab[nlab++] = (int)i;
    }
    if (!nlab) return error_set(e, "no labelled rows (y >= 0): the discriminator needs some");
    return nlab;
}

/* End-of-epoch metrics: losses, accuracies, the sample spread and the validation accuracy. */
static int epoch_metrics(gan *m, const gan_stats *st, int steps, double data_spread, float *sample,
                         const gan_data *val, trainlog *log, rng *r, error *e)
{
    int nrows = st->rows;
    int ns = data_spread > 0 ? SPREAD_ROWS : 0;
    double spread = NAN;
    if (ns && gan_sample(m, (size_t)ns, -1, r, sample, NULL, e)) return -1;
    if (ns) spread = gan_mean_pairwise_dist(sample, ns, m->a.features) / data_spread;
    if (!log) return 0;
    trainlog_metric(log, "d_loss", (st->loss_lab + st->loss_unl) / steps);
    trainlog_metric(log, "lab_loss", st->loss_lab / steps);
    trainlog_metric(log, "unl_loss", st->loss_unl / steps);
    if (m->ent_weight > 0) trainlog_metric(log, "ent_loss", st->loss_ent / steps);
    if (m->cons_weight > 0) trainlog_metric(log, "cons_loss", st->loss_cons / steps);
    trainlog_metric(log, "g_loss", st->loss_g / steps);
    trainlog_metric(log, "train_accuracy", (double)st->lab_correct / nrows);
    trainlog_metric(log, "d_real_acc", (double)st->real_correct / nrows);
    trainlog_metric(log, "d_fake_acc", (double)st->fake_correct / nrows);
    if (ns) trainlog_metric(log, "sample_spread", spread);
    if (val && val->n) {
        double acc;
        if (gan_accuracy(m, val, &acc, e)) return -1;
        trainlog_metric(log, "val_accuracy", acc);
        if (m->a.ema) {   /* and the last weights' accuracy, to see what the average buys */
            m->a.ema = 0;
            int rc = gan_accuracy(m, val, &acc, e);
            m->a.ema = 1;
            if (rc) return -1;
            trainlog_metric(log, "val_accuracy_last", acc);
        }
    }
    return 0;
}

/* One epoch of steps; a diverged loss stops with the place named. */
static int train_epoch(gan *m, const gan_config *c, const gan_source *src, train_bufs *b, long nlab, long *lab_pos,
                       adam *ad, adam *ag, int epoch, gan_stats *st, trainlog *log, rng *r, error *e)
{
    int B = m->ws->B, steps = (int)(datasource_rows(src->unl[0]) / (size_t)B);
    double P = m->share.B ? (double)m->share.B / m->share.b : 1;   /* a share's loss times P: about the step's */
    if (datasource_epoch(src->unl[0], r, e) < 0 || datasource_epoch(src->unl[1], r, e) < 0) return -1;
    nn_params_zero_grad(m->pool, &m->d);   /* once: adam_step_clear leaves them zero for the next step */
    nn_params_zero_grad(m->pool, &m->g);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < B; i++) {
            if (*lab_pos == nlab) rng_shuffle(r, b->lab, (size_t)nlab), *lab_pos = 0;
            b->idx_lab[i] = b->lab[(*lab_pos)++];
        }
        const float *unl = unl_batch(src->unl[0], B, r, e);
        if (!unl) return -1;
        double ld = d_grad(m, src->lab.x, src->lab.y, b->idx_lab, unl, r, st);
        if (dist_allreduce_sum(m->d.grad, m->d.total, e) < 0) return -1;
        if (diverged(ld * P, c->max_loss))
            return error_set(e, "epoch %d, batch %d: discriminator loss is %g: training diverged", epoch, s + 1, ld * P);
        adam_step_clear(ad, m->pool, m->d.data, m->d.grad);
        m->eff_d = 0;
        gan_ema_update(m, c->ema_decay, (long)(epoch - 1) * steps + s);
        if (!(unl = unl_batch(src->unl[1], B, r, e))) return -1;
        double lg;
        if (g_grad(m, unl, r, st, &lg, e) < 0 || dist_allreduce_sum(m->g.grad, m->g.total, e) < 0) return -1;
        if (diverged(lg * P, c->max_loss))
            return error_set(e, "epoch %d, batch %d: generator loss is %g: training diverged", epoch, s + 1, lg * P);
        adam_step_clear(ag, m->pool, m->g.data, m->g.grad);
        m->eff_g = 0;
        if (log && trainlog_batch(log, (size_t)s + 1, (size_t)(s + 1) * B, ld)) return 0;   /* interrupted */
    }
    return drain(src->unl[0], B, r, e) < 0 || drain(src->unl[1], B, r, e) < 0 ? -1 : 0;
}

/* The whole training state after an epoch, for trainctl (a checkpoint that also loads as a model). */
static model_file *state_save(const gan *m, const train_bufs *b, long nlab, long lab_pos, const adam *ad,
                              const adam *ag, const rng *r, error *e)
{
    model_file *f = gan_save(m, e);
    if (!f) return NULL;
    trainctl_put_rng(f, "rng", r);
    trainctl_put_num(f, "lab_pos", (double)lab_pos);
    if (trainctl_put_adam(f, "adam_d", ad, e) || trainctl_put_adam(f, "adam_g", ag, e) ||
        trainctl_put_ints(f, "lab", b->lab, (size_t)nlab, e))
        return model_file_free(f), NULL;
    return f;
}

static int state_load(gan *m, const model_file *f, train_bufs *b, long nlab, long *lab_pos, adam *ad, adam *ag,
                      rng *r, error *e)
{
    double pos;
    if (nn_params_load(&m->d, f, e) || nn_params_load(&m->g, f, e) || nn_params_load(&m->stat, f, e) ||
        (m->a.ema && nn_params_load(&m->avg, f, e)) || trainctl_get_rng(f, "rng", r, e) ||
        trainctl_get_num(f, "lab_pos", &pos, e) || trainctl_get_adam(f, "adam_d", ad, e) ||
        trainctl_get_adam(f, "adam_g", ag, e) || trainctl_get_ints(f, "lab", b->lab, (size_t)nlab, e))
        return -1;
    *lab_pos = (long)pos;
    m->eff_d = m->eff_g = 0;
    refresh_weights(m);
    return 0;
}

static int train_loop(gan *m, const gan_config *c, const gan_source *src, const gan_data *val, trainlog *log,
                      gan_epoch_fn cb, void *ctx, train_bufs *b, adam *ad, adam *ag, error *e)
{
    const gan_arch *a = &m->a;
    const gan_data *in = &src->init;
    rng r;
    rng_seed(&r, c->seed);
    long nlab = list_labelled(m, &src->lab, b->lab, e);
    if (nlab < 0) return -1;
    size_t N = datasource_rows(src->unl[0]);
    int B = c->batch < (int)N ? c->batch : (int)N;
    if (gan_init(m, in->x, in->n, B, &r, e) || share_begin(m, B, e) || adam_init_params(ad, &m->d, e) ||
        adam_init_params(ag, &m->g, e))
        return -1;
    ad->beta1 = ag->beta1 = (float)c->beta1;
    /* the data's own spread, the yardstick of the samples' */
    int ns = in->n >= 2 ? (int)(in->n < SPREAD_ROWS ? in->n : SPREAD_ROWS) : 0;
    for (int i = 0; i < ns; i++) b->perm[i] = (int)rng_below(&r, in->n);
    gather(b->sample, in->x, b->perm, ns, a->features);
    double data_spread = ns == SPREAD_ROWS ? gan_mean_pairwise_dist(b->sample, ns, a->features) : 0;
    int steps = (int)(N / (size_t)B);
    if (log) trainlog_plan(log, c->epochs, (size_t)steps * B, (size_t)steps);
    long lab_pos = nlab;
    trainctl *ctl = log ? log->ctl : NULL;
    int first = trainctl_resume_epoch(ctl) + 1;
    if (ctl && ctl->resume ? trainctl_named(ctl, state_load(m, ctl->resume, b, nlab, &lab_pos, ad, ag, &r, e), e)
                           : ctl && trainctl_epoch_end(ctl, state_save(m, b, nlab, lab_pos, ad, ag, &r, e), 0, e))
        return -1;
    for (int epoch = first; epoch <= c->epochs; epoch++) {
        if (log) trainlog_epoch_begin(log, epoch);
        ad->lr = ag->lr = (float)epoch_lr(c, epoch);
        gan_stats st = {0};
        if (train_epoch(m, c, src, b, nlab, &lab_pos, ad, ag, epoch, &st, log, &r, e)) return -1;
        if (trainlog_stopped(log)) return 0;
        if (reduce_stats(&st, e) || epoch_metrics(m, &st, steps, data_spread, b->sample, val, log, &r, e)) return -1;
        if (log && trainlog_epoch_end(log, e)) return -1;
        if (cb && cb(m, epoch, ctx, e)) return -1;
        if (ctl && trainctl_epoch_end(ctl, state_save(m, b, nlab, lab_pos, ad, ag, &r, e), epoch, e)) return -1;
    }
    if (log) trainlog_finish(log);
    return 0;
}

int gan_train_source(gan *m, const gan_config *c, const gan_source *s, const gan_data *val, trainlog *log,
                     gan_epoch_fn cb, void *ctx, error *e)
{
    size_t N = datasource_rows(s->unl[0]);
    if (N == 0 || s->init.n == 0) return error_set(e, "no rows to train on");
    if (N > (size_t)1 << 30) return error_set(e, "%zu rows: too many", N);
    if (datasource_rows(s->unl[1]) != N) return error_set(e, "the two passes over the rows differ");
    if (c->batch < 1 || c->epochs < 0) return error_set(e, "bad batch size or epoch count");
    if ((c->shift > 0 || c->cons_weight > 0) && (c->img_h < 1 || c->img_w < 1 || (long)c->img_h * c->img_w != m->a.features))
        return error_set(e, "shifts and flips need images: %d x %d pixels for %d features", c->img_h, c->img_w, m->a.features);
    m->cond_weight = (float)c->cond_weight;
    m->unl_weight = (float)c->unl_weight;
    m->ent_weight = (float)c->ent_weight;
    m->cons_weight = (float)c->cons_weight;
    m->cons_shift = c->cons_shift, m->cons_flip = c->cons_flip;
    m->ms_weight = (float)c->ms_weight;
    m->shift = c->shift, m->img_h = c->img_h, m->img_w = c->img_w;
    int B = c->batch < (int)N ? c->batch : (int)N;
    for (int k = 0; k < 2; k++) datasource_shard(s->unl[k], dist_rank(), dist_size());
    train_bufs b = {0};
    b.lab = malloc((s->lab.n ? s->lab.n : 1) * sizeof(int));
    b.perm = malloc((size_t)SPREAD_ROWS * sizeof(int));
    b.idx_lab = malloc((size_t)B * sizeof(int));
    b.sample = malloc((size_t)SPREAD_ROWS * m->a.features * sizeof(float));
    adam ad = {0}, ag = {0};
    int rc = -1;
    if (!b.lab || !b.perm || !b.idx_lab || !b.sample) error_set(e, "out of memory");
    else rc = train_loop(m, c, s, val, log, cb, ctx, &b, &ad, &ag, e);
    memset(&m->share, 0, sizeof m->share);   /* predicting and sampling see every row */
    adam_free(&ad);
    adam_free(&ag);
    bufs_free(&b);
    return rc;
}

int gan_train(gan *m, const gan_config *c, const gan_data *tr, const gan_data *val, trainlog *log,
              gan_epoch_fn cb, void *ctx, error *e)
{
    if (tr->n == 0) return error_set(e, "no rows to train on");
    if (tr->n > (size_t)1 << 30) return error_set(e, "%zu rows: too many", tr->n);
    gan_source s = {*tr, {NULL, NULL}, *tr};
    int rc = -1;
    if ((s.unl[0] = datasource_memory_x(tr->x, tr->n, m->a.features, e)) &&
        (s.unl[1] = datasource_memory_x(tr->x, tr->n, m->a.features, e)))
        rc = gan_train_source(m, c, &s, val, log, cb, ctx, e);
    datasource_free(s.unl[0]);
    datasource_free(s.unl[1]);
    return rc;
}

/* ---- prediction and sampling ---- */

int gan_predict(gan *m, const float *x, size_t n, float *p, error *e)
{
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    m->eff_d = 0;   /* the caller may have changed the parameters */
    if (m->a.ema) swap_avg(m);
    refresh_weights(m);
    int F = m->a.features, K = m->a.classes, R = m->ws->R;
    for (size_t i = 0; i < n; i += (size_t)R) {
        int k = n - i < (size_t)R ? (int)(n - i) : R;
        memcpy(m->ws->in[0], x + i * F, (size_t)k * F * sizeof(float));
        d_forward(m, k, 0, 0, NULL);
        nn_softmax_forward(p + i * K, m->ws->h[m->a.nd], k, K);
    }
    if (m->a.ema) swap_avg(m);
    return 0;
}

int gan_accuracy(gan *m, const gan_data *d, double *acc, error *e)
{
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    int F = m->a.features, K = m->a.classes, R = m->ws->R;
    size_t hit = 0, lab = 0;
    for (size_t i = 0; i < d->n; i += (size_t)R) {
        int k = d->n - i < (size_t)R ? (int)(d->n - i) : R;
        if (gan_predict(m, d->x + i * F, (size_t)k, m->ws->p, e)) return -1;
        for (int r = 0; r < k; r++) {
            int y = d->y ? d->y[i + r] : -1;
            if (y < 0) continue;
            const float *p = m->ws->p + (size_t)r * K;
            int arg = 0;
            for (int c = 1; c < K; c++)
                if (p[c] > p[arg]) arg = c;
            hit += arg == y;
            lab++;
        }
    }
    *acc = lab ? (double)hit / lab : NAN;
    return 0;
}

int gan_sample(gan *m, size_t n, int cls, rng *r, float *x, int32_t *y, error *e)
{
    const gan_arch *a = &m->a;
    if (cls >= a->classes) return error_set(e, "class %d out of range: the model has %d classes", cls, a->classes);
    if (cls >= 0 && !a->conditional) return error_set(e, "class %d asked of a generator that is not conditional", cls);
    if (!m->ws && gan_workspace(m, 100, e)) return -1;
    m->eff_g = 0;
    refresh_weights(m);
    int B = m->ws->B, F = a->features;
    for (size_t i = 0; i < n; i += (size_t)B) {
        int k = n - i < (size_t)B ? (int)(n - i) : B;
        for (int j = 0; j < k; j++) m->ws->ycond[j] = cls >= 0 ? cls : (int32_t)((i + j) % a->classes);
        g_input(m, k, r);
        g_forward(m, k, 0);
        memcpy(x + i * F, m->ws->gx, (size_t)k * F * sizeof(float));
        if (y) memcpy(y + i, m->ws->ycond, (size_t)k * sizeof(int32_t));
    }
    return 0;
}

double gan_mean_pairwise_dist(const float *x, int n, int d)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            const float *a = x + (size_t)i * d, *b = x + (size_t)j * d;
            float ss = 0;
            for (int k = 0; k < d; k++) ss += (a[k] - b[k]) * (a[k] - b[k]);
            sum += sqrt(ss);
        }
    return n >= 2 ? sum / ((double)n * (n - 1) / 2) : 0;
}

/* ---- model files ---- */

static value *int_array(const int *v, int n)
{
    value *a = value_array();
    for (int i = 0; i < n; i++) value_push(a, value_int(v[i]));
    return a;
}

/* info[key] = spec, info[key "_image"] = the image shape (spec_from_info reads them back). */
static void spec_to_info(value *info, const char *key, const char *spec, const gan_arch *a)
{
    char ik[32];
    int img[3] = {a->img_c, a->img_h, a->img_w};
    snprintf(ik, sizeof ik, "%s_image", key);
    value_set(info, key, value_str(spec));
    value_set(info, ik, int_array(img, 3));
}

model_file *gan_save(const gan *m, error *e)
{
    const gan_arch *a = &m->a;
    model_file *f = model_file_new(GAN_KIND);
    if (!f) return error_set(e, "out of memory"), NULL;
    value_set(f->info, "features", value_int(a->features));
    value_set(f->info, "classes", value_int(a->classes));
    value_set(f->info, "d_hidden", int_array(a->d_hidden, a->nd));
    value_set(f->info, "g_hidden", int_array(a->g_hidden, a->ng));
    value_set(f->info, "noise_dim", value_int(a->noise_dim));
    value_set(f->info, "input_noise", value_float(a->input_noise));
    value_set(f->info, "hidden_noise", value_float(a->hidden_noise));
    value_set(f->info, "conditional", value_bool(a->conditional));
    value_set(f->info, "g_output", value_str(nn_act_name(a->g_out)));
    value_set(f->info, "ema", value_bool(a->ema));
    char spec[GAN_MAX_LAYERS * 24 + 48];
    if (a->nc) {   /* only then, so that an MLP D's model keeps its bytes */
        gan_conv_format(a, spec, sizeof spec);
        spec_to_info(f->info, "d_conv", spec, a);
        value_set(f->info, "d_pool", value_bool(a->pool));
    }
    if (a->ngc) {   /* likewise for an MLP G */
        gan_deconv_format(a, spec, sizeof spec);
        spec_to_info(f->info, "g_deconv", spec, a);
    }
    if (nn_params_save(&m->d, f, e) || nn_params_save(&m->g, f, e) || nn_params_save(&m->stat, f, e) ||
        (a->ema && nn_params_save(&m->avg, f, e))) {
        model_file_free(f);
        return NULL;
    }
    return f;
}

/* An int list from info[key] into out (at most GAN_MAX_LAYERS); its length or -1. */
static int info_ints(const value *info, const char *key, int *out, error *e)
{
    const value *v = value_get(info, key);
    if (!v || v->kind != VALUE_ARRAY || v->n > GAN_MAX_LAYERS)
        return error_set(e, "model info: '%s' is missing or not a list of layer sizes", key);
    for (size_t i = 0; i < v->n; i++) out[i] = value_size(v->items[i]);
    return (int)v->n;
}

/* Conv layers from info[key] (a spec parse() reads: "d_conv", "g_deconv") and the image they see
 * or make from info[key "_image"]; nothing when info has no key. */
static int spec_from_info(const value *info, const char *key, int (*parse)(gan_arch *, const char *, error *),
                          gan_arch *a, error *e)
{
    const char *spec = value_get_str(info, key, NULL);
    char ik[32];
    int img[GAN_MAX_LAYERS], k;
    snprintf(ik, sizeof ik, "%s_image", key);
    if (!spec) return 0;
    if (parse(a, spec, e)) return error_prefix(e, "model info");
    if ((k = info_ints(info, ik, img, e)) < 0) return -1;
    if (k != 3) return error_set(e, "model info: '%s' is not [channels, height, width]", ik);
    a->img_c = img[0], a->img_h = img[1], a->img_w = img[2];
    return 0;
}

gan *gan_load(const model_file *f, error *e)
{
    gan_arch a;
    memset(&a, 0, sizeof a);
    const value *info = f->info;
    a.features = value_get_size(info, "features");
    a.classes = value_get_size(info, "classes");
    a.noise_dim = value_get_size(info, "noise_dim");
    a.input_noise = (float)value_get_num(info, "input_noise", 0);
    a.hidden_noise = (float)value_get_num(info, "hidden_noise", 0);
    a.conditional = value_get_num(info, "conditional", 0) != 0;
    a.ema = value_get_num(info, "ema", 0) != 0;
    if ((a.nd = info_ints(info, "d_hidden", a.d_hidden, e)) < 0 || (a.ng = info_ints(info, "g_hidden", a.g_hidden, e)) < 0)
        return NULL;
    if (nn_act_parse(value_get_str(info, "g_output", "sigmoid"), &a.g_out))
        return error_set(e, "model info: unknown g_output"), NULL;
    if (spec_from_info(info, "d_conv", gan_conv_parse, &a, e) || spec_from_info(info, "g_deconv", gan_deconv_parse, &a, e))
        return NULL;
    a.pool = value_get_num(info, "d_pool", 0) != 0;
    gan *m = build(&a, f, e);
    if (!m) return error_prefix(e, "model"), NULL;
    if (nn_params_load(&m->d, f, e) || nn_params_load(&m->g, f, e) || nn_params_load(&m->stat, f, e) ||
        (a.ema && nn_params_load(&m->avg, f, e))) {
        gan_free(m);
        return NULL;
    }
    return m;
}
