/* ssl-gan: the semi-supervised GAN of Salimans et al. 2016: train (discriminator as a K-class
 * classifier with an implicit fake class, generator by feature matching), predict (p(y|x) from the
 * discriminator) and sample (rows from the generator, optionally of one class). The maths lives in
 * lib/methods/gan*.c and lib/core/norm.c. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_train.h"
#include "datasource.h"
#include "dist.h"
#include "filter.h"
#include "gan.h"
#include "imagegrid.h"
#include "model.h"
#include "stream.h"
#include "trainlog.h"

static const char USAGE[] =
    "Usage: ssl-gan train [OPTIONS] [FILE] -o MODEL\n"
    "       ssl-gan predict -m MODEL [FILE] [-o OUT]\n"
    "       ssl-gan sample -m MODEL -n N [--class K] [-o OUT] [--png FILE]\n"
    "\n"
    "train: the semi-supervised GAN of Salimans et al. 2016 on a stream with x (f32 features) and\n"
    "y (i32 labels, -1 = unlabelled). The discriminator D (Gaussian noise on its input and after\n"
    "each weight-normalised ReLU layer) has K logits, the fake class an implicit logit 0; it learns\n"
    "from the labelled cross-entropy plus the real/fake loss. The generator G (uniform noise, dense\n"
    "layers with batch norm and softplus, sigmoid output for data in [0, 1]) learns by feature\n"
    "matching on D's last hidden layer. Each step sees B labelled rows (the labelled set re-drawn),\n"
    "B unlabelled rows and B generated rows; an epoch is one pass over all rows as unlabelled data.\n"
    "Holds the training stream in memory (with --stream-data: reads FILE every epoch instead, holding\n"
    "the labelled rows and the first N rows). K comes from the stream's class_names, else max(y)+1.\n"
    "Under mpirun (the MPI build, make MPI=1) each process trains on its share of every step's batch\n"
    "(--batch must divide by the number of processes) and rank 0 writes the model and the log.\n"
    "The model is written atomically, and after every --checkpoint-every epochs, so a run that\n"
    "diverges (NaN or exploding loss: it stops naming the epoch and batch) keeps its last good model.\n"
    "SIGINT or SIGTERM stops training at the next step: MODEL.ckpt gets the whole training state\n"
    "after the last whole epoch (also written every --checkpoint-every epochs, and kept when training\n"
    "diverges) and the program dies by the signal (status 130 or 143); --resume continues from it.\n"
    "  -o, --output MODEL       model file to write (required)\n"
    "      --d-hidden LIST      D's hidden dense layers (default 1000,500,250,250,250)\n"
    "      --d-conv SPEC        convolutions first in D, on the rows as images (meta image_shape, else\n"
    "                           square; one channel): channels:kernel:stride per layer, e.g.\n"
    "                           32:5:2,64:3:2 (odd kernels, zero padding (kernel-1)/2), each with ReLU\n"
    "                           and the hidden noise; the last flattened into --d-hidden\n"
    "      --d-pool             with --d-conv: mean-pool the last conv layer over its pixels instead\n"
    "                           of flattening it\n"
    "      --g-hidden LIST      G's hidden layers (default 500,500)\n"
    "      --g-deconv SPEC      a convolutional G instead (DCGAN-style; rows as images as for --d-conv):\n"
    "                           CxHxW,channels:kernel:stride,... e.g. 64x7x7,32:5:2,1:5:2: noise ->\n"
    "                           dense -> C x H x W, then transposed convolutions (odd kernels, output\n"
    "                           = input x stride), batch norm over channels and ReLU after all but the\n"
    "                           last, which must give the images (1 channel) with G's output activation\n"
    "      --noise-dim N        G's noise dimension (default 100)\n"
    "      --input-noise SD     Gaussian noise on D's input (default 0.3)\n"
    "      --hidden-noise SD    Gaussian noise after D's hidden layers (default 0.5)\n"
    "      --conditional        class-conditional G (one-hot class as an input of G, and a loss\n"
    "                           asking D to classify a generated row as its class)\n"
    "      --cond-weight X      weight of that class loss in G's loss (default 1)\n"
    "      --mode-seeking X     weight of a term in G's loss asking two rows of the same class from\n"
    "                           different noise to differ (Mao et al. 2019; default 0)\n"
    "      --g-output ACT       sigmoid, none or auto (default: sigmoid when x is within [0, 1])\n"
    "      --epochs N           epochs (default 10; the authors ran hundreds)\n"
    "      --batch N            rows of each part of a step (default 100)\n"
    "      --lr X               Adam learning rate (default 0.003)\n"
    "      --beta1 X            Adam beta1 (default 0.5)\n"
    "      --lr-decay-start E   from epoch E the rate falls linearly to 0 at the end (default: never)\n"
    "      --unl-weight X       weight of the real/fake loss in D's loss (default 1)\n"
    "      --entropy-weight X   add X times the entropy of p(y|x) on the unlabelled rows to D's loss\n"
    "                           (entropy minimisation; default 0)\n"
    "      --consistency X      add X times sum_k (p_k(x) - p_k(x'))^2 over the unlabelled rows to D's\n"
    "                           loss, x' a randomly shifted copy of x (images; default 0)\n"
    "      --cons-shift N       x' is x moved by up to N pixels each way (default 2)\n"
    "      --cons-flip          x' is also mirrored left-right with probability 1/2\n"
    "      --vat EPS            virtual adversarial training of p(y|x) (softmax over D's K class logits)\n"
    "                           on the step's labelled and unlabelled rows (Miyato et al. 2018): adds\n"
    "                           the mean KL between p(y|x) and p(y|x + r), ||r|| = EPS per row in the\n"
    "                           direction that changes it most, to D's loss (its passes share one\n"
    "                           draw of D's noise; one process)\n"
    "      --vat-xi X           step of the power iteration that finds r (default 0.001)\n"
    "      --vat-iterations N   power iterations (default 1)\n"
    "      --entmin W           adds W times the mean entropy of p(y|x) on those rows, in those passes\n"
    "                           (--entropy-weight: on the unlabelled rows, in D's training pass)\n"
    "      --shift N            move each labelled row by up to N pixels each way, at random (images:\n"
    "                           meta image_shape or square; default 0)\n"
    "      --shift-unlabelled N move the unlabelled rows D and G see so too (default 0)\n"
    "      --ema DECAY          predict with a moving average of D's weights (Polyak averaging),\n"
    "                           decay per step, e.g. 0.999 (default 0: the last weights)\n"
    "      --val FILE           validation stream: val_accuracy per epoch\n"
    "      --checkpoint-every N write the model every N epochs (default 1; 0 = only at the end)\n"
    "      --max-loss X         a loss above X stops training as diverged (default 10000)\n"
    "      --resume             continue from MODEL.ckpt (same options and --threads give the same\n"
    "                           model as an uninterrupted run)\n"
    "      --seed N             seed of every random choice (default 0)\n"
    "      --stream-data        read FILE every epoch (twice: D's and G's unlabelled batches) through\n"
    "                           shuffle buffers instead of into memory; the labelled rows are held\n"
    "      --shuffle-buffer N   rows of each buffer (default 10000; D's initialisation uses FILE's\n"
    "                           first N rows); when FILE has at most N rows, the model is the\n"
    "                           in-memory one, byte for byte\n"
    "      --log FILE           per-epoch metrics as JSON lines: d_loss lab_loss unl_loss g_loss\n"
    "                           train_accuracy d_real_acc d_fake_acc sample_spread [val_accuracy\n"
    "                           val_accuracy_last (with --ema: without the average)]\n"
    "                           [ent_loss] [cons_loss] [vat_loss] (with --entropy-weight,\n"
    "                           --consistency, --vat or --entmin)\n"
    "                           (sample_spread: mean distance between generated rows over that\n"
    "                           between data rows; near 0 means mode collapse)\n"
    "  -q, --quiet              no progress on stderr\n"
    "\n"
    "predict: streams FILE (or stdin) in bounded memory and adds p (f32, K per row) = softmax of D's\n"
    "logits, without noise; an existing p is replaced, every other tensor passes through.\n"
    "  -m, --model MODEL        model written by ssl-gan train\n"
    "  -o, --output OUT         output stream (default stdout)\n"
    "\n"
    "sample: N rows from G (batch norm with its running statistics) as a stream with x, and y when\n"
    "G is conditional (the given --class, else 0, 1, ..., K-1 in turn).\n"
    "  -m, --model MODEL        model written by ssl-gan train\n"
    "  -n, --rows N             rows to generate (required)\n"
    "      --class K            rows of class K only (conditional models)\n"
    "      --seed N             seed (default 0)\n"
    "  -o, --output OUT         output stream (default stdout; with --png, only when given)\n"
    "      --png FILE           the rows drawn as a PNG grid (images: meta image_shape or square)\n"
    "\n"
    "All:\n"
    "      --threads N          threads for the products (BLAS) and, in training, the element-wise\n"
    "                           loops (default and most: all cores)\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Examples:\n"
    "  ssl-prep csv data/digits.csv.gz > digits.ssl\n"
    "  ssl-gan train --d-hidden 500,250,250 --epochs 50 --seed 1 train.ssl -o digits.gan\n"
    "  ssl-gan train --d-conv 32:5:2,64:3:2 --d-hidden 250 --ema 0.999 fashion.ssl -o fashion.gan\n"
    "  ssl-gan train --g-deconv 64x7x7,32:5:2,1:5:2 --ema 0.999 fashion.ssl -o fashion.gan\n"
    "  ssl-gan predict -m digits.gan test.ssl | ssl-eval\n"
    "  ssl-gan sample -m digits.gan -n 100 --png samples.png\n";

enum { OPT_DH = 256, OPT_GH, OPT_NOISE, OPT_IN_NOISE, OPT_HID_NOISE, OPT_COND, OPT_GOUT, OPT_EPOCHS, OPT_BATCH,
       OPT_LR, OPT_BETA1, OPT_DECAY, OPT_VAL, OPT_CKPT, OPT_MAXLOSS, OPT_SEED, OPT_LOG, OPT_CLASS, OPT_PNG,
       OPT_THREADS, OPT_CW, OPT_UNLW, OPT_ENTW, OPT_CONS, OPT_CONS_SHIFT, OPT_CONS_FLIP, OPT_SHIFT, OPT_USHIFT, OPT_EMA, OPT_RESUME, OPT_MS, OPT_STREAM, OPT_BUFFER, OPT_DCONV,
       OPT_DPOOL, OPT_GDECONV, OPT_VAT, OPT_VAT_XI, OPT_VAT_ITERS, OPT_ENTMIN };

static const struct option OPTS[] = {
    {"output", required_argument, 0, 'o'},          {"model", required_argument, 0, 'm'},
    {"rows", required_argument, 0, 'n'},            {"d-hidden", required_argument, 0, OPT_DH},
    {"g-hidden", required_argument, 0, OPT_GH},     {"noise-dim", required_argument, 0, OPT_NOISE},
    {"input-noise", required_argument, 0, OPT_IN_NOISE}, {"hidden-noise", required_argument, 0, OPT_HID_NOISE},
    {"conditional", no_argument, 0, OPT_COND},      {"g-output", required_argument, 0, OPT_GOUT},
    {"epochs", required_argument, 0, OPT_EPOCHS},   {"batch", required_argument, 0, OPT_BATCH},
    {"lr", required_argument, 0, OPT_LR},           {"beta1", required_argument, 0, OPT_BETA1},
    {"lr-decay-start", required_argument, 0, OPT_DECAY}, {"val", required_argument, 0, OPT_VAL},
    {"checkpoint-every", required_argument, 0, OPT_CKPT}, {"max-loss", required_argument, 0, OPT_MAXLOSS},
    {"seed", required_argument, 0, OPT_SEED},       {"log", required_argument, 0, OPT_LOG},
    {"class", required_argument, 0, OPT_CLASS},     {"png", required_argument, 0, OPT_PNG},
    {"threads", required_argument, 0, OPT_THREADS}, {"quiet", no_argument, 0, 'q'},
    {"cond-weight", required_argument, 0, OPT_CW},   {"unl-weight", required_argument, 0, OPT_UNLW},
    {"entropy-weight", required_argument, 0, OPT_ENTW}, {"consistency", required_argument, 0, OPT_CONS},
    {"cons-shift", required_argument, 0, OPT_CONS_SHIFT}, {"cons-flip", no_argument, 0, OPT_CONS_FLIP},
    {"shift", required_argument, 0, OPT_SHIFT},     {"shift-unlabelled", required_argument, 0, OPT_USHIFT},
        {"ema", required_argument, 0, OPT_EMA},
    {"mode-seeking", required_argument, 0, OPT_MS},
    {"d-conv", required_argument, 0, OPT_DCONV},    {"d-pool", no_argument, 0, OPT_DPOOL},
    {"g-deconv", required_argument, 0, OPT_GDECONV},
    {"vat", required_argument, 0, OPT_VAT},         {"vat-xi", required_argument, 0, OPT_VAT_XI},
    {"vat-iterations", required_argument, 0, OPT_VAT_ITERS}, {"entmin", required_argument, 0, OPT_ENTMIN},
    {"resume", no_argument, 0, OPT_RESUME},
    {"stream-data", no_argument, 0, OPT_STREAM},    {"shuffle-buffer", required_argument, 0, OPT_BUFFER},
    {"help", no_argument, 0, 'h'},                  {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

typedef struct args {
    const char *out, *model, *val, *log, *png;
    const char *files[2];
    int nfiles;
    int threads, quiet, resume, ckpt_every, gout_auto, cls, has_cls;
    int stream_data;         /* train --stream-data */
    int gh_given;            /* --g-hidden was given */
    long rows, buffer;       /* buffer: --shuffle-buffer, 0 = not given */
    gan_arch arch;
    gan_config cfg;
} args;

