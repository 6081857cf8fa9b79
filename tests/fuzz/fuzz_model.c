/* Fuzz harness: the model file reader (model_file_read). A model it accepts must write back and
 * read again to the same kind and parameters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model.h"

static void model_round_trip(const model_file *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    FUZZ_ASSERT(out);
    error e = {{0}};
    FUZZ_ASSERT(model_file_write(m, out, &e) == 0);
    fclose(out);
    FILE *in = fuzz_open((const uint8_t *)buf, len);
    model_file *back = model_file_read(in, "round-trip", &e);
    fclose(in);
    if (!back) fprintf(stderr, "%s\n", e.msg);
    FUZZ_ASSERT(back && strcmp(back->kind, m->kind) == 0 && back->nparams == m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        const model_param *a = &m->params[i], *b = &back->params[i];
        FUZZ_ASSERT(strcmp(a->name, b->name) == 0 && a->ndim == b->ndim && a->size == b->size);
        FUZZ_ASSERT(a->size == 0 || memcmp(a->data, b->data, a->size * sizeof(float)) == 0);
    }
    model_file_free(back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fuzz_open(data, size);
    if (!f) return 0;
    error e = {{0}};
    model_file *m = model_file_read(f, "fuzz.model", &e);
    fclose(f);
    if (m) model_round_trip(m);
    else FUZZ_ASSERT(e.msg[0] != '\0');
    model_file_free(m);
    return 0;
}
