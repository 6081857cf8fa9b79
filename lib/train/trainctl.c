#include "trainctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "dist.h"
#include "params.h"

/* A thread that does not block the signals (the BLAS library's workers, started before main) would
 * take the default action, ending the process. This handler, run in such a thread, blocks both
 * signals in it from the handler's return on (the mask saved in its context) and sends the signal
 * to the process again: once every thread blocks them, it stays pending for trainctl_step. No
 * global state: the pending signal is the flag. */
static void forward(int sig, siginfo_t *info, void *ctx)
{
    (void)info;
    ucontext_t *uc = ctx;
    sigaddset(&uc->uc_sigmask, SIGINT);
    sigaddset(&uc->uc_sigmask, SIGTERM);
    kill(getpid(), sig);
}

/* The forwarding handler for sig, unless the process was started ignoring it. */
static void install(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0 || sa.sa_handler == SIG_IGN) return;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(sig, &sa, NULL);
}

int trainctl_init(trainctl *t, const char *model_path, int every, error *e)
{
    memset(t, 0, sizeof *t);
    t->every = every;
    const char *hook = getenv("SSL_STOP_AFTER_STEPS");
    if (hook && *hook) t->stop_after = strtol(hook, NULL, 10);
    if (model_path) {
        size_t n = strlen(model_path) + sizeof TRAINCTL_SUFFIX;
        if (!(t->path = malloc(n))) return error_set(e, "out of memory");
        snprintf(t->path, n, "%s%s", model_path, TRAINCTL_SUFFIX);
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &s, &t->old) != 0) return error_set(e, "sigprocmask: %s", strerror(errno));
    install(SIGINT);
    install(SIGTERM);
    return 0;
}

void trainctl_free(trainctl *t)
{
    model_file_free(t->held);
    model_file_free(t->resume);
    value_free(t->settings);
    free(t->path);
    t->held = t->resume = NULL;
    t->settings = NULL;
    t->path = NULL;
}

void trainctl_set_settings(trainctl *t, value *settings)
{
    value_free(t->settings);
    t->settings = settings;
}

/* v as compact JSON in buf (n), cut with "..." when longer. */
static const char *setting_text(const value *v, char *buf, size_t n)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (f) {
        if (v) value_print_json(f, v, -1);
        else fputs("nothing", f);
        fclose(f);
    }
    snprintf(buf, n, "%s%s", s ? s : "?", s && len >= n ? "..." : "");
    free(s);
    return buf;
}

/* The settings saved with state f against t's: the first that differs as an error. */
static int same_settings(const trainctl *t, const model_file *f, error *e)
{
    const value *old = value_get(value_get(f->info, "state"), "settings");
    if (!t->settings || !old) return 0;   /* checkpoints of earlier versions carry none */
    for (size_t j = 0; j < t->settings->n; j++) {
        size_t i = (j + 1) % t->settings->n;   /* the first (the thread count) last: the others say more */
        const char *k = t->settings->keys[i];
        const value *was = value_get(old, k), *now = t->settings->items[i];
        if (value_equal(was, now)) continue;
        char a[96], b[96];
        return error_set(e, "%s: the interrupted run had --%s %s, this one --%s %s: resume with its options", t->path, k,
                         setting_text(was, a, sizeof a), k, setting_text(now, b, sizeof b));
    }
    return 0;
}

int trainctl_step(trainctl *t)
{
    if (!t) return 0;
    if (t->sig) return 1;
    t->steps++;
    sigset_t p;
    if (sigpending(&p) == 0) {
        if (sigismember(&p, SIGINT)) t->sig = SIGINT;
        else if (sigismember(&p, SIGTERM)) t->sig = SIGTERM;
    }
    if (!t->sig && t->stop_after > 0 && t->steps >= t->stop_after) t->sig = SIGINT;
    if (dist_size() > 1) {   /* every rank stops at the same step, on the signal any of them got */
        double got[2] = {t->sig == SIGINT, t->sig == SIGTERM};
        error e;
        if (dist_allreduce_sum_f64(got, 2, &e) == 0) t->sig = got[1] > 0 ? SIGTERM : got[0] > 0 ? SIGINT : 0;
    }
    return t->sig != 0;
}

static int state_epoch(const model_file *f)
{
    return (int)value_get_num(value_get(f->info, "state"), "epoch", -1);
}

