#include "cli.h"
#include "names.h"
#include "stream.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_init(cli *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    const char *slash = strrchr(prog, '/');
    c->prog = slash ? slash + 1 : prog;
    /* a closed pipe (`ssl-vae sample | head`) ends us quietly, even when our parent ignored SIGPIPE */
    signal(SIGPIPE, SIG_DFL);
    opterr = 0; /* getopt's own messages off: cli_bad_option words them */
}

/* A record's temporary file into place when it holds something; returns whether it did. */
static int keep_record(cli_out *o)
{
    if (!o->keep || !o->a.f || !o->a.tmp) return 0;
    if (fflush(o->a.f) != 0 || ferror(o->a.f) || ftell(o->a.f) <= 0) return 0;
    error e;
    return atomic_commit(&o->a, &e) == 0;
}

void cli_abort_outputs(cli *c)
{
    for (int i = 0; i < c->nouts; i++) {
        cli_out *o = &c->outs[i];
        if (!keep_record(o)) atomic_abort(&o->a);
        free(o->name);
        o->name = NULL;
    }
    c->nouts = 0;
}

/* The output a write failed on (the library's writers do not know file names): the first with its
 * error flag set, or stdout; NULL when none is. */
static const char *failed_output(cli *c)
{
    for (int i = 0; i < c->nouts; i++)
        if (c->outs[i].a.f && ferror(c->outs[i].a.f)) return c->outs[i].name;
    return ferror(stdout) ? "stdout" : NULL;
}

/* A message that begins "write error" gets the name of the output that failed in front. */
static _Noreturn void vfail(cli *c, int code, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const char *out = strncmp(msg, "write error", 11) == 0 ? failed_output(c) : NULL;
    fflush(stdout);
    fprintf(stderr, "%s: %s%s%s\n", c->prog, out ? out : "", out ? ": " : "", msg);
    if (code == 2) fprintf(stderr, "Try '%s --help' for more information.\n", c->prog);
    cli_abort_outputs(c);
    /* _exit: no library destructors, which could wait forever on threads stuck for memory (OpenBLAS's) */
    fflush(stderr);
    _exit(code);
}

void cli_fail(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 1, fmt, ap);
}

void cli_fail_error(cli *c, const error *e) { cli_fail(c, "%s", e->msg); }

void cli_usage_error(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, 2, fmt, ap);
}

void cli_bad_option(cli *c, char **argv, int opt)
{
    const char *arg = argv[optind - 1];
    if (opt == ':') cli_usage_error(c, "option '%s' needs a value", arg);
    if (optopt && arg[0] == '-' && arg[1] != '-') cli_usage_error(c, "unknown option '-%c'", optopt);
    cli_usage_error(c, "unknown option '%s'", arg);
}

stream_table *cli_load_stream(cli *c, const char *path)
{
    error e;
    stream_table *t = stream_load(path, &e);
    if (!t) cli_fail_error(c, &e);
    return t;
}

void cli_print_version(cli *c)
{
    printf("%s (ssl-tools) %s\n", c->prog, SSL_VERSION);
    if (fflush(stdout) != 0 || ferror(stdout)) cli_fail(c, "stdout: %s", strerror(errno));
    exit(0);
}

void cli_print_help(cli *c, const char *usage)
{
    fputs(usage, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) cli_fail(c, "stdout: %s", strerror(errno));
    exit(0);
}

void cli_other_option(cli *c, char **argv, int opt, const char *usage)
{
    if (opt == 'h') cli_print_help(c, usage);
    if (opt == 'V') cli_print_version(c);
    cli_bad_option(c, argv, opt);
}

/* "a, b or c" into buf. */
static void list_choices(const char *const *cmds, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; cmds[i] && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i == 0 ? "" : cmds[i + 1] ? ", " : " or ", cmds[i]);
}

int cli_dispatch(cli *c, int argc, char **argv, const char *const *cmds, const char *usage)
{
    char names[256];
    list_choices(cmds, names, sizeof names);
    if (argc < 2) cli_usage_error(c, "expected a command: %s", names);
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) cli_print_help(c, usage);
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) cli_print_version(c);
    int k = names_find(cmds, cmd);
    if (k >= 0) return k;
    cli_usage_error(c, "unknown command '%s' (%s)", cmd, names);
}

int cli_inputs(cli *c, int argc, char **argv, const char **files, int max)
{
    static const char *const words[] = {"no", "one", "two", "three"};
    int n = argc - optind;
    if (n > max) {
        if (max < 4) cli_usage_error(c, "expected at most %s input file%s, got %d", words[max], max == 1 ? "" : "s", n);
        cli_usage_error(c, "expected at most %d input files, got %d", max, n);
    }
    for (int i = 0; i < n; i++) files[i] = argv[optind + i];
    return n;
}

