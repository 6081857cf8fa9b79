/* ssl-graph: graph-based label propagation (Poisson learning, label spreading) over a k-nearest-neighbour
 * graph of the rows; adds p to the stream. The maths lives in lib/methods/graph.c. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_train.h"
#include "filter.h"
#include "graph.h"
#include "stream.h"

static const char USAGE[] =
    "Usage: ssl-graph [OPTIONS] [FILE] [-o OUT]\n"
    "       ssl-graph --train TRAIN [OPTIONS] [FILE] [-o OUT]\n"
    "\n"
    "Transductive semi-supervised classification: links every row to its k nearest rows (Euclidean\n"
    "distance on x; Gaussian weights exp(-4 d^2 / d_k^2), d_k the distance to the k-th neighbour;\n"
    "symmetrised), spreads the labels of the labelled rows (y >= 0) along the edges, and writes FILE\n"
    "(or stdin) with p added: K values per row that rank the classes. Every other tensor passes through.\n"
    "Without --train, FILE's own labelled rows are the labels and every row of FILE gets p. With\n"
    "--train, the graph holds TRAIN's rows (its labelled rows are the labels, its unlabelled ones shape\n"
    "the graph) and FILE's rows, whose y, if any, is not read: FILE is the rows to classify, e.g. a test\n"
    "split for ssl-eval. Run it on pixels, or on an M1's latents (ssl-vae encode --replace).\n"
    "Every row is held in memory; the neighbour search costs n^2 d multiply-adds (70,000 images of\n"
    "784 pixels: about two minutes of one core).\n"
    "  -o, --output OUT       output stream (default stdout)\n"
    "      --train TRAIN      the labelled (and unlabelled) rows, when FILE is the rows to classify\n"
    "      --method M         poisson: Poisson learning (Calder et al. 2020; default), which holds up at\n"
    "                         a few labels per class; spread: label spreading (Zhou et al. 2004)\n"
    "      --neighbours K     neighbours per row (default 10)\n"
    "      --features NAME    the f32 tensor the distances are measured on (default x), e.g. z, the\n"
    "                         latents ssl-vae encode adds beside x\n"
    "      --alpha A          label spreading's alpha, in (0, 1) (default 0.99)\n"
    "      --tol X            conjugate gradients stop when the residual is X times the right-hand\n"
    "                         side (default 1e-6)\n"
    "      --max-iterations N or after N iterations (default 5000)\n"
    "      --classes K        number of classes when the stream does not name them\n"
    "      --threads N        threads for the neighbour search (default and most: all cores)\n"
    "  -q, --quiet            no summary line on stderr\n"
    "  -h, --help             this help\n"
    "  -V, --version          print the version\n"
    "\n"
    "Examples:\n"
    "  ssl-graph --train labelled.ssl test.ssl | ssl-eval\n"
    "  ssl-vae encode -m m1.vae --replace labelled.ssl -o z.ssl\n"
    "  ssl-vae encode -m m1.vae --replace test.ssl | ssl-graph --train z.ssl | ssl-eval\n";

enum { OPT_TRAIN = 256, OPT_METHOD, OPT_NEIGHBOURS, OPT_ALPHA, OPT_TOL, OPT_MAX_ITER, OPT_CLASSES, OPT_THREADS,
       OPT_FEATURES };

static const struct option OPTS[] = {
    {"output", required_argument, 0, 'o'},        {"train", required_argument, 0, OPT_TRAIN},
    {"method", required_argument, 0, OPT_METHOD}, {"neighbours", required_argument, 0, OPT_NEIGHBOURS},
    {"alpha", required_argument, 0, OPT_ALPHA},   {"tol", required_argument, 0, OPT_TOL},
    {"max-iterations", required_argument, 0, OPT_MAX_ITER}, {"classes", required_argument, 0, OPT_CLASSES},
    {"threads", required_argument, 0, OPT_THREADS}, {"features", required_argument, 0, OPT_FEATURES},
    {"quiet", no_argument, 0, 'q'},
    {"help", no_argument, 0, 'h'},                {"version", no_argument, 0, 'V'},
    {0, 0, 0, 0},
};

typedef struct args {
    const char *out, *train, *file, *features;   /* features: the tensor of the distances */
    int k, classes, threads, quiet;
    graph_config cfg;
    char *history;
} args;