static void parse_args(cli *c, int argc, char **argv, args *a)
{
    static const char *const gouts[] = {"auto", "sigmoid", "none", NULL};
    memset(a, 0, sizeof *a);
    gan_arch_default(&a->arch);
    gan_config_default(&a->cfg);
    a->ckpt_every = 1;
    a->gout_auto = 1;
    a->rows = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:m:n:qhV", OPTS, NULL)) != -1) {
        gan_arch *h = &a->arch;
        gan_config *k = &a->cfg;
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 'm': a->model = optarg; break;
        case 'n': a->rows = cli_parse_long(c, "--rows", optarg, 0, 1L << 40); break;
        case 'q': a->quiet = 1; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_STREAM: a->stream_data = 1; break;
        case OPT_BUFFER: a->buffer = cli_parse_long(c, "--shuffle-buffer", optarg, 1, 1L << 40); break;
        case OPT_DH:
            h->nd = cli_parse_int_list(c, "--d-hidden", optarg, h->d_hidden, GAN_MAX_LAYERS);
            if (!h->nd) cli_usage_error(c, "--d-hidden: D needs at least one hidden layer (its last is matched by G)");
            break;
        case OPT_DCONV: {
            error e;
            if (gan_conv_parse(h, optarg, &e)) cli_usage_error(c, "%s", e.msg);
            break;
        }
        case OPT_DPOOL: h->pool = 1; break;
        case OPT_GH:
            h->ng = cli_parse_int_list(c, "--g-hidden", optarg, h->g_hidden, GAN_MAX_LAYERS);
            a->gh_given = 1;
            break;
        case OPT_GDECONV: {
            error e;
            if (gan_deconv_parse(h, optarg, &e)) cli_usage_error(c, "%s", e.msg);
            break;
        }
        case OPT_NOISE: h->noise_dim = (int)cli_parse_long(c, "--noise-dim", optarg, 1, 1 << 20); break;
        case OPT_IN_NOISE: h->input_noise = (float)cli_parse_double(c, "--input-noise", optarg, 0, 100); break;
        case OPT_HID_NOISE: h->hidden_noise = (float)cli_parse_double(c, "--hidden-noise", optarg, 0, 100); break;
        case OPT_COND: h->conditional = 1; break;
        case OPT_GOUT: {
            int i = cli_parse_choice(c, "--g-output", optarg, gouts);
            a->gout_auto = i == 0;
            h->g_out = i == 2 ? NN_ACT_NONE : NN_ACT_SIGMOID;
            break;
        }
        case OPT_EPOCHS: k->epochs = (int)cli_parse_long(c, "--epochs", optarg, 1, 1000000); break;
        case OPT_BATCH: k->batch = (int)cli_parse_long(c, "--batch", optarg, 1, 1 << 20); break;
        case OPT_LR: k->lr = cli_parse_double(c, "--lr", optarg, 1e-12, 10); break;
        case OPT_BETA1: k->beta1 = cli_parse_double(c, "--beta1", optarg, 0, 0.999999); break;
        case OPT_DECAY: k->lr_decay_start = (int)cli_parse_long(c, "--lr-decay-start", optarg, 1, 1000000); break;
        case OPT_VAL: a->val = optarg; break;
        case OPT_CKPT: a->ckpt_every = (int)cli_parse_long(c, "--checkpoint-every", optarg, 0, 1000000); break;
        case OPT_MAXLOSS: k->max_loss = cli_parse_double(c, "--max-loss", optarg, 0, 1e300); break;
        case OPT_SEED: k->seed = (uint64_t)cli_parse_long(c, "--seed", optarg, 0, (1L << 62)); break;
        case OPT_LOG: a->log = optarg; break;
        case OPT_CLASS: a->cls = (int)cli_parse_long(c, "--class", optarg, 0, 1 << 20), a->has_cls = 1; break;
        case OPT_PNG: a->png = optarg; break;
        case OPT_CW: k->cond_weight = cli_parse_double(c, "--cond-weight", optarg, 0, 1e6); break;
        case OPT_MS: k->ms_weight = cli_parse_double(c, "--mode-seeking", optarg, 0, 1e6); break;
        case OPT_UNLW: k->unl_weight = cli_parse_double(c, "--unl-weight", optarg, 0, 1e6); break;
        case OPT_ENTW: k->ent_weight = cli_parse_double(c, "--entropy-weight", optarg, 0, 1e6); break;
        case OPT_CONS: k->cons_weight = cli_parse_double(c, "--consistency", optarg, 0, 1e6); break;
        case OPT_CONS_SHIFT: k->cons_shift = (int)cli_parse_long(c, "--cons-shift", optarg, 0, 1 << 20); break;
        case OPT_CONS_FLIP: k->cons_flip = 1; break;
        case OPT_VAT: k->vat.eps = cli_parse_double(c, "--vat", optarg, 0, 1e6); break;
        case OPT_VAT_XI: k->vat.xi = cli_parse_double(c, "--vat-xi", optarg, 1e-12, 1e3); break;
        case OPT_VAT_ITERS: k->vat.iters = (int)cli_parse_long(c, "--vat-iterations", optarg, 1, 100); break;
        case OPT_ENTMIN: k->vat.entmin = cli_parse_double(c, "--entmin", optarg, 0, 1e6); break;
        case OPT_SHIFT: k->shift = (int)cli_parse_long(c, "--shift", optarg, 0, 1 << 20); break;
        case OPT_USHIFT: k->unl_shift = (int)cli_parse_long(c, "--shift-unlabelled", optarg, 0, 1 << 20); break;
        case OPT_EMA:
            k->ema_decay = cli_parse_double(c, "--ema", optarg, 0, 0.999999999);
            h->ema = k->ema_decay > 0;
            break;
        case OPT_THREADS: a->threads = (int)cli_parse_long(c, "--threads", optarg, 1, 1024); break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    a->nfiles = cli_inputs(c, argc, argv, a->files, 2);
    if (a->arch.pool && !a->arch.nc) cli_usage_error(c, "--d-pool needs --d-conv");
    if (a->arch.ngc && a->gh_given) cli_usage_error(c, "--g-deconv replaces --g-hidden: give one of them");
    if (a->arch.ngc) a->arch.ng = 0;   /* the convolutional G has no dense hidden layers */
}

