/* trainctl: interrupted training and resumable checkpoints, for every trainer (ssl-fit, ssl-vae M1
 * and M2, ssl-gan).
 *
 * Signals without a handler or a global flag: trainctl_init blocks SIGINT and SIGTERM
 * (sigprocmask), and the trainers poll sigpending() between steps (trainctl_step, reached through
 * trainlog_batch). Threads started before (OpenBLAS's) do not block them: a handler that only
 * blocks them in such a thread and re-sends the signal to the process leaves it pending for the
 * poll (no flag, no global state). A pending signal stops training at the next step boundary; the tool then writes
 * the checkpoint and dies by the same signal (cli_train_interrupted), so a shell or make sees
 * status 130 (SIGINT) or 143 (SIGTERM). A signal the process was started ignoring (a background
 * job of a non-interactive shell ignores SIGINT) stays ignored.
 *
 * Checkpoints: at the end of every epoch (and once before the first) the trainer hands over its
 * whole state as a model file (trainctl_epoch_end): the model as its save function writes it,
 * plus the training state, a map "state" in info (epoch, rng, Adam step counts, early-stopping
 * scalars) and tensors named "state.*" (Adam moments, permutations that live across epochs, best
 * weights). The newest one is held in memory and written to MODEL.ckpt, atomically (temporary
 * file, fsync, rename), when training is interrupted or diverges, and every `every` epochs. An
 * interrupt loses at most the current epoch: --resume restarts it from its beginning, and since
 * the state holds every random generator, the resumed run ends with the same bytes as an
 * uninterrupted one (same seed, same options, same --threads).
 *
 * Test hook: the environment variable SSL_STOP_AFTER_STEPS=N makes the N-th step behave as if
 * SIGINT had arrived then, so the tests interrupt deterministically. */
#ifndef SSL_TRAINCTL_H
#define SSL_TRAINCTL_H

#include <signal.h>
#include <stddef.h>

#include "adam.h"
#include "error.h"
#include "model.h"
#include "rng.h"
#include "value.h"

#define TRAINCTL_SUFFIX ".ckpt"

typedef struct trainctl {
    sigset_t old;          /* the mask before trainctl_init */
    long stop_after;       /* SSL_STOP_AFTER_STEPS, 0 = off */
    long steps;            /* steps polled so far (in this process) */
    int sig;               /* SIGINT or SIGTERM once training must stop, else 0 */
    char *path;            /* MODEL.ckpt, or NULL: no checkpoints */
    int every;             /* also write the checkpoint every N epochs (0 = only when stopped) */
    model_file *held;      /* the state at the newest epoch boundary (owned) */
    model_file *resume;    /* the state to resume from (owned), or NULL */
    value *settings;       /* the run's settings (owned; trainctl_set_settings), or NULL */
} trainctl;

/* Blocks SIGINT and SIGTERM and reads the test hook. model_path NULL: polling only, no checkpoint. */
int trainctl_init(trainctl *t, const char *model_path, int every, error *e);
/* Frees the held states. The signals stay blocked: a pending one is the tool's to re-raise. */
void trainctl_free(trainctl *t);
/* Between two steps: 1 when training must stop (a signal is pending or the test hook fired).
 * NULL-safe (0). Under mpirun every rank must call it at every step: the ranks agree (one small
 * all-reduce), so a signal to any of them stops all at the same step, and rank 0 alone writes
 * and removes the checkpoint (every rank holds the same state and reads it on --resume). */
int trainctl_step(trainctl *t);
/* The settings of the run (a map of option to value, e.g. {"lr": 0.001, "hidden": [500, 500]}: what
 * decides the model's bytes), taken over by t: saved in every state (info.state.settings), and a
 * state to resume from must have been saved with the same ones (trainctl_load). */
void trainctl_set_settings(trainctl *t, value *settings);
/* Loads MODEL.ckpt into t->resume, checking its kind and, with settings, that the interrupted run had
 * the same: else -1 naming the first that differs ("MODEL.ckpt: the interrupted run had --lr 0.003, this
 * one --lr 0.001"); its epoch is trainctl_resume_epoch. */
