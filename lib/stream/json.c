#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Recursive descent over the bytes [s, end); pos tracks the line and column for messages. */
typedef struct parser {
    const char *s, *p, *end;
    int depth;
    error *e;
} parser;

static value *parse_value(parser *ps);

/* Line and column (from 1, column in characters) of the byte at q. */
static void locate(const parser *ps, const char *q, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *c = ps->s; c < q && c < ps->end; c++) {
        if (*c == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static value *fail_at(parser *ps, const char *q, const char *msg)
{
    int line, col;
    locate(ps, q, &line, &col);
    error_set(ps->e, "%d:%d: %s", line, col, msg);
    return NULL;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int at_literal(const parser *ps, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0;
}

static int is_digit(const parser *ps, const char *q) { return q < ps->end && *q >= '0' && *q <= '9'; }

static const char *skip_digits(const parser *ps, const char *q)
{
    while (is_digit(ps, q)) q++;
    return q;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static value *parse_number(parser *ps)
{
    const char *q = ps->p, *start = ps->p;
    if (q < ps->end && *q == '-') q++;
    if (!is_digit(ps, q)) return fail_at(ps, q, "expected a digit");
    if (*q == '0' && is_digit(ps, q + 1)) return fail_at(ps, q, "a number must not start with 0");
    q = skip_digits(ps, q);
    int integral = 1;
    if (q < ps->end && *q == '.') {
        integral = 0;
        if (!is_digit(ps, ++q)) return fail_at(ps, q, "expected a digit after '.'");
        q = skip_digits(ps, q);
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integral = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (!is_digit(ps, q)) return fail_at(ps, q, "expected a digit in the exponent");
        q = skip_digits(ps, q);
    }
    /* strtoll/strtod need a terminated copy: the text need not be NUL-terminated */
    char buf[512];
    size_t n = (size_t)(q - start);
    if (n >= sizeof buf) return fail_at(ps, start, "number too long");
    memcpy(buf, start, n);
    buf[n] = '\0';
    ps->p = q;
    if (integral) {
        errno = 0;
        long long i = strtoll(buf, NULL, 10);
        if (errno != ERANGE) return value_int(i);
    }
    return value_float(strtod(buf, NULL));
}

static int hex4(const parser *ps, const char *q, unsigned *out)
{
    if (ps->end - q < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at q (non-ASCII lead byte), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_valid(const parser *ps, const char *q)
{
    const unsigned char *u = (const unsigned char *)q;
    size_t avail = (size_t)(ps->end - q), n;
    unsigned cp, min;
    if (u[0] >= 0xC2 && u[0] <= 0xDF) n = 2, cp = u[0] & 0x1F, min = 0x80;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) n = 3, cp = u[0] & 0x0F, min = 0x800;
    else if (u[0] >= 0xF0 && u[0] <= 0xF4) n = 4, cp = u[0] & 0x07, min = 0x10000;
    else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Decodes the escape at q (just after the backslash) into out; returns the bytes consumed
 * after the backslash, 0 on error (message set). */
static size_t parse_escape(parser *ps, const char *q, char *out, size_t *outlen)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (q >= ps->end) return fail_at(ps, q, "unterminated string"), 0;
    const char *hit = *q ? strchr(from, *q) : NULL;
    if (hit) {
        out[0] = to[hit - from];
        *outlen = 1;
        return 1;
    }
    if (*q != 'u') return fail_at(ps, q - 1, "invalid escape"), 0;
    unsigned cp, lo;
    if (hex4(ps, q + 1, &cp) < 0) return fail_at(ps, q - 1, "\\u needs four hex digits"), 0;
    size_t used = 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail_at(ps, q - 1, "lone low surrogate in \\u escape"), 0;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (ps->end - (q + 5) < 6 || q[5] != '\\' || q[6] != 'u' || hex4(ps, q + 7, &lo) < 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
            return fail_at(ps, q - 1, "high surrogate not followed by a low surrogate"), 0;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 11;
    }
    if (cp == 0) return fail_at(ps, q - 1, "\\u0000 is not supported"), 0;
    *outlen = utf8_encode(cp, out);
    return used;
}

/* A string literal at ps->p (the opening quote); returns a malloc'd C string. */
static char *parse_string_raw(parser *ps)
{
    const char *q = ps->p + 1;
    size_t cap = 32, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (q >= ps->end) {
            fail_at(ps, ps->p, "unterminated string");
            break;
        }
        char tmp[4];
        size_t len = 1, used = 1;
        unsigned char c = (unsigned char)*q;
        if (c == '"') {
            buf[n] = '\0';
            ps->p = q + 1;
            return buf;
        }
        if (c < 0x20) {
            fail_at(ps, q, "control character in string (escape it)");
            break;
        }
        if (c == '\\') {
            used = parse_escape(ps, q + 1, tmp, &len);
            if (!used) break;
            used++;
        } else if (c >= 0x80) {
            used = len = utf8_valid(ps, q);
            if (!used) {
                fail_at(ps, q, "invalid UTF-8 in string");
                break;
            }
            memcpy(tmp, q, len);
        } else {
            tmp[0] = (char)c;
        }
        if (n + len + 1 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + n, tmp, len);
        n += len;
        q += used;
    }
    free(buf);
    return NULL;
}

static value *parse_string(parser *ps)
{
    char *s = parse_string_raw(ps);
    if (!s) return NULL;
    value *v = value_str(s);
    free(s);
    return v;
}

/* The shared loop of arrays and objects: items separated by ',' until the closing bracket. */
static value *parse_container(parser *ps, char close)
{
    int is_map = close == '}';
    const char *open = ps->p++;
    if (++ps->depth > JSON_MAX_DEPTH) return fail_at(ps, open, "nesting too deep");
    value *v = is_map ? value_map() : value_array();
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (is_map) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail_at(ps, ps->p, "expected a string as object key");
                break;
            }
            if (!(key = parse_string_raw(ps))) break;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                fail_at(ps, ps->p, "expected ':' after an object key");
                break;
            }
            ps->p++;
        }
        value *item = parse_value(ps);
        if (!item) {
            free(key);
            break;
        }
        if (is_map) value_set(v, key, item);
        else value_push(v, item);
        free(key);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        fail_at(ps, ps->p, is_map ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
        break;
    }
    value_free(v);
    return NULL;
}

static value *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end) return fail_at(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '{': return parse_container(ps, '}');
    case '[': return parse_container(ps, ']');
    case '"': return parse_string(ps);
    case 't':
        if (!at_literal(ps, "true")) break;
        ps->p += 4;
        return value_bool(1);
    case 'f':
        if (!at_literal(ps, "false")) break;
        ps->p += 5;
        return value_bool(0);
    case 'n':
        if (!at_literal(ps, "null")) break;
        ps->p += 4;
        return value_nil();
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps);
    }
    return fail_at(ps, ps->p, "expected a JSON value");
}

value *json_parse(const char *text, size_t len, error *e)
{
    parser ps = {.s = text, .p = text, .end = text + len, .depth = 0, .e = e};
    value *v = parse_value(&ps);
    if (!v) return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        value_free(v);
        return fail_at(&ps, ps.p, "unexpected text after the JSON value");
    }
    return v;
}
