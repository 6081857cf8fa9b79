/* ssl-prep: data preparation filters (docs/ssl-prep.md). Readers: csv and idx; filters on
 * streams: scale, split, mask. This file parses options, opens inputs and outputs, and calls
 * lib/csvread, lib/tabular, lib/idx, lib/prep and lib/dataset. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "csvread.h"
#include "dataset.h"
#include "gzfile.h"
#include "idx.h"
#include "model.h"
#include "prep.h"
#include "stream.h"
#include "tabular.h"

#define IDX_BATCH_ROWS 1000

static const char USAGE[] =
    "Usage: ssl-prep COMMAND [OPTIONS] [FILE...]\n"
    "\n"
    "Prepares data for ssl-tools as tensor streams (x f32 features, y i32 labels with -1 =\n"
    "unlabelled, id i64 source row). Each command reads FILE or stdin (-) and writes a stream to\n"
    "stdout or to -o FILE (written atomically). Tensors a command does not touch pass through.\n"
    "\n"
    "Commands:\n"
    "  csv [FILE]               CSV (or CSV.gz) to a stream\n"
    "  idx IMAGES [LABELS]      IDX image (and label) files, gzip or not, to a stream\n"
    "  scale [FILE]             per-feature scaling: minmax, standard or none; fit or apply saved stats\n"
    "  split [FILE]             stratified train/test split\n"
    "  mask [FILE]              keep some labels (per class, a count or a fraction), hide the rest\n"
    "\n"
    "'ssl-prep COMMAND --help' describes a command. Options for all: -o FILE, -h/--help, -V/--version.\n"
    "\n"
    "Example (the digits pipeline):\n"
    "  ssl-prep csv data/digits.csv.gz | ssl-prep split --test 0.3 --seed 42 --train-out tr.ssl --test-out te.ssl\n"
    "  ssl-prep scale --method minmax --fit-stats scaler.model tr.ssl > tr_s.ssl\n"
    "  ssl-prep scale --stats scaler.model te.ssl > te_s.ssl\n"
    "  ssl-prep mask --labels-per-class 5 --seed 0 tr_s.ssl > tr_5.ssl\n";

static const char USAGE_CSV[] =
    "Usage: ssl-prep csv [OPTIONS] [FILE]\n"
    "\n"
    "Reads a CSV file (gzip-compressed or not; FILE or stdin) into a stream: x (f32, one column per\n"
    "feature), y (i32 class index, -1 = unlabelled), id (i64, 0-based data row). The whole file is\n"
    "held in memory; the stream is written in batches. Accepted: a UTF-8 byte-order mark, CRLF or\n"
    "LF line ends, quoted fields (with delimiters, \"\" and newlines inside), blank lines (skipped).\n"
    "\n"
    "Header: with neither --header nor --no-header, the first row is a header when a column is\n"
    "named by name (--label species), or when one of its feature fields (not the label column, not\n"
    "a --categorical one) is not a number. Without a header the features go unnamed.\n"
    "scikit-learn's CSVs: a first line \"ROWS,FEATURES,class names...\" that fits the rows after\n"
    "it is read as such (the names name the class indices), said in one line on stderr.\n"
    "Labels: a label -1 or the --unlabelled mark is an unlabelled row. If every other label is an\n"
    "integer 0..65535 it is the class index itself (class names \"0\"..\"K-1\", K = largest + 1);\n"
    "otherwise labels are names and the classes are the distinct names in sorted (byte) order\n"
    "(integers outside 0..65535 too, said on stderr). Class and feature names go into the metadata.\n"
    "\n"
    "Options:\n"
    "  --header / --no-header   the first row is / is not a header (default: detect, as above)\n"
    "  --label COL              label column: header name or 1-based index (default: the last);\n"
    "                           'none' for no labels (y is then -1 everywhere)\n"
    "  --unlabelled MARK        label field text of an unlabelled row (default: empty field)\n"
    "  --delimiter C            field delimiter (default ','); 'tab' or '\\t' for a tab\n"
    "  --quote C                quote character (default '\"')\n"
    "  --skip N                 skip N lines before the header/data (after a byte-order mark)\n"
    "  --categorical COL[,COL]  text feature columns to one-hot encode; features named col=value,\n"
    "                           values in sorted order\n"
    "  --impute mean|median     fill empty feature fields from their column (the most frequent\n"
    "                           value for a categorical column); without it, an empty field is an error\n"
    "  --class-names A,B,...    names of the class indices 0, 1, ... (integer labels only)\n"
    "  -o, --output FILE        write the stream to FILE (atomically) instead of stdout\n"
    "\n"
    "Errors (exit 1, one line) name FILE:ROW:COLUMN, ROW being the line where the record starts:\n"
    "a non-numeric, NaN or infinite value, a ragged row, a missing label column, empty input.\n"
    "\n"
    "Examples:\n"
    "  ssl-prep csv data/digits.csv.gz > digits.ssl\n"
    "  ssl-prep csv --label species --categorical island --impute median penguins.csv -o p.ssl\n"
    "  ssl-prep csv --delimiter tab --unlabelled '?' --skip 2 data.tsv > data.ssl\n";

static const char USAGE_IDX[] =
    "Usage: ssl-prep idx [OPTIONS] IMAGES [LABELS]\n"
    "\n"
    "Reads IDX files, the MNIST / Fashion-MNIST format (gzip-compressed or not): IMAGES (magic\n"
    "0x00000803: count, rows, cols, unsigned bytes) and optionally LABELS (0x00000801). Writes x =\n"
    "pixel / 255 (f32, rows*cols features), y (the label, or -1 without LABELS) and id; the meta\n"
    "gets image_shape [rows, cols] and class_names. Bad magic, truncated files and counts that\n"
    "differ between IMAGES and LABELS are errors.\n"
    "\n"
    "Options:\n"
    "  --limit N                only the first N images\n"
    "  --class-names A,B,...    class names (default \"0\"..\"9\", up to the largest label)\n"
    "  -o, --output FILE        write the stream to FILE (atomically) instead of stdout\n"
    "\n"
    "Example:\n"
    "  d=/usr/share/datasets/fashion-mnist\n"
    "  ssl-prep idx --class-names 'T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot' \\\n"
    "      $d/train-images-idx3-ubyte.gz $d/train-labels-idx1-ubyte.gz -o fashion-train.ssl\n";

static const char USAGE_SCALE[] =
    "Usage: ssl-prep scale [--method M] [--fit-stats OUT | --stats FILE] [-o OUT] [FILE]\n"
    "\n"
    "Scales x per feature: x' = (x - shift) / scale. minmax: shift = min, scale = max - min (to\n"
    "[0, 1] on the fitted data); standard: shift = mean, scale = standard deviation (population);\n"
    "none: unchanged. A constant feature gets scale 1. Statistics are fitted on this stream, or\n"
    "read from a file saved by --fit-stats (apply the training split's statistics to the test\n"
    "split). Sets meta scaling and x_range (the actual range of the output values). Streams in\n"
    "bounded memory, in two passes (a pipe is first copied to a temporary file).\n"
    "\n"
    "Options:\n"
    "  --method minmax|standard|none   the scaling to fit (default minmax)\n"
    "  --fit-stats OUT          also save the fitted statistics to OUT (a model file of kind scaler)\n"
    "  --stats FILE             apply saved statistics unchanged (the method is the file's)\n"
    "  -o, --output FILE        write the stream to FILE (atomically) instead of stdout\n"
    "\n"
    "Examples:\n"
    "  ssl-prep scale --method minmax --fit-stats scaler.model train.ssl > train_s.ssl\n"
    "  ssl-prep scale --stats scaler.model test.ssl > test_s.ssl\n";

static const char USAGE_SPLIT[] =
    "Usage: ssl-prep split [--test F] [--seed S] [--train-out OUT] --test-out OUT [FILE]\n"
    "\n"
    "Stratified train/test split, like scikit-learn's train_test_split(stratify=y): the test\n"
    "split has ceil(F * rows) rows, shared among the classes in proportion to their sizes\n"
    "(largest remainders get the rounding, ties to the lower class; unlabelled rows are one more\n"
    "group), and within each class the test rows are chosen at random by the seed. Both outputs\n"
    "keep the input's row order and get meta split = train / test. Holds the input in memory.\n"
    "\n"
    "Options:\n"
    "  --test F                 fraction of rows in the test split, 0 < F < 1 (default 0.2)\n"
    "  --seed S                 random seed (default 0); the same seed gives the same bytes\n"
    "  --train-out OUT          training split (default stdout)\n"
    "  --test-out OUT           test split (required)\n"
    "\n"
    "Example:\n"
    "  ssl-prep split --test 0.3 --seed 42 --train-out train.ssl --test-out test.ssl digits.ssl\n";

static const char USAGE_MASK[] =
    "Usage: ssl-prep mask (--labels-per-class L | --labels N | --fraction F) [--seed S]\n"
    "                     [--drop-unlabelled] [-o OUT] [FILE]\n"
    "\n"
    "Simulates the semi-supervised setting: keeps some labels, chosen at random within each class\n"
    "by the seed, and sets the others to -1. The meta gets labels_kept. Holds the input in memory.\n"
    "\n"
    "Options:\n"
    "  --labels-per-class L     exactly L labels per class (an error naming a class with fewer)\n"
    "  --labels N               N labels in all, as balanced as possible (equal shares; a class\n"
    "                           short of its share gives the rest to the others; the seed picks\n"
    "                           which classes get the remainder)\n"
    "  --fraction F             round(F * labelled rows) labels, in proportion to the class sizes\n"
    "  --seed S                 random seed (default 0)\n"
    "  --drop-unlabelled        then keep only the labelled rows (alone: just drop unlabelled rows)\n"
    "  -o, --output FILE        write the stream to FILE (atomically) instead of stdout\n"
    "\n"
    "Example:\n"
    "  ssl-prep mask --labels-per-class 5 --seed 0 train.ssl > train_5.ssl\n";

/* ---- shared option handling ---- */

