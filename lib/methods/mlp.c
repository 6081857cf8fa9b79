/* mlp.c: the classifier's construction, initial weights, row checks and model files. */
#include "mlp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

void mlp_config_default(mlp_config *c)
{
    memset(c, 0, sizeof *c);
    c->nhidden = 2;
    c->hidden[0] = 128;
    c->hidden[1] = 64;
    c->epochs = 200;
    c->batch = 200;
    c->lr = 1e-3;
    c->alpha = 1e-4;
    c->dropout = 0.0;
    c->patience = 10;
    c->tol = 1e-4;
    c->seed = 0;
    vat_config_default(&c->vat);
}

/* ---- the network ---- */

/* Batch normalisation's tensors "<prefix>.{gamma,beta,mean,var}" of width units: scale, shift and
 * the running averages, their indices into idx[0..4). */
static int add_batch_norm(mlp *m, const char *prefix, int width, int *const idx[4], error *e)
{
    int64_t dims[1] = {width};
    const char *what[4] = {"gamma", "beta", "mean", "var"};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.%s", prefix, what[i]);
        if ((*idx[i] = nn_params_add(&m->params, name, 1, dims, 0, e)) < 0) return -1;
    }
    return 0;
}

/* The conv layers' shapes and tensors; sizes[0] becomes the dense layers' input width. */
static int add_conv(mlp *m, const mlp_conv *cv, int features, int batch_norm, error *e)
{
    if (cv->n > MLP_MAX_CONV) return error_set(e, "%d conv layers (at most %d)", cv->n, MLP_MAX_CONV);
    if (cv->c < 1 || cv->h < 1 || cv->w < 1 || (long)cv->c * cv->h * cv->w != features)
        return error_set(e, "conv layers on %d x %d x %d images, but rows of %d features", cv->c, cv->h, cv->w,
                         features);
    if (conv_spec_plan(m->cs, cv->layer, cv->n, cv->c, cv->h, cv->w, e)) return -1;
    m->conv = *cv;
    for (int j = 0; j < cv->n; j++) {
        const conv_shape *s = &m->cs[j];
        char name[32];
        int64_t dw[2] = {s->K, conv_patch(s)}, db[1] = {s->K};
        snprintf(name, sizeof name, "conv%d.w", j + 1);
        if ((m->icw[j] = nn_params_add(&m->params, name, 2, dw, 1, e)) < 0) return -1;
        snprintf(name, sizeof name, "conv%d.b", j + 1);
        if ((m->icb[j] = nn_params_add(&m->params, name, 1, db, 0, e)) < 0) return -1;
        snprintf(name, sizeof name, "conv%d", j + 1);
        int *bn[4] = {&m->icbn[j][0], &m->icbn[j][1], &m->icbn[j][2], &m->icbn[j][3]};
        if (batch_norm && add_batch_norm(m, name, s->K, bn, e) < 0) return -1;
    }
    const conv_shape *last = &m->cs[cv->n - 1];
    m->sizes[0] = cv->pool ? last->K : (int)conv_out_size(last);
    return 0;
}

/* The dense layers' tensors "layer<l>.{w,b}" and, for hidden ones with batch norm, "bn<l>.*". */
static int add_dense(mlp *m, int batch_norm, error *e)
{
    for (int l = 1; l <= m->nlayers; l++) {
        char name[32];
        int64_t dw[2] = {m->sizes[l], m->sizes[l - 1]}, db[1] = {m->sizes[l]};
        if (dw[0] < 1) return error_set(e, "hidden layer %d has no units", l);
        snprintf(name, sizeof name, "layer%d.w", l);
        m->iw[l - 1] = nn_params_add(&m->params, name, 2, dw, 1, e);
        snprintf(name, sizeof name, "layer%d.b", l);
        m->ib[l - 1] = nn_params_add(&m->params, name, 1, db, 0, e);
        if (m->iw[l - 1] < 0 || m->ib[l - 1] < 0) return -1;
        snprintf(name, sizeof name, "bn%d", l);
        int *bn[4] = {&m->igamma[l], &m->ibeta[l], &m->imean[l], &m->ivar[l]};
        if (batch_norm && l < m->nlayers && add_batch_norm(m, name, m->sizes[l], bn, e) < 0) return -1;
    }
    return 0;
}

/* mlp_new_conv; with from, its parameters must be in that file (nn_params_check) before they are
 * allocated. */
