#include "results.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Running mean and sum of squared deviations (Welford), so no run is kept in memory. */
typedef struct running {
    long n;
    double mean, m2;
} running;

typedef struct group {
    char *label[RESULTS_MAX_KEYS];   /* the key values as text, "-" when absent */
    value *keyval[RESULTS_MAX_KEYS]; /* the key values as first seen (NULL when absent) */
    long runs;
    running metric[RESULTS_MAX_METRICS];
    running seconds;
} group;

struct results {
    int nkeys, nmetrics;
    char *keys[RESULTS_MAX_KEYS], *metrics[RESULTS_MAX_METRICS];
    group *groups;
    size_t ngroups, cap;
    int any_seconds;
};

static void running_add(running *s, double x)
{
    s->n++;
    double d = x - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (x - s->mean);
}

/* Sample standard deviation (n - 1 in the denominator); NaN for fewer than two values. */
static double running_std(const running *s) { return s->n > 1 ? sqrt(s->m2 / (double)(s->n - 1)) : NAN; }

results *results_new(const char *const *keys, int nkeys, const char *const *metrics, int nmetrics, error *e)
{
    if (nkeys < 0 || nkeys > RESULTS_MAX_KEYS || nmetrics < 1 || nmetrics > RESULTS_MAX_METRICS) {
        error_set(e, "need 0 to %d grouping keys and 1 to %d metrics", RESULTS_MAX_KEYS, RESULTS_MAX_METRICS);
        return NULL;
    }
    results *r = calloc(1, sizeof *r);
    r->nkeys = nkeys;
    r->nmetrics = nmetrics;
    for (int i = 0; i < nkeys; i++) r->keys[i] = strdup(keys[i]);
    for (int i = 0; i < nmetrics; i++) r->metrics[i] = strdup(metrics[i]);
    return r;
}

void results_free(results *r)
{
    if (!r) return;
    for (size_t g = 0; g < r->ngroups; g++)
        for (int i = 0; i < r->nkeys; i++) {
            free(r->groups[g].label[i]);
            value_free(r->groups[g].keyval[i]);
        }
    for (int i = 0; i < r->nkeys; i++) free(r->keys[i]);
    for (int i = 0; i < r->nmetrics; i++) free(r->metrics[i]);
    free(r->groups);
    free(r);
}

/* The text of a key value for grouping and display; -1 for values that cannot be a key. */
static int key_text(const value *v, char *buf, size_t size)
{
    if (!v || v->kind == VALUE_NIL) snprintf(buf, size, "-");
    else if (v->kind == VALUE_STR) snprintf(buf, size, "%s", v->s);
    else if (v->kind == VALUE_INT) snprintf(buf, size, "%" PRId64, v->i);
    else if (v->kind == VALUE_FLOAT) snprintf(buf, size, "%g", v->f);
    else if (v->kind == VALUE_BOOL) snprintf(buf, size, "%s", v->b ? "true" : "false");
    else return -1;
    return 0;
}

static int is_number(const value *v) { return v && (v->kind == VALUE_INT || v->kind == VALUE_FLOAT); }

static group *find_group(results *r, char labels[][256])
{
    for (size_t g = 0; g < r->ngroups; g++) {
        int same = 1;
        for (int i = 0; same && i < r->nkeys; i++) same = strcmp(r->groups[g].label[i], labels[i]) == 0;
        if (same) return &r->groups[g];
    }
    return NULL;
}

static group *new_group(results *r, const value *run, char labels[][256])
{
    if (r->ngroups == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->groups = realloc(r->groups, r->cap * sizeof *r->groups);
    }
    group *g = &r->groups[r->ngroups++];
    memset(g, 0, sizeof *g);
    for (int i = 0; i < r->nkeys; i++) {
        const value *kv = value_get(run, r->keys[i]);
        g->label[i] = strdup(labels[i]);
        g->keyval[i] = kv ? value_copy(kv) : NULL;
    }
    return g;
}