/* At most max positional arguments remain after the options. */
static void check_args(cli *c, int argc, char **argv, int min, int max)
{
    int n = argc - optind;
    if (n > max) cli_usage_error(c, "unexpected argument '%s'", argv[optind + max]);
    if (n < min) cli_usage_error(c, "missing argument");
}


#define COMMON_OPTS {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, \
                    {"version", no_argument, NULL, 'V'}

/* Handles -o/-h/-V and errors; returns 1 if opt was one of them. */
static int common_opt(cli *c, int opt, char **argv, const char *usage, const char **out)
{
    switch (opt) {
    case 'o': *out = optarg; return 1;
    case 'h':
    case 'V':
    case '?':
    case ':': cli_other_option(c, argv, opt, usage);
    default: return 0;
    }
}

/* Writes t to f and frees it; on failure the error names out. Every command below frees what it holds
 * before calling cli_fail (which exits), so sanitizer builds see no leak on the error paths. */
static int write_table(stream_table *t, FILE *f, const char *out, error *e)
{
    int rc = stream_write_all(f, t, e) ? error_prefix(e, "%s", cli_out_name(out)) : 0;
    stream_table_free(t);
    return rc;
}

/* Reads a whole stream (split and mask hold their input in memory). */
static stream_table *load_stream(FILE *f, const char *path, error *e)
{
    stream_table *t = stream_read_all(f, cli_in_name(path), e);
    if (f != stdin) fclose(f);
    return t;
}

