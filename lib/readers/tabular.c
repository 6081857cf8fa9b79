#include "tabular.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INT_LABEL 65535

/* The distinct values of one categorical column, sorted, with how often each occurs. */
typedef struct catcol {
    size_t n;
    const char **vals;   /* point into the csv doc */
    size_t *count;
} catcol;

typedef struct ctx {
    const csvread_doc *doc;
    const char *name;
    const tabular_opts *o;
    size_t ncols, first;   /* fields per row; first data row (1 with a header or a meta line) */
    int header;
    int meta;              /* the first row is scikit-learn's "ROWS,FEATURES,class names..." */
    long label;            /* label column or -1 */
    catcol *cat;           /* ncols; cat[j].vals != NULL for categorical columns */
    size_t *offset;        /* ncols: first feature of column j */
} ctx;

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int is_index(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static const char *field(const ctx *c, size_t row, size_t col) { return csvread_field(c->doc, row, col); }

/* Column named by spec: a header name first, else a 1-based index. */
static int resolve_col(const ctx *c, const char *spec, const char *what, long *col, error *e)
{
    if (c->header)
        for (size_t j = 0; j < c->ncols; j++)
            if (strcmp(field(c, 0, j), spec) == 0) {
                *col = (long)j;
                return 0;
            }
    if (!is_index(spec)) {
        if (!c->header) return error_set(e, "%s: %s column '%s' is a name, but the file has no header", c->name, what, spec);
        return error_set(e, "%s:%ld: no %s column '%s' in the header", c->name, c->doc->row_line[0], what, spec);
    }
    long j = atol(spec);
    if (j < 1 || (size_t)j > c->ncols)
        return error_set(e, "%s:%ld:%s: no %s column %s: rows have %zu fields", c->name, c->doc->row_line[0], spec, what,
                         spec, c->ncols);
    *col = j - 1;
    return 0;
}

/* Calls fn on each item of a comma-separated list; stops at the first failure. */
static int each_spec(const char *list, int (*fn)(ctx *, const char *, error *), ctx *c, error *e)
{
    if (!list) return 0;
    char *copy = strdup(list), *save = NULL;
    if (!copy) return error_set(e, "out of memory");
    int rc = 0;
    for (char *s = strtok_r(copy, ",", &save); s && !rc; s = strtok_r(NULL, ",", &save)) rc = fn(c, s, e);
    free(copy);
    return rc;
}

static int spec_is_name(ctx *c, const char *s, error *e)
{
    (void)c;
    (void)e;
    return !is_index(s);
}

static int mark_categorical(ctx *c, const char *s, error *e)
{
    long j;
    if (resolve_col(c, s, "categorical", &j, e)) return -1;
    if (j == c->label) return error_set(e, "%s: column '%s' is the label column, it cannot be categorical", c->name, s);
    c->cat[j].n = 1;   /* marked; filled by build_categories */
    return 0;
}

/* A first row is a header when one of its feature fields is not a number. */
static int looks_like_header(const ctx *c)
{
    double v;
    for (size_t j = 0; j < c->ncols; j++) {
        const char *s = field(c, 0, j);
        if ((long)j != c->label && !c->cat[j].n && *s && prep_parse_number(s, &v) == -1) return 1;
    }
    return 0;
}

/* scikit-learn's CSVs open with "ROWS,FEATURES,class names...": ROWS the rows after it, each of
 * FEATURES + 1 fields, the last an index of one of the names (or -1), and names that are not all
 * numbers (else the line is data). */
static int is_meta_line(const ctx *c)
{
    const csvread_doc *d = c->doc;
    size_t n = d->nrows >= 2 ? csvread_row_len(d, 0) : 0;
    if (n < 3) return 0;
    const char *rows = field(c, 0, 0), *features = field(c, 0, 1);
    if (!is_index(rows) || !is_index(features) || strlen(rows) > 11 || strlen(features) > 11 ||
        (size_t)atol(rows) != d->nrows - 1 || (size_t)atol(features) + 1 != csvread_row_len(d, 1))
        return 0;
    size_t label = csvread_row_len(d, 1) - 1;
    for (size_t r = 1; r < d->nrows; r++) {
        const char *y = csvread_row_len(d, r) > label ? field(c, r, label) : "";
        if (strcmp(y, "-1") != 0 && !(is_index(y) && strlen(y) < 6 && (size_t)atol(y) < n - 2)) return 0;
    }
    double v;
    for (size_t j = 2; j < n; j++)
        if (prep_parse_number(field(c, 0, j), &v) == -1) return 1;
    return 0;
}

static int resolve_columns(ctx *c, error *e)
{
    const tabular_opts *o = c->o;
    if (c->meta) {   /* no header; the label last */
        c->label = (long)c->ncols - 1;
        c->first = 1;
        return 0;
    }
    int named = (o->label && strcmp(o->label, "none") != 0 && !is_index(o->label)) ||
                each_spec(o->categorical, spec_is_name, c, e);
    c->header = o->header;
    if (named && c->header == -1) c->header = 1;
    int detect = c->header == -1;
    if (detect) c->header = 0;
    c->label = (long)c->ncols - 1;
    if (o->label && strcmp(o->label, "none") == 0)
        c->label = -1;
    else if (o->label && resolve_col(c, o->label, "label", &c->label, e))
        return -1;
    if (each_spec(o->categorical, mark_categorical, c, e)) return -1;
    if (detect) c->header = looks_like_header(c);
    c->first = c->header ? 1 : 0;
    return 0;
}

/* Every row as long as the first; when the first alone differs from the rows after it (a title or
 * a meta line), the message says how to skip it. */
static int check_ragged(const ctx *c, error *e)
{
    const csvread_doc *d = c->doc;
    for (size_t r = c->meta; r < d->nrows; r++) {
        size_t nf = csvread_row_len(d, r);
        if (nf == c->ncols) continue;
        int first_alone = r == 1 && (d->nrows < 3 || csvread_row_len(d, 2) == nf);
        return error_set(e, "%s:%ld:%zu: row has %zu fields, expected %zu%s", c->name, d->row_line[r],
                         (nf < c->ncols ? nf : c->ncols) + 1, nf, c->ncols,
                         first_alone ? " (as line 1 has; if line 1 is not data, --skip 1)" : "");
    }
    return 0;
}

static int build_categories(ctx *c, size_t j, error *e)
{
    catcol *cc = &c->cat[j];
    size_t n = 0, rows = c->doc->nrows - c->first;
    cc->vals = malloc((rows ? rows : 1) * sizeof *cc->vals);
    cc->count = calloc(rows ? rows : 1, sizeof *cc->count);
    if (!cc->vals || !cc->count) return error_set(e, "out of memory");
    for (size_t r = c->first; r < c->doc->nrows; r++)
        if (*field(c, r, j)) cc->vals[n++] = field(c, r, j);
    qsort(cc->vals, n, sizeof *cc->vals, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && strcmp(cc->vals[u - 1], cc->vals[i]) == 0) {
            cc->count[u - 1]++;
            continue;
        }
        cc->vals[u] = cc->vals[i];
        cc->count[u++] = 1;
    }
    cc->n = u;
    if (u == 0) return error_set(e, "%s: categorical column %zu has no values", c->name, j + 1);
    return 0;
}

