#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int error_set(error *e, const char *fmt, ...)
{
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int error_prefix(error *e, const char *fmt, ...)
{
    if (!e) return -1;
    char head[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    int n = snprintf(e->msg, sizeof e->msg, "%s: ", head);
    if (n < 0 || (size_t)n >= sizeof e->msg) return -1;
    memcpy(e->msg + n, old, sizeof e->msg - (size_t)n - 1);
    e->msg[sizeof e->msg - 1] = '\0';
    return -1;
}
