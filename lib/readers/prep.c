#include "prep.h"
#include "names.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether s is a decimal number as CSV files write them: [spaces][sign]digits[.digits][e[sign]digits],
 * or "inf"/"nan" words (which strtod takes, and the caller refuses as not finite); not hexadecimal. */
static int decimal_text(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '+' || *s == '-') s++;
    if (*s == 'i' || *s == 'I' || *s == 'n' || *s == 'N') return 1;
    size_t digits = 0;
    while (isdigit((unsigned char)*s)) s++, digits++;
    if (*s == '.') s++;
    while (isdigit((unsigned char)*s)) s++, digits++;
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == '\0';
}

int prep_parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    if (!decimal_text(s)) return -1;
    double v = strtod(s, &end);
    if (end == s || *end) return -1;
    if (!isfinite(v)) return -2;
    *out = v;
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int prep_impute(float *x, size_t n, size_t d, size_t col, prep_impute_method m, error *e)
{
    float *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!vals) return error_set(e, "out of memory");
    size_t k = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i * d + col];
        if (!isnan(v)) {
            vals[k++] = v;
            sum += v;
        }
    }
    if (k == 0) {
        free(vals);
        return error_set(e, "no value to impute from");
    }
    float fill;
    if (m == PREP_IMPUTE_MEDIAN) {
        qsort(vals, k, sizeof *vals, cmp_float);
        fill = k % 2 ? vals[k / 2] : (float)(0.5 * ((double)vals[k / 2 - 1] + vals[k / 2]));
    } else {
        fill = (float)(sum / (double)k);
    }
    free(vals);
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i * d + col])) x[i * d + col] = fill;
    return 0;
}

/* ---- scaling ---- */

static const char *const scale_names[] = {"none", "minmax", "standard", NULL};

const char *prep_scale_name(prep_scale_method m) { return scale_names[m]; }

int prep_scale_parse(const char *s, prep_scale_method *m)
{
    int i = names_find(scale_names, s);
    if (i >= 0) *m = (prep_scale_method)i;
    return i < 0 ? -1 : 0;
}

int prep_colstats_init(prep_colstats *s, size_t d, error *e)
{
    memset(s, 0, sizeof *s);
    s->d = d;
    s->min = malloc((d ? d : 1) * sizeof(double));
    s->max = malloc((d ? d : 1) * sizeof(double));
    s->mean = calloc(d ? d : 1, sizeof(double));
    s->m2 = calloc(d ? d : 1, sizeof(double));
    if (!s->min || !s->max || !s->mean || !s->m2) {
        prep_colstats_free(s);
        return error_set(e, "out of memory");
    }
    for (size_t j = 0; j < d; j++) {
        s->min[j] = INFINITY;
        s->max[j] = -INFINITY;
    }
    return 0;
}

void prep_colstats_free(prep_colstats *s)
{
    free(s->min);
    free(s->max);
    free(s->mean);
    free(s->m2);
    memset(s, 0, sizeof *s);
}

int prep_colstats_add(prep_colstats *s, const float *x, size_t rows, size_t *bad_row)
{
    for (size_t i = 0; i < rows; i++) {
        const float *row = x + i * s->d;
        for (size_t j = 0; j < s->d; j++)
            if (!isfinite(row[j])) {
                if (bad_row) *bad_row = i;
                return -1;
            }
        double inv = 1.0 / (double)++s->n;
        for (size_t j = 0; j < s->d; j++) {
            double v = row[j], delta = v - s->mean[j];
            s->mean[j] += delta * inv;
            s->m2[j] += delta * (v - s->mean[j]);
            if (v < s->min[j]) s->min[j] = v;
            if (v > s->max[j]) s->max[j] = v;
        }
    }
    return 0;
}

int prep_scaler_init(prep_scaler *sc, prep_scale_method m, size_t d, const float *shift, const float *scale, error *e)
{
    sc->method = m;
    sc->d = d;
    sc->shift = malloc((d ? d : 1) * sizeof(float));
    sc->scale = malloc((d ? d : 1) * sizeof(float));
    if (!sc->shift || !sc->scale) {
        prep_scaler_free(sc);
        return error_set(e, "out of memory");
    }
    for (size_t j = 0; j < d; j++) {
        sc->shift[j] = shift ? shift[j] : 0.0f;
        sc->scale[j] = scale ? scale[j] : 1.0f;
    }
    return 0;
}

int prep_scaler_fit(prep_scaler *sc, prep_scale_method m, const prep_colstats *s, error *e)
{
    if (s->n == 0) return error_set(e, "no rows to fit scaling statistics on");
    if (prep_scaler_init(sc, m, s->d, NULL, NULL, e)) return -1;
    for (size_t j = 0; j < s->d; j++) {
        double shift = 0, scale = 1;
        if (m == PREP_SCALE_MINMAX) {
            shift = s->min[j];
            scale = s->max[j] - s->min[j];
        } else if (m == PREP_SCALE_STANDARD) {
            shift = s->mean[j];
            scale = sqrt(s->m2[j] / (double)s->n);
        }
        sc->shift[j] = (float)shift;
        /* constant features: divide by 1, not by (nearly) 0 */
        sc->scale[j] = (float)scale > 0 ? (float)scale : 1.0f;
    }
    return 0;
}

