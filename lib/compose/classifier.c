/* classifier: one predict interface over the MLP, M2 and SSL-GAN models. */
#include "classifier.h"

#include <stdlib.h>
#include <string.h>

#include "gan.h"
#include "m2.h"

#define CLASSIFIER_CHUNK 256   /* rows per M2 call (its workspace holds CHUNK * K expanded rows) */

typedef enum { CLS_MLP, CLS_M2, CLS_GAN } cls_kind;

struct classifier {
    cls_kind kind;
    mlp *mlp;
    m2 m2;
    gan *gan;
    value *names;   /* class_names from the model's info, or NULL */
};

static classifier *alloc_classifier(cls_kind kind, const model_file *f, error *e)
{
    classifier *c = calloc(1, sizeof *c);
    if (!c) return error_set(e, "out of memory"), NULL;
    c->kind = kind;
    const value *cn = f ? value_get(f->info, "class_names") : NULL;
    if (cn && cn->kind == VALUE_ARRAY) c->names = value_copy(cn);
    return c;
}

classifier *classifier_from_model(const model_file *f, error *e)
{
    classifier *c = NULL;
    if (strcmp(f->kind, MLP_KIND) == 0) {
        mlp *m = mlp_load(f, e);
        if (m && (c = alloc_classifier(CLS_MLP, f, e))) c->mlp = m;
        else mlp_free(m);
    } else if (strcmp(f->kind, "m2") == 0) {
        if (!(c = alloc_classifier(CLS_M2, f, e))) return NULL;
        if (m2_load(&c->m2, f, 0, CLASSIFIER_CHUNK, e) < 0) {
            value_free(c->names);
            free(c);
            return NULL;
        }
    } else if (strcmp(f->kind, GAN_KIND) == 0) {
        gan *g = gan_load(f, e);
        if (g && (c = alloc_classifier(CLS_GAN, f, e))) c->gan = g;
        else gan_free(g);
    } else if (strcmp(f->kind, "vae") == 0) {
        error_set(e, "a model of kind 'vae' (M1) cannot classify: give an mlp, m2 or gan model");
    } else {
        error_set(e, "a model of kind '%s' cannot classify: give an mlp, m2 or gan model", f->kind);
    }
    return c;
}

classifier *classifier_load(const char *path, error *e)
{
    model_file *f = model_file_load(path, NULL, e);
    if (!f) return NULL;
    classifier *c = classifier_from_model(f, e);
    model_file_free(f);
    if (!c) error_prefix(e, "%s", path);
    return c;
}

classifier *classifier_from_mlp(mlp *m, error *e)
{
    classifier *c = alloc_classifier(CLS_MLP, NULL, e);
    if (c) c->mlp = m;
    return c;
}

void classifier_free(classifier *c)
{
    if (!c) return;
    if (c->kind == CLS_MLP) mlp_free(c->mlp);
    else if (c->kind == CLS_M2) m2_free(&c->m2);
    else gan_free(c->gan);
    value_free(c->names);
    free(c);
}

const char *classifier_kind(const classifier *c)
{
    static const char *const names[] = {MLP_KIND, "m2", GAN_KIND};
    return names[c->kind];
}

int classifier_features(const classifier *c)
{
    switch (c->kind) {
    case CLS_MLP: return mlp_features(c->mlp);
    case CLS_M2: return c->m2.a.in;
    default: return c->gan->a.features;
    }
}

int classifier_classes(const classifier *c)
{
    switch (c->kind) {
    case CLS_MLP: return mlp_classes(c->mlp);
    case CLS_M2: return c->m2.K;
    default: return c->gan->a.classes;
    }
}

const value *classifier_class_names(const classifier *c) { return c->names; }

int classifier_predict(classifier *c, const float *x, size_t n, float *p, error *e)
{
    if (c->kind == CLS_MLP) return mlp_predict(c->mlp, x, n, p, e);
    if (c->kind == CLS_GAN) return gan_predict(c->gan, x, n, p, e);
    size_t F = (size_t)c->m2.a.in, K = (size_t)c->m2.K;
    for (size_t i = 0; i < n; i += CLASSIFIER_CHUNK) {
        int b = (int)(n - i < CLASSIFIER_CHUNK ? n - i : CLASSIFIER_CHUNK);
        m2_predict(&c->m2, x + i * F, b, p + i * K);
    }
    return 0;
}
