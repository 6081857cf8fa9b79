#include "value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static value *value_new(value_kind k)
{
    value *v = calloc(1, sizeof *v);
    if (!v) abort();
    v->kind = k;
    return v;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q && n) abort(); /* out of memory: nothing sensible to recover in metadata code */
    return q;
}

value *value_nil(void) { return value_new(VALUE_NIL); }

value *value_bool(int b)
{
    value *v = value_new(VALUE_BOOL);
    v->b = !!b;
    return v;
}

value *value_int(int64_t i)
{
    value *v = value_new(VALUE_INT);
    v->i = i;
    return v;
}

value *value_float(double f)
{
    value *v = value_new(VALUE_FLOAT);
    v->f = f;
    return v;
}

value *value_strn(const char *s, size_t len)
{
    value *v = value_new(VALUE_STR);
    v->s = xrealloc(NULL, len + 1);
    memcpy(v->s, s, len);
    v->s[len] = '\0';
    return v;
}

value *value_str(const char *s) { return value_strn(s, strlen(s)); }
value *value_array(void) { return value_new(VALUE_ARRAY); }
value *value_map(void) { return value_new(VALUE_MAP); }

value *value_str_array(const char *const *s, size_t n)
{
    value *a = value_array();
    for (size_t i = 0; i < n; i++) value_push(a, value_str(s[i]));
    return a;
}

void value_free(value *v)
{
    if (!v) return;
    if (v->kind == VALUE_STR) free(v->s);
    for (size_t i = 0; i < v->n; i++) {
        value_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v);
}

static void grow(value *v)
{
    if (v->n < v->cap) return;
    v->cap = v->cap ? 2 * v->cap : 4;
    v->items = xrealloc(v->items, v->cap * sizeof *v->items);
    if (v->kind == VALUE_MAP) v->keys = xrealloc(v->keys, v->cap * sizeof *v->keys);
}

void value_push(value *array, value *v)
{
    grow(array);
    array->items[array->n++] = v;
}

static long find_key(const value *map, const char *key)
{
    if (!map || map->kind != VALUE_MAP) return -1;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return (long)i;
    return -1;
}

void value_set(value *map, const char *key, value *v)
{
    long i = find_key(map, key);
    if (i >= 0) {
        value_free(map->items[i]);
        map->items[i] = v;
        return;
    }
    grow(map);
    map->keys[map->n] = strdup(key);
    map->items[map->n++] = v;
}

value *value_get(const value *map, const char *key)
{
    long i = find_key(map, key);
    return i < 0 ? NULL : map->items[i];
}

void value_remove(value *map, const char *key)
{
    long i = find_key(map, key);
    if (i < 0) return;
    value_free(map->items[i]);
    free(map->keys[i]);
    for (size_t j = (size_t)i + 1; j < map->n; j++) {
        map->items[j - 1] = map->items[j];
        map->keys[j - 1] = map->keys[j];
    }
    map->n--;
}

const char *value_get_str(const value *map, const char *key, const char *dflt)
{
    const value *v = value_get(map, key);
    return v && v->kind == VALUE_STR ? v->s : dflt;
}

double value_num(const value *v)
{
    switch (v->kind) {
    case VALUE_BOOL: return v->b;
    case VALUE_INT: return (double)v->i;
    case VALUE_FLOAT: return v->f;
    default: return 0;
    }
}

double value_get_num(const value *map, const char *key, double dflt)
{
    const value *v = value_get(map, key);
    if (!v || (v->kind != VALUE_INT && v->kind != VALUE_FLOAT && v->kind != VALUE_BOOL)) return dflt;
    return value_num(v);
}

int value_size(const value *v)
{
    if (!v || (v->kind != VALUE_INT && v->kind != VALUE_FLOAT)) return -1;
    double d = value_num(v);
    return d >= 0 && d <= (double)(1 << 30) && d == floor(d) ? (int)d : -1;
}

int value_get_size(const value *map, const char *key) { return value_size(value_get(map, key)); }

value *value_copy(const value *v)
{
    if (!v) return NULL;
    value *c = value_new(v->kind);
    switch (v->kind) {
    case VALUE_STR: free(c); return value_str(v->s);
    case VALUE_ARRAY:
        for (size_t i = 0; i < v->n; i++) value_push(c, value_copy(v->items[i]));
        break;
    case VALUE_MAP:
        for (size_t i = 0; i < v->n; i++) value_set(c, v->keys[i], value_copy(v->items[i]));
        break;
    default: *c = *v; break;
    }
    return c;
}

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    /* no empty body: msgpack_fbuffer_write takes fwrite's 0 items for an error */
    return msgpack_pack_str(pk, n) || (n && msgpack_pack_str_body(pk, s, n));
}

