/* json: a small strict JSON parser (RFC 8259) producing the value tree of value.h.
 * Writing JSON is value_print_json's job; this is the other direction, for reading back the
 * per-run JSON reports (ssl-eval table) and anything else a user hands us as JSON.
 *
 * - Numbers without fraction or exponent become VALUE_INT (VALUE_FLOAT when outside int64),
 *   the others VALUE_FLOAT.
 * - Strings must be valid UTF-8; \u escapes (surrogate pairs included) are decoded to UTF-8.
 *   \u0000 is refused: value strings are C strings.
 * - Objects keep their key order; a repeated key keeps the last value (as jq does).
 * - Errors say where: "3:14: expected ':' after an object key" (line:column, both from 1,
 *   column counted in characters). Nesting deeper than JSON_MAX_DEPTH is an error. */
#ifndef SSL_JSON_H
#define SSL_JSON_H

#include <stddef.h>

#include "error.h"
#include "value.h"

#define JSON_MAX_DEPTH 256

/* Parses exactly one JSON document (surrounding whitespace allowed). NULL with an error otherwise. */
value *json_parse(const char *text, size_t len, error *e);

#endif