int trainctl_load(trainctl *t, const char *kind, error *e)
{
    if (!t->path) return error_set(e, "no checkpoint path");
    if (access(t->path, F_OK) != 0)
        return error_set(e, "%s: %s: nothing to resume (it is written when training is interrupted)", t->path,
                         strerror(errno));
    model_file *f = model_file_load(t->path, kind, e);
    if (!f) return -1;
    if (state_epoch(f) < 0) {
        model_file_free(f);
        return error_set(e, "%s: not a checkpoint (no training state)", t->path);
    }
    if (same_settings(t, f, e) < 0) {
        model_file_free(f);
        return -1;
    }
    model_file_free(t->resume);
    t->resume = f;
    return 0;
}

int trainctl_named(const trainctl *t, int rc, error *e)
{
    return rc < 0 && t->path ? error_prefix(e, "%s", t->path) : rc;
}

int trainctl_resume_epoch(const trainctl *t) { return t && t->resume ? state_epoch(t->resume) : 0; }

int trainctl_held_epoch(const trainctl *t) { return t && t->held ? state_epoch(t->held) : -1; }

int trainctl_default_epochs(size_t rows, int batch, int min_epochs, long min_steps)
{
    long per_epoch = batch > 0 && rows > 0 ? (long)((rows + (size_t)batch - 1) / (size_t)batch) : 1;
    long epochs = (min_steps + per_epoch - 1) / per_epoch;
    return epochs > min_epochs ? (int)epochs : min_epochs;
}

int trainctl_epoch_end(trainctl *t, model_file *state, int epoch, error *e)
{
    if (!state) return -1;
    if (!t) return model_file_free(state), 0;
    value_set(trainctl_state(state), "epoch", value_int(epoch));
    if (t->settings) value_set(trainctl_state(state), "settings", value_copy(t->settings));
    model_file_free(t->held);
    t->held = state;
    if (t->every > 0 && epoch > 0 && epoch % t->every == 0) return trainctl_write(t, e);
    return 0;
}

int trainctl_write(const trainctl *t, error *e)
{
    if (!t->held || !t->path || dist_rank() != 0) return 0;   /* every rank holds the same state */
    return model_file_save(t->held, t->path, e);
}

int trainctl_epoch_failed(error *e, int epoch)
{
    char msg[sizeof e->msg];
    snprintf(msg, sizeof msg, "%s", e->msg);
    return error_set(e, "epoch %d, %s", epoch, msg);
}

int trainctl_start(trainctl *t, model_file *initial, nn_params *p, adam *opt, rng *r, error *e)
{
    if (!initial) return -1;
    if (t && t->resume) {
        model_file_free(initial);
        if (trainctl_named(t, trainctl_state_restore(t->resume, p, opt, r, e), e) < 0) return -1;
        return trainctl_resume_epoch(t) + 1;
    }
    if (!t) return model_file_free(initial), 1;
    if (trainctl_epoch_end(t, trainctl_state_new(initial, opt, r, e), 0, e) < 0) return trainctl_named(t, -1, e);
    return 1;
}

void trainctl_remove(const trainctl *t)
{
    if (t->path && dist_rank() == 0) unlink(t->path);
}

/* ---- state in a model file ---- */

value *trainctl_state(model_file *f)
{
    value *s = value_get(f->info, "state");
    if (!s) value_set(f->info, "state", s = value_map());
    return s;
}

static const value *state_of(const model_file *f) { return value_get(f->info, "state"); }

static int state_name(char *buf, size_t n, const char *name, error *e)
{
    if (strlen(name) + 7 > n) return error_set(e, "state.%s: name too long", name);
    memcpy(buf, "state.", 6);
    memcpy(buf + 6, name, strlen(name) + 1);
    return 0;
}

int trainctl_put_floats(model_file *f, const char *name, const float *x, size_t n, error *e)
{
    char full[STREAM_NAME_MAX];
    if (state_name(full, sizeof full, name, e) < 0) return -1;
    int64_t dims[1] = {(int64_t)n};
    return model_file_add(f, full, 1, dims, x, e);
}