/* ---- csv ---- */

static stream_table *read_csv(FILE *in, const char *path, const csvread_opts *co, const tabular_opts *to, error *e)
{
    const char *name = cli_in_name(path);
    char *buf;
    size_t len;
    int rc = gzfile_read_all(in, name, &buf, &len, e);
    if (in != stdin) fclose(in);
    if (rc) return NULL;
    csvread_doc *doc = csvread_parse(buf, len, name, co, e);
    free(buf);
    if (!doc) return NULL;
    tabular *tab = tabular_from_csv(doc, name, to, e);
    csvread_free(doc);
    if (!tab) return NULL;
    if (tab->note[0]) fprintf(stderr, "ssl-prep: %s\n", tab->note);
    stream_table *t = dataset_from_tabular(tab, path, e);
    tabular_free(tab);
    return t;
}

static int csv_main(cli *c, int argc, char **argv, const char *history)
{
    enum { O_HEADER = 256, O_NOHEADER, O_LABEL, O_UNL, O_DELIM, O_QUOTE, O_SKIP, O_CAT, O_IMPUTE, O_NAMES };
    static const struct option opts[] = {
        {"header", no_argument, NULL, O_HEADER}, {"no-header", no_argument, NULL, O_NOHEADER},
        {"label", required_argument, NULL, O_LABEL}, {"unlabelled", required_argument, NULL, O_UNL},
        {"delimiter", required_argument, NULL, O_DELIM}, {"quote", required_argument, NULL, O_QUOTE},
        {"skip", required_argument, NULL, O_SKIP}, {"categorical", required_argument, NULL, O_CAT},
        {"class-names", required_argument, NULL, O_NAMES},
        {"impute", required_argument, NULL, O_IMPUTE}, COMMON_OPTS, {0}};
    static const char *const impute_choices[] = {"mean", "median", NULL};
    tabular_opts to = {.header = -1};
    csvread_opts co = csvread_defaults();
    const char *out = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        if (common_opt(c, opt, argv, USAGE_CSV, &out)) continue;
        switch (opt) {
        case O_HEADER: to.header = 1; break;
        case O_NOHEADER: to.header = 0; break;
        case O_LABEL: to.label = optarg; break;
        case O_UNL: to.unlabelled = optarg; break;
        case O_DELIM:
            if (csvread_parse_delim(optarg, &co.delim)) cli_usage_error(c, "--delimiter: '%s' is not one character", optarg);
            break;
        case O_QUOTE:
            if (strlen(optarg) != 1) cli_usage_error(c, "--quote: '%s' is not one character", optarg);
            co.quote = (unsigned char)optarg[0];
            break;
        case O_SKIP: co.skip = cli_parse_long(c, "--skip", optarg, 0, 1L << 40); break;
        case O_CAT: to.categorical = optarg; break;
        case O_NAMES: to.class_names = optarg; break;
        case O_IMPUTE: to.impute = cli_parse_choice(c, "--impute", optarg, impute_choices) + PREP_IMPUTE_MEAN; break;
        }
    }
    check_args(c, argc, argv, 0, 1);
    to.meta_line = co.skip == 0;
    if (co.delim == co.quote) cli_usage_error(c, "the delimiter and the quote are the same character");
    const char *path = optind < argc ? argv[optind] : NULL;
    FILE *in = cli_open_in(c, path), *f = cli_open_out(c, out);
    error e = {0};
    stream_table *t = read_csv(in, path, &co, &to, &e);
    if (t) stream_meta_add_history(t->schema, history);
    if (!t || write_table(t, f, out, &e)) cli_fail_error(c, &e);
    cli_commit(c);
    return 0;
}

