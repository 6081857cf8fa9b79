/* ssl-augment: the labelled rows of a training stream plus pseudo-labelled and generated rows, each
 * marked by origin and weighted by w, for an ordinary classifier. The rules live in lib/augment.c. */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "classifier.h"
#include "cli.h"
#include "cli_train.h"
#include "generator.h"
#include "stream.h"
#include "trainlog.h"

static const char USAGE[] =
    "Usage: ssl-augment [MODES] [OPTIONS] [FILE] [-o OUT]\n"
    "\n"
    "Reads a training stream (x f32; y i32, -1 = unlabelled) and writes ONE stream: its labelled\n"
    "rows plus new ones, with origin (i32: 0 real, 1 generated, 2 pseudo; meta origin_names) and a\n"
    "per-row weight w (f32) that ssl-fit train honours. Unlabelled rows that get no pseudo-label are\n"
    "dropped unless --keep-unlabelled. Rows come out in input order, generated rows last (other\n"
    "tensors zero, id -1). Holds the stream in memory. Any classifier model serves where one is\n"
    "asked: ssl-fit's MLP, an M2 (q(y|x)) or an SSL-GAN discriminator.\n"
    "\n"
    "Modes (pseudo-labels and one generator may be combined):\n"
    "      --pseudo MODEL       pseudo-label the unlabelled rows whose max p >= --threshold with\n"
    "                           their argmax class (self-training)\n"
    "      --pseudo-from-p      the same from the stream's own p (f32, one per class), e.g. the\n"
    "                           class scores ssl-graph writes, instead of a model\n"
    "      --threshold X        confidence threshold, in (0, 1] (default 0.9)\n"
    "      --balance            keep the same count in every class: the smallest class's count\n"
    "                           among the confident rows (or --per-class N when smaller)\n"
    "      --per-class N        at most N pseudo rows per class (the most confident); also the rows\n"
    "                           per class of a generator\n"
    "      --rounds R           iterated self-training: round 1 labels with MODEL; each later round\n"
    "                           trains a fresh MLP on the labelled + previous round's pseudo rows\n"
    "                           (weighted by --weight) and re-labels every unlabelled row (default 1)\n"
    "      --round-hidden LIST  hidden layers of that MLP (default 128,64)\n"
    "      --round-epochs N     at most N epochs for it (default 200)\n"
    "      --from-vae MODEL     an M2: class-conditional samples, --per-class N of each class\n"
    "                           (default: as many as the real labelled rows of the class);\n"
    "                           an M1 with --jitter S: each labelled row encoded, z = mu + S eps,\n"
    "                           decoded, its label kept, --per-row N copies (default 1)\n"
    "      --jitter S           sd of the latent perturbation (M1)\n"
    "      --per-row N          copies per labelled row (M1 jitter)\n"
    "      --from-gan MODEL     a conditional G: class-conditional samples (as M2); an\n"
    "                           unconditional G (or an M1 without --jitter): --per-class N x K\n"
    "                           samples (default: as many as the labelled rows) labelled by\n"
    "                           --labeller MODEL's argmax\n"
    "      --labeller MODEL     classifier labelling unconditional samples\n"
    "\n"
    "Options:\n"
    "      --ratio R            generated rows = R x the real labelled rows (shared by class in\n"
    "                           proportion to the real counts), overriding --per-class/--per-row\n"
    "      --weight W           w of generated and pseudo rows (default 1; real rows keep their w)\n"
    "      --filter MODEL       drop generated rows whose argmax under MODEL differs from their\n"
    "                           label, or whose p of their label is below --filter-threshold\n"
    "      --filter-threshold X in [0, 1] (default 0.5)\n"
    "      --keep-unlabelled    keep the unlabelled rows not pseudo-labelled (y = -1, origin 0)\n"
    "      --seed N             seed of the samples, the jitter and the rounds' MLPs (default 0);\n"
    "                           the same seed gives the same bytes\n"
    "      --threads N          BLAS threads (default and most: all cores)\n"
    "  -o, --output OUT         output stream (default stdout), written atomically\n"
    "  -q, --quiet              no summary and no training progress on stderr\n"
    "  -h, --help               this help\n"
    "  -V, --version            print the version\n"
    "\n"
    "Examples:\n"
    "  ssl-fit train train_5.ssl -o base.mlp\n"
    "  ssl-augment --pseudo base.mlp --threshold 0.95 --balance --rounds 3 train_5.ssl \\\n"
    "    | ssl-fit train -o self.mlp\n"
    "  ssl-augment --from-vae m2.vae --per-class 100 --filter base.mlp train_5.ssl -o aug.ssl\n"
    "  ssl-augment --from-vae m1.vae --jitter 0.5 --per-row 10 train_5.ssl -o aug.ssl\n"
    "  ssl-augment --from-gan g.gan --labeller base.mlp --ratio 5 --weight 0.5 train_5.ssl -o aug.ssl\n";