/* ---- train ---- */

/* What a look at the training rows finds, batch by batch: in memory the one table, with
 * --stream-data the first pass over the file (which also keeps the labelled rows and the first rows). */
typedef struct scan {
    const char *file;
    int F;                       /* x's width */
    int named;                   /* classes the stream names, 0 = none */
    int maxy;                    /* the largest label, -1 = none */
    size_t labelled;
    float lo, hi;                /* the range of x */
    int keep;                    /* --stream-data: gather lab and first */
    stream_table *lab, *first;   /* the labelled rows; the file's first rows, up to first_cap */
    size_t first_cap;
} scan;

/* x (f32 rows, finite) and y (i32 scalar, -1 or a class) of a batch whose first row is row0 + 1 of
 * the file. */
static int scan_rows(const stream_table *t, size_t row0, void *ctx, error *e)
{
    scan *s = ctx;
    const stream_schema *sc = t->schema;
    int ix = stream_schema_find(sc, "x"), iy = stream_schema_find(sc, "y");
    if (ix < 0) return error_set(e, "%s: stream has no tensor 'x' (features)", s->file);
    if (iy < 0) return error_set(e, "%s: stream has no tensor 'y' (labels are needed to train)", s->file);
    error te;
    const float *x = stream_table_col_typed(t, "x", STREAM_F32, &te);
    const int32_t *y = x ? stream_table_col_typed(t, "y", STREAM_I32, &te) : NULL;
    if (!y) return error_set(e, "%s: %s", s->file, te.msg);
    if (sc->fields[iy].width != 1)
        return error_set(e, "%s: tensor 'y' has %zu values per row, expected 1", s->file, sc->fields[iy].width);
    size_t F = sc->fields[ix].width;
    s->F = (int)F;
    s->named = stream_meta_num_classes(sc);
    for (size_t i = 0; i < t->nrows * F; i++) {
        if (!isfinite(x[i])) return error_set(e, "%s: row %zu: x[%zu] is not a finite number", s->file, row0 + i / F + 1, i % F);
        s->lo = x[i] < s->lo ? x[i] : s->lo;
        s->hi = x[i] > s->hi ? x[i] : s->hi;
    }
    if (s->keep && !s->lab && (!(s->lab = stream_table_new(sc)) || !(s->first = stream_table_new(sc))))
        return error_set(e, "out of memory");
    for (size_t i = 0; i < t->nrows; i++) {
        if (y[i] < -1)
            return error_set(e, "%s: row %zu: label %d is negative (-1 marks an unlabelled row)", s->file, row0 + i + 1, y[i]);
        if (s->named && y[i] >= s->named)
            return error_set(e, "%s: row %zu: label %d, but the model has %d classes", s->file, row0 + i + 1, y[i], s->named);
        s->maxy = y[i] > s->maxy ? y[i] : s->maxy;
        s->labelled += y[i] >= 0;
        if (s->keep && y[i] >= 0 && stream_table_append(s->lab, t, i, 1, e) < 0) return -1;
    }
    size_t want = s->keep ? s->first_cap - s->first->nrows : 0;
    return want && stream_table_append(s->first, t, 0, want < t->nrows ? want : t->nrows, e) < 0 ? -1 : 0;
}

