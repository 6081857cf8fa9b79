/* fuzz_common: shared by the fuzz harnesses (built by `make fuzz` with libFuzzer, and replayed over
 * their corpora by tests/unit/test_fuzz_corpus.c in every `make test`). */
#ifndef SSL_FUZZ_COMMON_H
#define SSL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A read-only FILE over the input (glibc's fmemopen accepts size 0, but wants a buffer). */
static inline FILE *fuzz_open(const uint8_t *data, size_t size)
{
    static char none[1];
    return fmemopen(size ? (void *)data : none, size, "rb");
}

/* A property the harness checks failed: abort so libFuzzer (or the replay test) reports it. */
#define FUZZ_ASSERT(cond)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

#endif
