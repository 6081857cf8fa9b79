#include "gzfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

int gzfile_read_all(FILE *f, const char *name, char **buf, size_t *len, error *e)
{
    *buf = NULL;
    *len = 0;
    /* zlib reads from the descriptor: a dup keeps the caller's FILE untouched by gzclose */
    int fd = dup(fileno(f));
    if (fd < 0) return error_set(e, "%s: %s", name, strerror(errno));
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return error_set(e, "%s: cannot open for reading", name);
    }
    gzbuffer(gz, 1 << 17);
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (!b) {
            gzclose(gz);
            return error_set(e, "%s: out of memory", name);
        }
        if (cap - n < (1 << 15)) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) free(b);
            b = nb;
            cap *= 2;
            continue;
        }
        int got = gzread(gz, b + n, (unsigned)(cap - n));
        if (got < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            error_set(e, "%s: %s", name, code == Z_ERRNO ? strerror(errno) : msg);
            free(b);
            gzclose(gz);
            return -1;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    /* zlib reports a gzip stream cut short only through gzerror, as Z_BUF_ERROR */
    int code;
    gzerror(gz, &code);
    if (code == Z_BUF_ERROR) {
        free(b);
        gzclose(gz);
        return error_set(e, "%s: truncated gzip data (unexpected end of file)", name);
    }
    gzclose(gz);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}