static mlp *build(int features, int classes, const mlp_conv *cv, int nhidden, const int *hidden, int batch_norm,
                  const model_file *from, error *e)
{
    if (features < 1) return error_set(e, "the data has no features"), NULL;
    if (classes < 2) return error_set(e, "need at least 2 classes, got %d", classes), NULL;
    if (nhidden < 0 || nhidden > MLP_MAX_HIDDEN)
        return error_set(e, "%d hidden layers (at most %d)", nhidden, MLP_MAX_HIDDEN), NULL;
    int nconv = cv ? cv->n : 0;
    mlp *m = calloc(1, sizeof *m);
    if (!m) return error_set(e, "out of memory"), NULL;
    m->features = features;
    m->nlayers = nhidden + 1;
    m->sizes[0] = features;
    for (int l = 0; l < nhidden; l++) m->sizes[l + 1] = hidden[l];
    m->sizes[m->nlayers] = classes;
    m->batch_norm = batch_norm && (nhidden > 0 || nconv > 0);
    nn_params_init(&m->params);
    if ((nconv && add_conv(m, cv, features, m->batch_norm, e) < 0) || add_dense(m, m->batch_norm, e) < 0 ||
        (from && nn_params_check(&m->params, from, e) < 0) || nn_params_alloc(&m->params, e) < 0)
        return mlp_free(m), NULL;
    return m;
}

mlp *mlp_new(int features, int classes, int nhidden, const int *hidden, int batch_norm, error *e)
{
    return build(features, classes, NULL, nhidden, hidden, batch_norm, NULL, e);
}

mlp *mlp_new_conv(int features, int classes, const mlp_conv *conv, int nhidden, const int *hidden, int batch_norm,
                  error *e)
{
    return build(features, classes, conv, nhidden, hidden, batch_norm, NULL, e);
}

void mlp_free(mlp *m)
{
    if (!m) return;
    nn_params_free(&m->params);
    free(m);
}

/* gamma and the running variance 1, the rest 0 */
static void init_batch_norm(nn_params *P, const int idx[4], int width)
{
    for (int j = 0; j < width; j++) {
        nn_data(P, idx[0])[j] = nn_data(P, idx[3])[j] = 1.0f;
        nn_data(P, idx[1])[j] = nn_data(P, idx[2])[j] = 0.0f;
    }
}

void mlp_init_weights(mlp *m, rng *r)
{
    nn_params *P = &m->params;
    for (int j = 0; j < m->conv.n; j++) {   /* a kernel as a dense layer from its patch to its channels */
        const conv_shape *s = &m->cs[j];
        nn_dense_init_glorot(nn_data(P, m->icw[j]), nn_data(P, m->icb[j]), conv_patch(s), s->K, 1.0f, 1, r);
        if (m->batch_norm) init_batch_norm(P, m->icbn[j], s->K);
    }
    for (int l = 0; l < m->nlayers; l++)
        nn_dense_init_glorot(nn_data(P, m->iw[l]), nn_data(P, m->ib[l]), m->sizes[l], m->sizes[l + 1], 1.0f, 1, r);
    for (int l = 1; l < m->nlayers && m->batch_norm; l++) {
        const int idx[4] = {m->igamma[l], m->ibeta[l], m->imean[l], m->ivar[l]};
        init_batch_norm(P, idx, m->sizes[l]);
    }
}

int mlp_check_rows(const mlp_data *d, int K, size_t row0, size_t *nlab, error *e)
{
    *nlab = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->y[i] >= K || d->y[i] < -1)
            return error_set(e, "row %zu: label %d, but the model has %d classes (0..%d)", row0 + i + 1, d->y[i], K, K - 1);
        if (d->y[i] < 0) continue;
        if (d->w && !(d->w[i] >= 0 && isfinite(d->w[i])))
            return error_set(e, "row %zu: weight %g is not a finite non-negative number", row0 + i + 1, d->w[i]);
        (*nlab)++;
    }
    if (*nlab > (size_t)INT32_MAX) return error_set(e, "too many rows");
    return 0;
}

/* ---- model files ---- */

static value *int_array(const int *v, int n)
{
    value *a = value_array();
    for (int i = 0; i < n; i++) value_push(a, value_int(v[i]));
    return a;
}

static void put_conv(value *info, const mlp_conv *cv)
{
    char spec[256];
    conv_spec_format(cv->layer, cv->n, spec, sizeof spec);
    value_set(info, "conv", value_str(spec));
    value_set(info, "conv_image", int_array((const int[3]){cv->c, cv->h, cv->w}, 3));
    value_set(info, "conv_pool", value_bool(cv->pool));
}

