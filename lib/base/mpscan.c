#include "mpscan.h"

/* Big-endian unsigned of n bytes. */
static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* The value starting at p (avail bytes there): its size in *size (header plus payload, not the
 * elements of a container), and the number of elements it adds in *items. 0, or 1 when the header
 * itself is cut, or -1 on 0xc1. */
static int value_size(const unsigned char *p, size_t avail, uint64_t *size, uint64_t *items)
{
    unsigned b = p[0];
    /* for the length-prefixed types: bytes of the length, bytes before the payload */
    int lenb = 0, head = 1;
    *items = 0;
    *size = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return 0;
    if (b <= 0x8f) return *items = 2 * (uint64_t)(b & 0x0f), 0;
    if (b <= 0x9f) return *items = b & 0x0f, 0;
    if (b <= 0xbf) return *size = 1 + (uint64_t)(b & 0x1f), 0;
    switch (b) {
    case 0xc1: return -1;
    case 0xc4: case 0xd9: lenb = 1; break;               /* bin8, str8 */
    case 0xc5: case 0xda: lenb = 2; break;               /* bin16, str16 */
    case 0xc6: case 0xdb: lenb = 4; break;               /* bin32, str32 */
    case 0xc7: lenb = 1, head = 2; break;                /* ext8/16/32: length, type, data */
    case 0xc8: lenb = 2, head = 2; break;
    case 0xc9: lenb = 4, head = 2; break;
    case 0xca: return *size = 5, 0;                      /* float32 */
    case 0xcb: return *size = 9, 0;                      /* float64 */
    case 0xcc: case 0xd0: return *size = 2, 0;           /* (u)int8..64 */
    case 0xcd: case 0xd1: return *size = 3, 0;
    case 0xce: case 0xd2: return *size = 5, 0;
    case 0xcf: case 0xd3: return *size = 9, 0;
    case 0xd4: return *size = 3, 0;                      /* fixext 1..16: type, data */
    case 0xd5: return *size = 4, 0;
    case 0xd6: return *size = 6, 0;
    case 0xd7: return *size = 10, 0;
    case 0xd8: return *size = 18, 0;
    case 0xdc: case 0xde: lenb = 2; break;               /* array16, map16 */
    case 0xdd: case 0xdf: lenb = 4; break;               /* array32, map32 */
    }
    if (avail < (size_t)(1 + lenb)) return 1;
    uint64_t n = be(p + 1, lenb);
    if (b >= 0xdc) return *size = 1 + (uint64_t)lenb, *items = b >= 0xde ? 2 * n : n, 0;
    *size = (uint64_t)(head + lenb) + n;
    return 0;
}

int mpscan_message(mpscan *s, const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (!s->started) s->started = 1, s->pending = 1;
    while (s->pending > 0) {
        if (s->off >= len) return 0;
        uint64_t size, items;
        int rc = value_size(p + s->off, len - s->off, &size, &items);
        if (rc) return rc < 0 ? -1 : 0;
        if (size > len - s->off) return 0;   /* a str, bin or ext whose payload is not all there yet */
        s->off += (size_t)size;
        s->pending = s->pending - 1 + items;
    }
    return 1;
}
