/* prep: the numeric steps of data preparation, on plain arrays (no stream here):
 * parsing numbers, imputing missing values, per-feature scaling statistics and their
 * application, the stratified train/test split, and label masking.
 * Randomness only from the rng passed in; same seed, same result. */
#ifndef SSL_PREP_H
#define SSL_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rng.h"

/* A whole field as a number: 0, or -1 if not a number, -2 if NaN or infinite. */
int prep_parse_number(const char *s, double *out);

/* Missing values (NaN) of column col of x (n, d) replaced by the mean or median of the
 * column's present values. -1 if the column has no value at all. */
typedef enum prep_impute_method { PREP_IMPUTE_NONE, PREP_IMPUTE_MEAN, PREP_IMPUTE_MEDIAN } prep_impute_method;
int prep_impute(float *x, size_t n, size_t d, size_t col, prep_impute_method m, error *e);

/* ---- scaling ---- */
typedef enum prep_scale_method { PREP_SCALE_NONE, PREP_SCALE_MINMAX, PREP_SCALE_STANDARD } prep_scale_method;
const char *prep_scale_name(prep_scale_method m);          /* "none", "minmax", "standard" */
int prep_scale_parse(const char *s, prep_scale_method *m);  /* -1 if unknown */

/* Per-feature statistics accumulated batch by batch (min, max, mean, variance via Welford). */
typedef struct prep_colstats {
    size_t d;
    size_t n;
    double *min, *max, *mean, *m2;
} prep_colstats;
int prep_colstats_init(prep_colstats *s, size_t d, error *e);
void prep_colstats_free(prep_colstats *s);
/* Adds rows of x (rows, d). Returns -1 if x has a NaN or infinity, with *bad_row (if not NULL) set to its row. */
int prep_colstats_add(prep_colstats *s, const float *x, size_t rows, size_t *bad_row);

/* x' = (x - shift) / scale, per feature. minmax: shift = min, scale = max - min;
 * standard: shift = mean, scale = population standard deviation; none: 0 and 1.
 * A constant feature gets scale 1 (it maps to 0 instead of dividing by zero). */
typedef struct prep_scaler {
    prep_scale_method method;
    size_t d;
    float *shift, *scale;
} prep_scaler;
int prep_scaler_fit(prep_scaler *sc, prep_scale_method m, const prep_colstats *s, error *e);
/* A scaler of width d with the given parameters (copied). */
int prep_scaler_init(prep_scaler *sc, prep_scale_method m, size_t d, const float *shift, const float *scale, error *e);
void prep_scaler_free(prep_scaler *sc);
void prep_scaler_apply(const prep_scaler *sc, float *x, size_t rows);
/* The exact range [lo, hi] of all values after applying sc to data whose per-feature
 * minima and maxima are in s (s->n > 0). */
void prep_scaler_range(const prep_scaler *sc, const prep_colstats *s, float *lo, float *hi);

/* ---- splitting and masking ---- */

/* Largest-remainder apportionment: pick[g] = floor(counts[g] * total / sum) plus one for the
 * groups with the largest remainders (ties to the lower group index) until sum(pick) = total. */
void prep_apportion(const size_t *counts, size_t ngroups, size_t total, size_t *pick);

/* Stratified split: is_test[i] = 1 for the test rows. The test size is ceil(test * n) (as
 * scikit-learn's train_test_split); it is shared among the classes of y in proportion to their
 * sizes by prep_apportion (unlabelled rows, y < 0, form one more group), and within each class
 * the test rows are a seeded random choice. Error if either side would be empty. */
int prep_split(const int32_t *y, size_t n, double test, rng *r, uint8_t *is_test, error *e);

/* Label masking on y (n) with classes 0..k-1 (k <= 0: 0..max(y); y < 0: already unlabelled). The labels kept are a
 * seeded random choice within each class; the others become -1. Each returns the labels kept.
 * per_class: exactly L per class (error naming a class with fewer than L labels);
 * count: N in all, as balanced as possible (equal shares, a class short of its share gives its
 *        surplus to the others; the remainder goes to classes picked by the seed);
 * fraction: round(F * labelled) in all, shared in proportion to the class sizes. */
long prep_mask_per_class(int32_t *y, size_t n, int k, long L, rng *r, char *const *class_names, error *e);
long prep_mask_count(int32_t *y, size_t n, int k, long N, rng *r, error *e);
long prep_mask_fraction(int32_t *y, size_t n, int k, double f, rng *r, error *e);

#endif
