/* ssl-fit: trains the MLP classifier on the labelled rows of a stream (train) and adds class
 * probabilities to a stream (predict). The maths lives in lib/methods/mlp*.c. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_train.h"
#include "dist.h"
#include "filter.h"
#include "imagegrid.h"
#include "mlp.h"
#include "model.h"
#include "stream.h"
#include "trainlog.h"

static const char USAGE[] =
    "Usage: ssl-fit train [OPTIONS] [FILE] -o MODEL\n"
    "       ssl-fit predict -m MODEL [FILE] [-o OUT]\n"
    "\n"
    "train: fits a multilayer perceptron (ReLU hidden layers, softmax output, cross-entropy, Adam)\n"
    "on the labelled rows (y >= 0) of a stream with x (f32 features) and y (i32 labels, -1 =\n"
    "unlabelled); a per-row weight tensor w (f32), when present, weights each row's loss. Holds the\n"
    "training stream in memory (--stream-data: reads FILE again every epoch instead, through a\n"
    "shuffle buffer, keeping its labelled rows only; docs/scale-out.md). Defaults follow\n"
    "scikit-learn's MLPClassifier: batch min(200, rows), Adam lr 1e-3, L2 penalty 1e-4, up to 200\n"
    "epochs (on few rows: as many as 2000 steps take), stop when the training loss has not\n"
    "improved by 1e-4 for 10 epochs (with --val: when the validation accuracy has not, keeping\n"
    "the best weights). The number of classes K comes\n"
    "from the stream's class_names, else --classes, else max(y)+1. The model is written\n"
    "atomically. Under mpirun (the MPI build, make MPI=1), each process trains on its share of\n"
    "every batch, the same model (docs/scale-out.md).\n"
    "  -o, --output MODEL     model file to write (required)\n"
    "      --hidden LIST      hidden layer sizes (default 128,64; 0 or none = logistic regression)\n"
    "      --epochs N         at most N epochs (default 200, or the epochs of 2000 steps when more;\n"
    "                         with --stream-data 200)\n"
    "      --batch N          mini-batch rows (default 200)\n"
    "      --lr X             Adam learning rate (default 0.001; 0.01 with --hidden 0 and no --conv)\n"
    "      --lr-decay-start N the learning rate falls linearly from epoch N to 0 at the last\n"
    "                         epoch (default: constant)\n"
    "      --weight-decay X   L2 penalty on the weights, scikit-learn's alpha (default 0.0001)\n"
    "      --dropout P        dropout rate on hidden units (default 0)\n"
    "      --shift N          move each training row by up to N pixels each way, at random, every\n"
    "                         time it is used (images: meta image_shape, else square; default 0)\n"
    "      --flip             mirror each training row left-right with probability 1/2, every time\n"
    "                         it is used (images whose class a mirror keeps: clothes, not digits)\n"
    "      --batch-norm       batch normalisation before each hidden ReLU (Ioffe and Szegedy 2015)\n"
    "      --conv SPEC        convolution layers before the dense ones, on the rows as images\n"
    "                         (meta image_shape [h, w], the rows holding features/(h w) channels one\n"
    "                         after the other; else square one-channel images): channels:kernel:stride\n"
    "                         per layer, e.g. 32:5:2,64:3:2, zero padding (kernel-1)/2; each layer is\n"
    "                         conv, batch norm over its channels (with --batch-norm), ReLU\n"
    "      --conv-pool        the dense layers see the last conv layer's channels averaged over its\n"
    "                         pixels (default: its output flattened)\n"
    "      --vat EPS          virtual adversarial training on every row, labelled or not (Miyato\n"
    "                         et al. 2018): adds the mean KL between the prediction at x and at\n"
    "                         x + r, ||r|| = EPS per row in the direction that changes it most\n"
    "                         (in units of x: after --method standard, ~1-5; pixels in [0,1], ~2-8)\n"
    "      --vat-xi X         step of the power iteration that finds r (default 0.001)\n"
    "      --vat-iterations N power iterations (default 1)\n"
    "      --entmin W         entropy minimisation: adds W times the mean entropy of the predictions\n"
    "                         on every row (1 with --vat is VAT+EntMin)\n"
    "      --fixmatch W       FixMatch (Sohn et al. 2020): where the prediction on a weak view of a\n"
    "                         row (moved and mirrored as --shift and --flip) reaches the threshold,\n"
    "                         its class is the row's pseudo-label, and W times the cross-entropy\n"
    "                         of the prediction on a strong view (another, a square cut out, its\n"
    "                         contrast and brightness changed) against it is added; rows as images\n"
    "                         (meta image_shape, else square)\n"
    "      --fixmatch-threshold T  (default 0.95)\n"
    "      --cutout N         side of the strong view's square set to 0, its centre anywhere on\n"
    "                         the image (default: half the image's smaller side)\n"
    "      --jitter X         the strong view's contrast scaled by [1-X, 1+X] and brightness moved by\n"
    "                         up to 0.3 X of the data's range, clipped to it (default 0.5; 0: none)\n"
    "      --unlabelled-batch N  rows drawn at random each step for those terms (default --batch)\n"
    "                         With any of them, training runs every epoch unless --val stops it.\n"
    "      --val FILE         validation stream for early stopping\n"
    "      --patience N       epochs without improvement before stopping (default 10)\n"
    "      --classes K        number of classes when the stream does not name them\n"
    "      --seed N           seed of the initial weights, shuffling and dropout (default 0)\n"
    "      --log FILE         per-epoch metrics as JSON lines\n"
    "      --stream-data      read FILE every epoch through a shuffle buffer, not into memory\n"
    "      --shuffle-buffer N labelled rows of that buffer (default 10000); when FILE has at most N\n"
    "                         labelled rows, training is the in-memory training, byte for byte\n"
    "      --resume           continue an interrupted run from MODEL.ckpt (same options and\n"
    "                         --threads give the same model as an uninterrupted run)\n"
    "  -q, --quiet            no progress on stderr\n"
    "SIGINT or SIGTERM stops training at the next batch: MODEL.ckpt gets the state after the last\n"
    "whole epoch and the program dies by the signal (status 130 or 143). A NaN or infinite loss stops\n"
    "it with exit 1, naming the epoch and batch, and MODEL.ckpt keeps the last good epoch.\n"
    "\n"
    "predict: streams FILE (or stdin) batch by batch in bounded memory, adds p (f32, K per row: the\n"
    "class probabilities; an existing p is replaced) and passes every other tensor through.\n"
    "  -m, --model MODEL      model written by ssl-fit train (or give it as the first FILE)\n"
    "  -o, --output OUT       output stream (default stdout)\n"
    "\n"
    "Both:\n"
    "      --threads N        threads for the products (BLAS) and, in training, the element-wise loops\n"
    "                         (default and most: all cores)\n"
    "  -h, --help             this help\n"
    "  -V, --version          print the version\n"
    "\n"
    "Examples:\n"
    "  ssl-prep csv data/digits.csv.gz > digits.ssl\n"
    "  ssl-fit train --hidden 128,64 --seed 1 digits.ssl -o digits.mlp\n"
    "  ssl-fit predict -m digits.mlp test.ssl | ssl-eval\n";

enum { OPT_HIDDEN = 256, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_WD, OPT_DROPOUT, OPT_VAL, OPT_PATIENCE,
       OPT_CLASSES, OPT_SEED, OPT_THREADS, OPT_LOG, OPT_RESUME, OPT_STREAM, OPT_BUFFER, OPT_SHIFT,
       OPT_BATCH_NORM, OPT_DECAY, OPT_VAT, OPT_VAT_XI, OPT_VAT_ITERS, OPT_ENTMIN, OPT_UBATCH,
       OPT_CONV, OPT_CONV_POOL, OPT_FLIP, OPT_FIXMATCH, OPT_THRESHOLD, OPT_CUTOUT, OPT_JITTER };

static const struct option OPTS[] = {
    {"output", required_argument, 0, 'o'},     {"model", required_argument, 0, 'm'},
    {"hidden", required_argument, 0, OPT_HIDDEN}, {"epochs", required_argument, 0, OPT_EPOCHS},
    {"batch", required_argument, 0, OPT_BATCH},   {"lr", required_argument, 0, OPT_LR},
    {"weight-decay", required_argument, 0, OPT_WD}, {"dropout", required_argument, 0, OPT_DROPOUT},
    {"val", required_argument, 0, OPT_VAL},       {"patience", required_argument, 0, OPT_PATIENCE},
    {"classes", required_argument, 0, OPT_CLASSES}, {"seed", required_argument, 0, OPT_SEED},
    {"threads", required_argument, 0, OPT_THREADS}, {"log", required_argument, 0, OPT_LOG},
    {"quiet", no_argument, 0, 'q'},              {"help", no_argument, 0, 'h'},
    {"resume", no_argument, 0, OPT_RESUME},
    {"stream-data", no_argument, 0, OPT_STREAM}, {"shuffle-buffer", required_argument, 0, OPT_BUFFER},
    {"shift", required_argument, 0, OPT_SHIFT},    {"flip", no_argument, 0, OPT_FLIP},
    {"batch-norm", no_argument, 0, OPT_BATCH_NORM}, {"lr-decay-start", required_argument, 0, OPT_DECAY},
    {"vat", required_argument, 0, OPT_VAT},       {"vat-xi", required_argument, 0, OPT_VAT_XI},
    {"vat-iterations", required_argument, 0, OPT_VAT_ITERS}, {"entmin", required_argument, 0, OPT_ENTMIN},
    {"unlabelled-batch", required_argument, 0, OPT_UBATCH}, {"fixmatch", required_argument, 0, OPT_FIXMATCH},
    {"fixmatch-threshold", required_argument, 0, OPT_THRESHOLD}, {"cutout", required_argument, 0, OPT_CUTOUT},
    {"jitter", required_argument, 0, OPT_JITTER},
    {"conv", required_argument, 0, OPT_CONV},     {"conv-pool", no_argument, 0, OPT_CONV_POOL},
    {"version", no_argument, 0, 'V'},            {0, 0, 0, 0},
};

typedef struct args {
    const char *cmd, *out, *model, *val, *log;
    const char *files[2];
    int nfiles;
    int classes, threads, quiet, resume;
    int stream_data;         /* --stream-data */
    int epochs_given;        /* --epochs, else default_epochs */
    long buffer;             /* --shuffle-buffer, 0 = not given */
    int cutout_default;      /* no --cutout: half the image's smaller side with --fixmatch */
    mlp_config cfg;
} args;

