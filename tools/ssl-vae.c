/* ssl-vae: the M1 and M2 variational autoencoders (Kingma et al. 2014) and the auxiliary deep
 * generative models (ADGM, SDGM: Maaloe et al. 2016) as a Unix filter program: train, encode,
 * sample, reconstruct, predict. The maths lives in lib/methods (vae.c, m2.c, m2_aux.c). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adam.h"
#include "cli.h"
#include "cli_train.h"
#include "datasource.h"
#include "dist.h"
#include "filter.h"
#include "imagegrid.h"
#include "m2.h"
#include "model.h"
#include "stream.h"
#include "trainlog.h"
#include "vae.h"

static const char USAGE[] =
    "Usage: ssl-vae train [--model m1|m2|adgm|sdgm] [OPTIONS] [FILE] -o MODEL\n"
    "       ssl-vae encode -m M1 [--replace] [--sd] [--min-sd S] [FILE] [-o OUT]\n"
    "       ssl-vae sample -m MODEL -n N [--class K] [--seed S] [-o OUT] [--png FILE]\n"
    "       ssl-vae reconstruct -m MODEL [FILE] [-o OUT] [--png FILE]\n"
    "       ssl-vae predict -m M2 [FILE] [-o OUT]\n"
    "\n"
    "train: fits a variational autoencoder to a stream with x (f32 features); holds it in memory\n"
    "  (with --stream-data: reads FILE again every epoch instead, M2 holding its labelled rows;\n"
    "  under mpirun, each process trains on its share of every batch: docs/scale-out.md).\n"
    "  --model m1 (default): the VAE M1 on every row, labelled or not; -ELBO = -log p(x|z) + KL.\n"
    "  --model m2: the semi-supervised M2 with q(y|x), q(z|x,y), p(x|y,z); needs y (i32, -1 =\n"
    "    unlabelled). Each step takes a batch of unlabelled rows, each summed over all K classes,\n"
    "    plus a batch of labelled rows re-drawn from the labelled set (so a few labels are seen as\n"
    "    often as the unlabelled data); an epoch is one pass over the unlabelled rows. K comes from\n"
    "    the stream's class_names, else --classes, else max(y)+1.\n"
    "  --model adgm, sdgm: M2 with an auxiliary variable a (Maaloe et al. 2016): q(a|x), q(y|a,x),\n"
    "    q(z|a,x,y), and p(a|x,y,z), p(x|y,z) (ADGM) or p(a|y,z), p(x|a,y,z) (SDGM); one a drawn per\n"
    "    row; trained, stored (kind m2) and used as M2, predict averaging q(y|a,x) over draws of a.\n"
    "  -o, --output MODEL       model file (kind vae or m2), written atomically (required)\n"
    "      --hidden LIST        hidden sizes of each network, the decoder mirrored (default M1: two\n"
    "                           of clamp(4F, 256, 500) for F features, 500,500 from F = 125; M2: 500,500)\n"
    "      --latent N           size of z (default M1: clamp(F/8, 8, 50), 50 from F = 400; M2: 50;\n"
    "                           ADGM, SDGM: 100)\n"
    "      --aux N              ADGM, SDGM: size of a (default 100)\n"
    "      --samples N          ADGM, SDGM: draws of a that predict averages over (default 10)\n"
    "      --binarise           M2, ADGM, SDGM: every row drawn for a step becomes 0/1 values drawn\n"
    "                           with probabilities x (x in [0, 1]; dynamic binarisation)\n"
    "      --activation A       relu or softplus (default softplus)\n"
    "      --likelihood L       bernoulli (x in [0, 1]) or gaussian (learned mean and variance);\n"
    "                           default bernoulli when the stream's x_range is within [0, 1]\n"
    "      --epochs N           epochs (default 10, more on small data: at least 3000 steps)\n"
    "      --batch N            rows per step (default 128; M2: unlabelled rows, and labelled\n"
    "                           rows min(N, labelled rows))\n"
    "      --lr X               Adam learning rate (default 0.001)\n"
    "      --kl-warmup N        KL weight rising linearly over the first N epochs: epoch e uses\n"
    "                           min(1, e/(N+1)) (default 0: always 1)\n"
    "      --alpha A            M2 classification weight: the labelled cross-entropy -log q(y|x)\n"
    "                           is weighted A * N_rows / N_labelled, the paper's alpha = 0.1 N\n"
    "                           (default 0.1)\n"
    "      --labelled-batch N   M2: labelled rows a step (default min(--batch, labelled rows))\n"
    "      --weighting W        M2: means (default): mean over the labelled rows of L + alpha\n"
    "                           x-entropy, plus mean over the unlabelled rows of U, whatever their\n"
    "                           numbers; rows: every row of a step alike (sum / rows), Kingma's code\n"
    "                           (with --labelled-batch 1 and --batch N_unlabelled / 100)\n"
    "      --shift N            M2 on images: move each labelled row by up to N pixels each way, at\n"
    "                           random, every time it is drawn (meta image_shape, else square)\n"
    "      --vat EPS            M2: virtual adversarial training of q(y|x) on every row of a step\n"
    "                           (Miyato et al. 2018; EPS the length of the move, in units of x),\n"
    "                           weighted as the labelled cross-entropy (alpha)\n"
    "      --vat-xi X           step of the power iteration that finds the move (default 0.001)\n"
    "      --vat-iterations N   power iterations (default 1)\n"
    "      --entmin W           M2: adds W times the mean entropy of q(y|x) on those rows, also\n"
    "                           weighted alpha (--vat, --entmin: one process, no mpirun)\n"
    "      --classes K          M2: number of classes when the stream does not name them\n"
    "      --val FILE           per-epoch validation ELBO (and M2 accuracy where y >= 0)\n"
    "      --checkpoint-every N write the model to MODEL every N epochs; a loss that becomes NaN\n"
    "                           stops training (exit 1) and MODEL keeps the last checkpoint\n"
    "      --resume             continue from MODEL.ckpt: SIGINT or SIGTERM stops training at the\n"
    "                           next step, writes there the whole training state after the last\n"
    "                           whole epoch (also written every --checkpoint-every epochs, and\n"
    "                           kept when training diverges) and dies by the signal (status 130\n"
    "                           or 143); same options and --threads give the same model as an\n"
    "                           uninterrupted run\n"
    "      --seed N             seed of weights, batches and noise (default 0)\n"
    "      --log FILE           per-epoch metrics as JSON lines\n"
    "      --stream-data        read FILE every epoch through a shuffle buffer, not into memory (M2:\n"
    "                           its unlabelled rows; the labelled ones are held)\n"
    "      --shuffle-buffer N   rows of that buffer (default 10000); when FILE has at most N rows\n"
    "                           (M2: unlabelled rows), training is the in-memory one, byte for byte\n"
    "  -q, --quiet              no progress on stderr\n"
    "\n"
    "encode (M1): streams FILE batch by batch and adds z (f32, the posterior mean mu(x)); with\n"
    "  --replace, x itself becomes z (for a classifier or M2 on the latents: the M1 pipelines).\n"
    "  --sd also writes the posterior sd sigma(x) as z_sd (x_sd with --replace); M2 trained on a\n"
    "  stream with x_sd draws x ~ N(x, x_sd^2) afresh each time a row is used (Kingma's M1+M2 on\n"
    "  samples of q(z|x); predict uses the means). --min-sd S writes only the latent units whose\n"
    "  posterior mean varies over the training rows with an sd of at least S (0.1 in Kingma's M1+M2;\n"
    "  the others carry no information about x): the model records those sds (latent_sd).\n"
    "sample: N rows x decoded from z ~ N(0, I) (the decoder's means); an M2 model also writes y:\n"
    "  --class K for one class, else rows cycle through the classes.\n"
    "reconstruct: x replaced by the decoder's mean at z = mu(x) (M2: y = the row's label, else the\n"
    "  most probable class); other tensors pass through.\n"
    "predict (M2): adds p (f32, q(y|x) for each class), like ssl-fit predict.\n"
    "  -m, --model MODEL        model written by ssl-vae train\n"
    "  -o, --output OUT         output stream (default stdout; with --png only when -o is given)\n"
    "  -n N                     rows to sample\n"
    "      --class K            class of the samples (M2)\n"
    "      --png FILE           also draw the samples (or originals above reconstructions, first 50\n"
    "                           rows) as a PNG grid; image shape from meta image_shape or a square\n"
    "\n"
    "All: --threads N (threads for the products and, in training, the element-wise loops; default:\n"
    "all cores, also the most), -h/--help, -V/--version.\n"
    "\n"
    "Examples:\n"
    "  ssl-vae train --hidden 500,500 --latent 50 --epochs 20 train.ssl -o m1.vae\n"
    "  ssl-vae encode -m m1.vae --replace < train.ssl | ssl-fit train -o m1.mlp\n"
    "  ssl-vae sample -m m1.vae -n 100 --png samples.png\n"
    "  ssl-vae train --model m2 --alpha 0.1 train.ssl -o m2.vae && ssl-vae predict -m m2.vae test.ssl | ssl-eval\n";

enum { OPT_HIDDEN = 256, OPT_LATENT, OPT_ACT, OPT_LIK, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_WARMUP, OPT_ALPHA,
       OPT_CLASSES, OPT_VAL, OPT_CKPT, OPT_SEED, OPT_LOG, OPT_THREADS, OPT_REPLACE, OPT_CLASS, OPT_PNG,
       OPT_STREAM, OPT_BUFFER, OPT_SD, OPT_RESUME, OPT_LAB_BATCH, OPT_WEIGHTING, OPT_MIN_SD, OPT_SHIFT, OPT_VAT,
       OPT_VAT_XI, OPT_VAT_ITERS, OPT_ENTMIN, OPT_AUX, OPT_SAMPLES, OPT_BINARISE };

static const struct option OPTS[] = {
    {"output", required_argument, 0, 'o'},         {"model", required_argument, 0, 'm'},
    {"hidden", required_argument, 0, OPT_HIDDEN},   {"latent", required_argument, 0, OPT_LATENT},
    {"activation", required_argument, 0, OPT_ACT},  {"likelihood", required_argument, 0, OPT_LIK},
    {"epochs", required_argument, 0, OPT_EPOCHS},   {"batch", required_argument, 0, OPT_BATCH},
    {"lr", required_argument, 0, OPT_LR},           {"kl-warmup", required_argument, 0, OPT_WARMUP},
    {"alpha", required_argument, 0, OPT_ALPHA},     {"classes", required_argument, 0, OPT_CLASSES},
    {"val", required_argument, 0, OPT_VAL},         {"checkpoint-every", required_argument, 0, OPT_CKPT},
    {"seed", required_argument, 0, OPT_SEED},       {"log", required_argument, 0, OPT_LOG},
    {"threads", required_argument, 0, OPT_THREADS}, {"replace", no_argument, 0, OPT_REPLACE},
    {"class", required_argument, 0, OPT_CLASS},     {"png", required_argument, 0, OPT_PNG},
    {"stream-data", no_argument, 0, OPT_STREAM},    {"shuffle-buffer", required_argument, 0, OPT_BUFFER},
    {"sd", no_argument, 0, OPT_SD},                 {"resume", no_argument, 0, OPT_RESUME},
    {"labelled-batch", required_argument, 0, OPT_LAB_BATCH}, {"weighting", required_argument, 0, OPT_WEIGHTING},
    {"min-sd", required_argument, 0, OPT_MIN_SD},    {"shift", required_argument, 0, OPT_SHIFT},
    {"vat", required_argument, 0, OPT_VAT},         {"vat-xi", required_argument, 0, OPT_VAT_XI},
    {"vat-iterations", required_argument, 0, OPT_VAT_ITERS}, {"entmin", required_argument, 0, OPT_ENTMIN},
    {"aux", required_argument, 0, OPT_AUX},         {"samples", required_argument, 0, OPT_SAMPLES},
    {"binarise", no_argument, 0, OPT_BINARISE},
    {"quiet", no_argument, 0, 'q'},                 {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},               {0, 0, 0, 0},
};

typedef struct args {
    const char *cmd, *out, *model, *val, *log, *png;
    const char *files[2];
    int nfiles;
    int m2;                 /* train --model: 0 m1, else the M2 family: 1 m2, 2 adgm, 3 sdgm (KINDS) */
    int aux, samples, binarise;   /* ADGM/SDGM --aux, --samples (0: not given); --binarise */
    vaenet_arch arch;
    int lik_given;
    int epochs, batch, warmup, classes, ckpt, threads, quiet, replace, sd, cls, resume;
    int lab_batch;          /* M2 --labelled-batch, 0 = min(--batch, labelled rows) */
    m2_weighting weighting; /* M2 --weighting */
    double min_sd;          /* encode --min-sd, < 0 = keep every unit */
    int shift;              /* M2 --shift */
    vat_config vat;         /* M2 --vat, --vat-xi, --vat-iterations, --entmin */
    long n;
    int stream_data;        /* train --stream-data */
    long buffer;            /* --shuffle-buffer, 0 = not given */
    double lr, alpha;
    uint64_t seed;
    char *cmdline;          /* for the stream's history */
} args;

