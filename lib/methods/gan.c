/* gan.c: the semi-supervised GAN's architecture, parameter tables, workspace and weight averages. */
#include "gan_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "params.h"

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
    vat_config_default(&c->vat);
}

int gan_conv_parse(gan_arch *a, const char *spec, error *e)
{
    return conv_spec_parse(a->conv, &a->nc, spec, e) ? error_prefix(e, "--d-conv") : 0;
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
    if (conv_spec_parse(a->gconv, &a->ngc, spec + used + 1, e))
        return error_prefix(e, "--g-deconv: after %dx%dx%d", g[0], g[1], g[2]);
    return 0;
}

void gan_conv_format(const gan_arch *a, char *buf, size_t size)
{
    conv_spec_format(a->conv, a->nc, buf, size);
}

void gan_deconv_format(const gan_arch *a, char *buf, size_t size)
{
    buf[0] = 0;
    if (!a->ngc) return;
    int k = snprintf(buf, size, "%dx%dx%d,", a->g_seed[0], a->g_seed[1], a->g_seed[2]);
    if (k > 0 && (size_t)k < size) conv_spec_format(a->gconv, a->ngc, buf + k, size - (size_t)k);
}

/* ---- layer widths and tensor indices (tables are registered in a fixed order) ---- */

/* The shapes of D's conv layers from the image (img_c, img_h, img_w); -1 with e set when a layer's
 * input is smaller than its kernel (the spec is too deep for the image). */
static int conv_plan(const gan_arch *a, conv_shape *cs, error *e)
{
    int C = a->img_c, H = a->img_h, W = a->img_w;
    if (a->nc && (C < 1 || H < 1 || W < 1 || (long)C * H * W != a->features))
        return error_set(e, "--d-conv: images of %d x %d x %d values, but rows of %d features", C, H, W, a->features);
    return conv_spec_plan(cs, a->conv, a->nc, C, H, W, e) ? error_prefix(e, "--d-conv") : 0;
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
    if (vat_active(&m->vat)) {   /* the VAT and entropy passes over a step's 2B labelled and unlabelled rows */
        size_t V = 2 * B, F = (size_t)a->features, K = (size_t)a->classes;
        w->vat = (vat_ws){(int)V, a->features, a->classes, carve(base, &off, V * K), carve(base, &off, V * K),
                          carve(base, &off, V * F), carve(base, &off, V * F), NULL};   /* no FixMatch in D */
        w->vx = carve(base, &off, V * F);
    }
    return off;
}

static void ws_free(gan_ws *w)
{
    if (!w) return;
    free(w->block);
    free(w->ylab);
    free(w);
}

int gan_workspace(gan *m, int B, error *e)
{
    if (m->ws && m->ws_batch == B && m->ws->R == gan_d_parts(m) * B && (m->ws->vat.cap > 0) == vat_active(&m->vat))
        return 0;
    ws_free(m->ws);
    m->ws = NULL;
    gan_ws *w = calloc(1, sizeof *w);
    if (!w) return error_set(e, "out of memory");
    w->B = B;
    w->R = gan_d_parts(m) * B;
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
gan *gan_build(const gan_arch *a, const model_file *from, error *e)
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

gan *gan_new(const gan_arch *a, error *e) { return gan_build(a, NULL, e); }

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
void gan_refresh_weights(gan *m)
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
void gan_swap_avg(gan *m)
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
