#include "model.h"
#include "atomicfile.h"
#include "mpscan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

model_file *model_file_new(const char *kind)
{
    model_file *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    m->info = value_map();
    return m;
}

void model_file_free(model_file *m)
{
    if (!m) return;
    for (int i = 0; i < m->nparams; i++) free(m->params[i].data);
    free(m->params);
    value_free(m->info);
    free(m);
}

int model_file_add(model_file *m, const char *name, int ndim, const int64_t *dims, const float *data, error *e)
{
    if (strlen(name) >= STREAM_NAME_MAX) return error_set(e, "%s: parameter name too long", name);
    if (ndim < 0 || ndim > STREAM_MAX_DIMS) return error_set(e, "%s: %d dimensions", name, ndim);
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return error_set(e, "%s: parameter added twice", name);
    size_t size = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0) return error_set(e, "%s: negative dimension", name);
        size *= (size_t)dims[d];
    }
    model_param *p = realloc(m->params, (size_t)(m->nparams + 1) * sizeof *p);
    if (!p) return error_set(e, "out of memory");
    m->params = p;
    p = &m->params[m->nparams];
    memset(p, 0, sizeof *p);
    p->data = malloc(size ? size * sizeof(float) : 1);
    if (!p->data) return error_set(e, "out of memory");
    if (size) memcpy(p->data, data, size * sizeof(float));
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->dims, dims, (size_t)ndim * sizeof *dims);
    p->size = size;
    m->nparams++;
    return 0;
}

const model_param *model_file_param(const model_file *m, const char *name, error *e)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
    error_set(e, "model has no parameter '%s'", name);
    return NULL;
}

/* ---- writing ---- */

static int pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || (n && msgpack_pack_str_body(pk, s, n));   /* fbuffer fails on 0 bytes */
}

int model_file_write(const model_file *m, FILE *f, error *e)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, f, msgpack_fbuffer_write);
    int rc = msgpack_pack_map(&pk, 5);
    rc |= pack_str(&pk, "format") || pack_str(&pk, MODEL_FORMAT);
    rc |= pack_str(&pk, "version") || msgpack_pack_array(&pk, 2) || msgpack_pack_int(&pk, MODEL_VERSION_MAJOR) ||
          msgpack_pack_int(&pk, MODEL_VERSION_MINOR);
    rc |= pack_str(&pk, "kind") || pack_str(&pk, m->kind);
    rc |= pack_str(&pk, "info") || value_pack(&pk, m->info);
    rc |= pack_str(&pk, "params") || msgpack_pack_map(&pk, (size_t)m->nparams);
    for (int i = 0; i < m->nparams && !rc; i++) {
        const model_param *p = &m->params[i];
        rc |= pack_str(&pk, p->name) || stream_pack_ndarray(&pk, STREAM_F32, p->ndim, p->dims, p->data);
    }
    if (rc || ferror(f)) return error_set(e, "write error: %s", strerror(errno));
    return 0;
}

/* ---- reading ---- */

/* The whole file in memory: model files are small (parameters only). */
static char *slurp(FILE *f, size_t *len, error *e)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return error_set(e, "out of memory"), NULL;
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) return free(buf), error_set(e, "out of memory"), NULL;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) return free(buf), error_set(e, "read error: %s", strerror(errno)), NULL;
    *len = n;
    return buf;
}

