/* value: a small dynamic value tree (nil, bool, int, float, string, array, map) for the metadata
 * that travels in stream headers, model files and JSON reports. Maps keep insertion order.
 * It packs to and unpacks from MessagePack, and prints as JSON. */
#ifndef SSL_VALUE_H
#define SSL_VALUE_H

#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

#include <msgpack.h>

#include "error.h"

typedef enum value_kind {
    VALUE_NIL,
    VALUE_BOOL,
    VALUE_INT,
    VALUE_FLOAT,
    VALUE_STR,
    VALUE_ARRAY,
    VALUE_MAP,
} value_kind;

typedef struct value value;
struct value {
    value_kind kind;
    union {
        int b;
        int64_t i;
        double f;
        char *s;
    };
    /* VALUE_ARRAY and VALUE_MAP: n items; keys[] only for maps */
    size_t n, cap;
    value **items;
    char **keys;
};

value *value_nil(void);
value *value_bool(int b);
value *value_int(int64_t i);
value *value_float(double f);
value *value_str(const char *s);
value *value_strn(const char *s, size_t len);
value *value_array(void);
value *value_map(void);
/* An array of n strings. */
value *value_str_array(const char *const *s, size_t n);

void value_free(value *v);
value *value_copy(const value *v);

/* Maps. value_set takes ownership of v and replaces an existing key (freeing its old value). */
void value_set(value *map, const char *key, value *v);
value *value_get(const value *map, const char *key);        /* NULL if absent or map is not a map */
void value_remove(value *map, const char *key);
/* Typed getters with a default when absent or of another type. Ints and floats convert. */
const char *value_get_str(const value *map, const char *key, const char *dflt);
double value_get_num(const value *map, const char *key, double dflt);
/* v as a count or size (a layer's width, a class count, an image side): an integral number in
 * [0, 2^30], else -1; value_get_size looks it up in a map (-1 when absent). Safe on any number a
 * file may hold, unlike a cast of value_num. */
int value_size(const value *v);
int value_get_size(const value *map, const char *key);
/* Arrays. value_push takes ownership. */
void value_push(value *array, value *v);

/* Numeric value of an int/float/bool node (0 for others). */
double value_num(const value *v);

int value_pack(msgpack_packer *pk, const value *v);
/* Deep copy of an unpacked MessagePack object. Bin becomes a string; ext is an error. */
value *value_from_msgpack(const msgpack_object *o, error *e);

/* JSON text. indent < 0: one line; otherwise pretty-printed with that many spaces per level. */
void value_print_json(FILE *f, const value *v, int indent);
/* Whether two trees hold the same values (numbers by value: 1 and 1.0 are equal; maps by key). */
int value_equal(const value *a, const value *b);
/* Writes s as a JSON string literal (quotes and escapes). */
void value_print_json_string(FILE *f, const char *s);

#endif
