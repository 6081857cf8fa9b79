/* Fuzz harness: the CSV reader (csvread_parse) and its conversion to a data set (tabular_from_csv),
 * under a few option sets ssl-prep offers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "csvread.h"
#include "fuzz_common.h"
#include "tabular.h"

/* Converts and checks what a converted table promises: sizes, labels in range, finite features. */
static void convert(const csvread_doc *doc, const tabular_opts *o)
{
    error e = {{0}};
    tabular *t = tabular_from_csv(doc, "fuzz.csv", o, &e);
    if (!t) {
        FUZZ_ASSERT(e.msg[0] != '\0');
        return;
    }
    FUZZ_ASSERT(t->n <= doc->nrows);
    for (size_t i = 0; i < t->n; i++) FUZZ_ASSERT(t->y[i] >= -1 && t->y[i] < t->k);
    for (size_t i = 0; i < t->n * t->d; i++) FUZZ_ASSERT(isfinite(t->x[i]));
    for (size_t j = 0; j < t->d; j++) FUZZ_ASSERT(t->feature_names[j] != NULL);
    for (int c = 0; c < t->k; c++) FUZZ_ASSERT(t->class_names[c] != NULL);
    tabular_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const tabular_opts sets[] = {
        {.header = -1},
        {.header = 1, .label = "1", .unlabelled = "?", .impute = PREP_IMPUTE_MEAN},
        {.header = 0, .label = "none", .categorical = "1,2", .impute = PREP_IMPUTE_MEDIAN},
        {.header = -1, .label = "label", .categorical = "colour"},
    };
    csvread_opts co = csvread_defaults();
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) co.delim = ';', co.skip = 1;
        error e = {{0}};
        csvread_doc *doc = csvread_parse((const char *)data, size, "fuzz.csv", &co, &e);
        if (!doc) {
            FUZZ_ASSERT(e.msg[0] != '\0');
            continue;
        }
        for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) convert(doc, &sets[s]);
        csvread_free(doc);
    }
    return 0;
}
