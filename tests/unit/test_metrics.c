#include <math.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

/* The hand-computed example, 3 classes, 6 labelled rows and 1 unlabelled:
 *
 *   row  y  p                pred  conf  correct  ECE bin (floor(conf*15))
 *   1    0  .7  .2  .1       0     .7    yes      10
 *   2    0  .4  .5  .1       1     .5    no        7
 *   3    1  .1  .8  .1       1     .8    yes      12
 *   4    1  .2  .6  .2       1     .6    yes       9
 *   5    2  .3  .3  .4       2     .4    yes       6
 *   6    2  .6  .1  .3       0     .6    no        9
 *   7   -1  1   0   0        (skipped)
 *
 * confusion (true rows, predicted columns): [1 1 0; 0 2 0; 1 0 1]
 * accuracy  = 4/6
 * class 0: predicted twice (rows 1, 6), 1 right: P = 1/2, R = 1/2, F1 = 1/2
 * class 1: predicted 3 times, 2 right:         P = 2/3, R = 2/2, F1 = 2(2/3)(1)/(5/3) = 4/5
 * class 2: predicted once, right:              P = 1,   R = 1/2, F1 = 2(1)(1/2)/(3/2) = 2/3
 * macro-F1  = (1/2 + 4/5 + 2/3) / 3 = 59/90
 * log-loss  = -(ln .7 + ln .4 + ln .8 + ln .6 + ln .4 + ln .3) / 6 = 0.687866398
 * ECE: bins 10, 7, 12, 6 hold one row each with |acc - conf| = .3, .5, .2, .6;
 *      bin 9 holds rows 4 and 6: acc 1/2, conf .6, gap .1, weight 2/6
 *      ECE = (.3 + .5 + .2 + .6)/6 + (2/6)(.1) = 1.8/6 = 0.3 */
static const int32_t Y[7] = {0, 0, 1, 1, 2, 2, -1};
static const float P[7 * 3] = {
    .7f, .2f, .1f, .4f, .5f, .1f, .1f, .8f, .1f, .2f, .6f, .2f, .3f, .3f, .4f, .6f, .1f, .3f, 1, 0, 0,
};

static void check_example(const metrics *m)
{
    CHECK(metrics_rows(m) == 6);
    CHECK(metrics_unlabelled(m) == 1);
    static const int conf[3][3] = {{1, 1, 0}, {0, 2, 0}, {1, 0, 1}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) CHECK(metrics_confusion(m, i, j) == (uint64_t)conf[i][j]);
    CHECK_NEAR(metrics_accuracy(m), 4.0 / 6, 1e-12);
    metrics_class c0 = metrics_per_class(m, 0), c1 = metrics_per_class(m, 1), c2 = metrics_per_class(m, 2);
    CHECK_NEAR(c0.precision, 0.5, 1e-12);
    CHECK_NEAR(c0.recall, 0.5, 1e-12);
    CHECK_NEAR(c0.f1, 0.5, 1e-12);
    CHECK_NEAR(c1.precision, 2.0 / 3, 1e-12);
    CHECK_NEAR(c1.recall, 1.0, 1e-12);
    CHECK_NEAR(c1.f1, 0.8, 1e-12);
    CHECK_NEAR(c2.precision, 1.0, 1e-12);
    CHECK_NEAR(c2.recall, 0.5, 1e-12);
    CHECK_NEAR(c2.f1, 2.0 / 3, 1e-12);
    CHECK(c0.support == 2 && c1.support == 2 && c2.support == 2);
    CHECK(c0.predicted == 2 && c1.predicted == 3 && c2.predicted == 1);
    CHECK_NEAR(metrics_macro_f1(m), 59.0 / 90, 1e-12);
    CHECK_NEAR(metrics_log_loss(m), 0.687866398, 1e-6); /* p is float32: ~1e-8 off */
    CHECK_NEAR(metrics_ece(m), 0.3, 1e-6);
}

