/* cli_train: the tool side of trainctl.h (interrupted training, checkpoints, --resume): what a
 * trainer's main calls around training, with the exit conventions of cli.h. */
#ifndef SSL_CLI_TRAIN_H
#define SSL_CLI_TRAIN_H

#include "cli.h"
#include "parallel.h"
#include "trainctl.h"
#include "trainlog.h"

/* trainctl_init for the model at model_path (checkpoints in model_path.ckpt, also every `every`
 * epochs when > 0), hooked to log; with resume, loads the checkpoint (of the given kind) or fails. */
void cli_train_init(cli *c, trainctl *t, trainlog *log, const char *model_path, int every, int resume,
                    const char *kind, value *settings);
/* A settings map for cli_train_init, holding the thread count in effect (a run's bytes depend on it). */
value *cli_train_settings(void);
/* An int list as a settings value ("hidden": [500, 500]). */
value *cli_int_list(const int *v, int n);
/* Training stopped on SIGINT/SIGTERM: writes the checkpoint, says so on stderr, removes temporary
 * outputs and dies by the same signal (a shell sees 130 or 143; 128 + signal when it was ignored). */
_Noreturn void cli_train_interrupted(cli *c, trainctl *t);
/* Training failed (e.g. a NaN loss): writes the newest good checkpoint, then cli_fail with the
 * message and where the checkpoint is. */
_Noreturn void cli_train_failed(cli *c, trainctl *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The training's thread pool for its element-wise loops, as many threads as OpenBLAS uses (--threads
 * once openblas_set_num_threads has run; every core by default); cli_fail when a thread cannot start.
 * The caller frees it with par_free. */
par_pool *cli_train_pool(cli *c);
/* The one-channel image shape (meta image_shape, else a square) of F-feature rows that an option
 * (opt, e.g. "--shift") needs, into *h, *w; cli_fail naming file and opt when the rows are not such
 * images. */
void cli_image_shape(cli *c, const value *meta, int F, const char *file, const char *opt, int *h, int *w);
/* --threads N (0: not given, every core): the threads of the products and of training's element-wise
 * loops, at most par_cores() (more would only contend, and each costs OpenBLAS a large buffer); and
 * denormal floats flushed to zero in this thread and the pool's (vmath_flush_denormals). */
void cli_set_threads(cli *c, int n);
/* After the final model is committed: removes the checkpoint and frees t. */
void cli_train_done(cli *c, trainctl *t);

#endif
