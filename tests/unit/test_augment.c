/* Unit tests of the augmentation rules (lib/augment.c): threshold, balance and caps, ratio shares,
 * filter, round bookkeeping, and the whole stage on a small table with a hand-made classifier. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "check.h"

static void test_confident(void)
{
    const float p[] = {0.95f, 0.05f, 0.5f, 0.5f, 0.1f, 0.9f, 0.3f, 0.7f};
    int label[4];
    float conf[4];
    CHECK(augment_confident(p, 4, 2, 0.9, label, conf) == 2);
    CHECK(label[0] == 0 && label[1] == -1 && label[2] == 1 && label[3] == -1);
    CHECK_NEAR(conf[3], 0.7, 1e-7);
    /* max p equal to the threshold passes; ties go to the lower class */
    CHECK(augment_confident(p, 4, 2, 0.5, label, conf) == 4);
    CHECK(label[1] == 0);
    CHECK(augment_confident(p, 4, 2, 1.0, label, conf) == 0);
}

static void test_cap_for(void)
{
    size_t counts[3] = {5, 2, 9};
    CHECK(augment_cap_for(counts, 3, 0, 0) == SIZE_MAX);
    CHECK(augment_cap_for(counts, 3, 0, 4) == 4);
    CHECK(augment_cap_for(counts, 3, 1, 0) == 2);
    CHECK(augment_cap_for(counts, 3, 1, 1) == 1);   /* balance with a smaller per-class cap */
    CHECK(augment_cap_for(counts, 3, 1, 7) == 2);
    size_t none[3] = {5, 0, 9};
    CHECK(augment_cap_for(none, 3, 1, 0) == 0);     /* a class without confident rows: nothing kept */
}

static void test_cap_keeps_most_confident(void)
{
    error e;
    int label[] = {0, 0, 1, 0, 1, -1, 0};
    const float conf[] = {0.91f, 0.99f, 0.95f, 0.91f, 0.97f, 0.2f, 0.93f};
    CHECK(augment_cap(label, conf, 7, 2, 2, &e) == 4);
    /* class 0: rows 1 (0.99) and 6 (0.93) stay; rows 0 and 3 tie at 0.91 and go */
    CHECK(label[0] == -1 && label[1] == 0 && label[3] == -1 && label[6] == 0);
    CHECK(label[2] == 1 && label[4] == 1 && label[5] == -1);
    int l2[] = {0, 0, 0};
    const float c2[] = {0.9f, 0.9f, 0.9f};
    CHECK(augment_cap(l2, c2, 3, 1, 1, &e) == 1);
    CHECK(l2[0] == 0 && l2[1] == -1 && l2[2] == -1);   /* ties: the earlier row */
}

static void test_select_balance(void)
{
    error e;
    /* 3 classes: class 0 has 3 confident rows, class 1 two, class 2 one, and one row is unsure */
    const float p[] = {
        0.98f, 0.01f, 0.01f, 0.96f, 0.02f, 0.02f, 0.97f, 0.02f, 0.01f,
        0.05f, 0.94f, 0.01f, 0.05f, 0.92f, 0.03f, 0.02f, 0.03f, 0.95f, 0.4f, 0.3f, 0.3f,
    };
    int label[7];
    size_t counts[3];
    CHECK(augment_select(p, 7, 3, 0.9, 0, 0, label, counts, &e) == 6);
    CHECK(counts[0] == 3 && counts[1] == 2 && counts[2] == 1 && label[6] == -1);
    CHECK(augment_select(p, 7, 3, 0.9, 1, 0, label, counts, &e) == 3);
    CHECK(counts[0] == 1 && counts[1] == 1 && counts[2] == 1);
    CHECK(label[0] == 0 && label[1] == -1 && label[2] == -1 && label[3] == 1 && label[4] == -1 && label[5] == 2);
    CHECK(augment_select(p, 7, 3, 0.9, 0, 2, label, counts, &e) == 5);
    CHECK(counts[0] == 2 && label[1] == -1);   /* per-class 2: class 0 loses its least confident */
    CHECK(augment_select(p, 7, 3, 0.955, 0, 0, label, counts, &e) == 3);   /* a higher threshold */
}

