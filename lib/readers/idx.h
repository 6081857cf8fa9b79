/* idx: the IDX format of MNIST and Fashion-MNIST (gzip-compressed or not).
 * Big-endian header: two zero bytes, a type byte (0x08 = unsigned byte, the only one accepted),
 * the number of dimensions, then each dimension as a 32-bit int; then the bytes, row-major.
 * Images are 0x00000803 (count, rows, cols), labels 0x00000801 (count). */
#ifndef SSL_IDX_H
#define SSL_IDX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define IDX_MAX_DIMS 4

typedef struct idx_array {
    int ndim;
    int64_t dims[IDX_MAX_DIMS];
    size_t count;          /* dims[0]: number of items */
    size_t item;           /* bytes per item: product of dims[1..] (1 for labels) */
    const uint8_t *data;   /* count * item bytes, into buf */
    char *buf;             /* owned: the whole file */
} idx_array;

/* Parses an IDX file held in memory; takes ownership of buf (malloc'd) even on error. */
int idx_parse(char *buf, size_t len, const char *name, idx_array *out, error *e);
/* Reads f (gzip or not) and parses it. */
int idx_read(FILE *f, const char *name, idx_array *out, error *e);
void idx_free(idx_array *a);

#endif