static void parse_args(cli *c, int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    graph_config_default(&a->cfg);
    a->k = 10;
    a->features = "x";
    a->history = cli_command_line(c, argc, argv);
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:qhV", OPTS, NULL)) != -1) {
        switch (opt) {
        case 'o': a->out = optarg; break;
        case 'q': a->quiet = 1; break;
        case OPT_TRAIN: a->train = optarg; break;
        case OPT_METHOD:
            if (strcmp(optarg, "poisson") == 0) a->cfg.method = GRAPH_POISSON;
            else if (strcmp(optarg, "spread") == 0) a->cfg.method = GRAPH_SPREAD;
            else cli_usage_error(c, "--method: '%s' is not poisson or spread", optarg);
            break;
        case OPT_NEIGHBOURS: a->k = (int)cli_parse_long(c, "--neighbours", optarg, 1, 1000); break;
        case OPT_ALPHA: a->cfg.alpha = cli_parse_double(c, "--alpha", optarg, 1e-9, 1 - 1e-9); break;
        case OPT_TOL: a->cfg.tol = cli_parse_double(c, "--tol", optarg, 0, 1); break;
        case OPT_MAX_ITER: a->cfg.max_iter = (int)cli_parse_long(c, "--max-iterations", optarg, 1, 100000000); break;
        case OPT_CLASSES: a->classes = (int)cli_parse_long(c, "--classes", optarg, 2, STREAM_MAX_CLASSES); break;
        case OPT_THREADS: a->threads = (int)cli_parse_long(c, "--threads", optarg, 1, 1024); break;
        case OPT_FEATURES: a->features = optarg; break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    const char *files[1];
    a->file = cli_inputs(c, argc, argv, files, 1) ? files[0] : NULL;
}

/* The f32 tensor name (n, F) of t, finite; F into *F. */
static const float *features(cli *c, const stream_table *t, const char *name, const char *file, int *F)
{
    error e;
    int ix = stream_schema_find(t->schema, name);
    if (ix < 0) cli_fail(c, "%s: stream has no tensor '%s' (features)", file, name);
    const float *x = stream_table_col_typed(t, name, STREAM_F32, &e);
    if (!x) cli_fail(c, "%s: %s", file, e.msg);
    *F = (int)t->schema->fields[ix].width;
    for (size_t i = 0; i < t->nrows * (size_t)*F; i++)
        if (!isfinite(x[i])) cli_fail(c, "%s: row %zu: %s has a non-finite value", file, i / *F + 1, name);
    return x;
}

/* The i32 y (n) of t, each label -1 or a class; the number of classes into *K. */
static const int32_t *labels(cli *c, const args *a, const stream_table *t, const char *file, int *K)
{
    error e;
    int iy = stream_schema_find(t->schema, "y");
    if (iy < 0) cli_fail(c, "%s: stream has no tensor 'y' (the labels to propagate)", file);
    const int32_t *y = stream_table_col_typed(t, "y", STREAM_I32, &e);
    if (!y) cli_fail(c, "%s: %s", file, e.msg);
    if (t->schema->fields[iy].width != 1) cli_fail(c, "%s: tensor 'y' has %zu values per row, expected 1", file, t->schema->fields[iy].width);
    if ((*K = stream_class_count(t->schema, y, t->nrows, a->classes, 0, &e)) < 0) cli_fail(c, "%s: %s", file, e.msg);
    return y;
}

typedef struct rows {
    float *x;       /* (n, F): the graph's rows, TRAIN's first */
    int32_t *y;     /* (n) */
    size_t n, first;/* rows; the first of FILE's */
    int F, K;
} rows;

/* The graph's rows: FILE's alone, or TRAIN's then FILE's (FILE's labels hidden). */
static void gather(cli *c, const args *a, const stream_table *t, const stream_table *tr, rows *r)
{
    const char *file = cli_in_name(a->file);
    const stream_table *seeds = tr ? tr : t;
    int Ft, Fs;
    const float *xt = features(c, t, a->features, file, &Ft), *xs = tr ? features(c, tr, a->features, a->train, &Fs) : NULL;
    if (tr && Fs != Ft) cli_fail(c, "%s: %d features, %s has %d", file, Ft, a->train, Fs);
    const int32_t *ys = labels(c, a, seeds, tr ? a->train : file, &r->K);
    r->F = Ft;
    r->first = tr ? tr->nrows : 0;
    r->n = r->first + t->nrows;
    r->x = malloc(r->n * (size_t)r->F * sizeof *r->x);
    r->y = malloc(r->n * sizeof *r->y);
    if (!r->x || !r->y) cli_fail(c, "out of memory for %zu rows", r->n);
    if (tr) memcpy(r->x, xs, r->first * (size_t)r->F * sizeof *r->x);
    memcpy(r->x + r->first * (size_t)r->F, xt, t->nrows * (size_t)r->F * sizeof *r->x);
    memcpy(r->y, ys, seeds->nrows * sizeof *r->y);
    for (size_t i = seeds->nrows; i < r->n; i++) r->y[i] = -1;
}

/* FILE's rows of p, computed beforehand, as the filter's output (FILE is one batch). */
typedef struct out_ctx {
    const float *p;   /* FILE's first row of p */
    int K;
} out_ctx;

static int copy_rows(void *ctx, const float *x, size_t n, float *p, error *e)
{
    (void)x, (void)e;
    const out_ctx *o = ctx;
    memcpy(p, o->p, n * (size_t)o->K * sizeof *p);
    return 0;
}

/* One line on stderr: the graph, the method, how the solver ended. */
static void summary(const cli *c, const args *a, const rows *r, const graph *g, const graph_result *res)
{
    char parts[96] = "";
    if (g->ncomp > 1)
        snprintf(parts, sizeof parts, " in %zu connected parts (%zu rows no label reaches)", g->ncomp, res->unreached);
    fprintf(stderr, "%s: %zu rows, %zu labelled, %d neighbours%s, %s: %d iterations, residual %.1e\n", c->prog, r->n,
            res->labelled, a->k, parts, a->cfg.method == GRAPH_SPREAD ? "label spreading" : "Poisson learning",
            res->iterations, res->residual);
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-graph");
    args a;
    parse_args(&c, argc, argv, &a);
    cli_set_threads(&c, a.threads);
    stream_table *tr = a.train ? cli_load_stream(&c, a.train) : NULL;
    stream_table *t = cli_load_stream(&c, a.file);
    const char *file = cli_in_name(a.file);
    rows r;
    gather(&c, &a, t, tr, &r);
    error e;
    par_pool *pool = cli_train_pool(&c);
    graph g;
    if (graph_knn(&g, pool, r.x, r.n, r.F, a.k, &e) < 0) cli_fail(&c, "%s: %s", file, e.msg);
    par_free(pool);
    float *p = malloc(r.n * (size_t)r.K * sizeof *p);
    graph_result res;
    if (!p) cli_fail(&c, "out of memory for %zu rows of %d classes", r.n, r.K);
    if (graph_propagate(&g, &a.cfg, r.y, r.K, p, &res, &e) < 0) cli_fail(&c, "%s: %s", a.train ? a.train : file, e.msg);
    out_ctx o = {p + r.first * (size_t)r.K, r.K};
    const value *names = value_get((tr ? tr : t)->schema->meta, STREAM_META_CLASSES);
    int ix = stream_schema_find(t->schema, "x");   /* filter_table passes x through, whatever --features is */
    if (ix < 0) cli_fail(&c, "%s: stream has no tensor 'x'", file);
    filter f = {.output = "p", .width = r.K, .in_width = (int)t->schema->fields[ix].width, .classes = r.K, .class_names = names,
                .history = a.history, .name = file, .fn = copy_rows, .ctx = &o};
    if (filter_table(t, cli_open_out(&c, a.out), &f, &e) < 0) cli_fail_error(&c, &e);
    cli_commit(&c);
    if (!a.quiet) summary(&c, &a, &r, &g, &res);
    graph_free(&g);
    free(p);
    free(r.x);
    free(r.y);
    free(a.history);
    stream_table_free(t);
    stream_table_free(tr);
    return 0;
}
