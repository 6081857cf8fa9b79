#include "json.h"

#include <jansson.h>

/* The value of j; NULL only when out of memory (Jansson has already checked the document). */
static value *from_jansson(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        value *m = value_map();
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)j, key, item) value_set(m, key, from_jansson(item));
        return m;
    }
    case JSON_ARRAY: {
        value *a = value_array();
        for (size_t i = 0; i < json_array_size(j); i++) value_push(a, from_jansson(json_array_get(j, i)));
        return a;
    }
    case JSON_STRING: return value_strn(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return value_int(json_integer_value(j));
    case JSON_REAL: return value_float(json_real_value(j));
    case JSON_TRUE: return value_bool(1);
    case JSON_FALSE: return value_bool(0);
    case JSON_NULL: break;
    }
    return value_nil();
}

value *json_parse(const char *text, size_t len, error *e)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!j) {
        /* Jansson counts columns in characters and lines from 1 (0 or -1 when it has none) */
        error_set(e, "%d:%d: %s", je.line < 1 ? 1 : je.line, je.column < 1 ? 1 : je.column, je.text);
        return NULL;
    }
    value *v = from_jansson(j);
    json_decref(j);
    return v;
}