enum { CHUNK = 256 };
static const char *const KINDS[] = {"m1", "m2", "adgm", "sdgm", NULL};   /* rows per forward pass when streaming */

static void defaults(args *a)
{
    memset(a, 0, sizeof *a);
    /* arch.nhidden, arch.latent 0: not given, set from the data (choose_arch) */
    a->arch.act = NN_ACT_SOFTPLUS;
    a->epochs = 0;   /* not given: default_epochs */
    a->batch = 128;
    a->lr = 1e-3;
    a->alpha = 0.1;
    a->cls = -1;
    a->min_sd = -1;
    vat_config_default(&a->vat);
}

static void parse_args(cli *c, int argc, char **argv, args *a)
{
    static const char *const acts[] = {"relu", "softplus", NULL}, *const liks[] = {"bernoulli", "gaussian", NULL};
    static const char *const weightings[] = {"means", "rows", NULL};
    int train = strcmp(a->cmd, "train") == 0, opt;
    while ((opt = getopt_long(argc, argv, ":o:m:n:qhV", OPTS, NULL)) != -1) {
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 'm':
            /* train --model names the kind; every other command's -m/--model names the model file */
            if (train) a->m2 = cli_parse_choice(c, "--model", optarg, KINDS);
            else a->model = optarg;
            break;
        case 'n': a->n = cli_parse_long(c, "-n", optarg, 1, 1000000); break;
        case 'q': a->quiet = 1; break;
        case OPT_HIDDEN:
            a->arch.nhidden = cli_parse_int_list(c, "--hidden", optarg, a->arch.hidden, VAENET_MAX_HIDDEN);
            for (int l = 0; l < a->arch.nhidden; l++)
                if (a->arch.hidden[l] <= 0) cli_usage_error(c, "--hidden: sizes must be positive");
            break;
        case OPT_LATENT: a->arch.latent = (int)cli_parse_long(c, "--latent", optarg, 1, 100000); break;
        case OPT_ACT:
            a->arch.act = cli_parse_choice(c, "--activation", optarg, acts) ? NN_ACT_SOFTPLUS : NN_ACT_RELU;
            break;
        case OPT_LIK: a->arch.lik = (vaenet_lik)cli_parse_choice(c, "--likelihood", optarg, liks), a->lik_given = 1; break;
        case OPT_EPOCHS: a->epochs = (int)cli_parse_long(c, "--epochs", optarg, 1, 1000000); break;
        case OPT_BATCH: a->batch = (int)cli_parse_long(c, "--batch", optarg, 1, 1 << 16); break;
        case OPT_LR: a->lr = cli_parse_double(c, "--lr", optarg, 1e-12, 1e6); break;
        case OPT_WARMUP: a->warmup = (int)cli_parse_long(c, "--kl-warmup", optarg, 0, 1000000); break;
        case OPT_ALPHA: a->alpha = cli_parse_double(c, "--alpha", optarg, 0, 1e9); break;
        case OPT_CLASSES: a->classes = (int)cli_parse_long(c, "--classes", optarg, 2, 1 << 16); break;
        case OPT_VAL: a->val = optarg; break;
        case OPT_CKPT: a->ckpt = (int)cli_parse_long(c, "--checkpoint-every", optarg, 0, 1000000); break;
        case OPT_SEED: a->seed = (uint64_t)cli_parse_long(c, "--seed", optarg, 0, (1L << 62)); break;
        case OPT_LOG: a->log = optarg; break;
        case OPT_THREADS: a->threads = (int)cli_parse_long(c, "--threads", optarg, 1, 1024); break;
        case OPT_REPLACE: a->replace = 1; break;
        case OPT_SD: a->sd = 1; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_LAB_BATCH: a->lab_batch = (int)cli_parse_long(c, "--labelled-batch", optarg, 1, 1 << 16); break;
        case OPT_WEIGHTING: a->weighting = (m2_weighting)cli_parse_choice(c, "--weighting", optarg, weightings); break;
        case OPT_MIN_SD: a->min_sd = cli_parse_double(c, "--min-sd", optarg, 0, 1e9); break;
        case OPT_SHIFT: a->shift = (int)cli_parse_long(c, "--shift", optarg, 0, 1 << 20); break;
        case OPT_VAT: a->vat.eps = cli_parse_double(c, "--vat", optarg, 0, 1e6); break;
        case OPT_VAT_XI: a->vat.xi = cli_parse_double(c, "--vat-xi", optarg, 1e-12, 1e3); break;
        case OPT_VAT_ITERS: a->vat.iters = (int)cli_parse_long(c, "--vat-iterations", optarg, 1, 100); break;
        case OPT_ENTMIN: a->vat.entmin = cli_parse_double(c, "--entmin", optarg, 0, 1e6); break;
        case OPT_AUX: a->aux = (int)cli_parse_long(c, "--aux", optarg, 1, 100000); break;
        case OPT_SAMPLES: a->samples = (int)cli_parse_long(c, "--samples", optarg, 1, 100000); break;
        case OPT_BINARISE: a->binarise = 1; break;
        case OPT_CLASS: a->cls = (int)cli_parse_long(c, "--class", optarg, 0, 1 << 20); break;
        case OPT_PNG: a->png = optarg; break;
        case OPT_STREAM: a->stream_data = 1; break;
        case OPT_BUFFER: a->buffer = cli_parse_long(c, "--shuffle-buffer", optarg, 1, 1L << 40); break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    a->nfiles = cli_inputs(c, argc, argv, a->files, 2);
}

/* ---- shared helpers ---- */

/* The f32 x of a schema: its width, or a failure naming the file. */
static int x_width(cli *c, const stream_schema *s, const char *file)
{
    error e;
    int w = stream_x_width(s, &e);
    if (w < 0) cli_fail(c, "%s: %s", file, e.msg);
    return w;
}

/* y (i32 scalar) of a table, or NULL when absent. */
static const int *table_y(cli *c, const stream_table *t, const char *file)
{
    error e;
    const int32_t *y;
    if (stream_table_labels(t, &y, &e) < 0) cli_fail(c, "%s: %s", file, e.msg);
    return y;
}

/* A model file of kind vae or m2 (or the one kind wanted). */
static model_file *load_model(cli *c, const char *path, const char *want)
{
    error e;
    model_file *mf = model_file_load(path, want, &e);
    if (!mf) cli_fail_error(c, &e);
    if (!want && strcmp(mf->kind, "vae") != 0 && strcmp(mf->kind, "m2") != 0)
        cli_fail(c, "%s: model is of kind '%s', expected 'vae' or 'm2'", path, mf->kind);
    return mf;
}

/* Writes mf (from vae_save or m2_save; NULL: their error e) to path atomically (checkpoints during
 * training). */
static void write_checkpoint(cli *c, model_file *mf, error *e, const char *path)
{
    if (!mf) cli_fail_error(c, e);
    if (model_file_save(mf, path, e) < 0) cli_fail_error(c, e);
    model_file_free(mf);
}

/* The trained model, the same way: written atomically through -o, committed. */
static void write_final(cli *c, model_file *mf, error *e, const char *path)
{
    if (!mf) cli_fail_error(c, e);
    FILE *out = cli_open_out(c, path);
    if (model_file_write(mf, out, e) < 0) cli_fail(c, "%s: %s", path, e->msg);
    cli_commit(c);
    model_file_free(mf);
}

/* ---- train ---- */

typedef struct train_data {
    stream_table *t, *vt;       /* t: NULL with --stream-data (M2: its labelled rows) */
    datasource *src;            /* M1's batches: t's rows, or the file read every epoch (M2: its unlabelled rows) */
    int m2_classes;             /* --stream-data M2: the named or --classes K (0: from the labels), else -1 */
    const stream_schema *schema;
    const char *file;
    const float *x, *vx;
    const int *y, *vy;
    size_t n, vn;
    int D;
    float lo, hi;               /* the range of x */
} train_data;

/* x_sd of t, when present: as wide as x (D), finite, >= 0 (t's first row is row row0 + 1 of file). */
static int check_x_sd(const stream_table *t, int D, size_t row0, const char *file, error *e)
{
    error te;
    return stream_check_sd(t, "x_sd", D, row0, &te) < 0 ? error_set(e, "%s: %s", file, te.msg) : 0;
}

/* --stream-data M2's first pass: the labelled rows of a batch kept in d->t, their labels checked. */
static int keep_labelled(train_data *d, const stream_table *b, size_t row0, error *e)
{
    error te;
    if (stream_schema_find(b->schema, "y") < 0)
        return error_set(e, "%s: stream has no tensor 'y' (M2 needs labels, -1 = unlabelled)", d->file);
    const int *y = stream_table_col_typed(b, "y", STREAM_I32, &te);
    if (!y) return error_set(e, "%s: %s", d->file, te.msg);
    if (!d->t && !(d->t = stream_table_new(b->schema))) return error_set(e, "out of memory");
    for (size_t i = 0; i < b->nrows; i++) {
        if (y[i] < -1) return error_set(e, "%s: row %zu: label %d is negative (-1 marks an unlabelled row)", d->file, row0 + i + 1, y[i]);
        if (d->m2_classes > 0 && y[i] >= d->m2_classes)
            return error_set(e, "%s: row %zu: label %d >= the model's %d classes", d->file, row0 + i + 1, y[i], d->m2_classes);
        if (y[i] >= 0 && stream_table_append(d->t, b, i, 1, e) < 0) return -1;
    }
    return 0;
}

static int unlabelled(const stream_table *b, size_t row, void *ctx)
{
    (void)ctx;
    return ((const int *)stream_table_col(b, "y"))[row] < 0;
}

static int scan_batch(const stream_table *b, size_t row0, void *ctx, error *e)
{
    train_data *d = ctx;
    error te;
    if (!d->D && (d->D = stream_x_width(b->schema, &te)) < 0) return error_set(e, "%s: %s", d->file, te.msg);
    const float *x = stream_table_col(b, "x");
    for (size_t i = 0; i < b->nrows * (size_t)d->D; i++) {
        if (!isfinite(x[i])) return error_set(e, "%s: row %zu: x has a non-finite value", d->file, row0 + i / (size_t)d->D + 1);
        d->lo = x[i] < d->lo ? x[i] : d->lo;
        d->hi = x[i] > d->hi ? x[i] : d->hi;
    }
    if (d->m2_classes >= 0 && (check_x_sd(b, d->D, row0, d->file, e) < 0 || keep_labelled(d, b, row0, e) < 0)) return -1;
    return 0;
}

/* What the options left to the data: the sizes (M1: vae_default_sizes of the width; M2: 500,500 and
 * 50) and the likelihood (bernoulli when x_range is within [0, 1]). */
static void choose_arch(cli *c, args *a, const train_data *d)
{
    a->arch.in = d->D;
    if (!a->m2) vae_default_sizes(&a->arch);
    if (!a->arch.nhidden) a->arch.nhidden = 2, a->arch.hidden[0] = a->arch.hidden[1] = 500;
    if (!a->arch.latent) a->arch.latent = a->m2 > 1 ? 100 : 50;
    if (!a->lik_given) {
        const value *r = value_get(d->schema->meta, STREAM_META_RANGE);
        int unit = r && r->kind == VALUE_ARRAY && r->n == 2 && value_num(r->items[0]) >= 0 && value_num(r->items[1]) <= 1;
        a->arch.lik = unit ? VAENET_BERNOULLI : VAENET_GAUSSIAN;
    }
    if (a->arch.lik == VAENET_BERNOULLI && (d->lo < 0 || d->hi > 1))
        cli_fail(c, "%s: the bernoulli likelihood needs x in [0, 1], the data spans [%g, %g] (use --likelihood gaussian)",
                 d->file, d->lo, d->hi);
}

/* The training rows: in memory, or (--stream-data) a file checked once and read every epoch. */
static void load_train_data(cli *c, const args *a, train_data *d)
{
    error e;
    memset(d, 0, sizeof *d);
    d->lo = INFINITY, d->hi = -INFINITY;
    d->m2_classes = -1;
    const char *path = a->nfiles ? a->files[0] : NULL;
    d->file = cli_in_name(path);
    if (a->stream_data) {
        /* M2: the labelled rows held (d->t, gathered in the first pass), the unlabelled ones streamed */
        d->m2_classes = a->m2 ? a->classes : -1;
        d->src = datasource_stream_where(path, a->buffer ? (size_t)a->buffer : DATASOURCE_BUFFER_ROWS, scan_batch,
                                         a->m2 ? unlabelled : NULL, d, &e);
        if (!d->src) cli_fail_error(c, &e);
        d->schema = datasource_schema(d->src);
        d->n = datasource_rows(d->src);
        if (a->m2 && !d->t) cli_fail(c, "%s: M2 needs some labelled rows (every y is -1)", d->file);
        if (a->m2) d->x = stream_table_col(d->t, "x"), d->y = stream_table_col(d->t, "y"), d->n += d->t->nrows;
    } else {
        d->t = cli_load_stream(c, path);
        d->schema = d->t->schema;
        d->x = stream_table_col(d->t, "x");
        d->y = table_y(c, d->t, d->file);
        d->n = d->t->nrows;
        if (scan_batch(d->t, 0, d, &e) < 0) cli_fail_error(c, &e);
    }
    d->D = x_width(c, d->schema, d->file);
    if (d->n == 0) cli_fail(c, "%s: no rows to train on", d->file);
    if (a->val) {
        d->vt = cli_load_stream(c, a->val);
        int vd = x_width(c, d->vt->schema, a->val);
        if (vd != d->D) cli_fail(c, "%s: %d features, the training data has %d", a->val, vd, d->D);
        d->vx = stream_table_col(d->vt, "x");
        d->vy = table_y(c, d->vt, a->val);
        d->vn = d->vt->nrows;
    }
}

/* Provenance and data description every model file carries. */
static void set_info(value *info, const args *a, const train_data *d)
{
    const value *meta = d->schema->meta;
    static const char *const keep[] = {"image_shape", STREAM_META_RANGE, STREAM_META_CLASSES, STREAM_META_FEATURES};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const value *v = value_get(meta, keep[i]);
        if (v) value_set(info, keep[i], value_copy(v));
    }
    value_set(info, "seed", value_int((int64_t)a->seed));
    value_set(info, "epochs", value_int(a->epochs));
    value_set(info, "batch", value_int(a->batch));
    value_set(info, "lr", value_float(a->lr));
    value_set(info, "kl_warmup", value_int(a->warmup));
    value_set(info, "rows", value_int((int64_t)d->n));
}

