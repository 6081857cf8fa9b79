/* augment: pseudo-label selection, generated rows, and the output table of ssl-augment. */
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_CHUNK 1024   /* rows gathered per classifier call */

/* ---- the selection rules ---------------------------------------------------------------------- */

size_t augment_confident(const float *p, size_t n, int K, double threshold, int *label, float *conf)
{
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        const float *pi = p + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (pi[k] > pi[best]) best = k;
        conf[i] = pi[best];
        label[i] = pi[best] >= (float)threshold ? best : -1;   /* in float: p = 0.9f passes 0.9 */
        got += label[i] >= 0;
    }
    return got;
}

size_t augment_class_counts(const int *label, size_t n, int K, size_t *counts)
{
    size_t got = 0;
    memset(counts, 0, (size_t)K * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        if (label[i] >= 0 && label[i] < K) counts[label[i]]++, got++;
    return got;
}

size_t augment_cap_for(const size_t *counts, int K, int balance, size_t per_class)
{
    size_t cap = per_class ? per_class : SIZE_MAX;
    if (balance)
        for (int k = 0; k < K; k++) cap = counts[k] < cap ? counts[k] : cap;
    return cap;
}

typedef struct ranked {
    float conf;
    int label;
    size_t row;
} ranked;

/* By class, then confidence (high first), then row. */
static int cmp_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->label != b->label) return a->label < b->label ? -1 : 1;
    if (a->conf != b->conf) return a->conf > b->conf ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

long augment_cap(int *label, const float *conf, size_t n, int K, size_t cap, error *e)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += label[i] >= 0;
    ranked *r = malloc((m ? m : 1) * sizeof *r);
    if (!r) return error_set(e, "out of memory");
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (label[i] >= 0) r[m++] = (ranked){conf[i], label[i], i};
    qsort(r, m, sizeof *r, cmp_ranked);
    size_t kept = 0, run = 0;
    for (size_t j = 0; j < m; j++) {
        run = j > 0 && r[j].label == r[j - 1].label ? run + 1 : 0;   /* rank within its class */
        if (run >= cap || r[j].label >= K) label[r[j].row] = -1;
        else kept++;
    }
    free(r);
    return (long)kept;
}

long augment_select(const float *p, size_t n, int K, double threshold, int balance, size_t per_class, int *label,
                    size_t *counts, error *e)
{
    float *conf = malloc((n ? n : 1) * sizeof *conf);
    if (!conf) return error_set(e, "out of memory");
    augment_confident(p, n, K, threshold, label, conf);
    augment_class_counts(label, n, K, counts);
    long kept = augment_cap(label, conf, n, K, augment_cap_for(counts, K, balance, per_class), e);
    free(conf);
    if (kept >= 0) augment_class_counts(label, n, K, counts);
    return kept;
}

size_t augment_ratio_rows(double ratio, size_t real)
{
    double r = floor(ratio * (double)real + 0.5);
    return r > 0 ? (size_t)r : 0;
}

/* Row i's exact share of total. */
static double share(size_t total, const size_t *weight, double sum, size_t m, size_t i)
{
    return sum > 0 ? (double)total * (double)weight[i] / sum : (double)total / (double)m;
}

typedef struct share_rem {
    double rem;
    size_t i;
} share_rem;

/* Largest share_rem first, ties to the lower index. */
static int cmp_remainder(const void *pa, const void *pb)
{
    const share_rem *a = pa, *b = pb;
    if (a->rem != b->rem) return a->rem > b->rem ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int augment_shares(size_t total, const size_t *weight, size_t m, size_t *out, error *e)
{
    if (!m) return 0;
    double sum = 0;
    for (size_t i = 0; weight && i < m; i++) sum += (double)weight[i];
    share_rem *r = malloc(m * sizeof *r);
    if (!r) return error_set(e, "out of memory");
    size_t given = 0;
    for (size_t i = 0; i < m; i++) {
        double exact = share(total, weight, sum, m, i);
        given += out[i] = (size_t)floor(exact);
        r[i] = (share_rem){exact - (double)out[i], i};
    }
    qsort(r, m, sizeof *r, cmp_remainder);
    for (size_t j = 0; given < total; j = (j + 1) % m) out[r[j].i]++, given++;   /* fewer than m rows left */
    free(r);
    return 0;
}

size_t augment_filter(const float *p, int *label, size_t n, int K, double threshold)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (label[i] < 0 || label[i] >= K) {
            label[i] = -1;
            continue;
        }
        const float *pi = p + i * (size_t)K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (pi[k] > pi[best]) best = k;
        if (best != label[i] || pi[label[i]] < (float)threshold) label[i] = -1;
        else kept++;
    }
    return kept;
}