int trainctl_load(trainctl *t, const char *kind, error *e);
/* rc, and when it is < 0 the checkpoint's path before e's message (a failed restore). */
int trainctl_named(const trainctl *t, int rc, error *e);
/* The epoch the resumed state ended (0 without a resume state). */
int trainctl_resume_epoch(const trainctl *t);
/* Takes ownership of state (the trainer's whole state after `epoch` epochs; NULL: the error in e)
 * and holds it; writes it when `every` divides epoch. NULL t: frees state. */
int trainctl_epoch_end(trainctl *t, model_file *state, int epoch, error *e);
/* Writes the held state to t->path atomically; 0 when there is none. */
int trainctl_write(const trainctl *t, error *e);
/* The epoch of the held state (-1 when none). */
int trainctl_held_epoch(const trainctl *t);
/* The epochs of a training whose --epochs was not given: at least min_epochs, and enough epochs of
 * ceil(rows / batch) steps each for min_steps steps (a few rows make few steps an epoch). */
int trainctl_default_epochs(size_t rows, int batch, int min_epochs, long min_steps);
/* After a finished run: removes MODEL.ckpt (a stale one would resume a finished run). */
void trainctl_remove(const trainctl *t);

/* ---- state in a model file ---- */

/* The "state" map of f's info (created on first use, with the epoch). */
value *trainctl_state(model_file *f);
/* Tensors "state.NAME" of n floats or of n ints in [0, 2^24) (stored exactly as float32). */
int trainctl_put_floats(model_file *f, const char *name, const float *x, size_t n, error *e);
int trainctl_get_floats(const model_file *f, const char *name, float *x, size_t n, error *e);
int trainctl_put_ints(model_file *f, const char *name, const int *x, size_t n, error *e);
int trainctl_get_ints(const model_file *f, const char *name, int *x, size_t n, error *e);
/* The generator's 256 bits under key in the state map. */
void trainctl_put_rng(model_file *f, const char *key, const rng *r);
int trainctl_get_rng(const model_file *f, const char *key, rng *r, error *e);
/* Adam's moments ("state.NAME.m", ".v") and step count (state NAME.t); lr and betas come from the
 * options. */
int trainctl_put_adam(model_file *f, const char *name, const adam *a, error *e);
int trainctl_get_adam(const model_file *f, const char *name, adam *a, error *e);
/* The state most trainers need: model (taken: its save function's file, NULL = error in e) plus
 * Adam ("adam") and the generator ("rng"); and its restore (parameters by name, checked). */
model_file *trainctl_state_new(model_file *model, const adam *opt, const rng *r, error *e);
/* The start of a trainer's epochs: restores the resumed state (t->resume) into p, opt, r, or hands
 * t the state before the first epoch (initial, the model as its save function writes it: taken over,
 * freed when resuming); t may be NULL. Returns the first epoch to run (1, or the one after the
 * resumed epoch), or -1 with e naming the checkpoint. */
int trainctl_start(trainctl *t, model_file *initial, nn_params *p, adam *opt, rng *r, error *e);

/* e's message as the failure of an epoch: "epoch 3, <message>". Returns -1. */
int trainctl_epoch_failed(error *e, int epoch);

/* What a trainer's caller does at the end of each epoch (after its state is taken): e.g. write the
 * model every N epochs. 0 to go on, -1 with e set to stop training with that error. */
typedef int (*train_epoch_fn)(int epoch, void *ctx, error *e);
int trainctl_state_restore(const model_file *f, nn_params *p, adam *opt, rng *r, error *e);
/* A number of the state map (doubles round-trip exactly), or an error naming the key. */
void trainctl_put_num(model_file *f, const char *key, double v);
int trainctl_get_num(const model_file *f, const char *key, double *v, error *e);

#endif
