/* ssl-eval: scores predictions (a stream with y and p) and builds comparison tables from the
 * per-run JSON reports. See docs/ssl-eval.md. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "metrics.h"
#include "results.h"
#include "stream.h"

#define MAX_TAGS 32

static const char USAGE[] =
    "Usage: ssl-eval [OPTIONS] [FILE]\n"
    "       ssl-eval table [--by KEYS] [--metrics LIST] [--format md|json] [-o OUT] FILE.json...\n"
    "\n"
    "Scores a tensor stream holding labels y (i32, -1 = unlabelled) and class probabilities p\n"
    "(f32, one column per class), as written by ssl-fit predict: accuracy, macro-F1, per-class\n"
    "precision/recall/F1, confusion matrix, log-loss and expected calibration error (15 bins).\n"
    "Rows with y = -1 are counted and left out. Reads FILE or stdin (-); streams in bounded memory.\n"
    "\n"
    "Options:\n"
    "  --json              one JSON object instead of the report for people\n"
    "  --tag KEY=VALUE     add a field to the report (repeatable); numbers stay numbers\n"
    "  -o, --output FILE   write the report to FILE (atomically) instead of stdout\n"
    "  -h, --help          this help\n"
    "  -V, --version       print the version\n"
    "\n"
    "ssl-eval table reads per-run JSON reports and prints one row per group of runs: the run\n"
    "count and the mean ± sample standard deviation of each metric (in percent, except *loss).\n"
    "  --by KEYS           grouping fields, comma-separated (default: method,labels)\n"
    "  --metrics LIST      metrics to summarise (default: accuracy,macro_f1)\n"
    "  --format md|json    markdown table (default) or JSON\n"
    "Groups appear in the order first seen; a \"seconds\" field, when present, is averaged.\n"
    "\n"
    "Examples:\n"
    "  ssl-fit predict model.mlp test.ssl | ssl-eval\n"
    "  ssl-eval --json --tag method=mlp --tag dataset=digits --tag labels=50 --tag seed=0 \\\n"
    "      -o results/digits/mlp-50-0.json pred.ssl\n"
    "  ssl-eval table results/digits/*.json > results/digits/table.md\n";

/* --tag values: an integer or a finite number stays a number, anything else is a string. */
static value *tag_value(const char *s)
{
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (*s && !*end && !errno) return value_int(i);
    double d = strtod(s, &end);
    if (*s && !*end && isfinite(d)) return value_float(d);
    return value_str(s);
}

static void add_tag(cli *c, value *tags, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) cli_usage_error(c, "--tag: '%s' is not KEY=VALUE", arg);
    char key[128];
    if ((size_t)(eq - arg) >= sizeof key) cli_usage_error(c, "--tag: key too long");
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    value_set(tags, key, tag_value(eq + 1));
}

/* A required tensor with the given dtype and rank per row (0 = a scalar per row), or NULL. */
static const stream_field *need_tensor(const stream_schema *s, const char *file, const char *name, stream_dtype dt,
                                       int ndim, const char *hint, error *e)
{
    int i = stream_schema_find(s, name);
    if (i < 0) return error_set(e, "%s: stream has no tensor '%s' (%s)", file, name, hint), NULL;
    const stream_field *f = &s->fields[i];
    if (f->dtype != dt || f->ndim != ndim)
        return error_set(e, "%s: tensor '%s' is %s with %d dimension(s) per row, expected %s with %d", file, name,
                         stream_dtype_name(f->dtype), f->ndim, stream_dtype_name(dt), ndim),
               NULL;
    return f;
}

/* Reads the rest of the stream into a new accumulator (k from p's width); *names gets a copy of
 * the class names (or NULL). NULL with an error naming the file on any problem. */
static metrics *score_stream(stream_reader *r, const char *file, value **names, error *e)
{
    const stream_schema *s = stream_reader_schema(r);
    const stream_field *pf;
    if (!need_tensor(s, file, "y", STREAM_I32, 0, "labels are needed to evaluate", e) ||
        !(pf = need_tensor(s, file, "p", STREAM_F32, 1, "run ssl-fit predict first", e)))
        return NULL;
    int k = (int)pf->width, nnames = stream_meta_num_classes(s);
    if (nnames && nnames != k)
        return error_set(e, "%s: meta class_names has %d names but p has %d classes", file, nnames, k), NULL;
    metrics *m = metrics_new(k, e);
    if (!m) return error_prefix(e, "%s", file), NULL;
    stream_table *batch = NULL;
    int got;
    while ((got = stream_reader_next(r, &batch, e)) == 1)
        if (metrics_add(m, stream_table_col(batch, "y"), stream_table_col(batch, "p"), batch->nrows, e)) {
            error_prefix(e, "%s", file);
            got = -1;
            break;
        }
    stream_table_free(batch);
    if (got == 0 && !metrics_rows(m))
        got = error_set(e, "%s: no labelled rows to evaluate (%zu rows, all with y = -1)", file, metrics_unlabelled(m));
    if (got < 0) {
        metrics_free(m);
        return NULL;
    }
    const value *v = value_get(s->meta, STREAM_META_CLASSES);
    *names = v ? value_copy(v) : NULL;
    return m;
}

