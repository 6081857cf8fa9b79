/* idx: tiny IDX files written here, raw and gzip-compressed; bad magic; truncation. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "idx.h"

/* 3 images of 2x2 and their labels */
static const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                       0, 255, 10, 20, 1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4};

static FILE *file_with(const unsigned char *b, size_t n, int gzip, char *path)
{
    strcpy(path, "/tmp/test_idxXXXXXX");
    int fd = mkstemp(path);
    if (gzip) {
        gzFile gz = gzdopen(fd, "wb");
        gzwrite(gz, b, (unsigned)n);
        gzclose(gz);
    } else {
        CHECK(write(fd, b, n) == (ssize_t)n);
        close(fd);
    }
    return fopen(path, "rb");
}

static int load(const unsigned char *b, size_t n, int gzip, idx_array *a, error *e)
{
    char path[32];
    FILE *f = file_with(b, n, gzip, path);
    int rc = idx_read(f, "t.idx", a, e);
    fclose(f);
    unlink(path);
    return rc;
}

static void test_images_raw_and_gzip(void)
{
    for (int gz = 0; gz < 2; gz++) {
        idx_array a;
        error e = {0};
        CHECK(load(images, sizeof images, gz, &a, &e) == 0);
        CHECK(a.ndim == 3 && a.count == 3 && a.item == 4 && a.dims[1] == 2 && a.dims[2] == 2);
        CHECK(a.data[1] == 255 && a.data[11] == 8);
        idx_free(&a);
    }
}

static void test_labels(void)
{
    idx_array a;
    error e = {0};
    CHECK(load(labels, sizeof labels, 1, &a, &e) == 0);
    CHECK(a.ndim == 1 && a.count == 3 && a.item == 1 && a.data[0] == 9 && a.data[2] == 4);
    idx_free(&a);
}

static void test_bad_magic(void)
{
    unsigned char b[sizeof labels];
    memcpy(b, labels, sizeof b);
    b[2] = 0x0D;   /* float data: not accepted */
    idx_array a;
    error e = {0};
    CHECK(load(b, sizeof b, 0, &a, &e) == -1);
    CHECK(strstr(e.msg, "t.idx: bad magic 0x00000d01") != NULL);
    idx_free(&a);
    const unsigned char text[] = "1,2,3\n";
    CHECK(load(text, sizeof text - 1, 0, &a, &e) == -1);
    CHECK(strstr(e.msg, "bad magic") != NULL);
    idx_free(&a);
}

static void test_truncated(void)
{
    idx_array a;
    error e = {0};
    CHECK(load(images, sizeof images - 1, 1, &a, &e) == -1);
    CHECK(strstr(e.msg, "t.idx: truncated") != NULL);
    idx_free(&a);
    CHECK(load(images, 10, 0, &a, &e) == -1);
    CHECK(strstr(e.msg, "truncated") != NULL);
    idx_free(&a);
    CHECK(load(images, 2, 0, &a, &e) == -1);
    idx_free(&a);
}

int main(void)
{
    RUN(test_images_raw_and_gzip);
    RUN(test_labels);
    RUN(test_bad_magic);
    RUN(test_truncated);
    return check_summary();
}
