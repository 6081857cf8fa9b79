/* dataset: stream tables from tabular data, the scaler model file round trip, split and mask on tables. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "csvread.h"
#include "dataset.h"

static stream_table *table_from(const char *text, error *e)
{
    csvread_opts co = csvread_defaults();
    tabular_opts to = {.header = -1};
    csvread_doc *d = csvread_parse(text, strlen(text), "t.csv", &co, e);
    tabular *tab = d ? tabular_from_csv(d, "t.csv", &to, e) : NULL;
    stream_table *t = tab ? dataset_from_tabular(tab, "dir/t.csv", e) : NULL;
    tabular_free(tab);
    csvread_free(d);
    return t;
}

static void test_from_tabular_meta(void)
{
    error e = {0};
    stream_table *t = table_from("a,b,cls\n1,-2,x\n3,4,y\n5,6,x\n", &e);
    CHECK(t && t->nrows == 3);
    CHECK(strcmp(value_get_str(t->schema->meta, DATASET_META_SOURCE, ""), "t.csv") == 0);
    CHECK(stream_meta_num_classes(t->schema) == 2);
    const value *r = value_get(t->schema->meta, STREAM_META_RANGE);
    CHECK(r && r->n == 2 && value_num(r->items[0]) == -2 && value_num(r->items[1]) == 6);
    const int64_t *id = stream_table_col(t, "id");
    const int32_t *y = stream_table_col(t, "y");
    CHECK(id[2] == 2 && y[1] == 1);
    stream_table_free(t);
}

static void test_scaler_model_round_trip(void)
{
    error e = {0};
    stream_table *t = table_from("1,10,0\n3,10,1\n", &e);
    prep_colstats st;
    prep_colstats_init(&st, 2, &e);
    prep_colstats_add(&st, stream_table_col(t, "x"), t->nrows, NULL);
    prep_scaler sc, back;
    CHECK(prep_scaler_fit(&sc, PREP_SCALE_STANDARD, &st, &e) == 0);
    model_file *m = dataset_scaler_model(&sc, t->schema, &e);
    CHECK(m && strcmp(m->kind, "scaler") == 0);
    FILE *f = tmpfile();
    CHECK(model_file_write(m, f, &e) == 0);
    rewind(f);
    model_file *m2 = model_file_read(f, "s.model", &e);
    fclose(f);
    CHECK(m2 != NULL);
    CHECK(dataset_scaler_load(m2, "s.model", 2, &back, &e) == 0);
    CHECK(back.method == PREP_SCALE_STANDARD && back.shift[0] == 2.0f && back.scale[0] == 1.0f && back.scale[1] == 1.0f);
    CHECK(dataset_scaler_load(m2, "s.model", 3, &back, &e) == -1);
    CHECK(strcmp(e.msg, "the stream has 3 features, scaler s.model has 2") == 0);
    prep_scaler_free(&sc);
    prep_scaler_free(&back);
    prep_colstats_free(&st);
    model_file_free(m);
    model_file_free(m2);
    stream_table_free(t);
}

static void test_split_and_mask_tables(void)
{
    char text[4096] = "";
    for (int i = 0; i < 40; i++) {
        char row[32];
        snprintf(row, sizeof row, "%d,%d\n", i, i % 4);
        strcat(text, row);
    }
    error e = {0};
    stream_table *t = table_from(text, &e), *tr, *te;
    CHECK(dataset_split(t, 0.25, 42, &tr, &te, &e) == 0);
    CHECK(tr->nrows == 30 && te->nrows == 10);
    CHECK(strcmp(value_get_str(te->schema->meta, DATASET_META_SPLIT, ""), "test") == 0);
    const int64_t *id = stream_table_col(te, "id");
    const float *x = stream_table_col(te, "x");
    for (size_t i = 0; i < te->nrows; i++) CHECK(x[i] == (float)id[i]);   /* rows stay whole */
    for (size_t i = 1; i < te->nrows; i++) CHECK(id[i] > id[i - 1]);       /* and in order */
    CHECK(dataset_mask(tr, DATASET_MASK_PER_CLASS, 2, 0, 1, &e) == 8);
    CHECK(tr->nrows == 8);
    CHECK(value_num(value_get(tr->schema->meta, DATASET_META_LABELS_KEPT)) == 8);
    stream_table_free(t);
    stream_table_free(tr);
    stream_table_free(te);
}

int main(void)
{
    RUN(test_from_tabular_meta);
    RUN(test_scaler_model_round_trip);
    RUN(test_split_and_mask_tables);
    return check_summary();
}