/* ---- idx ---- */

static int read_idx(FILE *f, const char *path, idx_array *a, error *e)
{
    int rc = idx_read(f, cli_in_name(path), a, e);
    if (f != stdin) fclose(f);
    return rc;
}

static int write_idx(FILE *f, const stream_schema *s, const idx_array *img, const idx_array *lab, size_t rows, error *e)
{
    stream_writer *w = stream_writer_open(f, s, e);
    if (!w) return -1;
    stream_table *b = stream_table_new(s);
    int rc = 0;
    for (size_t r = 0; !rc && r < rows; r += IDX_BATCH_ROWS) {
        size_t n = rows - r < IDX_BATCH_ROWS ? rows - r : IDX_BATCH_ROWS;
        rc = dataset_idx_fill(b, img, lab, r, n, e) || stream_writer_write(w, b, 0, n, e) ? -1 : 0;
    }
    stream_table_free(b);
    if (rc) {
        stream_writer_abort(w);
        return -1;
    }
    return stream_writer_finish(w, e);
}

static int idx_main(cli *c, int argc, char **argv, const char *history)
{
    enum { O_LIMIT = 256, O_NAMES };
    static const struct option opts[] = {{"limit", required_argument, NULL, O_LIMIT},
                                         {"class-names", required_argument, NULL, O_NAMES}, COMMON_OPTS, {0}};
    const char *out = NULL, *names = NULL;
    long limit = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        if (common_opt(c, opt, argv, USAGE_IDX, &out)) continue;
        if (opt == O_LIMIT) limit = cli_parse_long(c, "--limit", optarg, 1, 1L << 40);
        if (opt == O_NAMES) names = optarg;
    }
    check_args(c, argc, argv, 1, 2);
    const char *ipath = argv[optind], *lpath = optind + 1 < argc ? argv[optind + 1] : NULL;
    FILE *fi = cli_open_in(c, ipath), *fl = lpath ? cli_open_in(c, lpath) : NULL, *f = cli_open_out(c, out);
    idx_array img = {0}, lab = {0};
    error e = {0};
    stream_schema *s = NULL;
    int rc = read_idx(fi, ipath, &img, &e);
    if (rc && fl && fl != stdin) fclose(fl);
    else if (fl && read_idx(fl, lpath, &lab, &e)) rc = -1;
    if (!rc) {
        size_t rows = limit >= 0 && (size_t)limit < img.count ? (size_t)limit : img.count;
        s = dataset_idx_schema(&img, lpath ? &lab : NULL, rows, names, ipath, &e);
        if (!s) rc = error_prefix(&e, "%s%s%s", ipath, lpath ? ", " : "", lpath ? lpath : "");
        if (s) stream_meta_add_history(s, history);
        if (s && write_idx(f, s, &img, lpath ? &lab : NULL, rows, &e)) rc = error_prefix(&e, "%s", cli_out_name(out));
    }
    stream_schema_free(s);
    idx_free(&img);
    idx_free(&lab);
    if (rc) cli_fail_error(c, &e);
    cli_commit(c);
    return 0;
}