static int obj_is_str(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN) && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static int check_header(const msgpack_object *root, error *e)
{
    if (!obj_is_str(stream_msgpack_get(root, "format"), MODEL_FORMAT))
        return error_set(e, "not an ssl-tools model file");
    const msgpack_object *v = stream_msgpack_get(root, "version");
    if (!v || v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size < 1 ||
        v->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return error_set(e, "model file has no version");
    uint64_t major = v->via.array.ptr[0].via.u64;
    if (major != MODEL_VERSION_MAJOR)
        return error_set(e, "model file version %llu is not supported (this program reads version %d)",
                         (unsigned long long)major, MODEL_VERSION_MAJOR);
    return 0;
}

static int read_params(model_file *m, const msgpack_object *params, error *e)
{
    if (!params || params->type != MSGPACK_OBJECT_MAP) return error_set(e, "model file has no parameters");
    for (uint32_t i = 0; i < params->via.map.size; i++) {
        const msgpack_object_kv *kv = &params->via.map.ptr[i];
        char name[STREAM_NAME_MAX];
        if ((kv->key.type != MSGPACK_OBJECT_STR && kv->key.type != MSGPACK_OBJECT_BIN) ||
            kv->key.via.str.size >= sizeof name)
            return error_set(e, "model file has a bad parameter name");
        memcpy(name, kv->key.via.str.ptr, kv->key.via.str.size);
        name[kv->key.via.str.size] = '\0';
        stream_ndarray a;
        if (stream_parse_ndarray(&kv->val, &a, e) < 0) return error_prefix(e, "parameter '%s'", name);
        if (a.dtype != STREAM_F32) return error_set(e, "parameter '%s' is not float32", name);
        if (a.ndim > STREAM_MAX_DIMS) return error_set(e, "parameter '%s' has too many dimensions", name);
        /* model_file_add copies with memcpy, which is fine for unaligned data */
        if (model_file_add(m, name, a.ndim, a.shape, a.data, e) < 0) return -1;
    }
    return 0;
}

static model_file *parse_model(const msgpack_object *root, error *e)
{
    if (root->type != MSGPACK_OBJECT_MAP) return error_set(e, "not an ssl-tools model file"), NULL;
    if (check_header(root, e) < 0) return NULL;
    const msgpack_object *kind = stream_msgpack_get(root, "kind");
    if (!kind || kind->type != MSGPACK_OBJECT_STR || kind->via.str.size >= sizeof ((model_file *)0)->kind)
        return error_set(e, "model file has no kind"), NULL;
    char kbuf[32];
    memcpy(kbuf, kind->via.str.ptr, kind->via.str.size);
    kbuf[kind->via.str.size] = '\0';
    model_file *m = model_file_new(kbuf);
    if (!m) return error_set(e, "out of memory"), NULL;
    const msgpack_object *info = stream_msgpack_get(root, "info");
    if (info) {
        value *v = value_from_msgpack(info, e);
        if (!v) return model_file_free(m), NULL;
        if (v->kind != VALUE_MAP) {
            value_free(v);
            model_file_free(m);
            return error_set(e, "model info is not a map"), NULL;
        }
        value_free(m->info);
        m->info = v;
    }
    if (read_params(m, stream_msgpack_get(root, "params"), e) < 0) return model_file_free(m), NULL;
    return m;
}

model_file *model_file_read(FILE *f, const char *name, error *e)
{
    const char *shown = name ? name : "stdin";
    size_t len;
    char *buf = slurp(f, &len, e);
    if (!buf) return error_prefix(e, "%s", shown), NULL;
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    model_file *m = NULL;
    /* msgpack-c only sees a whole message: a corrupt count must not allocate gigabytes (mpscan.h) */
    mpscan scan = {0};
    int whole = mpscan_message(&scan, buf, len);
    msgpack_unpack_return ret = whole == 1   ? msgpack_unpack_next(&msg, buf, len, &off)
                                : whole == 0 ? MSGPACK_UNPACK_CONTINUE
                                             : MSGPACK_UNPACK_PARSE_ERROR;
    if (len == 0) error_set(e, "%s: empty model file", shown);
    else if (ret == MSGPACK_UNPACK_CONTINUE) error_set(e, "%s: truncated model file", shown);
    else if (ret != MSGPACK_UNPACK_SUCCESS) error_set(e, "%s: not an ssl-tools model file (corrupt MessagePack)", shown);
    else if (off != len) error_set(e, "%s: trailing bytes after the model", shown);
    else if (!(m = parse_model(&msg.data, e))) error_prefix(e, "%s", shown);
    msgpack_unpacked_destroy(&msg);
    free(buf);
    return m;
}

model_file *model_file_load(const char *path, const char *expect_kind, error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, "%s: %s", path, strerror(errno)), NULL;
    model_file *m = model_file_read(f, path, e);
    fclose(f);
    if (m && expect_kind && strcmp(m->kind, expect_kind) != 0) {
        error_set(e, "%s: model is of kind '%s', expected '%s'", path, m->kind, expect_kind);
        model_file_free(m);
        return NULL;
    }
    return m;
}

int model_file_save(const model_file *m, const char *path, error *e)
{
    atomic_file a;
    if (atomic_open(&a, path, e) < 0) return -1;
    if (model_file_write(m, a.f, e) < 0) {
        atomic_abort(&a);
        return error_prefix(e, "%s", path);
    }
    return atomic_commit(&a, e);
}
