#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct metrics {
    int k;
    size_t rows, unlabelled;
    uint64_t *conf;                       /* (k, k): truth row, predicted column */
    double log_loss_sum;
    uint64_t bin_n[METRICS_ECE_BINS];
    double bin_correct[METRICS_ECE_BINS];
    double bin_conf[METRICS_ECE_BINS];    /* sum of confidences */
};

metrics *metrics_new(int k, error *e)
{
    if (k < 1) {
        error_set(e, "need at least one class, got %d", k);
        return NULL;
    }
    metrics *m = calloc(1, sizeof *m);
    m->k = k;
    m->conf = calloc((size_t)k * (size_t)k, sizeof *m->conf);
    return m;
}

void metrics_free(metrics *m)
{
    if (!m) return;
    free(m->conf);
    free(m);
}

/* Checks a batch before anything is counted, so an error leaves the accumulator as it was. */
static int check_batch(const metrics *m, const int32_t *y, const float *p, size_t n, error *e)
{
    size_t base = m->rows + m->unlabelled;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == -1) continue;
        if (y[i] < -1 || y[i] >= m->k)
            return error_set(e, "row %zu: label %d is out of range: p has %d classes (0..%d, or -1 for unlabelled)",
                             base + i + 1, (int)y[i], m->k, m->k - 1);
        for (int j = 0; j < m->k; j++)
            if (!isfinite(p[i * (size_t)m->k + (size_t)j]))
                return error_set(e, "row %zu: probability of class %d is not finite", base + i + 1, j);
    }
    return 0;
}

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (p[j] > p[best]) best = j;
    return best;
}

static int ece_bin(double conf)
{
    int b = (int)(conf * METRICS_ECE_BINS);
    return b < 0 ? 0 : b >= METRICS_ECE_BINS ? METRICS_ECE_BINS - 1 : b;
}

int metrics_add(metrics *m, const int32_t *y, const float *p, size_t n, error *e)
{
    if (check_batch(m, y, p, n, e) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == -1) {
            m->unlabelled++;
            continue;
        }
        const float *row = p + i * (size_t)m->k;
        int pred = argmax(row, m->k);
        m->conf[(size_t)y[i] * (size_t)m->k + (size_t)pred]++;
        double py = fmin(fmax(row[y[i]], METRICS_LOG_EPS), 1.0 - METRICS_LOG_EPS);
        m->log_loss_sum -= log(py);
        int b = ece_bin(row[pred]);
        m->bin_n[b]++;
        m->bin_correct[b] += pred == y[i];
        m->bin_conf[b] += row[pred];
        m->rows++;
    }
    return 0;
}

int metrics_classes(const metrics *m) { return m->k; }
size_t metrics_rows(const metrics *m) { return m->rows; }
size_t metrics_unlabelled(const metrics *m) { return m->unlabelled; }

uint64_t metrics_confusion(const metrics *m, int truth, int pred)
{
    return m->conf[(size_t)truth * (size_t)m->k + (size_t)pred];
}

double metrics_accuracy(const metrics *m)
{
    if (!m->rows) return NAN;
    uint64_t right = 0;
    for (int j = 0; j < m->k; j++) right += metrics_confusion(m, j, j);
    return (double)right / (double)m->rows;
}

metrics_class metrics_per_class(const metrics *m, int k)
{
    metrics_class c = {0};
    for (int j = 0; j < m->k; j++) {
        c.support += metrics_confusion(m, k, j);
        c.predicted += metrics_confusion(m, j, k);
    }
    double tp = (double)metrics_confusion(m, k, k);
    c.precision = c.predicted ? tp / (double)c.predicted : 0.0;
    c.recall = c.support ? tp / (double)c.support : 0.0;
    c.f1 = c.precision + c.recall > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
    return c;
}

double metrics_macro_f1(const metrics *m)
{
    double sum = 0;
    int present = 0;
    for (int k = 0; k < m->k; k++) {
        metrics_class c = metrics_per_class(m, k);
        if (!c.support && !c.predicted) continue;
        sum += c.f1;
        present++;
    }
    return present ? sum / present : NAN;
}

double metrics_log_loss(const metrics *m) { return m->rows ? m->log_loss_sum / (double)m->rows : NAN; }

double metrics_ece(const metrics *m)
{
    if (!m->rows) return NAN;
    double ece = 0;
    for (int b = 0; b < METRICS_ECE_BINS; b++) {
        if (!m->bin_n[b]) continue;
        double nb = (double)m->bin_n[b];
        ece += nb / (double)m->rows * fabs(m->bin_correct[b] / nb - m->bin_conf[b] / nb);
    }
    return ece;
}

