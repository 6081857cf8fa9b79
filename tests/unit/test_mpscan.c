/* mpscan: message lengths of every MessagePack type, cut at every byte, corrupt container counts. */
#include <string.h>

#include <msgpack.h>

#include "check.h"
#include "mpscan.h"

/* One message holding a value of every type msgpack-c packs, nested. */
static void pack_sample(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "ints", 4);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, -1);
    msgpack_pack_int(&pk, 200);
    msgpack_pack_int(&pk, -200);
    msgpack_pack_int(&pk, 70000);
    msgpack_pack_int64(&pk, -5000000000LL);
    msgpack_pack_uint64(&pk, 1ULL << 40);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "more", 4);
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 16; i++) msgpack_pack_true(&pk);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    char big[300] = {0};
    msgpack_pack_bin_with_body(&pk, big, sizeof big);
    msgpack_pack_ext_with_body(&pk, big, 4, 7);
    msgpack_pack_str_with_body(&pk, big, 40);
    msgpack_pack_map(&pk, 17);
    for (int i = 0; i < 17; i++) {
        msgpack_pack_int(&pk, i);
        msgpack_pack_ext_with_body(&pk, big, (size_t)(i + 1), 1);
    }
}

static void test_lengths_and_cuts(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_sample(&sb);
    size_t n = sb.size;
    msgpack_sbuffer_write(&sb, "\x01\x02", 2);   /* the next messages */
    mpscan s = {0};
    CHECK(mpscan_message(&s, sb.data, sb.size) == 1);
    CHECK(s.off == n);
    /* fed one byte more at a time, complete only at the last byte */
    mpscan t = {0};
    int done_at = -1;
    for (size_t len = 0; len <= n && done_at < 0; len++)
        if (mpscan_message(&t, sb.data, len) == 1) done_at = (int)len;
    CHECK(done_at == (int)n);
    /* and each cut, scanned from scratch, is incomplete */
    int cut_ok = 1;
    for (size_t len = 0; len < n; len++) {
        mpscan u = {0};
        cut_ok &= mpscan_message(&u, sb.data, len) == 0;
    }
    CHECK(cut_ok);
    msgpack_sbuffer_destroy(&sb);
}

static void test_corrupt_counts(void)
{
    mpscan s = {0};
    /* array32 of 2^32-1 elements with two present: incomplete, never complete */
    CHECK(mpscan_message(&s, "\xdd\xff\xff\xff\xff\x01\x02", 7) == 0);
    mpscan m = {0};
    CHECK(mpscan_message(&m, "\xdf\x7f\xff\xff\xff", 5) == 0);
    mpscan c = {0};
    CHECK(mpscan_message(&c, "\x92\x01\xc1", 3) == -1);
    mpscan z = {0};
    CHECK(mpscan_message(&z, "", 0) == 0);
    mpscan b = {0};   /* bin32 declaring 4 GiB */
    CHECK(mpscan_message(&b, "\xc6\xff\xff\xff\xff\x00", 6) == 0);
}

int main(void)
{
    RUN(test_lengths_and_cuts);
    RUN(test_corrupt_counts);
    return check_summary();
}