int results_add(results *r, const value *run, error *e)
{
    if (!run || run->kind != VALUE_MAP) return error_set(e, "a run must be a JSON object");
    char labels[RESULTS_MAX_KEYS][256];
    for (int i = 0; i < r->nkeys; i++)
        if (key_text(value_get(run, r->keys[i]), labels[i], sizeof labels[i]))
            return error_set(e, "field '%s' is not a string or number", r->keys[i]);
    for (int i = 0; i < r->nmetrics; i++) {
        const value *m = value_get(run, r->metrics[i]);
        if (!is_number(m)) return error_set(e, "%s field '%s'", m ? "non-numeric" : "no", r->metrics[i]);
        if (!isfinite(value_num(m))) return error_set(e, "field '%s' is not a finite number", r->metrics[i]);
    }
    const value *secs = value_get(run, "seconds");
    if (secs && !is_number(secs)) return error_set(e, "non-numeric field 'seconds'");
    group *g = find_group(r, labels);
    if (!g) g = new_group(r, run, labels);
    g->runs++;
    for (int i = 0; i < r->nmetrics; i++) running_add(&g->metric[i], value_num(value_get(run, r->metrics[i])));
    if (secs) {
        running_add(&g->seconds, value_num(secs));
        r->any_seconds = 1;
    }
    return 0;
}

static value *num_or_null(double x) { return isfinite(x) ? value_float(x) : value_nil(); }

value *results_to_value(const results *r)
{
    value *table = value_array();
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const group *g = &r->groups[gi];
        value *row = value_map();
        for (int i = 0; i < r->nkeys; i++)
            value_set(row, r->keys[i], g->keyval[i] ? value_copy(g->keyval[i]) : value_nil());
        value_set(row, "runs", value_int(g->runs));
        for (int i = 0; i < r->nmetrics; i++) {
            value *s = value_map();
            value_set(s, "mean", value_float(g->metric[i].mean));
            value_set(s, "std", num_or_null(running_std(&g->metric[i])));
            value_set(row, r->metrics[i], s);
        }
        if (r->any_seconds) value_set(row, "seconds", g->seconds.n ? value_float(g->seconds.mean) : value_nil());
        value_push(table, row);
    }
    return table;
}

static int is_loss(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, "loss") == 0;
}

static void print_stat(FILE *f, const running *s, int percent)
{
    double scale = percent ? 100.0 : 1.0, sd = running_std(s);
    int prec = percent ? 1 : 3;
    fprintf(f, " %.*f", prec, s->mean * scale);
    if (isfinite(sd)) fprintf(f, " ± %.*f", prec, sd * scale);
    fprintf(f, " |");
}

void results_print_md(FILE *f, const results *r)
{
    fprintf(f, "|");
    for (int i = 0; i < r->nkeys; i++) fprintf(f, " %s |", r->keys[i]);
    fprintf(f, " runs |");
    for (int i = 0; i < r->nmetrics; i++) fprintf(f, " %s%s |", r->metrics[i], is_loss(r->metrics[i]) ? "" : " (%)");
    if (r->any_seconds) fprintf(f, " seconds |");
    fprintf(f, "\n|");
    for (int i = 0; i < r->nkeys; i++) fprintf(f, "---|");
    fprintf(f, "---:|");
    for (int i = 0; i < r->nmetrics; i++) fprintf(f, "---:|");
    if (r->any_seconds) fprintf(f, "---:|");
    fputc('\n', f);
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const group *g = &r->groups[gi];
        fprintf(f, "|");
        for (int i = 0; i < r->nkeys; i++) fprintf(f, " %s |", g->label[i]);
        fprintf(f, " %ld |", g->runs);
        for (int i = 0; i < r->nmetrics; i++) print_stat(f, &g->metric[i], !is_loss(r->metrics[i]));
        if (r->any_seconds) {
            if (g->seconds.n) fprintf(f, " %.1f |", g->seconds.mean);
            else fprintf(f, " - |");
        }
        fputc('\n', f);
    }
}