void prep_scaler_free(prep_scaler *sc)
{
    free(sc->shift);
    free(sc->scale);
    sc->shift = sc->scale = NULL;
}

void prep_scaler_apply(const prep_scaler *sc, float *x, size_t rows)
{
    size_t d = sc->d;
    for (size_t i = 0; i < rows; i++) {
        float *row = x + i * d;
        for (size_t j = 0; j < d; j++) row[j] = (row[j] - sc->shift[j]) / sc->scale[j];
    }
}

void prep_scaler_range(const prep_scaler *sc, const prep_colstats *s, float *lo, float *hi)
{
    /* the map is increasing per feature (scale > 0) and float rounding keeps it monotone,
     * so the extremes of the scaled data are the scaled extremes */
    float l = INFINITY, h = -INFINITY;
    for (size_t j = 0; j < sc->d; j++) {
        float a = ((float)s->min[j] - sc->shift[j]) / sc->scale[j];
        float b = ((float)s->max[j] - sc->shift[j]) / sc->scale[j];
        if (a < l) l = a;
        if (b > h) h = b;
    }
    *lo = l;
    *hi = h;
}

/* ---- splitting and masking ---- */

void prep_apportion(const size_t *counts, size_t ngroups, size_t total, size_t *pick)
{
    size_t sum = 0, given = 0;
    for (size_t g = 0; g < ngroups; g++) sum += counts[g];
    if (sum == 0) {
        memset(pick, 0, ngroups * sizeof *pick);
        return;
    }
    for (size_t g = 0; g < ngroups; g++) {
        pick[g] = (size_t)((double)counts[g] * (double)total / (double)sum);
        if (pick[g] > counts[g]) pick[g] = counts[g];
        given += pick[g];
    }
    /* hand out the rest, one each, largest remainder first, ties to the lower index */
    while (given < total) {
        size_t best = ngroups;
        double best_rem = -1;
        for (size_t g = 0; g < ngroups; g++) {
            if (pick[g] >= counts[g]) continue;
            double rem = (double)counts[g] * (double)total / (double)sum - (double)pick[g];
            if (rem > best_rem) {
                best_rem = rem;
                best = g;
            }
        }
        if (best == ngroups) break;
        pick[best]++;
        given++;
    }
}

/* Rows grouped by class: members of group g are idx[first[g] .. first[g+1]).
 * Group 0 holds the unlabelled rows (y < 0), group c+1 class c, for classes 0..k-1. */
typedef struct groups {
    size_t ngroups;
    size_t *first;    /* ngroups + 1 */
    size_t *count;    /* ngroups */
    int *idx;         /* n */
} groups;

static void groups_free(groups *g)
{
    free(g->first);
    free(g->count);
    free(g->idx);
}

static int groups_make(groups *g, const int32_t *y, size_t n, int k, error *e)
{
    g->ngroups = (size_t)k + 1;
    g->first = calloc(g->ngroups + 1, sizeof *g->first);
    g->count = calloc(g->ngroups, sizeof *g->count);
    g->idx = malloc((n ? n : 1) * sizeof *g->idx);
    if (!g->first || !g->count || !g->idx) {
        groups_free(g);
        return error_set(e, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= k || y[i] < -1) {
            groups_free(g);
            return error_set(e, "row %zu: label %d is not one of the %d classes", i + 1, (int)y[i], k);
        }
        g->count[y[i] < 0 ? 0 : (size_t)y[i] + 1]++;
    }
    for (size_t c = 0; c < g->ngroups; c++) g->first[c + 1] = g->first[c] + g->count[c];
    size_t *fill = calloc(g->ngroups, sizeof *fill);
    if (!fill) {
        groups_free(g);
        return error_set(e, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t c = y[i] < 0 ? 0 : (size_t)y[i] + 1;
        g->idx[g->first[c] + fill[c]++] = (int)i;
    }
    free(fill);
    return 0;
}

static int max_label(const int32_t *y, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] + 1 > k) k = y[i] + 1;
    return k;
}

/* Marks (flag[row] = 1) a seeded random choice of pick[c] members of every group c. */
static void choose(const groups *g, const size_t *pick, rng *r, uint8_t *flag)
{
    for (size_t c = 0; c < g->ngroups; c++) {
        int *m = g->idx + g->first[c];
        rng_shuffle(r, m, g->count[c]);
        for (size_t i = 0; i < pick[c]; i++) flag[m[i]] = 1;
    }
}