/* K: the stream's class_names, else max(y) + 1. */
static int class_count(cli *c, const scan *s)
{
    error e;
    if (!s->named && s->maxy < 0) cli_fail(c, "%s: no labelled rows to train on (every y is -1)", s->file);
    int K = stream_classes_k(s->named, 0, s->maxy, &e);
    if (K < 0) cli_fail(c, "%s: %s", s->file, e.msg);
    return K;
}

/* x and y of a table that scan_rows checked. */
static gan_data table_data(const stream_table *t)
{
    gan_data d = {0};
    if (t) d.x = stream_table_col(t, "x"), d.y = stream_table_col(t, "y"), d.n = t->nrows;
    return d;
}

typedef struct train_ctx {
    cli *c;
    const args *a;
    const value *meta;       /* the training stream's */
    size_t rows, labelled;
    int last_ckpt;           /* epoch of the last checkpoint written, 0 = none */
    int epochs_done;
    trainlog *log;
} train_ctx;

/* The model file: parameters, architecture, the stream's names and shapes, the provenance. */
static model_file *make_model(gan *m, const train_ctx *t, error *e)
{
    static const char *const keep[] = {STREAM_META_CLASSES, STREAM_META_FEATURES, STREAM_META_RANGE, "image_shape",
                                       STREAM_META_SCALING};
    model_file *f = gan_save(m, e);
    if (!f) return NULL;
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const value *v = value_get(t->meta, keep[i]);
        if (v) value_set(f->info, keep[i], value_copy(v));
    }
    const gan_config *k = &t->a->cfg;
    value_set(f->info, "seed", value_int((int64_t)k->seed));
    value_set(f->info, "epochs", value_int(t->epochs_done));
    value_set(f->info, "batch", value_int(k->batch));
    value_set(f->info, "lr", value_float(k->lr));
    value_set(f->info, "beta1", value_float(k->beta1));
    value_set(f->info, "lr_decay_start", value_int(k->lr_decay_start));
    value_set(f->info, "unl_weight", value_float(k->unl_weight));
    value_set(f->info, "shift", value_int(k->shift));
    if (k->unl_shift > 0) value_set(f->info, "shift_unlabelled", value_int(k->unl_shift));
    if (k->ms_weight > 0) value_set(f->info, "mode_seeking", value_float(k->ms_weight));
    if (k->ent_weight > 0) value_set(f->info, "entropy_weight", value_float(k->ent_weight));
    if (k->cons_weight > 0) {
        value_set(f->info, "consistency", value_float(k->cons_weight));
        value_set(f->info, "cons_shift", value_int(k->cons_shift));
        value_set(f->info, "cons_flip", value_bool(k->cons_flip));
    }
    vat_config_put(&k->vat, f->info, 0);
    if (t->a->arch.ema) value_set(f->info, "ema_decay", value_float(k->ema_decay));
    if (t->a->arch.conditional) value_set(f->info, "cond_weight", value_float(k->cond_weight));
    value_set(f->info, "rows", value_int((int64_t)t->rows));
    value_set(f->info, "labelled_rows", value_int((int64_t)t->labelled));
    value *last = value_map();
    for (int i = 0; t->log && i < t->log->nm; i++) value_set(last, t->log->names[i], value_float(t->log->vals[i]));
    value_set(f->info, "final", last);
    return f;
}

