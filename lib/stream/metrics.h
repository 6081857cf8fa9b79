/* metrics: classification metrics accumulated batch by batch (ssl-eval).
 *
 * Memory is bounded whatever the number of rows: a K x K confusion matrix, METRICS_ECE_BINS
 * calibration bins and a few sums. Rows whose label is -1 (unlabelled) are counted and left out.
 *
 * Definitions (N = labelled rows, pred = argmax_k p_k, the first maximum on ties):
 *   accuracy      = #(pred == y) / N
 *   precision_k   = C[k][k] / #(pred == k)   (0 when class k is never predicted)
 *   recall_k      = C[k][k] / #(y == k)      (0 when class k has no support)
 *   f1_k          = 2 P R / (P + R)          (0 when P + R = 0; scikit-learn's zero_division=0)
 *   macro_f1      = mean of f1_k over the classes present in y or in pred (scikit-learn's default
 *                   label set: a class neither present nor predicted is left out)
 *   log_loss      = -1/N sum log(clip(p_y, 1e-15, 1 - 1e-15))   (no renormalisation of the rows)
 *   ece           = sum_b (n_b / N) |acc_b - conf_b| over 15 equal-width bins of the confidence
 *                   max_k p_k: bin b holds conf in [b/15, (b+1)/15), the last one includes 1;
 *                   acc_b and conf_b are the bin's accuracy and mean confidence.
 * C[i][j] counts rows with y = i predicted as j. */
#ifndef SSL_METRICS_H
#define SSL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "value.h"

#define METRICS_ECE_BINS 15
#define METRICS_LOG_EPS 1e-15

typedef struct metrics metrics;

/* An accumulator for k classes (k >= 1). */
metrics *metrics_new(int k, error *e);
void metrics_free(metrics *m);

/* Adds n rows: y (n) labels in -1..k-1, p (n, k) probabilities. A label out of range or a
 * probability that is not finite is an error naming the row ("row 17: ..."), rows counted
 * from 1 over everything added so far; on error nothing of this batch is kept. */
int metrics_add(metrics *m, const int32_t *y, const float *p, size_t n, error *e);

int metrics_classes(const metrics *m);
size_t metrics_rows(const metrics *m);          /* labelled rows evaluated */
size_t metrics_unlabelled(const metrics *m);    /* rows with y = -1, skipped */
uint64_t metrics_confusion(const metrics *m, int truth, int pred);

double metrics_accuracy(const metrics *m);
double metrics_macro_f1(const metrics *m);
double metrics_log_loss(const metrics *m);
double metrics_ece(const metrics *m);

typedef struct metrics_class {
    double precision, recall, f1;
    uint64_t support;     /* rows with y = k */
    uint64_t predicted;   /* rows with pred = k */
} metrics_class;
metrics_class metrics_per_class(const metrics *m, int k);

/* Everything as a JSON-ready map: rows, unlabelled, classes, accuracy, macro_f1, log_loss, ece,
 * class_names, per_class [{class, precision, recall, f1, support}], confusion [[...]].
 * class_names (array of str, may be NULL) names the classes; missing names are the class numbers. */
value *metrics_to_value(const metrics *m, const value *class_names);

/* The report for people: the headline numbers, a per-class table and the confusion matrix. */
void metrics_print_text(FILE *f, const metrics *m, const value *class_names);

#endif
