/* error: the one way lib/ reports failure. Library code never prints or exits; it fills an error
 * and returns -1 (or NULL). Only the programs decide to exit: tools/ and their shared side, lib/tool. */
#ifndef SSL_ERROR_H
#define SSL_ERROR_H

typedef struct error {
    char msg[512];
} error;

/* Sets the message (printf format) and returns -1, so `return error_set(e, ...)` reads well.
 * e may be NULL. */
int error_set(error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends context, e.g. error_prefix(e, "%s:%d", file, row) gives "file:3: <old msg>". Returns -1. */
int error_prefix(error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
