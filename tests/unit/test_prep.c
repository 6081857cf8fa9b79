/* prep: scaling statistics and their application, stratified split, label masking. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prep.h"

static void test_parse_number(void)
{
    double v;
    CHECK(prep_parse_number("1.5e2", &v) == 0 && v == 150);
    CHECK(prep_parse_number("-3", &v) == 0 && v == -3);
    CHECK(prep_parse_number("abc", &v) == -1);
    CHECK(prep_parse_number("1x", &v) == -1);
    CHECK(prep_parse_number("", &v) == -1);
    CHECK(prep_parse_number("nan", &v) == -2);
    CHECK(prep_parse_number("-inf", &v) == -2);
}

static void test_minmax_and_standard(void)
{
    /* 3 features: varied, constant, negative */
    float x[4 * 3] = {0, 5, -1, 2, 5, -3, 4, 5, -5, 10, 5, -7};
    error e = {0};
    prep_colstats s;
    CHECK(prep_colstats_init(&s, 3, &e) == 0);
    /* two batches give the same statistics as one */
    CHECK(prep_colstats_add(&s, x, 1, NULL) == 0);
    CHECK(prep_colstats_add(&s, x + 3, 3, NULL) == 0);
    CHECK(s.n == 4 && s.min[0] == 0 && s.max[0] == 10 && s.min[2] == -7);
    CHECK_NEAR(s.mean[0], 4.0, 1e-12);

    prep_scaler mm;
    CHECK(prep_scaler_fit(&mm, PREP_SCALE_MINMAX, &s, &e) == 0);
    CHECK(mm.shift[0] == 0 && mm.scale[0] == 10 && mm.scale[1] == 1);
    float lo, hi;
    prep_scaler_range(&mm, &s, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
    float y[12];
    memcpy(y, x, sizeof y);
    prep_scaler_apply(&mm, y, 4);
    CHECK_NEAR(y[3], 0.2, 1e-7);
    CHECK(y[1] == 0 && y[4] == 0);                 /* constant feature maps to 0 */
    CHECK_NEAR(y[2], 1.0, 1e-7);                   /* -1 is the max of feature 3 */
    CHECK_NEAR(y[11], 0.0, 1e-7);

    prep_scaler st;
    CHECK(prep_scaler_fit(&st, PREP_SCALE_STANDARD, &s, &e) == 0);
    double sd0 = sqrt((16 + 4 + 0 + 36) / 4.0);     /* population sd of 0,2,4,10 */
    CHECK_NEAR(st.shift[0], 4.0, 1e-6);
    CHECK_NEAR(st.scale[0], sd0, 1e-6);
    memcpy(y, x, sizeof y);
    prep_scaler_apply(&st, y, 4);
    double m = 0, v = 0;
    for (int i = 0; i < 4; i++) m += y[i * 3] / 4.0;
    for (int i = 0; i < 4; i++) v += (y[i * 3] - m) * (y[i * 3] - m) / 4.0;
    CHECK_NEAR(m, 0.0, 1e-6);
    CHECK_NEAR(v, 1.0, 1e-6);
    prep_scaler_range(&st, &s, &lo, &hi);
    float want_lo = INFINITY, want_hi = -INFINITY;
    for (int i = 0; i < 12; i++) {
        if (y[i] < want_lo) want_lo = y[i];
        if (y[i] > want_hi) want_hi = y[i];
    }
    CHECK(lo == want_lo && hi == want_hi);
    prep_scaler_free(&mm);
    prep_scaler_free(&st);

    size_t bad = 99;
    x[7] = NAN;
    CHECK(prep_colstats_add(&s, x, 4, &bad) == -1 && bad == 2);
    prep_colstats_free(&s);
}

static void test_apply_saved_scaler_to_other_data(void)
{
    float shift[2] = {1, 10}, scale[2] = {2, 5};
    prep_scaler sc;
    error e = {0};
    CHECK(prep_scaler_init(&sc, PREP_SCALE_MINMAX, 2, shift, scale, &e) == 0);
    float x[4] = {0, 20, 5, 10};
    prep_scaler_apply(&sc, x, 2);
    CHECK(x[0] == -0.5f && x[1] == 2.0f && x[2] == 2.0f && x[3] == 0.0f);
    prep_scaler_free(&sc);
}

static void test_apportion(void)
{
    size_t counts[3] = {50, 30, 20}, pick[3];
    prep_apportion(counts, 3, 10, pick);
    CHECK(pick[0] == 5 && pick[1] == 3 && pick[2] == 2);
    size_t c2[3] = {5, 5, 5};
    prep_apportion(c2, 3, 7, pick);
    CHECK(pick[0] == 3 && pick[1] == 2 && pick[2] == 2);   /* ties to the lower index */
}

static int32_t *labels(size_t n, int k)
{
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)((i * 7) % (size_t)k);
    return y;
}