/* What the epoch callback of vae_train and m2_train needs: write the model to -o every
 * --checkpoint-every epochs (but the last), on the first process. */
typedef struct epoch_ctx {
    cli *c;
    const args *a;
    vae *v;              /* the M1 trained, or NULL */
    m2 *m;               /* the M2 trained, or NULL */
    int ckpt_epoch;      /* the epoch last written to -o, 0 = none */
} epoch_ctx;

static int on_epoch(int epoch, void *ctx, error *e)
{
    epoch_ctx *x = ctx;
    const args *a = x->a;
    if (!a->ckpt || epoch % a->ckpt != 0 || epoch >= a->epochs || dist_rank() != 0) return 0;
    if (x->v) value_set(x->v->info, "epochs_done", value_int(epoch));
    write_checkpoint(x->c, x->v ? vae_save(x->v, e) : m2_save(x->m, e), e, a->out);
    if (x->v) value_remove(x->v->info, "epochs_done");
    x->ckpt_epoch = epoch;
    return 0;
}

/* After vae_train or m2_train: an interrupt or a failure ends the program (with the checkpoint). */
static void train_ended(cli *c, const args *a, const char *file, int rc, const error *e, const epoch_ctx *x, trainlog *log)
{
    if (rc == 0 && trainlog_stopped(log)) cli_train_interrupted(c, log->ctl);
    if (rc == 0) return;
    if (x->ckpt_epoch)
        cli_train_failed(c, log->ctl, "%s: %s; %s keeps the checkpoint of epoch %d", file, e->msg, a->out, x->ckpt_epoch);
    cli_train_failed(c, log->ctl, "%s: %s; no model written", file, e->msg);
}