static void test_hand_example(void)
{
    error e;
    metrics *m = metrics_new(3, &e);
    CHECK(metrics_add(m, Y, P, 7, &e) == 0);
    check_example(m);
    metrics_free(m);
}

static void test_batches_equal_one_pass(void)
{
    error e;
    metrics *m = metrics_new(3, &e);
    size_t cuts[] = {0, 1, 4, 4, 7}; /* includes an empty batch */
    for (int b = 0; b + 1 < 5; b++)
        CHECK(metrics_add(m, Y + cuts[b], P + 3 * cuts[b], cuts[b + 1] - cuts[b], &e) == 0);
    check_example(m);
    metrics_free(m);
}

static void test_absent_class_left_out_of_macro_f1(void)
{
    /* the same rows with a 4th class that is neither in y nor predicted: sklearn leaves it out */
    error e;
    float p4[7 * 4];
    for (int i = 0; i < 7; i++) {
        memcpy(p4 + 4 * i, P + 3 * i, 3 * sizeof(float));
        p4[4 * i + 3] = 0;
    }
    metrics *m = metrics_new(4, &e);
    CHECK(metrics_add(m, Y, p4, 7, &e) == 0);
    CHECK_NEAR(metrics_macro_f1(m), 59.0 / 90, 1e-12);
    metrics_class c3 = metrics_per_class(m, 3);
    CHECK(c3.support == 0 && c3.predicted == 0 && c3.f1 == 0 && c3.precision == 0 && c3.recall == 0);
    metrics_free(m);
}

static void test_never_predicted_class_counts_zero(void)
{
    /* class 1 has support but is never predicted: P = R = F1 = 0 and it stays in the average */
    error e;
    int32_t y[2] = {0, 1};
    float p[4] = {.9f, .1f, .8f, .2f};
    metrics *m = metrics_new(2, &e);
    CHECK(metrics_add(m, y, p, 2, &e) == 0);
    metrics_class c1 = metrics_per_class(m, 1), c0 = metrics_per_class(m, 0);
    CHECK(c1.precision == 0 && c1.recall == 0 && c1.f1 == 0 && c1.support == 1);
    CHECK_NEAR(c0.precision, 0.5, 1e-12);
    CHECK_NEAR(c0.f1, 2 * 0.5 / 1.5, 1e-12);
    CHECK_NEAR(metrics_macro_f1(m), (2 * 0.5 / 1.5) / 2, 1e-12);
    CHECK_NEAR(metrics_accuracy(m), 0.5, 1e-12);
    metrics_free(m);
}

static void test_perfect_and_clipped(void)
{
    error e;
    int32_t y[3] = {0, 1, 1};
    float sure[6] = {1, 0, 0, 1, 0, 1};
    metrics *m = metrics_new(2, &e);
    CHECK(metrics_add(m, y, sure, 3, &e) == 0);
    CHECK(metrics_accuracy(m) == 1.0);
    CHECK(metrics_macro_f1(m) == 1.0);
    CHECK_NEAR(metrics_log_loss(m), 1e-15, 1e-16); /* p = 1 is clipped to 1 - 1e-15 */
    CHECK_NEAR(metrics_ece(m), 0.0, 1e-12);        /* confidence 1 falls in the last bin */
    metrics_free(m);

    int32_t y1[1] = {1};
    float wrong[2] = {1, 0};
    m = metrics_new(2, &e);
    CHECK(metrics_add(m, y1, wrong, 1, &e) == 0);
    CHECK_NEAR(metrics_log_loss(m), -log(1e-15), 1e-9); /* p_y = 0 is clipped to 1e-15 */
    CHECK_NEAR(metrics_ece(m), 1.0, 1e-12);
    metrics_free(m);
}