static char *column_name(const ctx *c, size_t j)
{
    char buf[32];
    if (c->header) return strdup(field(c, 0, j));
    snprintf(buf, sizeof buf, "c%zu", j + 1);
    return strdup(buf);
}

/* Feature layout and names: each column in order, a categorical one as one feature per value. */
static int layout(ctx *c, tabular *t, error *e)
{
    t->d = 0;
    for (size_t j = 0; j < c->ncols; j++) {
        c->offset[j] = t->d;
        if ((long)j == c->label) continue;
        if (c->cat[j].n && build_categories(c, j, e)) return -1;
        t->d += c->cat[j].vals ? c->cat[j].n : 1;
    }
    if (t->d == 0) {
        const char *f = field(c, c->first, 0), *hint = strchr(f, ';') ? "; the fields hold ';': --delimiter ';'?"
                                                     : strchr(f, '\t')  ? "; the fields hold tabs: --delimiter tab?"
                                                                         : "";
        return error_set(e, "%s: no feature columns%s", c->name, hint);
    }
    t->feature_names = calloc(t->d, sizeof *t->feature_names);
    if (!t->feature_names) return error_set(e, "out of memory");
    t->named = c->header;
    for (size_t j = 0; j < c->ncols; j++) {
        if ((long)j == c->label) continue;
        char *col = column_name(c, j);
        if (!col) return error_set(e, "out of memory");
        if (!c->cat[j].vals) {
            t->feature_names[c->offset[j]] = col;
            continue;
        }
        t->named = 1;   /* a categorical column's values name its features */
        for (size_t v = 0; v < c->cat[j].n; v++) {
            size_t len = strlen(col) + strlen(c->cat[j].vals[v]) + 2;
            char *s = malloc(len);
            if (!s) {
                free(col);
                return error_set(e, "out of memory");
            }
            snprintf(s, len, "%s=%s", col, c->cat[j].vals[v]);
            t->feature_names[c->offset[j] + v] = s;
        }
        free(col);
    }
    return 0;
}