/* Without --epochs: 10, or on a small data set as many as make 3000 steps of `batch` of its `rows`
 * (M2 on 100 rows of iris scores 33% after 10 epochs of one step, 100% after 3000). */
enum { DEFAULT_EPOCHS = 10, DEFAULT_MIN_STEPS = 3000 };
static void default_epochs(args *a, size_t rows, int batch)
{
    if (!a->epochs) a->epochs = trainctl_default_epochs(rows, batch, DEFAULT_EPOCHS, DEFAULT_MIN_STEPS);
}

static void train_m1(cli *c, args *a, train_data *d, trainlog *log)
{
    error e;
    vae v;
    if (vae_new(&v, &a->arch, a->batch, &e) < 0) cli_fail(c, "%s: %s", d->file, e.msg);
    par_pool *pool = cli_train_pool(c);
    vae_set_pool(&v, pool);
    if (!d->src && !(d->src = datasource_memory(d->t, &e))) cli_fail_error(c, &e);
    default_epochs(a, d->n, a->batch);
    set_info(v.info, a, d);
    vae_config cfg = {.epochs = a->epochs, .batch = a->batch, .lr = a->lr, .warmup = a->warmup, .seed = a->seed};
    epoch_ctx x = {c, a, &v, NULL, 0};
    int rc = vae_train(&v, &cfg, d->src, d->vx, d->vn, log, on_epoch, &x, &e);
    train_ended(c, a, d->file, rc, &e, &x, log);
    if (dist_rank() == 0) write_final(c, vae_save(&v, &e), &e, a->out);   /* every rank holds the model */
    datasource_free(d->src);
    vae_free(&v);
    par_free(pool);
}