/* ---- scale ---- */

/* An input that can be read twice: a regular file as it is, anything else copied to a temporary file. */
static FILE *rewindable(FILE *f, const char *name, long *start, error *e)
{
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (*start = ftell(f)) >= 0) return f;
    FILE *t = tmpfile();
    if (!t) return error_set(e, "cannot create a temporary file to hold %s", name), NULL;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (fwrite(buf, 1, n, t) != n) break;
    if (ferror(f) || ferror(t) || fflush(t)) {
        fclose(t);
        return error_set(e, "%s: cannot copy it to a temporary file", name), NULL;
    }
    *start = 0;
    rewind(t);
    return t;
}

/* First pass: the per-feature statistics of x; returns a copy of the stream's schema. */
static stream_schema *scan_stats(FILE *f, const char *name, prep_colstats *st, error *e)
{
    stream_reader *r = stream_reader_open(f, name, e);
    if (!r) return NULL;
    const stream_schema *rs = stream_reader_schema(r);
    long d = dataset_x_width(rs, name, e);
    int xi = stream_schema_find(rs, "x"), got = d < 0 ? -1 : 1;
    stream_table *b = NULL;
    memset(st, 0, sizeof *st);
    while (got == 1 && (got = stream_reader_next(r, &b, e)) == 1) {
        /* the statistics are sized when the first row arrives: a header alone costs nothing */
        if (!b->nrows || (!st->min && prep_colstats_init(st, (size_t)d, e) < 0 && (got = -1))) continue;
        /* st->n counts the good rows, this batch's included: the bad one is the next */
        if (prep_colstats_add(st, b->cols[xi], b->nrows, NULL))
            got = error_set(e, "%s: row %zu: x has a NaN or infinite value", name, st->n + 1);
    }
    if (!st->min) st->d = d < 0 ? 0 : (size_t)d;   /* no rows: no statistics, the width alone */
    if (got < 0) prep_colstats_free(st);
    stream_table_free(b);
    stream_schema *s = got == 0 ? stream_schema_copy(rs) : NULL;
    stream_reader_close(r);
    return s;
}

/* Second pass: the scaled stream, with meta scaling and x_range. */
static int write_scaled(FILE *in, const char *name, const prep_scaler *sc, const prep_colstats *st, FILE *out,
                        const char *history, error *e)
{
    stream_reader *r = stream_reader_open(in, name, e);
    if (!r) return -1;
    stream_schema *s = stream_schema_copy(stream_reader_schema(r));
    int xi = stream_schema_find(s, "x");
    value_set(s->meta, STREAM_META_SCALING, value_str(prep_scale_name(sc->method)));
    if (st->n) {
        float lo, hi;
        prep_scaler_range(sc, st, &lo, &hi);
        dataset_set_range(s, lo, hi);
    } else {
        value_remove(s->meta, STREAM_META_RANGE);
    }
    stream_meta_add_history(s, history);
    stream_writer *w = stream_writer_open(out, s, e);
    stream_table *b = NULL;
    int got = w ? 1 : -1;
    while (got == 1 && (got = stream_reader_next(r, &b, e)) == 1) {
        prep_scaler_apply(sc, b->cols[xi], b->nrows);
        if (stream_writer_write(w, b, 0, b->nrows, e)) got = -1;
    }
    if (got == 0) got = stream_writer_finish(w, e);
    else stream_writer_abort(w);
    stream_table_free(b);
    stream_schema_free(s);
    stream_reader_close(r);
    return got;
}

