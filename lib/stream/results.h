/* results: the comparison table over runs (ssl-eval table). Each run is one JSON object written
 * by `ssl-eval --json --tag ...`; runs are grouped by the values of some keys (method, labels)
 * and each group gets its run count and the mean and sample standard deviation of each metric.
 *
 * Groups keep first-seen order (the order of the files given). Memory: one small record per group
 * (running mean and squared deviations, Welford's method), whatever the number of runs. */
#ifndef SSL_RESULTS_H
#define SSL_RESULTS_H

#include <stdio.h>

#include "error.h"
#include "value.h"

#define RESULTS_MAX_KEYS 8
#define RESULTS_MAX_METRICS 16

typedef struct results results;

/* Group by keys[0..nkeys), summarise metrics[0..nmetrics) (fields holding numbers). */
results *results_new(const char *const *keys, int nkeys, const char *const *metrics, int nmetrics, error *e);
void results_free(results *r);

/* Adds one run (a map). A metric missing or not a number is an error naming the field;
 * a missing key groups as "-". An optional numeric "seconds" field is averaged too. */
int results_add(results *r, const value *run, error *e);

/* The table as an array of maps: {key..., runs, metric: {mean, std}..., seconds}; std is null
 * for a single run, seconds only when some run had it. */
value *results_to_value(const results *r);

/* A markdown table: | key... | runs | metric... | seconds |. Metrics are fractions shown in
 * percent with one decimal ("86.9 ± 1.2"), except those whose name ends in "loss", shown as they
 * are with three decimals. A single run shows its value alone. */
void results_print_md(FILE *f, const results *r);

#endif
