/* Adam against hand computations (Kingma & Ba, Algorithm 1; the numbers were worked out in double
 * precision from the formulas in lib/adam.h). */
#include <math.h>

#include "adam.h"
#include "check.h"

static void test_two_steps_by_hand(void)
{
    adam a;
    error e;
    CHECK(adam_init(&a, 2, &e) == 0);
    float p[2] = {1.0f, -2.0f};
    /* step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25: p0 -= 1e-3 * 0.5 / (0.5 + 1e-8);
     * a zero gradient leaves p1 alone */
    const float g1[2] = {0.5f, 0.0f};
    adam_step(&a, NULL, p, g1);
    CHECK(a.t == 1);
    CHECK_NEAR(p[0], 0.99900000002, 1e-7);
    CHECK_NEAR(p[1], -2.0, 0);
    CHECK_NEAR(a.m[0], 0.05, 1e-7);      /* float32: relative 1e-6 */
    CHECK_NEAR(a.v[0], 0.00025, 1e-8);
    /* step 2: bias corrections 1/(1-0.9^2) and 1/(1-0.999^2) */
    const float g2[2] = {-1.0f, 3.0f};
    adam_step(&a, NULL, p, g2);
    CHECK_NEAR(p[0], 0.9993661035424056, 1e-7);
    CHECK_NEAR(p[1], -2.00074413682006, 1e-7);
    adam_reset(&a);
    CHECK(a.t == 0 && a.m[0] == 0.0f && a.v[1] == 0.0f);
    adam_free(&a);
}

static void test_decoupled_decay_follows_mask(void)
{
    /* a table with one weight tensor (decay) and one bias (no decay) */
    nn_params t;
    error e;
    nn_params_init(&t);
    int64_t d1[1] = {1};
    CHECK(nn_params_add(&t, "w", 1, d1, 1, &e) == 0);
    CHECK(nn_params_add(&t, "b", 1, d1, 0, &e) == 1);
    CHECK(nn_params_alloc(&t, &e) == 0);
    adam a;
    CHECK(adam_init_params(&a, &t, &e) == 0);
    a.weight_decay = 0.1f;
    nn_data(&t, 0)[0] = 2.0f;
    nn_data(&t, 1)[0] = 2.0f;
    nn_grad(&t, 0)[0] = 0.5f;
    nn_grad(&t, 1)[0] = 0.5f;
    adam_step(&a, NULL, t.data, t.grad);
    /* w: the Adam step of 1e-3 plus lr * wd * p = 2e-4; b: the Adam step only */
    CHECK_NEAR(nn_data(&t, 0)[0], 1.99880000002, 1e-6);
    CHECK_NEAR(nn_data(&t, 1)[0], 1.99900000002, 1e-6);
    adam_free(&a);
    nn_params_free(&t);
}

/* The vector loops (16, 8 or 4 lanes, the widest the CPU has) against the scalar formula in the
 * same float operations: the same bits for every element, whether it falls in a vector or in the
 * tail (37 elements: two 16-lane vectors, then 4 + 1 left over), and the cleared gradient is 0. */
static void test_vector_lanes_match_scalar(void)
{
    enum { N = 37 };
    adam a;
    error e;
    CHECK(adam_init(&a, N, &e) == 0);
    float p[N], g[N], ref_p[N], ref_m[N] = {0}, ref_v[N] = {0};
    for (int i = 0; i < N; i++) p[i] = ref_p[i] = 0.1f * (float)(i - 18);
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < N; i++) g[i] = 0.37f * (float)((i * 7 + t * 3) % 11) - 1.5f;
        float c1 = (float)(1.0 / (1.0 - pow(0.9f, t))), c2 = (float)(1.0 / (1.0 - pow(0.999f, t)));
        for (int i = 0; i < N; i++) {
            ref_m[i] = 0.9f * ref_m[i] + (1.0f - 0.9f) * g[i];
            ref_v[i] = 0.999f * ref_v[i] + (1.0f - 0.999f) * g[i] * g[i];
            ref_p[i] -= 1e-3f * (ref_m[i] * c1) / (sqrtf(ref_v[i] * c2) + 1e-8f);
        }
        adam_step_clear(&a, NULL, p, g);
    }
    int same = 1, cleared = 1;
    for (int i = 0; i < N; i++) {
        same &= p[i] == ref_p[i] && a.m[i] == ref_m[i] && a.v[i] == ref_v[i];
        cleared &= g[i] == 0.0f;
    }
    CHECK(same);
    CHECK(cleared);
    adam_free(&a);
}

/* eps inside the root (the authors' GAN form): a gradient of 1e-6 moves p by 1e-3 * 1e-6 /
 * sqrt(1e-12 + 1e-8) = 9.9995e-6, where eps outside moves it by 1e-3 * 1e-6 / (1e-6 + 1e-8), about lr;
 * in the vector lanes and in the tail alike (37 elements). */
static void test_eps_inside_root(void)
{
    enum { N = 37 };
    adam in, out;
    error e;
    CHECK(adam_init(&in, N, &e) == 0 && adam_init(&out, N, &e) == 0);
    in.eps = 0.0f, in.eps_sqrt = 1e-8f;
    float p_in[N] = {0}, p_out[N] = {0}, g[N];
    for (int i = 0; i < N; i++) g[i] = 1e-6f;
    adam_step(&in, NULL, p_in, g);
    adam_step(&out, NULL, p_out, g);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= fabs(p_in[i] + 9.9995e-6) < 1e-9 && fabs(p_out[i] + 9.90099e-4) < 1e-8;
    CHECK(ok);
    adam_free(&in);
    adam_free(&out);
}

/* lr until the decay starts, then (epochs - epoch + 1) / (epochs - start + 1) of it; no decay when the
 * start is 0 or after the last epoch */
static void test_linear_decay(void)
{
    CHECK(adam_linear_decay(0.1, 3, 10, 0) == 0.1);
    CHECK(adam_linear_decay(0.1, 5, 10, 6) == 0.1);
    CHECK_NEAR(adam_linear_decay(0.1, 6, 10, 6), 0.1, 1e-15);
    CHECK_NEAR(adam_linear_decay(0.1, 8, 10, 6), 0.1 * 3 / 5, 1e-15);
    CHECK_NEAR(adam_linear_decay(0.1, 10, 10, 6), 0.1 / 5, 1e-15);
    CHECK(adam_linear_decay(0.1, 10, 10, 11) == 0.1);
}

int main(void)
{
    RUN(test_two_steps_by_hand);
    RUN(test_decoupled_decay_follows_mask);
    RUN(test_vector_lanes_match_scalar);
    RUN(test_eps_inside_root);
    RUN(test_linear_decay);
    return check_summary();
}
