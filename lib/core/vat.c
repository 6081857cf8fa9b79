#include "vat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

void vat_config_default(vat_config *c)
{
    c->eps = 0;
    c->xi = VAT_XI;
    c->iters = 1;
    c->entmin = 0;
    c->fixmatch = 0;
    c->threshold = VAT_THRESHOLD;
    memset(&c->views, 0, sizeof c->views);
}

void vat_config_put(const vat_config *c, value *map, int options)
{
    if (c->eps > 0) {
        value_set(map, options ? "vat" : "vat_eps", value_float(c->eps));
        value_set(map, options ? "vat-xi" : "vat_xi", value_float(c->xi));
        value_set(map, options ? "vat-iterations" : "vat_iterations", value_int(c->iters));
    }
    if (c->entmin > 0) value_set(map, "entmin", value_float(c->entmin));
    if (c->fixmatch > 0) {
        value_set(map, "fixmatch", value_float(c->fixmatch));
        value_set(map, options ? "fixmatch-threshold" : "fixmatch_threshold", value_float(c->threshold));
        value_set(map, "cutout", value_int(c->views.cutout));
        value_set(map, "jitter", value_float(c->views.jitter));
    }
}

int vat_ws_alloc(vat_ws *w, int cap, int features, int classes, error *e)
{
    memset(w, 0, sizeof *w);
    w->cap = cap, w->F = features, w->K = classes;
    size_t pk = (size_t)cap * classes, pf = (size_t)cap * features;
    w->p = malloc(pk * sizeof(float));
    w->q = malloc(pk * sizeof(float));
    w->r = malloc(pf * sizeof(float));
    w->xr = malloc(pf * sizeof(float));
    w->label = malloc((size_t)cap * sizeof(int));
    if (!w->p || !w->q || !w->r || !w->xr || !w->label)
        return vat_ws_free(w), error_set(e, "out of memory for the VAT buffers");
    return 0;
}

void vat_ws_free(vat_ws *w)
{
    free(w->p), free(w->q), free(w->r), free(w->xr), free(w->label);
    memset(w, 0, sizeof *w);
}

/* log-sum-exp of a row of logits (K), with the max subtracted */
static double log_sum_exp(const float *l, int K)
{
    float mx = l[0];
    for (int k = 1; k < K; k++) mx = l[k] > mx ? l[k] : mx;
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)(l[k] - mx));
    return (double)mx + log(s);
}

/* Each row of r (B, F) scaled to unit length (divided by its largest magnitude first, so that the
 * squares neither overflow nor underflow); a zero row stays zero. */
static void normalise_rows(float *r, int B, int F)
{
    for (int i = 0; i < B; i++) {
        float *v = r + (size_t)i * F, big = 0;
        for (int j = 0; j < F; j++) big = fabsf(v[j]) > big ? fabsf(v[j]) : big;
        if (big == 0) continue;
        double sq = 0;
        for (int j = 0; j < F; j++) sq += (double)(v[j] / big) * (v[j] / big);
        float s = (float)(1.0 / ((double)big * sqrt(sq)));
        for (int j = 0; j < F; j++) v[j] *= s;
    }
}

/* xr = x + a r, (n) */
static void add_scaled(float *xr, const float *x, const float *r, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) xr[i] = x[i] + a * r[i];
}

void vat_direction(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B)
{
    size_t nk = (size_t)B * n->classes, nf = (size_t)B * n->features;
    for (int it = 0; it < c->iters; it++) {
        normalise_rows(w->r, B, n->features);
        add_scaled(w->xr, x, w->r, (float)c->xi, nf);
        nn_softmax_forward(w->q, n->forward(n->ctx, w->xr, B), B, n->classes);
        /* d KL(p || q) / d logits = q - p; its scale does not matter to the direction */
        for (size_t j = 0; j < nk; j++) w->q[j] -= w->p[j];
        n->backward(n->ctx, w->q, w->r, 0);
    }
    normalise_rows(w->r, B, n->features);
}