static void test_ratio_and_shares(void)
{
    error e;
    CHECK(augment_ratio_rows(2, 50) == 100);
    CHECK(augment_ratio_rows(0.5, 5) == 3);   /* round half up */
    CHECK(augment_ratio_rows(0.01, 10) == 0);
    size_t w[3] = {5, 5, 10}, out[3];
    CHECK(augment_shares(40, w, 3, out, &e) == 0);
    CHECK(out[0] == 10 && out[1] == 10 && out[2] == 20);
    CHECK(augment_shares(7, w, 3, out, &e) == 0);   /* exact 1.75, 1.75, 3.5: remainders to 0 then 1 */
    CHECK(out[0] == 2 && out[1] == 2 && out[2] == 3);
    size_t eq[4];
    CHECK(augment_shares(6, NULL, 4, eq, &e) == 0);
    CHECK(eq[0] == 2 && eq[1] == 2 && eq[2] == 1 && eq[3] == 1);
    size_t zero[2] = {0, 0}, o2[2];
    augment_shares(3, zero, 2, o2, &e);
    CHECK(o2[0] + o2[1] == 3);
}

static void test_filter(void)
{
    const float p[] = {0.9f, 0.1f, 0.6f, 0.4f, 0.2f, 0.8f, 0.55f, 0.45f};
    int label[] = {0, 0, 0, -1};
    CHECK(augment_filter(p, label, 4, 2, 0.7) == 1);
    CHECK(label[0] == 0 && label[1] == -1 && label[2] == -1 && label[3] == -1);
    int l2[] = {0, 0, 1, 0};
    CHECK(augment_filter(p, l2, 4, 2, 0) == 4);   /* threshold 0: only disagreement drops */
    int l3[] = {1, 1, 0, 1};
    CHECK(augment_filter(p, l3, 4, 2, 0) == 0);
}

static void test_compare(void)
{
    const int prev[] = {-1, 0, 1, 2, -1, 1};
    const int cur[] = {3, 0, -1, 1, -1, 1};
    augment_diff d = augment_compare(prev, cur, 6);
    CHECK(d.added == 1 && d.removed == 1 && d.relabelled == 1 && d.same == 2);
    d = augment_compare(NULL, cur, 6);
    CHECK(d.added == 4 && d.removed == 0 && d.relabelled == 0 && d.same == 0);
}

/* A table of 2-d points: 2 labelled rows per class near (1,0) (class 0) and (0,1) (class 1), then
 * unlabelled rows: 3 near class 0, 2 near class 1, 1 on the boundary. */
static stream_table *toy_table(void)
{
    error e;
    stream_schema *s = stream_schema_new();
    int64_t d2[1] = {2};
    stream_schema_add(s, "x", STREAM_F32, 1, d2, &e);
    stream_schema_add(s, "y", STREAM_I32, 0, NULL, &e);
    stream_schema_add(s, "id", STREAM_I64, 0, NULL, &e);
    stream_table *t = stream_table_new(s);
    stream_schema_free(s);
    static const float x[] = {1, 0, 0.9f, 0.1f, 0, 1, 0.1f, 0.9f, 0.95f, 0, 1, 0.05f, 0.8f, 0.2f,
                              0, 0.9f, 0.2f, 1, 0.5f, 0.5f};
    static const int32_t y[] = {0, 0, 1, 1, -1, -1, -1, -1, -1, -1};
    stream_table_resize(t, 10, &e);
    memcpy(stream_table_col(t, "x"), x, sizeof x);
    memcpy(stream_table_col(t, "y"), y, sizeof y);
    int64_t *id = stream_table_col(t, "id");
    for (int i = 0; i < 10; i++) id[i] = 100 + i;
    return t;
}

/* Logistic regression with p = softmax(10 x): confident away from the diagonal. */
static classifier *toy_classifier(void)
{
    error e;
    mlp *m = mlp_new(2, 2, 0, NULL, 0, &e);
    float *w = nn_data(&m->params, m->iw[0]), *b = nn_data(&m->params, m->ib[0]);
    w[0] = 10, w[1] = 0, w[2] = 0, w[3] = 10;
    b[0] = b[1] = 0;
    return classifier_from_mlp(m, &e);
}