augment_diff augment_compare(const int *prev, const int *cur, size_t n)
{
    augment_diff d = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        int a = prev ? prev[i] : -1, b = cur[i];
        if (a < 0 && b >= 0) d.added++;
        else if (a >= 0 && b < 0) d.removed++;
        else if (a >= 0 && a != b) d.relabelled++;
        else if (a >= 0) d.same++;
    }
    return d;
}

/* ---- the stage ---------------------------------------------------------------------------------- */

void augment_opts_default(augment_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.9;
    o->rounds = 1;
    mlp_config_default(&o->round_cfg);
    o->weight = 1;
    o->filter_threshold = 0.5;
}

/* What the stage works on: the columns of t and the row lists. */
typedef struct work {
    stream_table *t;
    int K, F;
    float *x, *w;
    int32_t *y, *origin;
    size_t n, nlab, nunl;
    int *unl, *lab;      /* (nunl) rows with y < 0, (nlab) rows with y >= 0 */
    size_t *lab_counts;  /* (K) labelled rows per class */
} work;

/* p (n, K) for the rows idx (n) of x, gathered in chunks. */
static int predict_rows(classifier *c, const work *wk, const int *idx, size_t n, float *p, error *e)
{
    size_t F = (size_t)wk->F;
    float *buf = malloc(PREDICT_CHUNK * F * sizeof *buf);
    if (!buf) return error_set(e, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += PREDICT_CHUNK) {
        size_t b = n - i < PREDICT_CHUNK ? n - i : PREDICT_CHUNK;
        for (size_t j = 0; j < b; j++) memcpy(buf + j * F, wk->x + (size_t)idx[i + j] * F, F * sizeof *buf);
        rc = classifier_predict(c, buf, b, p + i * (size_t)wk->K, e);
    }
    free(buf);
    return rc;
}

/* p (nunl, K) of the unlabelled rows from the table's own p: f32, K per row, finite, >= 0. */
static int given_rows(const work *wk, float *p, error *e)
{
    int ip = stream_schema_find(wk->t->schema, "p");
    if (ip < 0) return error_set(e, "stream has no tensor 'p' to take pseudo-labels from");
    const float *src = stream_table_col_typed(wk->t, "p", STREAM_F32, e);
    if (!src) return -1;
    size_t K = (size_t)wk->K;
    if (wk->t->schema->fields[ip].width != K)
        return error_set(e, "tensor 'p' has %zu values per row, expected one per class (%zu)", wk->t->schema->fields[ip].width, K);
    for (size_t j = 0; j < wk->nunl; j++)
        for (size_t k = 0; k < K; k++) {
            float v = src[(size_t)wk->unl[j] * K + k];
            if (!(v >= 0 && v <= 1)) return error_set(e, "row %d: p has %g, not a probability", wk->unl[j] + 1, v);
            p[j * K + k] = v;
        }
    return 0;
}

