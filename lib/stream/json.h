/* json: a JSON document read into the value tree of value.h, through Jansson (libjansson, RFC 8259,
 * strict). Writing JSON is value_print_json's job; this is the other direction, for reading back the
 * per-run JSON reports (ssl-eval table) and anything else a user hands us as JSON.
 *
 * - Integers (no fraction or exponent) become VALUE_INT; an integer outside int64 is an error.
 *   Other numbers become VALUE_FLOAT.
 * - Strings must be valid UTF-8; \u escapes (surrogate pairs included) are decoded to UTF-8.
 *   \u0000 is refused: value strings are C strings.
 * - Objects keep their key order; a repeated key keeps the last value (as jq does).
 * - Errors say where: "3:14: ..." (line:column, both from 1, column counted in characters). */
#ifndef SSL_JSON_H
#define SSL_JSON_H

#include <stddef.h>

#include "error.h"
#include "value.h"

/* Parses exactly one JSON document (surrounding whitespace allowed). NULL with an error otherwise. */
value *json_parse(const char *text, size_t len, error *e);

#endif