/* Writes the model to path atomically: the old file stays whole until then. */
static int write_checkpoint(gan *m, train_ctx *t, const char *path, error *e)
{
    model_file *f = make_model(m, t, e);
    if (!f) return -1;
    int rc = model_file_save(f, path, e);
    model_file_free(f);
    return rc;
}

static int on_epoch(gan *m, int epoch, void *ctx, error *e)
{
    train_ctx *t = ctx;
    t->epochs_done = epoch;
    int every = t->a->ckpt_every;
    const char *out = t->a->out;
    struct stat st;
    if (!every || epoch % every || epoch == t->a->cfg.epochs || strcmp(out, "-") == 0) return 0;
    if (dist_rank() != 0) return 0;   /* every process holds the model: rank 0 writes it */
    if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) return 0;   /* a device or a pipe */
    if (write_checkpoint(m, t, out, e)) return -1;
    t->last_ckpt = epoch;
    return 0;
}

/* What train_main holds, freed before a failure exits (so leak checkers see a clean exit). */
typedef struct held {
    stream_table *t, *vt;    /* t: NULL with --stream-data */
    datasource *unl[2];      /* --stream-data: the file's two passes an epoch */
    scan sc;
    gan *m;
} held;

static void held_free(held *h)
{
    stream_table_free(h->t);
    stream_table_free(h->vt);
    datasource_free(h->unl[0]);
    datasource_free(h->unl[1]);
    stream_table_free(h->sc.lab);
    stream_table_free(h->sc.first);
    gan_free(h->m);
    memset(h, 0, sizeof *h);
}