enum { OPT_PSEUDO = 256, OPT_THRESHOLD, OPT_BALANCE, OPT_PER_CLASS, OPT_ROUNDS, OPT_ROUND_HIDDEN,
       OPT_ROUND_EPOCHS, OPT_FROM_VAE, OPT_JITTER, OPT_PER_ROW, OPT_FROM_GAN, OPT_LABELLER, OPT_RATIO,
       OPT_WEIGHT, OPT_FILTER, OPT_FILTER_THRESHOLD, OPT_KEEP, OPT_SEED, OPT_THREADS, OPT_PSEUDO_P };

static const struct option OPTS[] = {
    {"pseudo", required_argument, 0, OPT_PSEUDO},         {"threshold", required_argument, 0, OPT_THRESHOLD},
    {"pseudo-from-p", no_argument, 0, OPT_PSEUDO_P},
    {"balance", no_argument, 0, OPT_BALANCE},             {"per-class", required_argument, 0, OPT_PER_CLASS},
    {"rounds", required_argument, 0, OPT_ROUNDS},         {"round-hidden", required_argument, 0, OPT_ROUND_HIDDEN},
    {"round-epochs", required_argument, 0, OPT_ROUND_EPOCHS}, {"from-vae", required_argument, 0, OPT_FROM_VAE},
    {"jitter", required_argument, 0, OPT_JITTER},         {"per-row", required_argument, 0, OPT_PER_ROW},
    {"from-gan", required_argument, 0, OPT_FROM_GAN},     {"labeller", required_argument, 0, OPT_LABELLER},
    {"ratio", required_argument, 0, OPT_RATIO},           {"weight", required_argument, 0, OPT_WEIGHT},
    {"filter", required_argument, 0, OPT_FILTER},         {"filter-threshold", required_argument, 0, OPT_FILTER_THRESHOLD},
    {"keep-unlabelled", no_argument, 0, OPT_KEEP},        {"seed", required_argument, 0, OPT_SEED},
    {"threads", required_argument, 0, OPT_THREADS},       {"output", required_argument, 0, 'o'},
    {"quiet", no_argument, 0, 'q'},                       {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},                     {0, 0, 0, 0},
};

typedef struct args {
    const char *in, *out, *pseudo, *from_vae, *from_gan, *labeller, *filter;
    int quiet, threads;
    augment_opts o;
    char *history; /* the command line, for the stream's meta history */
} args;

/* A probability option: a number (else a usage error), in range (else a data error, exit 1). */
static double parse_prob(cli *c, const char *opt, const char *s, int open_zero)
{
    double v = cli_parse_double(c, opt, s, -1e300, 1e300);
    if (open_zero ? !(v > 0 && v <= 1) : !(v >= 0 && v <= 1))
        cli_fail(c, "%s %s is outside %s0, 1]", opt, s, open_zero ? "(" : "[");
    return v;
}

static void parse_args(cli *c, int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    augment_opts_default(&a->o);
    a->history = cli_command_line(c, argc, argv);
    augment_opts *o = &a->o;
    mlp_config *m = &o->round_cfg;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:qhV", OPTS, NULL)) != -1) {
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 'q': a->quiet = 1; break;
        case OPT_PSEUDO: a->pseudo = optarg; break;
        case OPT_PSEUDO_P: o->pseudo_p = 1; break;
        case OPT_THRESHOLD: o->threshold = parse_prob(c, "--threshold", optarg, 1); break;
        case OPT_BALANCE: o->balance = 1; break;
        case OPT_PER_CLASS: o->per_class = (size_t)cli_parse_long(c, "--per-class", optarg, 1, 1L << 40); break;
        case OPT_ROUNDS: o->rounds = (int)cli_parse_long(c, "--rounds", optarg, 1, AUGMENT_MAX_ROUNDS); break;
        case OPT_ROUND_HIDDEN: m->nhidden = cli_parse_int_list(c, "--round-hidden", optarg, m->hidden, MLP_MAX_HIDDEN); break;
        case OPT_ROUND_EPOCHS: m->epochs = (int)cli_parse_long(c, "--round-epochs", optarg, 1, 1000000); break;
        case OPT_FROM_VAE: a->from_vae = optarg; break;
        case OPT_JITTER: o->jitter = cli_parse_double(c, "--jitter", optarg, 1e-12, 1e6); break;
        case OPT_PER_ROW: o->per_row = (size_t)cli_parse_long(c, "--per-row", optarg, 1, 1L << 30); break;
        case OPT_FROM_GAN: a->from_gan = optarg; break;
        case OPT_LABELLER: a->labeller = optarg; break;
        case OPT_RATIO: o->ratio = cli_parse_double(c, "--ratio", optarg, 1e-9, 1e6); break;
        case OPT_WEIGHT: o->weight = (float)cli_parse_double(c, "--weight", optarg, 0, 1e6); break;
        case OPT_FILTER: a->filter = optarg; break;
        case OPT_FILTER_THRESHOLD: o->filter_threshold = parse_prob(c, "--filter-threshold", optarg, 0); break;
        case OPT_KEEP: o->keep_unlabelled = 1; break;
        case OPT_SEED: o->seed = (uint64_t)cli_parse_long(c, "--seed", optarg, 0, 1L << 62); break;
        case OPT_THREADS: a->threads = (int)cli_parse_long(c, "--threads", optarg, 1, 1024); break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    cli_inputs(c, argc, argv, &a->in, 1);
    m->seed = o->seed;
}