/* A fresh MLP on the labelled rows plus the pseudo rows label (nunl), weighted. */
static classifier *round_model(const work *wk, const augment_opts *o, const int *label, int round, trainlog *log,
                               error *e)
{
    int32_t *y = malloc(wk->n * sizeof *y);
    float *w = malloc(wk->n * sizeof *w);
    mlp *m = NULL;
    classifier *c = NULL;
    if (!y || !w) {
        error_set(e, "out of memory");
        goto done;
    }
    memcpy(y, wk->y, wk->n * sizeof *y);
    memcpy(w, wk->w, wk->n * sizeof *w);
    for (size_t j = 0; j < wk->nunl; j++) {
        y[wk->unl[j]] = label[j];
        w[wk->unl[j]] = o->weight;
    }
    mlp_config cfg = o->round_cfg;
    cfg.seed += (uint64_t)(round - 1);
    mlp_data d = {wk->x, y, w, wk->n};
    mlp_result res;
    if (!(m = mlp_new(wk->F, wk->K, cfg.nhidden, cfg.hidden, cfg.batch_norm, e)) || mlp_train(m, &cfg, &d, NULL, log, &res, e) < 0) {
        error_prefix(e, "round %d", round);
        goto done;
    }
    if ((c = classifier_from_mlp(m, e))) m = NULL;
done:
    mlp_free(m);
    free(y);
    free(w);
    return c;
}

/* Pseudo-labels of the unlabelled rows into label (nunl), over o->rounds rounds. */
static int pseudo_label(const work *wk, const augment_opts *o, int *label, trainlog *log, augment_report *rep,
                        error *e)
{
    size_t K = (size_t)wk->K;
    float *p = malloc((wk->nunl ? wk->nunl : 1) * K * sizeof *p);
    int *prev = malloc((wk->nunl ? wk->nunl : 1) * sizeof *prev);
    size_t *counts = malloc(K * sizeof *counts);
    int rc = -1;
    if (!p || !prev || !counts) {
        error_set(e, "out of memory");
        goto done;
    }
    for (int r = 1; r <= o->rounds; r++) {
        if (r == 1 && o->pseudo_p) {
            if (given_rows(wk, p, e) < 0) goto done;
        } else {
            classifier *c = r == 1 ? o->pseudo : round_model(wk, o, label, r, log, e);
            if (!c) goto done;
            int bad = predict_rows(c, wk, wk->unl, wk->nunl, p, e) < 0;
            if (c != o->pseudo) classifier_free(c);
            if (bad) goto done;
        }
        if (r > 1) memcpy(prev, label, wk->nunl * sizeof *prev);
        long kept = augment_select(p, wk->nunl, wk->K, o->threshold, o->balance, o->per_class, label, counts, e);
        if (kept < 0) goto done;
        augment_round *st = &rep->round[r - 1];
        st->selected = (size_t)kept;
        st->smallest = SIZE_MAX, st->largest = 0;
        for (size_t k = 0; k < K; k++) {
            st->smallest = counts[k] < st->smallest ? counts[k] : st->smallest;
            st->largest = counts[k] > st->largest ? counts[k] : st->largest;
        }
        st->diff = augment_compare(r > 1 ? prev : NULL, label, wk->nunl);
        rep->rounds = r;
    }
    rc = 0;
done:
    free(p);
    free(prev);
    free(counts);
    return rc;
}

/* The generated rows: xg (ng, F) and their labels yg (ng; -1 = dropped by the filter). */
typedef struct gen_rows {
    float *x;
    int *y;
    size_t n;
} gen_rows;

static int gen_alloc(gen_rows *g, size_t n, int F, error *e)
{
    g->n = n;
    g->x = malloc((n ? n : 1) * (size_t)F * sizeof *g->x);
    g->y = malloc((n ? n : 1) * sizeof *g->y);
    return g->x && g->y ? 0 : error_set(e, "out of memory");
}

/* Rows per class of a conditional generator: per_class (default: as many as the real labelled
 * rows of the class), or the class's share of ratio * labelled rows. */
static int class_rows(const work *wk, const augment_opts *o, size_t *n, error *e)
{
    if (o->ratio > 0) return augment_shares(augment_ratio_rows(o->ratio, wk->nlab), wk->lab_counts, (size_t)wk->K, n, e);
    for (int k = 0; k < wk->K; k++) n[k] = o->per_class ? o->per_class : wk->lab_counts[k];
    return 0;
}