static value *hyper_info(const mlp_config *c)
{
    value *h = value_map();
    value_set(h, "epochs", value_int(c->epochs));
    value_set(h, "batch", value_int(c->batch));
    value_set(h, "lr", value_float(c->lr));
    value_set(h, "weight_decay", value_float(c->alpha));
    value_set(h, "dropout", value_float(c->dropout));
    if (c->shift > 0) value_set(h, "shift", value_int(c->shift));
    if (c->flip) value_set(h, "flip", value_bool(1));
    if (c->lr_decay_start > 0) value_set(h, "lr_decay_start", value_int(c->lr_decay_start));
    if (c->vat.eps > 0) {
        value_set(h, "vat_eps", value_float(c->vat.eps));
        value_set(h, "vat_xi", value_float(c->vat.xi));
        value_set(h, "vat_iterations", value_int(c->vat.iters));
    }
    if (c->vat.entmin > 0) value_set(h, "entropy_weight", value_float(c->vat.entmin));
    if (c->vat.fixmatch > 0) {
        value_set(h, "fixmatch", value_float(c->vat.fixmatch));
        value_set(h, "fixmatch_threshold", value_float(c->vat.threshold));
        value_set(h, "cutout", value_int(c->vat.views.cutout));
        value_set(h, "jitter", value_float(c->vat.views.jitter));
    }
    if (vat_active(&c->vat)) value_set(h, "unlabelled_batch", value_int(c->ubatch > 0 ? c->ubatch : c->batch));
    value_set(h, "patience", value_int(c->patience));
    value_set(h, "tol", value_float(c->tol));
    value_set(h, "optimizer", value_str("adam"));
    return h;
}

model_file *mlp_save(const mlp *m, const mlp_config *c, const mlp_result *r, const value *meta, error *e)
{
    model_file *f = model_file_new(MLP_KIND);
    if (!f) return error_set(e, "out of memory"), NULL;
    value *info = f->info;
    value_set(info, "features", value_int(mlp_features(m)));
    value_set(info, "classes", value_int(mlp_classes(m)));
    if (m->conv.n) put_conv(info, &m->conv);
    value_set(info, "hidden", int_array(m->sizes + 1, m->nlayers - 1));
    value_set(info, "activation", value_str("relu"));
    if (m->batch_norm) value_set(info, "batch_norm", value_bool(1));
    value_set(info, "output", value_str("softmax"));
    if (c) value_set(info, "hyper", hyper_info(c));
    if (c && r) {
        value *t = value_map();
        value_set(t, "seed", value_int((int64_t)c->seed));
        value_set(t, "epochs_run", value_int(r->epochs_run));
        value_set(t, "best_epoch", value_int(r->best_epoch));
        value_set(t, "rows", value_int((int64_t)r->rows));
        value_set(t, "final_loss", value_float(r->final_loss));
        if (isfinite(r->best_val_accuracy)) value_set(t, "val_accuracy", value_float(r->best_val_accuracy));
        value_set(info, "training", t);
    }
    const char *keys[2] = {STREAM_META_CLASSES, STREAM_META_FEATURES};
    for (int i = 0; i < 2; i++) {
        const value *v = meta ? value_get(meta, keys[i]) : NULL;
        if (v && v->kind == VALUE_ARRAY) value_set(info, keys[i], value_copy(v));
    }
    if (nn_params_save(&m->params, f, e) < 0) return model_file_free(f), NULL;
    return f;
}

/* The conv layers of info into cv (cv->n = 0 for a model without them). */
static int get_conv(const value *info, mlp_conv *cv, error *e)
{
    memset(cv, 0, sizeof *cv);
    const char *spec = value_get_str(info, "conv", NULL);
    if (!spec) return 0;
    if (conv_spec_parse(cv->layer, &cv->n, spec, e)) return error_prefix(e, "model info: conv");
    const value *im = value_get(info, "conv_image");
    if (!im || im->kind != VALUE_ARRAY || im->n != 3)
        return error_set(e, "model info: conv_image is not [channels, height, width]");
    cv->c = value_size(im->items[0]), cv->h = value_size(im->items[1]), cv->w = value_size(im->items[2]);
    cv->pool = value_get_num(info, "conv_pool", 0) != 0;
    return 0;
}

mlp *mlp_load(const model_file *f, error *e)
{
    const value *info = f->info;
    int F = value_get_size(info, "features"), K = value_get_size(info, "classes");
    const value *h = value_get(info, "hidden");
    if (F < 1 || K < 2 || !h || h->kind != VALUE_ARRAY || h->n > MLP_MAX_HIDDEN)
        return error_set(e, "model info lacks a valid architecture (features, classes, hidden)"), NULL;
    int hidden[MLP_MAX_HIDDEN];
    for (size_t i = 0; i < h->n; i++) {
        hidden[i] = value_size(h->items[i]);
        if (hidden[i] < 1) return error_set(e, "model info has a bad hidden layer size"), NULL;
    }
    mlp_conv cv;
    if (get_conv(info, &cv, e) < 0) return NULL;
    const value *bn = value_get(info, "batch_norm");
    mlp *m = build(F, K, &cv, (int)h->n, hidden, bn && bn->kind == VALUE_BOOL && bn->b, f, e);
    if (!m) return NULL;
    if (nn_params_load(&m->params, f, e) < 0) return mlp_free(m), NULL;
    return m;
}