/* x_sd (f32, as wide as x) of the training table, or NULL: M2 then draws x ~ N(x, x_sd^2) afresh
 * each time a row is used (encode --sd writes it: M2 on samples of M1's posterior). */
static const float *table_x_sd(cli *c, const train_data *d)
{
    error e;
    if (d->src) return stream_table_col(d->t, "x_sd");   /* checked in the first pass */
    if (check_x_sd(d->t, d->D, 0, d->file, &e) < 0) cli_fail_error(c, &e);
    return stream_table_col(d->t, "x_sd");
}

/* K: class_names, else --classes, else max(y) + 1. */
static int class_count(cli *c, const args *a, const train_data *d)
{
    error e;
    int K = stream_class_count(d->t->schema, d->y, d->t->nrows, a->classes, 0, &e);
    if (K < 0) cli_fail(c, "%s: %s", d->file, e.msg);
    return K;
}

/* --shift: the labelled rows are one-channel images (meta image_shape, else square), not samples. */
static void set_shift(cli *c, m2 *m, int shift, const train_data *d)
{
    cli_image_shape(c, d->schema->meta, d->D, d->file, "--shift", &m->img_h, &m->img_w);
    if (stream_schema_find(d->schema, "x_sd") >= 0) cli_fail(c, "%s: --shift moves images, not M1 latents (x_sd)", d->file);
    m->shift = shift;
}

