/* csvread: CSV text into a table of text fields (libcsv, strict mode), keeping for every row
 * the line of the file where it starts, so later errors can say file:row:column.
 * Accepted: a UTF-8 byte-order mark, CRLF or LF line ends, quoted fields with embedded
 * delimiters, quotes ("") and newlines, a number of lines to skip before the data.
 * Blank lines are skipped. Fields are stored in one arena; rows may be ragged (checked by the caller). */
#ifndef SSL_CSVREAD_H
#define SSL_CSVREAD_H

#include <stddef.h>

#include "error.h"

typedef struct csvread_opts {
    unsigned char delim;   /* default ',' */
    unsigned char quote;   /* default '"' */
    long skip;             /* lines to skip at the start (after a BOM) */
} csvread_opts;

/* The defaults: ',' '"' and no skipped lines. */
csvread_opts csvread_defaults(void);

typedef struct csvread_doc {
    size_t nrows;
    size_t *row_first;   /* nrows + 1 entries: row r has fields [row_first[r], row_first[r+1]) */
    long *row_line;      /* 1-based line of the file where row r starts */
    size_t nfields;
    size_t *field_off;   /* offset of each field's NUL-terminated text in text */
    char *text;
    size_t text_len;
    /* capacities */
    size_t rows_cap, lines_cap, fields_cap, text_cap;
} csvread_doc;

/* Parses len bytes of CSV text. name is used in messages ("data.csv:3: ..."). NULL on error. */
csvread_doc *csvread_parse(const char *buf, size_t len, const char *name, const csvread_opts *o, error *e);
void csvread_free(csvread_doc *d);

size_t csvread_row_len(const csvread_doc *d, size_t row);
const char *csvread_field(const csvread_doc *d, size_t row, size_t col);

/* Parses a delimiter option: one character, or "tab" / "\t" for a tab. -1 if not one byte. */
int csvread_parse_delim(const char *s, unsigned char *out);

#endif
