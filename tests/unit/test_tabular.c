/* tabular: CSV fields to features and labels, header detection, errors naming file:row:column. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "csvread.h"
#include "tabular.h"

static tabular *load(const char *text, const tabular_opts *o, error *e)
{
    csvread_opts co = csvread_defaults();
    csvread_doc *d = csvread_parse(text, strlen(text), "t.csv", &co, e);
    if (!d) return NULL;
    tabular *t = tabular_from_csv(d, "t.csv", o, e);
    csvread_free(d);
    return t;
}

static const tabular_opts defaults = {.header = -1};

static void test_numeric_no_header(void)
{
    error e = {0};
    tabular *t = load("1,2,0\n3,4.5,2\n", &defaults, &e);
    CHECK(t && t->n == 2 && t->d == 2);
    CHECK(t->x[0] == 1 && t->x[3] == 4.5f);
    CHECK(t->y[0] == 0 && t->y[1] == 2 && t->k == 3);
    CHECK(strcmp(t->class_names[1], "1") == 0);
    CHECK(strcmp(t->feature_names[1], "c2") == 0);
    tabular_free(t);
}

static void test_header_detected_and_named_labels(void)
{
    error e = {0};
    tabular *t = load("a,b,species\n1,2,virginica\n3,4,setosa\n5,6,\n", &defaults, &e);
    CHECK(t && t->n == 3 && t->d == 2);
    CHECK(t->k == 2 && strcmp(t->class_names[0], "setosa") == 0);
    CHECK(t->y[0] == 1 && t->y[1] == 0 && t->y[2] == -1);
    CHECK(strcmp(t->feature_names[0], "a") == 0);
    CHECK(t->line[0] == 2);
    tabular_free(t);
}

static void test_label_by_name_and_marker(void)
{
    error e = {0};
    tabular_opts o = defaults;
    o.label = "cls";
    o.unlabelled = "?";
    tabular *t = load("cls,f\n1,0.5\n?,0.25\n", &o, &e);
    CHECK(t && t->d == 1 && t->y[0] == 1 && t->y[1] == -1 && t->x[1] == 0.25f);
    tabular_free(t);
    o.label = "nope";
    CHECK(load("cls,f\n1,0.5\n", &o, &e) == NULL);
    CHECK(strstr(e.msg, "no label column 'nope'") != NULL);
    o.label = "5";
    CHECK(load("1,2\n3,4\n", &o, &e) == NULL);
    CHECK(strncmp(e.msg, "t.csv:1:5: no label column 5", 28) == 0);
}

static void test_no_labels(void)
{
    error e = {0};
    tabular_opts o = defaults;
    o.label = "none";
    tabular *t = load("1,2\n3,4\n", &o, &e);
    CHECK(t && t->d == 2 && !t->has_labels && t->y[0] == -1);
    tabular_free(t);
}

static void test_errors_name_the_place(void)
{
    error e = {0};
    CHECK(load("1,2,0\n3,x,1\n", &defaults, &e) == NULL);
    CHECK(strcmp(e.msg, "t.csv:2:2: \"x\" is not a number") == 0);
    CHECK(load("1,2,0\n3,4,1\n5,1\n", &defaults, &e) == NULL);
    CHECK(strcmp(e.msg, "t.csv:3:3: row has 2 fields, expected 3") == 0);
    CHECK(load("1,2,0\n3,nan,1\n", &defaults, &e) == NULL);
    CHECK(strstr(e.msg, "t.csv:2:2:") && strstr(e.msg, "finite"));
    CHECK(load("1,2,0\n3,inf,1\n", &defaults, &e) == NULL);
    CHECK(load("1,2,0\n3,1e40,1\n", &defaults, &e) == NULL);
    CHECK(load("", &defaults, &e) == NULL);
    CHECK(strstr(e.msg, "empty input") != NULL);
    CHECK(load("a,b\n", &defaults, &e) == NULL);
    CHECK(strstr(e.msg, "no data rows") != NULL);
}

static void test_empty_fields_and_impute(void)
{
    error e = {0};
    const char *text = "1,10,0\n,20,1\n5,,1\n9,40,0\n";
    CHECK(load(text, &defaults, &e) == NULL);
    CHECK(strncmp(e.msg, "t.csv:2:1: empty value", 22) == 0);
    tabular_opts o = defaults;
    o.impute = PREP_IMPUTE_MEAN;
    tabular *t = load(text, &o, &e);
    CHECK(t != NULL);
    CHECK_NEAR(t->x[2], 5.0, 1e-6);            /* mean of 1, 5, 9 */
    CHECK_NEAR(t->x[5], 70.0 / 3.0, 1e-5);     /* mean of 10, 20, 40 */
    tabular_free(t);
    o.impute = PREP_IMPUTE_MEDIAN;
    t = load(text, &o, &e);
    CHECK(t && t->x[2] == 5.0f && t->x[5] == 20.0f);
    tabular_free(t);
}

static void test_categorical_one_hot(void)
{
    error e = {0};
    tabular_opts o = defaults;
    o.categorical = "colour";
    tabular *t = load("w,colour,y\n1,red,0\n2,blue,1\n3,red,1\n", &o, &e);
    CHECK(t && t->d == 3);
    CHECK(strcmp(t->feature_names[1], "colour=blue") == 0 && strcmp(t->feature_names[2], "colour=red") == 0);
    float want[9] = {1, 0, 1, 2, 1, 0, 3, 0, 1};
    for (int i = 0; i < 9; i++) CHECK(t->x[i] == want[i]);
    tabular_free(t);
    /* an empty category: an error, or the most frequent value when imputing */
    const char *text = "1,red,0\n2,,1\n3,red,1\n4,blue,0\n";
    o.categorical = "2";
    CHECK(load(text, &o, &e) == NULL);
    CHECK(strncmp(e.msg, "t.csv:2:2: empty value", 22) == 0);
    o.impute = PREP_IMPUTE_MEAN;
    t = load(text, &o, &e);
    CHECK(t && t->d == 3 && t->x[1 * 3 + 2] == 1.0f && t->x[1 * 3 + 1] == 0.0f);
    tabular_free(t);
}

static void test_forced_header_flags(void)
{
    error e = {0};
    tabular_opts o = defaults;
    o.header = 1;
    tabular *t = load("1,2,0\n3,4,1\n", &o, &e);
    CHECK(t && t->n == 1 && strcmp(t->feature_names[0], "1") == 0);
    tabular_free(t);
    o.header = 0;
    CHECK(load("a,b,c\n3,4,1\n", &o, &e) == NULL);
    CHECK(strcmp(e.msg, "t.csv:1:1: \"a\" is not a number") == 0);
}

int main(void)
{
    RUN(test_numeric_no_header);
    RUN(test_header_detected_and_named_labels);
    RUN(test_label_by_name_and_marker);
    RUN(test_no_labels);
    RUN(test_errors_name_the_place);
    RUN(test_empty_fields_and_impute);
    RUN(test_categorical_one_hot);
    RUN(test_forced_header_flags);
    return check_summary();
}
