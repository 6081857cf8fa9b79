/* Fuzz harness: the tensor stream reader (stream_read_all). A stream it accepts must write back
 * and read again to the same rows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "stream.h"

/* Writes t to memory and reads it back: same fields, same rows, same bytes in every column. */
static void stream_round_trip(const stream_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    FUZZ_ASSERT(out);
    error e = {{0}};
    FUZZ_ASSERT(stream_write_all(out, t, &e) == 0);
    fclose(out);
    FILE *in = fuzz_open((const uint8_t *)buf, len);
    stream_table *back = stream_read_all(in, "round-trip", &e);
    fclose(in);
    if (!back) fprintf(stderr, "%s\n", e.msg);
    FUZZ_ASSERT(back && back->nrows == t->nrows && stream_schema_same_fields(back->schema, t->schema));
    for (int i = 0; i < t->schema->n; i++) {
        size_t rb = t->schema->fields[i].width * stream_dtype_size(t->schema->fields[i].dtype);
        FUZZ_ASSERT(t->nrows == 0 || memcmp(back->cols[i], t->cols[i], t->nrows * rb) == 0);
    }
    stream_table_free(back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f) return 0;
    error e = {{0}};
    stream_table *t = stream_read_all(f, "fuzz.ssl", &e);
    fclose(f);
    if (t) stream_round_trip(t);
    else FUZZ_ASSERT(e.msg[0] != '\0');   /* a refusal always says why */
    stream_table_free(t);
    return 0;
}