static void test_ties_pick_first_class(void)
{
    error e;
    int32_t y[1] = {1};
    float p[3] = {.4f, .4f, .2f};
    metrics *m = metrics_new(3, &e);
    CHECK(metrics_add(m, y, p, 1, &e) == 0);
    CHECK(metrics_confusion(m, 1, 0) == 1);
    metrics_free(m);
}

static void test_errors_name_the_row_and_keep_nothing(void)
{
    error e;
    metrics *m = metrics_new(3, &e);
    CHECK(metrics_add(m, Y, P, 2, &e) == 0);
    int32_t bad[3] = {0, -1, 3};
    CHECK(metrics_add(m, bad, P, 3, &e) == -1);
    CHECK(strstr(e.msg, "row 5:") != NULL);
    CHECK(strstr(e.msg, "label 3") != NULL);
    CHECK(metrics_rows(m) == 2 && metrics_unlabelled(m) == 0);
    int32_t neg[1] = {-2};
    CHECK(metrics_add(m, neg, P, 1, &e) == -1);
    CHECK(strstr(e.msg, "row 3:") != NULL);
    float nan_p[3] = {NAN, 0, 0};
    int32_t zero[1] = {0};
    CHECK(metrics_add(m, zero, nan_p, 1, &e) == -1);
    CHECK(strstr(e.msg, "not finite") != NULL);
    CHECK(metrics_rows(m) == 2);
    metrics_free(m);
    CHECK(metrics_new(0, &e) == NULL);
}

static void test_no_labelled_rows(void)
{
    error e;
    int32_t y[1] = {-1};
    float p[2] = {.5f, .5f};
    metrics *m = metrics_new(2, &e);
    CHECK(metrics_add(m, y, p, 1, &e) == 0);
    CHECK(metrics_rows(m) == 0 && metrics_unlabelled(m) == 1);
    CHECK(isnan(metrics_accuracy(m)) && isnan(metrics_log_loss(m)) && isnan(metrics_ece(m)));
    value *v = metrics_to_value(m, NULL);
    CHECK(value_get(v, "accuracy")->kind == VALUE_NIL);
    value_free(v);
    metrics_free(m);
}

static void test_to_value(void)
{
    error e;
    metrics *m = metrics_new(3, &e);
    CHECK(metrics_add(m, Y, P, 7, &e) == 0);
    value *names = value_array();
    value_push(names, value_str("setosa"));
    value_push(names, value_str("versicolor")); /* third name missing: shown as "2" */
    value *v = metrics_to_value(m, names);
    CHECK(value_get_num(v, "rows", 0) == 6);
    CHECK(value_get_num(v, "unlabelled", 0) == 1);
    CHECK_NEAR(value_get_num(v, "accuracy", 0), 4.0 / 6, 1e-12);
    CHECK_NEAR(value_get_num(v, "ece", 0), 0.3, 1e-6);
    const value *per = value_get(v, "per_class");
    CHECK(per && per->kind == VALUE_ARRAY && per->n == 3);
    CHECK(strcmp(value_get_str(per->items[0], "class", ""), "setosa") == 0);
    CHECK(strcmp(value_get_str(per->items[2], "class", ""), "2") == 0);
    CHECK_NEAR(value_get_num(per->items[1], "f1", 0), 0.8, 1e-12);
    const value *conf = value_get(v, "confusion");
    CHECK(conf && conf->n == 3 && conf->items[2]->n == 3 && conf->items[2]->items[0]->i == 1);
    value_free(v);
    value_free(names);
    metrics_free(m);
}

int main(void)
{
    RUN(test_hand_example);
    RUN(test_batches_equal_one_pass);
    RUN(test_absent_class_left_out_of_macro_f1);
    RUN(test_never_predicted_class_counts_zero);
    RUN(test_perfect_and_clipped);
    RUN(test_ties_pick_first_class);
    RUN(test_errors_name_the_row_and_keep_nothing);
    RUN(test_no_labelled_rows);
    RUN(test_to_value);
    return check_summary();
}
