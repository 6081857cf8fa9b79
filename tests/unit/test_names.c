#include <string.h>

#include "check.h"
#include "names.h"
#include "nn.h"
#include "prep.h"
#include "vae.h"

static void test_find(void)
{
    static const char *const names[] = {"none", "relu", "softplus", NULL};
    static const char *const empty[] = {NULL};
    CHECK(names_find(names, "none") == 0);
    CHECK(names_find(names, "softplus") == 2);
    CHECK(names_find(names, "soft") == -1);
    CHECK(names_find(names, "") == -1);
    CHECK(names_find(empty, "none") == -1);
}

/* the modules' parsers go through it: a name round-trips, an unknown one leaves the output alone */
static void test_parsers(void)
{
    nn_act a = NN_ACT_NONE;
    CHECK(nn_act_parse("tanh", &a) == 0 && a == NN_ACT_TANH);
    CHECK(strcmp(nn_act_name(a), "tanh") == 0);
    CHECK(nn_act_parse("Tanh", &a) == -1 && a == NN_ACT_TANH);
    vaenet_lik l = VAENET_BERNOULLI;
    CHECK(vaenet_lik_parse("gaussian", &l) == 0 && l == VAENET_GAUSSIAN);
    CHECK(vaenet_lik_parse("poisson", &l) == -1 && l == VAENET_GAUSSIAN);
    prep_scale_method m = PREP_SCALE_NONE;
    CHECK(prep_scale_parse(prep_scale_name(PREP_SCALE_STANDARD), &m) == 0 && m == PREP_SCALE_STANDARD);
    CHECK(prep_scale_parse("zscore", &m) == -1 && m == PREP_SCALE_STANDARD);
}

int main(void)
{
    RUN(test_find);
    RUN(test_parsers);
    return check_summary();
}
