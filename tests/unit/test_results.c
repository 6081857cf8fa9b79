#include <string.h>

#include "check.h"
#include "results.h"

static value *run(const char *method, int labels, double acc, double f1, double seconds)
{
    value *v = value_map();
    value_set(v, "method", value_str(method));
    value_set(v, "labels", value_int(labels));
    value_set(v, "accuracy", value_float(acc));
    value_set(v, "macro_f1", value_float(f1));
    if (seconds >= 0) value_set(v, "seconds", value_float(seconds));
    return v;
}

static int add(results *r, value *v, error *e)
{
    int rc = results_add(r, v, e);
    value_free(v);
    return rc;
}

static void test_groups_mean_std(void)
{
    const char *keys[] = {"method", "labels"}, *mets[] = {"accuracy", "macro_f1"};
    error e;
    results *r = results_new(keys, 2, mets, 2, &e);
    CHECK(add(r, run("mlp", 50, 0.85, 0.84, 10), &e) == 0);
    CHECK(add(r, run("logreg", 50, 0.80, 0.79, -1), &e) == 0);
    CHECK(add(r, run("mlp", 50, 0.87, 0.86, 12), &e) == 0);
    CHECK(add(r, run("mlp", 50, 0.89, 0.85, 14), &e) == 0);
    CHECK(add(r, run("mlp", 10, 0.5, 0.5, -1), &e) == 0);
    value *t = results_to_value(r);
    CHECK(t->n == 3); /* mlp/50, logreg/50, mlp/10 in first-seen order */
    const value *g = t->items[0];
    CHECK(strcmp(value_get_str(g, "method", ""), "mlp") == 0 && value_get_num(g, "labels", 0) == 50);
    CHECK(value_get_num(g, "runs", 0) == 3);
    CHECK_NEAR(value_get_num(value_get(g, "accuracy"), "mean", 0), 0.87, 1e-12);
    CHECK_NEAR(value_get_num(value_get(g, "accuracy"), "std", 0), 0.02, 1e-12); /* sample std (n - 1) */
    CHECK_NEAR(value_get_num(value_get(g, "macro_f1"), "std", 0), 0.01, 1e-12);
    CHECK_NEAR(value_get_num(g, "seconds", 0), 12, 1e-12);
    const value *lr = t->items[1];
    CHECK(value_get(value_get(lr, "accuracy"), "std")->kind == VALUE_NIL); /* one run: no spread */
    CHECK(value_get(lr, "seconds")->kind == VALUE_NIL);
    CHECK(value_get_num(t->items[2], "labels", 0) == 10);
    value_free(t);
    results_free(r);
}

static void test_errors(void)
{
    const char *keys[] = {"method"}, *mets[] = {"accuracy"};
    error e;
    results *r = results_new(keys, 1, mets, 1, &e);
    value *v = value_map();
    value_set(v, "method", value_str("mlp"));
    CHECK(results_add(r, v, &e) == -1 && strstr(e.msg, "no field 'accuracy'"));
    value_set(v, "accuracy", value_str("high"));
    CHECK(results_add(r, v, &e) == -1 && strstr(e.msg, "non-numeric field 'accuracy'"));
    value_set(v, "accuracy", value_float(0.5));
    value_set(v, "method", value_array());
    CHECK(results_add(r, v, &e) == -1 && strstr(e.msg, "'method' is not a string or number"));
    value_remove(v, "method"); /* a missing key groups as "-" */
    CHECK(results_add(r, v, &e) == 0);
    value *t = results_to_value(r);
    CHECK(t->n == 1 && value_get(t->items[0], "method")->kind == VALUE_NIL);
    value_free(t);
    value_free(v);
    results_free(r);
    CHECK(results_new(keys, 1, mets, 0, &e) == NULL);
}

int main(void)
{
    RUN(test_groups_mean_std);
    RUN(test_errors);
    return check_summary();
}
