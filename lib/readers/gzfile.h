/* gzfile: reads a whole input into memory, gunzipping it on the fly when it is gzip-compressed
 * (zlib reads plain data through unchanged), so every reader accepts FILE and FILE.gz alike. */
#ifndef SSL_GZFILE_H
#define SSL_GZFILE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* Reads f to its end into *buf (malloc'd, with a NUL byte after the *len bytes; free it).
 * f is left open but consumed. A corrupt or cut gzip stream is an error naming `name`. */
int gzfile_read_all(FILE *f, const char *name, char **buf, size_t *len, error *e);

#endif