static void test_run_pseudo(void)
{
    error e;
    stream_table *t = toy_table();
    classifier *c = toy_classifier();
    augment_opts o;
    augment_opts_default(&o);
    o.pseudo = c;
    o.weight = 0.25f;
    augment_report rep;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) == 0);
    CHECK(rep.labelled == 4 && rep.unlabelled == 6 && rep.pseudo == 5 && rep.rounds == 1);
    CHECK(t->nrows == 9);   /* the boundary row is dropped */
    const int32_t *y = stream_table_col(t, "y"), *origin = stream_table_col(t, "origin");
    const float *w = stream_table_col(t, "w");
    const int64_t *id = stream_table_col(t, "id");
    CHECK(origin && w);
    static const int32_t want_y[] = {0, 0, 1, 1, 0, 0, 0, 1, 1};
    for (int i = 0; i < 9; i++) {
        CHECK(y[i] == want_y[i]);
        CHECK(origin[i] == (i < 4 ? AUGMENT_REAL : AUGMENT_PSEUDO));
        CHECK_NEAR(w[i], i < 4 ? 1.0 : 0.25, 0);
        CHECK(id[i] == 100 + i);   /* input order */
    }
    const value *names = value_get(t->schema->meta, AUGMENT_META_ORIGINS);
    CHECK(names && names->n == 3 && strcmp(names->items[2]->s, "pseudo") == 0);
    stream_table_free(t);

    /* balance: class 1 has 2 confident rows, so class 0 keeps its 2 most confident of 3 */
    t = toy_table();
    o.balance = 1;
    o.keep_unlabelled = 1;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) == 0);
    CHECK(rep.pseudo == 4 && rep.unlabelled_kept == 2 && t->nrows == 10);
    y = stream_table_col(t, "y"), origin = stream_table_col(t, "origin");
    CHECK(y[4] == 0 && y[5] == 0 && y[6] == -1 && origin[6] == AUGMENT_REAL && y[9] == -1);
    stream_table_free(t);
    classifier_free(c);
}

static void test_run_rounds(void)
{
    error e;
    stream_table *t = toy_table();
    classifier *c = toy_classifier();
    augment_opts o;
    augment_opts_default(&o);
    o.pseudo = c;
    o.threshold = 0.6;
    o.rounds = 3;
    o.round_cfg.nhidden = 0;
    o.round_cfg.epochs = 50;
    augment_report rep;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) == 0);
    CHECK(rep.rounds == 3);
    for (int r = 0; r < 3; r++) {
        const augment_round *s = &rep.round[r];
        /* every round's selection is accounted for: kept + changed + new */
        CHECK(s->diff.added + s->diff.relabelled + s->diff.same == s->selected);
        CHECK(s->smallest <= s->largest && s->selected <= 6);
        size_t before = r ? rep.round[r - 1].selected : 0;
        CHECK(before + s->diff.added - s->diff.removed == s->selected);
    }
    CHECK(rep.round[0].diff.added == rep.round[0].selected);
    CHECK(rep.pseudo == rep.round[2].selected);
    stream_table_free(t);
    classifier_free(c);
}

static void test_run_errors(void)
{
    error e;
    stream_table *t = toy_table();
    classifier *c = toy_classifier();
    augment_opts o;
    augment_opts_default(&o);
    o.pseudo = c;
    augment_report rep;
    o.threshold = 0;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) < 0 && strstr(e.msg, "outside (0, 1]"));
    o.threshold = 1.5;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) < 0);
    o.threshold = 0.9;
    int32_t *y = stream_table_col(t, "y");
    for (int i = 0; i < 4; i++) y[i] = -1;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) < 0 && strstr(e.msg, "no labelled rows"));
    y[0] = 2;
    CHECK(augment_run(t, 2, &o, NULL, &rep, &e) < 0 && strstr(e.msg, "label 2"));
    stream_table_free(t);
    classifier_free(c);
}

int main(void)
{
    RUN(test_confident);
    RUN(test_cap_for);
    RUN(test_cap_keeps_most_confident);
    RUN(test_select_balance);
    RUN(test_ratio_and_shares);
    RUN(test_filter);
    RUN(test_compare);
    RUN(test_run_pseudo);
    RUN(test_run_rounds);
    RUN(test_run_errors);
    return check_summary();
}