char *cli_command_line(cli *c, int argc, char **argv)
{
    size_t len = strlen(c->prog) + 1;
    for (int i = 1; i < argc; i++) len += strlen(argv[i]) + 3;
    char *s = malloc(len);
    if (!s) cli_fail(c, "out of memory");
    strcpy(s, c->prog);
    for (int i = 1; i < argc; i++) {
        int plain = argv[i][0] && strcspn(argv[i], " \t\n'\"$\\;|&*?") == strlen(argv[i]);
        strcat(s, plain ? " " : " '");
        strcat(s, argv[i]);
        if (!plain) strcat(s, "'");
    }
    return s;
}

static int is_std(const char *path) { return !path || strcmp(path, "-") == 0; }

const char *cli_in_name(const char *path) { return is_std(path) ? "stdin" : path; }

const char *cli_out_name(const char *path) { return is_std(path) ? "stdout" : path; }

FILE *cli_open_in(cli *c, const char *path)
{
    if (is_std(path)) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) cli_fail(c, "%s: %s", path, strerror(errno));
    return f;
}

/* An output (a record: named from the start, kept when the program fails). */
static FILE *open_output(cli *c, const char *path, int record)
{
    if (is_std(path)) return stdout;
    if (c->nouts == CLI_MAX_OUTS) cli_fail(c, "too many output files");
    cli_out *o = &c->outs[c->nouts];
    error e;
    if ((record ? atomic_open_named(&o->a, path, &e) : atomic_open(&o->a, path, &e)) < 0) cli_fail_error(c, &e);
    o->keep = record;
    o->name = strdup(path);
    c->nouts++;
    if (!o->name) cli_fail(c, "out of memory");
    for (int i = 0; i < c->nouts - 1; i++)
        if (atomic_same_file(&c->outs[i].a, &o->a))
            cli_usage_error(c, "%s and %s are the same file: give each output its own", c->outs[i].name, path);
    return o->a.f;
}

void cli_distinct_outputs(cli *c, const char *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (paths[i] && paths[j] && !is_std(paths[i]) && atomic_same_path(paths[i], paths[j]))
                cli_usage_error(c, "%s and %s are the same file: give each output its own", paths[i], paths[j]);
}

FILE *cli_open_out(cli *c, const char *path) { return open_output(c, path, 0); }

FILE *cli_open_log(cli *c, const char *path) { return open_output(c, path, 1); }

void cli_commit(cli *c)
{
    if (fflush(stdout) != 0 || ferror(stdout)) cli_fail(c, "write error: %s", strerror(errno));
    /* first check that everything was written (any failure aborts all), then commit */
    for (int i = 0; i < c->nouts; i++) {
        cli_out *o = &c->outs[i];
        if (fflush(o->a.f) != 0 || ferror(o->a.f)) cli_fail(c, "%s: write error: %s", o->name, strerror(errno));
    }
    for (int i = 0; i < c->nouts; i++) {
        cli_out *o = &c->outs[i];
        error e;
        if (atomic_commit(&o->a, &e) < 0) cli_fail_error(c, &e);
        free(o->name);
        o->name = NULL;
    }
    c->nouts = 0;
}

long cli_parse_long(cli *c, const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) cli_usage_error(c, "%s: '%s' is not an integer", opt, s);
    if (v < lo || v > hi) cli_usage_error(c, "%s: %ld is out of range [%ld, %ld]", opt, v, lo, hi);
    return v;
}

double cli_parse_double(cli *c, const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) cli_usage_error(c, "%s: '%s' is not a number", opt, s);
    if (v < lo || v > hi) cli_usage_error(c, "%s: %g is out of range [%g, %g]", opt, v, lo, hi);
    return v;
}

int cli_parse_int_list(cli *c, const char *opt, const char *s, int *out, int max)
{
    if (!*s || strcmp(s, "0") == 0 || strcmp(s, "none") == 0) return 0;
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v <= 0 || v > INT_MAX || (*end && *end != ','))
            cli_usage_error(c, "%s: '%s' is not a list of positive integers like 128,64", opt, s);
        if (n == max) cli_usage_error(c, "%s: at most %d values", opt, max);
        out[n++] = (int)v;
        if (!*end) return n;
        p = end + 1;
    }
}

int cli_parse_choice(cli *c, const char *opt, const char *s, const char *const *choices)
{
    int k = names_find(choices, s);
    if (k >= 0) return k;
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? "|" : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    cli_usage_error(c, "%s: '%s' is not one of %s", opt, s, list);
}