/* Index of the value to set for a categorical field (the most frequent one when empty and imputing). */
static int category_of(const ctx *c, size_t j, const char *s, size_t *v)
{
    const catcol *cc = &c->cat[j];
    if (*s) {
        const char **hit = bsearch(&s, cc->vals, cc->n, sizeof *cc->vals, cmp_str);
        *v = (size_t)(hit - cc->vals);
        return 0;
    }
    if (c->o->impute == PREP_IMPUTE_NONE) return -1;
    *v = 0;
    for (size_t i = 1; i < cc->n; i++)
        if (cc->count[i] > cc->count[*v]) *v = i;
    return 0;
}

static int fill_features(const ctx *c, tabular *t, error *e)
{
    for (size_t i = 0; i < t->n; i++) {
        size_t r = i + c->first;
        float *row = t->x + i * t->d;
        for (size_t j = 0; j < c->ncols; j++) {
            if ((long)j == c->label) continue;
            const char *s = field(c, r, j);
            long line = c->doc->row_line[r];
            if (!*s && c->o->impute == PREP_IMPUTE_NONE)
                return error_set(e, "%s:%ld:%zu: empty value (use --impute mean|median to fill it in)", c->name, line, j + 1);
            if (c->cat[j].vals) {
                size_t v;
                category_of(c, j, s, &v);
                row[c->offset[j] + v] = 1.0f;
                continue;
            }
            double num = NAN;
            int rc = *s ? prep_parse_number(s, &num) : 0;
            const char *why = rc == -1 ? "is not a number" : rc == -2 ? "is not a finite number"
                            : *s && !isfinite((float)num) ? "is out of the float range" : NULL;
            if (why)   /* a long field quoted by its start */
                return error_set(e, "%s:%ld:%zu: \"%.40s%s\" %s", c->name, line, j + 1, s, strlen(s) > 40 ? "..." : "", why);
            row[c->offset[j]] = (float)num;
        }
    }
    if (c->o->impute == PREP_IMPUTE_NONE) return 0;
    for (size_t j = 0; j < c->ncols; j++) {
        if ((long)j == c->label || c->cat[j].vals) continue;
        if (prep_impute(t->x, t->n, t->d, c->offset[j], c->o->impute, e))
            return error_prefix(e, "%s: column %zu", c->name, j + 1);
    }
    return 0;
}

/* Class names "0".."k-1". */
static int index_names(tabular *t, error *e)
{
    t->class_names = calloc(t->k ? (size_t)t->k : 1, sizeof *t->class_names);
    if (!t->class_names) return error_set(e, "out of memory");
    for (int i = 0; i < t->k; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", i);
        if (!(t->class_names[i] = strdup(buf))) return error_set(e, "out of memory");
    }
    return 0;
}

