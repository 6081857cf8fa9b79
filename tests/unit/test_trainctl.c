/* trainctl: the training state survives a write and a read bit for bit (floats, ints, the
 * generator, Adam, doubles including infinities); a blocked SIGTERM and the test hook stop
 * training at the next step; checkpoints are written when `every` says, atomically, and load back
 * with their kind and epoch checked. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "trainctl.h"

static char dir[] = "/tmp/test_trainctl.XXXXXX";

/* f written and read back. */
static model_file *round_trip(const model_file *f)
{
    error e;
    char *buf = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&buf, &len);
    CHECK(model_file_write(f, w, &e) == 0);
    fclose(w);
    FILE *r = fmemopen(buf, len, "rb");
    model_file *g = model_file_read(r, "mem", &e);
    fclose(r);
    free(buf);
    CHECK(g != NULL);
    return g;
}

static void test_state_round_trip(void)
{
    error e;
    model_file *f = model_file_new("mlp");
    float x[5] = {1.5f, -0.0f, 3e38f, 1e-30f, -7};
    int idx[4] = {3, 0, (1 << 24) - 1, 2};
    rng r, r2;
    rng_seed(&r, 42);
    adam a, a2;
    CHECK(adam_init(&a, 3, &e) == 0 && adam_init(&a2, 3, &e) == 0);
    float p[3] = {1, 2, 3}, g[3] = {0.5f, -1, 2};
    adam_step(&a, NULL, p, g);
    adam_step(&a, NULL, p, g);
    CHECK(trainctl_put_floats(f, "x", x, 5, &e) == 0);
    CHECK(trainctl_put_ints(f, "idx", idx, 4, &e) == 0);
    trainctl_put_rng(f, "rng", &r);
    CHECK(trainctl_put_adam(f, "adam", &a, &e) == 0);
    trainctl_put_num(f, "best", -INFINITY);
    trainctl_put_num(f, "third", 1.0 / 3.0);
    int bad[1] = {1 << 24};
    CHECK(trainctl_put_ints(f, "bad", bad, 1, &e) < 0 && strstr(e.msg, "cannot be stored"));

    model_file *h = round_trip(f);
    float y[5];
    int jdx[4];
    double best, third;
    CHECK(trainctl_get_floats(h, "x", y, 5, &e) == 0 && memcmp(x, y, sizeof x) == 0);
    CHECK(trainctl_get_ints(h, "idx", jdx, 4, &e) == 0 && memcmp(idx, jdx, sizeof idx) == 0);
    CHECK(trainctl_get_rng(h, "rng", &r2, &e) == 0 && rng_u64(&r) == rng_u64(&r2));
    CHECK(trainctl_get_adam(h, "adam", &a2, &e) == 0 && a2.t == 2);
    CHECK(memcmp(a.m, a2.m, 3 * sizeof(float)) == 0 && memcmp(a.v, a2.v, 3 * sizeof(float)) == 0);
    CHECK(trainctl_get_num(h, "best", &best, &e) == 0 && isinf(best) && best < 0);
    CHECK(trainctl_get_num(h, "third", &third, &e) == 0 && third == 1.0 / 3.0);
    CHECK(trainctl_get_floats(h, "x", y, 4, &e) < 0 && strstr(e.msg, "state.x: 5 values in the checkpoint, expected 4"));
    CHECK(trainctl_get_num(h, "nope", &best, &e) < 0 && strstr(e.msg, "no 'nope'"));
    CHECK(trainctl_get_rng(h, "nope", &r2, &e) < 0);
    model_file_free(f);
    model_file_free(h);
    adam_free(&a);
    adam_free(&a2);
}

static void test_stop_hook(void)
{
    error e;
    trainctl t;
    setenv("SSL_STOP_AFTER_STEPS", "3", 1);
    CHECK(trainctl_init(&t, NULL, 0, &e) == 0);
    unsetenv("SSL_STOP_AFTER_STEPS");
    CHECK(trainctl_step(&t) == 0);
    CHECK(trainctl_step(&t) == 0);
    CHECK(trainctl_step(&t) == 1 && t.sig == SIGINT);
    CHECK(trainctl_step(&t) == 1);
    CHECK(trainctl_step(NULL) == 0);
    trainctl_free(&t);
}

static void test_blocked_signal(void)
{
    error e;
    trainctl t;
    CHECK(trainctl_init(&t, NULL, 0, &e) == 0);
    CHECK(trainctl_step(&t) == 0);
    raise(SIGTERM);   /* blocked: pending, the process lives on */
    CHECK(trainctl_step(&t) == 1 && t.sig == SIGTERM);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    int got;
    CHECK(sigwait(&s, &got) == 0 && got == SIGTERM);   /* consumed, so the next test starts clean */
    trainctl_free(&t);
}

static model_file *state(const char *kind, float v)
{
    error e;
    model_file *f = model_file_new(kind);
    int64_t d[1] = {1};
    CHECK(model_file_add(f, "w", 1, d, &v, &e) == 0);
    return f;
}

static void test_checkpoints(void)
{
    error e;
    char model[256], ckpt[300];
    snprintf(model, sizeof model, "%s/m.model", dir);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", model);
    trainctl t;
    CHECK(trainctl_init(&t, model, 2, &e) == 0);
    CHECK(strcmp(t.path, ckpt) == 0);
    CHECK(trainctl_load(&t, "mlp", &e) < 0 && strstr(e.msg, "nothing to resume"));
    CHECK(trainctl_held_epoch(&t) == -1);
    CHECK(trainctl_epoch_end(&t, state("mlp", 1), 1, &e) == 0 && access(ckpt, F_OK) != 0);   /* not every 2 */
    CHECK(trainctl_held_epoch(&t) == 1);
    CHECK(trainctl_epoch_end(&t, state("mlp", 2), 2, &e) == 0 && access(ckpt, F_OK) == 0);
    CHECK(trainctl_epoch_end(&t, state("mlp", 3), 3, &e) == 0);
    CHECK(trainctl_epoch_end(&t, NULL, 4, &e) < 0);   /* a failed save is the caller's error */
    trainctl_free(&t);

    CHECK(trainctl_init(&t, model, 0, &e) == 0);
    CHECK(trainctl_load(&t, "vae", &e) < 0 && strstr(e.msg, "kind 'mlp', expected 'vae'"));
    CHECK(trainctl_load(&t, "mlp", &e) == 0 && trainctl_resume_epoch(&t) == 2);
    CHECK(model_file_param(t.resume, "w", &e)->data[0] == 2);
    error_set(&e, "boom");
    CHECK(trainctl_named(&t, -1, &e) < 0 && strstr(e.msg, "m.model.ckpt: boom"));
    trainctl_remove(&t);
    CHECK(access(ckpt, F_OK) != 0);
    trainctl_free(&t);

    /* a model file without a training state is not a checkpoint */
    FILE *f = fopen(ckpt, "wb");
    model_file *plain = state("mlp", 5);
    CHECK(model_file_write(plain, f, &e) == 0);
    fclose(f);
    model_file_free(plain);
    CHECK(trainctl_init(&t, model, 0, &e) == 0);
    CHECK(trainctl_load(&t, "mlp", &e) < 0 && strstr(e.msg, "not a checkpoint"));
    trainctl_remove(&t);
    trainctl_free(&t);
    CHECK(trainctl_resume_epoch(NULL) == 0);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_state_round_trip);
    RUN(test_stop_hook);
    RUN(test_blocked_signal);
    RUN(test_checkpoints);
    rmdir(dir);
    return check_summary();
}