static void train_m2(cli *c, args *a, train_data *d, trainlog *log)
{
    error e;
    if (!d->y) cli_fail(c, "%s: stream has no tensor 'y' (M2 needs labels, -1 = unlabelled)", d->file);
    int K = class_count(c, a, d);
    m2_data md;
    if (m2_data_init(&md, d->x, d->y, d->t->nrows, K, &e) < 0) cli_fail(c, "%s: %s", d->file, e.msg);
    if (d->src) {   /* --stream-data: the unlabelled rows, in the in-memory order when they fit the buffer */
        datasource_cumulative_shuffle(d->src);
        md.unl_src = d->src, md.nunl = datasource_rows(d->src);
    }
    if (md.nlab == 0) cli_fail(c, "%s: M2 needs some labelled rows (every y is -1)", d->file);
    md.xsd = table_x_sd(c, d);
    int bl = a->lab_batch ? a->lab_batch : a->batch;
    if (bl > (int)md.nlab) bl = (int)md.nlab;
    default_epochs(a, md.nunl ? md.nunl : md.nlab, md.nunl ? a->batch : bl);   /* an epoch: a pass over those rows */
    float alpha = (float)(a->alpha * (double)d->n / (double)md.nlab);
    if (a->binarise && (d->lo < 0 || d->hi > 1)) cli_fail(c, "%s: --binarise needs x in [0, 1], the data spans [%g, %g]", d->file, d->lo, d->hi);
    md.binarise = a->binarise;
    m2 m;
    m2_aux aux = {a->m2 == 2 ? M2_ADGM : a->m2 == 3 ? M2_SDGM : M2_PLAIN, a->aux ? a->aux : 100, a->samples ? a->samples : 10};
    if (m2_new_aux(&m, &a->arch, K, &aux, bl, a->batch, &e) < 0) cli_fail(c, "%s: %s", d->file, e.msg);
    m.weighting = a->weighting;
    if (a->shift) set_shift(c, &m, a->shift, d);
    par_pool *pool = cli_train_pool(c);
    m2_set_pool(&m, pool);
    if (d->vy)
        for (size_t i = 0; i < d->vn; i++)
            if (d->vy[i] >= K) cli_fail(c, "%s: row %zu: label %d >= the model's %d classes", a->val, i + 1, d->vy[i], K);
    set_info(m.info, a, d);
    value_set(m.info, "alpha", value_float(a->alpha));
    value_set(m.info, "labelled_rows", value_int((int64_t)md.nlab));
    value_set(m.info, "labelled_batch", value_int(bl));
    value_set(m.info, "weighting", value_str(a->weighting == M2_WEIGHT_ROWS ? "rows" : "means"));
    value_set(m.info, "shift", value_int(a->shift));
    value_set(m.info, "binarise", value_bool(a->binarise));
    if (m2_set_vat(&m, &a->vat, &e) < 0) cli_fail(c, "%s: %s", d->file, e.msg);
    m2_config cfg = {.epochs = a->epochs, .batch = a->batch, .lab_batch = bl, .lr = a->lr, .warmup = a->warmup,
                     .alpha = alpha, .seed = a->seed};
    epoch_ctx x = {c, a, NULL, &m, 0};
    int rc = m2_train(&m, &cfg, &md, d->vx, d->vy, d->vn, log, on_epoch, &x, &e);
    train_ended(c, a, d->file, rc, &e, &x, log);
    if (dist_rank() == 0) write_final(c, m2_save(&m, &e), &e, a->out);   /* every rank holds the model */
    m2_data_free(&md);
    datasource_free(d->src);
    m2_free(&m);
    par_free(pool);
}

/* What decides the model's bytes, for --resume to compare (trainctl_set_settings). */
static value *settings(const args *a)
{
    value *s = cli_train_settings();
    value_set(s, "model", value_str(KINDS[a->m2]));
    value_set(s, "hidden", cli_int_list(a->arch.hidden, a->arch.nhidden));
    value_set(s, "latent", value_int(a->arch.latent));
    value_set(s, "activation", value_str(nn_act_name(a->arch.act)));
    value_set(s, "likelihood", value_int(a->lik_given ? (int)a->arch.lik : -1));
    value_set(s, "epochs", value_int(a->epochs));
    value_set(s, "batch", value_int(a->batch));
    value_set(s, "lr", value_float(a->lr));
    value_set(s, "kl-warmup", value_int(a->warmup));
    value_set(s, "alpha", value_float(a->alpha));
    value_set(s, "classes", value_int(a->classes));
    value_set(s, "labelled-batch", value_int(a->lab_batch));
    value_set(s, "weighting", value_str(a->weighting == M2_WEIGHT_ROWS ? "rows" : "means"));
    value_set(s, "shift", value_int(a->shift));
    value_set(s, "seed", value_int((int64_t)a->seed));
    value_set(s, "stream-data", value_bool(a->stream_data));
    value_set(s, "shuffle-buffer", value_int(a->buffer));
    vat_config_put(&a->vat, s, 1);   /* only when on: checkpoints from before keep resuming */
    if (a->m2 > 1) value_set(s, "aux", value_int(a->aux)), value_set(s, "samples", value_int(a->samples));
    if (a->binarise) value_set(s, "binarise", value_bool(1));
    return s;
}

static void train_main(cli *c, args *a)
{
    if (!a->out) cli_usage_error(c, "train: -o MODEL is required");
    if (a->nfiles > 1) cli_usage_error(c, "train: at most one input file");
    if (a->png || a->replace || a->n || a->cls >= 0) cli_usage_error(c, "train: --png, --replace, -n, --class are for other commands");
    if (a->stream_data && a->m2 && a->resume) cli_usage_error(c, "--resume does not work with --stream-data for M2 yet");
    if (a->stream_data && (!a->nfiles || strcmp(a->files[0], "-") == 0))
        cli_usage_error(c, "--stream-data needs a FILE (it is read again every epoch), not stdin");
    if (a->buffer && !a->stream_data) cli_usage_error(c, "--shuffle-buffer goes with --stream-data");
    if (vat_active(&a->vat) && a->m2 != 1)
        cli_usage_error(c, "--vat and --entmin train M2's classifier q(y|x): %s", a->m2 ? "not ADGM's or SDGM's" : "M1 has none (--model m2)");
    if ((a->aux || a->samples) && a->m2 < 2) cli_usage_error(c, "--aux and --samples are for --model adgm or sdgm");
    if (a->binarise && !a->m2) cli_usage_error(c, "--binarise is for --model m2, adgm or sdgm");
    cli_distinct_outputs(c, (const char *[]){a->out, a->log}, 2);
    error e;
    if (dist_init(NULL, NULL, &e) < 0) cli_fail_error(c, &e);
    if (vat_active(&a->vat) && dist_size() > 1) cli_usage_error(c, "--vat and --entmin train in one process (no mpirun)");
    int rank0 = dist_rank() == 0;   /* under mpirun, rank 0 alone reports and writes */
    train_data d;
    load_train_data(c, a, &d);
    choose_arch(c, a, &d);
    trainlog log;
    FILE *logf = a->log && rank0 ? cli_open_log(c, a->log) : NULL;
    trainlog_init(&log, c->prog, a->quiet || !rank0 ? NULL : stderr, logf);
    trainctl ctl;
    cli_train_init(c, &ctl, &log, a->out, rank0 ? a->ckpt : 0, a->resume, a->m2 ? "m2" : "vae", settings(a));
    if (a->m2) train_m2(c, a, &d, &log);
    else train_m1(c, a, &d, &log);
    cli_train_done(c, &ctl);
    stream_table_free(d.t);
    stream_table_free(d.vt);
    dist_finalize();
}

/* ---- the loaded model, for the other commands ---- */

typedef struct loaded {
    model_file *mf;
    int is_m2, D, Z, K;
    vae v;
    m2 m;
} loaded;

static void load_any(cli *c, const args *a, const char *want, loaded *L)
{
    error e;
    memset(L, 0, sizeof *L);
    L->mf = load_model(c, a->model, want);
    L->is_m2 = strcmp(L->mf->kind, "m2") == 0;
    int bad = L->is_m2 ? m2_load(&L->m, L->mf, 0, CHUNK, &e) : vae_load(&L->v, L->mf, CHUNK, &e);
    if (bad < 0) cli_fail(c, "%s: %s", a->model, e.msg);
    const vaenet_arch *arch = L->is_m2 ? &L->m.a : &L->v.a;
    L->D = arch->in, L->Z = arch->latent, L->K = L->is_m2 ? L->m.K : 0;
}