/* The marker of an unlabelled row (--unlabelled, default empty), or -1 as in the stream. */
static int is_unlabelled(const char *s, const char *mark) { return strcmp(s, mark) == 0 || strcmp(s, "-1") == 0; }

static int is_integer(const char *s) { return is_index(s[0] == '-' ? s + 1 : s); }

static int is_class_index(const char *s) { return is_index(s) && strlen(s) <= 5 && atol(s) <= MAX_INT_LABEL; }

static int name_labels(const ctx *c, tabular *t, const char *mark, error *e)
{
    const char **names = malloc((t->n ? t->n : 1) * sizeof *names);
    if (!names) return error_set(e, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *s = field(c, i + c->first, (size_t)c->label);
        if (!is_unlabelled(s, mark)) names[m++] = s;
    }
    qsort(names, m, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    t->k = (int)u;
    t->class_names = calloc(u ? u : 1, sizeof *t->class_names);
    int rc = t->class_names ? 0 : error_set(e, "out of memory");
    for (size_t i = 0; i < u && !rc; i++)
        if (!(t->class_names[i] = strdup(names[i]))) rc = error_set(e, "out of memory");
    for (size_t i = 0; i < t->n && !rc; i++) {
        const char *s = field(c, i + c->first, (size_t)c->label);
        if (is_unlabelled(s, mark)) continue;
        const char **hit = bsearch(&s, names, u, sizeof *names, cmp_str);
        t->y[i] = (int32_t)(hit - names);
    }
    free(names);
    return rc;
}

/* Class names from scikit-learn's meta line (its fields after ROWS and FEATURES), when they name
 * every index; else "0".."k-1". */
static int meta_names(const ctx *c, tabular *t, error *e)
{
    size_t n = csvread_row_len(c->doc, 0) - 2;
    if (n == 0 || (size_t)t->k > n) return index_names(t, e);
    t->k = (int)n;
    t->class_names = calloc(n, sizeof *t->class_names);
    if (!t->class_names) return error_set(e, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(t->class_names[i] = strdup(field(c, 0, i + 2)))) return error_set(e, "out of memory");
    return 0;
}

/* The first row whose label is not an integer (one exists when the labels are names). */
static size_t first_name(const ctx *c, const tabular *t, const char *mark)
{
    size_t i = 0;
    while (i < t->n) {
        const char *s = field(c, i + c->first, (size_t)c->label);
        if (!is_unlabelled(s, mark) && !is_integer(s)) break;
        i++;
    }
    return i < t->n ? i : 0;
}

/* Class names from --class-names "A,B,...": at least one per class index. */
static int listed_names(const ctx *c, tabular *t, error *e)
{
    size_t n = 1;
    for (const char *p = c->o->class_names; *p; p++) n += *p == ',';
    if (n < (size_t)t->k)
        return error_set(e, "%s: --class-names gives %zu names, the labels go up to %d", c->name, n, t->k - 1);
    t->class_names = calloc(n, sizeof *t->class_names);
    if (!t->class_names) return error_set(e, "out of memory");
    t->k = (int)n;
    const char *p = c->o->class_names;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, ",");
        if (!(t->class_names[i] = strndup(p, len))) return error_set(e, "out of memory");
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Integer labels are class indices when all are in 0..65535, else (a guess, said in the note) names;
 * any other text makes them names. */
static int fill_labels(const ctx *c, tabular *t, error *e)
{
    for (size_t i = 0; i < t->n; i++) t->y[i] = -1;
    t->has_labels = c->label >= 0;
    if (!t->has_labels) return 0;
    const char *mark = c->o->unlabelled ? c->o->unlabelled : "";
    int numeric = 1;
    size_t outside = t->n;   /* the first integer label that is not a class index */
    for (size_t i = 0; i < t->n && numeric; i++) {
        const char *s = field(c, i + c->first, (size_t)c->label);
        if (is_unlabelled(s, mark)) continue;
        numeric = is_integer(s);
        if (numeric && outside == t->n && !is_class_index(s)) outside = i;
    }
    if (numeric && outside < t->n)
        snprintf(t->note, sizeof t->note,
                 "%s:%ld: label %.40s is not a class index 0..%d (-1 marks an unlabelled row): the labels are read as names",
                 c->name, t->line[outside], field(c, outside + c->first, (size_t)c->label), MAX_INT_LABEL);
    if ((!numeric || outside < t->n) && c->o->class_names)
        return error_set(e, "%s: --class-names names class indices 0, 1, ..., but the labels are names (\"%.40s\")", c->name,
                         field(c, (outside < t->n ? outside : first_name(c, t, mark)) + c->first, (size_t)c->label));
    if (!numeric || outside < t->n) return name_labels(c, t, mark, e);
    for (size_t i = 0; i < t->n; i++) {
        const char *s = field(c, i + c->first, (size_t)c->label);
        if (is_unlabelled(s, mark)) continue;
        t->y[i] = (int32_t)atol(s);
        if (t->y[i] + 1 > t->k) t->k = t->y[i] + 1;
    }
    return c->o->class_names ? listed_names(c, t, e) : c->meta ? meta_names(c, t, e) : index_names(t, e);
}

static void ctx_free(ctx *c)
{
    if (c->cat)
        for (size_t j = 0; j < c->ncols; j++) {
            free(c->cat[j].vals);
            free(c->cat[j].count);
        }
    free(c->cat);
    free(c->offset);
}

tabular *tabular_from_csv(const csvread_doc *doc, const char *name, const tabular_opts *o, error *e)
{
    if (doc->nrows == 0) {
        error_set(e, "%s: empty input: no rows", name);
        return NULL;
    }
    ctx c = {.doc = doc, .name = name, .o = o};
    c.meta = o->meta_line && o->header == -1 && !o->label && !o->categorical && is_meta_line(&c);
    c.ncols = csvread_row_len(doc, c.meta ? 1 : 0);
    c.cat = calloc(c.ncols, sizeof *c.cat);
    c.offset = calloc(c.ncols, sizeof *c.offset);
    tabular *t = calloc(1, sizeof *t);
    int rc = !c.cat || !c.offset || !t ? error_set(e, "out of memory") : 0;
    if (!rc) rc = resolve_columns(&c, e);
    if (!rc) rc = check_ragged(&c, e);
    if (!rc && doc->nrows == c.first) rc = error_set(e, "%s: no data rows after the header", name);
    if (!rc) rc = layout(&c, t, e);
    if (!rc) {
        t->n = doc->nrows - c.first;
        t->x = calloc(t->n * t->d, sizeof *t->x);
        t->y = malloc(t->n * sizeof *t->y);
        t->line = malloc(t->n * sizeof *t->line);
        if (!t->x || !t->y || !t->line) rc = error_set(e, "out of memory");
    }
    if (!rc) {
        for (size_t i = 0; i < t->n; i++) t->line[i] = doc->row_line[i + c.first];
        rc = fill_features(&c, t, e);
    }
    if (!rc) rc = fill_labels(&c, t, e);
    if (!rc && c.meta && !t->note[0])
        snprintf(t->note, sizeof t->note,
                 "%s:%ld: read as scikit-learn's meta line (%.12s rows, %.12s features, class names); --no-header reads it as data",
                 name, doc->row_line[0], field(&c, 0, 0), field(&c, 0, 1));
    ctx_free(&c);
    if (rc) {
        tabular_free(t);
        return NULL;
    }
    return t;
}

void tabular_free(tabular *t)
{
    if (!t) return;
    for (size_t j = 0; t->feature_names && j < t->d; j++) free(t->feature_names[j]);
    for (int i = 0; t->class_names && i < t->k; i++) free(t->class_names[i]);
    free(t->feature_names);
    free(t->class_names);
    free(t->x);
    free(t->y);
    free(t->line);
    free(t);
}
