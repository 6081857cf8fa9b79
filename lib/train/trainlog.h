/* trainlog: training progress and per-epoch metrics for every trainer (ssl-fit, ssl-vae, ssl-gan).
 *
 * Progress goes to a FILE the tool hands over (stderr, or NULL for --quiet):
 *   - a terminal gets one live line, redrawn at most 10 times a second:
 *       ssl-fit: epoch 3/200  batch 12/36  loss 0.4123  52.1k rows/s  ETA 1m12s
 *   - anything else (a log, a pipe) gets one summary line per epoch:
 *       ssl-fit: epoch 3/200  loss 0.4123  val_accuracy 0.9512  0.12s  52.1k rows/s
 * The metrics log (--log FILE, opened by the tool) gets one JSON object per epoch:
 *       {"epoch": 3, "seconds": 0.12, "loss": 0.4123, "val_accuracy": 0.9512}
 * Metrics are named values set during the epoch (trainlog_metric), so any trainer can report its
 * own losses. Times come from the monotonic clock and never reach a model file. */
#ifndef SSL_TRAINLOG_H
#define SSL_TRAINLOG_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

#define TRAINLOG_MAX_METRICS 16

typedef struct trainlog {
    const char *prog;
    FILE *progress;           /* NULL: quiet */
    int tty;                  /* progress is a terminal: live line */
    FILE *log;                /* JSON lines, or NULL */
    int epochs;               /* planned (an upper bound with early stopping) */
    size_t rows_per_epoch, batches_per_epoch;
    int epoch;                /* 1-based, current */
    double t_start, t_epoch, t_drawn;
    size_t rows_done;         /* in the current epoch */
    int nm;
    char names[TRAINLOG_MAX_METRICS][32];
    double vals[TRAINLOG_MAX_METRICS];
    struct trainctl *ctl;     /* interrupts (trainctl.h), polled by trainlog_batch; NULL = none */
} trainlog;

void trainlog_init(trainlog *t, const char *prog, FILE *progress, FILE *log);
/* The plan, for rates and the ETA. */
void trainlog_plan(trainlog *t, int epochs, size_t rows_per_epoch, size_t batches_per_epoch);
void trainlog_epoch_begin(trainlog *t, int epoch);
/* After each batch: rows done so far in this epoch and the running loss (redraws the live line).
 * Returns 1 when training must stop (t->ctl: SIGINT/SIGTERM pending): the trainer ends the epoch
 * there, and its epoch loop checks trainlog_stopped before the epoch's end. */
int trainlog_batch(trainlog *t, size_t batch, size_t rows_done, double loss);
/* 1 once t->ctl has stopped training (NULL-safe). */
int trainlog_stopped(const trainlog *t);
/* Sets a named metric for the current epoch (the order of first use is the order shown). */
void trainlog_metric(trainlog *t, const char *name, double v);
/* Ends the epoch: the summary line and the JSON line. -1 with an error if the log cannot be written. */
int trainlog_epoch_end(trainlog *t, error *e);
/* After the last epoch: ends the live line. */
void trainlog_finish(trainlog *t);
/* Seconds since trainlog_init. */
double trainlog_elapsed(const trainlog *t);

#endif