/* Options that only make sense together. */
static void check_modes(cli *c, const args *a)
{
    const augment_opts *o = &a->o;
    int pseudo = a->pseudo || o->pseudo_p;
    if (!pseudo && !a->from_vae && !a->from_gan)
        cli_usage_error(c, "nothing to do: give --pseudo, --pseudo-from-p, --from-vae or --from-gan");
    if (a->pseudo && o->pseudo_p) cli_usage_error(c, "--pseudo and --pseudo-from-p: one source of pseudo-labels");
    if (a->from_vae && a->from_gan) cli_usage_error(c, "--from-vae and --from-gan: one generator at a time");
    if (o->rounds > 1 && !pseudo) cli_usage_error(c, "--rounds needs --pseudo");
    if (o->balance && !pseudo) cli_usage_error(c, "--balance needs --pseudo");
    if (o->jitter > 0 && !a->from_vae) cli_usage_error(c, "--jitter needs --from-vae M1");
    if (o->per_row && o->jitter <= 0) cli_usage_error(c, "--per-row needs --jitter");
    if ((a->filter || o->ratio > 0 || a->labeller) && !a->from_vae && !a->from_gan)
        cli_usage_error(c, "--filter, --ratio and --labeller need a generator (--from-vae or --from-gan)");
}

/* What main holds, freed before any exit (clean under LeakSanitizer). */
typedef struct state {
    cli *c;
    stream_table *t;
    augment_opts *o;
} state;

static void free_state(state *st)
{
    classifier_free(st->o->pseudo);
    classifier_free(st->o->labeller);
    classifier_free(st->o->filter);
    generator_free(st->o->gen);
    stream_table_free(st->t);
    st->o->pseudo = st->o->labeller = st->o->filter = NULL;
    st->o->gen = NULL;
    st->t = NULL;
}

static _Noreturn __attribute__((format(printf, 2, 3))) void die(state *st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free_state(st);
    cli_fail(st->c, "%s", msg);
}

/* K of the data, agreed by every model: the stream's class_names when it has them, else the
 * models' K, which must cover the labels seen. */
typedef struct classes {
    int named, max_label, K;
    const char *file;
} classes;

static void agree_classes(state *st, classes *k, int model_K, const char *path)
{
    if (k->named && model_K != k->named)
        die(st, "%s: the model has %d classes, %s has %d", path, model_K, k->file, k->named);
    if (model_K <= k->max_label)
        die(st, "%s: the model has %d classes, %s has label %d", path, model_K, k->file, k->max_label);
    if (k->K && model_K != k->K) die(st, "%s: the model has %d classes, another model has %d", path, model_K, k->K);
    k->K = model_K;
}

/* Loads a classifier into *slot (owned by st from then on) and checks it against the data. */
static void load_classifier(state *st, classifier **slot, const char *path, int F, classes *k)
{
    error e;
    if (!(*slot = classifier_load(path, &e))) die(st, "%s", e.msg);
    if (classifier_features(*slot) != F)
        die(st, "%s: the classifier takes %d features, %s has %d", path, classifier_features(*slot), k->file, F);
    agree_classes(st, k, classifier_classes(*slot), path);
}

/* --pseudo-from-p: the stream's p gives the number of classes, as a model would. */
static void given_classes(state *st, classes *k)
{
    int ip = stream_schema_find(st->t->schema, "p");
    if (ip < 0) die(st, "%s: --pseudo-from-p: stream has no tensor 'p'", k->file);
    agree_classes(st, k, (int)st->t->schema->fields[ip].width, "tensor 'p'");
}