static _Noreturn void __attribute__((format(printf, 3, 4))) train_fail(cli *c, held *h, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    held_free(h);
    cli_fail(c, "%s", msg);
}


/* The training rows into src: held (every row in h->t), or --stream-data: the file checked in a
 * first pass that keeps its labelled rows and first rows (D's init), then read every epoch. */
static const stream_schema *load_train(cli *c, const args *a, const char *path, held *h, gan_source *src)
{
    error e;
    scan *sc = &h->sc;
    sc->file = cli_in_name(path), sc->maxy = -1, sc->lo = INFINITY, sc->hi = -INFINITY;
    memset(src, 0, sizeof *src);
    if (!a->stream_data) {
        h->t = cli_load_stream(c, path);
        if (scan_rows(h->t, 0, sc, &e) < 0) train_fail(c, h, "%s", e.msg);
        src->lab = src->init = table_data(h->t);
        return h->t->schema;
    }
    size_t K = a->buffer ? (size_t)a->buffer : DATASOURCE_BUFFER_ROWS;
    sc->keep = 1, sc->first_cap = K;
    if (!(h->unl[0] = datasource_stream(path, K, scan_rows, sc, &e)) || !(h->unl[1] = datasource_stream(path, K, NULL, NULL, &e)))
        train_fail(c, h, "%s", e.msg);
    src->lab = table_data(sc->lab);
    src->init = table_data(sc->first);
    src->unl[0] = h->unl[0], src->unl[1] = h->unl[1];
    return datasource_schema(h->unl[0]);
}

static void train_usage(cli *c, const args *a)
{
    if (!a->out) cli_usage_error(c, "train: -o MODEL is required");
    if (a->model || a->png || a->has_cls || a->rows >= 0) cli_usage_error(c, "train: -m, -n, --class and --png are for sample");
    if (a->nfiles > 1) cli_usage_error(c, "train: at most one input file");
    if (a->stream_data && (!a->nfiles || strcmp(a->files[0], "-") == 0))
        cli_usage_error(c, "--stream-data needs a FILE (it is read again every epoch), not stdin");
    if (a->buffer && !a->stream_data) cli_usage_error(c, "--shuffle-buffer goes with --stream-data");
    if (vat_active(&a->cfg.vat) && dist_size() > 1) cli_usage_error(c, "--vat and --entmin train in one process (no mpirun)");
    if (a->cfg.batch % dist_size())
        cli_usage_error(c, "--batch %d does not divide among %d processes (each takes an equal share of every step)",
                        a->cfg.batch, dist_size());
}

/* What decides the model's bytes, for --resume to compare (trainctl_set_settings). */
static value *settings(const args *a)
{
    const gan_arch *h = &a->arch;
    const gan_config *k = &a->cfg;
    char conv[256], deconv[256];
    gan_conv_format(h, conv, sizeof conv);
    gan_deconv_format(h, deconv, sizeof deconv);
    value *s = cli_train_settings();
    value_set(s, "d-hidden", cli_int_list(h->d_hidden, h->nd));
    value_set(s, "g-hidden", cli_int_list(h->g_hidden, h->ng));
    value_set(s, "d-conv", value_str(conv));
    value_set(s, "d-pool", value_bool(h->pool));
    value_set(s, "g-deconv", value_str(deconv));
    value_set(s, "noise-dim", value_int(h->noise_dim));
    value_set(s, "input-noise", value_float(h->input_noise));
    value_set(s, "hidden-noise", value_float(h->hidden_noise));
    value_set(s, "conditional", value_bool(h->conditional));
    value_set(s, "g-output", value_int(a->gout_auto ? -1 : (int)h->g_out));
    value_set(s, "ema", value_float(h->ema ? k->ema_decay : 0));
    value_set(s, "epochs", value_int(k->epochs));
    value_set(s, "batch", value_int(k->batch));
    value_set(s, "lr", value_float(k->lr));
    value_set(s, "beta1", value_float(k->beta1));
    value_set(s, "lr-decay-start", value_int(k->lr_decay_start));
    value_set(s, "cond-weight", value_float(k->cond_weight));
    value_set(s, "unl-weight", value_float(k->unl_weight));
    value_set(s, "mode-seeking", value_float(k->ms_weight));
    value_set(s, "entropy-weight", value_float(k->ent_weight));
    value_set(s, "consistency", value_float(k->cons_weight));
    value_set(s, "cons-shift", value_int(k->cons_shift));
    value_set(s, "cons-flip", value_bool(k->cons_flip));
    value_set(s, "shift", value_int(k->shift));
    if (k->unl_shift > 0) value_set(s, "shift-unlabelled", value_int(k->unl_shift));
    vat_config_put(&k->vat, s, 1);   /* only when on, as shift-unlabelled: checkpoints from before keep resuming */
    value_set(s, "seed", value_int((int64_t)k->seed));
    value_set(s, "stream-data", value_bool(a->stream_data));
    value_set(s, "shuffle-buffer", value_int(a->buffer));
    return s;
}