/* Class-conditional samples (M2, conditional GAN), class after class. */
static int gen_conditional(const work *wk, const augment_opts *o, rng *r, gen_rows *g, error *e)
{
    size_t K = (size_t)wk->K, *n = malloc(K * sizeof *n), total = 0;
    if (!n) return error_set(e, "out of memory");
    int rc = class_rows(wk, o, n, e);
    for (size_t k = 0; k < K; k++) total += n[k];
    if (rc == 0) rc = gen_alloc(g, total, wk->F, e);
    for (size_t k = 0, at = 0; k < K && rc == 0; at += n[k], k++) {
        rc = generator_sample_class(o->gen, n[k], (int)k, r, g->x + at * (size_t)wk->F, e);
        for (size_t i = 0; i < n[k]; i++) g->y[at + i] = (int)k;
    }
    free(n);
    return rc;
}

/* M1 latent jitter: copies of each labelled row (per_row, or equal shares of ratio * labelled),
 * each decoded from its own perturbed code; the copies keep the row's label. */
static int gen_jitter(const work *wk, const augment_opts *o, rng *r, gen_rows *g, error *e)
{
    size_t L = wk->nlab, F = (size_t)wk->F, total = 0;
    size_t *copies = malloc((L ? L : 1) * sizeof *copies);
    if (!copies) return error_set(e, "out of memory");
    int rc = 0;
    if (o->ratio > 0) rc = augment_shares(augment_ratio_rows(o->ratio, L), NULL, L, copies, e);
    else
        for (size_t i = 0; i < L; i++) copies[i] = o->per_row ? o->per_row : 1;
    for (size_t i = 0; i < L; i++) total += copies[i];
    if (rc == 0) rc = gen_alloc(g, total, wk->F, e);
    for (size_t i = 0, at = 0; i < L && rc == 0; i++)
        for (size_t c = 0; c < copies[i]; c++, at++) {
            memcpy(g->x + at * F, wk->x + (size_t)wk->lab[i] * F, F * sizeof *g->x);
            g->y[at] = wk->y[wk->lab[i]];
        }
    if (rc == 0) rc = generator_jitter(o->gen, g->x, total, (float)o->jitter, r, g->x, e);
    free(copies);
    return rc;
}

/* Unconditional samples (M1, unconditional G) labelled by the labeller's argmax: per_class * K
 * rows (default: as many as the labelled rows), or ratio * labelled rows. */
static int gen_labelled_by(const work *wk, const augment_opts *o, rng *r, gen_rows *g, error *e)
{
    size_t n = o->ratio > 0 ? augment_ratio_rows(o->ratio, wk->nlab)
               : o->per_class ? o->per_class * (size_t)wk->K : wk->nlab;
    float *p = malloc((n ? n : 1) * (size_t)wk->K * sizeof *p), *conf = malloc((n ? n : 1) * sizeof *conf);
    int rc = p && conf ? gen_alloc(g, n, wk->F, e) : error_set(e, "out of memory");
    if (rc == 0) rc = generator_sample(o->gen, n, r, g->x, e);
    if (rc == 0) rc = classifier_predict(o->labeller, g->x, n, p, e);
    if (rc == 0) augment_confident(p, n, wk->K, 0, g->y, conf);
    free(p);
    free(conf);
    return rc;
}

/* Generated rows, then the filter (dropped rows get y = -1). */
static int generate(const work *wk, const augment_opts *o, rng *r, gen_rows *g, augment_report *rep, error *e)
{
    int rc;
    if (o->jitter > 0) rc = gen_jitter(wk, o, r, g, e);
    else if (generator_classes(o->gen)) rc = gen_conditional(wk, o, r, g, e);
    else if (o->labeller) rc = gen_labelled_by(wk, o, r, g, e);
    else rc = error_set(e, "the %s model is not class-conditional: its rows need a labeller", generator_kind(o->gen));
    if (rc < 0) return -1;
    rep->generated = g->n;
    if (!o->filter) return 0;
    float *p = malloc((g->n ? g->n : 1) * (size_t)wk->K * sizeof *p);
    if (!p) return error_set(e, "out of memory");
    rc = classifier_predict(o->filter, g->x, g->n, p, e);
    if (rc == 0) rep->generated = augment_filter(p, g->y, g->n, wk->K, o->filter_threshold);
    rep->filtered = g->n - rep->generated;
    free(p);
    return rc;
}

