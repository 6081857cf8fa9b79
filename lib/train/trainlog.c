#include "trainlog.h"
#include "trainctl.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void trainlog_init(trainlog *t, const char *prog, FILE *progress, FILE *log)
{
    memset(t, 0, sizeof *t);
    t->prog = prog;
    t->progress = progress;
    t->tty = progress && isatty(fileno(progress));
    t->log = log;
    t->t_start = now();
}

void trainlog_plan(trainlog *t, int epochs, size_t rows_per_epoch, size_t batches_per_epoch)
{
    t->epochs = epochs;
    t->rows_per_epoch = rows_per_epoch;
    t->batches_per_epoch = batches_per_epoch;
}

double trainlog_elapsed(const trainlog *t) { return now() - t->t_start; }

void trainlog_epoch_begin(trainlog *t, int epoch)
{
    t->epoch = epoch;
    t->t_epoch = now();
    t->rows_done = 0;
    t->nm = 0;
}

/* "52.1k" */
static void fmt_rate(char *buf, size_t len, double r)
{
    if (r >= 1e6) snprintf(buf, len, "%.1fM", r / 1e6);
    else if (r >= 1e3) snprintf(buf, len, "%.1fk", r / 1e3);
    else snprintf(buf, len, "%.0f", r);
}

/* "1h02m", "1m12s", "7s" */
static void fmt_duration(char *buf, size_t len, double s)
{
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, len, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60) snprintf(buf, len, "%ldm%02lds", v / 60, v % 60);
    else snprintf(buf, len, "%lds", v);
}

int trainlog_stopped(const trainlog *t) { return t && t->ctl && t->ctl->sig; }

static void draw_batch(trainlog *t, size_t batch, size_t rows_done, double loss);

int trainlog_batch(trainlog *t, size_t batch, size_t rows_done, double loss)
{
    draw_batch(t, batch, rows_done, loss);
    return trainctl_step(t->ctl);
}

static void draw_batch(trainlog *t, size_t batch, size_t rows_done, double loss)
{
    t->rows_done = rows_done;
    if (!t->progress || !t->tty) return;
    double tn = now();
    if (tn - t->t_drawn < 0.1 && rows_done < t->rows_per_epoch) return;
    t->t_drawn = tn;
    /* rate over the whole run so far, ETA for the planned epochs */
    double done = (double)(t->epoch - 1) * (double)t->rows_per_epoch + (double)rows_done;
    double el = tn - t->t_start, rate = el > 0 ? done / el : 0;
    double left = (double)t->epochs * (double)t->rows_per_epoch - done;
    char r[32], eta[32];
    fmt_rate(r, sizeof r, rate);
    fmt_duration(eta, sizeof eta, rate > 0 ? left / rate : 0);
    fprintf(t->progress, "\r%s: epoch %d/%d  batch %zu/%zu  loss %.4f  %s rows/s  ETA %s\033[K", t->prog, t->epoch,
            t->epochs, batch, t->batches_per_epoch, loss, r, eta);
    fflush(t->progress);
}

void trainlog_metric(trainlog *t, const char *name, double v)
{
    for (int i = 0; i < t->nm; i++)
        if (strcmp(t->names[i], name) == 0) {
            t->vals[i] = v;
            return;
        }
    if (t->nm == TRAINLOG_MAX_METRICS) return;
    snprintf(t->names[t->nm], sizeof t->names[0], "%s", name);
    t->vals[t->nm++] = v;
}

static void print_metrics(FILE *f, const trainlog *t)
{
    for (int i = 0; i < t->nm; i++) fprintf(f, "  %s %.4f", t->names[i], t->vals[i]);
}

int trainlog_epoch_end(trainlog *t, error *e)
{
    double secs = now() - t->t_epoch;
    if (t->progress && !t->tty) {
        char r[32];
        fmt_rate(r, sizeof r, secs > 0 ? (double)t->rows_done / secs : 0);
        fprintf(t->progress, "%s: epoch %d/%d", t->prog, t->epoch, t->epochs);
        print_metrics(t->progress, t);
        fprintf(t->progress, "  %.2fs  %s rows/s\n", secs, r);
    } else if (t->progress) {
        fprintf(t->progress, "\r%s: epoch %d/%d", t->prog, t->epoch, t->epochs);
        print_metrics(t->progress, t);
        fprintf(t->progress, "\033[K");
        fflush(t->progress);
    }
    if (!t->log) return 0;
    fprintf(t->log, "{\"epoch\": %d, \"seconds\": %.6f", t->epoch, secs);
    for (int i = 0; i < t->nm; i++) {
        /* JSON has no NaN or Infinity */
        if (isfinite(t->vals[i])) fprintf(t->log, ", \"%s\": %.9g", t->names[i], t->vals[i]);
        else fprintf(t->log, ", \"%s\": null", t->names[i]);
    }
    fprintf(t->log, "}\n");
    if (fflush(t->log) != 0 || ferror(t->log)) return error_set(e, "metrics log: write error: %s", strerror(errno));
    return 0;
}

void trainlog_finish(trainlog *t)
{
    if (t->progress && t->tty) fputc('\n', t->progress);
}