int prep_split(const int32_t *y, size_t n, double test, rng *r, uint8_t *is_test, error *e)
{
    size_t ntest = (size_t)ceil(test * (double)n);
    if (ntest == 0 || ntest >= n)
        return error_set(e, "a test fraction of %g of %zu rows leaves an empty %s split", test, n,
                         ntest == 0 ? "test" : "training");
    groups g;
    if (groups_make(&g, y, n, max_label(y, n), e)) return -1;
    size_t *pick = malloc(g.ngroups * sizeof *pick);
    if (!pick) {
        groups_free(&g);
        return error_set(e, "out of memory");
    }
    prep_apportion(g.count, g.ngroups, ntest, pick);
    memset(is_test, 0, n);
    choose(&g, pick, r, is_test);
    free(pick);
    groups_free(&g);
    return 0;
}

/* Keeps pick[c+1] labels of each class c, chosen by the seed; the other labels become -1. */
static long keep_labels(int32_t *y, size_t n, const groups *g, size_t *pick, rng *r, error *e)
{
    uint8_t *keep = calloc(n ? n : 1, 1);
    if (!keep) return error_set(e, "out of memory");
    pick[0] = 0;
    choose(g, pick, r, keep);
    long kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) y[i] = -1;
        kept += keep[i];
    }
    free(keep);
    return kept;
}

typedef struct per_class_arg {
    long L;
    char *const *names;
} per_class_arg;

static int quota_per_class(const groups *g, size_t *pick, rng *r, const void *arg, error *e)
{
    (void)r;
    const per_class_arg *a = arg;
    for (size_t c = 1; c < g->ngroups; c++) {
        if (g->count[c] < (size_t)a->L) {
            /* a class name is shown when it says more than the index */
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", c - 1);
            const char *name = a->names && strcmp(a->names[c - 1], idx) != 0 ? a->names[c - 1] : NULL;
            return error_set(e, "class %s%s%s%s has %zu labelled rows, fewer than --labels-per-class %ld", idx,
                             name ? " (" : "", name ? name : "", name ? ")" : "", g->count[c], a->L);
        }
        pick[c] = (size_t)a->L;
    }
    return 0;
}

static int quota_count(const groups *g, size_t *pick, rng *r, const void *arg, error *e)
{
    size_t want = (size_t)*(const long *)arg, labelled = 0;
    for (size_t c = 1; c < g->ngroups; c++) labelled += g->count[c];
    if (want > labelled) return error_set(e, "%zu labels asked for, the data has %zu", want, labelled);
    memset(pick, 0, g->ngroups * sizeof *pick);
    int *open = malloc(g->ngroups * sizeof *open);
    if (!open) return error_set(e, "out of memory");
    /* water filling: equal shares among the classes that still have rows to give */
    while (want > 0) {
        size_t nopen = 0;
        for (size_t c = 1; c < g->ngroups; c++)
            if (pick[c] < g->count[c]) open[nopen++] = (int)c;
        size_t share = want / nopen;
        if (share == 0) {
            /* fewer labels left than classes: the seed decides which classes get one more */
            rng_shuffle(r, open, nopen);
            for (size_t i = 0; i < want; i++) pick[open[i]]++;
            break;
        }
        for (size_t i = 0; i < nopen; i++) {
            size_t add = g->count[open[i]] - pick[open[i]];
            if (add > share) add = share;
            pick[open[i]] += add;
            want -= add;
        }
    }
    free(open);
    return 0;
}

static int quota_fraction(const groups *g, size_t *pick, rng *r, const void *arg, error *e)
{
    (void)r;
    (void)e;
    double f = *(const double *)arg;
    size_t labelled = 0;
    for (size_t c = 1; c < g->ngroups; c++) labelled += g->count[c];
    pick[0] = 0;
    prep_apportion(g->count + 1, g->ngroups - 1, (size_t)llround(f * (double)labelled), pick + 1);
    return 0;
}

/* Groups the rows by class (k <= 0: classes 0..max(y)), asks quota for the labels to keep per
 * class, and keeps them. */
static long mask(int32_t *y, size_t n, int k, rng *r, error *e,
                 int (*quota)(const groups *, size_t *, rng *, const void *, error *), const void *arg)
{
    if (k <= 0) k = max_label(y, n);
    groups g;
    if (groups_make(&g, y, n, k, e)) return -1;
    size_t *pick = calloc(g.ngroups, sizeof *pick);
    long kept = !pick ? error_set(e, "out of memory")
              : quota(&g, pick, r, arg, e) ? -1
              : keep_labels(y, n, &g, pick, r, e);
    free(pick);
    groups_free(&g);
    return kept;
}

long prep_mask_per_class(int32_t *y, size_t n, int k, long L, rng *r, char *const *class_names, error *e)
{
    per_class_arg a = {L, class_names};
    return mask(y, n, k, r, e, quota_per_class, &a);
}

long prep_mask_count(int32_t *y, size_t n, int k, long N, rng *r, error *e)
{
    return mask(y, n, k, r, e, quota_count, &N);
}

long prep_mask_fraction(int32_t *y, size_t n, int k, double f, rng *r, error *e)
{
    return mask(y, n, k, r, e, quota_fraction, &f);
}
