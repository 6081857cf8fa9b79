/* ssl-show: looks at a tensor stream, as head and jq do for text: the header, the tensors and
 * their shapes, class counts, per-feature ranges and the first rows. See docs/ssl-eval.md. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inspect.h"
#include "stream.h"

static const char USAGE[] =
    "Usage: ssl-show [OPTIONS] [FILE]\n"
    "\n"
    "Summarises a tensor stream (FILE or stdin): the header (format, version, tensors with their\n"
    "type and row shape, metadata), the row count, class counts of y with their names and the\n"
    "unlabelled count, min/mean/max of each feature of x, and the first rows. It streams: memory\n"
    "does not grow with the number of rows. A truncated or corrupt stream is an error (exit 1),\n"
    "never summarised as if complete.\n"
    "\n"
    "Options:\n"
    "  -n, --rows N        first rows to show (default 3; 0 for none)\n"
    "  --all               list every feature and value (default: the first 8, then a summary)\n"
    "  --header            print the header only, without reading the rows (fine on a pipe)\n"
    "  --json              a JSON summary for machines (all features)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  -h, --help          this help\n"
    "  -V, --version       print the version\n"
    "\n"
    "Examples:\n"
    "  ssl-prep csv data/digits.csv.gz | ssl-show\n"
    "  ssl-show --header -n 0 train.ssl\n"
    "  ssl-show --json test.ssl | jq .classes\n";

/* Reads the whole stream into a summary; NULL with an error (truncated, corrupt...). */
static inspect *summarise(stream_reader *r, size_t head, error *e)
{
    inspect *in = inspect_new(stream_reader_schema(r), head, e);
    if (!in) return NULL;
    stream_table *batch = NULL;
    int got;
    while ((got = stream_reader_next(r, &batch, e)) == 1)
        if (inspect_add(in, batch, e)) {
            got = -1;
            break;
        }
    stream_table_free(batch);
    if (got < 0) {
        inspect_free(in);
        return NULL;
    }
    return in;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rows", required_argument, 0, 'n'},  {"all", no_argument, 0, 'a'},
        {"header", no_argument, 0, 'H'},      {"json", no_argument, 0, 'j'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},     {0, 0, 0, 0},
    };
    cli c;
    cli_init(&c, "ssl-show");
    int all = 0, header_only = 0, json = 0, opt;
    long head = 3;
    const char *out_path = NULL;
    while ((opt = getopt_long(argc, argv, ":n:o:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': head = cli_parse_long(&c, "--rows", optarg, 0, 1000000); break;
        case 'a': all = 1; break;
        case 'H': header_only = 1; break;
        case 'j': json = 1; break;
        case 'o': out_path = optarg; break;
        default: cli_other_option(&c, argv, opt, USAGE);
        }
    }
    const char *path = NULL;
    cli_inputs(&c, argc, argv, &path, 1);
    error e;
    FILE *in = cli_open_in(&c, path);
    stream_reader *r = stream_reader_open(in, path, &e);
    if (!r) cli_fail_error(&c, &e);
    inspect *sum = header_only ? NULL : summarise(r, (size_t)head, &e);
    if (!header_only && !sum) {
        stream_reader_close(r);
        cli_fail_error(&c, &e);
    }
    FILE *out = cli_open_out(&c, out_path);
    if (json) {
        value *v = sum ? inspect_to_value(sum) : inspect_header_value(stream_reader_schema(r));
        value_print_json(out, v, 2);
        fputc('\n', out);
        value_free(v);
    } else if (sum) {
        inspect_print_text(out, sum, all);
    } else {
        inspect_print_header(out, stream_reader_schema(r), all);
    }
    cli_commit(&c);
    inspect_free(sum);
    stream_reader_close(r);
    if (in != stdin) fclose(in);
    return 0;
}
