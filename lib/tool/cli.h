/* cli: what every tool's main shares: the exit conventions (1 = data error, 2 = usage error),
 * opening inputs and atomic outputs, and parsing option values. The cli struct is owned by main;
 * nothing here is global. */
#ifndef SSL_CLI_H
#define SSL_CLI_H

#include <stdio.h>
#include <stddef.h>

#include "atomicfile.h"
#include "error.h"

#ifndef SSL_VERSION
#define SSL_VERSION "0.0.0"
#endif

#define CLI_MAX_OUTS 8

typedef struct cli_out {
    atomic_file a;   /* the output (atomicfile.h) */
    char *name;      /* the path as given, for messages */
    int keep;        /* a record (cli_open_log): renamed into place even when the program fails */
} cli_out;

typedef struct cli {
    const char *prog;
    cli_out outs[CLI_MAX_OUTS];
    int nouts;
} cli;

/* Also restores SIGPIPE's default action, so a closed pipe ends the program quietly, and turns
 * getopt's own messages off (opterr = 0). */
void cli_init(cli *c, const char *prog);

/* "prog: message" on stderr, temporary outputs removed, exit 1. A message beginning "write error"
 * (the stream and model writers' own, which know no file name) is shown after the name of the
 * output that failed: "prog: /dev/full: write error: No space left on device". */
_Noreturn void cli_fail(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void cli_fail_error(cli *c, const error *e);
/* "prog: message" and a hint to --help on stderr, exit 2. */
_Noreturn void cli_usage_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The usage error for what getopt_long returned for a bad option: '?' (unknown) or ':' (value missing;
 * the optstring must start with ':'). */
_Noreturn void cli_bad_option(cli *c, char **argv, int opt);
/* Prints "prog (ssl-tools) VERSION" and exits 0. */
_Noreturn void cli_print_version(cli *c);
/* Prints usage on stdout and exits 0 (1 when stdout cannot be written, e.g. --help > /dev/full). */
_Noreturn void cli_print_help(cli *c, const char *usage);
/* The common tail of a getopt switch: 'h' prints usage, 'V' the version, anything else is cli_bad_option. */
_Noreturn void cli_other_option(cli *c, char **argv, int opt, const char *usage);
/* For tools with sub-commands ("ssl-fit train ..."): argv[1] -h/--help prints usage, -V/--version the version
 * (both exit 0); a missing or unknown command is a usage error listing cmds (NULL-terminated). Returns the
 * index of argv[1] in cmds; the command's own options are then argc - 1, argv + 1. */
int cli_dispatch(cli *c, int argc, char **argv, const char *const *cmds, const char *usage);
/* The command line as one line for a stream's meta history (stream_meta_add_history): the program's name,
 * then argv[1..argc-1], quoted where a shell would need it. Call before getopt permutes argv; free it. */
char *cli_command_line(cli *c, int argc, char **argv);

/* The arguments getopt left (argv[optind..argc)) into files (room for max), or a usage error
 * "expected at most one input file, got 3". Returns how many. */
int cli_inputs(cli *c, int argc, char **argv, const char **files, int max);
/* Reads a whole stream from path (NULL or "-" is stdin), or fails naming the file and the problem. */
struct stream_table *cli_load_stream(cli *c, const char *path);
/* Opens an input; NULL or "-" is stdin. Failure: cli_fail naming the file. */
FILE *cli_open_in(cli *c, const char *path);
/* Shown name of an input path for messages ("stdin" for NULL or "-"), and of an output ("stdout"). */
const char *cli_in_name(const char *path);
const char *cli_out_name(const char *path);
/* Opens an output; NULL or "-" is stdout. A regular file is written to a temporary file in the same
 * folder and renamed over path only by cli_commit, so a failure never leaves a partial file; the
 * program's descriptors (/dev/stdout), devices and pipes (e.g. /dev/full) are written through
 * (atomicfile.h). The same file opened twice is a usage error. */
FILE *cli_open_out(cli *c, const char *path);
/* A usage error when two of the n output paths (NULL entries skipped) would replace the same file,
 * e.g. --log M -o M: call before any work. */
void cli_distinct_outputs(cli *c, const char *const *paths, int n);
/* The same for a record of progress (a training --log), written to PATH.tmpXXXXXX (so it can be
 * followed as it grows): if the program fails or is interrupted after writing some of it, what was
 * written is still renamed into place (what an empty record would replace is left alone). */
FILE *cli_open_log(cli *c, const char *path);
/* Flushes and closes every output, checking for write errors (disk full: cli_fail), then renames
 * the temporary files into place. Call once, when all output is written. */
void cli_commit(cli *c);
/* Removes temporary outputs without committing, except the records of cli_open_log that hold
 * something (cli_fail does this itself). */
void cli_abort_outputs(cli *c);

/* Option values: a usage error (exit 2) naming the option when the text is not a number in range. */
long cli_parse_long(cli *c, const char *opt, const char *s, long lo, long hi);
double cli_parse_double(cli *c, const char *opt, const char *s, double lo, double hi);
/* Comma-separated non-negative ints ("128,64"; "" or "0" or "none" gives 0 items). Returns the count;
 * out has room for max items. */
int cli_parse_int_list(cli *c, const char *opt, const char *s, int *out, int max);
/* Index of s in the NULL-terminated list choices, or a usage error listing them. */
int cli_parse_choice(cli *c, const char *opt, const char *s, const char *const *choices);

#endif