static void train_main(cli *c, args *a)
{
    error e;
    if (dist_init(NULL, NULL, &e) < 0) cli_fail_error(c, &e);
    int rank0 = dist_rank() == 0;   /* under mpirun, rank 0 alone reports and writes */
    train_usage(c, a);
    cli_distinct_outputs(c, (const char *[]){a->out, a->log}, 2);
    const char *path = a->nfiles ? a->files[0] : NULL, *file = cli_in_name(path);
    held h = {0};
    gan_source src;
    const stream_schema *schema = load_train(c, a, path, &h, &src);
    a->arch.features = h.sc.F;
    a->arch.classes = class_count(c, &h.sc);
    if (a->gout_auto) a->arch.g_out = h.sc.lo >= 0 && h.sc.hi <= 1 ? NN_ACT_SIGMOID : NN_ACT_NONE;
    if (a->cfg.shift > 0 || a->cfg.unl_shift > 0 || a->cfg.cons_weight > 0)
        cli_image_shape(c, schema->meta, h.sc.F, file,
                        a->cfg.shift > 0 ? "--shift" : a->cfg.unl_shift > 0 ? "--shift-unlabelled" : "--consistency",
                        &a->cfg.img_h, &a->cfg.img_w);
    if (a->arch.nc || a->arch.ngc) {   /* D's convolutions see, G's make, the rows as one-channel images */
        cli_image_shape(c, schema->meta, h.sc.F, file, a->arch.nc ? "--d-conv" : "--g-deconv", &a->arch.img_h, &a->arch.img_w);
        a->arch.img_c = 1;
    }
    gan_data vd = {0};
    if (a->val && rank0) {   /* val_accuracy is rank 0's to log */
        scan vs = {.file = a->val, .maxy = -1};
        h.vt = cli_load_stream(c, a->val);
        if (scan_rows(h.vt, 0, &vs, &e) < 0) train_fail(c, &h, "%s", e.msg);
        if (vs.F != h.sc.F) train_fail(c, &h, "%s: %d features, the training data has %d", a->val, vs.F, h.sc.F);
        vd = table_data(h.vt);
    }
    if (!(h.m = gan_new(&a->arch, &e))) train_fail(c, &h, "%s: %s", file, e.msg);
    FILE *logf = a->log && rank0 ? cli_open_log(c, a->log) : NULL;
    trainlog log;
    trainlog_init(&log, c->prog, a->quiet || !rank0 ? NULL : stderr, logf);
    size_t rows = a->stream_data ? datasource_rows(h.unl[0]) : h.t->nrows;
    train_ctx tc = {c, a, schema->meta, rows, h.sc.labelled, 0, 0, &log};
    trainctl ctl;
    cli_train_init(c, &ctl, &log, a->out, rank0 ? a->ckpt_every : 0, a->resume, GAN_KIND, settings(a));
    const gan_data *val = h.vt ? &vd : NULL;
    par_pool *pool = cli_train_pool(c);
    h.m->pool = pool;
    int rc = a->stream_data ? gan_train_source(h.m, &a->cfg, &src, val, &log, on_epoch, &tc, &e)
                            : gan_train(h.m, &a->cfg, &src.lab, val, &log, on_epoch, &tc, &e);
    h.m->pool = NULL;
    par_free(pool);
    if (rc < 0) {
        if (tc.last_ckpt)
            cli_train_failed(c, &ctl, "%s: %s (%s keeps the model of epoch %d)", file, e.msg, a->out, tc.last_ckpt);
        cli_train_failed(c, &ctl, "%s: %s", file, e.msg);
    }
    if (ctl.sig) cli_train_interrupted(c, &ctl);
    if (rank0) {
        model_file *mf = make_model(h.m, &tc, &e);
        if (!mf) train_fail(c, &h, "%s", e.msg);
        FILE *out = cli_open_out(c, a->out);
        rc = model_file_write(mf, out, &e);
        model_file_free(mf);
        if (rc < 0) train_fail(c, &h, "%s: %s", a->out, e.msg);
        cli_commit(c);
    }
    cli_train_done(c, &ctl);
    held_free(&h);
    dist_finalize();
}

/* ---- predict ---- */

static gan *load_model(cli *c, const char *path, model_file **mf)
{
    error e;
    *mf = model_file_load(path, GAN_KIND, &e);
    if (!*mf) cli_fail_error(c, &e);
    gan *m = gan_load(*mf, &e);
    if (!m) cli_fail(c, "%s: %s", path, e.msg);
    return m;
}

static int predict_batch(void *m, const float *x, size_t rows, float *p, error *e)
{
    return gan_predict(m, x, rows, p, e);
}