/* The name of class k: class_names[k] when it is a string, else the number. */
static const char *class_name(const value *names, int k, char buf[24])
{
    if (names && names->kind == VALUE_ARRAY && (size_t)k < names->n && names->items[k]->kind == VALUE_STR)
        return names->items[k]->s;
    snprintf(buf, 24, "%d", k);
    return buf;
}

/* JSON has no NaN: an undefined metric (no labelled rows) becomes null. */
static value *num_or_null(double x) { return isfinite(x) ? value_float(x) : value_nil(); }

value *metrics_to_value(const metrics *m, const value *class_names)
{
    value *v = value_map(), *names = value_array(), *per = value_array(), *conf = value_array();
    char buf[24];
    value_set(v, "rows", value_int((int64_t)m->rows));
    value_set(v, "unlabelled", value_int((int64_t)m->unlabelled));
    value_set(v, "classes", value_int(m->k));
    value_set(v, "accuracy", num_or_null(metrics_accuracy(m)));
    value_set(v, "macro_f1", num_or_null(metrics_macro_f1(m)));
    value_set(v, "log_loss", num_or_null(metrics_log_loss(m)));
    value_set(v, "ece", num_or_null(metrics_ece(m)));
    for (int k = 0; k < m->k; k++) {
        const char *name = class_name(class_names, k, buf);
        metrics_class c = metrics_per_class(m, k);
        value *row = value_map(), *counts = value_array();
        value_push(names, value_str(name));
        value_set(row, "class", value_str(name));
        value_set(row, "precision", value_float(c.precision));
        value_set(row, "recall", value_float(c.recall));
        value_set(row, "f1", value_float(c.f1));
        value_set(row, "support", value_int((int64_t)c.support));
        value_push(per, row);
        for (int j = 0; j < m->k; j++) value_push(counts, value_int((int64_t)metrics_confusion(m, k, j)));
        value_push(conf, counts);
    }
    value_set(v, "class_names", names);
    value_set(v, "per_class", per);
    value_set(v, "confusion", conf);
    return v;
}

static int max_name_len(const metrics *m, const value *class_names)
{
    char buf[24];
    int w = 0;
    for (int k = 0; k < m->k; k++) {
        int len = (int)strlen(class_name(class_names, k, buf));
        if (len > w) w = len;
    }
    return w;
}

static void print_per_class(FILE *f, const metrics *m, const value *class_names, int w)
{
    char buf[24];
    fprintf(f, "%-*s  %9s  %9s  %9s  %9s\n", w, "class", "precision", "recall", "f1", "support");
    for (int k = 0; k < m->k; k++) {
        metrics_class c = metrics_per_class(m, k);
        fprintf(f, "%-*s  %9.4f  %9.4f  %9.4f  %9llu\n", w, class_name(class_names, k, buf), c.precision,
                c.recall, c.f1, (unsigned long long)c.support);
    }
}

/* Columns are headed by class numbers (names can be long); rows by number and name. */
static void print_confusion(FILE *f, const metrics *m, const value *class_names, int w)
{
    char buf[24];
    uint64_t most = 0;
    for (size_t i = 0; i < (size_t)m->k * (size_t)m->k; i++)
        if (m->conf[i] > most) most = m->conf[i];
    int cw = snprintf(buf, sizeof buf, "%llu", (unsigned long long)most);
    int iw = snprintf(buf, sizeof buf, "%d", m->k - 1);
    if (iw > cw) cw = iw;
    fprintf(f, "confusion matrix (rows: true class, columns: predicted class)\n");
    fprintf(f, "%*s  %-*s", iw, "", w, "");
    for (int j = 0; j < m->k; j++) fprintf(f, " %*d", cw, j);
    fputc('\n', f);
    for (int k = 0; k < m->k; k++) {
        fprintf(f, "%*d  %-*s", iw, k, w, class_name(class_names, k, buf));
        for (int j = 0; j < m->k; j++) fprintf(f, " %*llu", cw, (unsigned long long)metrics_confusion(m, k, j));
        fputc('\n', f);
    }
}

void metrics_print_text(FILE *f, const metrics *m, const value *class_names)
{
    int w = max_name_len(m, class_names);
    if (w < 5) w = 5;
    fprintf(f, "rows evaluated    %zu (unlabelled rows skipped: %zu)\n", m->rows, m->unlabelled);
    fprintf(f, "classes           %d\n", m->k);
    fprintf(f, "accuracy          %.4f\n", metrics_accuracy(m));
    fprintf(f, "macro-F1          %.4f\n", metrics_macro_f1(m));
    fprintf(f, "log-loss          %.4f\n", metrics_log_loss(m));
    fprintf(f, "ECE (%d bins)     %.4f\n", METRICS_ECE_BINS, metrics_ece(m));
    fputc('\n', f);
    print_per_class(f, m, class_names, w);
    fputc('\n', f);
    print_confusion(f, m, class_names, w);
}
