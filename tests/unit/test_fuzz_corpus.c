/* Replays the fuzz harnesses' seed corpora (tests/fuzz/corpus/NAME), regression inputs included,
 * through the harnesses built without libFuzzer, so every `make test` (and `make test SANITIZE=1`)
 * runs them. A harness aborts on a broken property; a crash fails this test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define LLVMFuzzerTestOneInput fuzz_stream_one
#include "../fuzz/fuzz_stream.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_csv_one
#include "../fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput

#define CORPUS "tests/fuzz/corpus/"

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    fclose(f);
    *len = n;
    return buf;
}

/* Runs every file of corpus/name through fn; returns how many ran. */
static int replay(const char *name, int (*fn)(const uint8_t *, size_t))
{
    char dir[256];
    snprintf(dir, sizeof dir, CORPUS "%s", name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        uint8_t *buf = read_file(path, &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        fn(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_stream_corpus(void) { CHECK(replay("stream", fuzz_stream_one) >= 10); }
static void test_csv_corpus(void) { CHECK(replay("csv", fuzz_csv_one) >= 10); }
static void test_model_corpus(void) { CHECK(replay("model", fuzz_model_one) >= 5); }

int main(void)
{
    RUN(test_stream_corpus);
    RUN(test_csv_corpus);
    RUN(test_model_corpus);
    return check_summary();
}