int trainctl_get_floats(const model_file *f, const char *name, float *x, size_t n, error *e)
{
    char full[STREAM_NAME_MAX];
    if (state_name(full, sizeof full, name, e) < 0) return -1;
    const model_param *p = model_file_param(f, full, e);
    if (!p) return -1;
    if (p->size != n) return error_set(e, "%s: %zu values in the checkpoint, expected %zu", full, p->size, n);
    memcpy(x, p->data, n * sizeof *x);
    return 0;
}

#define EXACT_INT (1 << 24)   /* float32 holds every integer below this exactly */

int trainctl_put_ints(model_file *f, const char *name, const int *x, size_t n, error *e)
{
    float *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return error_set(e, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (x[i] < 0 || x[i] >= EXACT_INT) rc = error_set(e, "state.%s: %d cannot be stored", name, x[i]);
        tmp[i] = (float)x[i];
    }
    if (!rc) rc = trainctl_put_floats(f, name, tmp, n, e);
    free(tmp);
    return rc;
}

int trainctl_get_ints(const model_file *f, const char *name, int *x, size_t n, error *e)
{
    float *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return error_set(e, "out of memory");
    int rc = trainctl_get_floats(f, name, tmp, n, e);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!(tmp[i] >= 0 && tmp[i] < EXACT_INT)) rc = error_set(e, "state.%s: a bad value", name);
        x[i] = (int)tmp[i];
    }
    free(tmp);
    return rc;
}

void trainctl_put_rng(model_file *f, const char *key, const rng *r)
{
    value *a = value_array();
    for (int i = 0; i < 4; i++) value_push(a, value_int((int64_t)r->s[i]));
    value_set(trainctl_state(f), key, a);
}

int trainctl_get_rng(const model_file *f, const char *key, rng *r, error *e)
{
    const value *a = value_get(state_of(f), key);
    if (!a || a->kind != VALUE_ARRAY || a->n != 4) return error_set(e, "checkpoint has no generator state '%s'", key);
    for (int i = 0; i < 4; i++) {
        if (a->items[i]->kind != VALUE_INT) return error_set(e, "checkpoint: bad generator state '%s'", key);
        r->s[i] = (uint64_t)a->items[i]->i;
    }
    return 0;
}

void trainctl_put_num(model_file *f, const char *key, double v)
{
    value_set(trainctl_state(f), key, value_float(v));
}

int trainctl_get_num(const model_file *f, const char *key, double *v, error *e)
{
    const value *x = value_get(state_of(f), key);
    if (!x || (x->kind != VALUE_FLOAT && x->kind != VALUE_INT)) return error_set(e, "checkpoint has no '%s'", key);
    *v = value_num(x);
    return 0;
}

int trainctl_put_adam(model_file *f, const char *name, const adam *a, error *e)
{
    char k[STREAM_NAME_MAX];
    snprintf(k, sizeof k, "%s.m", name);
    if (trainctl_put_floats(f, k, a->m, a->n, e) < 0) return -1;
    snprintf(k, sizeof k, "%s.v", name);
    if (trainctl_put_floats(f, k, a->v, a->n, e) < 0) return -1;
    snprintf(k, sizeof k, "%s.t", name);
    trainctl_put_num(f, k, (double)a->t);
    return 0;
}

int trainctl_get_adam(const model_file *f, const char *name, adam *a, error *e)
{
    char k[STREAM_NAME_MAX];
    double t;
    snprintf(k, sizeof k, "%s.t", name);
    if (trainctl_get_num(f, k, &t, e) < 0) return -1;
    snprintf(k, sizeof k, "%s.m", name);
    if (trainctl_get_floats(f, k, a->m, a->n, e) < 0) return -1;
    snprintf(k, sizeof k, "%s.v", name);
    if (trainctl_get_floats(f, k, a->v, a->n, e) < 0) return -1;
    a->t = (long)t;
    return 0;
}

model_file *trainctl_state_new(model_file *model, const adam *opt, const rng *r, error *e)
{
    if (!model) return NULL;
    trainctl_put_rng(model, "rng", r);
    if (trainctl_put_adam(model, "adam", opt, e) < 0) return model_file_free(model), NULL;
    return model;
}

int trainctl_state_restore(const model_file *f, nn_params *p, adam *opt, rng *r, error *e)
{
    if (nn_params_load(p, f, e) < 0 || trainctl_get_adam(f, "adam", opt, e) < 0 || trainctl_get_rng(f, "rng", r, e) < 0)
        return -1;
    return 0;
}