/* ---- the output table --------------------------------------------------------------------------- */

/* The column name of t with a scalar of type dt, added (filled with fill) when absent. */
static void *scalar_col(stream_table *t, const char *name, stream_dtype dt, double fill, error *e)
{
    int i = stream_schema_find(t->schema, name);
    if (i >= 0 && t->schema->fields[i].width != 1)
        return error_set(e, "tensor '%s' has %zu values per row, expected 1", name, t->schema->fields[i].width), NULL;
    if (i >= 0) return stream_table_col_typed(t, name, dt, e);
    if (stream_table_add_col(t, name, dt, 0, NULL, e) < 0) return NULL;
    void *c = stream_table_col(t, name);
    for (size_t r = 0; r < t->nrows; r++)
        if (dt == STREAM_F32) ((float *)c)[r] = (float)fill;
        else ((int32_t *)c)[r] = (int32_t)fill;
    return c;
}

/* Binds the columns and row lists of t. */
static int work_init(work *wk, stream_table *t, int K, error *e)
{
    memset(wk, 0, sizeof *wk);
    wk->t = t, wk->K = K, wk->n = t->nrows;
    int ix = stream_schema_find(t->schema, "x");
    if (ix < 0) return error_set(e, "stream has no tensor 'x' (features)");
    if (stream_schema_find(t->schema, "y") < 0) return error_set(e, "stream has no tensor 'y' (labels)");
    wk->F = (int)t->schema->fields[ix].width;
    if (!(wk->x = stream_table_col_typed(t, "x", STREAM_F32, e)) || !(wk->y = scalar_col(t, "y", STREAM_I32, -1, e)) ||
        !(wk->w = scalar_col(t, "w", STREAM_F32, 1, e)) || !(wk->origin = scalar_col(t, "origin", STREAM_I32, 0, e)))
        return -1;
    wk->unl = malloc((wk->n ? wk->n : 1) * sizeof *wk->unl);
    wk->lab = malloc((wk->n ? wk->n : 1) * sizeof *wk->lab);
    wk->lab_counts = calloc((size_t)K, sizeof *wk->lab_counts);
    if (!wk->unl || !wk->lab || !wk->lab_counts) return error_set(e, "out of memory");
    for (size_t i = 0; i < wk->n; i++) {
        int y = wk->y[i];
        if (y >= K) return error_set(e, "row %zu: label %d >= the %d classes", i + 1, y, K);
        if (y < 0) wk->unl[wk->nunl++] = (int)i;
        else wk->lab[wk->nlab++] = (int)i, wk->lab_counts[y]++;
    }
    if (!wk->nlab) return error_set(e, "no labelled rows (every y is -1): nothing to augment");
    return 0;
}

static void work_free(work *wk)
{
    free(wk->unl);
    free(wk->lab);
    free(wk->lab_counts);
}

/* Keeps the labelled, pseudo-labelled (label (nunl)) and, if asked, unlabelled rows in input order. */
static int keep_rows(work *wk, const augment_opts *o, const int *label, augment_report *rep, error *e)
{
    int *keep = malloc((wk->n ? wk->n : 1) * sizeof *keep);
    if (!keep) return error_set(e, "out of memory");
    for (size_t j = 0; label && j < wk->nunl; j++) {
        if (label[j] < 0) continue;
        size_t i = (size_t)wk->unl[j];
        wk->y[i] = label[j], wk->origin[i] = AUGMENT_PSEUDO, wk->w[i] = o->weight;
        rep->pseudo++;
    }
    size_t m = 0;
    for (size_t i = 0; i < wk->n; i++) {
        if (wk->y[i] < 0 && !o->keep_unlabelled) continue;
        rep->unlabelled_kept += wk->y[i] < 0;
        keep[m++] = (int)i;
    }
    int rc = stream_table_select(wk->t, keep, m, e);
    free(keep);
    return rc;
}