int value_pack(msgpack_packer *pk, const value *v)
{
    int rc = 0;
    switch (v->kind) {
    case VALUE_NIL: return msgpack_pack_nil(pk);
    case VALUE_BOOL: return v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case VALUE_INT: return msgpack_pack_int64(pk, v->i);
    case VALUE_FLOAT: return msgpack_pack_double(pk, v->f);
    case VALUE_STR: return pack_str(pk, v->s);
    case VALUE_ARRAY:
        rc = msgpack_pack_array(pk, v->n);
        for (size_t i = 0; i < v->n && !rc; i++) rc = value_pack(pk, v->items[i]);
        return rc;
    case VALUE_MAP:
        rc = msgpack_pack_map(pk, v->n);
        for (size_t i = 0; i < v->n && !rc; i++) rc = pack_str(pk, v->keys[i]) || value_pack(pk, v->items[i]);
        return rc;
    }
    return -1;
}

value *value_from_msgpack(const msgpack_object *o, error *e)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return value_nil();
    case MSGPACK_OBJECT_BOOLEAN: return value_bool(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX) return value_float((double)o->via.u64);
        return value_int((int64_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return value_int(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return value_float(o->via.f64);
    case MSGPACK_OBJECT_STR: return value_strn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return value_strn(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: {
        value *a = value_array();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            value *item = value_from_msgpack(&o->via.array.ptr[i], e);
            if (!item) {
                value_free(a);
                return NULL;
            }
            value_push(a, item);
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        value *m = value_map();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR && k->type != MSGPACK_OBJECT_BIN) {
                value_free(m);
                error_set(e, "metadata map key is not a string");
                return NULL;
            }
            value *item = value_from_msgpack(&o->via.map.ptr[i].val, e);
            if (!item) {
                value_free(m);
                return NULL;
            }
            char key[256];
            size_t n = k->via.str.size < sizeof key - 1 ? k->via.str.size : sizeof key - 1;
            memcpy(key, k->via.str.ptr, n);
            key[n] = '\0';
            value_set(m, key, item);
        }
        return m;
    }
    default: error_set(e, "unsupported MessagePack type %d in metadata", (int)o->type); return NULL;
    }
}

void value_print_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void newline(FILE *f, int indent, int level)
{
    if (indent < 0) return;
    fputc('\n', f);
    for (int i = 0; i < indent * level; i++) fputc(' ', f);
}

static void print_json(FILE *f, const value *v, int indent, int level)
{
    switch (v->kind) {
    case VALUE_NIL: fputs("null", f); return;
    case VALUE_BOOL: fputs(v->b ? "true" : "false", f); return;
    case VALUE_INT: fprintf(f, "%lld", (long long)v->i); return;
    case VALUE_FLOAT:
        if (isfinite(v->f)) fprintf(f, "%.10g", v->f);
        else fputs("null", f);
        return;
    case VALUE_STR: value_print_json_string(f, v->s); return;
    case VALUE_ARRAY:
    case VALUE_MAP: {
        int map = v->kind == VALUE_MAP;
        /* short arrays of scalars stay on one line */
        int flat = !map;
        for (size_t i = 0; i < v->n && flat; i++) flat = v->items[i]->kind < VALUE_ARRAY;
        int ind = flat ? -1 : indent;
        fputc(map ? '{' : '[', f);
        for (size_t i = 0; i < v->n; i++) {
            if (i) fputs(ind < 0 && indent >= 0 ? ", " : ",", f);
            newline(f, ind, level + 1);
            if (map) {
                value_print_json_string(f, v->keys[i]);
                fputs(indent >= 0 ? ": " : ":", f);
            }
            print_json(f, v->items[i], indent, level + 1);
        }
        if (v->n) newline(f, ind, level);
        fputc(map ? '}' : ']', f);
        return;
    }
    }
}

void value_print_json(FILE *f, const value *v, int indent) { print_json(f, v, indent, 0); }

int value_equal(const value *a, const value *b)
{
    if (!a || !b) return a == b;
    int an = a->kind == VALUE_INT || a->kind == VALUE_FLOAT, bn = b->kind == VALUE_INT || b->kind == VALUE_FLOAT;
    if (an || bn) return an && bn && value_num(a) == value_num(b);
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case VALUE_NIL: return 1;
    case VALUE_BOOL: return !a->b == !b->b;
    case VALUE_STR: return strcmp(a->s, b->s) == 0;
    case VALUE_ARRAY:
        if (a->n != b->n) return 0;
        for (size_t i = 0; i < a->n; i++)
            if (!value_equal(a->items[i], b->items[i])) return 0;
        return 1;
    case VALUE_MAP:
        if (a->n != b->n) return 0;
        for (size_t i = 0; i < a->n; i++)
            if (!value_equal(a->items[i], value_get(b, a->keys[i]))) return 0;
        return 1;
    default: return 0;
    }
}