/* The scaler: loaded from stats (checked against the stream's width) or fitted on st. */
static int get_scaler(prep_scaler *sc, const char *stats, int method, const prep_colstats *st, const char *name,
                      error *e)
{
    if (!stats) {
        if (prep_scaler_fit(sc, method < 0 ? PREP_SCALE_MINMAX : (prep_scale_method)method, st, e))
            return error_prefix(e, "%s", name);
        return 0;
    }
    model_file *m = model_file_load(stats, DATASET_SCALER_KIND, e);
    int rc = !m || dataset_scaler_load(m, stats, st->d, sc, e) ? error_prefix(e, "%s", name) : 0;
    model_file_free(m);
    return rc;
}

static int save_stats(const prep_scaler *sc, const stream_schema *s, FILE *f, const char *path, error *e)
{
    model_file *m = dataset_scaler_model(sc, s, e);
    int rc = !m || model_file_write(m, f, e) ? error_prefix(e, "%s", path) : 0;
    model_file_free(m);
    return rc;
}

static int scale_run(FILE *in, const char *name, const char *stats, int method, FILE *fit_f, const char *fit,
                     FILE *out, const char *history, error *e)
{
    long start;
    FILE *f = rewindable(in, name, &start, e);
    if (!f) return -1;
    prep_colstats st;
    prep_scaler sc = {0};
    stream_schema *schema = scan_stats(f, name, &st, e);
    int rc = schema ? 0 : -1;
    if (!rc) rc = get_scaler(&sc, stats, method, &st, name, e);
    if (!rc && fit) rc = save_stats(&sc, schema, fit_f, fit, e);
    if (!rc && fseek(f, start, SEEK_SET)) rc = error_set(e, "%s: cannot read it a second time", name);
    if (!rc) rc = write_scaled(f, name, &sc, &st, out, history, e);
    if (schema) prep_colstats_free(&st);
    stream_schema_free(schema);
    prep_scaler_free(&sc);
    if (f != stdin) fclose(f);
    if (in != f && in != stdin) fclose(in);
    return rc;
}

static int scale_main(cli *c, int argc, char **argv, const char *history)
{
    enum { O_METHOD = 256, O_FIT, O_STATS };
    static const struct option opts[] = {{"method", required_argument, NULL, O_METHOD},
                                         {"fit-stats", required_argument, NULL, O_FIT},
                                         {"stats", required_argument, NULL, O_STATS}, COMMON_OPTS, {0}};
    static const char *const methods[] = {"none", "minmax", "standard", NULL};
    const char *out = NULL, *fit = NULL, *stats = NULL;
    int method = -1, opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        if (common_opt(c, opt, argv, USAGE_SCALE, &out)) continue;
        if (opt == O_METHOD) method = cli_parse_choice(c, "--method", optarg, methods);
        if (opt == O_FIT) fit = optarg;
        if (opt == O_STATS) stats = optarg;
    }
    check_args(c, argc, argv, 0, 1);
    if (fit && stats) cli_usage_error(c, "--fit-stats and --stats exclude each other");
    if (stats && method >= 0) cli_usage_error(c, "--method comes from the --stats file; do not give both");
    const char *path = optind < argc ? argv[optind] : NULL;
    FILE *in = cli_open_in(c, path), *fit_f = fit ? cli_open_out(c, fit) : NULL, *f = cli_open_out(c, out);
    error e = {0};
    if (scale_run(in, cli_in_name(path), stats, method, fit_f, fit, f, history, &e)) cli_fail_error(c, &e);
    cli_commit(c);
    return 0;
}

/* ---- split ---- */