/* Appends the generated rows that passed the filter. */
static int append_generated(stream_table *t, const gen_rows *g, float weight, error *e)
{
    size_t n0 = t->nrows, m = 0, F = t->schema->fields[stream_schema_find(t->schema, "x")].width;
    for (size_t i = 0; i < g->n; i++) m += g->y[i] >= 0;
    if (stream_table_resize(t, n0 + m, e) < 0) return -1;
    float *x = stream_table_col(t, "x"), *w = stream_table_col(t, "w");
    int32_t *y = stream_table_col(t, "y"), *origin = stream_table_col(t, "origin");
    int iid = stream_schema_find(t->schema, "id");
    int64_t *id = iid >= 0 && t->schema->fields[iid].dtype == STREAM_I64 && t->schema->fields[iid].width == 1
                      ? stream_table_col(t, "id") : NULL;
    for (size_t i = 0, r = n0; i < g->n; i++) {
        if (g->y[i] < 0) continue;
        memcpy(x + r * F, g->x + i * F, F * sizeof *x);
        y[r] = g->y[i], w[r] = weight, origin[r] = AUGMENT_GENERATED;
        if (id) id[r] = -1;
        r++;
    }
    return 0;
}

/* meta: origin_names and a summary of what was done. */
static void set_meta(stream_table *t, const augment_opts *o, const augment_report *rep)
{
    static const char *const origins[] = {"real", "generated", "pseudo"};
    value *meta = t->schema->meta;
    value_set(meta, AUGMENT_META_ORIGINS, value_str_array(origins, 3));
    value *a = value_map();
    value_set(a, "labelled", value_int((int64_t)rep->labelled));
    value_set(a, "pseudo", value_int((int64_t)rep->pseudo));
    value_set(a, "generated", value_int((int64_t)rep->generated));
    value_set(a, "filtered", value_int((int64_t)rep->filtered));
    value_set(a, "unlabelled_kept", value_int((int64_t)rep->unlabelled_kept));
    if (o->pseudo || o->pseudo_p) {
        if (o->pseudo_p) value_set(a, "pseudo_from", value_str("p"));
        value_set(a, "threshold", value_float(o->threshold));
        value_set(a, "rounds", value_int(o->rounds));
        value_set(a, "balance", value_bool(o->balance));
    }
    value_set(a, "weight", value_float(o->weight));
    value_set(a, "seed", value_int((int64_t)o->seed));
    value_set(meta, "augment", a);
}

int augment_run(stream_table *t, int K, const augment_opts *o, trainlog *log, augment_report *rep, error *e)
{
    memset(rep, 0, sizeof *rep);
    if (!(o->threshold > 0 && o->threshold <= 1)) return error_set(e, "threshold %g is outside (0, 1]", o->threshold);
    if (o->rounds < 1 || o->rounds > AUGMENT_MAX_ROUNDS)
        return error_set(e, "rounds %d is outside [1, %d]", o->rounds, AUGMENT_MAX_ROUNDS);
    work wk;
    int *label = NULL, rc = -1;
    gen_rows g = {0};
    rng root;
    rng_seed(&root, o->seed);
    rng gen_rng = rng_split(&root);
    if (work_init(&wk, t, K, e) < 0) goto done;
    rep->labelled = wk.nlab, rep->unlabelled = wk.nunl;
    if (o->pseudo || o->pseudo_p) {
        if (!(label = malloc((wk.nunl ? wk.nunl : 1) * sizeof *label))) {
            error_set(e, "out of memory");
            goto done;
        }
        if (pseudo_label(&wk, o, label, log, rep, e) < 0) goto done;
    }
    /* generated from the real labelled rows only, before the pseudo labels are written into y */
    if (o->gen && generate(&wk, o, &gen_rng, &g, rep, e) < 0) goto done;
    if (keep_rows(&wk, o, label, rep, e) < 0 || append_generated(t, &g, o->weight, e) < 0) goto done;
    set_meta(t, o, rep);
    rc = 0;
done:
    work_free(&wk);
    free(label);
    free(g.x);
    free(g.y);
    return rc;
}