static void test_split_stratified_and_deterministic(void)
{
    size_t n = 1000;
    int32_t *y = labels(n, 4);
    y[0] = y[1] = y[2] = y[3] = -1;   /* a few unlabelled rows are split too */
    uint8_t *a = malloc(n), *b = malloc(n);
    rng r;
    error e = {0};
    rng_seed(&r, 42);
    CHECK(prep_split(y, n, 0.3, &r, a, &e) == 0);
    rng_seed(&r, 42);
    CHECK(prep_split(y, n, 0.3, &r, b, &e) == 0);
    CHECK(memcmp(a, b, n) == 0);
    size_t test = 0, per[4] = {0}, all[4] = {0};
    for (size_t i = 0; i < n; i++) {
        test += a[i];
        if (y[i] >= 0) {
            all[y[i]]++;
            per[y[i]] += a[i];
        }
    }
    CHECK(test == 300);
    for (int c = 0; c < 4; c++) CHECK(fabs((double)per[c] - 0.3 * (double)all[c]) <= 1.0);
    rng_seed(&r, 43);
    CHECK(prep_split(y, n, 0.3, &r, b, &e) == 0);
    CHECK(memcmp(a, b, n) != 0);
    CHECK(prep_split(y, n, 0.0001, &r, b, &e) == 0);     /* ceil: one test row */
    CHECK(prep_split(y, 1, 0.5, &r, b, &e) == -1);
    free(a);
    free(b);
    free(y);
}

static void counts(const int32_t *y, size_t n, size_t *per, int k, size_t *unl)
{
    memset(per, 0, (size_t)k * sizeof *per);
    *unl = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0) (*unl)++;
        else per[y[i]]++;
}

static void test_mask_per_class(void)
{
    size_t n = 500, per[5], unl;
    int32_t *y = labels(n, 5), *y2 = labels(n, 5), *orig = labels(n, 5);
    rng r;
    error e = {0};
    rng_seed(&r, 0);
    CHECK(prep_mask_per_class(y, n, 5, 3, &r, NULL, &e) == 15);
    counts(y, n, per, 5, &unl);
    for (int c = 0; c < 5; c++) CHECK(per[c] == 3);
    for (size_t i = 0; i < n; i++) CHECK(y[i] == -1 || y[i] == orig[i]);
    rng_seed(&r, 0);
    prep_mask_per_class(y2, n, 5, 3, &r, NULL, &e);
    CHECK(memcmp(y, y2, n * sizeof *y) == 0);
    /* a class with too few labels is named */
    char *names[6] = {"a", "b", "c", "d", "e", "f"};
    free(y);
    y = labels(n, 5);
    CHECK(prep_mask_per_class(y, n, 6, 3, &r, names, &e) == -1);
    CHECK(strstr(e.msg, "class 5 (f) has 0 labelled rows, fewer than --labels-per-class 3") != NULL);
    free(y);
    free(y2);
    free(orig);
}

static void test_mask_count_balanced(void)
{
    /* class 0 has only 2 rows: its surplus goes to the others */
    size_t n = 302, per[3], unl;
    int32_t *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) y[i] = i < 2 ? 0 : (int32_t)(1 + i % 2);
    rng r;
    error e = {0};
    rng_seed(&r, 1);
    CHECK(prep_mask_count(y, n, 3, 31, &r, &e) == 31);
    counts(y, n, per, 3, &unl);
    CHECK(per[0] == 2);
    CHECK((per[1] == 15 && per[2] == 14) || (per[1] == 14 && per[2] == 15));
    CHECK(prep_mask_count(y, n, 3, 1000, &r, &e) == -1);
    free(y);
}

static void test_mask_fraction(void)
{
    size_t n = 1000, per[4], unl;
    int32_t *y = labels(n, 4);
    rng r;
    error e = {0};
    rng_seed(&r, 5);
    CHECK(prep_mask_fraction(y, n, 4, 0.1, &r, &e) == 100);
    counts(y, n, per, 4, &unl);
    for (int c = 0; c < 4; c++) CHECK(per[c] == 25);
    free(y);
}

static void test_impute(void)
{
    float x[6] = {1, NAN, 3, 4, NAN, 8};
    error e = {0};
    CHECK(prep_impute(x, 3, 2, 0, PREP_IMPUTE_MEAN, &e) == 0);
    CHECK(x[4] == 2.0f);
    CHECK(prep_impute(x, 3, 2, 1, PREP_IMPUTE_MEDIAN, &e) == 0);
    CHECK(x[1] == 6.0f);
    float z[2] = {NAN, NAN};
    CHECK(prep_impute(z, 2, 1, 0, PREP_IMPUTE_MEAN, &e) == -1);
}

int main(void)
{
    RUN(test_parse_number);
    RUN(test_minmax_and_standard);
    RUN(test_apply_saved_scaler_to_other_data);
    RUN(test_apportion);
    RUN(test_split_stratified_and_deterministic);
    RUN(test_mask_per_class);
    RUN(test_mask_count_balanced);
    RUN(test_mask_fraction);
    RUN(test_impute);
    return check_summary();
}