static void free_loaded(loaded *L)
{
    if (L->is_m2) m2_free(&L->m);
    else vae_free(&L->v);
    model_file_free(L->mf);
}

static void write_png(cli *c, const char *path, const value *meta, const float *x, int n, int D, int cols)
{
    error e;
    int h, w, ch;
    if (imagegrid_shape(meta, D, &h, &w, &ch, &e) < 0) cli_fail(c, "%s: %s", path, e.msg);
    float lo = 0, hi = 1;
    const value *r = value_get(meta, STREAM_META_RANGE);
    if (r && r->kind == VALUE_ARRAY && r->n == 2) lo = (float)value_num(r->items[0]), hi = (float)value_num(r->items[1]);
    FILE *f = cli_open_out(c, path);
    if (imagegrid_write_png(f, x, n, h, w, ch, cols, lo, hi, &e) < 0) cli_fail(c, "%s: %s", path, e.msg);
}

/* ---- sample ---- */

static void sample_main(cli *c, args *a)
{
    if (!a->model) cli_usage_error(c, "sample: -m MODEL is required");
    if (!a->n) cli_usage_error(c, "sample: -n N is required");
    if (a->nfiles) cli_usage_error(c, "sample: no input file");
    cli_distinct_outputs(c, (const char *[]){a->out, a->png}, 2);
    loaded L;
    load_any(c, a, NULL, &L);
    if (a->cls >= 0 && !L.is_m2) cli_fail(c, "%s: --class needs an M2 model (this one is M1, kind 'vae')", a->model);
    if (a->cls >= L.K && L.is_m2)
        cli_fail(c, "--class %d is out of range: %s has %d classes (0-%d)", a->cls, a->model, L.K, L.K - 1);
    error e;
    stream_schema *s = stream_schema_new();
    static const char *const keep[] = {"image_shape", STREAM_META_RANGE, STREAM_META_CLASSES, STREAM_META_FEATURES};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const value *v = value_get(L.mf->info, keep[i]);
        if (v) value_set(s->meta, keep[i], value_copy(v));
    }
    stream_meta_add_history(s, a->cmdline);
    int64_t dx[1] = {L.D};
    stream_schema_add(s, "x", STREAM_F32, 1, dx, &e);
    if (L.is_m2) stream_schema_add(s, "y", STREAM_I32, 0, NULL, &e);
    stream_table *t = stream_table_new(s);
    if (stream_table_resize(t, (size_t)a->n, &e) < 0) cli_fail_error(c, &e);
    float *x = stream_table_col(t, "x");
    int *y = L.is_m2 ? stream_table_col(t, "y") : NULL;
    float *z = malloc((size_t)CHUNK * L.Z * sizeof(float));
    if (!z) cli_fail(c, "out of memory");
    rng r;
    rng_seed(&r, a->seed);
    for (long i0 = 0; i0 < a->n; i0 += CHUNK) {
        int b = (int)(a->n - i0 < CHUNK ? a->n - i0 : CHUNK);
        rng_fill_normal(&r, z, (size_t)b * L.Z);
        if (!L.is_m2) {
            vae_decode(&L.v, z, b, x + (size_t)i0 * L.D);
            continue;
        }
        for (int i = 0; i < b; i++) y[i0 + i] = a->cls >= 0 ? a->cls : (int)((i0 + i) % L.K);
        m2_decode(&L.m, z, y + i0, b, x + (size_t)i0 * L.D);
    }
    if (a->png) write_png(c, a->png, s->meta, x, (int)a->n, L.D, L.is_m2 && a->cls < 0 ? L.K : 0);
    if (!a->png || a->out) {
        FILE *out = cli_open_out(c, a->out);
        if (stream_write_all(out, t, &e) < 0) cli_fail_error(c, &e);
    }
    cli_commit(c);
    free(z);
    stream_table_free(t);
    stream_schema_free(s);
    free_loaded(&L);
}

/* ---- the streaming commands: encode, reconstruct, predict (lib/filter.c's loop) ---- */

typedef enum filter_kind { F_ENCODE, F_RECONSTRUCT, F_PREDICT } filter_kind;

/* What a streaming command computes for each batch, and the rows it keeps for the PNG. */
typedef struct stream_job {
    filter_kind kind;
    loaded *L;
    int width;            /* values per row of what it computes */
    int npng;             /* rows kept for the PNG */
    float *png_in, *png_out;
    int *keep, nkeep;     /* encode --min-sd: the latent units written, or NULL for all */
    float *mu, *sd;       /* with keep: every unit of a chunk (CHUNK, Z) */
} stream_job;

/* y of a batch when it is an i32 scalar (M2 reconstructs labelled rows as their class), else NULL. */
static const int *batch_labels(const stream_table *batch)
{
    int iy = stream_schema_find(batch->schema, "y");
    if (iy < 0) return NULL;
    const stream_field *fy = &batch->schema->fields[iy];
    return fy->dtype == STREAM_I32 && fy->width == 1 ? batch->cols[iy] : NULL;
}

static void keep_png_rows(stream_job *j, const float *x, const float *o, size_t n, int D)
{
    int take = j->png_in && j->npng < 50 ? (int)(n < (size_t)(50 - j->npng) ? n : (size_t)(50 - j->npng)) : 0;
    memcpy(j->png_in + (size_t)j->npng * D, x, (size_t)take * D * sizeof(float));
    memcpy(j->png_out + (size_t)j->npng * D, o, (size_t)take * D * sizeof(float));
    j->npng += take;
}

/* encode: the posterior means (and sds) of b rows, all units or those of j->keep. */
static void encode_chunk(stream_job *j, const float *x, int b, float *mu, float *sd)
{
    if (!j->keep) {
        vae_encode_sd(&j->L->v, x, b, mu, sd);
        return;
    }
    int Z = j->L->Z, n = j->nkeep;
    vae_encode_sd(&j->L->v, x, b, j->mu, sd ? j->sd : NULL);
    for (int i = 0; i < b; i++)
        for (int k = 0; k < n; k++) {
            mu[(size_t)i * n + k] = j->mu[(size_t)i * Z + j->keep[k]];
            if (sd) sd[(size_t)i * n + k] = j->sd[(size_t)i * Z + j->keep[k]];
        }
}

/* encode --min-sd: the units whose sd over the training rows (the model's latent_sd) is >= min_sd. */
static void choose_units(cli *c, const args *a, stream_job *j)
{
    const value *sd = value_get(j->L->mf->info, "latent_sd");
    int Z = j->L->Z;
    if (!sd || sd->kind != VALUE_ARRAY || sd->n != (size_t)Z)
        cli_fail(c, "%s: the model has no latent_sd (train it again with this version) for --min-sd", a->model);
    j->keep = malloc((size_t)Z * sizeof(int));
    j->mu = malloc((size_t)CHUNK * Z * sizeof(float));
    j->sd = malloc((size_t)CHUNK * Z * sizeof(float));
    if (!j->keep || !j->mu || !j->sd) cli_fail(c, "out of memory");
    for (int k = 0; k < Z; k++)
        if (value_num(sd->items[k]) >= a->min_sd) j->keep[j->nkeep++] = k;
    if (!j->nkeep) cli_fail(c, "%s: no latent unit has an sd of at least %g over the training rows", a->model, a->min_sd);
    j->width = j->nkeep;
}