static void eval_main(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'},        {"tag", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},     {0, 0, 0, 0},
    };
    int json = 0, opt;
    const char *out_path = NULL;
    value *tags = value_map();
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 't': add_tag(c, tags, optarg); break;
        case 'o': out_path = optarg; break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    const char *path = NULL;
    cli_inputs(c, argc, argv, &path, 1);
    error e;
    FILE *in = cli_open_in(c, path);
    stream_reader *r = stream_reader_open(in, path, &e);
    if (!r) cli_fail_error(c, &e);
    value *names = NULL;
    metrics *m = score_stream(r, cli_in_name(path), &names, &e);
    stream_reader_close(r);
    if (in != stdin) fclose(in);
    if (!m) {
        value_free(tags);
        cli_fail_error(c, &e);
    }
    value *report = metrics_to_value(m, names);
    for (size_t i = 0; i < tags->n; i++)
        if (value_get(report, tags->keys[i])) {
            snprintf(e.msg, sizeof e.msg, "--tag %s: that field is a metric", tags->keys[i]);
            value_free(report);
            value_free(tags);
            value_free(names);
            metrics_free(m);
            cli_usage_error(c, "%s", e.msg);
        }
    FILE *out = cli_open_out(c, out_path);
    if (json) {
        for (size_t i = 0; i < report->n; i++) value_set(tags, report->keys[i], value_copy(report->items[i]));
        value_print_json(out, tags, -1);
        fputc('\n', out);
    } else {
        for (size_t i = 0; i < tags->n; i++) {
            fprintf(out, "%-17s ", tags->keys[i]);
            value_print_json(out, tags->items[i], -1);
            fputc('\n', out);
        }
        metrics_print_text(out, m, names);
    }
    cli_commit(c);
    value_free(report);
    value_free(tags);
    value_free(names);
    metrics_free(m);
}

/* Splits a comma-separated list in place into at most max non-empty items. */
static int split_list(cli *c, const char *opt, char *s, const char **items, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) cli_usage_error(c, "%s: at most %d names", opt, max);
        items[n++] = tok;
    }
    return n;
}

static char *read_text(cli *c, const char *path, size_t *len)
{
    FILE *f = cli_open_in(c, path);
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) buf = realloc(buf, cap *= 2);
    if (ferror(f)) {
        free(buf);
        cli_fail(c, "%s: read error: %s", cli_in_name(path), strerror(errno));
    }
    if (f != stdin) fclose(f);
    *len = n;
    return buf;
}

static void table_main(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"by", required_argument, 0, 'b'},   {"metrics", required_argument, 0, 'm'},
        {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},       {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    static const char *const formats[] = {"md", "json", NULL};
    char by[256] = "method,labels", mets[256] = "accuracy,macro_f1";
    const char *out_path = NULL;
    int format = 0, opt;
    while ((opt = getopt_long(argc, argv, ":o:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': snprintf(by, sizeof by, "%s", optarg); break;
        case 'm': snprintf(mets, sizeof mets, "%s", optarg); break;
        case 'f': format = cli_parse_choice(c, "--format", optarg, formats); break;
        case 'o': out_path = optarg; break;
        default: cli_other_option(c, argv, opt, USAGE);
        }
    }
    if (optind >= argc) cli_usage_error(c, "table: no run files given");
    const char *keys[RESULTS_MAX_KEYS], *metric_names[RESULTS_MAX_METRICS];
    int nkeys = split_list(c, "--by", by, keys, RESULTS_MAX_KEYS);
    int nmetrics = split_list(c, "--metrics", mets, metric_names, RESULTS_MAX_METRICS);
    if (!nmetrics) cli_usage_error(c, "--metrics: no metric named");
    error e;
    results *res = results_new(keys, nkeys, metric_names, nmetrics, &e);
    if (!res) cli_usage_error(c, "%s", e.msg);
    for (int i = optind; i < argc; i++) {
        size_t len;
        char *text = read_text(c, argv[i], &len);
        value *run = json_parse(text, len, &e);
        free(text);
        int parsed = run != NULL, bad = parsed ? results_add(res, run, &e) : -1;
        value_free(run);
        if (bad) {
            results_free(res);
            /* parse errors start with line:column: "runs.json:3:14: ..." */
            cli_fail(c, parsed ? "%s: %s" : "%s:%s", cli_in_name(argv[i]), e.msg);
        }
    }
    FILE *out = cli_open_out(c, out_path);
    if (format == 1) {
        value *v = results_to_value(res);
        value_print_json(out, v, 2);
        fputc('\n', out);
        value_free(v);
    } else {
        results_print_md(out, res);
    }
    cli_commit(c);
    results_free(res);
}

int main(int argc, char **argv)
{
    cli c;
    cli_init(&c, "ssl-eval");
    if (argc > 1 && strcmp(argv[1], "table") == 0) {
        table_main(&c, argc - 1, argv + 1);
    } else {
        eval_main(&c, argc, argv);
    }
    return 0;
}
