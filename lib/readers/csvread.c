#include "csvread.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

csvread_opts csvread_defaults(void)
{
    return (csvread_opts){.delim = ',', .quote = '"', .skip = 0};
}

/* Parser state shared with libcsv's callbacks. */
typedef struct builder {
    csvread_doc *d;
    long line;            /* line being fed to libcsv */
    long row_start;       /* line where the row being parsed starts; 0 = not started */
    size_t row_fields;    /* fields of the current row so far */
    int nomem;
} builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np) return -1;
    *p = np;
    *cap = c;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    builder *b = data;
    csvread_doc *d = b->d;
    if (b->nomem) return;
    if (grow((void **)&d->field_off, &d->fields_cap, d->nfields + 1, sizeof *d->field_off) ||
        grow((void **)&d->text, &d->text_cap, d->text_len + len + 1, 1)) {
        b->nomem = 1;
        return;
    }
    d->field_off[d->nfields++] = d->text_len;
    if (len) memcpy(d->text + d->text_len, s, len);
    d->text[d->text_len + len] = '\0';
    d->text_len += len + 1;
    b->row_fields++;
}

static void on_row(int term, void *data)
{
    (void)term;
    builder *b = data;
    csvread_doc *d = b->d;
    if (b->nomem) return;
    if (grow((void **)&d->row_first, &d->rows_cap, d->nrows + 2, sizeof *d->row_first) ||
        grow((void **)&d->row_line, &d->lines_cap, d->nrows + 2, sizeof *d->row_line)) {
        b->nomem = 1;
        return;
    }
    d->row_line[d->nrows] = b->row_start ? b->row_start : b->line;
    d->nrows++;
    d->row_first[d->nrows] = d->nfields;
    b->row_start = 0;
    b->row_fields = 0;
}

static int blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int space_only(unsigned char c) { return c == ' '; }
static int space_or_tab(unsigned char c) { return c == ' ' || c == '\t'; }

/* Skips a UTF-8 BOM and o->skip lines; returns the offset of the data, counting lines in *line. */
static size_t data_start(const char *buf, size_t len, long skip, long *line)
{
    size_t at = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) at = 3;
    *line = 1;
    for (long i = 0; i < skip && at < len; i++) {
        const char *nl = memchr(buf + at, '\n', len - at);
        at = nl ? (size_t)(nl - buf) + 1 : len;
        (*line)++;
    }
    return at;
}

csvread_doc *csvread_parse(const char *buf, size_t len, const char *name, const csvread_opts *o, error *e)
{
    csvread_doc *d = calloc(1, sizeof *d);
    struct csv_parser p;
    if (!d || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        free(d);
        error_set(e, "%s: out of memory", name);
        return NULL;
    }
    csv_set_delim(&p, o->delim);
    csv_set_quote(&p, o->quote);
    /* libcsv trims spaces and tabs around unquoted fields: not tabs when they delimit */
    csv_set_space_func(&p, o->delim == '\t' ? space_only : space_or_tab);
    builder b = {.d = d};
    int fail = 0;
    if (grow((void **)&d->row_first, &d->rows_cap, 2, sizeof *d->row_first))
        fail = error_set(e, "%s: out of memory", name);
    else
        d->row_first[0] = 0;
    size_t at = data_start(buf, len, o->skip, &b.line);
    const char *nul = memchr(buf + at, '\0', len - at);   /* libcsv would end the field there, silently */
    if (!fail && nul) {
        long line = b.line;
        for (const char *q = buf + at; q < nul; q++) line += *q == '\n';
        fail = error_set(e, "%s:%ld: a NUL byte: this is binary data, not CSV text", name, line);
    }
    /* fed one line at a time so the line count is known when libcsv calls back */
    while (!fail && at < len) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (buf + at)) + 1 : len - at;
        if (!b.row_start && b.row_fields == 0 && !blank_line(buf + at, n)) b.row_start = b.line;
        if (csv_parse(&p, buf + at, n, on_field, on_row, &b) != n)
            fail = csv_error(&p) == CSV_EPARSE
                       ? error_set(e, "%s:%ld: a quote inside a field that is not quoted whole, or text after a closing quote "
                                      "(a quote inside a quoted field is written \"\")", name, b.line)
                       : error_set(e, "%s:%ld: %s", name, b.line, csv_strerror(csv_error(&p)));
        else if (b.nomem)
            fail = error_set(e, "%s: out of memory", name);
        at += n;
        if (nl) b.line++;
    }
    if (!fail && csv_fini(&p, on_field, on_row, &b) != 0)
        fail = error_set(e, "%s:%ld: unterminated quoted field", name, b.row_start ? b.row_start : b.line);
    if (!fail && b.nomem) fail = error_set(e, "%s: out of memory", name);
    csv_free(&p);
    if (fail) {
        csvread_free(d);
        return NULL;
    }
    return d;
}

void csvread_free(csvread_doc *d)
{
    if (!d) return;
    free(d->row_first);
    free(d->row_line);
    free(d->field_off);
    free(d->text);
    free(d);
}

size_t csvread_row_len(const csvread_doc *d, size_t row) { return d->row_first[row + 1] - d->row_first[row]; }

const char *csvread_field(const csvread_doc *d, size_t row, size_t col)
{
    return d->text + d->field_off[d->row_first[row] + col];
}

int csvread_parse_delim(const char *s, unsigned char *out)
{
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(s) != 1) return -1;
    *out = (unsigned char)s[0];
    return 0;
}