static int split_main(cli *c, int argc, char **argv, const char *history)
{
    enum { O_TEST = 256, O_SEED, O_TRAIN_OUT, O_TEST_OUT };
    static const struct option opts[] = {{"test", required_argument, NULL, O_TEST},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"train-out", required_argument, NULL, O_TRAIN_OUT},
                                         {"test-out", required_argument, NULL, O_TEST_OUT}, COMMON_OPTS, {0}};
    const char *train_out = NULL, *test_out = NULL;
    double test = 0.2;
    long seed = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        if (common_opt(c, opt, argv, USAGE_SPLIT, &train_out)) continue;
        if (opt == O_TEST) test = cli_parse_double(c, "--test", optarg, 1e-9, 1 - 1e-9);
        if (opt == O_SEED) seed = cli_parse_long(c, "--seed", optarg, 0, 0x7fffffffffffffffL);
        if (opt == O_TRAIN_OUT) train_out = optarg;
        if (opt == O_TEST_OUT) test_out = optarg;
    }
    check_args(c, argc, argv, 0, 1);
    if (!test_out) cli_usage_error(c, "--test-out is required");
    const char *path = optind < argc ? argv[optind] : NULL;
    FILE *in = cli_open_in(c, path), *ftr = cli_open_out(c, train_out), *fte = cli_open_out(c, test_out);
    error e = {0};
    stream_table *t = load_stream(in, path, &e), *tr = NULL, *te = NULL;
    int rc = t ? 0 : -1;
    if (!rc && dataset_split(t, test, (uint64_t)seed, &tr, &te, &e)) rc = error_prefix(&e, "%s", cli_in_name(path));
    stream_table_free(t);
    if (!rc) {
        stream_meta_add_history(tr->schema, history);
        stream_meta_add_history(te->schema, history);
        rc = write_table(tr, ftr, train_out, &e);
        tr = NULL;
        if (!rc) rc = write_table(te, fte, test_out, &e);
        else stream_table_free(te);
    }
    if (rc) cli_fail_error(c, &e);
    cli_commit(c);
    return 0;
}

/* ---- mask ---- */

static int mask_main(cli *c, int argc, char **argv, const char *history)
{
    enum { O_PER = 256, O_COUNT, O_FRAC, O_SEED, O_DROP };
    static const struct option opts[] = {{"labels-per-class", required_argument, NULL, O_PER},
                                         {"labels", required_argument, NULL, O_COUNT},
                                         {"fraction", required_argument, NULL, O_FRAC},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"drop-unlabelled", no_argument, NULL, O_DROP}, COMMON_OPTS, {0}};
    const char *out = NULL;
    dataset_mask_mode mode = DATASET_MASK_NONE;
    double amount = 0;
    long seed = 0;
    int drop = 0, nmodes = 0, opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        if (common_opt(c, opt, argv, USAGE_MASK, &out)) continue;
        switch (opt) {
        case O_PER:
            mode = DATASET_MASK_PER_CLASS, nmodes++;
            amount = (double)cli_parse_long(c, "--labels-per-class", optarg, 0, 1L << 40);
            break;
        case O_COUNT:
            mode = DATASET_MASK_COUNT, nmodes++;
            amount = (double)cli_parse_long(c, "--labels", optarg, 0, 1L << 40);
            break;
        case O_FRAC: mode = DATASET_MASK_FRACTION, nmodes++; amount = cli_parse_double(c, "--fraction", optarg, 0, 1); break;
        case O_SEED: seed = cli_parse_long(c, "--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case O_DROP: drop = 1; break;
        }
    }
    check_args(c, argc, argv, 0, 1);
    if (nmodes > 1) cli_usage_error(c, "give one of --labels-per-class, --labels, --fraction");
    if (nmodes == 0 && !drop) cli_usage_error(c, "give one of --labels-per-class, --labels, --fraction (or --drop-unlabelled)");
    const char *path = optind < argc ? argv[optind] : NULL;
    FILE *in = cli_open_in(c, path), *f = cli_open_out(c, out);
    error e = {0};
    stream_table *t = load_stream(in, path, &e);
    int rc = t ? 0 : -1;
    if (!rc && dataset_mask(t, mode, amount, (uint64_t)seed, drop, &e) < 0) rc = error_prefix(&e, "%s", cli_in_name(path));
    if (!rc) {
        stream_meta_add_history(t->schema, history);
        rc = write_table(t, f, out, &e);
    } else {
        stream_table_free(t);
    }
    if (rc) cli_fail_error(c, &e);
    cli_commit(c);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"csv", "idx", "scale", "split", "mask", NULL};
    static int (*const run[])(cli *, int, char **, const char *) = {csv_main, idx_main, scale_main, split_main, mask_main};
    cli c;
    cli_init(&c, argv[0]);
    int k = cli_dispatch(&c, argc, argv, names, USAGE);
    char *history = cli_command_line(&c, argc, argv); /* taken before getopt permutes argv */
    int rc = run[k](&c, argc - 1, argv + 1, history);
    free(history);
    return rc;
}
