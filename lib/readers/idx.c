#include "idx.h"

#include <stdlib.h>
#include <string.h>

#include "gzfile.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int check_header(const unsigned char *b, size_t len, const char *name, idx_array *out, error *e)
{
    if (len < 4) return error_set(e, "%s: truncated: %zu bytes, not an IDX file", name, len);
    uint32_t magic = be32(b);
    int ndim = b[3];
    if (b[0] || b[1] || b[2] != 0x08 || ndim < 1 || ndim > IDX_MAX_DIMS)
        return error_set(e, "%s: bad magic 0x%08x: not an IDX file of unsigned bytes (0x00000801..0x00000804)", name,
                         (unsigned)magic);
    if (len < 4 + 4 * (size_t)ndim) return error_set(e, "%s: truncated in the header", name);
    out->ndim = ndim;
    out->item = 1;
    for (int i = 0; i < ndim; i++) {
        out->dims[i] = be32(b + 4 + 4 * i);
        if (i > 0) out->item *= (size_t)out->dims[i];
    }
    out->count = (size_t)out->dims[0];
    return 0;
}

int idx_parse(char *buf, size_t len, const char *name, idx_array *out, error *e)
{
    memset(out, 0, sizeof *out);
    out->buf = buf;
    const unsigned char *b = (const unsigned char *)buf;
    if (check_header(b, len, name, out, e)) return -1;
    size_t head = 4 + 4 * (size_t)out->ndim;
    /* dims are < 2^32 each; the product of up to 4 of them could overflow: compare by division */
    size_t have = len - head;
    if (out->item == 0 || out->count > have / out->item || out->count * out->item != have) {
        if (out->item && out->count <= have / out->item)
            return error_set(e, "%s: %zu bytes after the data: not an IDX file of %zu items", name,
                             have - out->count * out->item, out->count);
        return error_set(e, "%s: truncated: the header announces %zu items of %zu bytes, the file holds %zu bytes",
                         name, out->count, out->item, have);
    }
    out->data = b + head;
    return 0;
}

int idx_read(FILE *f, const char *name, idx_array *out, error *e)
{
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (gzfile_read_all(f, name, &buf, &len, e)) return -1;
    return idx_parse(buf, len, name, out, e);
}

void idx_free(idx_array *a)
{
    free(a->buf);
    memset(a, 0, sizeof *a);
}
