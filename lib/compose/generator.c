/* generator: sampling and latent jitter over M2, M1 and the GAN's generator. */
#include "generator.h"

#include <stdlib.h>
#include <string.h>

#include "gan.h"
#include "m2.h"
#include "vae.h"

#define GENERATOR_CHUNK 256   /* rows per decoder call */

typedef enum { GEN_M2, GEN_VAE, GEN_GAN } gen_kind;

struct generator {
    gen_kind kind;
    m2 m2;
    vae vae;
    gan *gan;
    int latent;     /* Z of M1/M2 */
    float *z;       /* (CHUNK, latent) */
    int *cls;       /* (CHUNK) */
};

static int alloc_work(generator *g, int latent, error *e)
{
    g->latent = latent;
    g->z = malloc((size_t)GENERATOR_CHUNK * latent * sizeof(float));
    g->cls = malloc(GENERATOR_CHUNK * sizeof(int));
    return g->z && g->cls ? 0 : error_set(e, "out of memory");
}

generator *generator_from_model(const model_file *f, error *e)
{
    generator *g = calloc(1, sizeof *g);
    if (!g) return error_set(e, "out of memory"), NULL;
    int bad;
    if (strcmp(f->kind, "m2") == 0) {
        g->kind = GEN_M2;
        /* max_unl = CHUNK gives room for CHUNK * K decoder rows */
        bad = m2_load(&g->m2, f, 0, GENERATOR_CHUNK, e) < 0;
        if (!bad && alloc_work(g, g->m2.a.latent, e) < 0) m2_free(&g->m2), bad = 1;
    } else if (strcmp(f->kind, "vae") == 0) {
        g->kind = GEN_VAE;
        bad = vae_load(&g->vae, f, GENERATOR_CHUNK, e) < 0;
        if (!bad && alloc_work(g, g->vae.a.latent, e) < 0) vae_free(&g->vae), bad = 1;
    } else if (strcmp(f->kind, GAN_KIND) == 0) {
        g->kind = GEN_GAN;
        bad = !(g->gan = gan_load(f, e));
    } else {
        bad = error_set(e, "a model of kind '%s' cannot generate rows: give an m2, vae (M1) or gan model", f->kind);
    }
    if (bad) {
        free(g->z);
        free(g->cls);
        free(g);
        return NULL;
    }
    return g;
}

generator *generator_load(const char *path, error *e)
{
    model_file *f = model_file_load(path, NULL, e);
    if (!f) return NULL;
    generator *g = generator_from_model(f, e);
    model_file_free(f);
    if (!g) error_prefix(e, "%s", path);
    return g;
}

void generator_free(generator *g)
{
    if (!g) return;
    if (g->kind == GEN_M2) m2_free(&g->m2);
    else if (g->kind == GEN_VAE) vae_free(&g->vae);
    else gan_free(g->gan);
    free(g->z);
    free(g->cls);
    free(g);
}

const char *generator_kind(const generator *g)
{
    static const char *const names[] = {"m2", "vae", GAN_KIND};
    return names[g->kind];
}

int generator_features(const generator *g)
{
    switch (g->kind) {
    case GEN_M2: return g->m2.a.in;
    case GEN_VAE: return g->vae.a.in;
    default: return g->gan->a.features;
    }
}

int generator_classes(const generator *g)
{
    switch (g->kind) {
    case GEN_M2: return g->m2.K;
    case GEN_VAE: return 0;
    default: return g->gan->a.conditional ? g->gan->a.classes : 0;
    }
}

int generator_can_jitter(const generator *g) { return g->kind == GEN_VAE; }

/* z ~ N(0, I) decoded, chunk by chunk; cls < 0 for M1. */
static void decode_prior(generator *g, size_t n, int cls, rng *r, float *x)
{
    size_t F = (size_t)generator_features(g);
    for (size_t i = 0; i < n; i += GENERATOR_CHUNK) {
        int b = (int)(n - i < GENERATOR_CHUNK ? n - i : GENERATOR_CHUNK);
        rng_fill_normal(r, g->z, (size_t)b * g->latent);
        if (cls < 0) {
            vae_decode(&g->vae, g->z, b, x + i * F);
            continue;
        }
        for (int j = 0; j < b; j++) g->cls[j] = cls;
        m2_decode(&g->m2, g->z, g->cls, b, x + i * F);
    }
}

int generator_sample_class(generator *g, size_t n, int cls, rng *r, float *x, error *e)
{
    int K = generator_classes(g);
    if (!K) return error_set(e, "the %s model is not class-conditional", generator_kind(g));
    if (cls < 0 || cls >= K) return error_set(e, "class %d out of range: the model has %d classes", cls, K);
    if (g->kind == GEN_GAN) return gan_sample(g->gan, n, cls, r, x, NULL, e);
    decode_prior(g, n, cls, r, x);
    return 0;
}

int generator_sample(generator *g, size_t n, rng *r, float *x, error *e)
{
    if (g->kind == GEN_M2 || (g->kind == GEN_GAN && g->gan->a.conditional))
        return error_set(e, "the %s model is class-conditional: sample by class", generator_kind(g));
    if (g->kind == GEN_GAN) return gan_sample(g->gan, n, -1, r, x, NULL, e);
    decode_prior(g, n, -1, r, x);
    return 0;
}

int generator_jitter(generator *g, const float *x, size_t n, float s, rng *r, float *out, error *e)
{
    if (g->kind != GEN_VAE) return error_set(e, "latent jitter needs an M1 model (kind 'vae'), not '%s'", generator_kind(g));
    size_t F = (size_t)g->vae.a.in, Z = (size_t)g->latent;
    for (size_t i = 0; i < n; i += GENERATOR_CHUNK) {
        int b = (int)(n - i < GENERATOR_CHUNK ? n - i : GENERATOR_CHUNK);
        vae_encode(&g->vae, x + i * F, b, g->z);
        for (size_t j = 0; j < (size_t)b * Z; j++) g->z[j] += s * rng_normal(r);
        vae_decode(&g->vae, g->z, b, out + i * F);
    }
    return 0;
}