static void predict_main(cli *c, args *a)
{
    if (!a->model) cli_usage_error(c, "predict: -m MODEL is required");
    if (a->nfiles > 1) cli_usage_error(c, "predict: at most one input file");
    model_file *mf;
    gan *m = load_model(c, a->model, &mf);
    const char *path = a->nfiles ? a->files[0] : NULL, *file = cli_in_name(path);
    error e;
    FILE *in = cli_open_in(c, path);
    stream_reader *r = stream_reader_open(in, file, &e);
    if (!r) cli_fail_error(c, &e);
    filter f = {.output = "p", .width = m->a.classes, .in_width = m->a.features, .classes = m->a.classes,
                .class_names = value_get(mf->info, STREAM_META_CLASSES), .name = file, .fn = predict_batch, .ctx = m};
    if (filter_run(r, cli_open_out(c, a->out), &f, &e) < 0) cli_fail_error(c, &e);
    cli_commit(c);
    stream_reader_close(r);
    if (in != stdin) fclose(in);
    gan_free(m);
    model_file_free(mf);
}

/* ---- sample ---- */

static stream_schema *sample_schema(cli *c, const gan *m, const model_file *mf)
{
    static const char *const keep[] = {STREAM_META_CLASSES, STREAM_META_FEATURES, STREAM_META_RANGE, "image_shape",
                                       STREAM_META_SCALING};
    error e;
    stream_schema *s = stream_schema_new();
    int64_t dims[1] = {m->a.features};
    if (stream_schema_add(s, "x", STREAM_F32, 1, dims, &e) < 0 ||
        (m->a.conditional && stream_schema_add(s, "y", STREAM_I32, 0, NULL, &e) < 0))
        cli_fail_error(c, &e);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const value *v = value_get(mf->info, keep[i]);
        if (v) value_set(s->meta, keep[i], value_copy(v));
    }
    return s;
}

static void write_png(cli *c, const args *a, const model_file *mf, const float *x, int n, int F)
{
    error e;
    int h, w, ch;
    if (imagegrid_shape(mf->info, F, &h, &w, &ch, &e) < 0) cli_fail(c, "%s: %s", a->png, e.msg);
    float lo = 0.0f, hi = 1.0f;
    const value *r = value_get(mf->info, STREAM_META_RANGE);
    if (r && r->kind == VALUE_ARRAY && r->n == 2) lo = (float)value_num(r->items[0]), hi = (float)value_num(r->items[1]);
    FILE *f = cli_open_out(c, a->png);
    if (imagegrid_write_png(f, x, n, h, w, ch, 0, lo, hi, &e) < 0) cli_fail(c, "%s: %s", a->png, e.msg);
}

static void sample_main(cli *c, args *a)
{
    if (!a->model) cli_usage_error(c, "sample: -m MODEL is required");
    if (a->rows < 0) cli_usage_error(c, "sample: -n N is required");
    if (a->nfiles) cli_usage_error(c, "sample: no input file is read");
    if (a->png && (a->rows < 1 || a->rows > 10000)) cli_usage_error(c, "sample: --png draws 1 to 10000 rows");
    cli_distinct_outputs(c, (const char *[]){a->out, a->png}, 2);
    model_file *mf;
    gan *m = load_model(c, a->model, &mf);
    int F = m->a.features, K = m->a.classes;
    if (a->has_cls && !m->a.conditional)
        cli_fail(c, "%s: --class needs a conditional model (train with --conditional)", a->model);
    if (a->has_cls && a->cls >= K) cli_fail(c, "--class %d out of range: %s has %d classes", a->cls, a->model, K);
    error e;
    rng r;
    rng_seed(&r, a->cfg.seed);
    stream_schema *s = sample_schema(c, m, mf);
    stream_table *t = stream_table_new(s);
    /* chunks of whole cycles of classes, so the classes go round evenly across chunks */
    size_t chunk = a->png ? (size_t)(a->rows ? a->rows : 1) : 4096 - 4096 % (size_t)K;
    if (stream_table_resize(t, chunk, &e) < 0) cli_fail_error(c, &e);
    int write_stream = !a->png || a->out;
    stream_writer *w = NULL;
    if (write_stream && !(w = stream_writer_open(cli_open_out(c, a->out), s, &e))) cli_fail_error(c, &e);
    for (size_t done = 0; done < (size_t)a->rows; done += chunk) {
        size_t k = (size_t)a->rows - done < chunk ? (size_t)a->rows - done : chunk;
        if (gan_sample(m, k, a->has_cls ? a->cls : -1, &r, stream_table_col(t, "x"), stream_table_col(t, "y"), &e) < 0)
            cli_fail_error(c, &e);
        if (w && stream_writer_write(w, t, 0, k, &e) < 0) cli_fail_error(c, &e);
        if (a->png) write_png(c, a, mf, stream_table_col(t, "x"), (int)k, F);
    }
    if (w && stream_writer_finish(w, &e) < 0) cli_fail_error(c, &e);
    cli_commit(c);
    stream_table_free(t);
    stream_schema_free(s);
    gan_free(m);
    model_file_free(mf);
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-gan");
    static const char *const cmds[] = {"train", "predict", "sample", NULL};
    int which = cli_dispatch(&c, argc, argv, cmds, USAGE);
    args a;
    parse_args(&c, argc - 1, argv + 1, &a);
    cli_set_threads(&c, a.threads);
    if (which == 0) train_main(&c, &a);
    else if (which == 1) predict_main(&c, &a);
    else sample_main(&c, &a);
    return 0;
}
