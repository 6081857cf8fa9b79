#include "cli_train.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "dist.h"
#include "imagegrid.h"
#include "vmath.h"

void cli_train_init(cli *c, trainctl *t, trainlog *log, const char *model_path, int every, int resume,
                    const char *kind, value *settings)
{
    error e;
    if (trainctl_init(t, model_path, every, &e) < 0) cli_fail_error(c, &e);
    trainctl_set_settings(t, settings);
    if (log) log->ctl = t;
    if (resume && trainctl_load(t, kind, &e) < 0) cli_fail_error(c, &e);
}

void cli_train_interrupted(cli *c, trainctl *t)
{
    error e;
    int sig = t->sig, epoch = trainctl_held_epoch(t);
    if (trainctl_write(t, &e) < 0) cli_fail(c, "interrupted, and the checkpoint was not written: %s", e.msg);
    if (dist_rank() == 0) {   /* one message for the job, in one write: mpirun's own lines may come in */
        char line[1024], held[900] = "";
        if (epoch >= 0 && t->path)
            snprintf(held, sizeof held, "; %s holds the state after epoch %d: the same command with --resume continues",
                     t->path, epoch);
        snprintf(line, sizeof line, "%s: interrupted (%s)%s\n", c->prog, sig == SIGTERM ? "SIGTERM" : "SIGINT", held);
        fputs(line, stderr);
    }
    cli_abort_outputs(c);
    trainctl_free(t);
    fflush(NULL);
    /* die by the signal, as a shell expects of a program it interrupted */
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN) {
        signal(sig, SIG_DFL);
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, sig);
        raise(sig);
        sigprocmask(SIG_UNBLOCK, &s, NULL);
    }
    exit(128 + sig);
}

void cli_train_failed(cli *c, trainctl *t, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error e;
    int epoch = trainctl_held_epoch(t);
    if (epoch < 0 || !t->path) cli_fail(c, "%s", msg);
    if (trainctl_write(t, &e) < 0) cli_fail(c, "%s; the checkpoint was not written: %s", msg, e.msg);
    cli_fail(c, "%s; %s keeps the state after epoch %d", msg, t->path, epoch);
}

void cli_train_done(cli *c, trainctl *t)
{
    (void)c;
    trainctl_remove(t);
    trainctl_free(t);
}

value *cli_train_settings(void)
{
    value *s = value_map();
    value_set(s, "threads", value_int(openblas_get_num_threads()));
    return s;
}

value *cli_int_list(const int *v, int n)
{
    value *a = value_array();
    for (int i = 0; i < n; i++) value_push(a, value_int(v[i]));
    return a;
}

void cli_set_threads(cli *c, int n)
{
    (void)c;
    vmath_flush_denormals();   /* before any thread of the pool starts: they inherit it */
    int cores = par_cores();
    openblas_set_num_threads(n <= 0 || n > cores ? cores : n);
}

par_pool *cli_train_pool(cli *c)
{
    error e;
    par_pool *p = par_new(openblas_get_num_threads(), &e);
    if (!p) cli_fail_error(c, &e);
    return p;
}

void cli_image_shape(cli *c, const value *meta, int F, const char *file, const char *opt, int *h, int *w)
{
    error e;
    int ch = 1;
    if (imagegrid_shape(meta, F, h, w, &ch, &e) < 0 || ch != 1)
        cli_fail(c, "%s: %s needs one-channel images: %s", file, opt, ch != 1 ? "several channels" : e.msg);
}