static void load_generator(state *st, const args *a, const char *path, int F, classes *k)
{
    error e;
    generator *g = st->o->gen = generator_load(path, &e);
    if (!g) die(st, "%s", e.msg);
    const char *kind = generator_kind(g);
    if (generator_features(g) != F)
        die(st, "%s: the generator makes %d features, %s has %d", path, generator_features(g), k->file, F);
    if (a->from_gan && strcmp(kind, "gan") != 0) die(st, "%s: --from-gan needs a gan model, this one is '%s'", path, kind);
    if (a->from_vae && strcmp(kind, "gan") == 0) die(st, "%s: --from-vae needs an m2 or vae model, this one is 'gan'", path);
    if (a->o.jitter > 0 && !generator_can_jitter(g))
        die(st, "%s: --jitter needs an M1 model (kind 'vae'), this one is '%s'", path, kind);
    if (generator_classes(g)) {
        if (a->labeller) die(st, "%s: the generator is class-conditional: --labeller is not used", path);
        agree_classes(st, k, generator_classes(g), path);
    } else if (a->o.jitter <= 0 && !a->labeller) {
        die(st, "%s: the %s model is not class-conditional: give --labeller MODEL%s", path, kind,
            generator_can_jitter(g) ? " (or --jitter S)" : "");
    }
}

static void summary(const args *a, const augment_report *r)
{
    for (int i = 0; i < r->rounds; i++) {
        const augment_round *s = &r->round[i];
        fprintf(stderr, "ssl-augment: round %d: %zu pseudo rows (classes %zu-%zu), +%zu -%zu ~%zu\n", i + 1,
                s->selected, s->smallest, s->largest, s->diff.added, s->diff.removed, s->diff.relabelled);
    }
    fprintf(stderr, "ssl-augment: %zu labelled + %zu pseudo + %zu generated", r->labelled, r->pseudo, r->generated);
    if (a->filter) fprintf(stderr, " (%zu dropped by the filter)", r->filtered);
    if (a->o.keep_unlabelled) fprintf(stderr, " + %zu unlabelled", r->unlabelled_kept);
    fprintf(stderr, " rows\n");
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-augment");
    args a;
    parse_args(&c, argc, argv, &a);
    check_modes(&c, &a);
    cli_set_threads(&c, a.threads);
    error e;
    const char *file = cli_in_name(a.in);
    state st = {&c, cli_load_stream(&c, a.in), &a.o};
    const stream_schema *s = st.t->schema;
    int ix = stream_schema_find(s, "x"), iy = stream_schema_find(s, "y");
    if (ix < 0) die(&st, "%s: stream has no tensor 'x' (features)", file);
    if (iy < 0 || s->fields[iy].dtype != STREAM_I32 || s->fields[iy].width != 1)
        die(&st, "%s: stream needs a tensor 'y' (i32, one per row)", file);
    int F = (int)s->fields[ix].width;
    if (s->fields[ix].dtype != STREAM_F32) die(&st, "%s: tensor 'x' is %s, expected f32", file, stream_dtype_name(s->fields[ix].dtype));
    const float *x = stream_table_col(st.t, "x");
    for (size_t i = 0; i < st.t->nrows * (size_t)F; i++)
        if (!isfinite(x[i])) die(&st, "%s: row %zu: x has a non-finite value", file, i / (size_t)F + 1);
    classes k = {stream_meta_num_classes(s), -1, 0, file};
    const int32_t *y = stream_table_col(st.t, "y");
    error ke;
    if (stream_class_count(s, y, st.t->nrows, 0, 0, &ke) < 0) die(&st, "%s: %s", file, ke.msg);
    for (size_t i = 0; i < st.t->nrows; i++) k.max_label = y[i] > k.max_label ? y[i] : k.max_label;
    if (k.max_label < 0) die(&st, "%s: no labelled rows (every y is -1): nothing to augment", file);

    augment_opts *o = &a.o;
    if (a.pseudo) load_classifier(&st, &o->pseudo, a.pseudo, F, &k);
    if (o->pseudo_p) given_classes(&st, &k);
    if (a.labeller) load_classifier(&st, &o->labeller, a.labeller, F, &k);
    if (a.filter) load_classifier(&st, &o->filter, a.filter, F, &k);
    if (a.from_vae || a.from_gan) load_generator(&st, &a, a.from_vae ? a.from_vae : a.from_gan, F, &k);
    int K = k.named ? k.named : k.K ? k.K : k.max_label + 1;

    FILE *out = cli_open_out(&c, a.out);
    trainlog log;
    trainlog_init(&log, c.prog, a.quiet ? NULL : stderr, NULL);
    augment_report rep;
    if (augment_run(st.t, K, o, &log, &rep, &e) < 0) die(&st, "%s: %s", file, e.msg);
    stream_meta_add_history(st.t->schema, a.history);
    if (stream_write_all(out, st.t, &e) < 0) die(&st, "%s", e.msg);
    free_state(&st);
    cli_commit(&c);
    if (!a.quiet) summary(&a, &rep);
    free(a.history);
    return 0;
}