/* filter_batch2_fn: a batch, CHUNK rows at a time (the loaded model's capacity); o2, when not NULL,
 * gets encode's posterior sds. */
static int job_batch2(void *ctx, const stream_table *batch, float *o, float *o2, error *e)
{
    stream_job *j = ctx;
    loaded *L = j->L;
    const float *x = stream_table_col(batch, "x");
    const int *y = j->kind == F_RECONSTRUCT && L->is_m2 ? batch_labels(batch) : NULL;
    for (size_t i = 0; y && i < batch->nrows; i++)
        if (y[i] >= L->K) return error_set(e, "label %d >= the model's %d classes", y[i], L->K);
    for (size_t i0 = 0; i0 < batch->nrows; i0 += CHUNK) {
        int b = (int)(batch->nrows - i0 < CHUNK ? batch->nrows - i0 : CHUNK);
        const float *xb = x + i0 * L->D;
        float *ob = o + i0 * j->width;
        if (j->kind == F_ENCODE) encode_chunk(j, xb, b, ob, o2 ? o2 + i0 * j->width : NULL);
        else if (j->kind == F_PREDICT) m2_predict(&L->m, xb, b, ob);
        else if (L->is_m2) m2_reconstruct(&L->m, xb, y ? y + i0 : NULL, b, ob);
        else vae_reconstruct(&L->v, xb, b, ob);
    }
    if (j->png_in) keep_png_rows(j, x, o, batch->nrows, L->D);
    return 0;
}

static int job_batch(void *ctx, const stream_table *batch, float *o, error *e)
{
    return job_batch2(ctx, batch, o, NULL, e);
}

/* Originals and reconstructions: rows of 10 originals, each above its 10 reconstructions. */
static void reconstruct_png(cli *c, const args *a, const stream_job *j, const value *meta, int D)
{
    int cells;
    float *grid = imagegrid_pairs(j->png_in, j->png_out, j->npng, D, 10, &cells);
    if (!grid) cli_fail(c, "out of memory");
    write_png(c, a->png, meta, grid, cells, D, 10);
    free(grid);
}

static void filter_main(cli *c, args *a, filter_kind kind)
{
    static const char *const names[] = {"encode", "reconstruct", "predict"};
    /* encode --replace: x becomes z, so what described x's pixels or features no longer applies */
    static const char *const x_meta[] = {"image_shape", STREAM_META_RANGE, STREAM_META_FEATURES, STREAM_META_SCALING, NULL};
    const char *cmd = names[kind];
    if (!a->model && a->nfiles == 2) a->model = a->files[0], a->files[0] = a->files[1], a->nfiles = 1;
    if (!a->model) cli_usage_error(c, "%s: -m MODEL is required", cmd);
    if (a->nfiles > 1) cli_usage_error(c, "%s: at most one input file", cmd);
    if (a->png && kind != F_RECONSTRUCT) cli_usage_error(c, "%s: --png is for sample and reconstruct", cmd);
    cli_distinct_outputs(c, (const char *[]){a->out, a->png}, 2);
    if ((a->replace || a->sd || a->min_sd >= 0) && kind != F_ENCODE)
        cli_usage_error(c, "%s: --replace, --sd and --min-sd are for encode", cmd);
    loaded L;
    load_any(c, a, NULL, &L);
    if (kind == F_ENCODE && L.is_m2)
        cli_fail(c, "%s: encode needs an M1 model (kind 'vae'), this one is 'm2' (use predict for q(y|x))", a->model);
    if (kind == F_PREDICT && !L.is_m2)
        cli_fail(c, "%s: predict needs an M2 model (kind 'm2'), this one is M1 'vae' (use encode)", a->model);
    stream_job j = {.kind = kind, .L = &L, .width = kind == F_ENCODE ? L.Z : kind == F_PREDICT ? L.K : L.D};
    if (a->min_sd >= 0) choose_units(c, a, &j);
    int replace = kind == F_ENCODE && a->replace;
    const char *path = a->nfiles ? a->files[0] : NULL, *file = cli_in_name(path);
    filter f = {.output = kind == F_ENCODE && !replace ? "z" : kind == F_PREDICT ? "p" : "x", .width = j.width,
                .in_width = L.D, .drop = replace ? "z" : NULL, .classes = kind == F_PREDICT ? L.K : 0,
                .class_names = kind == F_PREDICT ? value_get(L.mf->info, STREAM_META_CLASSES) : NULL,
                .drop_meta = replace ? x_meta : NULL, .history = a->cmdline, .name = file,
                .batch_fn = job_batch, .ctx = &j};
    if (a->sd) f.output2 = replace ? "x_sd" : "z_sd", f.width2 = j.width, f.batch2_fn = job_batch2;
    error e;
    FILE *in = cli_open_in(c, path);
    stream_reader *r = stream_reader_open(in, file, &e);
    if (!r) cli_fail_error(c, &e);
    if (a->png) {
        j.png_in = malloc((size_t)50 * L.D * sizeof(float));
        j.png_out = malloc((size_t)50 * L.D * sizeof(float));
        if (!j.png_in || !j.png_out) cli_fail(c, "out of memory");
    }
    FILE *out = !a->png || a->out ? cli_open_out(c, a->out) : NULL;
    if (filter_run(r, out, &f, &e) < 0) cli_fail_error(c, &e);
    if (a->png) {
        if (!j.npng) cli_fail(c, "%s: no rows to draw", file);
        reconstruct_png(c, a, &j, stream_reader_schema(r)->meta, L.D);
    }
    cli_commit(c);
    free(j.png_in), free(j.png_out), free(j.keep), free(j.mu), free(j.sd);
    stream_reader_close(r);
    if (in != stdin) fclose(in);
    free_loaded(&L);
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-vae");
    static const char *const cmds[] = {"train", "encode", "reconstruct", "predict", "sample", NULL};
    int k = cli_dispatch(&c, argc, argv, cmds, USAGE);
    args a;
    defaults(&a);
    a.cmd = cmds[k];
    a.cmdline = cli_command_line(&c, argc, argv);
    parse_args(&c, argc - 1, argv + 1, &a);
    cli_set_threads(&c, a.threads);
    if (k == 0) train_main(&c, &a);
    else if (k == 4) sample_main(&c, &a);
    else filter_main(&c, &a, (filter_kind)(k - 1));
    free(a.cmdline);
    return 0;
}
