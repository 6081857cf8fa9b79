/* mpscan: finds where a MessagePack message ends by walking its bytes, without unpacking it.
 * msgpack-c allocates a container's declared element count up front, so a corrupt length of five
 * bytes can ask for gigabytes; readers hand msgpack-c a message only once all of it is there, which
 * bounds every declared count by the bytes really present (each element takes at least one). */
#ifndef SSL_MPSCAN_H
#define SSL_MPSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Walk state of one message; zero-initialise before its first byte. */
typedef struct mpscan {
    size_t off;         /* bytes of the message walked so far */
    uint64_t pending;   /* values still to walk */
    int started;
} mpscan;

/* Walks on through the message starting at buf[0], of which len bytes are available (len never
 * shrinks between calls on one message; buf may move). Returns 1 when the message is complete (its
 * length in s->off), 0 when it needs more bytes, -1 on the byte 0xc1, which MessagePack never uses. */
int mpscan_message(mpscan *s, const char *buf, size_t len);

#endif