/* p(x) into w->p; with entmin, adds scale * entmin * d mean H / d params. Returns sum_i H_i. */
static double clean_pass(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, float scale)
{
    int K = n->classes;
    const float *logits = n->forward(n->ctx, x, B);
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K;
        float *p = w->p + (size_t)i * K, *d = w->q + (size_t)i * K;
        double lse = log_sum_exp(l, K), h = 0;
        for (int k = 0; k < K; k++) {
            double logp = (double)l[k] - lse;
            p[k] = (float)exp(logp);
            h -= (double)p[k] * logp;
        }
        /* dH / dlogit_k = -p_k (log p_k + H), needed only with an entropy term */
        for (int k = 0; k < K && c->entmin > 0; k++)
            d[k] = (float)(-(double)p[k] * ((double)l[k] - lse + h) * c->entmin * scale / B);
        total += h;
    }
    if (c->entmin > 0) n->backward(n->ctx, w->q, NULL, 1);
    return total;
}

/* The VAT term at x + r_adv (w->r the unit direction): adds scale * d mean KL / d params; returns
 * sum_i KL_i. */
static double adversarial_pass(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, float scale)
{
    int K = n->classes;
    add_scaled(w->xr, x, w->r, (float)c->eps, (size_t)B * n->features);
    const float *logits = n->forward(n->ctx, w->xr, B);
    double total = 0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K, *p = w->p + (size_t)i * K;
        float *d = w->q + (size_t)i * K;
        double lse = log_sum_exp(l, K);
        for (int k = 0; k < K; k++) {
            double logq = (double)l[k] - lse;
            if (p[k] > 0) total += (double)p[k] * (log((double)p[k]) - logq);
            d[k] = (float)((exp(logq) - (double)p[k]) * scale / B);   /* d KL / d logit_k = q_k - p_k */
        }
    }
    n->backward(n->ctx, w->q, NULL, 1);
    return total;
}

/* FixMatch's pseudo-labels: the argmax of each row's weak view where its probability reaches the
 * threshold, else -1, into w->label. */
static void pseudo_labels(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, rng *r)
{
    int K = n->classes;
    image_views weak = c->views;
    weak.cutout = 0, weak.jitter = 0;
    image_draw_views(&weak, w->xr, x, B, n->features, r);
    const float *logits = n->forward(n->ctx, w->xr, B);
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K;
        int top = 0;
        for (int k = 1; k < K; k++) top = l[k] > l[top] ? k : top;
        double p_top = exp((double)l[top] - log_sum_exp(l, K));
        w->label[i] = p_top >= c->threshold ? top : -1;
    }
}

/* The FixMatch term on the strong views (into w->xr) of the rows with a pseudo-label: adds scale *
 * d (fixmatch mean CE) / d params; returns sum_i of the rows' cross-entropies. */
static double pseudo_label_pass(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, float scale,
                                rng *r)
{
    int K = n->classes, confident = 0;
    pseudo_labels(n, c, w, x, B, r);
    image_draw_views(&c->views, w->xr, x, B, n->features, r);
    for (int i = 0; i < B; i++) confident += w->label[i] >= 0;
    if (!confident) return 0;
    const float *logits = n->forward(n->ctx, w->xr, B);
    double total = 0;
    float a = (float)(c->fixmatch * scale / B);
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * K;
        float *d = w->q + (size_t)i * K;
        int y = w->label[i];
        double lse = log_sum_exp(l, K);
        for (int k = 0; k < K; k++)   /* d CE / d logit_k = p_k - [k = y] */
            d[k] = y < 0 ? 0.0f : (float)(exp((double)l[k] - lse) - (k == y)) * a;
        if (y >= 0) total += lse - (double)l[y];
    }
    n->backward(n->ctx, w->q, NULL, 1);
    return total;
}

double vat_loss(const vat_net *n, const vat_config *c, vat_ws *w, const float *x, int B, float scale, rng *r)
{
    double h = 0, kl = 0, ce = 0;
    if (c->eps > 0 || c->entmin > 0) h = clean_pass(n, c, w, x, B, scale);
    if (c->eps > 0) {
        rng_fill_normal(r, w->r, (size_t)B * n->features);
        vat_direction(n, c, w, x, B);
        kl = adversarial_pass(n, c, w, x, B, scale);
    }
    if (c->fixmatch > 0) ce = pseudo_label_pass(n, c, w, x, B, scale, r);
    return (kl + c->entmin * h + c->fixmatch * ce) / B;
}