static void parse_conv(cli *c, const char *spec, mlp_conv *cv)
{
    error e;
    if (conv_spec_parse(cv->layer, &cv->n, spec, &e)) cli_usage_error(c, "--conv: %s", e.msg);
}

static void parse_args(cli *c, int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    mlp_config_default(&a->cfg);
    int opt, lr_given = 0, threshold_given = 0, cutout_given = 0, jitter_given = 0;
    while ((opt = getopt_long(argc, argv, ":o:m:qhV", OPTS, NULL)) != -1) {
        mlp_config *k = &a->cfg;
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 'm': a->model = optarg; break;
        case 'q': a->quiet = 1; break;
        case OPT_HIDDEN: k->nhidden = cli_parse_int_list(c, "--hidden", optarg, k->hidden, MLP_MAX_HIDDEN); break;
        case OPT_EPOCHS: k->epochs = (int)cli_parse_long(c, "--epochs", optarg, 1, 1000000), a->epochs_given = 1; break;
        case OPT_BATCH: k->batch = (int)cli_parse_long(c, "--batch", optarg, 1, 1 << 20); break;
        case OPT_LR: k->lr = cli_parse_double(c, "--lr", optarg, 1e-12, 10), lr_given = 1; break;
        case OPT_WD: k->alpha = cli_parse_double(c, "--weight-decay", optarg, 0, 1e6); break;
        case OPT_DROPOUT: k->dropout = cli_parse_double(c, "--dropout", optarg, 0, 0.99); break;
        case OPT_VAL: a->val = optarg; break;
        case OPT_PATIENCE: k->patience = (int)cli_parse_long(c, "--patience", optarg, 0, 1000000); break;
        case OPT_CLASSES: a->classes = (int)cli_parse_long(c, "--classes", optarg, 2, 1 << 20); break;
        case OPT_SEED: k->seed = (uint64_t)cli_parse_long(c, "--seed", optarg, 0, (1L << 62)); break;
        case OPT_THREADS: a->threads = (int)cli_parse_long(c, "--threads", optarg, 1, 1024); break;
        case OPT_LOG: a->log = optarg; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_STREAM: a->stream_data = 1; break;
        case OPT_BUFFER: a->buffer = cli_parse_long(c, "--shuffle-buffer", optarg, 1, 1L << 40); break;
        case OPT_SHIFT: k->shift = (int)cli_parse_long(c, "--shift", optarg, 0, 1 << 20); break;
        case OPT_FLIP: k->flip = 1; break;
        case OPT_BATCH_NORM: k->batch_norm = 1; break;
        case OPT_DECAY: k->lr_decay_start = (int)cli_parse_long(c, "--lr-decay-start", optarg, 1, 1000000); break;
        case OPT_VAT: k->vat.eps = cli_parse_double(c, "--vat", optarg, 0, 1e6); break;
        case OPT_VAT_XI: k->vat.xi = cli_parse_double(c, "--vat-xi", optarg, 1e-12, 1e3); break;
        case OPT_VAT_ITERS: k->vat.iters = (int)cli_parse_long(c, "--vat-iterations", optarg, 1, 100); break;
        case OPT_ENTMIN: k->vat.entmin = cli_parse_double(c, "--entmin", optarg, 0, 1e6); break;
        case OPT_FIXMATCH: k->vat.fixmatch = cli_parse_double(c, "--fixmatch", optarg, 0, 1e6); break;
        case OPT_THRESHOLD:
            k->vat.threshold = cli_parse_double(c, "--fixmatch-threshold", optarg, 0, 1), threshold_given = 1;
            break;
        case OPT_CUTOUT: k->vat.views.cutout = (int)cli_parse_long(c, "--cutout", optarg, 0, 1 << 20), cutout_given = 1; break;
        case OPT_JITTER: k->vat.views.jitter = (float)cli_parse_double(c, "--jitter", optarg, 0, 1), jitter_given = 1; break;
        case OPT_UBATCH: k->ubatch = (int)cli_parse_long(c, "--unlabelled-batch", optarg, 1, 1 << 20); break;
        case OPT_CONV: parse_conv(c, optarg, &k->conv); break;
        case OPT_CONV_POOL: k->conv.pool = 1; break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    if (!lr_given && a->cfg.nhidden == 0 && !a->cfg.conv.n) a->cfg.lr = MLP_LINEAR_LR;
    if (a->cfg.conv.pool && !a->cfg.conv.n) cli_usage_error(c, "--conv-pool needs --conv");
    a->cutout_default = !cutout_given;
    if ((threshold_given || cutout_given || jitter_given) && a->cfg.vat.fixmatch == 0)
        cli_usage_error(c, "--%s goes with --fixmatch", threshold_given ? "fixmatch-threshold" : cutout_given ? "cutout" : "jitter");
    if (a->cfg.vat.fixmatch > 0 && !jitter_given) a->cfg.vat.views.jitter = 0.5f;
    a->nfiles = cli_inputs(c, argc, argv, a->files, 2);
}

/* x (f32, one row = a vector) and y (i32 scalar) of a table whose first row is row row0 + 1 of
 * file; w if present. x must be finite. -1 with an error naming file. */
static int rows_of(const stream_table *t, const char *file, size_t row0, mlp_data *d, error *e)
{
    const stream_schema *s = t->schema;
    error te;
    memset(d, 0, sizeof *d);
    int ix = stream_schema_find(s, "x"), iy = stream_schema_find(s, "y"), iw = stream_schema_find(s, "w");
    if (ix < 0) return error_set(e, "%s: stream has no tensor 'x' (features)", file);
    if (iy < 0) return error_set(e, "%s: stream has no tensor 'y' (labels are needed to train)", file);
    if (!(d->x = stream_table_col_typed(t, "x", STREAM_F32, &te))) return error_set(e, "%s: %s", file, te.msg);
    if (!(d->y = stream_table_col_typed(t, "y", STREAM_I32, &te))) return error_set(e, "%s: %s", file, te.msg);
    if (s->fields[iy].width != 1) return error_set(e, "%s: tensor 'y' has %zu values per row, expected 1", file, s->fields[iy].width);
    if (iw >= 0) {
        if (!(d->w = stream_table_col_typed(t, "w", STREAM_F32, &te))) return error_set(e, "%s: %s", file, te.msg);
        if (s->fields[iw].width != 1) return error_set(e, "%s: tensor 'w' has %zu values per row, expected 1", file, s->fields[iw].width);
    }
    d->n = t->nrows;
    size_t F = s->fields[ix].width;
    for (size_t i = 0; i < d->n * F; i++)
        if (!isfinite(d->x[i])) return error_set(e, "%s: row %zu: x has a non-finite value", file, row0 + i / F + 1);
    return 0;
}

static mlp_data table_data(cli *c, const stream_table *t, const char *file)
{
    error e;
    mlp_data d;
    if (rows_of(t, file, 0, &d, &e) < 0) cli_fail_error(c, &e);
    return d;
}

/* Without --epochs: 200, or as many as MIN_STEPS optimiser steps take on the labelled rows of d
 * when more (15 labelled rows make one step an epoch, and 200 steps leave logistic regression
 * far from its optimum); the training-loss stop still ends a run that has converged. */
enum { MIN_STEPS = 2000 };
static void default_epochs(args *a, const mlp_data *d)
{
    if (a->epochs_given) return;
    size_t nlab = 0;
    for (size_t i = 0; i < d->n; i++) nlab += d->y[i] >= 0;
    a->cfg.epochs = trainctl_default_epochs(nlab, a->cfg.batch, a->cfg.epochs, MIN_STEPS);
}

static int max_label(const mlp_data *d)
{
    int mx = -1;
    for (size_t i = 0; i < d->n; i++) mx = d->y[i] > mx ? d->y[i] : mx;
    return mx;
}

/* K: the stream's class_names, else --classes, else max(y) + 1. */
static int class_count(cli *c, const args *a, const stream_schema *s, int maxy, const char *file)
{
    error e;
    if (maxy < 0 && !a->classes && !stream_meta_num_classes(s)) cli_fail(c, "%s: no labelled rows to train on (every y is -1)", file);
    int K = stream_classes_k(stream_meta_num_classes(s), a->classes, maxy, &e);
    if (K < 0) cli_fail(c, "%s: %s", file, e.msg);
    return K;
}

/* --stream-data's first pass over the file: every batch checked as the in-memory table would be. */
typedef struct scan {
    const char *file;
    int classes;   /* --classes, or 0 */
    int maxy;      /* the largest label seen */
} scan;

static int scan_batch(const stream_table *b, size_t row0, void *ctx, error *e)
{
    scan *s = ctx;
    mlp_data d;
    size_t nlab;
    int K = stream_meta_num_classes(b->schema);
    if (rows_of(b, s->file, row0, &d, e) < 0) return -1;
    if (mlp_check_rows(&d, K ? K : s->classes ? s->classes : INT32_MAX, row0, &nlab, e) < 0)
        return error_prefix(e, "%s", s->file);
    int mx = max_label(&d);
    s->maxy = mx > s->maxy ? mx : s->maxy;
    return 0;
}

static int labelled(const stream_table *b, size_t row, void *ctx)
{
    (void)ctx;
    return ((const int32_t *)stream_table_col(b, "y"))[row] >= 0;
}

/* The training rows (the labelled ones, read every epoch) of --stream-data. */
static datasource *open_stream(cli *c, const args *a, const char *path, int *maxy)
{
    error e;
    if (!path || strcmp(path, "-") == 0) cli_usage_error(c, "--stream-data needs a FILE (it is read again every epoch), not stdin");
    scan s = {path, a->classes, -1};
    datasource *src = datasource_stream_where(path, a->buffer ? (size_t)a->buffer : DATASOURCE_BUFFER_ROWS, scan_batch, labelled, &s, &e);
    if (!src) cli_fail_error(c, &e);
    *maxy = s.maxy;
    return src;
}

/* One line on stderr at the end of an interactive training: why it stopped, and where the model is. */
static void say_how_it_ended(const cli *c, const args *a, const mlp_result *r)
{
    const mlp_config *k = &a->cfg;
    char why[160];
    if (r->epochs_run >= k->epochs)
        snprintf(why, sizeof why, "trained %d epochs", r->epochs_run);
    else if (a->val)
        snprintf(why, sizeof why, "stopped at epoch %d of %d: the validation accuracy did not improve for %d epochs",
                 r->epochs_run, k->epochs, k->patience);
    else
        snprintf(why, sizeof why, "stopped at epoch %d of %d: the training loss did not fall by 1e-4 for %d epochs",
                 r->epochs_run, k->epochs, k->patience);
    char kept[64] = "";
    if (a->val) snprintf(kept, sizeof kept, "; epoch %d's weights kept (validation accuracy %.4f)", r->best_epoch,
                         r->best_val_accuracy);
    fprintf(stderr, "%s: %s%s; model written to %s\n", c->prog, why, kept, cli_out_name(a->out));
}

/* --conv's images of F-feature rows into cv: meta image_shape [h, w] (or [h, w, 1]) with F / (h w)
 * channels one after the other, else square one-channel images. A usage error when the rows are
 * no such images or the layers do not fit them. */
static void conv_image(cli *c, const value *meta, int F, const char *file, mlp_conv *cv)
{
    const value *s = meta ? value_get(meta, "image_shape") : NULL;
    int h = 0, w = 0, ch = 1;
    error e;
    if (s && s->kind == VALUE_ARRAY && (s->n == 2 || s->n == 3)) {
        h = value_size(s->items[0]), w = value_size(s->items[1]);
        if (s->n == 3 && value_size(s->items[2]) != 1)
            cli_usage_error(c, "%s: --conv reads a row's channels one after the other; image_shape [h, w, c] "
                            "interleaves them", file);
        if (h < 1 || w < 1 || F % ((long)h * w))
            cli_usage_error(c, "%s: --conv: %d features are not channels x %d x %d images (image_shape)", file, F, h, w);
        ch = (int)(F / ((long)h * w));
    } else if (imagegrid_shape(meta, F, &h, &w, &ch, &e) < 0) {
        cli_usage_error(c, "%s: --conv: %s", file, e.msg);
    }
    cv->c = ch, cv->h = h, cv->w = w;
    conv_shape cs[MLP_MAX_CONV];
    if (conv_spec_plan(cs, cv->layer, cv->n, ch, h, w, &e)) cli_usage_error(c, "%s: --conv: %s", file, e.msg);
}

/* What decides the model's bytes, for --resume to compare (trainctl_set_settings). */
static value *settings(const args *a)
{
    const mlp_config *k = &a->cfg;
    value *s = cli_train_settings();
    value_set(s, "hidden", cli_int_list(k->hidden, k->nhidden));
    value_set(s, "epochs", value_int(k->epochs));
    value_set(s, "batch", value_int(k->batch));
    value_set(s, "lr", value_float(k->lr));
    value_set(s, "weight-decay", value_float(k->alpha));
    value_set(s, "dropout", value_float(k->dropout));
    value_set(s, "patience", value_int(k->patience));
    value_set(s, "shift", value_int(k->shift));
    if (k->flip) value_set(s, "flip", value_bool(1));   /* only when on, as batch-norm below */
    if (k->batch_norm) value_set(s, "batch-norm", value_bool(1));   /* only when on, as conv below */
    if (vat_active(&k->vat)) {   /* only then, as conv below */
        vat_config_put(&k->vat, s, 1);
        value_set(s, "unlabelled-batch", value_int(k->ubatch));
    }
    if (k->conv.n) {   /* only then: checkpoints of MLPs keep resuming */
        char spec[256];
        conv_spec_format(k->conv.layer, k->conv.n, spec, sizeof spec);
        value_set(s, "conv", value_str(spec));
        value_set(s, "conv-pool", value_bool(k->conv.pool));
    }
    value_set(s, "seed", value_int((int64_t)k->seed));
    value_set(s, "classes", value_int(a->classes));
    value_set(s, "val", value_str(a->val ? a->val : ""));
    value_set(s, "stream-data", value_bool(a->stream_data));
    value_set(s, "shuffle-buffer", value_int(a->buffer));
    return s;
}

static void train_main(cli *c, args *a)
{
    if (!a->out) cli_usage_error(c, "train: -o MODEL is required");
    if (a->model) cli_usage_error(c, "train: -m is for predict");
    if (a->nfiles > 1) cli_usage_error(c, "train: at most one input file");
    cli_distinct_outputs(c, (const char *[]){a->out, a->log}, 2);
    error e;
    if (dist_init(NULL, NULL, &e) < 0) cli_fail_error(c, &e);
    int rank0 = dist_rank() == 0;   /* under mpirun (the MPI build), rank 0 alone reports and writes */
    if (a->buffer && !a->stream_data) cli_usage_error(c, "--shuffle-buffer goes with --stream-data");
    if (vat_active(&a->cfg.vat) && (a->stream_data || dist_size() > 1))
        cli_usage_error(c, "--vat, --entmin and --fixmatch train on rows held in memory, in one process (no --stream-data, no mpirun)");
    const char *path = a->nfiles ? a->files[0] : NULL, *file = cli_in_name(path);
    stream_table *t = NULL;
    datasource *src = NULL;
    mlp_data d = {0};
    int maxy;
    if (a->stream_data) {
        src = open_stream(c, a, path, &maxy);
    } else {
        t = cli_load_stream(c, path);
        d = table_data(c, t, file);
        maxy = max_label(&d);
        default_epochs(a, &d);
    }
    if (a->cfg.lr_decay_start > a->cfg.epochs)
        cli_usage_error(c, "--lr-decay-start %d is after the last epoch (%d)", a->cfg.lr_decay_start, a->cfg.epochs);
    const stream_schema *schema = t ? t->schema : datasource_schema(src);
    int F = (int)schema->fields[stream_schema_find(schema, "x")].width;
    int K = class_count(c, a, schema, maxy, file);
    if (a->cfg.shift > 0 || a->cfg.flip || a->cfg.vat.fixmatch > 0)
        cli_image_shape(c, schema->meta, F, file, a->cfg.shift > 0 ? "--shift" : a->cfg.flip ? "--flip" : "--fixmatch",
                        &a->cfg.img_h, &a->cfg.img_w);
    if (a->cfg.vat.fixmatch > 0 && a->cutout_default)
        a->cfg.vat.views.cutout = (a->cfg.img_h < a->cfg.img_w ? a->cfg.img_h : a->cfg.img_w) / 2;
    if (a->cfg.conv.n) conv_image(c, schema->meta, F, file, &a->cfg.conv);
    stream_table *vt = NULL;
    mlp_data vd;
    if (a->val) {
        vt = cli_load_stream(c, a->val);
        vd = table_data(c, vt, a->val);
        size_t vf = vt->schema->fields[stream_schema_find(vt->schema, "x")].width;
        if (vf != (size_t)F) cli_fail(c, "%s: %zu features, the training data has %d", a->val, vf, F);
    }
    mlp *m = mlp_new_conv(F, K, &a->cfg.conv, a->cfg.nhidden, a->cfg.hidden, a->cfg.batch_norm, &e);
    if (!m) cli_fail(c, "%s: %s", file, e.msg);
    FILE *logf = a->log && rank0 ? cli_open_log(c, a->log) : NULL;
    trainlog log;
    trainlog_init(&log, c->prog, a->quiet || !rank0 ? NULL : stderr, logf);
    trainctl ctl;
    cli_train_init(c, &ctl, &log, a->out, 0, a->resume, MLP_KIND, settings(a));   /* rank 0 writes checkpoints */
    mlp_result res;
    a->cfg.pool = cli_train_pool(c);
    int rc = src ? mlp_train_source(m, &a->cfg, src, vt ? &vd : NULL, &log, &res, &e)
                 : mlp_train(m, &a->cfg, &d, vt ? &vd : NULL, &log, &res, &e);
    par_free(a->cfg.pool);
    a->cfg.pool = NULL;
    if (rc < 0) cli_train_failed(c, &ctl, "%s: %s", file, e.msg);
    if (ctl.sig) cli_train_interrupted(c, &ctl);
    if (rank0) {
        model_file *mf = mlp_save(m, &a->cfg, &res, schema->meta, &e);
        if (!mf) cli_fail_error(c, &e);
        FILE *out = cli_open_out(c, a->out);
        if (model_file_write(mf, out, &e) < 0) cli_fail(c, "%s: %s", a->out, e.msg);
        cli_commit(c);
        model_file_free(mf);
        if (!a->quiet) say_how_it_ended(c, a, &res);
    }
    cli_train_done(c, &ctl);
    mlp_free(m);
    datasource_free(src);
    stream_table_free(t);
    stream_table_free(vt);
    dist_finalize();
}

static int predict_batch(void *m, const float *x, size_t rows, float *p, error *e)
{
    return mlp_predict(m, x, rows, p, e);
}

static void predict_main(cli *c, args *a)
{
    if (!a->model && a->nfiles == 2) a->model = a->files[0], a->files[0] = a->files[1], a->nfiles = 1;
    if (!a->model) cli_usage_error(c, "predict: -m MODEL is required");
    if (a->nfiles > 1) cli_usage_error(c, "predict: at most one input file");
    error e;
    model_file *mf = model_file_load(a->model, MLP_KIND, &e);
    if (!mf) cli_fail_error(c, &e);
    mlp *m = mlp_load(mf, &e);
    if (!m) cli_fail(c, "%s: %s", a->model, e.msg);
    const char *path = a->nfiles ? a->files[0] : NULL;
    FILE *in = cli_open_in(c, path);
    stream_reader *r = stream_reader_open(in, cli_in_name(path), &e);
    if (!r) cli_fail_error(c, &e);
    filter f = {.output = "p", .width = mlp_classes(m), .in_width = mlp_features(m), .classes = mlp_classes(m),
                .class_names = value_get(mf->info, STREAM_META_CLASSES), .name = cli_in_name(path),
                .fn = predict_batch, .ctx = m};
    if (filter_run(r, cli_open_out(c, a->out), &f, &e)) cli_fail_error(c, &e);
    cli_commit(c);
    stream_reader_close(r);
    if (in != stdin) fclose(in);
    mlp_free(m);
    model_file_free(mf);
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-fit");
    static const char *const cmds[] = {"train", "predict", NULL};
    int is_train = cli_dispatch(&c, argc, argv, cmds, USAGE) == 0;
    args a;
    parse_args(&c, argc - 1, argv + 1, &a);
    cli_set_threads(&c, a.threads);
    if (is_train) train_main(&c, &a);
    else predict_main(&c, &a);
    return 0;
}
